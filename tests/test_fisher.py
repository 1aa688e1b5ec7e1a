"""Math checks: gradients, Fisher matrices, Hessians and the Fisher kernel."""

import copy

import numpy as np
import pytest
from scipy.special import expit, softmax
from scipy.stats import spearmanr
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_cincer import TopFisherSelector
from sklearn_cincer._core import fisher_math as _fisher
from sklearn_cincer._core.parameter_views import parameter_view

RNG = np.random.default_rng(0)
SGD = SGDClassifier(loss="log_loss", alpha=1e-2, random_state=0)


def _data(n_classes, n=80, d=5, seed=0):
    X, y = make_classification(
        n, d, n_informative=4, n_redundant=0, n_classes=n_classes, random_state=seed
    )
    return StandardScaler().fit_transform(X), y


def _linear_models():
    X2, y2 = _data(2)
    X3, y3 = _data(3)
    return [
        ("lr-binary", LogisticRegression().fit(X2, y2), X2, y2),
        ("lr-multinomial", LogisticRegression().fit(X3, y3), X3, y3),
        (
            "lr-no-intercept",
            LogisticRegression(fit_intercept=False).fit(X3, y3),
            X3,
            y3,
        ),
        ("sgd-binary", clone(SGD).fit(X2, y2), X2, y2),
        ("sgd-ovr", clone(SGD).fit(X3, y3), X3, y3),
    ]


def _mlps():
    X2, y2 = _data(2)
    X3, y3 = _data(3)
    out = []
    for activation, (X, y) in [
        ("relu", (X3, y3)),
        ("tanh", (X2, y2)),
        ("logistic", (X3, y3)),
        ("identity", (X2, y2)),
    ]:
        # Few iterations: a ReLU network trained to convergence tends to sit
        # on a kink (a pre-activation exactly 0), where it has no Hessian.
        model = MLPClassifier(
            (6, 4),
            activation=activation,
            solver="lbfgs",
            alpha=1e-2,
            max_iter=40,
            random_state=0,
        ).fit(X, y)
        out.append((f"mlp-{activation}", model, X, y))
    return out


MODELS = _linear_models() + _mlps()
IDS = [m[0] for m in MODELS]


def _set_parameters(model, theta):
    """A copy of ``model`` with the view's flat parameters ``theta``."""
    model = copy.deepcopy(model)
    view = parameter_view(model)
    if isinstance(model, MLPClassifier):
        for layer, (W, b) in enumerate(view._unflatten(theta)):
            model.coefs_[layer] = W.copy()
            model.intercepts_[layer] = b.copy()
        return model
    k, m = view._shape
    T = theta.reshape(k, m)
    if view.fit_intercept:
        model.coef_, model.intercept_ = T[:, :-1].copy(), T[:, -1].copy()
    else:
        model.coef_ = T.copy()
    return model


def _log_likelihood(model, X, y):
    """``log P(y|x)`` by scikit-learn's own forward pass (not ours)."""
    if isinstance(model, SGDClassifier) and len(model.classes_) > 2:
        # One-vs-rest: each unit is its own Bernoulli model.
        Z = model.decision_function(X)
        T = (y[:, None] == model.classes_).astype(float)
        # log sigmoid(z) = -log(1 + exp(-z)), computed without overflow.
        return -np.sum(T * np.logaddexp(0, -Z) + (1 - T) * np.logaddexp(0, Z), axis=1)
    if isinstance(model, SGDClassifier):
        z = model.decision_function(X)
        positive = y == model.classes_[1]
        return -np.where(positive, np.logaddexp(0, -z), np.logaddexp(0, z))
    P = model.predict_proba(X)
    return np.log(P[np.arange(len(y)), np.searchsorted(model.classes_, y)])


def _objective(model, X, y):
    """The estimator's training objective (mean form), from its own forward pass."""
    n = X.shape[0]
    loss = -np.mean(_log_likelihood(model, X, y))
    if isinstance(model, MLPClassifier):
        return loss + model.alpha / (2 * n) * sum(np.sum(W**2) for W in model.coefs_)
    if isinstance(model, SGDClassifier):
        return loss + model.alpha / 2 * np.sum(model.coef_**2)
    penalty = 0.5 * np.sum(model.coef_**2)
    if model.solver == "liblinear" and model.fit_intercept:
        penalty += 0.5 * np.sum((model.intercept_ / model.intercept_scaling) ** 2)
    return loss + penalty / (model.C * n)


