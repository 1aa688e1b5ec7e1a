"""LabelAuditor's background refit: the same questions, only the wait moves."""

import pickle
import threading

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_info, threadpool_limits

from sklearn_cincer import LabelAuditor, NearestNeighborSelector, SimulatedOracle
from sklearn_cincer import _background as background
from sklearn_cincer._background import SpeculativeRefit
from sklearn_cincer._crossval import cross_val_proba
from sklearn_cincer.datasets import make_label_noise

REFIT_THREAD = "sklearn-cincer-refit"


@pytest.fixture(scope="module")
def digits():
    """400 digits (pixels in [0, 1]) with 20% uniform noise."""
    X, y = load_digits(return_X_y=True)
    X, y = X[:400] / 16.0, y[:400]
    y_noisy, _ = make_label_noise(y, 0.2, random_state=0)
    return X, y, y_noisy


@pytest.fixture
def taken(monkeypatch):
    """Counts the background refits taken and those thrown away."""
    counts = {"taken": 0, "discarded": 0}
    result = SpeculativeRefit.result

    def counting(self, labels):
        out = result(self, labels)
        counts["taken" if out is not None else "discarded"] += 1
        return out

    monkeypatch.setattr(SpeculativeRefit, "result", counting)
    return counts


def _audit(X, y_true, y_noisy, oracle=None, **params):
    params = dict(
        budget=40, refit_every=8, random_state=0, explain_issues=False, **params
    )
    return LabelAuditor(
        LogisticRegression(max_iter=300),
        oracle=oracle or SimulatedOracle(y_true),
        **params,
    ).fit(X, y_noisy)


def _refit_threads():
    return [t for t in threading.enumerate() if t.name == REFIT_THREAD]


@pytest.mark.parametrize("refit", ["scratch", "incremental"])
def test_same_questions_with_and_without_background(digits, taken, refit):
    X, y, y_noisy = digits
    before = _audit(X, y, y_noisy, refit=refit, background_refit=False)
    assert taken == {"taken": 0, "discarded": 0}
    after = _audit(X, y, y_noisy, refit=refit, background_refit=True)
    # the background path ran and was used, and changed nothing
    assert taken["taken"] >= 3
    assert after.history_ == before.history_
    assert after.n_rankings_ == before.n_rankings_
    np.testing.assert_array_equal(after.y_, before.y_)
    np.testing.assert_array_equal(after.proba_, before.proba_)
    assert not _refit_threads()


def test_a_wrong_guess_is_refit_after_the_answer(digits, taken):
    # an annotator who keeps every label: the refit assumed the predictions
    X, y, y_noisy = digits
    keeps = SimulatedOracle(y_noisy)
    before = _audit(
        X, y, y_noisy, oracle=keeps, background_refit=False, follow_up=False
    )
    after = _audit(X, y, y_noisy, oracle=keeps, background_refit=True, follow_up=False)
    assert taken["taken"] == 0 and taken["discarded"] >= 3
    assert after.history_ == before.history_
    np.testing.assert_array_equal(after.proba_, before.proba_)


class _FailsInBackground(ClassifierMixin, BaseEstimator):
    """A logistic regression whose fit fails outside the main thread."""

    def __init__(self, max_iter=300):
        self.max_iter = max_iter

    def fit(self, X, y):
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("no fit in a background thread")
        self.model_ = LogisticRegression(max_iter=self.max_iter).fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)

    def predict(self, X):
        return self.model_.predict(X)


def test_a_failed_background_refit_loses_no_answer(digits, taken):
    X, y, y_noisy = digits
    runs = [
        LabelAuditor(
            _FailsInBackground(),
            oracle=SimulatedOracle(y),
            budget=30,
            refit_every=8,
            random_state=0,
            explain_issues=False,
            selector=NearestNeighborSelector(),
            background_refit=flag,
        ).fit(X, y_noisy)
        for flag in (False, True)
    ]
    assert taken["discarded"] >= 3 and taken["taken"] == 0
    assert runs[1].history_ == runs[0].history_
    assert runs[1].n_inspected_ == 30
    np.testing.assert_array_equal(runs[1].y_, runs[0].y_)


class _PicklingOracle:
    """Answers as the truth, after pickling the auditor that asks."""

    copies = []  # (whether a refit thread ran, the unpickled auditor)

    def __init__(self, y_true):
        self.simulated = SimulatedOracle(y_true)
        self.auditor = None

    def __call__(self, query):
        running = bool(_refit_threads())
        type(self).copies.append((running, pickle.loads(pickle.dumps(self.auditor))))
        return self.simulated(query)


