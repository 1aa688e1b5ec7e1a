"""Counter-example precision of the selectors (the paper's Q2, Pr@k).

The setting of the paper's precision study (``cepr=1`` in the authors' code):
the training set carries 20% uniform label noise, the incoming examples are
clean and the model is never retrained, so every disagreement between the
model's prediction and the (correct) annotation triggers one search for a
counter-example among the training examples labeled as the prediction. For
each selector, Pr@k is the fraction of mislabeled examples among its k
highest scored candidates, pooled over all queries of all repeats (mean and
standard error, as the paper's plots). Chance is the fraction of mislabeled
examples among the candidates, averaged over the same queries: what a
random ranking gets on average.

Differences with the paper's runs: scikit-learn's breast cancer and digits
data (not the paper's adult/MNIST/20NG), ``LogisticRegression`` and an
``MLPClassifier`` with one hidden layer of 32 ReLU units (the paper's
"fullnet" size), standardized features, a training set of fixed size (the
paper adds the clean incoming examples to it as the stream goes), and our
selectors: Eq. 14's sign and the exact Fisher over the whole training set
with a small damping, where the authors' code ranks by the opposite sign
and estimates ``F`` from 30 random examples with a pseudo-inverse. The rows
"..., opposite sign" show what that sign does, and "TopFisher as the
authors' code" reproduces their estimate of ``F`` and their sign (the
package's :class:`~sklearn_cincer.benchmark.AuthorsTopFisherSelector`, in
float64).

Run::

    .venv/bin/python benchmarks/precision_study.py              # full study
    .venv/bin/python benchmarks/precision_study.py --repeats 1  # quicker
"""

import argparse
import time

import numpy as np
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sklearn_cincer import (
    FullFisherSelector,
    InfluenceSelector,
    NearestNeighborSelector,
    PerceptualSelector,
    PracticalFisherSelector,
    RandomSelector,
    TopFisherSelector,
)
from sklearn_cincer.benchmark import AuthorsTopFisherSelector

DATASETS = {
    # name: (loader, training set size)
    "breast": (load_breast_cancer, 300),
    "digits": (load_digits, 600),
}

MODELS = {
    "LR": LogisticRegression(max_iter=2000),
    "MLP": MLPClassifier((32,), max_iter=500, random_state=0),
}


def selectors(model_name, seed):
    influence = (
        InfluenceSelector(method="exact")
        if model_name == "LR"
        else InfluenceSelector(
            method="lissa", batch_size=64, depth=300, random_state=seed
        )
    )
    return {
        "TopFisher": TopFisherSelector(),
        "TopFisher as the authors' code (30-sample F, pinv, opposite sign)": AuthorsTopFisherSelector(
            precision="float64", random_state=seed
        ),
        "FullFisher": FullFisherSelector(),
        "PracticalFisher": PracticalFisherSelector(),
        "Influence": influence,
        "Perceptual(TopFisher, k=20)": PerceptualSelector(n_neighbors=20),
        "1-NN": NearestNeighborSelector(),
        "Random": RandomSelector(random_state=seed),
    }


def noisy_labels(y, rate, rng):
    """Uniform noise: a ``rate`` fraction of labels changed to another class."""
    classes = np.unique(y)
    noisy = y.copy()
    flip = rng.permutation(len(y))[: int(round(rate * len(y)))]
    for i in flip:
        noisy[i] = rng.choice(classes[classes != y[i]])
    return noisy


def precision_at(scores, is_noisy, k):
    """Fraction of noisy among the ``k`` highest scores (ties: first first)."""
    order = np.argsort(-scores, kind="stable")[:k]
    return float(np.mean(is_noisy[order]))


def run(dataset, model_name, repeats, noise, ks):
    loader, n_train = DATASETS[dataset]
    X, y = loader(return_X_y=True)
    results = {}
    chance = []
    n_queries = 0
    for seed in range(repeats):
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(y))
        train, stream = order[:n_train], order[n_train:]
        scaler = StandardScaler().fit(X[train])
        X_train, X_stream = scaler.transform(X[train]), scaler.transform(X[stream])
        y_train = noisy_labels(y[train], noise, rng)
        is_noisy = y_train != y[train]
        model = clone(MODELS[model_name]).set_params(random_state=seed)
        model.fit(X_train, y_train)
        fitted = {}
        for name, selector in selectors(model_name, seed).items():
            start = time.perf_counter()
            fitted[name] = selector.fit(model, X_train, y_train)
            fitted[name]._fit_seconds = time.perf_counter() - start
        predictions = model.predict(X_stream)
        for x, label, prediction in zip(X_stream, y[stream], predictions):
            if prediction == label:
                continue  # compatible: no query
            candidates = np.flatnonzero(y_train == prediction)
            if candidates.size == 0:
                continue
            n_queries += 1
            chance.append(np.mean(is_noisy[candidates]))
            for name, selector in fitted.items():
                scores = selector.score(x, label, candidates)
                variants = {name: scores}
                if name in ("TopFisher", "PracticalFisher"):
                    variants[f"{name}, opposite sign"] = -scores
                for variant, s in variants.items():
                    row = results.setdefault(variant, {k: [] for k in ks})
                    for k in ks:
                        row[k].append(precision_at(s, is_noisy[candidates], k))
    return n_queries, np.mean(chance) if chance else float("nan"), results


def _cell(values):
    values = np.asarray(values)
    if values.size == 0:
        return "-"
    return f"{values.mean():.3f} ± {values.std() / np.sqrt(values.size):.3f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--noise", type=float, default=0.2)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS threads (1: fastest on a shared machine)",
    )
    args = parser.parse_args(argv)
    with threadpool_limits(limits=args.threads):
        study(args)


def study(args):
    ks = (5, 10)
    print(f"noise {args.noise}, {args.repeats} repeats, clean stream, no retraining\n")
    print("| dataset / model | selector | # queries | chance | Pr@5 | Pr@10 |")
    print("|---|---|---:|---:|---:|---:|")
    for dataset in args.datasets:
        for model_name in args.models:
            start = time.perf_counter()
            n_queries, chance, results = run(
                dataset, model_name, args.repeats, args.noise, ks
            )
            for name, row in results.items():
                print(
                    f"| {dataset} / {model_name} | {name} | {n_queries} | "
                    f"{chance:.3f} | {_cell(row[5])} | {_cell(row[10])} |",
                    flush=True,
                )
            print(
                f"<!-- {dataset}/{model_name}: {time.perf_counter() - start:.0f} s -->",
                flush=True,
            )


if __name__ == "__main__":
    main()
