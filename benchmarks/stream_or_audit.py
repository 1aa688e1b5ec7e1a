"""Stream or audit? Errors fixed on a static file at equal labels inspected.

A noisy copy of a data set (20% of the labels corrupted) is cleaned three
ways, with a simulated annotator who gives every inspected label its true
value:

* ``stream``: :class:`~sklearn_cincer.SkepticalCleaner` over the file, as
  ``sklearn-cincer clean`` runs it: a bootstrap of 100 rows (half the file
  when it has fewer than 200) trains the model, the other rows are streamed
  once, each suspicious one asked about with its counter-example
  (``threshold=0.2``, ``refit="incremental"``, the cleaning selector);
* ``audit``: :class:`~sklearn_cincer.LabelAuditor` over the file, as
  ``sklearn-cincer audit`` runs it (5-fold ranking, refit every 10 labels,
  the cleaning selector);
* ``audit_then_stream``: the first half of the file is audited with half
  the budget, then the cleaner, bootstrapped on those audited rows, streams
  the second half ("new rows") with the rest of the budget.

Each is measured at the same labels inspected ``B`` (10 and 20% of the
rows; a question of the cleaner inspects two labels, the row and its
counter-example, as does an auditor's question with a relabel offer). The
streaming cleaner takes no budget: a run is read at each budget by
replaying its answers up to ``B`` labels, which is what a person who stops
there leaves (the questions before are the same). When the stream asks
fewer than ``B`` labels in all, every method gets the labels it asked.
"Errors fixed" counts the noisy labels of the whole file that end up
correct, as a percentage of the noisy labels.

Each (data set, noise, seed) task writes ``<output>/runs/*.csv`` when it
finishes and is skipped when that file exists, so a stopped run resumes and
the table can be written from the tasks done (``--report-only``)::

    OMP_NUM_THREADS=1 nice -n 19 python benchmarks/stream_or_audit.py \\
        --output results/stream_or_audit
    python benchmarks/stream_or_audit.py --output results/stream_or_audit \\
        --report-only --docs
"""

import argparse
import os
import time
from pathlib import Path

import numpy as np

DATASETS = ("breast", "wine", "digits", "adult", "mnist", "20ng")
NOISES = ("uniform", "pairwise", "confusion")
BUDGETS = (0.1, 0.2)
METHODS = ("stream", "audit", "audit_then_stream")
LABELS = {
    "stream": "stream",
    "audit": "audit",
    "audit_then_stream": "audit, then stream",
}
#: Rows drawn per seed from the training pool of the large data sets, so that
#: a streamed file (one model update per row) runs in about a minute.
ROWS = {"adult": 500, "mnist": 500, "20ng": 500, "digits": 500}
COLUMNS = (
    "dataset",
    "noise",
    "seed",
    "budget",
    "method",
    "n_rows",
    "n_noisy",
    "labels_budget",
    "labels_inspected",
    "questions",
    "errors_fixed",
    "noise_removed",
    "seconds",
)


def load(name, seed, data_home=None):
    """The rows of one file: a shuffled subset of the loader's training split."""
    from sklearn_cincer.benchmark import load_audit_data

    X, y, _, _ = load_audit_data(name, seed, data_home=data_home)
    rows = ROWS.get(name, y.shape[0])
    order = np.random.RandomState(seed).permutation(y.shape[0])[:rows]
    return X[order], y[order]


def labels_per_question(record):
    """Labels a cleaner's question inspects: the row and each counter-example."""
    return 0 if record.skipped else 1 + len(record.counter_example_ids)


def replay(history, labels, budget):
    """Labels after the answers of ``history`` up to ``budget`` labels inspected.

    Returns ``(labels, labels_inspected, questions)``; ``labels`` is a copy
    indexed by stream id.
    """
    labels = labels.copy()
    spent = questions = 0
    for record in history:
        n = labels_per_question(record)
        if spent + n > budget:
            break
        spent += n
        questions += 1
        if record.skipped:
            continue
        labels[record.example_id] = record.label_after
        for ce, after in zip(record.counter_example_ids, record.counter_labels_after):
            if after is not None:
                labels[ce] = after
    return labels, spent, questions