def test_pickling_the_auditor_while_it_refits(digits):
    X, y, y_noisy = digits
    oracle = _PicklingOracle(y)
    _PicklingOracle.copies = []
    auditor = LabelAuditor(
        LogisticRegression(max_iter=300),
        oracle=oracle,
        budget=24,
        refit_every=8,
        random_state=0,
        explain_issues=False,
    )
    oracle.auditor = auditor
    auditor.fit(X, y_noisy)
    copies = _PicklingOracle.copies
    # some pickles were taken while a refit thread ran; none holds it
    assert len(copies) == auditor.n_queries_
    assert any(running for running, _ in copies)
    for _, copy in copies:
        assert not any(
            isinstance(v, (threading.Thread, SpeculativeRefit))
            for v in vars(copy).values()
        )
        assert copy.get_params()["budget"] == 24
    assert not _refit_threads()


def test_an_oracle_that_raises_leaves_no_thread(digits):
    X, y, y_noisy = digits
    simulated = SimulatedOracle(y)
    asked = []

    def oracle(query):
        asked.append(query.example_id)
        if _refit_threads():  # selectors or the next refit in the background
            raise KeyboardInterrupt
        return simulated(query)

    auditor = LabelAuditor(
        LogisticRegression(max_iter=300),
        oracle=oracle,
        budget=20,
        refit_every=8,
        random_state=0,
    )
    with pytest.raises(KeyboardInterrupt):
        auditor.fit(X, y_noisy)
    assert 1 <= len(asked) <= 8
    assert not _refit_threads()
    assert not hasattr(auditor, "history_")  # the failed call changed nothing


class _ThreadsSeen(ClassifierMixin, BaseEstimator):
    """Records the BLAS threads its fits ran with, and in which thread."""

    seen = []

    def fit(self, X, y):
        threads = max(p["num_threads"] for p in threadpool_info())
        type(self).seen.append((threading.current_thread().name, threads))
        self.model_ = LogisticRegression(max_iter=300).fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)


def test_the_background_refit_keeps_the_thread_limit(digits):
    X, y, y_noisy = digits
    if not threadpool_info():
        pytest.skip("no BLAS or OpenMP pool to limit")
    _ThreadsSeen.seen = []
    with threadpool_limits(2):
        outside = max(p["num_threads"] for p in threadpool_info())
        LabelAuditor(
            _ThreadsSeen(),
            oracle=SimulatedOracle(y),
            budget=16,
            refit_every=8,
            random_state=0,
            n_threads=1,
            selector=NearestNeighborSelector(),
            explain_issues=False,
        ).fit(X, y_noisy)
        assert max(p["num_threads"] for p in threadpool_info()) == outside
    names = {name for name, _ in _ThreadsSeen.seen}
    assert REFIT_THREAD in names  # some fits ran in the background
    assert {threads for _, threads in _ThreadsSeen.seen} == {1}


def test_two_threads_fitting_one_auditor(digits):
    X, y, y_noisy = digits
    expected = _audit(X, y, y_noisy, background_refit=False)
    shared = clone(expected)
    errors = []

    def fit():
        try:
            shared.fit(X, y_noisy)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=fit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert shared.history_ == expected.history_
    np.testing.assert_array_equal(shared.y_, expected.y_)
    assert not _refit_threads()


def test_cross_val_proba_stops_between_folds():
    X, y = load_digits(return_X_y=True)
    X, y = X[:200] / 16.0, y[:200]
    folds = []

    def stop():
        folds.append(1)
        return len(folds) >= 2

    out = cross_val_proba(
        LogisticRegression(max_iter=200), X, y, np.unique(y), stop=stop
    )
    assert out is None and len(folds) == 2
    full = cross_val_proba(
        LogisticRegression(max_iter=200), X, y, np.unique(y), stop=lambda: False
    )
    assert full.proba.shape == (200, 10)


def test_speculation_on_other_labels_is_not_taken():
    calls = []

    def compute(labels, stop):
        calls.append(labels.copy())
        return labels.sum()

    assumed = np.array([0, 1, 2])
    refit = SpeculativeRefit(compute, assumed)
    assumed[0] = 5  # the caller's array may change: the refit kept a copy
    assert refit.result(np.array([0, 1, 2])) == 3
    assert (
        background.SpeculativeRefit(compute, np.array([0, 1])).result(np.array([1, 1]))
        is None
    )
