"""The exact Fisher's factor prepared while the oracle waits (issue 19, item 3)."""

import pickle
import threading
import time

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_info

from sklearn_cincer import (
    CleaningSelector,
    SimulatedOracle,
    SkepticalCleaner,
    TopFisherSelector,
    _cleaner,
)
from sklearn_cincer._core import fisher_math as _fisher
from sklearn_cincer.selectors import _refresh
from sklearn_cincer.selectors import _top_fisher as selector_fisher


def _data(n=700, d=6, c=3, seed=0):
    rng = np.random.RandomState(seed)
    centers = rng.randn(c, d) * 1.5
    y = rng.randint(c, size=n)
    X = rng.randn(n, d) + centers[y]
    noisy = y.copy()
    flip = rng.rand(n) < 0.2
    noisy[flip] = (y[flip] + 1) % c
    return X, y, noisy


def _cleaner_for(y, oracle=None, **selector):
    return SkepticalCleaner(
        LogisticRegression(max_iter=300),
        selector=TopFisherSelector(solver="cg", **selector),
        oracle=SimulatedOracle(y) if oracle is None else oracle,
        n_bootstrap=300,
        refit="incremental",
        random_state=0,
    )


class _Reading(SimulatedOracle):
    """Answers from the true labels after a pause, as a person reading."""

    def __init__(self, y_true, seconds=0.05):
        super().__init__(y_true)
        self.seconds = seconds

    def __call__(self, query):
        time.sleep(self.seconds)
        return super().__call__(query)


@pytest.fixture
def spied(monkeypatch):
    """Every background refresh started, in order."""
    started = []

    class Spied(_refresh.FactorRefresh):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(selector_fisher, "FactorRefresh", Spied)
    return started


def test_refresh_builds_the_exact_factor():
    rng = np.random.RandomState(0)
    H, P = rng.randn(700, 4), rng.dirichlet(np.ones(3), 700)
    weights = rng.randint(0, 3, 700).astype(float)
    refresh = _refresh.FactorRefresh(H, P, weights, "softmax", True, 1e-3)
    refresh.resume()
    refresh.join(30)
    assert refresh.done and refresh.error is None
    want = _fisher.factorize(
        _fisher.fisher_matrix(H, P, "softmax", True, weights), 1e-3
    )
    np.testing.assert_allclose(
        refresh.result["factor"][0], want[0], rtol=1e-9, atol=1e-12
    )
    assert refresh.result["P"] is P and refresh.result["n"] == 700


def test_refresh_runs_only_while_resumed_and_can_be_given_up(monkeypatch):
    monkeypatch.setattr(_refresh, "_CHUNK_MACS", 1)  # one chunk of 64 rows
    rng = np.random.RandomState(1)
    H, P = rng.randn(640, 3), rng.dirichlet(np.ones(2), 640)
    refresh = _refresh.FactorRefresh(H, P, None, "softmax", True, 1e-3)
    refresh.resume()
    refresh.pause()
    time.sleep(0.05)
    assert not refresh.done  # paused: ten chunks cannot all have run
    refresh.cancel()
    refresh.join(10)
    assert refresh.done and refresh.result is None and refresh.error is None

    monkeypatch.setattr(_refresh, "_IDLE_SECONDS", 0.01)
    idle = _refresh.FactorRefresh(H, P, None, "softmax", True, 1e-3)
    idle.resume()
    idle.pause()  # and never resumed: its thread ends by itself
    idle.join(10)
    assert idle.done and idle.result is None


