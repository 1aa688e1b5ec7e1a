"""TopFisherSelector's forms of F, its reuse across updates, and its state."""

import copy
import pickle

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from sklearn_cincer import TopFisherSelector
from sklearn_cincer._core import fisher_math as _fisher
from sklearn_cincer.selectors import _top_fisher as selector_module
from sklearn_cincer.selectors._rows import FeatureRows

EXACT = dict(fisher="exact", solver="cholesky", subsample=None, dtype="float64")


def _problem(n=600, d=8, c=4, seed=0):
    X, y = make_classification(
        n + 50,
        d,
        n_informative=6,
        n_redundant=0,
        n_classes=c,
        n_clusters_per_class=1,
        flip_y=0.1,
        random_state=seed,
    )
    X = StandardScaler().fit_transform(X)
    model = LogisticRegression(max_iter=500).fit(X[:n], y[:n])
    return X, y, model, n


def _scores(selector, X, y, model, n, n_queries=10):
    """Scores of the candidates (labeled as the prediction) of a few queries."""
    out = []
    for t in range(n, n + n_queries):
        prediction = model.predict(X[t : t + 1])[0]
        label = (prediction + 1) % len(model.classes_)
        candidates = np.flatnonzero(y[:n] == prediction)
        out.append(selector.score(X[t], label, candidates))
    return out


def test_every_exact_solver_gives_the_exact_scores():
    X, y, model, n = _problem()
    want = _scores(TopFisherSelector(**EXACT).fit(model, X[:n], y[:n]), X, y, model, n)
    for params, rtol in [
        (dict(solver="cg", tol=1e-10), 1e-7),
        (dict(solver="cg"), 1e-2),
        (dict(dtype="float32", solver="cholesky"), 1e-4),
    ]:
        selector = TopFisherSelector(**params).fit(model, X[:n], y[:n])
        assert selector.fisher_ == "exact"
        for got, ref in zip(_scores(selector, X, y, model, n), want):
            scale = np.abs(ref).max()
            assert np.abs(got - ref).max() <= rtol * scale, params
            assert np.argmax(got) == np.argmax(ref) or rtol > 1e-6


def test_approximations_rank_like_the_exact_fisher():
    """K-FAC, EK-FAC and a subsample approximate F: close, not equal, rankings."""
    X, y, model, n = _problem()
    want = _scores(TopFisherSelector(**EXACT).fit(model, X[:n], y[:n]), X, y, model, n)
    for params in (
        dict(fisher="kfac"),
        dict(fisher="ekfac"),
        dict(subsample=300, random_state=0, solver="cholesky"),
    ):
        selector = TopFisherSelector(**params).fit(model, X[:n], y[:n])
        got = _scores(selector, X, y, model, n)
        rho = np.median([spearmanr(a, b).statistic for a, b in zip(got, want)])
        assert 0.8 < rho < 1.0 - 1e-9, (params, rho)
    sub = TopFisherSelector(subsample=300, random_state=0).fit(model, X[:n], y[:n])
    assert sub.n_fisher_rows_ == 300 and sub.n_train_ == n
    # A subsample as large as the set is the exact F.
    whole = TopFisherSelector(subsample=n, solver="cholesky").fit(model, X[:n], y[:n])
    assert whole.n_fisher_rows_ == n
    for got, ref in zip(_scores(whole, X, y, model, n), want):
        assert np.allclose(got, ref)


