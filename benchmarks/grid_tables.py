"""Turn a ``sklearn-cincer reproduce`` folder into the documentation's tables.

Reads ``<folder>/comparison.csv`` (and ``precision.csv`` when there) and
prints reStructuredText tables: per pair and competitor, the labels cleaned,
the counter-examples cleaned, the fraction of the counter-examples shown that
were mislabeled, the questions asked and the final F1, ours next to the
paper's; the targets of the cleaning selector (issue 10); the seconds per
round; and Q2's Pr@5. Nothing is typed by hand: rerun it on new results.

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
    ("cincer", "cleaning", "CINCER (cleaning)"),
    ("cincer", "top_fisher", "CINCER (Top Fisher)"),
    ("cincer", "authors_top_fisher", "CINCER (authors' ranking)"),
    ("cincer", "practical_fisher", "Practical Fisher"),
    ("drop_ce", "cleaning", "Drop CE"),
    ("no_ce", "none", "No CE"),
    ("cincer", "nearest", "1-NN"),
]
#: Q2 selectors, in column order.
Q2_COLUMNS = [
    ("cleaning", "cleaning"),
    ("top_fisher", "Top Fisher"),
    ("authors_top_fisher", "authors'"),
    ("practical_fisher", "Practical F."),
    ("influence", "influence"),
    ("nearest", "1-NN"),
    ("full_fisher", "Full Fisher"),
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
    return sorted(
        pairs,
        key=lambda p: (
            PAIR_ORDER.index(p[0]) if p[0] in PAIR_ORDER else 99,
            MODEL_ORDER.index(p[1]) if p[1] in MODEL_ORDER else 99,
        ),
    )


def metric_table(table, metric, fmt, refit, competitors=COMPETITORS, se=True):
    """Rows: pairs; columns: competitors; cells "ours (paper)"."""
    table = table[table["refit"] == refit]
    competitors = [
        c
        for c in competitors
        if ((table["strategy"] == c[0]) & (table["selector"] == c[1])).any()
    ]
    header = ["pair"] + [title for _, _, title in competitors]
    rows = []
    for dataset, model in _sorted_pairs(table):
        g = table[(table["dataset"] == dataset) & (table["model"] == model)]
        row = [f"{dataset} / {model}"]
        for strategy, selector, _ in competitors:
            m = competitor_row(g, strategy, selector)
            ours = None if m is None else m.get(f"ours_{metric}")
            if ours is None or pd.isna(ours):
                row.append("n/a")
                continue
            cell = _cell(ours, m[f"ours_{metric}_se"], fmt) if se else f"{ours:{fmt}}"
            paper = m.get(f"paper_{metric}")
            if (
                selector not in ("authors_top_fisher", "top_fisher")
                and paper is not None
                and not pd.isna(paper)
            ):
                cell += f" ({paper:{fmt}})"
            row.append(cell)
        rows.append(row)
    return rst_table(header, rows)


def targets_table(table, refit="incremental", new="cleaning", old="top_fisher"):
    """The targets of issue 10 per pair, checked on the runs.

    cleaned >= the paper's CINCER mean; final F1 at least the paper's minus
    0.01; cleaned no more than one standard error below the old default; the
    fraction of counter-examples shown that were mislabeled, new over old.
    """
    table = table[table["refit"] == refit]
    header = [
        "pair",
        "cleaned (paper)",
        ">= paper",
        "F1 (paper)",
        "F1 >= paper-0.01",
        "cleaned, Top Fisher",
        ">= Top Fisher - 1 SE",
        "CE mislabeled, new / Top Fisher",
    ]
    rows = []
    for dataset, model in _sorted_pairs(table):
        g = table[(table["dataset"] == dataset) & (table["model"] == model)]
        a, b = competitor_row(g, "cincer", new), competitor_row(g, "cincer", old)
        if a is None or b is None:
            continue
        ratio = a["ours_ce_mislabeled"] / b["ours_ce_mislabeled"]
        rows.append(
            [
                f"{dataset} / {model}",
                f"{a['ours_n_cleaned']:.1f} ({a['paper_n_cleaned']:.1f})",
                _yes(a["ours_n_cleaned"] >= a["paper_n_cleaned"]),
                f"{a['ours_f1']:.3f} ({a['paper_f1']:.3f})",
                _yes(a["ours_f1"] >= a["paper_f1"] - 0.01),
                _cell(b["ours_n_cleaned"], b["ours_n_cleaned_se"], ".1f"),
                _yes(
                    a["ours_n_cleaned"] >= b["ours_n_cleaned"] - b["ours_n_cleaned_se"]
                ),
                "n/a"
                if pd.isna(ratio)
                else f"{a['ours_ce_mislabeled']:.2f} / {b['ours_ce_mislabeled']:.2f} = "
                f"{ratio:.1f}x",
            ]
        )
    return rst_table(header, rows)


def _yes(flag):
    return "n/a" if pd.isna(flag) else ("yes" if flag else "**no**")


def precision_table(precision, k=5):
    """Q2: Pr@k per pair and selector, ours (paper's)."""
    header = ["pair"] + [title for _, title in Q2_COLUMNS]
    rows = []
    for dataset, model in _sorted_pairs(precision):
        g = precision[(precision["dataset"] == dataset) & (precision["model"] == model)]
        row = [f"{dataset} / {model}"]
        for selector, _ in Q2_COLUMNS:
            m = g[g["selector"] == selector]
            if m.empty:
                row.append("n/a")
                continue
            m = m.iloc[0]
            cell = f"{m[f'ours_pr_at_{k}']:.3f}"
            paper = m.get(f"paper_pr_at_{k}")
            if selector not in ("cleaning", "authors_top_fisher") and not pd.isna(
                paper
            ):
                cell += f" ({paper:.3f})"
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
    header = [
        "pair",
        "competitor",
        "cleaned, incremental",
        "cleaned, scratch",
        "F1, incremental",
        "F1, scratch",
        "s/round, incremental",
        "s/round, scratch",
    ]
    rows = []
    for dataset, model in _sorted_pairs(table):
        g = table[(table["dataset"] == dataset) & (table["model"] == model)]
        for strategy, selector, title in COMPETITORS:
            m = g[(g["strategy"] == strategy) & (g["selector"] == selector)]
            by = {r["refit"]: r for _, r in m.iterrows()}
            if not {"incremental", "scratch"} <= set(by):
                continue
            inc, scr = by["incremental"], by["scratch"]
            rows.append(
                [
                    f"{dataset} / {model}",
                    title,
                    _cell(inc["ours_n_cleaned"], inc["ours_n_cleaned_se"], ".1f"),
                    _cell(scr["ours_n_cleaned"], scr["ours_n_cleaned_se"], ".1f"),
                    _cell(inc["ours_f1"], inc["ours_f1_se"], ".3f"),
                    _cell(scr["ours_f1"], scr["ours_f1_se"], ".3f"),
                    f"{inc['seconds_per_round']:.3f}",
                    f"{scr['seconds_per_round']:.3f}",
                ]
            )
    return rst_table(header, rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="+", help="reproduce output folder(s)")
    parser.add_argument(
        "--refits", action="store_true", help="print only incremental next to scratch"
    )
    parser.add_argument(
        "--training",
        choices=["code", "text"],
        default=None,
        help="keep the networks' runs of this training only "
        "(a folder with both would otherwise mix them in one "
        "cell); scikit-learn's lr has none and stays",
    )
    args = parser.parse_args(argv)
    table = pd.concat(
        [pd.read_csv(Path(f) / "comparison.csv") for f in args.folder],
        ignore_index=True,
    )
    if args.training is not None and "training" in table:
        table = table[table["training"].isna() | (table["training"] == args.training)]
    if args.refits:
        sys.stdout.write(refit_table(table) + "\n")
        return 0
    out = []
    n = int(table["n_repeats"].max())
    for refit in sorted(table["refit"].unique()):
        where = f'``refit="{refit}"``'
        out += [
            f"Labels cleaned after 100 rounds, {where} (ours, mean ± "
            f"standard error over {n} repeats; the paper's CINCER, Drop CE, "
            "No CE, 1-NN and Practical Fisher in parentheses):",
            "",
            metric_table(table, "n_cleaned", ".1f", refit),
            "",
            f"Of which counter-examples, {where}:",
            "",
            metric_table(
                table,
                "n_cleaned_ce",
                ".1f",
                refit,
                [c for c in COMPETITORS if c[0] == "cincer"],
            ),
            "",
            f"Fraction of the counter-examples shown that were mislabeled, "
            f"{where} (the paper's: its counter-examples cleaned per "
            "question):",
            "",
            metric_table(
                table,
                "ce_mislabeled",
                ".2f",
                refit,
                [c for c in COMPETITORS if c[0] != "no_ce"],
            ),
            "",
            f"Questions asked, {where} (mean):",
            "",
            metric_table(table, "n_queried", ".1f", refit, se=False),
            "",
            f"Final F1 on the clean test set, {where}:",
            "",
            metric_table(table, "f1", ".3f", refit),
            "",
        ]
        if ((table["refit"] == refit) & (table["selector"] == "cleaning")).any():
            out += [
                f"The targets of the cleaning selector, {where}:",
                "",
                targets_table(table, refit),
                "",
            ]
    out += [
        "Seconds per round (the cleaner's work; the F1 measurement is apart), "
        "lowest and highest over the competitors:",
        "",
        timing_table(table),
        "",
    ]
    precision = [Path(f) / "precision.csv" for f in args.folder]
    precision = [pd.read_csv(p) for p in precision if p.is_file()]
    if precision:
        out += [
            "Q2, Pr@5 of the selectors (clean incoming examples, frozen model; "
            "ours pooled over the questions of all repeats, the paper's in "
            "parentheses):",
            "",
            precision_table(pd.concat(precision)),
            "",
        ]
    sys.stdout.write("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
