"""Turn a ``sklearn-cincer reproduce`` folder into the documentation's tables.

Reads ``<folder>/comparison.csv`` (and ``precision.csv`` when there) and
prints reStructuredText tables: the number of cleaned labels and the final
F1 of every competitor on every pair, ours next to the paper's, and the
seconds per round. Nothing is typed by hand: rerun it on new results.

Usage::

    python benchmarks/grid_tables.py results/paper_incremental \\
        > docs/user_guide/_benchmark_grid_tables.txt
"""

import argparse
import sys
from pathlib import Path

import pandas as pd

from sklearn_cincer.benchmark._report import competitor_row, mean_se_text

COMPETITORS = [  # (strategy, selector, column title)
    ("cincer", "top_fisher", "CINCER (Top Fisher)"),
    ("cincer", "authors_top_fisher", "CINCER (authors' ranking)"),
    ("drop_ce", "top_fisher", "Drop CE"),
    ("no_ce", "none", "No CE"),
    ("cincer", "nearest", "1-NN"),
    ("cincer", "practical_fisher", "Practical Fisher"),
]
PAIR_ORDER = ["breast", "adult", "mnist", "fashion_mnist", "20ng"]
MODEL_ORDER = ["lr", "lr_net", "fc", "cnn"]


def _cell(mean, se, fmt):
    return mean_se_text(mean, se, fmt, missing="n/a")


def rst_table(header, rows):
    """A simple reStructuredText table."""
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    rule = "  ".join("=" * w for w in widths)

    def line(r):
        return "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()

    return "\n".join([rule, line(header), rule] + [line(r) for r in rows] + [rule])


def _sorted_pairs(table):
    pairs = table[["dataset", "model"]].drop_duplicates().itertuples(index=False)
    return sorted(pairs, key=lambda p: (PAIR_ORDER.index(p[0]) if p[0] in PAIR_ORDER
                                        else 99, MODEL_ORDER.index(p[1])
                                        if p[1] in MODEL_ORDER else 99))


def metric_table(table, metric, fmt, refit):
    """Rows: pairs; columns: competitors; cells "ours (paper)"."""
    table = table[table["refit"] == refit]
    header = ["pair"] + [title for _, _, title in COMPETITORS]
    rows = []
    for dataset, model in _sorted_pairs(table):
        g = table[(table["dataset"] == dataset) & (table["model"] == model)]
        row = [f"{dataset} / {model}"]
        for strategy, selector, _ in COMPETITORS:
            m = competitor_row(g, strategy, selector)
            if m is None:
                row.append("n/a")
                continue
            cell = _cell(m[f"ours_{metric}"], m[f"ours_{metric}_se"], fmt)
            if selector != "authors_top_fisher" and not pd.isna(m[f"paper_{metric}"]):
                cell += f" ({m[f'paper_{metric}']:{fmt}})"
            row.append(cell)
        rows.append(row)
    return rst_table(header, rows)


def timing_table(table):
    """Seconds per round (mean over competitors) per pair and refit."""
    header = ["pair"] + [f"s/round, {r}" for r in sorted(table["refit"].unique())]
    rows = []
    for dataset, model in _sorted_pairs(table):
        g = table[(table["dataset"] == dataset) & (table["model"] == model)]
        row = [f"{dataset} / {model}"]
        for refit in sorted(table["refit"].unique()):
            s = g[g["refit"] == refit]["seconds_per_round"]
            row.append(f"{s.min():.3f} - {s.max():.3f}" if len(s) else "n/a")
        rows.append(row)
    return rst_table(header, rows)


def refit_table(table):
    """Incremental next to scratch, for the pairs and competitors run both ways."""
    header = ["pair", "competitor", "cleaned, incremental", "cleaned, scratch",
              "F1, incremental", "F1, scratch", "s/round, incremental",
              "s/round, scratch"]
    rows = []
    for dataset, model in _sorted_pairs(table):
        g = table[(table["dataset"] == dataset) & (table["model"] == model)]
        for strategy, selector, title in COMPETITORS:
            m = g[(g["strategy"] == strategy) & (g["selector"] == selector)]
            by = {r["refit"]: r for _, r in m.iterrows()}
            if not {"incremental", "scratch"} <= set(by):
                continue
            inc, scr = by["incremental"], by["scratch"]
            rows.append([
                f"{dataset} / {model}", title,
                _cell(inc["ours_n_cleaned"], inc["ours_n_cleaned_se"], ".1f"),
                _cell(scr["ours_n_cleaned"], scr["ours_n_cleaned_se"], ".1f"),
                _cell(inc["ours_f1"], inc["ours_f1_se"], ".3f"),
                _cell(scr["ours_f1"], scr["ours_f1_se"], ".3f"),
                f"{inc['seconds_per_round']:.3f}", f"{scr['seconds_per_round']:.3f}",
            ])
    return rst_table(header, rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="+", help="reproduce output folder(s)")
    parser.add_argument("--refits", action="store_true",
                        help="print only incremental next to scratch")
    args = parser.parse_args(argv)
    table = pd.concat([pd.read_csv(Path(f) / "comparison.csv") for f in args.folder],
                      ignore_index=True)
    if args.refits:
        sys.stdout.write(refit_table(table) + "\n")
        return 0
    out = []
    for refit in sorted(table["refit"].unique()):
        out += [f"Labels cleaned after 100 rounds, ``refit=\"{refit}\"`` (ours, mean ± "
                "standard error over 5 repeats; the paper's mean in parentheses):",
                "", metric_table(table, "n_cleaned", ".1f", refit), "",
                f"Final F1 on the clean test set, ``refit=\"{refit}\"``:", "",
                metric_table(table, "f1", ".3f", refit), ""]
    out += ["Seconds per round (the cleaner's work; the F1 measurement is apart), "
            "lowest and highest over the competitors:", "", timing_table(table), ""]
    sys.stdout.write("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