def test_a_failed_refresh_keeps_its_error_and_changes_no_pick(monkeypatch, spied):
    X, y, noisy = _data()

    def broken(*args, **kwargs):
        if threading.current_thread() is threading.main_thread():
            return original(*args, **kwargs)
        raise MemoryError("no room for F")

    original = _fisher.fisher_matrix
    monkeypatch.setattr(_refresh._fisher, "fisher_matrix", broken)
    cleaner = _cleaner_for(y, _Reading(y)).fit(X, noisy)
    reference = _cleaner_for(y).fit(X, noisy)
    assert spied and all(r.result is None for r in spied if r.done)
    assert any(isinstance(r.error, MemoryError) for r in spied)
    assert [r.counter_example_id for r in cleaner.history_] == [
        r.counter_example_id for r in reference.history_
    ]


def test_the_same_picks_with_and_without_the_background_refresh(monkeypatch, spied):
    X, y, noisy = _data()
    reading = _cleaner_for(y, _Reading(y)).fit(X, noisy)
    assert any(r.result is not None for r in spied)  # a refresh was taken
    instant = _cleaner_for(y).fit(X, noisy)
    monkeypatch.setattr(
        _cleaner, "_while_waiting", lambda selector: _cleaner.contextlib.nullcontext()
    )
    without = _cleaner_for(y).fit(X, noisy)
    picks = [
        [r.counter_example_id for r in c.history_] for c in (reading, instant, without)
    ]
    assert len(picks[0]) > 10
    assert picks[0] == picks[1] == picks[2]
    scores = [np.array([r.score for r in c.history_]) for c in (reading, without)]
    np.testing.assert_allclose(scores[0], scores[1], rtol=1e-3, atol=1e-6)


def _iterations(monkeypatch, X, y, noisy, background=True):
    """CG iterations of every solve of a cleaner whose oracle reads 0.1 s."""
    iterations = []
    original = _fisher.ConjugateGradientFactor.solve_with_info

    def counted(self, g):
        out = original(self, g)
        iterations.append(out[1])
        return out

    with monkeypatch.context() as patch:
        patch.setattr(_fisher.ConjugateGradientFactor, "solve_with_info", counted)
        if not background:
            patch.setattr(
                _cleaner,
                "_while_waiting",
                lambda selector: _cleaner.contextlib.nullcontext(),
            )
        cleaner = _cleaner_for(y, _Reading(y, 0.1)).fit(X, noisy)
    return np.array(iterations), cleaner


def test_a_fresh_factor_converges_in_few_iterations(monkeypatch, spied):
    X, y, noisy = _data()
    iterations, cleaner = _iterations(monkeypatch, X, y, noisy)
    stale, _ = _iterations(monkeypatch, X, y, noisy, background=False)
    assert len(iterations) > 10 and len(iterations) == len(stale)
    assert np.median(iterations) <= 2 and iterations.max() <= 4
    # the factor refreshed during each wait is closer than the one kept
    assert iterations.mean() < stale.mean()
    assert cleaner.selector_.n_iter_ == iterations[-1]
    assert (
        TopFisherSelector(solver="cholesky")
        .fit(LogisticRegression().fit(X, noisy), X, noisy)
        .n_iter_
        == 0
    )


def test_the_refresh_runs_only_while_the_oracle_waits_within_the_limits(
    monkeypatch, spied
):
    X, y, noisy = _data()
    waiting = {"now": False}
    seen = []
    original_wait = _cleaner._while_waiting

    class Flagged:
        def __init__(self, selector):
            self.inner = original_wait(selector)

        def __enter__(self):
            waiting["now"] = True
            return self.inner.__enter__()

        def __exit__(self, *exc):
            out = self.inner.__exit__(*exc)
            waiting["now"] = False
            return out

    original_fisher = _fisher.fisher_matrix

    def watched(*args, **kwargs):
        if threading.current_thread() is not threading.main_thread():
            # BLAS pools are process-wide (OpenMP's limits are per thread,
            # and the refresh runs no OpenMP code)
            seen.append(
                (
                    waiting["now"],
                    {
                        p["num_threads"]
                        for p in threadpool_info()
                        if p["user_api"] == "blas"
                    },
                )
            )
        return original_fisher(*args, **kwargs)

    monkeypatch.setattr(_cleaner, "_while_waiting", Flagged)
    monkeypatch.setattr(_refresh._fisher, "fisher_matrix", watched)
    cleaner = _cleaner_for(y, _Reading(y))
    cleaner.set_params(n_threads=1).fit(X, noisy)
    assert seen and all(flag for flag, _ in seen)
    assert all(threads == {1} for _, threads in seen)


