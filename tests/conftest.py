"""Fixtures shared by the test files."""

import pytest


@pytest.fixture(scope="module")
def torch_one_thread():
    """Run torch on one thread for a module's tests, restoring it afterwards.

    Tiny networks on a shared 2-core machine: one thread avoids OpenMP
    spinning under contention (about 10x faster). BLAS is already on one
    thread (the root conftest.py).
    """
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def torch_one_thread_if_any():
    """As ``torch_one_thread`` where torch is installed; nothing (no skip) otherwise.

    For modules whose tests mix scikit-learn models and skorch nets.
    """
    try:
        import torch
    except ImportError:  # pragma: no cover - without the torch extra
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
