"""Labels cleaned per label inspected, for several counter-examples per question.

Reads the runs of ``sklearn-cincer benchmark ... --cleaner-param
n_counter_examples=M`` under ``<folder>/runs`` (one folder per pair,
selector and M, as the benchmark writes them) and prints the documentation's
table: per pair, selector and M (mean ± standard error over the repeats, at
the last round) the questions asked, the labels inspected (each question's
example plus every counter-example shown), the labels cleaned, the labels
cleaned per label inspected, the counter-examples cleaned, the fraction of
counter-examples shown that were mislabeled, and the final F1. A second
table says how often the counter-example at each rank (best first) was
mislabeled, next to the training set's own noise before each question (what
checking a random training label would find). With ``--figure`` it also
draws labels cleaned against labels inspected.
Nothing is typed by hand: rerun it on new results.

Usage::

    python benchmarks/multi_ce_table.py results/multi_ce \\
        --figure docs/_static/multi_ce.png > docs/user_guide/_multi_ce_table.txt
"""

import argparse
import ast
import json
from pathlib import Path

import numpy as np
import pandas as pd

from sklearn_cincer.benchmark._report import mean_se_text

PAIR_ORDER = [("breast", "fc"), ("adult", "fc"), ("20ng", "fc"), ("mnist", "lr")]
SELECTOR_NAMES = {
    "cleaning": "cleaning (default)",
    "top_fisher": "Top Fisher",
    "practical_fisher": "Practical Fisher",
}


def _runs(folder):
    """``(spec, m, trace path)`` of every cleaning run with counter-examples."""
    for config in sorted(Path(folder, "runs").glob("*/config.json")):
        spec = json.loads(config.read_text())
        if spec.get("strategy") != "cincer":
            continue
        m = int(spec.get("cleaner_params", {}).get("n_counter_examples", 1))
        for path in sorted(config.parent.glob("trace_*.csv")):
            yield spec, m, path


def rank_rows(folder):
    """Per run and repeat: how often the k-th counter-example was mislabeled,
    and the noise of the training set before each question."""
    rows = []
    for spec, m, path in _runs(folder):
        queries = path.with_name(path.name.replace("trace_", "queries_"))
        if not queries.is_file():
            continue
        q = pd.read_csv(queries)
        if q.empty or "counter_examples_noisy" not in q:
            continue
        trace = pd.read_csv(path).set_index("round")
        noisy = [ast.literal_eval(v) for v in q["counter_examples_noisy"]]
        before = trace.loc[q["round"] - 1]
        row = {
            "dataset": spec["dataset"],
            "model": spec["model"],
            "selector": spec["selector"],
            "refit": spec["refit"],
            "m": m,
            "train": float((before["n_noisy_train"] / before["n_train"]).mean()),
        }
        for k in range(3):
            at_k = [n[k] for n in noisy if len(n) > k]
            row[f"rank_{k + 1}"] = float(np.mean(at_k)) if at_k else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def final_rows(folder):
    """One row per run folder and repeat: the last round of its trace."""
    rows = []
    for spec, m, path in _runs(folder):
        trace = pd.read_csv(path)
        last = trace[trace["round"] == trace["round"].max()].iloc[0]
        if "n_ce_shown" not in last:
            continue  # a run from before n_counter_examples existed
        inspected = last["n_queried"] + last["n_ce_shown"]
        rows.append(
            {
                "dataset": spec["dataset"],
                "model": spec["model"],
                "selector": spec["selector"],
                "refit": spec["refit"],
                "m": m,
                "repeat": int(last["repeat"]),
                "questions": last["n_queried"],
                "inspected": inspected,
                "cleaned": last["n_cleaned"],
                "cleaned_ce": last["n_cleaned_ce"],
                "per_label": last["n_cleaned"] / inspected if inspected else np.nan,
                "noisy_shown": (
                    last["n_noisy_ce"] / last["n_ce_shown"]
                    if last["n_ce_shown"]
                    else np.nan
                ),
                "f1": last["f1"],
            }
        )
    return pd.DataFrame(rows)


def _se(values):
    return float(values.std(ddof=0) / np.sqrt(len(values)))


COLUMNS = [  # (title, column, format)
    ("questions", "questions", ".1f"),
    ("inspected", "inspected", ".1f"),
    ("cleaned", "cleaned", ".1f"),
    ("cleaned / inspected", "per_label", ".3f"),
    ("CE cleaned", "cleaned_ce", ".1f"),
    ("CE shown mislabeled", "noisy_shown", ".2f"),
    ("final F1", "f1", ".3f"),
]


RANK_COLUMNS = [
    ("1st CE", "rank_1", ".2f"),
    ("2nd CE", "rank_2", ".2f"),
    ("3rd CE", "rank_3", ".2f"),
    ("training set (a random label)", "train", ".2f"),
]


def summary(rows, columns=COLUMNS):
    """Mean and SE over repeats per pair, selector, refit and m.

    A repeat without a value (no question showed a third counter-example)
    does not count for that column.
    """
    out = []
    keys = ["dataset", "model", "selector", "refit", "m"]
    for key, g in rows.groupby(keys, sort=False):
        row = dict(zip(keys, key), n_repeats=len(g))
        for _, column, _ in columns:
            values = g[column].dropna()
            row[column] = float(values.mean()) if len(values) else np.nan
            row[column + "_se"] = _se(values) if len(values) else np.nan
        out.append(row)
    frame = pd.DataFrame(out)
    order = {pair: i for i, pair in enumerate(PAIR_ORDER)}
    selectors = list(SELECTOR_NAMES)
    frame["_pair"] = [
        order.get(pair, 99) for pair in zip(frame["dataset"], frame["model"])
    ]
    frame["_selector"] = [
        selectors.index(s) if s in selectors else 99 for s in frame["selector"]
    ]
    return frame.sort_values(
        ["_pair", "dataset", "model", "refit", "_selector", "selector", "m"]
    )


def rst_table(frame, columns=COLUMNS):
    from grid_tables import rst_table as table

    header = ["pair", "selector", "m", "n"] + [title for title, _, _ in columns]
    body = []
    for _, r in frame.iterrows():
        body.append(
            [
                f"{r['dataset']} / {r['model']}",
                SELECTOR_NAMES.get(r["selector"], r["selector"]),
                str(r["m"]),
                str(r["n_repeats"]),
            ]
            + [
                mean_se_text(r[c], r[c + "_se"], fmt, missing="")
                for _, c, fmt in columns
            ]
        )
    return table(header, body)


def figure(frame, path):
    """Labels cleaned against labels inspected, one panel per pair."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pairs = list(dict.fromkeys(zip(frame["dataset"], frame["model"])))
    fig, axes = plt.subplots(1, len(pairs), figsize=(4.2 * len(pairs), 3.6))
    for ax, (dataset, model) in zip(np.atleast_1d(axes), pairs):
        g = frame[(frame["dataset"] == dataset) & (frame["model"] == model)]
        for selector, s in g.groupby("selector", sort=False):
            ax.errorbar(
                s["inspected"],
                s["cleaned"],
                xerr=s["inspected_se"],
                yerr=s["cleaned_se"],
                marker="o",
                capsize=3,
                label=SELECTOR_NAMES.get(selector, selector),
            )
            for _, r in s.iterrows():
                ax.annotate(
                    f"m={r['m']}",
                    (r["inspected"], r["cleaned"]),
                    textcoords="offset points",
                    xytext=(5, -12),
                    fontsize="small",
                )
        top = float((g["inspected"] + g["inspected_se"]).max()) * 1.05
        ax.plot(
            [0, top],
            [0, top],
            color="0.8",
            linestyle=":",
            zorder=0,
            label="one label cleaned per label inspected",
        )
        ax.set_xlim(0, top)
        ax.set_ylim(0, float((g["cleaned"] + g["cleaned_se"]).max()) * 1.15)
        ax.set_title(f"{dataset} / {model}")
        ax.set_xlabel("labels inspected (examples + counter-examples)")
        ax.set_ylabel("labels cleaned")
        ax.grid(alpha=0.3)
    # The last panel's lower right is empty: one legend for every panel.
    handles, labels = np.atleast_1d(axes)[0].get_legend_handles_labels()
    np.atleast_1d(axes)[-1].legend(handles, labels, fontsize="small", loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return fig


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="the benchmark's --output folder")
    parser.add_argument("--figure", default=None, help="also draw this PNG")
    args = parser.parse_args(argv)
    frame = summary(final_rows(args.folder))
    print(rst_table(frame))
    print()
    print(
        "How often the counter-example at each rank was mislabeled, and the "
        "training set's noise before each question:"
    )
    print()
    print(rst_table(summary(rank_rows(args.folder), RANK_COLUMNS), RANK_COLUMNS))
    if args.figure:
        figure(frame, args.figure)
    return frame


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))  # grid_tables
    main()
