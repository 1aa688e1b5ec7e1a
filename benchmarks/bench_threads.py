"""``n_threads``: the cleaner's speed and results with 1 thread and with more.

Two runs of issue 14 (item 2 and 8), each made once per thread setting in
this process, the settings alternating so that they see the same load:

- ``digits-lr``: scikit-learn's digits with 20% noise, LogisticRegression,
  100 bootstrap and ``--rounds`` streamed examples, ``refit="scratch"``.
- ``breast-fc``: breast cancer with 20% noise, the paper's FC net
  (``FCNetClassifier``), same sizes, ``refit`` as given (the paper's
  "scratch" by default).

- ``ops``: which single operations give other bits with 1 and with T
  threads: torch sums and products, numpy (BLAS) products, small and large.

For each run it prints the seconds of ``fit`` with ``n_threads=1`` and with
``n_threads=T`` (``--threads``, default: the number of cores), their ratio,
and whether the two runs asked the same questions with the same answers
(histories compared record by record: ids, labels, and the largest
difference of the margins and selector scores).

Usage::

    python benchmarks/bench_threads.py [--rounds 100] [--repeats 2] \\
        [--threads 2] [--only ops digits-lr breast-fc] [--refit scratch]
"""

import argparse
import os
import time

import numpy as np


def _digits_lr(rounds, seed, refit):
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    X, y = load_digits(return_X_y=True)
    return LogisticRegression(max_iter=1000), X / 16.0, y, rounds, seed, refit


def _breast_fc(rounds, seed, refit):
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import minmax_scale

    from sklearn_cincer.nets import FCNetClassifier

    X, y = load_breast_cancer(return_X_y=True)
    return FCNetClassifier(random_state=seed), minmax_scale(X), y, rounds, seed, refit


CASES = {"digits-lr": _digits_lr, "breast-fc": _breast_fc}


def split_ops(threads):
    """Largest difference of single operations between 1 and ``threads``."""
    import torch
    from threadpoolctl import threadpool_limits

    def torch_on(n, fn):
        before = torch.get_num_threads()
        torch.set_num_threads(n)
        try:
            return fn()
        finally:
            torch.set_num_threads(before)

    g = torch.Generator().manual_seed(0)
    for n in (1_000, 1_000_000):
        x = torch.randn(n, generator=g)
        d = (torch_on(1, x.sum) - torch_on(threads, x.sum)).abs().item()
        print(f"  torch sum of {n:,} floats: {d:.2g}")
    for m, k, n in ((32, 30, 64), (4096, 784, 64)):
        A, B = torch.randn(m, k, generator=g), torch.randn(k, n, generator=g)
        d = (torch_on(1, lambda: A @ B) - torch_on(threads, lambda: A @ B))
        print(f"  torch ({m}x{k}) @ ({k}x{n}): {d.abs().max().item():.2g}")
    rng = np.random.RandomState(0)
    for m, k, n in ((32, 65, 650), (200, 65, 650), (2000, 650, 650)):
        A, B = rng.randn(m, k), rng.randn(k, n)
        with threadpool_limits(1):
            one = A @ B
        with threadpool_limits(threads):
            many = A @ B
        print(f"  numpy ({m}x{k}) @ ({k}x{n}): {np.abs(one - many).max():.2g}")


def _run(case, n_threads, rounds, seed, refit):
    from sklearn_cincer import SimulatedOracle, SkepticalCleaner
    from sklearn_cincer.datasets import make_label_noise

    model, X, y, rounds, seed, refit = CASES[case](rounds, seed, refit)
    order = np.random.RandomState(seed).permutation(len(y))[: 100 + rounds]
    X, y = X[order], y[order]
    y_noisy, _ = make_label_noise(y, 0.2, random_state=seed)
    cleaner = SkepticalCleaner(
        model, oracle=SimulatedOracle(y), n_bootstrap=100, refit=refit,
        random_state=seed, n_threads=n_threads,
    )
    start = time.perf_counter()
    cleaner.fit(X, y_noisy)
    return time.perf_counter() - start, cleaner


def compare_histories(a, b):
    """``(same, largest margin difference, largest score difference)``."""
    keys = ("round", "example_id", "counter_example_id", "label_before",
            "label_after", "counter_label_before", "counter_label_after")
    same = len(a.history_) == len(b.history_) and all(
        all(getattr(r, k) == getattr(s, k) for k in keys)
        for r, s in zip(a.history_, b.history_)
    )
    pairs = list(zip(a.history_, b.history_))
    margin = max((abs(r.margin - s.margin) for r, s in pairs), default=0.0)
    score = max((abs((r.score or 0) - (s.score or 0)) for r, s in pairs),
                default=0.0)
    return same, margin, score


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=2,
                        help="timed runs per setting (median reported)")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--refit", default="scratch",
                        choices=["scratch", "incremental"])
    parser.add_argument("--only", nargs="+", default=["ops", *CASES],
                        choices=["ops", *CASES])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores, "
          f"n_threads 1 vs {args.threads}, {args.rounds} rounds, "
          f"refit={args.refit}")
    if "ops" in args.only:
        print(f"largest difference between 1 and {args.threads} threads:")
        split_ops(args.threads)
    for case in (c for c in args.only if c != "ops"):
        if case == "breast-fc":
            import torch  # noqa: F401  (before the first limit, as users do)
        times = {1: [], args.threads: []}
        last = {}
        for _ in range(args.repeats):
            for n in times:
                seconds, cleaner = _run(case, n, args.rounds, args.seed, args.refit)
                times[n].append(seconds)
                last[n] = cleaner
        one, many = np.median(times[1]), np.median(times[args.threads])
        same, margin, score = compare_histories(last[1], last[args.threads])
        print(f"{case}: n_threads=1 {one:.1f} s, n_threads={args.threads} "
              f"{many:.1f} s (x{many / one:.2f}); {last[1].n_queries_} vs "
              f"{last[args.threads].n_queries_} questions, same history: {same}, "
              f"largest margin difference {margin:.2g}, score {score:.2g}")
        print(f"    times 1: {np.round(times[1], 1).tolist()}, "
              f"{args.threads}: {np.round(times[args.threads], 1).tolist()}; "
              f"load now {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()
