"""The wait for the auditor's next question at 1e5 rows, next to a bare GEMM.

An oracle that reads each question for ``--read`` seconds (a person) records
when each question arrives and when its answer leaves; the wait of a
question is the time from the previous answer to it: the cleaning selector's
pick, the bookkeeping and, after every ``refit_every`` labels, the refit of
the ranking. It runs with ``background_refit=False`` (every refit after its
answer) and ``True`` (the refit started while the person reads the block's
last question), on the same data and seed; both ask the same questions,
which the script checks. The yardstick is one bare float64 GEMM of
``2 N (d+1) c`` flops, as for the cleaner (``bench_round.py``)::

    OMP_NUM_THREADS=1 python benchmarks/bench_audit_question.py \\
        --size 100000,64,10 --budget 30 --read 2
"""

import argparse
import os
import time

import numpy as np
from bench_round import bare_gemm, make_data, one_thread


class ReadingOracle:
    """A simulated person who reads each question for ``read`` seconds."""

    def __init__(self, y_true, read):
        from sklearn_cincer import SimulatedOracle

        self.oracle = SimulatedOracle(y_true)
        self.read = read
        self.arrived, self.left = [], []

    def __call__(self, query):
        self.arrived.append(time.perf_counter())
        time.sleep(self.read)
        answer = self.oracle(query)
        self.left.append(time.perf_counter())
        return answer

    def waits(self):
        """Seconds from each answer to the next question."""
        return np.subtract(self.arrived[1:], self.left[:-1])


def run(X, y, y_given, budget, read, background, refit_every, seed=0):
    from sklearn.linear_model import LogisticRegression

    from sklearn_cincer import LabelAuditor

    oracle = ReadingOracle(y, read)
    start = time.perf_counter()
    auditor = LabelAuditor(
        LogisticRegression(max_iter=100),
        oracle=oracle,
        budget=budget,
        refit="incremental",
        refit_every=refit_every,
        random_state=seed,
        background_refit=background,
        explain_issues=False,
    ).fit(X, y_given)
    total = time.perf_counter() - start
    return oracle.waits(), auditor.history_, total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="100000,64,10", help="N,d,c")
    parser.add_argument(
        "--budget", type=int, default=30, help="labels inspected (default: %(default)s)"
    )
    parser.add_argument("--refit-every", type=int, default=10)
    parser.add_argument(
        "--read",
        type=float,
        default=2.0,
        help="seconds the simulated person reads a question",
    )
    parser.add_argument("--noise", type=float, default=0.1)
    args = parser.parse_args()
    n, d, c = (int(v) for v in args.size.split(","))
    X, y, _ = make_data(n, d, c, 0, dtype=np.float64)
    rng = np.random.default_rng(1)
    y_given = y.copy()
    flip = rng.random(n) < args.noise
    y_given[flip] = (y[flip] + 1 + rng.integers(0, c - 1, flip.sum())) % c
    with one_thread():
        gemm = bare_gemm(X, c, np.float64)
        results = {}
        for background in (False, True):
            results[background] = run(
                X, y, y_given, args.budget, args.read, background, args.refit_every
            )
    same = results[False][1] == results[True][1]
    print(
        f"N={n} d={d} c={c}, budget {args.budget} labels, refit every "
        f"{args.refit_every}, read {args.read} s; bare GEMM "
        f"{1e3 * gemm:.1f} ms; same questions: {same}; load "
        f"{os.getloadavg()[0]:.1f}"
    )
    for background, (waits, history, total) in results.items():
        med, p90, top = np.median(waits), np.quantile(waits, 0.9), waits.max()
        print(
            f"background_refit={background}: {len(history)} questions, "
            f"wait median {1e3 * med:.1f} ms = {med / gemm:.1f}x the GEMM, "
            f"90th percentile {1e3 * p90:.0f} ms, longest {1e3 * top:.0f} ms "
            f"= {top / gemm:.0f}x, all waits {waits.sum():.1f} s; fit "
            f"{total:.1f} s"
        )
        print("  waits (ms):", " ".join(f"{1e3 * w:.0f}" for w in waits))


if __name__ == "__main__":
    main()
