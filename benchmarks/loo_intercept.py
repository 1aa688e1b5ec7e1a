"""The cleaning selector's leave-one-out probability against exact refits.

Every row of wine (178), breast cancer and digits (300 rows each), unscaled,
20% of the labels flipped, ``LogisticRegression(C=1)`` fit by Newton's
method to ``1e-12`` (lbfgs stops short of the optimum on unscaled features),
refit without each row from the full fit. Reports the error of the one-step
formula with the intercepts damped as the weights (``old``) and left free
as the model leaves them (``new``).

Run::

    OMP_NUM_THREADS=1 python benchmarks/loo_intercept.py 3    # seeds
"""

import sys

import numpy as np
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.linear_model import LogisticRegression

from sklearn_cincer import CleaningSelector
from sklearn_cincer.datasets import make_label_noise
from sklearn_cincer.selectors._cleaning import leave_one_out_probability

NEWTON = {"solver": "newton-cholesky", "tol": 1e-12, "max_iter": 1000}


def exact(model, X, y):
    """``P(y_i | x_i)`` of the model refit without each row, from its solution."""
    out = []
    for i in range(len(y)):
        m = clone(model).set_params(warm_start=True)
        m.coef_, m.intercept_ = model.coef_.copy(), model.intercept_.copy()
        m.fit(np.delete(X, i, 0), np.delete(y, i))
        out.append(m.predict_proba(X[i : i + 1])[0, np.searchsorted(m.classes_, y[i])])
    return np.array(out)


def run(name, X, y, seed, n):
    order = np.random.RandomState(seed).permutation(len(y))[:n]
    X, y = X[order], y[order]
    y, _ = make_label_noise(y, 0.2, random_state=seed)
    model = LogisticRegression(**NEWTON).fit(X, y)
    selector = CleaningSelector().fit(model, X, y)
    truth = exact(model, X, y)
    fisher = selector.fisher_
    old = leave_one_out_probability(
        fisher.view_, fisher.factor_, X, fisher.view_.encode(y), len(y)
    )
    for label, q in (("old", old), ("new", selector.leave_one_out_probability())):
        e = np.abs(q - truth)
        print(
            f"{name:<7} n={n} seed={seed} {label}: max {e.max():.4f} mean "
            f"{e.mean():.5f} rows off by >0.005 {np.mean(e > 0.005):.1%}",
            flush=True,
        )


def main(n_seeds=3):
    for seed in range(n_seeds):
        run("wine", *load_wine(return_X_y=True), seed, 178)
        run("breast", *load_breast_cancer(return_X_y=True), seed, 300)
        run("digits", *load_digits(return_X_y=True), seed, 300)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