def stream(X, y_noisy, y_true, seed, n_bootstrap=None):
    """The cleaner over the rows in order, as ``sklearn-cincer clean`` runs it."""
    from sklearn_cincer import SimulatedOracle, SkepticalCleaner
    from sklearn_cincer.benchmark import make_model

    n = y_noisy.shape[0]
    if n_bootstrap is None:
        n_bootstrap = 100 if n >= 200 else max(2, n // 2)
    cleaner = SkepticalCleaner(
        make_model("lr", random_state=seed),
        oracle=SimulatedOracle(y_true),
        threshold=0.2,
        n_bootstrap=n_bootstrap,
        refit="incremental",
        random_state=seed,
    ).fit(X, y_noisy)
    return cleaner.history_


def audit(X, y_noisy, y_true, seed, budget):
    """The auditor over the rows, as ``sklearn-cincer audit`` runs it."""
    from sklearn_cincer import LabelAuditor, SimulatedOracle
    from sklearn_cincer.benchmark import make_model

    if budget < 1:
        return y_noisy.copy(), 0, 0
    auditor = LabelAuditor(
        make_model("lr", random_state=seed),
        oracle=SimulatedOracle(y_true),
        budget=int(budget),
        random_state=seed,
        explain_issues=False,
    ).fit(X, y_noisy)
    return auditor.y_, auditor.n_inspected_, auditor.n_queries_


def run_task(dataset, noise, seed, budgets=BUDGETS, data=None, data_home=None):
    """All methods and budgets on one noisy copy; a list of result rows."""
    from sklearn_cincer.datasets import make_label_noise

    X, y_true = load(dataset, seed, data_home) if data is None else data
    n = y_true.shape[0]
    y_noisy, _ = make_label_noise(
        y_true,
        0.2,
        kind=noise,
        random_state=seed,
        classes=np.unique(y_true),
        X=X if noise == "confusion" else None,
    )
    noisy = y_noisy != y_true
    half = n // 2

    def row(budget, method, n_budget, y_clean, spent, questions, seconds):
        fixed = int((noisy & (y_clean == y_true)).sum())
        return dict(
            dataset=dataset,
            noise=noise,
            seed=seed,
            budget=budget,
            method=method,
            n_rows=n,
            n_noisy=int(noisy.sum()),
            labels_budget=int(n_budget),
            labels_inspected=int(spent),
            questions=int(questions),
            errors_fixed=fixed,
            noise_removed=100 * fixed / max(1, int(noisy.sum())),
            seconds=seconds,
        )

    t0 = time.perf_counter()
    history = stream(X, y_noisy, y_true, seed)
    stream_seconds = time.perf_counter() - t0
    stream_total = sum(labels_per_question(r) for r in history)
    rows = []
    for budget in budgets:
        n_budget = min(int(round(budget * n)), stream_total)
        y_clean, spent, questions = replay(history, y_noisy, n_budget)
        rows.append(
            row(budget, "stream", n_budget, y_clean, spent, questions, stream_seconds)
        )
        t0 = time.perf_counter()
        y_clean, spent, questions = audit(X, y_noisy, y_true, seed, n_budget)
        rows.append(
            row(
                budget,
                "audit",
                n_budget,
                y_clean,
                spent,
                questions,
                time.perf_counter() - t0,
            )
        )
        t0 = time.perf_counter()
        first, used, asked = audit(
            X[:half], y_noisy[:half], y_true[:half], seed, n_budget // 2
        )
        both = np.concatenate([first, y_noisy[half:]])
        later = stream(X, both, y_true, seed, n_bootstrap=half)
        y_clean, more, more_q = replay(later, both, n_budget - used)
        rows.append(
            row(
                budget,
                "audit_then_stream",
                n_budget,
                y_clean,
                used + more,
                asked + more_q,
                time.perf_counter() - t0,
            )
        )
    return rows


def _write(rows, path):
    import pandas as pd

    tmp = path.with_name(path.name + ".part")
    pd.DataFrame(rows, columns=list(COLUMNS)).to_csv(tmp, index=False)
    os.replace(tmp, path)


def _claim(path):
    """Whether this process takes the task (several may run side by side)."""
    try:
        os.close(
            os.open(path.with_suffix(".running"), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        )
    except FileExistsError:
        return False
    return True


def run(datasets, noises, seeds, budgets, output, data_home=None):
    """Run the tasks not done yet, writing each as it finishes.

    A task being run has a ``.running`` file, so that a second process
    started on the same output takes the next task (remove those files
    after a process was killed).
    """
    folder = Path(output) / "runs"
    folder.mkdir(parents=True, exist_ok=True)
    for seed in seeds:  # every cell gets its first seeds first
        for dataset in datasets:
            for noise in noises:
                path = folder / f"{dataset}__{noise}__{seed}.csv"
                if path.is_file() or not _claim(path):
                    continue
                t0 = time.perf_counter()
                try:
                    rows = run_task(dataset, noise, seed, budgets, data_home=data_home)
                    _write(rows, path)
                finally:
                    path.with_suffix(".running").unlink()
                print(
                    f"{dataset} {noise} seed {seed}: {time.perf_counter() - t0:.0f} s",
                    flush=True,
                )


def read_runs(output):
    """Every finished task's rows, in one frame."""
    import pandas as pd

    paths = sorted((Path(output) / "runs").glob("*.csv"))
    if not paths:
        raise SystemExit(f"no finished task under {output}/runs")
    return pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)


def summarize(results):
    """Mean and standard error over seeds (``ddof=0``) per cell and method."""
    import pandas as pd

    keys = ["dataset", "noise", "budget", "method"]
    out = (
        results.groupby(keys, sort=False)
        .agg(
            labels=("labels_inspected", "mean"),
            questions=("questions", "mean"),
            noise_removed=("noise_removed", "mean"),
            se=("noise_removed", lambda v: v.std(ddof=0) / np.sqrt(len(v))),
            n_seeds=("seed", "nunique"),
        )
        .reset_index()
    )
    order = {name: i for i, name in enumerate(DATASETS)}
    noise = {name: i for i, name in enumerate(NOISES)}
    method = {name: i for i, name in enumerate(METHODS)}
    key = (
        out["dataset"].map(order) * 1000
        + out["noise"].map(noise) * 100
        + out["budget"] * 10
        + out["method"].map(method) / 10
    )
    return (
        out.assign(_k=key)
        .sort_values("_k")
        .drop(columns="_k")
        .pipe(pd.DataFrame.reset_index, drop=True)
    )


def wins(summary):
    """Cells (data set, noise, budget) where each method removes the most noise.

    A tie counts for every method that reaches the most.
    """
    table = summary.pivot_table(
        index=["dataset", "noise", "budget"], columns="method", values="noise_removed"
    )
    best = table.max(axis=1)
    return {m: int((table[m] >= best).sum()) for m in METHODS if m in table}


def table_rst(summary):
    """A ``csv-table`` of noise removed, one row per cell, a column per method."""
    header = [
        "data set",
        "noise",
        "budget",
        "labels",
        "stream",
        "audit",
        "audit, then stream",
        "seeds",
    ]
    lines = [
        ".. csv-table:: Noise removed (% of the noisy labels, mean ± SE "
        "over seeds) at equal labels inspected",
        "   :header: " + ", ".join(f'"{h}"' for h in header),
        "",
    ]
    for (dataset, noise, budget), g in summary.groupby(
        ["dataset", "noise", "budget"], sort=False
    ):
        g = g.set_index("method")
        cells = [
            f"{g.loc[m, 'noise_removed']:.1f} ± {g.loc[m, 'se']:.1f}"
            if m in g.index
            else ""
            for m in METHODS
        ]
        labels = f"{g['labels'].max():.0f}"
        lines.append(
            "   "
            + ", ".join(
                f'"{v}"'
                for v in [
                    dataset,
                    noise,
                    f"{budget:.0%}",
                    labels,
                    *cells,
                    str(int(g["n_seeds"].min())),
                ]
            )
        )
    return "\n".join(lines) + "\n"


def plot(summary, path):
    """Noise removed against the budget, one panel per data set and noise."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = list(summary.groupby(["dataset", "noise"], sort=False))
    ncols = 3
    nrows = int(np.ceil(len(groups) / ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(9, 2.4 * nrows), squeeze=False, sharey=True
    )
    styles = {"stream": "--o", "audit": "-s", "audit_then_stream": ":^"}
    for ax, ((dataset, noise), g) in zip(axes.ravel(), groups):
        for method in METHODS:
            m = g[g["method"] == method].sort_values("budget")
            ax.errorbar(
                100 * m["budget"],
                m["noise_removed"],
                m["se"],
                fmt=styles[method],
                label=LABELS[method],
                capsize=2,
                markersize=4,
            )
        ax.set_title(f"{dataset}, {noise}", fontsize="small")
    for ax in axes[-1]:
        ax.set_xlabel("labels inspected (% of rows)")
    for ax in axes[:, 0]:
        ax.set_ylabel("noise removed (%)")
    for ax in axes.ravel()[len(groups) :]:
        ax.set_visible(False)
    axes[0, 0].legend(fontsize="x-small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def report(output, docs=False, budgets=BUDGETS):
    """Write the table and the figure; with ``docs``, into the user guide.

    Only the rows of ``budgets`` count (tasks run with more keep theirs).
    """
    results = read_runs(output)
    results = results[np.isin(results["budget"], budgets)]
    summary = summarize(results)
    summary.to_csv(Path(output) / "summary.csv", index=False)
    text = table_rst(summary)
    (Path(output) / "summary.rst").write_text(text)
    plot(summary, Path(output) / "stream_or_audit.png")
    if docs:
        root = Path(__file__).resolve().parent.parent
        (root / "docs/user_guide/_stream_or_audit.txt").write_text(text)
        plot(summary, root / "docs/_static/stream_or_audit.png")
    print(text)
    print("cells won (most noise removed):", wins(summary))
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--noise", nargs="+", default=list(NOISES))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budgets", nargs="+", type=float, default=list(BUDGETS))
    parser.add_argument("--output", default="results/stream_or_audit")
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument(
        "--docs",
        action="store_true",
        help="also write docs/user_guide/_stream_or_audit.txt "
        "and docs/_static/stream_or_audit.png",
    )
    args = parser.parse_args(argv)
    if not args.report_only:
        run(
            args.datasets,
            args.noise,
            range(args.seeds),
            args.budgets,
            args.output,
            args.data_home,
        )
    report(args.output, docs=args.docs, budgets=args.budgets)


if __name__ == "__main__":
    main()
