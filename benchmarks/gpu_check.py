"""GPU check: the real path on CUDA next to the CPU, the same picks, and how fast.

One prepared command with a time limit, for the day a GPU machine is lent
(it exits with a message when there is no CUDA device; ``--device cpu`` is a
dry run of every step on the CPU, as the test suite runs it). Steps, each
started only while ``--time-limit`` allows (a hard alarm stops the script
30 s past it, with what it printed so far):

1. The real path (:mod:`bench_round`): the wait for each next question
   inside :class:`~sklearn_cincer.SkepticalCleaner` after a model update,
   at each ``--size`` (default the issue's four: (1e4, 64, 10),
   (1e5, 64, 10), (1e6, 512, 10), (1e5, 512, 1000)), first on the CPU with
   the default :class:`~sklearn_cincer.TopFisherSelector`, then with
   :class:`~sklearn_cincer.nets.TorchTopFisherSelector` on the device (the
   exact ``F``, formed on the device; skipped where ``P = c (d+1)`` is too
   wide to form it). The oracle keeps every label, so both runs see the
   same models and training sets and their picks are compared question by
   question (``same pick``; where the CPU used K-FAC this is its top-1
   agreement with the exact pick). A bare float64 GEMM of ``2 N (d+1) c``
   flops on each device is the yardstick.
2. Ranking: :class:`~sklearn_cincer.nets.TorchTopFisherSelector` on the CPU
   and on the device rank the candidates of a skorch net alike (same top
   counter-example, same top-10, scores equal to ``--rtol``), at
   ``--n-compare`` rows.
3. Speed of that selector's fit and query at ``--n`` rows on each device.
4. The torch ParameterView: per-example gradients and a Hessian-vector
   product agree between the CPU and the device.
5. The estimators people use, inside the cleaner with ``refit="incremental"``
   (:func:`bench_round.run_estimator`: the question, the update after the
   answer and the whole round, medians), at each ``--estimator-size``
   (default (1e5, 64, 10)): ``LogisticRegression``,
   ``SGDClassifier(loss="log_loss")`` and ``MLPClassifier`` on the CPU, one
   thread (the yardsticks: they have no GPU path); the skorch net
   (``PaperNetClassifier(LogRegNet)``) on the CPU and on the device, with
   the default selector and with
   :class:`~sklearn_cincer.nets.TorchTopFisherSelector` on the device; a
   bare float64 GEMM on each side.

The net of steps 2-4 is ``Linear(64, d) - ReLU - Linear(d, c)`` trained for
one epoch on a random teacher's labels.

Usage (about 5-8 minutes on one H100/H200 with 16 cores for steps 1-4; the
CPU side of the largest sizes is most of it; step 5 takes what is left of
the limit, each of its cells stopping there)::

    timeout 600 python benchmarks/gpu_check.py --time-limit 540
    python benchmarks/gpu_check.py --device cpu --size 2000,16,4 --n 3000 \
        --n-compare 1000 --estimator-size 1500,8,3 --time-limit 120  # dry run
"""

import argparse
import copy
import signal
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_round  # noqa: E402

# The widest last layer whose F (P x P, float64) the device check forms.
_DEVICE_DENSE_MAX_PARAMS = 30_000


def _sync():
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _timed(fn):
    _sync()
    start = time.perf_counter()
    out = fn()
    _sync()
    return time.perf_counter() - start, out


def _wide_module():
    from torch import nn

    class Wide(nn.Module):
        """``Linear(n_features, width) - ReLU - Linear(width, n_classes)``."""

        def __init__(self, n_features, n_classes, width=512):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(n_features, width), nn.ReLU())
            self.output = nn.Linear(width, n_classes)

        def forward(self, X):
            return self.output(self.body(X))

    Wide.__qualname__ = "Wide"
    globals()["Wide"] = Wide  # picklable (skorch deep-copies through pickle)
    return Wide


def _nets(args):
    from sklearn_cincer.nets import PaperNetClassifier

    Wide = _wide_module()
    rng = np.random.RandomState(0)
    X = rng.randn(args.n, 64).astype(np.float32)
    teacher = rng.randn(64, args.c).astype(np.float32)
    y = (X @ teacher + rng.gumbel(size=(args.n, args.c))).argmax(1)
    net = PaperNetClassifier(
        Wide,
        module__width=args.d,
        max_epochs=1,
        batch_size=256,
        target_accuracy=None,
        random_state=0,
        device=args.device,
    ).fit(X[:50_000], y[:50_000])
    net_cpu = copy.deepcopy(net)
    net_cpu.device = "cpu"
    net_cpu.module_.to("cpu")
    return X, y, net, net_cpu


