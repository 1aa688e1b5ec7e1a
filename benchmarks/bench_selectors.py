"""Speed of the counter-example selectors: medians over repeats.

Run::

    .venv/bin/python benchmarks/bench_selectors.py            # everything
    .venv/bin/python benchmarks/bench_selectors.py --only score build reuse

Targets (issue #3):

- ``score``: scoring 1,000,000 candidates with d=512 features and c=10
  classes given a solved query (``_fisher.kernel_scores``, float32
  features): at most 0.75 s.
- ``build``: building and factorizing the exact top-layer Fisher at
  N=10,000, d=64, c=10 (``fisher_matrix`` + Cholesky, no pseudo-inverse or
  eigendecomposition): at most 0.3 s.
- ``reuse``: between rounds with an unchanged model, ``TopFisherSelector.update``
  (relabeling: no change to F; adding rows: a low-rank update of F and a new
  Cholesky factor) against a full ``fit``.
- ``selectors``: fit and per-query time of every selector on one problem.

The machine's load average is printed with the results: timings on a shared
machine are only comparable within one run.
"""

import argparse
import os
import platform
import time

import numpy as np
from scipy.special import softmax
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits

from sklearn_cincer import (
    FullFisherSelector,
    InfluenceSelector,
    PerceptualSelector,
    PracticalFisherSelector,
    TopFisherSelector,
)
from sklearn_cincer._core import fisher_math as _fisher


def median_time(func, repeats, warmup=1):
    for _ in range(warmup):
        func()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), times


def report(name, seconds, times, target=None):
    line = f"{name:<58s} median {seconds:8.4f} s"
    if target is not None:
        line += f"   target <= {target} s: {'PASS' if seconds <= target else 'FAIL'}"
    print(
        line + f"   (min {min(times):.4f}, max {max(times):.4f}, n={len(times)})",
        flush=True,
    )


def bench_score(repeats):
    rng = np.random.default_rng(0)
    n, d, c = 1_000_000, 512, 10
    H = rng.standard_normal((n, d), dtype=np.float32)
    P = softmax(rng.standard_normal((n, c), dtype=np.float32), axis=1)
    y = rng.integers(0, c, size=n)
    R = _fisher.residuals(P, y, "softmax").astype(np.float32)
    V = rng.standard_normal((c, d + 1))
    seconds, times = median_time(lambda: _fisher.kernel_scores(V, H, R), repeats)
    report("score 1e6 candidates, d=512, c=10 (float32 H)", seconds, times, 0.75)
    # Correctness of the timed path on a slice, against float64.
    H64 = H[:1000].astype(float)
    want = -np.sum(R[:1000] * (H64 @ V[:, :d].T + V[:, d]), axis=1)
    got = _fisher.kernel_scores(V, H, R)[:1000]
    assert np.allclose(got, want, rtol=1e-4, atol=1e-3)


def bench_build(repeats):
    rng = np.random.default_rng(0)
    N, d, c = 10_000, 64, 10
    H = rng.standard_normal((N, d))
    P = softmax(rng.standard_normal((N, c)), axis=1)

    def build():
        F = _fisher.fisher_matrix(H, P, "softmax")
        return _fisher.factorize(F, 1e-3)

    seconds, times = median_time(build, repeats)
    report("build + Cholesky top-layer F, N=1e4, d=64, c=10", seconds, times, 0.3)


def bench_reuse(repeats):
    rng = np.random.default_rng(0)
    N, d, c = 10_000, 64, 10
    X = rng.standard_normal((N + 10, d))
    y = rng.integers(0, c, size=N + 10)
    model = LogisticRegression(max_iter=50).fit(X[:N], y[:N])
    base = TopFisherSelector().fit(model, X[:N], y[:N])
    seconds, times = median_time(
        lambda: TopFisherSelector().fit(model, X[:N], y[:N]), repeats
    )
    report("rebuild: TopFisherSelector.fit, N=1e4, d=64, c=10", seconds, times)
    y_relabeled = y[:N].copy()
    y_relabeled[[1, 2]] = (y_relabeled[[1, 2]] + 1) % c

    def relabel():
        selector = _copy_fitted(base)
        return selector.update(model, X[:N], y_relabeled)

    seconds, times = median_time(relabel, repeats)
    report("reuse: update after relabeling 2 rows (F unchanged)", seconds, times)
    for b in (1, 10):

        def add():
            selector = _copy_fitted(base)
            return selector.update(model, X[: N + b], y[: N + b])

        seconds, times = median_time(add, repeats)
        name = f"reuse: update adding {b} row(s) (low-rank F + Cholesky)"
        report(name, seconds, times)
    # The update gives what a fit gives.
    updated = _copy_fitted(base).update(model, X[: N + 10], y[: N + 10])
    fresh = TopFisherSelector().fit(model, X[: N + 10], y[: N + 10])
    assert np.allclose(updated.score(X[0], 1), fresh.score(X[0], 1))


def _copy_fitted(selector):
    """A shallow copy that owns its F (update modifies it in place)."""
    import copy

    new = copy.copy(selector)
    new._fisher_sum = selector._fisher_sum.copy()
    return new


def bench_selectors(repeats):
    from sklearn.datasets import load_digits
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    models = {
        "LR (digits, 650 params)": LogisticRegression(max_iter=500).fit(X, y),
        "MLP 32 hidden (digits, 2410 params)": MLPClassifier(
            (32,), max_iter=300, random_state=0
        ).fit(X, y),
    }
    selectors = {
        "TopFisher": TopFisherSelector(),
        "FullFisher": FullFisherSelector(),
        "PracticalFisher": PracticalFisherSelector(),
        "Influence (exact / LiSSA depth 100)": InfluenceSelector(
            depth=100, random_state=0
        ),
        "Perceptual(TopFisher, k=10)": PerceptualSelector(),
    }
    for model_name, model in models.items():
        for name, selector in selectors.items():
            try:
                fit_s, fit_t = median_time(lambda: selector.fit(model, X, y), 3, 0)
            except Exception as exc:  # noqa: BLE001 - report and go on
                print(f"{model_name} / {name}: {exc}")
                continue
            score_s, score_t = median_time(lambda: selector.score(X[0], 1), repeats)
            print(
                f"{model_name:<36s} {name:<36s} fit {fit_s:7.3f} s   "
                f"query {score_s:7.4f} s  (N={len(X)})",
                flush=True,
            )


def bench_machine(repeats):
    """Reference BLAS speed now, to read the other numbers on a shared machine."""
    rng = np.random.default_rng(0)
    for dtype, name in ((np.float64, "dgemm"), (np.float32, "sgemm")):
        A = rng.standard_normal((1500, 1500)).astype(dtype)
        seconds, times = median_time(lambda: A @ A, repeats)
        print(
            f"reference {name} 1500^3: median {seconds:.4f} s = "
            f"{2 * 1500**3 / seconds / 1e9:.1f} GFLOP/s",
            flush=True,
        )


BENCHES = {
    "machine": bench_machine,
    "score": bench_score,
    "build": bench_build,
    "reuse": bench_reuse,
    "selectors": bench_selectors,
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHES), default=None)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="BLAS threads (threadpoolctl); default: BLAS's own",
    )
    args = parser.parse_args(argv)
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"{os.cpu_count()} CPUs, BLAS threads {args.threads or 'default'}, "
        f"load average {os.getloadavg()}"
    )
    with threadpool_limits(limits=args.threads):
        for name in args.only or list(BENCHES):
            BENCHES[name](args.repeats)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