@pytest.mark.parametrize("name, model, X, y", MODELS, ids=IDS)
def test_gradients_equal_finite_differences(name, model, X, y):
    view = parameter_view(model)
    theta = view.parameters()
    rows = slice(0, 6)
    (G,) = view.gradients(X[rows], y[rows], batch_size=6)
    eps = 1e-6
    numeric = np.empty_like(G)
    for j in range(theta.size):
        e = np.zeros_like(theta)
        e[j] = eps
        plus = _log_likelihood(_set_parameters(model, theta + e), X[rows], y[rows])
        minus = _log_likelihood(_set_parameters(model, theta - e), X[rows], y[rows])
        numeric[:, j] = (plus - minus) / (2 * eps)
    assert np.allclose(G, numeric, atol=1e-6, rtol=1e-5)
    # Batching does not change anything, nor does gradient_dot.
    stacked = np.vstack(list(view.gradients(X, y, batch_size=7)))
    assert np.allclose(stacked[rows], G)
    v = RNG.normal(size=theta.size)
    assert np.allclose(view.gradient_dot(X, y, v, batch_size=9), stacked @ v)


@pytest.mark.parametrize("name, model, X, y", MODELS, ids=IDS)
def test_hvp_equals_second_differences_of_the_objective(name, model, X, y):
    """The Hessian includes the estimator's own regularization and intercept."""
    view = parameter_view(model)
    theta = view.parameters()
    u = RNG.normal(size=theta.size)
    u /= np.linalg.norm(u)
    eps = 1e-4
    f = [
        _objective(_set_parameters(model, theta + s * eps * u), X, y)
        for s in (-1, 0, 1)
    ]
    curvature = (f[0] - 2 * f[1] + f[2]) / eps**2
    Hu = view.hvp(X, y, u)
    assert u @ Hu == pytest.approx(curvature, rel=1e-4, abs=1e-6)
    # Symmetric, and equal to the closed form where there is one.
    w = RNG.normal(size=theta.size)
    assert w @ Hu == pytest.approx(u @ view.hvp(X, y, w), rel=1e-5, abs=1e-8)
    if view.has_exact_hessian:
        assert np.allclose(view.hessian(X, y) @ u, Hu)
    # A mini-batch gets the regularization of the whole set.
    assert np.allclose(
        view.hvp(X[:10], y[:10], u, n_samples=len(X)) * 10
        + view.hvp(X[10:], y[10:], u, n_samples=len(X)) * (len(X) - 10),
        Hu * len(X),
    )


@pytest.mark.parametrize(
    "model",
    [
        LogisticRegression(C=0.3, tol=1e-12, solver="lbfgs", max_iter=1000),
        LogisticRegression(C=0.3, tol=1e-12, solver="liblinear", intercept_scaling=3.0),
        LogisticRegression(C=0.3, tol=1e-12, solver="newton-cholesky"),
        LogisticRegression(C=0.3, tol=1e-12, solver="lbfgs", fit_intercept=False),
    ],
    ids=["lbfgs", "liblinear", "newton-multinomial", "no-intercept"],
)
def test_objective_gradient_vanishes_at_the_fitted_model(model):
    """Our objective is the estimator's: its gradient is zero at the solution."""
    n_classes = 3 if "newton" in str(model) or not model.fit_intercept else 2
    X, y = _data(n_classes)
    model.fit(X, y)
    view = parameter_view(model)
    gradient = -np.vstack(list(view.gradients(X, y))).mean(axis=0)
    gradient += view._regularization(len(X)) * view.parameters()
    assert np.abs(gradient).max() < 1e-6


@pytest.mark.parametrize("name, model, X, y", MODELS[5:], ids=IDS[5:])
def test_mlp_objective_gradient_equals_finite_differences(name, model, X, y):
    view = parameter_view(model)
    theta = view.parameters()
    for Z in view._forward(X, theta)[2]:  # no ReLU kink within the steps
        assert np.abs(Z).min() > 1e-4
    u = RNG.normal(size=theta.size)
    eps = 1e-6
    f = [_objective(_set_parameters(model, theta + s * eps * u), X, y) for s in (-1, 1)]
    assert view.objective_gradient(X, y) @ u == pytest.approx(
        (f[1] - f[0]) / (2 * eps), rel=1e-5, abs=1e-8
    )


