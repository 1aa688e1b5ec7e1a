"""Test-session settings shared by the test suite and the package's doctests."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def _one_blas_thread():
    """Run BLAS on one thread during tests.

    The tests solve many small problems; on a 2-core machine a multi-threaded
    BLAS spends more time synchronizing than computing on them, several times
    more when the machine is busy. Benchmarks are not run under pytest and
    keep every thread.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield
