"""Seconds per CINCER round with the paper's FC net at N=600 training examples.

A round is what ``SkepticalCleaner`` does for one streamed example that is
suspicious (timed around its ``_round``; the ``partial_fit`` call around it
also copies the cleaner's state, timed as "partial_fit"): the margin
(``predict_proba`` of the example),
the features ``h(x)`` of the training set (forward hook), the Top Fisher
matrix and its factor, the query (scoring every candidate), the simulated
oracle, and the model update. Every streamed example gets a label the
model disagrees with, so every round queries.

``refit="incremental"`` (one warm-started epoch from the current weights,
stopping at 90% training accuracy) and ``refit="scratch"`` (a fit from the
same initial weights) run side by side: their rounds alternate, so both see
the same machine load. Besides the whole ``partial_fit`` call, each phase is
timed on its own on the same model: margin, Top Fisher fit (features,
Fisher, factor), the reuse path alone (``update`` of the fitted selector
with the same model and rows: the check that nothing changed, the
features of the first rows), the query, the update.

Usage::

    python benchmarks/bench_nets.py [--rounds 30] [--threads 1]
"""

import argparse
import copy
import os
import time

import numpy as np
from sklearn.base import clone
from sklearn.datasets import load_digits

from sklearn_cincer import SimulatedOracle, SkepticalCleaner, TopFisherSelector


def _timed(fn):
    """``((wall, cpu), result)``: wall-clock and process CPU seconds of ``fn()``."""
    start, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return (time.perf_counter() - start, time.process_time() - cpu), out


def _time_rounds(cleaner):
    """Record the time of each round (``_round``) of this cleaner instance.

    ``partial_fit`` also copies the cleaner's state (so that a failed call
    changes nothing); the round itself is what ``fit`` repeats per example.
    """
    cleaner.round_times_ = []
    inner = cleaner._round

    def timed_round(stream, example_id):
        t, _ = _timed(lambda: inner(stream, example_id))
        cleaner.round_times_.append(t)

    cleaner._round = timed_round


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-train", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch and BLAS threads (default 1)"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch
    from threadpoolctl import threadpool_limits

    from sklearn_cincer.nets import FCNetClassifier

    torch.set_num_threads(args.threads)
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    order = np.random.RandomState(args.seed).permutation(len(y))
    X, y = X[order], y[order]
    n = args.n_train
    oracle = SimulatedOracle(y)
    results = {}
    with threadpool_limits(args.threads):
        cleaners = {}
        for refit in ("incremental", "scratch"):
            cleaner = SkepticalCleaner(
                FCNetClassifier(),
                oracle=oracle,
                n_bootstrap=n,
                refit=refit,
                random_state=args.seed,
            )
            seconds, _ = _timed(lambda: cleaner.fit(X[:n], y[:n]))
            print(
                f"{refit}: bootstrap fit on {n} examples {seconds[0]:.2f} s", flush=True
            )
            cleaners[refit] = cleaner
            _time_rounds(cleaner)
            results[refit] = {
                k: []
                for k in (
                    "partial_fit",
                    "round",
                    "margin",
                    "selector_fit",
                    "reuse",
                    "query",
                    "update",
                    "epochs",
                )
            }
        for i in range(n, n + args.rounds):
            for refit, cleaner in cleaners.items():
                model = cleaner.estimator_
                x = X[i : i + 1]
                prediction = model.predict(x)[0]
                label = (prediction + 1) % 10  # disagreeing: the round queries
                r = results[refit]
                # phases, each on the current model (not counted in the round)
                Xt, yt = X[cleaner.ids_], cleaner.y_
                r["margin"].append(_timed(lambda: model.predict_proba(x))[0])
                t, selector = _timed(lambda: TopFisherSelector().fit(model, Xt, yt))
                r["selector_fit"].append(t)
                r["reuse"].append(
                    _timed(lambda: copy.copy(selector).update(model, Xt, yt))[0]
                )
                candidates = np.flatnonzero(yt == prediction)
                r["query"].append(
                    _timed(lambda: selector.select(x[0], label, candidates))[0]
                )
                update = clone(model) if refit == "scratch" else model
                epochs = len(model.history)
                # the round itself, through the public API
                cleaner.round_times_.clear()
                t, _ = _timed(lambda: cleaner.partial_fit(x, [label]))
                r["partial_fit"].append(t)
                (t,) = cleaner.round_times_
                r["round"].append(t)
                r["epochs"].append(
                    len(cleaner.estimator_.history)
                    - (0 if refit == "scratch" else epochs)
                )
                del update
        # the update alone: refit on the final training set, as the cleaner does
        for refit, cleaner in cleaners.items():
            Xt, yt = X[cleaner.ids_], cleaner.y_
            for _ in range(min(10, args.rounds)):
                if refit == "incremental":
                    model = cleaner.estimator_
                    t, _ = _timed(lambda: model.fit(Xt, yt))
                else:
                    template = clone(cleaner.estimator_).set_params(warm_start=False)
                    t, _ = _timed(lambda: template.fit(Xt, yt))
                results[refit]["update"].append(t)

    print(
        f"\nFC net, N={n} training examples, {args.rounds} rounds each, every "
        f"round queries; torch/BLAS threads={args.threads}; medians in seconds"
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"(load average at the end: {load:.1f} on {os.cpu_count()} cores; "
        "'cpu' is this process's CPU time, 'wall' the elapsed time)"
    )
    phases = (
        "partial_fit",
        "round",
        "margin",
        "selector_fit",
        "reuse",
        "query",
        "update",
    )
    print(
        f"{'':12s} {'clock':5s} "
        + " ".join(f"{p:>13s}" for p in phases)
        + f" {'epochs':>7s}"
    )
    for refit, r in results.items():
        for k, clock in enumerate(("wall", "cpu")):
            cells = " ".join(
                f"{float(np.median([t[k] for t in r[p]])):13.4f}" for p in phases
            )
            print(f"{refit:12s} {clock:5s} {cells} {np.median(r['epochs']):7.1f}")


if __name__ == "__main__":
    main()
