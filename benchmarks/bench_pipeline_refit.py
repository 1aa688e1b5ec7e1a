"""Seconds per round of the docs' plain-skorch recipe, by refit.

The recipe of the user guide ("Working with skorch networks"): a plain
``skorch.NeuralNetClassifier`` in a Pipeline after
``FunctionTransformer(to_float32)``, with ``train_split=None`` and
``classes=`` naming every label; the module is the paper's FC net
(``sklearn_cincer.nets.FCNet``) with ``CrossEntropyLoss``.

The cleaner is fit on the bootstrap rows of breast cancer (20% noise), then
``partial_fit`` streams ``--rounds`` rows; the time of that call divided by
the rounds is a round (margin, question, simulated answer, refit). Each refit
setting runs once per repeat, alternating. It prints the refit method the
cleaner used, so that a fallback to scratch shows.

``--stop-at 0.9 --max-epochs 100`` trains as the paper does (Adam, batches
of 32, stopping at 90% training accuracy): a warm start then often needs one
epoch, where skorch's defaults train ``max_epochs`` every round either way.

Usage::

    python benchmarks/bench_pipeline_refit.py [--rounds 30] [--max-epochs 10] \
        [--stop-at 0.9]
"""

import argparse
import os
import time
import warnings

import numpy as np


def to_float32(X):
    return np.asarray(X, dtype=np.float32)


def make_recipe(max_epochs, seed, stop_at=None):
    import torch
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer
    from skorch import NeuralNetClassifier

    from sklearn_cincer.nets import FCNet

    torch.manual_seed(seed)
    training = {}
    if stop_at is not None:  # the paper's rule: Adam, batches of 32, stop early
        from sklearn_cincer.nets import StopAtTrainAccuracy

        training = dict(optimizer=torch.optim.Adam, batch_size=32,
                        callbacks=[StopAtTrainAccuracy(stop_at)])
    net = NeuralNetClassifier(
        FCNet, module__n_features=30, module__n_classes=2,
        criterion=torch.nn.CrossEntropyLoss, train_split=None, classes=[0, 1],
        max_epochs=max_epochs, verbose=0, **training,
    )
    return make_pipeline(FunctionTransformer(to_float32), net)


def per_round(refit, rounds, max_epochs, seed, stop_at=None):
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import minmax_scale

    from sklearn_cincer import SimulatedOracle, SkepticalCleaner
    from sklearn_cincer.datasets import make_label_noise

    X, y = load_breast_cancer(return_X_y=True)
    order = np.random.RandomState(seed).permutation(len(y))[: 100 + rounds]
    X, y = minmax_scale(X)[order], y[order]
    y_noisy, _ = make_label_noise(y, 0.2, random_state=seed)
    cleaner = SkepticalCleaner(
        make_recipe(max_epochs, seed, stop_at), oracle=SimulatedOracle(y),
        n_bootstrap=100,
        refit=refit, random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cleaner.fit(X[:100], y_noisy[:100])
        start = time.perf_counter()
        cleaner.partial_fit(X[100:], y_noisy[100:])
    return (time.perf_counter() - start) / rounds, cleaner


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--max-epochs", type=int, default=10,
                        help="the net's max_epochs (skorch's default: 10)")
    parser.add_argument("--stop-at", type=float, default=None, metavar="ACC",
                        help="train as the paper does: Adam, batches of 32, "
                        "stopping at training accuracy ACC (StopAtTrainAccuracy)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    print(f"load average {os.getloadavg()[0]:.2f}, torch threads 1, "
          f"{args.rounds} rounds, max_epochs {args.max_epochs}, stop at "
          f"{args.stop_at}")
    times = {"scratch": [], "incremental": []}
    for _ in range(args.repeats):
        for refit in times:
            seconds, cleaner = per_round(refit, args.rounds, args.max_epochs,
                                         args.seed, args.stop_at)
            times[refit].append(seconds)
            print(f"  refit={refit}: {1000 * seconds:.0f} ms per round "
                  f"(refit_method_={cleaner.refit_method_!r}, "
                  f"{cleaner.n_queries_} questions)", flush=True)
    scratch, incremental = (np.median(times[k]) for k in times)
    print(f"median ms per round: scratch {1000 * scratch:.0f}, incremental "
          f"{1000 * incremental:.0f} (x{scratch / incremental:.1f}); load now "
          f"{os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