def _explicit_fisher(H, P, link, fit_intercept):
    """``1/n sum_i sum_outcomes P(outcome) g g^T``: the definition, with loops."""
    n, k = P.shape
    Ht = np.hstack([H, np.ones((n, 1))]) if fit_intercept else H
    F = 0
    for i in range(n):
        if link == "softmax":
            outcomes = [(P[i, a], np.eye(k)[a] - P[i]) for a in range(k)]
        elif link == "logistic":
            outcomes = [(P[i, 0], 1 - P[i]), (1 - P[i, 0], -P[i])]
        else:  # ovr: each unit's two outcomes, independent units
            outcomes = []
            for a in range(k):
                for t, prob in ((1.0, P[i, a]), (0.0, 1 - P[i, a])):
                    r = np.zeros(k)
                    r[a] = t - P[i, a]
                    outcomes.append((prob, r))
        for prob, r in outcomes:
            g = np.outer(r, Ht[i]).ravel()
            F = F + prob * np.outer(g, g)
    return F / n


@pytest.mark.parametrize("link, k", [("softmax", 4), ("logistic", 1), ("ovr", 3)])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_structured_fisher_equals_explicit_sum(link, k, fit_intercept, monkeypatch):
    n, d = 30, 4
    H = RNG.normal(size=(n, d))
    Z = RNG.normal(size=(n, k))
    P = softmax(Z, axis=1) if link == "softmax" else expit(Z)
    want = _explicit_fisher(H, P, link, fit_intercept)
    # Small batches, so that the batch boundaries are exercised.
    monkeypatch.setattr(_fisher, "_FISHER_BATCH_BYTES", 8 * 7 * k * (d + 1))
    assert np.allclose(_fisher.fisher_matrix(H, P, link, fit_intercept), want)


@pytest.mark.parametrize("name, model, X, y", MODELS, ids=IDS)
def test_full_fisher_of_the_view_equals_explicit_sum(name, model, X, y):
    view = parameter_view(model)
    X, y = X[:25], y[:25]
    F = view.fisher(X, batch_size=7)
    P = view.predict_proba(X)
    want = 0
    for a, label in enumerate(view.classes):
        if getattr(view, "link", None) == "ovr":
            break
        (G,) = view.gradients(X, np.full(len(X), label), batch_size=len(X))
        want = want + (G * P[:, a : a + 1]).T @ G
    if getattr(view, "link", None) == "ovr":
        H = X
        want = _explicit_fisher(H, view.view.outputs(H), "ovr", True) * len(X)
    assert np.allclose(F, want / len(X))


def test_mlp_last_layer_block_of_full_fisher_is_the_top_fisher():
    """Two code paths: all-parameter backprop and the structured last layer."""
    X, y = _data(3)
    model = MLPClassifier((6,), max_iter=500, random_state=0).fit(X, y)
    view = parameter_view(model)
    F = view.fisher(X, batch_size=16)
    n_in, k = model.coefs_[-1].shape
    # Last layer: coefs_[-1] (n_in x k, row-major) then intercepts_[-1].
    start = view.n_params - n_in * k - k
    weight = start + np.arange(n_in * k).reshape(n_in, k)
    bias = start + n_in * k + np.arange(k)
    order = np.hstack([weight.T, bias[:, None]]).ravel()  # (k, n_in + 1) rows
    top = TopFisherSelector().fit(model, X, y)
    want = top._fisher_sum / len(X)
    assert np.allclose(F[np.ix_(order, order)], want)