def check_ranking(X, y, net, net_cpu, args):
    from sklearn_cincer.nets import TorchTopFisherSelector

    n = args.n_compare
    Xc, yc = X[:n], y[:n]
    gpu = TorchTopFisherSelector(device=args.device).fit(net, Xc, yc)
    cpu = TorchTopFisherSelector(device="cpu").fit(net_cpu, Xc, yc)
    ok = True
    for t in range(5):
        x, label = X[n + t], int(y[n + t])
        prediction = int(net_cpu.predict(x[None])[0])
        candidates = np.flatnonzero(yc == prediction)
        s_gpu = gpu.score(x, label, candidates)
        s_cpu = cpu.score(x, label, candidates)
        top_gpu = candidates[np.argsort(-s_gpu, kind="stable")[:10]]
        top_cpu = candidates[np.argsort(-s_cpu, kind="stable")[:10]]
        rel = np.max(np.abs(s_gpu - s_cpu)) / max(np.max(np.abs(s_cpu)), 1e-300)
        same = np.array_equal(top_gpu, top_cpu)
        ok &= same and rel <= args.rtol
        print(
            f"  query {t}: {len(candidates)} candidates, top-10 equal: {same}, "
            f"max relative score difference {rel:.2e}"
        )
    print(f"ranking check (N={n}): {'PASS' if ok else 'FAIL'}")
    return ok


def check_speed(X, y, net, net_cpu, args):
    from sklearn_cincer.nets import TorchTopFisherSelector

    rows = []
    for device, model, n in ((args.device, net, args.n), ("cpu", net_cpu, args.cpu_n)):
        fit_s, selector = _timed(
            lambda: TorchTopFisherSelector(device=device).fit(model, X[:n], y[:n])
        )
        x, label = X[-1], int(y[-1])
        times = [
            _timed(lambda: selector.score(x, label))[0] for _ in range(args.repeats)
        ]
        rows.append((device, n, fit_s, float(np.median(times))))
        print(
            f"  {device}: N={n:,}: fit (features, F {args.c * (args.d + 1)}^2, "
            f"Cholesky) {fit_s:.3f} s, query (score all N) median "
            f"{np.median(times) * 1e3:.2f} ms",
            flush=True,
        )
    return rows


def check_parameter_view(args):
    from sklearn_cincer.nets import FCNetClassifier, skorch_parameter_view

    rng = np.random.RandomState(1)
    X = rng.rand(200, 64).astype(np.float32)
    y = rng.randint(0, 10, 200)
    net = FCNetClassifier(max_epochs=2, random_state=0).fit(X, y)
    cpu = skorch_parameter_view(net, device="cpu")
    gpu = skorch_parameter_view(net, device=args.device)
    G_cpu = np.concatenate(list(cpu.gradients(X, y)))
    G_gpu = np.concatenate(list(gpu.gradients(X, y)))
    v = rng.randn(cpu.n_params)
    h_cpu, h_gpu = cpu.hvp(X, y, v), gpu.hvp(X, y, v)
    g_rel = np.abs(G_cpu - G_gpu).max() / np.abs(G_cpu).max()
    h_rel = np.abs(h_cpu - h_gpu).max() / np.abs(h_cpu).max()
    ok = g_rel < 1e-8 and h_rel < 1e-8
    print(
        f"parameter view CPU vs GPU: gradients rel diff {g_rel:.1e}, hvp rel diff "
        f"{h_rel:.1e}: {'PASS' if ok else 'FAIL'}"
    )
    return ok


def _gemm_seconds(n, d, c, device, repeats=3):
    """Median seconds of a bare float64 GEMM ``[X 1] W^T`` on ``device``."""
    import torch

    X = torch.randn(n, d + 1, dtype=torch.float64, device=device)
    W = torch.randn(c, d + 1, dtype=torch.float64, device=device)
    times = [_timed(lambda: X @ W.T)[0] for _ in range(repeats)]
    return float(np.median(times))


def check_real_path(args, deadline):
    """Step 1: the next question on the CPU and on the device, same picks."""
    from sklearn_cincer.nets import TorchTopFisherSelector

    ok = True
    for n, d, c in args.size:
        if time.monotonic() > deadline:
            print(f"  N={n:,} d={d} c={c}: skipped (time limit)")
            continue
        with bench_round.one_thread():
            cpu = bench_round.run_size(n, d, c, args.questions, {}, keep_labels=True)
        line = (
            f"  N={n:,} d={d} c={c}: CPU ({cpu['form']}, 1 thread) next "
            f"{1e3 * cpu['next']:.1f} ms = {cpu['next'] / cpu['gemm64']:.2f} x "
            f"its GEMM ({1e3 * cpu['gemm64']:.1f} ms)"
        )
        P = c * (d + 1)
        if P > _DEVICE_DENSE_MAX_PARAMS:
            print(
                line + f"; {args.device}: skipped (P={P:,}: TorchTopFisherSelector "
                "forms F, and K-FAC runs on the CPU only)",
                flush=True,
            )
            continue
        if time.monotonic() > deadline:
            print(line + f"; {args.device}: skipped (time limit)", flush=True)
            continue
        dev = bench_round.run_size(
            n,
            d,
            c,
            args.questions,
            {},
            keep_labels=True,
            gemm=False,
            selector=TorchTopFisherSelector(device=args.device),
        )
        gemm = _gemm_seconds(n, d, c, args.device)
        same = np.mean([a == b for a, b in zip(cpu["picks"], dev["picks"])])
        exact_on_cpu = cpu["form"].startswith("exact")
        ok &= bool(same == 1.0) or not exact_on_cpu
        print(
            line + f"; {args.device} (exact F) next {1e3 * dev['next']:.1f} ms = "
            f"{dev['next'] / gemm:.2f} x its GEMM ({1e3 * gemm:.2f} ms), first "
            f"{1e3 * dev['first']:.0f} ms; same pick {same:.2f} over "
            f"{len(cpu['picks'])} questions",
            flush=True,
        )
    print(
        f"real path check: {'PASS' if ok else 'FAIL'} (picks equal wherever both "
        "are exact)"
    )
    return ok


#: Step 2: each cell's estimator name, its device ("cpu" or the device's)
#: and whether the torch selector runs it.
_ESTIMATOR_CELLS = (
    ("logistic", "cpu", False),
    ("sgd", "cpu", False),
    ("mlp", "cpu", False),
    ("skorch", "cpu", False),
    ("skorch", "device", False),
    ("skorch", "device", True),
)


def check_estimators(args, deadline):
    """Step 2: the estimators people use, in the cleaner, CPU and device."""
    from sklearn_cincer.nets import TorchTopFisherSelector

    ok = True
    for n, d, c in args.estimator_size:
        gemm = _gemm_seconds(n, d, c, args.device)
        for name, where, torch_selector in _ESTIMATOR_CELLS:
            device = args.device if where == "device" else "cpu"
            label = f"  {name} on {device}" + (
                f", TorchTopFisherSelector on {device}" if torch_selector else ""
            )
            left = deadline - time.monotonic()
            if left < 1:
                print(f"{label}, N={n:,} d={d} c={c}: skipped (time limit)")
                continue
            selector = TorchTopFisherSelector(device=device) if torch_selector else None
            with bench_round.one_thread():
                r = bench_round.run_estimator(
                    n,
                    d,
                    c,
                    args.estimator_questions,
                    name,
                    seconds=left,
                    device=device,
                    selector=selector,
                )
            ok &= r["stopped"] is not None or r["questions"] >= 2
            ratio = (
                ""
                if device == "cpu"
                else (
                    f"; {device} GEMM {1e3 * gemm:.2f} ms, round "
                    f"{r['round'] / gemm:.1f} x it"
                )
            )
            print(
                f"{label}: " + bench_round.format_estimator_row(r) + ratio, flush=True
            )
    print(f"estimators check: {'PASS' if ok else 'FAIL'} (every cell asked)")
    return ok


def _alarm(signum, frame):
    raise TimeoutError


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--size",
        type=bench_round._size,
        action="append",
        help="N,d,c of the real path (repeatable; default the issue's four)",
    )
    parser.add_argument("--questions", type=int, default=5)
    parser.add_argument(
        "--estimator-size",
        type=bench_round._size,
        action="append",
        help="N,d,c of the estimators' step (repeatable; default 100000,64,10)",
    )
    parser.add_argument("--estimator-questions", type=int, default=4)
    parser.add_argument(
        "--time-limit",
        type=float,
        default=540,
        help="seconds; no step starts past it, and the script stops 30 s after it",
    )
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument(
        "--cpu-n",
        type=int,
        default=None,
        help="rows for the CPU speed check (default: --n)",
    )
    parser.add_argument("--d", type=int, default=512)
    parser.add_argument("--c", type=int, default=10)
    parser.add_argument("--n-compare", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rtol", type=float, default=1e-6)
    parser.add_argument(
        "--device",
        default="cuda",
        help="the accelerator to compare with the CPU ('cpu' for "
        "a dry run of the script)",
    )
    args = parser.parse_args(argv)
    args.cpu_n = args.n if args.cpu_n is None else args.cpu_n
    args.size = args.size or list(bench_round.SIZES)
    args.estimator_size = args.estimator_size or [(100_000, 64, 10)]

    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("No CUDA device: nothing to check.")
        return 2
    name = torch.cuda.get_device_name() if args.device != "cpu" else "none (dry run)"
    print(
        f"GPU: {name}, CPU threads: {torch.get_num_threads()}, "
        f"torch {torch.__version__}",
        flush=True,
    )
    deadline = time.monotonic() + args.time_limit
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(int(args.time_limit) + 30)
    try:
        print("real path (next question after a model update):", flush=True)
        ok = check_real_path(args, deadline)
        if time.monotonic() < deadline:
            X, y, net, net_cpu = _nets(args)
            ok &= check_ranking(X, y, net, net_cpu, args)
        if time.monotonic() < deadline:
            print(f"speed of Top Fisher (d={args.d}, c={args.c}):")
            check_speed(X, y, net, net_cpu, args)
        if time.monotonic() < deadline:
            ok &= check_parameter_view(args)
        # Last: the timings of the estimators, once every check has run.
        if time.monotonic() < deadline:
            print("estimators inside the cleaner (refit='incremental'):", flush=True)
            ok &= check_estimators(args, deadline)
        if time.monotonic() >= deadline:
            print("time limit reached: later steps skipped")
    except TimeoutError:
        print("time limit reached during a step: results above are partial")
        return 3
    finally:
        signal.alarm(0)
    print("ALL PASS" if ok else "SOME CHECK FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