def test_wide_heads_need_no_p_by_p_matrix():
    """K-FAC on a last layer of 200 classes x 300 features (60,200 parameters)."""
    rng = np.random.RandomState(0)
    n, d, c = 2000, 300, 200
    y = np.arange(n) % c
    X = rng.randn(n, d) * 0.5 + rng.randn(c, d)[y] * 0.3
    model = LogisticRegression(max_iter=30).fit(X, y)
    auto = TopFisherSelector().fit(model, X, y)
    assert auto.solver_ in ("cg", "kfac")  # matrix-free either way
    selector = TopFisherSelector(fisher="kfac").fit(model, X, y)
    assert isinstance(selector.factor_, _fisher.KroneckerFactor)
    scores = selector.score(X[0], 5, np.flatnonzero(y == 0))
    assert scores.shape == (n // c,) and np.all(np.isfinite(scores))
    with pytest.raises(ValueError, match="use solver='cg'.*or fisher='kfac'"):
        TopFisherSelector(solver="cholesky").fit(model, X, y)


def test_auto_picks_exact_while_cheap(monkeypatch):
    X, y, model, n = _problem()
    auto = TopFisherSelector().fit(model, X[:n], y[:n])
    assert (auto.fisher_, auto.solver_, auto.n_fisher_rows_) == ("exact", "cholesky", n)
    assert auto.dtype_ == np.float64
    # Past the budgets: matrix-free exact, then K-FAC, then K-FAC on a sample.
    monkeypatch.setattr(selector_module, "_DENSE_BUDGET", 0)
    auto = TopFisherSelector().fit(model, X[:n], y[:n])
    assert (auto.fisher_, auto.solver_) == ("exact", "cg")
    monkeypatch.setattr(selector_module, "_CG_BUDGET", 0)
    auto = TopFisherSelector().fit(model, X[:n], y[:n])
    assert (auto.fisher_, auto.solver_, auto.n_fisher_rows_) == ("kfac", "kfac", n)
    monkeypatch.setattr(selector_module, "_OUTPUT_BUDGET", 0)
    monkeypatch.setattr(selector_module, "_MIN_SAMPLE", 100)
    auto = TopFisherSelector(random_state=0).fit(model, X[:n], y[:n])
    assert auto.n_fisher_rows_ == 100
    monkeypatch.setattr(selector_module, "_FLOAT32_ENTRIES", 0)
    assert TopFisherSelector().fit(model, X[:n], y[:n]).dtype_ == np.float32


def _snapshot(selector):
    """The selector's state as bytes (its view holds the model, not pickled)."""
    return pickle.dumps({k: v for k, v in vars(selector).items() if k != "view_"})


def _training_sets():
    """Rows (ids into X) of successive training sets, as the cleaner makes them."""
    first = np.arange(300)
    added = np.r_[first, 300, 301]
    dropped = np.setdiff1d(added, [17, 250])
    doubled = np.sort(np.r_[dropped, 5])
    return [first, added, dropped, doubled]


@pytest.mark.parametrize(
    "params",
    [
        dict(EXACT),
        dict(solver="cg", tol=1e-12),
        dict(fisher="kfac"),
        dict(fisher="ekfac"),
        dict(subsample=100, random_state=0),
    ],
    ids=["cholesky", "cg", "kfac", "ekfac", "subsample"],
)
@pytest.mark.parametrize("model_kind", ["linear", "mlp"])
def test_update_equals_fit_on_the_gathered_rows(params, model_kind):
    X, y, _, _ = _problem(n=400)
    if model_kind == "linear":
        models = [
            LogisticRegression(C=C, max_iter=500).fit(X[:300], y[:300])
            for C in (1.0, 0.3)
        ]
    else:
        models = [
            MLPClassifier((6,), max_iter=m, random_state=0).fit(X[:300], y[:300])
            for m in (50, 80)
        ]
    labels = y.copy()
    selector = TopFisherSelector(**params)
    for step, rows in enumerate(_training_sets()):
        model = models[step // 2]  # the model changes once, in the middle
        if step == 3:
            labels = labels.copy()
            labels[[3, 8]] = (labels[[3, 8]] + 1) % 4  # relabeled rows
        before = _snapshot(selector)
        updated = copy.copy(selector).update(model, X, labels, rows=rows)
        assert _snapshot(selector) == before  # copy-on-write: unchanged
        fresh = TopFisherSelector(**params).fit(model, X[rows], labels[rows])
        assert updated.n_train_ == fresh.n_train_ == len(rows)
        candidates = np.arange(0, len(rows), 3)
        got = updated.score(X[350], 1, candidates)
        want = fresh.score(X[350], 1, candidates)
        if params.get("subsample") and step >= 1:
            # The draw of the previous rows is kept while the model is the
            # same, and redrawn from other rows when it changes.
            assert updated.n_fisher_rows_ == fresh.n_fisher_rows_ == 100
            assert spearmanr(got, want).statistic > 0.5
        else:
            # K-FAC's eigenbases are kept while their factor moves < 1e-3.
            tol = 1e-2 if params.get("fisher") in ("kfac", "ekfac") else 1e-6
            np.testing.assert_allclose(
                got, want, rtol=tol, atol=tol * np.abs(want).max()
            )
        selector = updated


def test_update_reuses_what_the_model_leaves_valid(monkeypatch):
    """Counts the passes: nothing rebuilt for an unchanged model and rows."""
    X, y, model, n = _problem()
    calls = {"fisher_matrix": 0, "outputs": 0, "feature_moment": 0}
    for name in calls:
        real = getattr(_fisher, name)

        def counted(*args, _real=real, _name=name, **kwargs):
            calls[_name] += 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(_fisher, name, counted)
    rows = np.arange(n)
    exact = TopFisherSelector(**EXACT).update(model, X, y, rows=rows)
    assert calls == {"fisher_matrix": 1, "outputs": 1, "feature_moment": 0}
    again = copy.copy(exact).update(model, X, y, rows=rows)
    assert again.factor_ is exact.factor_
    assert calls == {"fisher_matrix": 1, "outputs": 1, "feature_moment": 0}
    # Two rows added under the same model: F gains their terms only.
    more = copy.copy(again).update(model, X, y, rows=np.arange(n + 2))
    assert calls["fisher_matrix"] == 2 and more._fisher_sum is not again._fisher_sum
    # K-FAC of a linear model: A follows the rows, whatever the model does.
    kfac = TopFisherSelector(fisher="kfac").update(model, X, y, rows=rows)
    assert calls["feature_moment"] == 1
    other = LogisticRegression(C=0.1, max_iter=500).fit(X[:n], y[:n])
    copy.copy(kfac).update(other, X, y, rows=np.arange(n + 2))
    assert calls["feature_moment"] == 2  # the two new rows' terms, not all
    # A subsample is kept while its rows stay and the set grows by < 10%.
    sub = TopFisherSelector(fisher="kfac", subsample=100, random_state=0)
    sub.update(model, X, y, rows=np.arange(n))
    drawn = sub._state["sample"][0]
    grown = copy.copy(sub).update(other, X, y, rows=np.arange(n + 2))
    assert grown._state["sample"][0] is drawn
    dropped = copy.copy(sub).update(
        other, X, y, rows=np.setdiff1d(np.arange(n), drawn[:1])
    )
    assert drawn[0] not in dropped._state["sample"][0]


def test_feature_rows_are_never_written_twice():
    base = FeatureRows(np.zeros((3, 2)))
    one = base.extended(np.ones((2, 2)))
    two = base.extended(np.full((1, 2), 2.0))  # base's buffer was claimed by one
    three = one.extended(np.full((1, 2), 3.0))
    assert one.array[3:].tolist() == [[1, 1], [1, 1]]
    assert two.array[3:].tolist() == [[2, 2]]
    assert three.array[3:].tolist() == [[1, 1], [1, 1], [3, 3]]
    assert base.array.shape == (3, 2) and not base.array.any()
    restored = pickle.loads(pickle.dumps(three))
    assert restored.array.tolist() == three.array.tolist()
    assert restored._buffer.array.shape[0] == 6  # no spare capacity pickled


def test_a_subclass_with_its_own_fit_is_refit_by_update():
    X, y, model, n = _problem()

    class Recording(TopFisherSelector):
        def _fit(self, estimator, X, y):
            super()._fit(estimator, X, y)
            self.fits_ = getattr(self, "fits_", 0) + 1

    class Hooked(TopFisherSelector):
        def _refreshed(self):
            self.refreshes_ = getattr(self, "refreshes_", 0) + 1

    recording = Recording().update(model, X, y, rows=np.arange(n))
    recording.update(model, X, y, rows=np.arange(n + 1))
    assert recording.fits_ == 2 and recording.n_train_ == n + 1
    hooked = Hooked().update(model, X, y, rows=np.arange(n))
    hooked.update(model, X, y, rows=np.arange(n + 1))
    assert hooked.refreshes_ == 2
    # The training rows' arrays, in training order, as before.
    assert np.array_equal(hooked._X, X[: n + 1])
    assert hooked._H.shape == (n + 1, X.shape[1]) and hooked._R.shape == (n + 1, 4)
    assert np.allclose(hooked._P, model.predict_proba(X[: n + 1]))


def test_new_parameters_are_validated():
    X, y, model, n = _problem(n=100)
    for params in (
        dict(fisher="diag"),
        dict(solver="lu"),
        dict(subsample=0),
        dict(subsample=1.5),
        dict(dtype="float16"),
        dict(tol=0),
    ):
        with pytest.raises(ValueError):
            TopFisherSelector(**params).fit(model, X[:n], y[:n])
