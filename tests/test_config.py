"""n_threads of the auditor and find_label_issues, and the library's setting."""

import os
import subprocess
import sys
import threading

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_info, threadpool_limits

import sklearn_cincer
from sklearn_cincer import (
    LabelAuditor,
    SkepticalCleaner,
    config_context,
    find_label_issues,
    get_config,
    set_config,
)
from sklearn_cincer._crossval import cross_val_proba


def _blas_threads():
    return {
        pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"
    }


SEEN = []  # thread counts each fit ran under (clones copy their parameters)


class ThreadSpy(ClassifierMixin, BaseEstimator):
    """Logistic regression noting the BLAS threads of each fit; fails on demand."""

    def __init__(self, fail=False):
        self.fail = fail

    def fit(self, X, y):
        self.threads_ = _blas_threads()
        SEEN.append(self.threads_)
        if self.fail:
            raise RuntimeError("spy fails on purpose")
        self.model_ = LogisticRegression().fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)

    def predict(self, X):
        return self.model_.predict(X)


@pytest.fixture
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(80, 3)
    return X, (X[:, 0] > 0).astype(int)


@pytest.fixture(autouse=True)
def fresh():
    SEEN.clear()
    before = get_config()
    yield
    set_config(**before)


def test_auditor_default_runs_on_one_thread_and_restores(data):
    X, y = data
    with threadpool_limits(limits=2):
        LabelAuditor(ThreadSpy(), explain_issues=False, cv=3).fit(X, y)
        after = _blas_threads()
    assert SEEN and all(seen == {1} for seen in SEEN)
    assert after == {2}


def test_auditor_restores_threads_when_fit_fails(data):
    X, y = data
    with threadpool_limits(limits=2):
        with pytest.raises(RuntimeError, match="on purpose"):
            LabelAuditor(ThreadSpy(fail=True), cv=3, n_threads=1).fit(X, y)
        assert _blas_threads() == {2}
    assert SEEN == [{1}]


@pytest.mark.parametrize("how", ["set_config", "config_context"])
def test_auditor_and_find_label_issues_honour_the_library_setting(data, how):
    X, y = data
    with threadpool_limits(limits=1):
        if how == "set_config":
            set_config(n_threads=2)
            find_label_issues(ThreadSpy(), X, y, cv=3, explain_issues=False)
            LabelAuditor(ThreadSpy(), cv=3, explain_issues=False).fit(X, y)
        else:
            with config_context(n_threads=2):
                find_label_issues(ThreadSpy(), X, y, cv=3, explain_issues=False)
                LabelAuditor(ThreadSpy(), cv=3, explain_issues=False).fit(X, y)
            assert get_config()["n_threads"] == 1
        assert _blas_threads() == {1}
    assert len(SEEN) == 2 * 4  # 3 folds and the final fit, twice
    assert all(seen == {2} for seen in SEEN)


def test_own_n_threads_wins_over_the_setting(data):
    X, y = data
    with config_context(n_threads=2):
        find_label_issues(ThreadSpy(), X, y, cv=3, explain_issues=False, n_threads=1)
    assert all(seen == {1} for seen in SEEN)


def test_cleaner_default_reads_the_setting(data):
    X, y = data
    with threadpool_limits(limits=1), config_context(n_threads=2):
        SkepticalCleaner(ThreadSpy(), n_bootstrap=70, counter_examples="none").fit(X, y)
    assert SEEN and all(seen == {2} for seen in SEEN)


def test_config_context_restores_on_error():
    with pytest.raises(KeyError):
        with config_context(n_threads=3):
            assert get_config()["n_threads"] == 3
            raise KeyError("inside")
    assert get_config()["n_threads"] == 1


@pytest.mark.parametrize("bad", [0, -1, 1.5, "two", True])
def test_bad_n_threads_is_refused_and_changes_nothing(bad):
    with pytest.raises(ValueError, match="n_threads must be an integer >= 1"):
        set_config(n_threads=bad)
    with pytest.raises(ValueError, match="n_threads must be an integer >= 1"):
        with config_context(n_threads=bad):
            pass  # pragma: no cover
    assert get_config()["n_threads"] == 1


def test_bad_n_threads_parameter_is_refused(data):
    X, y = data
    with pytest.raises(ValueError, match="n_threads"):
        LabelAuditor(ThreadSpy(), n_threads="many").fit(X, y)
    with pytest.raises(ValueError, match="n_threads"):
        find_label_issues(ThreadSpy(), X, y, n_threads=0)
    assert SEEN == []


def test_setting_is_per_thread():
    seen = {}

    def other():
        seen["start"] = get_config()["n_threads"]
        set_config(n_threads=4)
        seen["set"] = get_config()["n_threads"]

    set_config(n_threads=2)
    worker = threading.Thread(target=other)
    worker.start()
    worker.join()
    assert seen == {"start": 1, "set": 4}
    assert get_config()["n_threads"] == 2


@pytest.mark.parametrize("value, expected", [("3", "3"), ("none", "None")])
def test_environment_variable_sets_the_default(value, expected):
    env = dict(os.environ, SKLEARN_CINCER_N_THREADS=value)
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sklearn_cincer; print(sklearn_cincer.get_config()['n_threads'])",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == expected


def test_bad_environment_variable_names_itself():
    env = dict(os.environ, SKLEARN_CINCER_N_THREADS="lots")
    out = subprocess.run(
        [sys.executable, "-c", "import sklearn_cincer; sklearn_cincer.get_config()"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode != 0
    assert "SKLEARN_CINCER_N_THREADS must be an integer >= 1" in out.stderr


def test_cross_validation_workers_run_under_the_limit(data):
    X, y = data
    # a worker process starts from its own defaults (one thread here, from
    # the environment or joblib's share of the cores), not the caller's
    cvp = cross_val_proba(ThreadSpy(), X, y, np.unique(y), cv=2, n_jobs=2, n_threads=2)
    assert [model.threads_ for model in cvp.estimators] == [{2}, {2}]


def test_public_names():
    for name in ("set_config", "get_config", "config_context", "health_summary"):
        assert name in sklearn_cincer.__all__
