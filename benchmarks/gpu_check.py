"""GPU check: CPU and GPU give the same counter-examples, and how fast.

Needs a CUDA device (it exits with a message otherwise). Three checks:

1. Ranking: :class:`~sklearn_cincer.nets.TorchTopFisherSelector` on the CPU
   and on the GPU, on the same skorch net and training set (``--n-compare``
   rows), rank the candidates the same way: same top counter-example, same
   top-10, scores equal to ``--rtol``.
2. Speed at N=1,000,000 (``--n``), d=512 (``--d``), c=10 (``--c``): the
   selector's fit (hooked features of all rows, the Fisher matrix of size
   ``c (d+1)``, its Cholesky factor) and one query (the score of every
   candidate) on each device; medians of ``--repeats`` queries.
3. The torch ParameterView: per-example gradients and a Hessian-vector
   product of a small net agree between CPU and GPU.

The net is ``Linear(64, d) - ReLU - Linear(d, c)`` (so ``h(x)`` has d=512
features), trained for one epoch on a random teacher's labels so that its
probabilities are not uniform.

Usage (about 3-5 minutes on one H100 with 16 cores; the CPU fit at N=1e6 is
most of it; ``--cpu-n`` lowers the CPU size if needed)::

    python benchmarks/gpu_check.py
"""

import argparse
import copy
import sys
import time

import numpy as np


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
        Wide, module__width=args.d, max_epochs=1, batch_size=256,
        target_accuracy=None, random_state=0, device=args.device,
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
        print(f"  query {t}: {len(candidates)} candidates, top-10 equal: {same}, "
              f"max relative score difference {rel:.2e}")
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
        print(f"  {device}: N={n:,}: fit (features, F {args.c * (args.d + 1)}^2, "
              f"Cholesky) {fit_s:.3f} s, query (score all N) median "
              f"{np.median(times) * 1e3:.2f} ms", flush=True)
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
    print(f"parameter view CPU vs GPU: gradients rel diff {g_rel:.1e}, hvp rel diff "
          f"{h_rel:.1e}: {'PASS' if ok else 'FAIL'}")
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--cpu-n", type=int, default=None,
                        help="rows for the CPU speed check (default: --n)")
    parser.add_argument("--d", type=int, default=512)
    parser.add_argument("--c", type=int, default=10)
    parser.add_argument("--n-compare", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rtol", type=float, default=1e-6)
    parser.add_argument("--device", default="cuda",
                        help="the accelerator to compare with the CPU ('cpu' for "
                        "a dry run of the script)")
    args = parser.parse_args()
    args.cpu_n = args.n if args.cpu_n is None else args.cpu_n

    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("No CUDA device: nothing to check.")
        return 2
    name = torch.cuda.get_device_name() if args.device != "cpu" else "none (dry run)"
    print(f"GPU: {name}, CPU threads: {torch.get_num_threads()}, "
          f"torch {torch.__version__}", flush=True)
    X, y, net, net_cpu = _nets(args)
    ok = check_ranking(X, y, net, net_cpu, args)
    print(f"speed of Top Fisher (d={args.d}, c={args.c}):")
    check_speed(X, y, net, net_cpu, args)
    ok &= check_parameter_view(args)
    print("ALL PASS" if ok else "SOME CHECK FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