def test_one_logit_and_two_logit_models_rank_alike():
    """The Fisher kernel is invariant to reparameterization."""
    X, y = _data(2, n=120)
    model = LogisticRegression().fit(X, y)
    w, b = model.coef_[0], model.intercept_[0]
    x_t, y_t = X[0], 1 - model.predict(X[:1])[0]
    # One logit: P(y=1) = sigmoid(w.x + b).
    one = TopFisherSelector(damping=1e-9).fit(model, X, y).score(x_t, y_t)
    # Two logits: softmax over (0, w.x + b), the same probabilities.
    Z = np.column_stack([np.zeros(len(X)), X @ w + b])
    P = softmax(Z, axis=1)
    F = _fisher.fisher_matrix(X, P, "softmax")
    factor = _fisher.factorize(F, 1e-9)
    g = _fisher.gradients(X[:1], P[:1], [y_t], "softmax")
    V = _fisher.solve(factor, g.reshape(2, -1))
    two = _fisher.kernel_scores(V, X, _fisher.residuals(P, y, "softmax"))
    assert spearmanr(one, two).statistic > 0.999
    assert np.argmax(one) == np.argmax(two)
    assert np.allclose(one, two, rtol=1e-4, atol=1e-6 * np.abs(one).max())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_kernel_scores_equal_explicit_gradient_products(
    dtype, fit_intercept, monkeypatch
):
    monkeypatch.setattr(_fisher, "_SCORE_BLOCK_ROWS", 7)
    n, d, k = 50, 6, 3
    H = RNG.normal(size=(n, d))
    P = softmax(RNG.normal(size=(n, k)), axis=1)
    y = RNG.integers(0, k, size=n)
    V = RNG.normal(size=(k, d + fit_intercept))
    G = _fisher.gradients(H, P, y, "softmax", fit_intercept)
    want = -G @ V.ravel()
    got = _fisher.kernel_scores(
        V, H.astype(dtype), _fisher.residuals(P, y, "softmax"), fit_intercept
    )
    assert got.dtype == dtype
    tol = 1e-10 if dtype == np.float64 else 1e-4
    assert np.allclose(got, want, rtol=tol, atol=tol)
    rows = RNG.permutation(n)[:20]
    R = _fisher.residuals(P, y, "softmax")
    subset = _fisher.kernel_scores(V, H.astype(dtype), R, fit_intercept, rows=rows)
    assert np.allclose(subset, want[rows], rtol=tol, atol=tol)


def test_damping_is_relative_to_the_mean_eigenvalue():
    H = RNG.normal(size=(40, 3))
    P = softmax(RNG.normal(size=(40, 3)), axis=1)
    F = _fisher.fisher_matrix(H, P, "softmax")
    for scale in (1e-3, 1.0, 1e3):
        Fs = _fisher.fisher_matrix(H * scale, P, "softmax", fit_intercept=False)
        D = _fisher.damp(Fs, 0.1)
        added = np.diag(D - Fs)
        assert np.allclose(added, 0.1 * np.trace(Fs) / Fs.shape[0])
    # Singular F (softmax shift): damped, it has a Cholesky factor.
    assert np.linalg.matrix_rank(F) < F.shape[0]
    _fisher.factorize(F, 1e-3)


def test_top_fisher_update_equals_fit():
    X, y = _data(3, n=120)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X[:80], y[:80])
    first = TopFisherSelector().fit(model, X[:80], y[:80])
    y_new = y.copy()
    y_new[[3, 10]] = (y_new[[3, 10]] + 1) % 3  # relabeled rows
    updated = first.update(model, X, y_new)  # 40 rows added
    fresh = TopFisherSelector().fit(model, X, y_new)
    assert updated.n_train_ == 120
    assert np.allclose(updated._fisher_sum, fresh._fisher_sum)
    assert np.allclose(updated.factor_[0], fresh.factor_[0])
    assert np.allclose(updated.score(X[5], 0), fresh.score(X[5], 0))
    # A changed model or changed rows fall back to a full fit.
    other = make_pipeline(StandardScaler(), LogisticRegression(C=0.1)).fit(X, y)
    again = TopFisherSelector().fit(model, X, y).update(other, X, y)
    want = TopFisherSelector().fit(other, X, y).score(X[5], 0)
    assert np.allclose(again.score(X[5], 0), want)
    X_changed = X.copy()
    X_changed[0] += 1
    again = TopFisherSelector().fit(model, X, y).update(model, X_changed, y)
    want = TopFisherSelector().fit(model, X_changed, y).score(X[5], 0)
    assert np.allclose(again.score(X[5], 0), want)


@pytest.mark.parametrize("link, k", [("softmax", 4), ("logistic", 1), ("ovr", 3)])
def test_dual_solve_equals_the_primal_one(link, k):
    """Woodbury through the (n k) Gram matrix: the same solve, F never formed."""
    rng = np.random.RandomState(0)
    n, d = 12, 30
    H = rng.randn(n, d)
    if link == "softmax":
        P = rng.dirichlet(np.ones(k), n)
    else:
        P = rng.uniform(0.05, 0.95, (n, k))
    for fit_intercept in (True, False):
        m = d + fit_intercept
        assert _fisher.use_dual(n, k, m)
        F = _fisher.fisher_matrix(H, P, link, fit_intercept)
        primal = _fisher.factorize(F, 1e-3)
        dual = _fisher.DualFactor(H, P, link, fit_intercept, 1e-3)
        g = rng.randn(k, m)
        np.testing.assert_allclose(
            dual.solve(g), _fisher.solve(primal, g), rtol=1e-8, atol=1e-10
        )


