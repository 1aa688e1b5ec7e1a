"""Why Eq. 14's counter-example is rarely mislabeled when N << P: a measurement.

Logistic regression (scikit-learn, ``C=1``) on 200 MNIST digits with 20%
uniform label noise, on raw pixels (P = 7,850 weights, N << P) and on the
first 10, 30 and 100 principal components (P = 110 to 1,010, N >> P or
comparable). For every clean test digit the model misclassifies (a
suspicious example, annotated with its true label), the candidates are the
training examples labeled as the prediction. Per question it records the
Spearman correlation between the candidate's score and its residual
``|t(y_k) - p_k|`` (how badly the model fits it), and whether the top
candidate is mislabeled, for

- Eq. 14 with the exact Fisher and Top Fisher's default damping (1e-3 of
  the mean eigenvalue);
- Eq. 14 with the damping equal to the model's own L2 penalty ``1/(C n)``
  (then ``F + lambda I`` is the model's Hessian: the leave-one-out-faithful
  influence);
- the identity in place of ``F`` (Practical Fisher on the last layer);
- :class:`~sklearn_cincer.CleaningSelector` (the supporter with the lowest
  leave-one-out probability of its own label);
- a random candidate ("chance": the fraction of mislabeled candidates).

It prints one table (means over questions and 3 repeats).

Run::

    OMP_NUM_THREADS=1 python benchmarks/cleaning_mechanism.py
"""

import argparse

import numpy as np
from scipy.stats import spearmanr
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from sklearn_cincer import CleaningSelector, TopFisherSelector
from sklearn_cincer._core import fisher_math as _fisher
from sklearn_cincer.benchmark import make_stream, repeat_seed
from sklearn_cincer.datasets import load_dataset
from sklearn_cincer.selectors._base import as_row


def identity_scores(selector, x, y, candidates, H, R):
    """Eq. 14 with ``F = I`` on the last layer: ``-g_t^T g_k``."""
    view = selector.view_
    h = view.features(as_row(x))
    g = _fisher.gradients(
        h, view.outputs(h), view.encode([y]), view.link, view.fit_intercept
    ).reshape(view.n_outputs, -1)
    return _fisher.kernel_scores(g, H[candidates], R[candidates], view.fit_intercept)


def measure(X_train, y_noisy, noisy, X_test, y_test, max_questions):
    model = LogisticRegression(max_iter=2000).fit(X_train, y_noisy)
    cleaning = CleaningSelector().fit(model, X_train, y_noisy)
    selectors = {
        "eq14, damping 1e-3": TopFisherSelector().fit(model, X_train, y_noisy),
        "eq14, model's penalty": cleaning.fisher_,
    }
    view = cleaning.fisher_.view_
    H = view.features(X_train)
    R = _fisher.residuals(view.outputs(H), view.encode(y_noisy), view.link)
    resid = np.linalg.norm(R, axis=1)
    pred = model.predict(X_test)
    names = list(selectors) + ["identity", "cleaning"]
    rows = {name: ([], []) for name in names + ["chance"]}
    for t in np.flatnonzero(pred != y_test)[:max_questions]:
        candidates = np.flatnonzero(y_noisy == pred[t])
        if candidates.size < 3:
            continue
        scores = {
            name: s.score(X_test[t], y_test[t], candidates)
            for name, s in selectors.items()
        }
        scores["identity"] = identity_scores(
            cleaning.fisher_, X_test[t], y_test[t], candidates, H, R
        )
        scores["cleaning"] = cleaning.score(X_test[t], y_test[t], candidates)
        for name, s in scores.items():
            rows[name][0].append(spearmanr(s, resid[candidates])[0])
            rows[name][1].append(noisy[candidates[np.argmax(s)]])
        # a random candidate: the fraction of mislabeled ones
        rows["chance"][0].append(np.nan)
        rows["chance"][1].append(noisy[candidates].mean())
    return {
        name: (np.nanmean(r) if name != "chance" else np.nan, np.mean(h), len(h))
        for name, (r, h) in rows.items()
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-train", type=int, default=200)
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--data-home", default=None)
    args = parser.parse_args(argv)
    data = load_dataset("mnist", data_home=args.data_home, random_state=0)
    test = np.random.RandomState(0).permutation(len(data.y_test))[:1000]
    X_test, y_test = data.X_test[test], data.y_test[test]
    print(
        f"{'features':>10} {'P':>6} {'N/P':>6} {'selector':>22} "
        f"{'Spearman(score, residual)':>26} {'top is mislabeled':>18}"
    )
    for dims in (None, 100, 30, 10):
        results = []
        for r in range(args.repeats):
            s = make_stream(
                data.X_train,
                data.y_train,
                n_bootstrap=args.n_train,
                n_rounds=0,
                random_state=repeat_seed(0, r),
            )
            Xtr, Xte = s.X, X_test
            if dims is not None:
                pca = PCA(dims, random_state=0).fit(data.X_train)
                Xtr, Xte = pca.transform(s.X), pca.transform(X_test)
            results.append(
                measure(Xtr, s.y_noisy, s.is_noisy, Xte, y_test, args.questions)
            )
        P = 10 * ((dims or data.X_train.shape[1]) + 1)
        for name in results[0]:
            rho = np.mean([res[name][0] for res in results])
            top = sum(res[name][1] * res[name][2] for res in results) / sum(
                res[name][2] for res in results
            )
            print(
                f"{dims or 'pixels':>10} {P:>6} {args.n_train / P:>6.2f} "
                f"{name:>22} {rho:>+26.3f} {top:>18.3f}",
                flush=True,
            )


if __name__ == "__main__":
    with threadpool_limits(1):
        main()
