"""find_label_issues and LabelAuditor with one thread and with the libraries' own.

Each run is made in a process of its own (a thread pool, once started,
stays), alternating, so that both see the same load::

    python benchmarks/bench_auditor_threads.py [--repeats 2]

``n_threads=None`` is what the auditor did before it had the parameter;
``default`` is ``n_threads="auto"``, one thread unless the library's setting
says otherwise.
"""

import argparse
import os
import subprocess
import sys
import time

CODE = """
import time, numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import minmax_scale
from sklearn_cincer import LabelAuditor, SimulatedOracle, find_label_issues
from sklearn_cincer.datasets import make_label_noise
X, y = load_digits(return_X_y=True)
X = minmax_scale(X)
y_noisy, _ = make_label_noise(y, 0.1, random_state=0)
threads = None if {threads!r} == "None" else "auto"
start = time.perf_counter()
if {what!r} == "find_label_issues":
    find_label_issues(LogisticRegression(max_iter=1000), X, y_noisy,
                      random_state=0, n_threads=threads)
else:
    LabelAuditor(LogisticRegression(max_iter=1000), oracle=SimulatedOracle(y),
                 budget=50, random_state=0, n_threads=threads).fit(X, y_noisy)
print(time.perf_counter() - start)
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    }
    for what in ("find_label_issues", "LabelAuditor (budget 50)"):
        times = {"default": [], "None": []}
        for _ in range(args.repeats):
            for threads in ("default", "None"):
                out = subprocess.run(
                    [
                        sys.executable,
                        "-c",
                        CODE.format(what=what.split()[0], threads=threads),
                    ],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                times[threads].append(float(out.stdout.split()[-1]))
        load = os.getloadavg()[0]
        print(
            f"{what}: default (1 thread) "
            f"{', '.join(f'{t:.1f}' for t in times['default'])} s; "
            f"n_threads=None (before) "
            f"{', '.join(f'{t:.1f}' for t in times['None'])} s; "
            f"load {load:.1f}",
            flush=True,
        )


if __name__ == "__main__":
    start = time.time()
    main()