def test_top_fisher_on_a_wide_layer_uses_the_dual_form():
    from sklearn.linear_model import LogisticRegression

    from sklearn_cincer import TopFisherSelector

    rng = np.random.RandomState(1)
    X = rng.rand(40, 120)
    y = rng.randint(0, 3, 40)
    model = LogisticRegression(max_iter=2000).fit(X, y)
    selector = TopFisherSelector().fit(model, X, y)
    assert isinstance(selector.factor_, _fisher.DualFactor)
    view = selector.view_
    H, P = view.features(X), view.outputs(view.features(X))
    primal = _fisher.factorize(_fisher.fisher_matrix(H, P, view.link), 1e-3)
    g = _fisher.gradients(X[:1], P[:1], view.encode([2]), view.link).reshape(3, -1)
    np.testing.assert_allclose(
        selector.query_direction(X[0], 2), _fisher.solve(primal, g), rtol=1e-7
    )


# ------------------------------------------ factor layout, structured forms


def _rows(link, k, n=40, d=5, seed=0):
    rng = np.random.RandomState(seed)
    H = rng.randn(n, d)
    if link == "softmax":
        P = rng.dirichlet(np.ones(k), n)
    else:
        P = rng.uniform(0.05, 0.95, (n, k))
    return H, P


def test_cholesky_factor_is_read_in_place():
    """The factor is Fortran-ordered: LAPACK's solve reads it without a copy."""
    H, P = _rows("softmax", 3)
    F = _fisher.fisher_matrix(H, P, "softmax")
    U, lower = _fisher.factorize(F, 1e-3)
    assert not lower and U.flags.f_contiguous
    assert np.allclose(np.triu(U), U)
    g = RNG.normal(size=U.shape[0])
    want = np.linalg.solve(_fisher.damp(F, 1e-3), g)
    assert np.allclose(_fisher.solve((U, lower), g), want)


@pytest.mark.parametrize("link, k", [("softmax", 4), ("logistic", 1), ("ovr", 3)])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_weighted_passes_equal_repeated_rows(link, k, fit_intercept, monkeypatch):
    """Weights count rows: every pass equals the explicit sum over repeated rows."""
    monkeypatch.setattr(_fisher, "_FISHER_BATCH_BYTES", 8 * 7 * k * 6)
    monkeypatch.setattr(_fisher, "_SCORE_BLOCK_ROWS", 7)
    H, P = _rows(link, k)
    w = RNG.integers(0, 3, H.shape[0]).astype(float)
    rep = np.repeat(np.arange(H.shape[0]), w.astype(int))
    Hr, Pr = H[rep], P[rep]
    F = _fisher.fisher_matrix(H, P, link, fit_intercept, weights=w)
    assert np.allclose(F, _explicit_fisher(Hr, Pr, link, fit_intercept))
    Ht = _fisher.with_bias(Hr, fit_intercept)
    assert np.allclose(_fisher.feature_moment(H, fit_intercept, w), Ht.T @ Ht)
    want_G = sum(
        np.diag(p) - np.outer(p, p) if link == "softmax" else np.diag(p * (1 - p))
        for p in Pr
    )
    assert np.allclose(_fisher.output_moment(P, link, w), want_G)
    n = len(rep)
    assert np.isclose(
        _fisher.fisher_trace(H, P, link, fit_intercept, w), n * np.trace(F)
    )
    V = RNG.normal(size=(k, Ht.shape[1]))
    FV = _fisher.fisher_vector_product(H, P, V, link, fit_intercept, w)
    assert np.allclose(FV.ravel(), n * F @ V.ravel())


def test_float32_rows_give_the_fisher_to_float32_precision():
    H, P = _rows("softmax", 4, n=200)
    F64 = _fisher.fisher_matrix(H, P, "softmax")
    F32 = _fisher.fisher_matrix(H.astype(np.float32), P, "softmax")
    assert F32.dtype == np.float64
    assert np.abs(F32 - F64).max() <= 1e-5 * np.abs(F64).max()


@pytest.mark.parametrize("link, k", [("softmax", 4), ("logistic", 1), ("ovr", 3)])
def test_kfac_is_exact_when_every_row_has_the_same_output(link, k):
    """F = mean(Lambda) kron mean(h h^T) when Lambda_i is the same for all rows."""
    H, P = _rows(link, k)
    P[:] = P[0]
    n, m = H.shape[0], H.shape[1] + 1
    F = _fisher.fisher_matrix(H, P, link)
    A = _fisher.feature_moment(H) / n
    G = _fisher.output_moment(P, link) / n
    assert np.allclose(np.kron(G, A), F)
    lam = _fisher.damping_value(np.trace(F), F.shape[0], 1e-3)
    kfac = _fisher.KroneckerFactor.kfac(A, G, lam)
    g = RNG.normal(size=(k, m))
    want = np.linalg.solve(F + lam * np.eye(k * m), g.ravel())
    assert np.allclose(kfac.solve(g).ravel(), want)


