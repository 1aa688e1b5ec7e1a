"""A network's question with features that move at every update (issue 19).

An incremental update of an ``MLPClassifier`` moves its hidden layers, so
the last layer's features change at every question. The exact factor of an
earlier model (of earlier features) still preconditions conjugate
gradients; it must not be rebuilt on the question's path each time, and
nothing computed from the old features may be reused as if current.
"""

import threading
import time
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

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

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _data(n=700, d=6, c=3, seed=0):
    rng = np.random.RandomState(seed)
    centers = rng.randn(c, d) * 1.5
    y = rng.randint(c, size=n)
    X = rng.randn(n, d) + centers[y]
    noisy = y.copy()
    flip = rng.rand(n) < 0.2
    noisy[flip] = (y[flip] + 1) % c
    return X, y, noisy


def _mlp(**params):
    return MLPClassifier((12,), max_iter=60, random_state=0, **params)


class _Reading(SimulatedOracle):
    """Answers from the true labels after a pause, as a person reading."""

    def __init__(self, y_true, seconds=0.05):
        super().__init__(y_true)
        self.seconds = seconds

    def __call__(self, query):
        time.sleep(self.seconds)
        return super().__call__(query)


def _cleaner_for(y, oracle=None):
    return SkepticalCleaner(
        _mlp(),
        selector=TopFisherSelector(solver="cg"),
        oracle=SimulatedOracle(y) if oracle is None else oracle,
        n_bootstrap=300,
        refit="incremental",
        random_state=0,
    )


