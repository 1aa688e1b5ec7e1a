"""Selectors against the truth: leave-one-out retraining on small convex problems.

For logistic regression the change in ``P(y_t | x_t)`` caused by removing a
training example (the paper's Eq. 2) can be computed exactly by refitting
without it. Every candidate is removed in turn, the model refit to a tight
tolerance, and the true changes compared with the selectors' scores for many
suspicious examples (held-out points annotated with a label other than the
prediction).
"""

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from sklearn_cincer import FullFisherSelector, InfluenceSelector, TopFisherSelector
from sklearn_cincer.selectors import lissa

N_TRAIN = 150
N_QUERIES = 30

PROBLEMS = {
    # name: (n_classes, estimator)
    "binary": (
        2,
        LogisticRegression(C=1.0, tol=1e-12, max_iter=1000, solver="newton-cholesky"),
    ),
    "multinomial": (
        3,
        LogisticRegression(C=1.0, tol=1e-12, max_iter=1000, solver="newton-cholesky"),
    ),
    # liblinear penalizes the intercept (as a feature of value intercept_scaling).
    "binary-liblinear": (
        2,
        LogisticRegression(
            C=0.5, tol=1e-12, max_iter=10000, solver="liblinear", intercept_scaling=2.0
        ),
    ),
    "multinomial-no-intercept": (
        3,
        LogisticRegression(
            C=2.0,
            tol=1e-12,
            max_iter=1000,
            solver="newton-cholesky",
            fit_intercept=False,
        ),
    ),
}


def _problem(name):
    n_classes, estimator = PROBLEMS[name]
    X, y = make_classification(
        N_TRAIN + N_QUERIES,
        6,
        n_informative=4,
        n_redundant=0,
        n_classes=n_classes,
        flip_y=0.1,
        random_state=0,
    )
    X = StandardScaler().fit_transform(X)
    X_train, y_train, X_query = X[:N_TRAIN], y[:N_TRAIN], X[N_TRAIN:]
    model = clone(estimator).fit(X_train, y_train)
    proba = model.predict_proba(X_query)
    # Suspicious label: the most probable label other than the prediction.
    others = proba.copy()
    others[np.arange(N_QUERIES), proba.argmax(axis=1)] = -1
    y_query = model.classes_[others.argmax(axis=1)]
    rows = np.arange(N_QUERIES)
    columns = np.searchsorted(model.classes_, y_query)
    before = proba[rows, columns]
    delta = np.empty((N_QUERIES, N_TRAIN))
    for k in range(N_TRAIN):  # Eq. 2: refit without each candidate
        keep = np.arange(N_TRAIN) != k
        refit = clone(estimator).fit(X_train[keep], y_train[keep])
        delta[:, k] = refit.predict_proba(X_query)[rows, columns] - before
    return model, X_train, y_train, X_query, y_query, delta


_CACHE = {}


@pytest.fixture(params=sorted(PROBLEMS))
def problem(request):
    if request.param not in _CACHE:
        _CACHE[request.param] = _problem(request.param)
    return _CACHE[request.param]


def _agreement(scores, delta):
    """Mean Spearman, top-1 agreement and top-1-in-true-top-3 rates."""
    rho, top1, top3 = [], [], []
    for s, d in zip(scores, delta):
        rho.append(spearmanr(s, d).statistic)
        best = np.argmax(s)
        top1.append(best == np.argmax(d))
        top3.append(best in np.argsort(-d)[:3])
    return np.mean(rho), np.mean(top1), np.mean(top3)


def _scores(selector, problem):
    model, X_train, y_train, X_query, y_query, _ = problem
    selector.fit(model, X_train, y_train)
    return np.array([selector.score(x, label) for x, label in zip(X_query, y_query)])


def test_exact_influence_matches_leave_one_out(problem):
    delta = problem[-1]
    scores = _scores(InfluenceSelector(method="exact"), problem)
    rho, top1, top3 = _agreement(scores, delta)
    assert rho >= 0.95
    assert top1 >= 0.8
    assert top3 >= 0.95
    # The score is the first-order change in log P(y_t | x_t):
    # times P(y_t | x_t) it is the change in probability itself.
    model, _, _, X_query, y_query, _ = problem
    p = model.predict_proba(X_query)[
        np.arange(N_QUERIES), np.searchsorted(model.classes_, y_query)
    ]
    approx = scores * p[:, None]
    assert np.abs(approx - delta).max() <= 0.2 * np.abs(delta).max()
    # A sign error would be caught: the opposite sign fails every bound.
    rho, top1, top3 = _agreement(-scores, delta)
    assert rho < 0.95 and top1 < 0.8 and top3 < 0.95


@pytest.mark.parametrize("selector", [TopFisherSelector(), FullFisherSelector()])
def test_fisher_selectors_match_leave_one_out(problem, selector):
    delta = problem[-1]
    scores = _scores(selector, problem)
    rho, top1, top3 = _agreement(scores, delta)
    assert rho >= 0.9
    rho, _, _ = _agreement(-scores, delta)
    assert rho < 0.9


def test_lissa_converges_to_the_exact_inverse_hvp(problem):
    model, X_train, y_train, X_query, y_query, _ = problem
    exact = InfluenceSelector(method="exact").fit(model, X_train, y_train)
    approx = InfluenceSelector(method="lissa", damping=0.0, depth=2000).fit(
        model, X_train, y_train
    )
    (G,) = exact.view_.gradients(X_query[:2], y_query[:2], batch_size=2)
    for g in G:
        want = exact.inverse_hvp(g)
        got = approx.inverse_hvp(g)
        assert np.linalg.norm(got - want) < 1e-3 * np.linalg.norm(want)
    # Too shallow a recursion has not converged yet: the depth matters.
    shallow = InfluenceSelector(method="lissa", damping=0.0, depth=5).fit(
        model, X_train, y_train
    )
    assert np.linalg.norm(shallow.inverse_hvp(G[0]) - exact.inverse_hvp(G[0])) > (
        1e-2 * np.linalg.norm(exact.inverse_hvp(G[0]))
    )


def test_lissa_function_with_damping():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(6, 6))
    A = A @ A.T
    v = rng.normal(size=6)
    scale = np.linalg.eigvalsh(A).max() * 1.1 + 0.5
    got = lissa(lambda u, j: A @ u, v, damping=0.5, scale=scale, depth=3000)
    want = np.linalg.solve(A + 0.5 * np.eye(6), v)
    assert np.allclose(got, want, rtol=1e-6)


if __name__ == "__main__":
    # The numbers behind the assertions:  python tests/test_ground_truth.py
    from sklearn_cincer import PracticalFisherSelector

    for name in sorted(PROBLEMS):
        problem_ = _problem(name)
        for label, selector in [
            ("influence exact", InfluenceSelector(method="exact")),
            (
                "influence LiSSA",
                InfluenceSelector(method="lissa", damping=0.0, depth=2000),
            ),
            ("top Fisher", TopFisherSelector()),
            ("full Fisher", FullFisherSelector()),
            ("practical Fisher", PracticalFisherSelector()),
        ]:
            scores = _scores(selector, problem_)
            rho, top1, top3 = _agreement(scores, problem_[-1])
            neg = _agreement(-scores, problem_[-1])
            print(
                f"{name:26s} {label:17s} Spearman {rho:.4f} top1 {top1:.2f} "
                f"top3 {top3:.2f} | opposite sign: {neg[0]:.3f} {neg[1]:.2f} "
                f"{neg[2]:.2f}"
            )