@pytest.mark.parametrize("link, k", [("softmax", 4), ("logistic", 1), ("ovr", 3)])
def test_ekfac_eigenvalues_are_the_diagonal_of_f_in_the_kfac_basis(link, k):
    H, P = _rows(link, k)
    n = H.shape[0]
    F = _fisher.fisher_matrix(H, P, link)
    _, QA = np.linalg.eigh(_fisher.feature_moment(H) / n)
    _, QG = np.linalg.eigh(_fisher.output_moment(P, link) / n)
    Q = np.kron(QG, QA)
    S = _fisher.ekfac_eigenvalues(H, P, link, QA, QG) / n
    assert np.allclose(S.ravel(), np.diag(Q.T @ F @ Q))
    assert np.isclose(S.sum(), np.trace(F))
    # And solving with them is solving with that diagonal in that basis.
    lam = 0.01
    factor = _fisher.KroneckerFactor(QG, QA, S, lam)
    g = RNG.normal(size=S.shape)
    want = Q @ ((Q.T @ g.ravel()) / (S.ravel() + lam))
    assert np.allclose(factor.solve(g).ravel(), want)


def test_conjugate_gradients_reach_the_exact_solve():
    H, P = _rows("softmax", 4, n=300)
    n = H.shape[0]
    F = _fisher.fisher_matrix(H, P, "softmax")
    lam = _fisher.damping_value(np.trace(F), F.shape[0], 1e-3)
    pre = _fisher.KroneckerFactor.kfac(
        _fisher.feature_moment(H) / n, _fisher.output_moment(P, "softmax") / n, lam
    )
    g = _fisher.gradients(H[:1], P[:1], [1], "softmax").reshape(4, -1)
    want = np.linalg.solve(F + lam * np.eye(F.shape[0]), g.ravel()).reshape(g.shape)
    for tol in (1e-4, 1e-10):
        cg = _fisher.ConjugateGradientFactor(
            H, P, "softmax", True, None, lam, pre, tol=tol
        )
        v, n_iter, residual = cg.solve_with_info(g)
        assert residual <= tol and 0 < n_iter < 100
        assert np.linalg.norm(v - want) <= 100 * tol * np.linalg.norm(want)
    # Too few iterations: a warning says so, with the residual reached.
    cg = _fisher.ConjugateGradientFactor(
        H, P, "softmax", True, None, lam, pre, tol=1e-12, max_iter=1
    )
    with pytest.warns(Warning, match="stopped at the relative residual"):
        cg.solve(g)


def test_solve_accepts_every_form():
    H, P = _rows("softmax", 3, n=10, d=20)  # wide: the dual form applies
    g = RNG.normal(size=(3, 21))
    F = _fisher.fisher_matrix(H, P, "softmax")
    want = _fisher.solve(_fisher.factorize(F, 1e-3), g)
    dual = _fisher.DualFactor(H, P, "softmax", True, 1e-3)
    assert np.allclose(_fisher.solve(dual, g), want)
    assert np.allclose(_fisher.solve(dual, g.ravel()), want.ravel())
    # The dual's lower factor is still there for code that reads it.
    assert np.allclose(dual.L @ dual.L.T, dual.factor[0].T @ dual.factor[0])


def test_kronecker_solve_of_a_rank_one_gradient():
    H, P = _rows("softmax", 4)
    n = H.shape[0]
    factor = _fisher.KroneckerFactor.kfac(
        _fisher.feature_moment(H) / n, _fisher.output_moment(P, "softmax") / n, 0.01
    )
    r, h = RNG.normal(size=4), RNG.normal(size=H.shape[1])
    for bias in (True, False):
        ht = np.append(h, 1.0) if bias else h
        if not bias:
            factor = _fisher.KroneckerFactor.kfac(
                _fisher.feature_moment(H, False) / n,
                _fisher.output_moment(P, "softmax") / n,
                0.01,
            )
        want = factor.solve(np.outer(r, ht))
        assert np.allclose(factor.solve_outer(r, h, bias), want)