@pytest.fixture
def rebuilt(monkeypatch):
    """Each exact F formed on the question's path (the main thread)."""
    calls = []
    original = _fisher.fisher_matrix

    def counted(*args, **kwargs):
        if threading.current_thread() is threading.main_thread():
            calls.append(args[0].shape[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(selector_fisher._fisher, "fisher_matrix", counted)
    return calls


def _moved(model, X, y, rows):
    """``model`` after one incremental step on ``rows``: its features move."""
    before = model.coefs_[0].copy()
    model.partial_fit(X[rows], y[rows])
    assert not np.array_equal(model.coefs_[0], before)
    return model


def test_the_same_mlp_picks_with_a_reader_an_instant_oracle_and_no_refresh(
    monkeypatch, rebuilt
):
    X, y, noisy = _data()
    reading = _cleaner_for(y, _Reading(y)).fit(X, noisy)
    questions = len(reading.history_)
    # the factor of earlier features was kept: F is not formed per question
    assert questions > 10 and len(rebuilt) < questions / 2
    instant = _cleaner_for(y).fit(X, noisy)
    monkeypatch.setattr(
        _cleaner, "_while_waiting", lambda selector: _cleaner.contextlib.nullcontext()
    )
    without = _cleaner_for(y).fit(X, noisy)
    picks = [
        [r.counter_example_id for r in c.history_] for c in (reading, instant, without)
    ]
    assert picks[0] == picks[1] == picks[2]
    scores = [np.array([r.score for r in c.history_]) for c in (reading, without)]
    np.testing.assert_allclose(scores[0], scores[1], rtol=1e-3, atol=1e-6)


def test_a_factor_of_earlier_features_gives_the_exact_top_pick(rebuilt):
    X, y, noisy = _data(n=900, d=8, c=4, seed=1)
    rng = np.random.RandomState(2)
    model = _mlp().fit(X[:600], noisy[:600])
    selector = TopFisherSelector(solver="cg").fit(model, X[:600], noisy[:600])
    first = selector.factor_.preconditioner
    with selector.while_waiting():  # as the cleaner: the refresh may run
        pass
    kept = agree = asked = 0
    for step in range(8):
        n = 600 + 30 * (step + 1)
        _moved(model, X, noisy, np.arange(n - 30, n))
        token = selector._state["features_token"]
        selector.update(model, X[:n], noisy[:n])
        assert selector._state["features_token"] is not token
        kept += selector._state["dense_drift"] > 0
        exact = TopFisherSelector(solver="cholesky").fit(model, X[:n], noisy[:n])
        for t in rng.choice(n, 12, replace=False):
            label = (noisy[t] + 1) % 4
            candidates = np.flatnonzero(noisy[:n] == model.predict(X[t : t + 1])[0])
            if candidates.size == 0:
                continue
            asked += 1
            agree += (
                selector.select(X[t], label, candidates)[0]
                == exact.select(X[t], label, candidates)[0]
            )
    assert kept >= 6  # a stale factor preconditioned most questions
    assert selector.factor_.preconditioner is not None
    assert first is not None and asked >= 80
    assert agree / asked >= 0.99


def test_the_leverage_kept_follows_the_features():
    """q through a kept preconditioner: no leverage of old features reused."""
    X, y, noisy = _data(n=1500, d=8, c=4, seed=3)
    model = _mlp(alpha=1e-3).fit(X[:1400], noisy[:1400])
    selector = CleaningSelector(damping=1e-3).fit(model, X[:1400], noisy[:1400])
    inner = selector.fisher_
    inner.set_params(solver="cg").fit(model, X[:1400], noisy[:1400])
    inner._state["prepares"] = True
    rows = np.arange(0, 1400, 5)
    selector.leave_one_out_probability(rows)  # fills the cache, old features
    base = inner.factor_.preconditioner
    _moved(model, X, noisy, np.arange(1400, 1500))
    selector.update(model, X, noisy)
    assert selector.fisher_.factor_.preconditioner is base  # the factor kept
    q = selector.leave_one_out_probability(rows)
    # the same rows computed afresh, with no cache at all
    selector._leverage_cache = None
    selector._q[:] = np.nan
    np.testing.assert_allclose(
        selector.leave_one_out_probability(rows), q, rtol=1e-10, atol=1e-12
    )
    exact = CleaningSelector(damping=1e-3).fit(model, X, noisy)
    assert not isinstance(exact.fisher_.factor_, _fisher.ConjugateGradientFactor)
    assert np.max(np.abs(q - exact.leave_one_out_probability(rows))) <= 1e-3


def test_drift_counts_the_features_move():
    rng = np.random.RandomState(4)
    H, P = rng.randn(500, 5), rng.dirichlet(np.ones(3), 500)
    norms = np.einsum("ij,ij->i", H, H) + 1.0
    stale = dict(P=P, weights=None, n=500, **selector_fisher._kept_features(H, 500))
    assert selector_fisher._drift(stale, P, None, norms, H) == 0.0
    moved = H + 0.05 * rng.randn(*H.shape)
    moved_norms = np.einsum("ij,ij->i", moved, moved) + 1.0
    drift = selector_fisher._drift(stale, P, None, moved_norms, moved)
    # the exact sum over every row (all 500 are kept: fewer than _DRIFT_ROWS)
    want = (
        np.sum(
            np.linalg.norm(moved - H, axis=1) * (np.sqrt(moved_norms) + np.sqrt(norms))
        )
        / moved_norms.sum()
    )
    assert drift == pytest.approx(want, rel=1e-12)
    assert selector_fisher._drift(stale, P, None, moved_norms) == 0.0  # linear
    # a factor that kept no features cannot tell: it is too stale to use
    bare = dict(P=P, weights=None, n=500)
    assert selector_fisher._drift(bare, P, None, moved_norms, moved) == np.inf


def test_kept_features_are_few_and_a_copy():
    H = np.arange(40000.0, dtype=np.float32).reshape(10000, 4)
    ids, kept = selector_fisher._kept_features(H, 10000)["features"]
    assert ids.shape[0] == selector_fisher._DRIFT_ROWS and ids[-1] == 9999
    assert kept.dtype == H.dtype and not np.shares_memory(kept, H)
    np.testing.assert_array_equal(kept, H[ids])
    assert selector_fisher._kept_features(None, 10000) == {}


def test_a_refresh_keeps_what_it_is_given():
    rng = np.random.RandomState(5)
    H, P = rng.randn(200, 3), rng.dirichlet(np.ones(2), 200)
    keep = selector_fisher._kept_features(H, 200)
    refresh = _refresh.FactorRefresh(H, P, None, "softmax", True, 1e-3, keep=keep)
    refresh.resume()
    refresh.join(30)
    assert refresh.done and refresh.error is None
    assert refresh.result["features"] is keep["features"]
    assert refresh.result["n"] == 200


def test_a_linear_model_keeps_no_features():
    from sklearn.linear_model import LogisticRegression

    X, y, noisy = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LogisticRegression(max_iter=300).fit(X, noisy)
    selector = TopFisherSelector(solver="cg").fit(model, X, noisy)
    assert "features" not in selector._state["dense"]


def test_the_inverse_of_a_kept_factor_is_computed_once():
    rng = np.random.RandomState(6)
    H, P = rng.randn(400, 5), rng.dirichlet(np.ones(4), 400)
    factor = _fisher.factorize(_fisher.fisher_matrix(H, P, "softmax"), 1e-3)
    kept = {}
    first = _fisher.leverage(factor, H[:100], kept=kept)
    blocks = kept["inverse_blocks"]
    again = _fisher.leverage(factor, H[100:300], kept=kept)
    assert kept["inverse_blocks"] is blocks
    np.testing.assert_allclose(
        first, _fisher.leverage(factor, H[:100]), rtol=1e-12, atol=1e-14
    )
    np.testing.assert_allclose(
        again, _fisher.leverage(factor, H[100:300]), rtol=1e-12, atol=1e-14
    )


def test_new_features_keep_the_inverse_of_the_same_preconditioner():
    X, y, noisy = _data(n=1500, d=8, c=4, seed=7)
    model = _mlp().fit(X[:1400], noisy[:1400])
    selector = CleaningSelector(damping=1e-3).fit(model, X[:1400], noisy[:1400])
    selector.fisher_.set_params(solver="cg").fit(model, X[:1400], noisy[:1400])
    selector.fisher_._state["prepares"] = True
    selector.leave_one_out_probability(np.arange(0, 1400, 2))
    inverse = selector._leverage_cache[3]["inverse_blocks"]
    _moved(model, X, noisy, np.arange(1400, 1500))
    selector.update(model, X, noisy)
    q = selector.leave_one_out_probability(np.arange(0, 1500, 3))
    assert selector._leverage_cache[3]["inverse_blocks"] is inverse
    assert np.all((q >= 0) & (q <= 1))


def test_an_update_to_a_network_of_another_width_starts_afresh():
    X, y, noisy = _data()
    selector = TopFisherSelector(solver="cg").fit(_mlp().fit(X, noisy), X, noisy)
    selector._state["prepares"] = True
    wider = MLPClassifier((9,), max_iter=60, random_state=1).fit(X, noisy)
    selector.update(wider, X, noisy)
    fresh = TopFisherSelector(solver="cg").fit(wider, X, noisy)
    assert selector._state["dense_drift"] == 0.0  # built for this layer
    candidates = np.flatnonzero(noisy == 1)
    np.testing.assert_allclose(
        selector.score(X[5], 1, candidates), fresh.score(X[5], 1, candidates), rtol=1e-6
    )


def test_a_skorch_net_keeps_its_factor_with_the_exact_top_pick(torch_one_thread_if_any):
    pytest.importorskip("skorch")
    from sklearn_cincer.nets import FCNetClassifier

    X, y, noisy = _data(n=600, d=6, c=3, seed=8)
    X = X.astype(np.float32)
    net = FCNetClassifier(max_epochs=5, random_state=0).fit(X[:500], noisy[:500])
    selector = TopFisherSelector(solver="cg").fit(net, X[:500], noisy[:500])
    selector._state["prepares"] = True
    rng = np.random.RandomState(9)
    kept = agree = asked = 0
    for step in range(4):
        n = 500 + 25 * (step + 1)
        net.partial_fit(X[n - 25 : n], noisy[n - 25 : n])
        token = selector._state["features_token"]
        selector.update(net, X[:n], noisy[:n])
        assert selector._state["features_token"] is not token  # features moved
        kept += selector._state["dense_drift"] > 0
        exact = TopFisherSelector(solver="cholesky").fit(net, X[:n], noisy[:n])
        for t in rng.choice(n, 10, replace=False):
            label = (noisy[t] + 1) % 3
            candidates = np.flatnonzero(noisy[:n] != label)
            asked += 1
            agree += (
                selector.select(X[t], label, candidates)[0]
                == exact.select(X[t], label, candidates)[0]
            )
    assert kept >= 3 and asked == 40
    assert agree / asked >= 0.99


def test_a_first_update_by_id_is_the_fit_and_the_next_reuses_it():
    X, y, noisy = _data(n=800, seed=10)
    model = _mlp().fit(X[:600], noisy[:600])
    rows = np.arange(600)
    first = CleaningSelector().update(model, X, noisy, rows=rows)
    fitted = CleaningSelector().fit(model, X[:600], noisy[:600])
    assert first.fisher_._state["by_id"]  # the features kept by id
    assert first.damping_ == fitted.damping_
    np.testing.assert_allclose(
        first.leave_one_out_probability(), fitted.leave_one_out_probability(), rtol=1e-9
    )
    candidates = np.flatnonzero(noisy[:600] == 2)
    np.testing.assert_allclose(
        first.score(X[700], 1, candidates),
        fitted.score(X[700], 1, candidates),
        rtol=1e-9,
    )
    token = first.fisher_._state["features_token"]
    first.update(model, X, noisy, rows=np.arange(610))
    assert first.fisher_._state["features_token"] is token  # not recomputed
    with pytest.raises(IndexError, match="rows must index"):
        CleaningSelector().update(model, X, noisy, rows=[0, 900])
