"""Throughput of the Fisher passes on a Dask cluster, for 1 and 2 workers.

Ten million rows of 64 features (``--rows``, ``--features``), generated on
the workers in chunks of ``--chunk`` rows (they never exist on the client),
under a softmax layer of ``--classes`` outputs. Timed, in rows per second:

* ``outputs``: ``P`` for every row, kept on the workers (``persist``);
* ``scores``: the candidate scoring pass (Eq. 14 for every row, one product
  per chunk), computed;
* ``kfac``: K-FAC's factors ``A = sum h~ h~^T`` and ``G = sum Lambda``;
* ``exact F``: the exact ``F`` (``P x P``, ``P = c (d+1)``) over the first
  ``--exact-rows`` rows (the whole set costs ``n P^2`` multiply-adds, hours
  on two cores at ``c = 10``).

Each worker is a process with one thread. ``--scheduler ADDRESS`` uses a
running cluster instead of starting local ones (``--workers`` then only
labels the rows).

Run::

    python benchmarks/bench_dask.py --workers 1 2
    python benchmarks/bench_dask.py --rows 200000 --workers 1   # a quick try
"""

import argparse
import logging
import os
import time

import numpy as np


def run(client, args, workers):
    import dask.array as da
    from distributed import wait

    from sklearn_cincer._core import fisher_math as _fisher

    n, d, c = args.rows, args.features, args.classes
    rng = np.random.RandomState(0)
    coef = rng.standard_normal((c, d)) / np.sqrt(d)
    intercept = np.zeros(c)
    V = rng.standard_normal((c, d + 1))
    out = {"workers": workers, "rows": n}

    start = time.perf_counter()
    X = (
        da.random.RandomState(1)
        .standard_normal((n, d), chunks=(args.chunk, d))
        .astype(np.float32)
    )
    y = da.random.RandomState(2).randint(0, c, n, chunks=args.chunk)
    X, y = client.persist([X, y])
    wait([X, y])
    out["generate"] = time.perf_counter() - start

    def timed(name, fn):
        start = time.perf_counter()
        result = fn()
        out[name] = time.perf_counter() - start
        return result

    # Warm the workers up (imports, first calls) on another, small array,
    # so that the timings are of the passes alone.
    small = client.persist(X[: min(n, 1000)] * 1)
    Ps = _fisher.outputs(small, coef, intercept, "softmax")
    Rs = _fisher.residuals(Ps, y[: small.shape[0]], "softmax")
    _fisher.kernel_scores(V, small, Rs).compute()
    _fisher.fisher_matrix(small, Ps, "softmax")

    def outputs():
        P = client.persist(_fisher.outputs(X, coef, intercept, "softmax"))
        wait(P)
        return P

    P = timed("outputs", outputs)
    R = _fisher.residuals(P, y, "softmax")
    timed("scores", lambda: _fisher.kernel_scores(V, X, R).compute())
    timed(
        "kfac", lambda: (_fisher.feature_moment(X), _fisher.output_moment(P, "softmax"))
    )
    m = min(args.exact_rows, n)
    timed("exact F", lambda: _fisher.fisher_matrix(X[:m], P[:m], "softmax"))
    out["exact_rows"] = m
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--chunk", type=int, default=250_000)
    parser.add_argument("--exact-rows", type=int, default=200_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--scheduler", default=None)
    args = parser.parse_args(argv)
    from distributed import Client, LocalCluster

    print(f"load average {os.getloadavg()}, {os.cpu_count()} cores", flush=True)
    for workers in args.workers:
        if args.scheduler:
            client, cluster = Client(args.scheduler), None
        else:
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            client = Client(cluster)
        try:
            r = run(client, args, workers)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
        rates = ", ".join(
            f"{name} {r[name]:.1f} s ({(r['exact_rows'] if name == 'exact F' else r['rows']) / r[name]:,.0f} rows/s)"  # noqa: E501
            for name in ("outputs", "scores", "kfac", "exact F")
        )
        print(
            f"{workers} worker(s), {r['rows']:,} x {args.features} rows, "
            f"c={args.classes}: generated in {r['generate']:.1f} s; {rates}",
            flush=True,
        )
    print(f"load average {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
