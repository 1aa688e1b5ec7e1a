"""Cleaning quality of ``refit="incremental"`` against ``"scratch"``.

For scikit-learn's iterative estimators (``SGDClassifier``,
``MLPClassifier``), which ``refit="incremental"`` updates with
``partial_fit`` on the rows each round changed: on each data set, 20% of
the stream's labels flipped, a simulated annotator who answers with the true
labels, the cleaner's defaults otherwise. Reports, per run, the noisy labels
cleaned (of those in the stream), the questions asked, the macro F1 of the
final model on a held-out test set and the seconds taken.

Run::

    OMP_NUM_THREADS=1 python benchmarks/refit_quality.py \\
        --data breast --data digits --estimator sgd --estimator mlp --seeds 3
"""

import argparse
import os
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import f1_score
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import minmax_scale

from sklearn_cincer import SimulatedOracle, SkepticalCleaner
from sklearn_cincer.datasets import make_label_noise

#: Rows of the stream (the first ``n_bootstrap`` train the first model) and
#: of the test set, per data set.
DATA = {"breast": (load_breast_cancer, 398, 171), "digits": (load_digits, 600, 500)}
ESTIMATORS = {
    "sgd": lambda seed: SGDClassifier(loss="log_loss", random_state=seed),
    "mlp": lambda seed: MLPClassifier((64,), max_iter=300, random_state=seed),
}


def run(data, estimator, refit, seed):
    """One run: a dict of what it cleaned and how well the model does."""
    loader, n_stream, n_test = DATA[data]
    X, y = loader(return_X_y=True)
    order = np.random.RandomState(seed).permutation(len(y))
    X, y = minmax_scale(X)[order], y[order]
    X_test, y_test = X[n_stream : n_stream + n_test], y[n_stream : n_stream + n_test]
    X, y = X[:n_stream], y[:n_stream]
    y_noisy, noisy = make_label_noise(y, 0.2, random_state=seed)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cleaner = SkepticalCleaner(
            ESTIMATORS[estimator](seed), oracle=SimulatedOracle(y), refit=refit,
            random_state=seed,
        ).fit(X, y_noisy)
    seconds = time.perf_counter() - start
    cleaned = cleaner.y_cleaned_  # every stream row's label, by stream id
    return {
        "data": data, "estimator": estimator, "refit": refit, "seed": seed,
        "method": cleaner.refit_method_, "noisy": int(noisy.sum()),
        "cleaned": int(np.sum(noisy & (cleaned == y))),
        "questions": cleaner.n_queries_,
        "f1": f1_score(y_test, cleaner.predict(X_test), average="macro"),
        "seconds": seconds,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=sorted(DATA), action="append")
    parser.add_argument("--estimator", choices=sorted(ESTIMATORS), action="append")
    parser.add_argument("--refit", choices=["incremental", "scratch"],
                        action="append")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"load average {os.getloadavg()}", flush=True)
    rows = []
    for data in args.data or sorted(DATA):
        for estimator in args.estimator or sorted(ESTIMATORS):
            for refit in args.refit or ["incremental", "scratch"]:
                for seed in range(args.seeds):
                    r = run(data, estimator, refit, seed)
                    rows.append(r)
                    print(f"{data:<7} {estimator:<4} {refit:<11} ({r['method']:<11}) "
                          f"seed {seed}: cleaned {r['cleaned']:>3} of {r['noisy']:>3} "
                          f"noisy, {r['questions']:>3} questions, F1 {r['f1']:.3f}, "
                          f"{r['seconds']:6.1f} s", flush=True)
    print(f"load average {os.getloadavg()}", flush=True)
    return rows


if __name__ == "__main__":
    main()
