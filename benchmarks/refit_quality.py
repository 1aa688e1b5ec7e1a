"""Cleaning quality of ``refit="incremental"`` against ``"scratch"``.

For the estimators that ``refit="incremental"`` updates with
``partial_fit`` on the rows each round changed (``SGDClassifier``,
``MLPClassifier``, the paper's skorch nets ``FCNetClassifier`` and
``LogRegNetClassifier``), in three modes: ``incremental`` (``partial_fit``),
``warm_start`` (the same estimator fit again on the whole training set from
its current solution every round, as the cleaner did before it used
``partial_fit``) and ``scratch``. On each data set, 20% of the stream's
labels flipped, a simulated annotator who answers with the true labels, the
cleaner's defaults otherwise. Reports, per run, the noisy labels cleaned (of
those in the stream), the questions asked, the macro F1 of the final model
on a held-out test set and the seconds taken.

Run::

    OMP_NUM_THREADS=1 python benchmarks/refit_quality.py \\
        --data breast --data digits --estimator sgd --estimator mlp --seeds 3
    OMP_NUM_THREADS=1 python benchmarks/refit_quality.py --data breast \\
        --data digits --estimator fc --estimator lr_net --seeds 2
"""

import argparse
import contextlib
import os
import time
import warnings
from unittest import mock

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


def _net(name):
    def make(seed):
        from sklearn_cincer import nets

        return getattr(nets, name)(random_state=seed)

    return make


ESTIMATORS = {
    "sgd": lambda seed: SGDClassifier(loss="log_loss", random_state=seed),
    "mlp": lambda seed: MLPClassifier((64,), max_iter=300, random_state=seed),
    # The paper's nets, with the paper's rule: Adam, batches of 32, up to
    # 100 epochs, stopping at 90% (70% for logistic regression) training
    # accuracy.
    "fc": _net("FCNetClassifier"),
    "lr_net": _net("LogRegNetClassifier"),
}
REFITS = ["incremental", "warm_start", "scratch"]


def _mode(refit):
    """The cleaner's ``refit`` for a mode, and the context to run it in.

    ``warm_start`` is ``refit="incremental"`` with ``partial_fit`` out of
    the cleaner's sight, so that it warm-starts the same estimator as it
    did before it preferred ``partial_fit``.
    """
    if refit != "warm_start":
        return refit, contextlib.nullcontext()
    return "incremental", mock.patch(
        "sklearn_cincer._refit._learns_rows", return_value=False
    )


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
    cleaner_refit, context = _mode(refit)
    with warnings.catch_warnings(), context:
        warnings.simplefilter("ignore", ConvergenceWarning)
        cleaner = SkepticalCleaner(
            ESTIMATORS[estimator](seed),
            oracle=SimulatedOracle(y),
            refit=cleaner_refit,
            random_state=seed,
        ).fit(X, y_noisy)
    seconds = time.perf_counter() - start
    cleaned = cleaner.y_cleaned_  # every stream row's label, by stream id
    return {
        "data": data,
        "estimator": estimator,
        "refit": refit,
        "seed": seed,
        "method": cleaner.refit_method_,
        "noisy": int(noisy.sum()),
        "cleaned": int(np.sum(noisy & (cleaned == y))),
        "questions": cleaner.n_queries_,
        "f1": f1_score(y_test, cleaner.predict(X_test), average="macro"),
        "seconds": seconds,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=sorted(DATA), action="append")
    parser.add_argument("--estimator", choices=sorted(ESTIMATORS), action="append")
    parser.add_argument("--refit", choices=REFITS, action="append")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"load average {os.getloadavg()}", flush=True)
    rows = []
    for data in args.data or sorted(DATA):
        for estimator in args.estimator or sorted(ESTIMATORS):
            for refit in args.refit or REFITS:
                for seed in range(args.seeds):
                    r = run(data, estimator, refit, seed)
                    rows.append(r)
                    print(
                        f"{data:<7} {estimator:<6} {refit:<11} ({r['method']:<11}) "
                        f"seed {seed}: cleaned {r['cleaned']:>3} of {r['noisy']:>3} "
                        f"noisy, {r['questions']:>3} questions, F1 {r['f1']:.3f}, "
                        f"{r['seconds']:6.1f} s",
                        flush=True,
                    )
    print(f"load average {os.getloadavg()}", flush=True)
    return rows


if __name__ == "__main__":
    main()
