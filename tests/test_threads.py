"""``n_threads``: the cleaner's fit runs on a thread limit and restores it after."""

import os
import subprocess
import sys

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_info, threadpool_limits

from sklearn_cincer import NearestNeighborSelector, SkepticalCleaner
from sklearn_cincer._threads import limit_threads


def _blas_threads():
    return {
        pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"
    }


# What the spies saw (the cleaner clones its estimator, copying any list
# given as a parameter, so they write here).
SEEN = []


class ThreadSpy(ClassifierMixin, BaseEstimator):
    """Logistic regression that notes the thread counts it is fit under."""

    def __init__(self, fail_after=None):
        self.fail_after = fail_after

    def fit(self, X, y):
        torch = sys.modules.get("torch")
        SEEN.append(
            (_blas_threads(), None if torch is None else torch.get_num_threads())
        )
        if self.fail_after is not None and len(SEEN) > self.fail_after:
            raise RuntimeError("spy fails on purpose")
        self.model_ = LogisticRegression().fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)


def _data(n=60):
    rng = np.random.RandomState(0)
    X = rng.randn(n, 3)
    y = (X[:, 0] > 0).astype(int)
    return X, y


def test_fit_runs_on_n_threads_and_restores_them():
    X, y = _data()
    seen = SEEN
    seen.clear()
    cleaner = SkepticalCleaner(
        ThreadSpy(), n_bootstrap=40, n_threads=1, selector=NearestNeighborSelector()
    )
    with threadpool_limits(limits=2, user_api="blas"):
        cleaner.fit(X, y)
        assert _blas_threads() == {2}
        assert seen and all(blas == {1} for blas, _ in seen)
        seen.clear()
        cleaner.partial_fit(X[:5], y[:5])
        assert seen and all(blas == {1} for blas, _ in seen)
        assert _blas_threads() == {2}


def test_n_threads_none_leaves_the_libraries_alone():
    X, y = _data()
    seen = SEEN
    seen.clear()
    with threadpool_limits(limits=2, user_api="blas"):
        SkepticalCleaner(
            ThreadSpy(),
            n_bootstrap=40,
            n_threads=None,
            selector=NearestNeighborSelector(),
        ).fit(X, y)
    assert all(blas == {2} for blas, _ in seen)


def test_limit_is_restored_when_fit_fails():
    X, y = _data()
    seen = SEEN
    seen.clear()
    cleaner = SkepticalCleaner(
        ThreadSpy(fail_after=3),
        n_bootstrap=40,
        selector=NearestNeighborSelector(),
        n_threads=1,
    )
    with threadpool_limits(limits=2, user_api="blas"):
        with pytest.raises(RuntimeError, match="on purpose"):
            cleaner.fit(X, y)
        assert _blas_threads() == {2}


def test_torch_threads_are_limited_and_restored(torch_one_thread):
    torch = pytest.importorskip("torch")
    X, y = _data()
    seen = SEEN
    seen.clear()
    torch.set_num_threads(3)
    try:
        with pytest.raises(RuntimeError):
            SkepticalCleaner(
                ThreadSpy(fail_after=2),
                n_bootstrap=40,
                n_threads=1,
                selector=NearestNeighborSelector(),
            ).fit(X, y)
        assert [t for _, t in seen] == [1, 1, 1]
        assert torch.get_num_threads() == 3
        seen.clear()
        SkepticalCleaner(
            ThreadSpy(), n_bootstrap=40, n_threads=2, selector=NearestNeighborSelector()
        ).fit(X, y)
        assert {t for _, t in seen} == {2}
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(1)


def test_the_core_never_imports_torch_to_limit_it():
    code = (
        "import sys, numpy as np\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "from sklearn_cincer import SkepticalCleaner\n"
        "X = np.r_[np.linspace(0, 1, 30), np.linspace(2, 3, 30)][:, None]\n"
        "y = np.r_[np.zeros(30, int), np.ones(30, int)]\n"
        "SkepticalCleaner(LogisticRegression(), n_bootstrap=40, n_threads=1)"
        ".fit(X, y)\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_limit_threads_helper_restores_on_error():
    with threadpool_limits(limits=2, user_api="blas"):
        with pytest.raises(ZeroDivisionError):
            with limit_threads(1):
                assert _blas_threads() == {1}
                1 / 0
        assert _blas_threads() == {2}
        with limit_threads(None):
            assert _blas_threads() == {2}


def test_n_threads_is_validated_before_anything_runs():
    X, y = _data()
    for bad in (0, -2, 1.5, "one"):
        with pytest.raises(ValueError, match="n_threads"):
            SkepticalCleaner(LogisticRegression(), n_threads=bad).fit(X, y)


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs 2 cores to tell")
def test_benchmark_threads_reach_torch_in_the_first_repeat(tmp_path):
    """``--threads 1`` limited torch only from repeat 1 (torch was imported
    inside the limit of repeat 0, unseen by threadpoolctl)."""
    pytest.importorskip("skorch")
    code = (
        "import sys\n"
        "from sklearn_cincer.benchmark import _runner\n"
        "from sklearn_cincer.benchmark import RunSpec, run_experiment\n"
        "seen = []\n"
        "def spy(*args, **kwargs):\n"
        "    seen.append(sys.modules['torch'].get_num_threads())\n"
        "    raise SystemExit(0 if seen == [1] else f'torch threads {seen}')\n"
        "_runner.run_cleaning = spy\n"
        "spec = RunSpec('wine', 'fc', 'cincer', 'nearest', n_bootstrap=40,\n"
        "               n_rounds=2)\n"
        "run_experiment(spec, n_repeats=1, threads=1, verbose=0)\n"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
    }
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        timeout=300,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
