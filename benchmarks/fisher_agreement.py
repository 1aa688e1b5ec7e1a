"""How often each approximation of the Fisher picks the exact counter-example.

For each (data set, model) of the paper's grid and for synthetic data at the
sizes of the speed targets: a model trained on ``n`` rows with 20% label
noise, then ``--queries`` suspicious examples (a held-out row whose noisy
label the model contradicts with a margin of at least 0.2, as the cleaner
would ask). Every candidate (a training row labeled as the prediction) is
scored with the exact top-layer Fisher (``TopFisherSelector(fisher="exact",
solver="cholesky")``, float64, or matrix-free conjugate gradients to 1e-8
where ``F`` is too large to form) and with each approximation:

* ``kfac``, ``ekfac``: Kronecker-factored ``F``, from every row;
* ``sub30`` (the authors' 30 rows), ``sub10%``: the exact ``F`` of a random
  subsample (a new draw per seed);
* ``float32``: the exact ``F`` with the passes over the rows in float32;
* ``cg``: matrix-free conjugate gradients to the default ``tol=1e-4``;
* ``auto``: what ``TopFisherSelector()`` chooses at that size.

Reported per variant: top-1 agreement (the same pick), top-5 overlap
(shared picks among the five best, over 5), the median Spearman correlation
of the scores and, where ``F`` can be formed, the relative error of the
approximated ``F`` in Frobenius norm. Writes ``agreement.csv``,
``agreement.md`` and ``agreement.png`` to ``--output``.

Run (about an hour on one busy core for everything)::

    OMP_NUM_THREADS=1 python benchmarks/fisher_agreement.py --output results/agreement
    python benchmarks/fisher_agreement.py --only synthetic --sizes 10000,64,10
"""

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from sklearn_cincer import TopFisherSelector
from sklearn_cincer._core import fisher_math as _fisher

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_round import SoftmaxHead, make_data, one_thread  # noqa: E402

# The grid's pairs (data set, model) and the training sizes compared: the
# grid's own (100 bootstrap + 100 rounds) and ten times larger.
PAIRS = (
    ("mnist", "lr"),
    ("breast", "fc"),
    ("adult", "fc"),
    ("fashion_mnist", "fc"),
    ("20ng", "fc"),
    ("mnist", "fc"),
)
GRID_SIZES = (200, 2000)
SYNTHETIC = ((10_000, 64, 10), (100_000, 64, 10), (20_000, 512, 10), (4_000, 16, 300))

VARIANTS = {
    "kfac": dict(fisher="kfac", subsample=None),
    "ekfac": dict(fisher="ekfac", subsample=None),
    "sub30": dict(fisher="exact", solver="cholesky", subsample=30),
    "sub10%": dict(fisher="exact", solver="cholesky", subsample=0.1),
    "float32": dict(fisher="exact", solver="cholesky", dtype="float32"),
    "cg": dict(fisher="exact", solver="cg"),
    "auto": dict(),
}
EXACT = dict(fisher="exact", solver="cholesky", subsample=None, dtype="float64")
# Parameters up to which F is formed to measure an approximation's error.
_MAX_FORMED = 4000


def _queries(model, X_pool, y_pool, n_queries, threshold=0.2):
    """Rows of the pool the model contradicts: (x, noisy label, prediction)."""
    P = model.predict_proba(X_pool)
    classes = model.classes_
    label = np.searchsorted(classes, y_pool)
    prediction = P.argmax(axis=1)
    margin = P[np.arange(len(P)), prediction] - P[np.arange(len(P)), label]
    rows = np.flatnonzero((prediction != label) & (margin >= threshold))
    return [(X_pool[i], y_pool[i], classes[prediction[i]]) for i in rows[:n_queries]]


def _approximation_error(selector, exact):
    """``||F~ - F||_F / ||F||_F`` where ``F`` is small enough to form."""
    if exact._fisher_sum is None:
        return np.nan
    F = exact._fisher_sum / exact.n_fisher_rows_
    if F.shape[0] > _MAX_FORMED:
        return np.nan
    factor = selector.factor_
    if isinstance(factor, _fisher.KroneckerFactor):
        Q = np.kron(factor.QG, factor.QA)
        approx = (Q * factor.eigenvalues.ravel()) @ Q.T
    elif selector._fisher_sum is not None:
        approx = selector._fisher_sum / selector.n_fisher_rows_
    else:
        return np.nan
    return float(np.linalg.norm(approx - F) / np.linalg.norm(F))


