"""Rows a second of ``sklearn-cincer clean --oracle none`` on a large CSV file.

Writes a synthetic table (10 normal features, 3 classes from a noisy linear
rule, 10% of the labels flipped to another class), then times the command a
team runs to export the questions of a file nobody answers yet::

    sklearn-cincer clean DATA --label y --oracle none --questions Q --output OUT

with BLAS pinned to one thread, and prints the rows streamed a second (wall
clock and CPU time of the command) and the load of the machine. The
user guide's "Large files" section (docs/user_guide/own_data.rst) reports
its figures.

    python benchmarks/bench_clean_csv.py --rows 100000
    python benchmarks/bench_clean_csv.py --rows 1000000 --counter-examples none
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def write_table(path, n_rows, seed=0):
    """The synthetic table, as a CSV file."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_rows, 10))
    W = rng.normal(size=(10, 3))
    y = np.argmax(X @ W + 0.5 * rng.normal(size=(n_rows, 3)), axis=1)
    flip = rng.random(n_rows) < 0.1
    y[flip] = (y[flip] + rng.integers(1, 3, flip.sum())) % 3
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(10)])
    frame["y"] = y
    frame.to_csv(path, index=False)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--counter-examples", default="relabel", choices=["relabel", "drop", "none"]
    )
    args = parser.parse_args(argv)
    env = dict(
        os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1"
    )
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        data = folder / "data.csv"
        write_table(data, args.rows)
        command = [
            sys.executable,
            "-m",
            "sklearn_cincer._cli",
            "clean",
            str(data),
            "--label",
            "y",
            "--oracle",
            "none",
            "--counter-examples",
            args.counter_examples,
            "--questions",
            str(folder / "questions.csv"),
            "--output",
            str(folder / "cleaned.csv"),
        ]
        load = os.getloadavg()
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode:
            sys.exit(done.stderr)
        wall = time.perf_counter() - started
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = usage.ru_utime + usage.ru_stime
        n_questions = sum(1 for _ in open(folder / "questions.csv")) - 1
    print(
        f"{args.rows} rows, counter-examples {args.counter_examples}: "
        f"{wall:.1f} s wall ({args.rows / wall:,.0f} rows/s), {cpu:.1f} s CPU "
        f"({args.rows / cpu:,.0f} rows/CPU-s); {n_questions} questions exported; "
        f"load {load[0]:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
    )


if __name__ == "__main__":
    main()
