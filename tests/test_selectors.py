"""The counter-example selectors with every supported estimator, and their errors."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from sklearn_cincer import (
    CleaningSelector,
    FullFisherSelector,
    InfluenceSelector,
    NearestNeighborSelector,
    PerceptualSelector,
    PracticalFisherSelector,
    RandomSelector,
    SimulatedOracle,
    SkepticalCleaner,
    TopFisherSelector,
)
from sklearn_cincer._core.last_layer import last_layer_view
from sklearn_cincer._core.parameter_views import parameter_view


def _data(n_classes, n=90, seed=0):
    X, y = make_classification(
        n, 5, n_informative=4, n_redundant=0, n_classes=n_classes, random_state=seed
    )
    return StandardScaler().fit_transform(X), y


def _estimators():
    out = []
    for n_classes in (2, 3):
        X, y = _data(n_classes)
        out += [
            (f"lr-{n_classes}", LogisticRegression().fit(X, y), X, y),
            (
                f"sgd-{n_classes}",
                SGDClassifier(loss="log_loss", alpha=1e-2, random_state=0).fit(X, y),
                X,
                y,
            ),
            (
                f"mlp-{n_classes}",
                MLPClassifier((8,), max_iter=300, random_state=0).fit(X, y),
                X,
                y,
            ),
        ]
    X, y = _data(3)
    pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(X * 10 + 3, y)
    out.append(("pipeline", pipe, X * 10 + 3, y))
    return out


ESTIMATORS = _estimators()
EST_IDS = [e[0] for e in ESTIMATORS]
SELECTORS = [
    TopFisherSelector(),
    FullFisherSelector(),
    PracticalFisherSelector(),
    InfluenceSelector(depth=200, random_state=0),
    PerceptualSelector(n_neighbors=7),
    PerceptualSelector(InfluenceSelector(depth=50), radius=1.5, n_neighbors=None),
    CleaningSelector(),
]
SEL_IDS = [
    "top",
    "full",
    "practical",
    "influence",
    "perceptual",
    "perceptual-if",
    "cleaning",
]


@pytest.mark.parametrize("selector", SELECTORS, ids=SEL_IDS)
@pytest.mark.parametrize("name, model, X, y", ESTIMATORS, ids=EST_IDS)
def test_every_selector_scores_every_estimator(name, model, X, y, selector):
    selector = clone(selector).fit(model, X, y)
    x_t = X[0]
    prediction = model.predict(X[:1])[0]
    y_t = next(c for c in model.classes_ if c != prediction)
    candidates = np.flatnonzero(y == prediction)
    scores = selector.score(x_t, y_t, candidates)
    assert scores.shape == candidates.shape
    kept = np.isfinite(scores)
    assert kept.any()
    if not isinstance(selector, PerceptualSelector):
        assert kept.all()
    row, score = selector.select(x_t, y_t, candidates)
    assert row in candidates and score == scores.max()
    # Scoring a subset, or all rows in another order, gives the same numbers
    # as scoring all and indexing.
    if not isinstance(selector, PerceptualSelector):
        every = selector.score(x_t, y_t)
        assert np.allclose(every[candidates], scores, rtol=1e-5, atol=1e-8)
        reverse = np.arange(len(X))[::-1]
        assert np.allclose(
            selector.score(x_t, y_t, reverse), every[reverse], rtol=1e-5, atol=1e-8
        )


def _explicit(model, X, y, x_t, y_t):
    view = parameter_view(model)
    G = np.vstack(list(view.gradients(X, y)))
    (g,) = view.gradients(x_t[None], [y_t])
    return view, G, g[0]


@pytest.mark.parametrize("name, model, X, y", ESTIMATORS, ids=EST_IDS)
def test_practical_fisher_is_minus_the_gradient_inner_product(name, model, X, y):
    view, G, g = _explicit(model, X, y, X[1], y[2])
    scores = PracticalFisherSelector(batch_size=16).fit(model, X, y).score(X[1], y[2])
    assert np.allclose(scores, -G @ g)


@pytest.mark.parametrize("name, model, X, y", ESTIMATORS, ids=EST_IDS)
def test_full_fisher_is_the_damped_fisher_kernel(name, model, X, y):
    view, G, g = _explicit(model, X, y, X[1], y[2])
    F = view.fisher(X)
    F += 1e-3 * np.trace(F) / F.shape[0] * np.eye(F.shape[0])
    want = -G @ np.linalg.solve(F, g)
    got = FullFisherSelector().fit(model, X, y).score(X[1], y[2])
    assert np.allclose(got, want, rtol=1e-6, atol=1e-9 * np.abs(want).max())


@pytest.mark.parametrize(
    "name, model, X, y",
    ESTIMATORS[:2] + ESTIMATORS[3:5],
    ids=EST_IDS[:2] + EST_IDS[3:5],
)
def test_full_fisher_equals_top_fisher_for_linear_models(name, model, X, y):
    full = FullFisherSelector().fit(model, X, y).score(X[4], y[5])
    top = TopFisherSelector().fit(model, X, y).score(X[4], y[5])
    assert np.allclose(full, top)


@pytest.mark.parametrize(
    "name, model, X, y",
    ESTIMATORS[:2] + ESTIMATORS[3:5],
    ids=EST_IDS[:2] + EST_IDS[3:5],
)
def test_exact_influence_is_the_pseudo_inverse_hessian_kernel(name, model, X, y):
    view, G, g = _explicit(model, X, y, X[1], y[2])
    H = view.hessian(X, y)
    want = -G @ np.linalg.pinv(H, hermitian=True, rcond=1e-10) @ g / len(X)
    got = InfluenceSelector().fit(model, X, y).score(X[1], y[2])
    assert np.allclose(got, want, rtol=1e-6, atol=1e-9 * np.abs(want).max())


@pytest.mark.parametrize(
    "name, model, X, y",
    ESTIMATORS[2:3] + ESTIMATORS[5:6],
    ids=EST_IDS[2:3] + EST_IDS[5:6],
)
def test_lissa_on_an_mlp_solves_the_damped_hessian(name, model, X, y):
    view = parameter_view(model)
    eye = np.eye(view.n_params)
    H = np.column_stack([view.hvp(X, y, e) for e in eye])
    H = (H + H.T) / 2
    damping = max(0.0, -np.linalg.eigvalsh(H).min()) + 0.05
    selector = InfluenceSelector(damping=damping, depth=3000, random_state=0)
    selector.fit(model, X, y)
    assert selector.method_ == "lissa"
    (g,) = view.gradients(X[:1], y[:1])
    want = np.linalg.solve(H + damping * eye, g[0])
    got = selector.inverse_hvp(g[0])
    assert np.linalg.norm(got - want) < 1e-3 * np.linalg.norm(want)


def test_stochastic_lissa_is_seeded_and_close():
    X, y = _data(2)
    model = LogisticRegression().fit(X, y)
    exact = InfluenceSelector(method="exact").fit(model, X, y).score(X[0], 1 - y[0])
    params = dict(method="lissa", damping=0.0, batch_size=30, depth=500, repeats=4)
    a = InfluenceSelector(random_state=1, **params).fit(model, X, y)
    b = InfluenceSelector(random_state=1, **params).fit(model, X, y)
    a, b = a.score(X[0], 1 - y[0]), b.score(X[0], 1 - y[0])
    assert np.array_equal(a, b)
    assert np.corrcoef(a, exact)[0, 1] > 0.95


def test_perceptual_selector_keeps_the_nearest_then_ranks():
    X, y = _data(3)
    model = LogisticRegression().fit(X, y)
    inner = TopFisherSelector().fit(model, X, y)
    candidates = np.flatnonzero(y == 1)
    x_t = X[0]
    distances = np.linalg.norm(X[candidates] - x_t, axis=1)
    nearest = candidates[np.argsort(distances)[:5]]
    selector = PerceptualSelector(n_neighbors=5).fit(model, X, y)
    assert np.array_equal(selector.neighbors(x_t, candidates), nearest)
    scores = selector.score(x_t, 0, candidates)
    kept = np.isin(candidates, nearest)
    assert np.all(np.isneginf(scores[~kept]))
    assert np.allclose(scores[kept], inner.score(x_t, 0, candidates[kept]))
    row, _ = selector.select(x_t, 0, candidates)
    assert row == nearest[np.argmax(inner.score(x_t, 0, nearest))]
    # A radius keeps those within it; none within keeps the nearest one.
    radius = np.sort(distances)[3] + 1e-9
    by_radius = PerceptualSelector(radius=radius, n_neighbors=None).fit(model, X, y)
    assert np.isfinite(by_radius.score(x_t, 0, candidates)).sum() == 4
    tiny = PerceptualSelector(radius=1e-9, n_neighbors=None).fit(model, X, y)
    assert np.isfinite(tiny.score(x_t, 0, candidates)).sum() == 1
    # Nested parameters, for grid searches.
    assert "selector__damping" in PerceptualSelector(TopFisherSelector()).get_params()


def test_perceptual_selector_in_feature_space():
    X, y = _data(3)
    model = MLPClassifier((8,), max_iter=300, random_state=0).fit(X, y)
    selector = PerceptualSelector(n_neighbors=3, space="features").fit(model, X, y)
    h = last_layer_view(model).features(X)
    nearest = np.argsort(np.linalg.norm(h - h[0], axis=1))[:3]
    assert set(selector.neighbors(X[0])) == set(nearest)


def test_selectors_work_inside_the_cleaner():
    X, y = _data(3, n=50)
    rng = np.random.default_rng(0)
    noisy = y.copy()
    flip = rng.random(len(y)) < 0.2
    noisy[flip] = (noisy[flip] + 1) % 3
    for selector in [
        InfluenceSelector(),
        FullFisherSelector(),
        PracticalFisherSelector(),
        PerceptualSelector(),
    ]:
        cleaner = SkepticalCleaner(
            LogisticRegression(),
            selector=selector,
            oracle=SimulatedOracle(y),
            n_bootstrap=35,
            random_state=0,
        )
        cleaner.fit(X, noisy)
        assert cleaner.predict(X).shape == y.shape


# -- clear errors -------------------------------------------------------------


@pytest.mark.parametrize(
    "selector",
    [
        TopFisherSelector(),
        FullFisherSelector(),
        PracticalFisherSelector(),
        InfluenceSelector(),
        CleaningSelector(),
    ],
    ids=["top", "full", "practical", "influence", "cleaning"],
)
def test_unsupported_estimators_get_a_clear_error(selector):
    X, y = _data(2)
    with pytest.raises(TypeError, match="log_loss"):
        clone(selector).fit(SGDClassifier(loss="hinge").fit(X, y), X, y)
    for model in (RandomForestClassifier(n_estimators=3).fit(X, y), SVC().fit(X, y)):
        with pytest.raises(TypeError, match="Supported are LogisticRegression"):
            clone(selector).fit(model, X, y)


def test_full_fisher_refuses_a_model_too_large():
    X, y = _data(3)
    model = MLPClassifier((30,), max_iter=50, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="max_params"):
        FullFisherSelector(max_params=100).fit(model, X, y)


def test_influence_errors_name_what_is_needed():
    X, y = _data(2)
    mlp = MLPClassifier((4,), max_iter=50, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="method='lissa'"):
        InfluenceSelector(method="exact").fit(mlp, X, y)
    l1 = LogisticRegression(l1_ratio=1.0, solver="liblinear").fit(X, y)
    with pytest.raises(ValueError, match="L1 penalty"):
        InfluenceSelector().fit(l1, X, y)
    weighted = LogisticRegression(class_weight="balanced").fit(X, y)
    with pytest.raises(ValueError, match="class_weight"):
        InfluenceSelector().fit(weighted, X, y)
    with pytest.raises(ValueError, match="n_neighbors or radius"):
        PerceptualSelector(n_neighbors=None).fit(LogisticRegression().fit(X, y), X, y)


def test_parameters_are_validated_in_fit():
    X, y = _data(2)
    model = LogisticRegression().fit(X, y)
    for selector in (
        FullFisherSelector(damping=-1),
        InfluenceSelector(depth=0),
        InfluenceSelector(method="newton"),
        PerceptualSelector(radius=0),
    ):
        with pytest.raises(ValueError):
            selector.fit(model, X, y)


# ---------------------------------------------- no silent garbage (13.6)


def _overflowing(kind):
    """A fitted model whose features square past float64, its data and a query."""
    rng = np.random.RandomState(0)
    if kind == "lr_dual":  # more features than rows: the dual (Gram) path
        X = rng.randn(10, 50) * 1e155
        y = np.arange(10) % 2
        model = LogisticRegression().fit(X, y)
    elif kind == "lr_primal":
        X = rng.randn(40, 3) * 1e155
        y = (X[:, 0] > 0).astype(int)
        model = LogisticRegression().fit(X, y)
    else:  # an MLP trained on huge inputs
        X = rng.randn(40, 3)
        y = (X[:, 0] > 0).astype(int)
        X = X * 1e155
        with np.errstate(all="ignore"):  # its optimizer overflows too
            model = MLPClassifier((5,), max_iter=50, random_state=0).fit(X, y)
    return model, X, y


OVERFLOWING = [
    (kind, selector)
    for kind in ("lr_dual", "lr_primal", "mlp")
    for selector in ("top", "full", "practical", "influence", "nearest", "perceptual")
    # On the saturated MLP the all-parameter Fisher kernels are exactly 0
    # (every candidate's gradient vanishes): a tie, not NaN.
    if not (kind == "mlp" and selector in ("full", "practical"))
    # Practical on the primal LR gives +-inf, refused the same way.
]


@pytest.mark.parametrize("kind,selector", OVERFLOWING)
def test_overflowing_models_are_refused_never_ranked_by_nan(kind, selector):
    model, X, y = _overflowing(kind)
    make = {
        "top": TopFisherSelector,
        "full": FullFisherSelector,
        "practical": PracticalFisherSelector,
        "influence": InfluenceSelector,
        "nearest": NearestNeighborSelector,
        "perceptual": lambda: PerceptualSelector(n_neighbors=3),
    }[selector]
    with (
        np.errstate(all="ignore"),
        pytest.raises(
            ValueError, match=r"(values up to 3e\+155|NaN or infinite).*Scale"
        ),
    ):
        make().fit(model, X, y).select(X[0], 1 - y[0], np.arange(1, len(y)))


@pytest.mark.parametrize("kind", ["lr_dual", "lr_primal"])
@pytest.mark.parametrize(
    "make",
    [
        TopFisherSelector,
        CleaningSelector,
        FullFisherSelector,
        InfluenceSelector,
        PracticalFisherSelector,
        NearestNeighborSelector,
    ],
)
def test_overflow_errors_name_the_inputs_not_a_damping(kind, make):
    # The default CleaningSelector used to fail on a damping of 0.0 that the
    # user never set (its penalty over an infinite eigenvalue).
    model, X, y = _overflowing(kind)
    with np.errstate(all="ignore"), pytest.raises(ValueError) as raised:
        make().fit(model, X, y).select(X[0], 1 - y[0])
    message = str(raised.value)
    assert message.startswith("The features of X have values up to 3e+155 ")
    assert "StandardScaler" in message and "damping" not in message


def test_dual_and_primal_fisher_refuse_overflow_with_the_same_message():
    from sklearn_cincer._core import fisher_math as _fisher

    H = np.full((3, 5), 1e160)
    P = np.full((3, 1), 0.5)
    with np.errstate(all="ignore"):
        with pytest.raises(ValueError) as primal:
            _fisher.factorize(_fisher.fisher_matrix(H, P, "logistic"), 1e-3)
        with pytest.raises(ValueError) as dual:
            _fisher.DualFactor(H, P, "logistic", True, 1e-3)
    assert str(primal.value) == str(dual.value)
    assert "NaN or infinite" in str(dual.value)


def test_select_refuses_nan_and_all_ruled_out_but_not_one_ruled_out():
    class Fixed(RandomSelector):
        def score(self, x, y, candidates=None):
            return np.array(self.scores_)

    X, y = np.zeros((3, 1)), np.array([0, 1, 0])
    selector = Fixed().fit(None, X, y)
    for scores in ([0.1, np.nan, 0.3], [0.1, np.inf, 0.3], [-np.inf] * 3):
        selector.scores_ = scores
        with pytest.raises(ValueError, match="Fixed gave .* of 3 candidates"):
            selector.select(X[0], 0)
    selector.scores_ = [-np.inf, 0.2, -np.inf]  # ruled out, as Perceptual does
    assert selector.select(X[0], 0) == (1, 0.2)