def test_pickling_and_refitting_while_a_refresh_is_in_flight(spied):
    X, y, noisy = _data()
    cleaner = _cleaner_for(y, _Reading(y)).fit(X, noisy)
    state = cleaner.selector_._state
    flying = _refresh.FactorRefresh(state["H"], state["P"], None, "softmax", True, 1e-3)
    flying.resume()
    flying.pause()  # in flight, paused between chunks
    state["refresh"] = flying
    restored = pickle.loads(pickle.dumps(cleaner))
    copied = restored.selector_._state["refresh"]
    assert copied.done and copied.result is None and copied._thread is None
    np.testing.assert_array_equal(restored.predict(X), cleaner.predict(X))
    # a second fit, with the first's refresh still in flight, starts anew
    selector = cleaner.selector_
    again = selector.fit(LogisticRegression(max_iter=300).fit(X, noisy), X, noisy)
    assert again._state["refresh"] is None
    flying.cancel()
    flying.join(10)
    assert flying.done


def test_cleaning_selector_prepares_through_its_top_fisher(spied):
    X, y, noisy = _data()
    model = LogisticRegression(max_iter=300).fit(X, noisy)
    selector = CleaningSelector().fit(model, X, noisy)
    with selector.while_waiting():
        pass
    assert selector.n_iter_ == selector.fisher_.n_iter_
    with CleaningSelector().while_waiting():  # not fitted: nothing to prepare
        pass


def test_leave_one_out_from_a_recent_factor_matches_the_exact_one():
    """The cleaning selector's q through a stale preconditioner, against exact F."""
    X, y, noisy = _data(n=3000, d=8, c=4)
    old = LogisticRegression(max_iter=300).fit(X[:2900], noisy[:2900])
    new = LogisticRegression(max_iter=300, warm_start=True)
    new.coef_, new.intercept_, new.classes_ = (
        old.coef_.copy(),
        old.intercept_.copy(),
        old.classes_,
    )
    new.fit(X, noisy)
    cg = CleaningSelector(damping=1e-3).fit(old, X[:2900], noisy[:2900])
    inner = cg.fisher_
    inner.set_params(solver="cg")
    inner.fit(old, X[:2900], noisy[:2900])
    inner._state["prepares"] = True
    inner.update(new, X, noisy)
    assert isinstance(inner.factor_, _fisher.ConjugateGradientFactor)
    assert 0 < inner._state["dense_drift"] <= selector_fisher._HARD_DRIFT
    cg.n_train_ = inner.n_train_
    cg._keep(X, noisy)
    exact = CleaningSelector(damping=1e-3).fit(new, X, noisy)
    rows = np.arange(0, 3000, 7)
    q_cg = cg.leave_one_out_probability(rows)
    q_exact = exact.leave_one_out_probability(rows)
    assert np.max(np.abs(q_cg - q_exact)) <= 1e-3


def test_an_oracle_that_raises_leaves_no_refresh_running(spied):
    X, y, noisy = _data()

    class Failing(_Reading):
        def __init__(self, y_true):
            super().__init__(y_true)
            self.calls = 0

        def __call__(self, query):
            self.calls += 1
            if self.calls == 6:
                raise RuntimeError("the person left")
            return super().__call__(query)

    cleaner = _cleaner_for(y, Failing(y))
    with pytest.raises(RuntimeError, match="the person left"):
        cleaner.fit(X, noisy)
    assert spied  # refreshes were started, and none is left running
    assert not any(r._run.is_set() and not r.done for r in spied)
    assert not hasattr(cleaner, "history_")
