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

It also times the exact ``F``'s build (:func:`~sklearn_cincer._fisher.fisher_matrix`)
next to the one product it cannot avoid, the ``syrk`` ``Q^T Q`` of the
``n x c(d+1)`` rows ``q_i = p_i kron h~_i`` (one thread; ``--build N,d,c``).

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


def build_vs_syrk(n, d, c, repeats):
    """Seconds of the exact F's build and of its bare ``syrk``."""
    from sklearn_cincer import _fisher

    rng = np.random.default_rng(0)
    H = rng.standard_normal((n, d))
    P = rng.dirichlet(np.ones(c), n)
    Q = (P[:, :, None] * np.hstack([H, np.ones((n, 1))])[:, None, :]).reshape(n, -1)
    build = _median(lambda: _fisher.fisher_matrix(H, P, "softmax"), repeats)
    syrk = _median(lambda: Q.T @ Q, repeats)
    return build, syrk


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[650, 5130])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--build", default="10000,64,10")
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    print(f"load average {os.getloadavg()}")
    n, d, c = (int(v) for v in args.build.split(","))
    with threadpool_limits(limits=1):
        build, syrk = build_vs_syrk(n, d, c, args.repeats)
    print(f"exact F build, n={n} d={d} c={c} (1 thread): {1e3 * build:.0f} ms, "
          f"its bare syrk Q^T Q {1e3 * syrk:.0f} ms, ratio {build / syrk:.2f}")
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
