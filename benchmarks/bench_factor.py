"""The Cholesky factor's layout: the cost of one solve, and of the factorization.

``np.linalg.cholesky`` returns a C-ordered lower factor ``L``; LAPACK's
solver (``potrs``, behind :func:`scipy.linalg.cho_solve`) reads Fortran
order, so passing ``(L, True)`` copied the whole factor on every solve.
Three ways, timed in one process (medians):

* ``numpy L, lower`` (before): ``cho_solve((L, True), g)``, a copy per solve;
* ``numpy L.T, upper`` (now, :func:`sklearn_cincer._fisher.cholesky`): the
  transpose of a C-ordered ``L`` is the Fortran-ordered upper factor, so
  ``cho_solve((L.T, False), g)`` reads it in place;
* ``scipy cho_factor``: factor and solve both by scipy's LAPACK.

The factorization is timed right after a product by numpy's BLAS (as when
``F`` has just been built), once with one thread and once with the
libraries' default threads: numpy and scipy ship separate OpenBLAS builds
with separate thread pools, and handing work from one to the other back to
back was many times slower on a busy machine.

Run: ``python benchmarks/bench_factor.py [--sizes 650 5130] [--repeats 5]``.
"""

import argparse
import os
import time

import numpy as np
from scipy import linalg


def _median(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def run(size, repeats):
    rng = np.random.default_rng(0)
    Q = rng.standard_normal((2 * size, size))
    g = rng.standard_normal(size)

    def built():
        return Q.T @ Q / Q.shape[0] + 1e-3 * np.eye(size)  # numpy's BLAS first

    M = built()
    L = np.linalg.cholesky(M)
    factor_scipy = linalg.cho_factor(M, lower=True)
    out = {
        "factor numpy": _median(lambda: np.linalg.cholesky(built()), repeats),
        "factor scipy": _median(lambda: linalg.cho_factor(built()), repeats),
        "build only": _median(built, repeats),
        "solve numpy L, lower (before)": _median(
            lambda: linalg.cho_solve((L, True), g, check_finite=False), repeats),
        "solve numpy L.T, upper (now)": _median(
            lambda: linalg.cho_solve((L.T, False), g, check_finite=False), repeats),
        "solve scipy cho_factor": _median(
            lambda: linalg.cho_solve(factor_scipy, g, check_finite=False), repeats),
    }
    out["factor numpy"] -= out["build only"]
    out["factor scipy"] -= out["build only"]
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[650, 5130])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    print(f"load average {os.getloadavg()}")
    for threads in (1, None):
        with threadpool_limits(limits=threads):
            for size in args.sizes:
                result = run(size, args.repeats)
                label = "1 thread" if threads else "default threads"
                print(f"P={size} ({label}): " + ", ".join(
                    f"{name} {1e3 * t:.2f} ms" for name, t in result.items()
                ), flush=True)
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
