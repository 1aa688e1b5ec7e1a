"""CINCER with the paper's CNN on scikit-learn's digits (8x8 images), 20% noise.

For each seed: shuffle digits, keep 500 images as a clean test set, corrupt
20% of the other labels uniformly (``make_label_noise``), bootstrap on the
first 100 and stream the next 100 with a perfect ``SimulatedOracle``.
Compares ``counter_examples="relabel"`` (CINCER, Top Fisher) with "none"
(skeptical learning, no counter-example), for ``refit="scratch"`` (every
round from the same initial weights, the paper's protocol) and
``refit="incremental"`` (warm start from the current weights).

Reports per run: noisy labels cleaned (suspicious examples + counter-examples
whose noisy label the oracle corrected), queries, weighted F1 on the test set
(as the paper) before and after the stream, seconds per streamed round
(median and mean, wall clock).

Usage::

    python benchmarks/digits_cnn_stream.py --seeds 0 1 2 [--threads 1]
"""

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import f1_score

from sklearn_cincer import SimulatedOracle, SkepticalCleaner
from sklearn_cincer.datasets import make_label_noise


def run(seed, refit, strategy, args):
    from sklearn_cincer.nets import ConvNetClassifier

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    order = np.random.RandomState(seed).permutation(len(y))
    X, y = X[order], y[order]
    X_test, y_test = X[:500], y[:500]
    n = args.n_bootstrap + args.n_stream
    X_tr, y_true = X[500 : 500 + n], y[500 : 500 + n]
    y_noisy, noisy = make_label_noise(y_true, noise_rate=args.noise, random_state=seed)

    cleaner = SkepticalCleaner(
        ConvNetClassifier(device=args.device),
        oracle=SimulatedOracle(y_true),
        counter_examples=strategy,
        n_bootstrap=args.n_bootstrap,
        refit=refit,
        threshold=0.2,
        random_state=seed,
    )
    cleaner.fit(X_tr[: args.n_bootstrap], y_noisy[: args.n_bootstrap])
    f1_start = f1_score(y_test, cleaner.predict(X_test), average="weighted")
    times = []
    for i in range(args.n_bootstrap, n):
        start = time.perf_counter()
        cleaner.partial_fit(X_tr[i : i + 1], y_noisy[i : i + 1])
        times.append(time.perf_counter() - start)
    f1_end = f1_score(y_test, cleaner.predict(X_test), average="weighted")

    cleaned_ex = cleaned_ce = 0
    for r in cleaner.history_:
        if noisy[r.example_id] and r.label_after == y_true[r.example_id]:
            cleaned_ex += 1
        if (
            r.counter_example_id is not None
            and r.counter_label_after is not None
            and r.counter_label_before != y_true[r.counter_example_id]
            and r.counter_label_after == y_true[r.counter_example_id]
        ):
            cleaned_ce += 1
    return {
        "seed": seed,
        "refit": refit,
        "strategy": strategy,
        "cleaned": cleaned_ex + cleaned_ce,
        "cleaned_ex": cleaned_ex,
        "cleaned_ce": cleaned_ce,
        "queries": cleaner.n_queries_,
        "noisy_streamed": int(noisy[args.n_bootstrap :].sum()),
        "f1_start": f1_start,
        "f1_end": f1_end,
        "s_round_median": float(np.median(times)),
        "s_round_mean": float(np.mean(times)),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--refit", nargs="+", default=["scratch", "incremental"])
    parser.add_argument("--strategies", nargs="+", default=["relabel", "none"])
    parser.add_argument("--n-bootstrap", type=int, default=100)
    parser.add_argument("--n-stream", type=int, default=100)
    parser.add_argument("--noise", type=float, default=0.2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch and BLAS threads (1 avoids OpenMP spinning on a shared machine)",
    )
    args = parser.parse_args()

    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    rows = []
    with threadpool_limits(args.threads):
        for refit in args.refit:
            for seed in args.seeds:
                for strategy in args.strategies:
                    row = run(seed, refit, strategy, args)
                    rows.append(row)
                    print(
                        "{refit:11s} {strategy:7s} seed={seed} cleaned={cleaned} "
                        "(ex {cleaned_ex}, ce {cleaned_ce}) queries={queries} "
                        "noisy streamed={noisy_streamed} F1 {f1_start:.3f} -> "
                        "{f1_end:.3f}  s/round median {s_round_median:.3f} "
                        "mean {s_round_mean:.3f}".format(**row),
                        flush=True,
                    )
    print("\nmeans over seeds")
    print("refit        strategy  cleaned  queries  F1 start  F1 end  s/round (median)")
    for refit in args.refit:
        for strategy in args.strategies:
            sel = [r for r in rows if r["refit"] == refit and r["strategy"] == strategy]
            mean = {
                k: np.mean([r[k] for r in sel])
                for k in ("cleaned", "queries", "f1_start", "f1_end", "s_round_median")
            }
            print(
                f"{refit:12s} {strategy:8s} {mean['cleaned']:7.1f}  "
                f"{mean['queries']:7.1f}  {mean['f1_start']:8.3f}  "
                f"{mean['f1_end']:6.3f}  {mean['s_round_median']:.3f}"
            )


if __name__ == "__main__":
    main()