def compare(model, X, y, queries, variants, seed, label, exact_params=EXACT):
    """One row per variant: agreement with the exact picks on ``queries``."""
    start = time.perf_counter()
    exact = TopFisherSelector(**exact_params).fit(model, X, y)
    reference = []
    for x, y_t, prediction in queries:
        candidates = np.flatnonzero(y == prediction)
        if candidates.size >= 5:
            reference.append((x, y_t, candidates, exact.score(x, y_t, candidates)))
    exact_s = time.perf_counter() - start
    rows = []
    for name, params in variants.items():
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            selector = TopFisherSelector(**params, random_state=seed).fit(model, X, y)
            got = [selector.score(x, y_t, c) for x, y_t, c, _ in reference]
        seconds = time.perf_counter() - start
        top1 = [np.argmax(g) == np.argmax(s) for g, (*_, s) in zip(got, reference)]
        top5 = [
            len(set(np.argsort(-g)[:5]) & set(np.argsort(-s)[:5])) / 5
            for g, (*_, s) in zip(got, reference)
        ]
        rho = [spearmanr(g, s).statistic for g, (*_, s) in zip(got, reference)]
        rows.append(
            {
                "setting": label,
                "variant": name,
                "form": f"{selector.fisher_}/{selector.solver_}",
                "rows": selector.n_fisher_rows_,
                "dtype": str(selector.dtype_),
                "queries": len(reference),
                "top1": float(np.mean(top1)),
                "top5": float(np.mean(top5)),
                "spearman": float(np.median(rho)),
                "f_error": _approximation_error(selector, exact),
                "seconds": seconds,
                "exact_seconds": exact_s,
                "seed": seed,
            }
        )
    return rows


def grid_rows(pairs, sizes, n_queries, seeds, data_home):
    from sklearn_cincer.benchmark import make_model
    from sklearn_cincer.datasets import load_dataset, make_label_noise

    out = []
    for dataset, model_name in pairs:
        try:
            data = load_dataset(dataset, data_home=data_home)
        except (OSError, ValueError) as exc:
            print(f"skipping {dataset}: {exc}", flush=True)
            continue
        for n in sizes:
            for seed in seeds:
                rng = np.random.RandomState(seed)
                order = rng.permutation(len(data.y_train))
                n_train = min(n, len(order) // 2)
                train, pool = order[:n_train], order[n_train : n_train + 5000]
                y_noisy, _ = make_label_noise(data.y_train, 0.2, random_state=seed)
                X, y = data.X_train[train], y_noisy[train]
                model = make_model(model_name, random_state=seed).fit(X, y)
                queries = _queries(model, data.X_train[pool], y_noisy[pool], n_queries)
                label = f"{dataset}/{model_name} n={n_train}"
                rows = compare(model, X, y, queries, VARIANTS, seed, label)
                out += rows
                _print(rows)
    return out


def synthetic_rows(sizes, n_queries, seeds):
    out = []
    for n, d, c in sizes:
        P = c * (d + 1)
        # The exact reference: F formed where it fits, else conjugate
        # gradients to a tight tolerance.
        reference = (
            EXACT
            if n * P * P <= 2**36 and P <= 12_000
            else dict(
                fisher="exact", solver="cg", tol=1e-8, subsample=None, dtype="float64"
            )
        )
        for seed in seeds:
            X, y_true, _ = make_data(n, d, c, 0, dtype=np.float64, seed=seed)
            y, _ = _noisy(y_true, c, seed)
            model = SoftmaxHead(n_steps=20).fit(X, y)
            Xq, yq_true, _ = make_data(
                5 * n_queries + 200, d, c, 0, dtype=np.float64, seed=seed + 100
            )
            yq, _ = _noisy(yq_true, c, seed + 1)
            queries = _queries(model, Xq, yq, n_queries)
            variants = {
                k: v
                for k, v in VARIANTS.items()
                if not (k in ("float32", "sub10%", "sub30") and P > 12_000)
            }
            label = f"synthetic N={n:,} d={d} c={c}"
            rows = compare(model, X, y, queries, variants, seed, label, reference)
            out += rows
            _print(rows)
    return out


def _noisy(y, c, seed):
    rng = np.random.RandomState(seed)
    flip = rng.rand(len(y)) < 0.2
    y = y.copy()
    y[flip] = (y[flip] + rng.randint(1, c, flip.sum())) % c
    return y, flip


_CSV = {"path": None}


def _print(rows):
    """Print rows as they come, and append them to the CSV (a long run that
    is stopped keeps what it measured)."""
    if _CSV["path"] is not None:
        import pandas as pd

        path = _CSV["path"]
        pd.DataFrame(rows).to_csv(path, mode="a", header=not path.exists(), index=False)
    for r in rows:
        print(
            f"{r['setting']:<34} {r['variant']:<8} {r['form']:<13} "
            f"rows={r['rows']:>7} top1 {r['top1']:.2f} top5 {r['top5']:.2f} "
            f"rho {r['spearman']:.3f} F err {r['f_error']:.3f} "
            f"({r['seconds']:.1f} s, exact {r['exact_seconds']:.1f} s)",
            flush=True,
        )


def summarize(frame, output):
    """agreement.md (means over seeds) and agreement.png (top-1 per variant)."""
    table = (
        frame.groupby(["setting", "variant"], sort=False)
        .agg(
            form=("form", "first"),
            rows=("rows", "mean"),
            queries=("queries", "sum"),
            top1=("top1", "mean"),
            top5=("top5", "mean"),
            spearman=("spearman", "mean"),
            f_error=("f_error", "mean"),
            seconds=("seconds", "mean"),
        )
        .reset_index()
    )
    lines = [
        "| setting | variant | form | rows | queries | top-1 | top-5 | "
        "Spearman | F error | seconds |",
        "|" + "---|" * 10,
    ]
    for r in table.itertuples():
        lines.append(
            f"| {r.setting} | {r.variant} | {r.form} | {r.rows:,.0f} | {r.queries} | "
            f"{r.top1:.2f} | {r.top5:.2f} | {r.spearman:.3f} | "
            f"{'' if np.isnan(r.f_error) else f'{r.f_error:.3f}'} | {r.seconds:.2f} |"
        )
    (output / "agreement.md").write_text("\n".join(lines) + "\n")
    (output / "agreement_table.rst").write_text(_rst_table(table))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    settings = list(dict.fromkeys(table.setting))
    variants = list(dict.fromkeys(table.variant))
    fig, ax = plt.subplots(figsize=(max(8, 1.2 * len(settings)), 4.5))
    width = 0.8 / len(variants)
    for j, variant in enumerate(variants):
        sub = table[table.variant == variant].set_index("setting")
        values = [sub.top1.get(s, np.nan) for s in settings]
        ax.bar(np.arange(len(settings)) + j * width, values, width, label=variant)
    ax.axhline(0.95, color="k", lw=0.8, ls="--")
    ax.set_xticks(np.arange(len(settings)) + 0.4 - width / 2)
    ax.set_xticklabels(settings, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("top-1 agreement with the exact pick")
    ax.set_ylim(0, 1.05)
    ax.legend(ncol=4, fontsize=8)
    fig.tight_layout()
    fig.savefig(output / "agreement.png", dpi=120)
    return table


def _rst_table(table):
    """The docs' table: top-1 agreement (median Spearman) per setting and
    variant, and the relative error of the approximated F where measured."""
    variants = list(dict.fromkeys(table.variant))
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - setting (training rows)",
    ]
    lines += [f"     - {v}" for v in variants]
    lines.append("     - F error: K-FAC / EK-FAC / 10%")
    for setting, group in table.groupby("setting", sort=False):
        group = group.set_index("variant")
        lines.append(f"   * - {setting}")
        for v in variants:
            if v in group.index:
                r = group.loc[v]
                lines.append(f"     - {r.top1:.2f} ({r.spearman:.2f})")
            else:
                lines.append("     -")
        errors = [group.f_error.get(v, np.nan) for v in ("kfac", "ekfac", "sub10%")]
        lines.append(
            "     - " + " / ".join("-" if np.isnan(e) else f"{e:.2f}" for e in errors)
        )
    return "\n".join(lines) + "\n"


def _size(text):
    return tuple(int(float(v)) for v in text.split(","))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="results/agreement")
    parser.add_argument("--only", choices=["grid", "synthetic"], default=None)
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--grid-sizes", type=int, nargs="+", default=list(GRID_SIZES))
    parser.add_argument(
        "--sizes", type=_size, action="append", help="synthetic N,d,c (repeatable)"
    )
    parser.add_argument(
        "--pairs",
        nargs="+",
        default=None,
        help="dataset/model pairs, e.g. mnist/lr breast/fc",
    )
    parser.add_argument("--data-home", default=None)
    args = parser.parse_args(argv)
    import pandas as pd

    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    pairs = PAIRS if args.pairs is None else [tuple(p.split("/")) for p in args.pairs]
    print(f"load average {os.getloadavg()}", flush=True)
    rows = []
    seeds = range(args.seeds)
    _CSV["path"] = output / "agreement.csv"
    _CSV["path"].unlink(missing_ok=True)
    with one_thread():
        if args.only in (None, "grid"):
            rows += grid_rows(
                pairs, args.grid_sizes, args.queries, seeds, args.data_home
            )
        if args.only in (None, "synthetic"):
            rows += synthetic_rows(args.sizes or SYNTHETIC, args.queries, seeds)
    frame = pd.read_csv(output / "agreement.csv")
    summarize(frame, output)
    print((output / "agreement.md").read_text())
    print(f"load average {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
