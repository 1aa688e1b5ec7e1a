"""Figures of the paper and the side-by-side table with its numbers.

matplotlib and pandas are imported inside the functions only.
"""

from pathlib import Path

import numpy as np

from ._registry import PAPER_MODEL_NAMES, paper_method, split_selector_label

#: Where the reference numbers live, relative to the repository root.
PAPER_RESULTS = Path("..") / "shared" / "reference" / "paper_results.csv"

_LABELS = {
    ("cincer", "cleaning"): "CINCER (cleaning)",
    ("cincer", "top_fisher"): "CINCER (Top Fisher)",
    ("cincer", "authors_top_fisher"): "CINCER (authors' ranking)",
    ("cincer", "practical_fisher"): "Practical Fisher",
    ("cincer", "full_fisher"): "Full Fisher",
    ("cincer", "influence"): "Influence",
    ("cincer", "nearest"): "1-NN",
    ("cincer", "random"): "Random CE",
    ("drop_ce", "cleaning"): "Drop CE",
    ("drop_ce", "top_fisher"): "Drop CE (Top Fisher)",
    ("no_ce", "none"): "No CE",
}


#: A fixed colour per competitor, so that figures agree with each other.
_COLORS = {
    ("cincer", "cleaning"): "C3",
    ("cincer", "top_fisher"): "C9",
    ("drop_ce", "cleaning"): "C1",
    ("drop_ce", "top_fisher"): "C1",
    ("no_ce", "none"): "C2",
    ("cincer", "practical_fisher"): "C0",
    ("cincer", "nearest"): "C4",
    ("cincer", "authors_top_fisher"): "C5",
    ("cincer", "influence"): "C6",
    ("cincer", "full_fisher"): "C8",
    ("cincer", "random"): "C7",
}


def competitor_label(strategy, selector, refit="scratch", training=None):
    """A readable name for a competitor.

    A refit other than from scratch and a network trained as the paper's
    text says (rather than as the authors' code did, the benchmark's
    default) are named in brackets.

    Examples
    --------
    >>> from sklearn_cincer.benchmark import competitor_label
    >>> competitor_label("no_ce", "none")
    'No CE'
    >>> competitor_label("cincer", "top_fisher(damping=0.1)", "incremental")
    'CINCER (Top Fisher; damping=0.1) [incremental]'
    >>> competitor_label("no_ce", "none", "incremental", training="text")
    'No CE [incremental, text training]'
    """
    base, params = split_selector_label(selector)
    label = _LABELS.get((strategy, base), f"{strategy} / {base}")
    if params:
        label = (
            f"{label[:-1]}; {params})" if label.endswith(")") else f"{label} ({params})"
        )
    tags = [refit] if refit != "scratch" else []
    if training == "text":
        tags.append("text training")
    return f"{label} [{', '.join(tags)}]" if tags else label


def _keys(frame, keys):
    """``keys``, and ``training`` where the frame has it (traces since the option)."""
    return list(keys) + (["training"] if "training" in frame else [])


def _training(key, keys):
    """The training in a group's key (None where there is none)."""
    if "training" not in keys:
        return None
    value = key[keys.index("training")]
    return value if isinstance(value, str) else None


def summarize_traces(traces, metrics=("n_cleaned", "f1")):
    """Mean and standard error over repeats of each metric, per round.

    The standard error is ``std(ddof=0) / sqrt(n_repeats)``, as the authors'
    plots and ``paper_results.csv`` use.

    Parameters
    ----------
    traces : pandas.DataFrame
        As from :func:`run_experiment` (several competitors may be stacked).
    metrics : tuple of str

    Returns
    -------
    summary : pandas.DataFrame
        Indexed by competitor and round; columns ``<metric>_mean``,
        ``<metric>_se``.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_cincer.benchmark import summarize_traces
    >>> t = pd.DataFrame({"dataset": "d", "model": "m", "strategy": "cincer",
    ...                   "selector": "nearest", "refit": "scratch",
    ...                   "repeat": [0, 1], "round": [0, 0],
    ...                   "n_cleaned": [1, 3], "f1": [0.5, 0.7]})
    >>> s = summarize_traces(t)
    >>> float(s["n_cleaned_mean"].iloc[0]), round(float(s["n_cleaned_se"].iloc[0]), 4)
    (2.0, 0.7071)
    """
    keys = _keys(traces, ["dataset", "model", "strategy", "selector", "refit", "round"])
    grouped = traces.groupby(keys, dropna=False)
    out = {}
    for metric in metrics:
        out[f"{metric}_mean"] = grouped[metric].mean()
        out[f"{metric}_se"] = grouped[metric].std(ddof=0) / np.sqrt(
            grouped[metric].count()
        )
    import pandas as pd

    return pd.DataFrame(out)


def plot_traces(traces, *, metrics=("n_cleaned", "f1"), axes=None, title=None):
    """# cleaned and F1 against rounds, mean with standard-error bands (Figures 2 and 4).

    Parameters
    ----------
    traces : pandas.DataFrame
        Stacked traces of the competitors to compare on one data set.
    metrics : tuple of str, default=("n_cleaned", "f1")
        One panel per metric.
    axes : sequence of matplotlib Axes, default=None
        Where to draw; a new figure when None.
    title : str, default=None

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> from sklearn_cincer.benchmark import plot_traces
    >>> t = pd.DataFrame({"dataset": "d", "model": "m", "strategy": "no_ce",
    ...                   "selector": "none", "refit": "scratch",
    ...                   "repeat": [0, 0, 1, 1], "round": [0, 1, 0, 1],
    ...                   "n_cleaned": [0, 1, 0, 0], "f1": [.5, .6, .5, .5]})
    >>> len(plot_traces(t).axes)
    2
    """
    import matplotlib.pyplot as plt

    summary = summarize_traces(traces, metrics).reset_index()
    if axes is None:
        fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.5))
        axes = np.atleast_1d(axes)
    else:
        fig = axes[0].figure
    names = {
        "n_cleaned": "# cleaned examples",
        "f1": "F1 (clean test set)",
        "n_queried": "# queries",
    }
    keys = _keys(summary, ["strategy", "selector", "refit"])
    groups = summary.groupby(keys, sort=False, dropna=False)
    for ax, metric in zip(axes, metrics):
        for key, g in groups:
            strategy, selector, refit = key[:3]
            # rounds without a measurement (``eval_every`` > 1) are NaN
            g = g[g[f"{metric}_mean"].notna()]
            mean, se = g[f"{metric}_mean"].to_numpy(), g[f"{metric}_se"].to_numpy()
            base = split_selector_label(selector)[0]
            (line,) = ax.plot(
                g["round"],
                mean,
                color=_COLORS.get((strategy, base)),
                linestyle="-" if refit == "scratch" else "--",
                label=competitor_label(strategy, selector, refit, _training(key, keys)),
            )
            ax.fill_between(
                g["round"],
                mean - se,
                mean + se,
                alpha=0.25,
                color=line.get_color(),
                linewidth=0,
            )
        ax.set_xlabel("round")
        ax.set_ylabel(names.get(metric, metric))
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_precision(precision, *, ks=(5, 10), ax=None, title=None):
    """Pr@k bars of each selector with standard errors (Figure 3).

    Pooled over all queries of all repeats, SE ``std / sqrt(count)`` as the
    authors' plots.

    Parameters
    ----------
    precision : pandas.DataFrame
        As from :func:`run_precision_experiment`.
    ks : tuple of int, default=(5, 10)
    ax : matplotlib Axes, default=None
    title : str, default=None

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> from sklearn_cincer.benchmark import plot_precision
    >>> pr = pd.DataFrame({"selector": ["a", "a", "b"], "pr_at_5": [.2, .4, 0.],
    ...                    "pr_at_10": [.1, .3, .1]})
    >>> len(plot_precision(pr).axes[0].patches)
    4
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 3.5))
    else:
        fig = ax.figure
    selectors = list(dict.fromkeys(precision["selector"]))
    width = 0.8 / len(ks)
    for i, k in enumerate(ks):
        col = f"pr_at_{k}"
        g = precision.groupby("selector", sort=False)[col]
        mean = g.mean().reindex(selectors)
        se = (g.std(ddof=0) / np.sqrt(g.count())).reindex(selectors)
        ax.bar(
            np.arange(len(selectors)) + (i - (len(ks) - 1) / 2) * width,
            mean,
            width,
            yerr=se,
            capsize=3,
            label=f"Pr@{k}",
        )
    ax.set_xticks(np.arange(len(selectors)))
    ax.set_xticklabels(selectors, rotation=20)
    ax.set_ylabel("fraction of noisy counter-examples")
    ax.legend()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_counter_examples(image, label, counter_examples, *, axes=None, cmap="gray_r"):
    """A suspicious example next to the counter-examples of several selectors (Figure 1).

    Parameters
    ----------
    image : ndarray of shape (h, w)
        The suspicious example.
    label : str
        Its caption (e.g. ``"labeled 4, predicted 9"``).
    counter_examples : dict of str -> (ndarray, str)
        Selector name -> (image, caption) of the counter-example it chose.
    axes : sequence of Axes, default=None
    cmap : str, default="gray_r"

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn_cincer.benchmark import plot_counter_examples
    >>> img = np.zeros((8, 8))
    >>> fig = plot_counter_examples(img, "labeled 1", {"1-NN": (img, "labeled 7")})
    >>> len(fig.axes)
    2
    """
    import matplotlib.pyplot as plt

    n = 1 + len(counter_examples)
    if axes is None:
        fig, axes = plt.subplots(1, n, figsize=(2.2 * n, 2.6))
    else:
        fig = axes[0].figure
    panels = [("suspicious example", image, label)] + [
        (name, img, caption) for name, (img, caption) in counter_examples.items()
    ]
    for ax, (name, img, caption) in zip(axes, panels):
        ax.imshow(img, cmap=cmap)
        ax.set_title(name, fontsize="small")
        ax.set_xlabel(caption, fontsize="small")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def pick_counter_examples(model, X_train, y_train, x, y, selectors, candidates=None):
    """The counter-example each selector picks for one suspicious example.

    Parameters
    ----------
    model : fitted classifier
    X_train, y_train : ndarray
        The training set (current labels).
    x : ndarray of shape (n_features,)
        The suspicious example.
    y : object
        Its annotated label.
    selectors : dict of str -> selector
    candidates : array-like of int, default=None
        Rows that may be picked; default: those labeled as the prediction.

    Returns
    -------
    picks : dict of str -> int
        Row of ``X_train`` picked by each selector.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_cincer import NearestNeighborSelector
    >>> from sklearn_cincer.benchmark import pick_counter_examples
    >>> X, y = load_iris(return_X_y=True)
    >>> model = LogisticRegression(max_iter=500).fit(X, y)
    >>> picks = pick_counter_examples(model, X, y, X[70], 2,
    ...                               {"1-NN": NearestNeighborSelector()})
    >>> int(y[picks["1-NN"]]) == int(model.predict(X[70:71])[0])
    True
    """
    from sklearn.base import clone

    y_train = np.asarray(y_train)
    if candidates is None:
        prediction = model.predict(np.asarray(x).reshape(1, -1))[0]
        candidates = np.flatnonzero(y_train == prediction)
    picks = {}
    for name, selector in selectors.items():
        fitted = clone(selector).fit(model, X_train, y_train)
        picks[name] = fitted.select(x, y, candidates)[0]
    return picks


def load_paper_results(path=None):
    """The paper's numbers, one row per run of the authors (``paper_results.csv``).

    Parameters
    ----------
    path : str or path-like, default=None
        Defaults to ``../shared/reference/paper_results.csv`` next to the
        repository, or ``$SKLEARN_CINCER_REFERENCE``.

    Returns
    -------
    paper : pandas.DataFrame

    Examples
    --------
    >>> from sklearn_cincer.benchmark import load_paper_results
    >>> paper = load_paper_results()  # doctest: +SKIP
    """
    import os

    import pandas as pd

    if path is None:
        path = os.environ.get("SKLEARN_CINCER_REFERENCE")
    if path is None:
        repo = Path(__file__).resolve().parents[2]
        path = repo / PAPER_RESULTS
    return pd.read_csv(path)


def compare_with_paper(traces, paper=None, *, inspector="margin", paper_models=None):
    """Our final numbers next to the paper's, row by row.

    For each competitor of ``traces`` (mean and SE over repeats at the last
    round) the matching row of the paper's main runs (``inspector="margin"``,
    ``cepr=0``) is looked up by data set, model and method.

    Parameters
    ----------
    traces : pandas.DataFrame
        Stacked traces, as from :func:`run_experiment`.
    paper : pandas.DataFrame, default=None
        From :func:`load_paper_results`; loaded when None (a missing file
        leaves the paper's columns empty).
    inspector : str, default="margin"
    paper_models : dict, default=None
        Our model name -> the paper's model to compare with, overriding the
        like-for-like default (``lr`` -> ``logreg``, ``fc`` -> ``fullnet``,
        ``cnn`` -> ``convnet``); e.g. ``{"lr": "fullnet"}`` puts a
        logistic-regression run next to the paper's FC numbers, for
        reference only. The ``paper_model`` column says which was used.

    Returns
    -------
    table : pandas.DataFrame
        Columns: dataset, model, paper_model, competitor, paper_method, n_repeats,
        ours/paper # cleaned (mean, se), of which counter-examples
        (``*_n_cleaned_ce``), the fraction of the counter-examples shown that
        were mislabeled (``*_ce_mislabeled``; the paper's is its
        counter-examples cleaned per query, as its simulated oracle cleans
        every mislabeled one), ours/paper # queries, ours/paper final F1
        (mean, se), F1 at round 0, seconds per round, and the competitor's
        strategy, selector and refit.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_cincer.benchmark import compare_with_paper
    >>> t = pd.DataFrame({"dataset": "breast", "model": "fc",
    ...     "strategy": "no_ce", "selector": "none", "refit": "scratch",
    ...     "repeat": [0, 0], "round": [0, 1], "n_cleaned": [0, 1],
    ...     "n_queried": [0, 1], "f1": [.8, .9], "seconds": [.1, .2]})
    >>> paper = pd.DataFrame({"dataset": ["breast"], "model": ["fullnet"],
    ...     "method": ["no_ce"], "inspector": ["margin"], "cepr": [0],
    ...     "final_n_cleaned_mean": [16.6], "final_n_cleaned_se": [1.0],
    ...     "final_n_queried_mean": [21.4], "final_f1_mean": [0.91],
    ...     "final_f1_se": [0.013], "f1_r0_mean": [0.84]})
    >>> row = compare_with_paper(t, paper).iloc[0]
    >>> float(row["paper_n_cleaned"]), float(row["ours_n_cleaned"])
    (16.6, 1.0)
    """
    import pandas as pd

    if paper is None:
        try:
            paper = load_paper_results()
        except FileNotFoundError:
            paper = None
    keys = _keys(traces, ["dataset", "model", "strategy", "selector", "refit"])
    rows = []
    for key, g in traces.groupby(keys, sort=False, dropna=False):
        dataset, model, strategy, selector, refit = key[:5]
        training = _training(key, keys)
        last = g[g["round"] == g["round"].max()]
        first = g[g["round"] == 0]
        n = last.shape[0]
        se = lambda s: float(s.std(ddof=0) / np.sqrt(len(s)))  # noqa: E731
        per_round = g[g["round"] > 0]["seconds"]
        names = dict(PAPER_MODEL_NAMES, **(paper_models or {}))
        row = {
            "dataset": dataset,
            "model": model,
            "paper_model": names.get(model, model),
            "competitor": competitor_label(strategy, selector, refit, training),
            "paper_method": paper_method(strategy, selector),
            "n_repeats": n,
            "ours_n_cleaned": float(last["n_cleaned"].mean()),
            "ours_n_cleaned_se": se(last["n_cleaned"]),
            "paper_n_cleaned": np.nan,
            "paper_n_cleaned_se": np.nan,
            "ours_n_cleaned_ce": (
                float(last["n_cleaned_ce"].mean()) if "n_cleaned_ce" in last else np.nan
            ),
            "ours_n_cleaned_ce_se": (
                se(last["n_cleaned_ce"]) if "n_cleaned_ce" in last else np.nan
            ),
            "paper_n_cleaned_ce": np.nan,
            **_ce_mislabeled(last),
            "paper_ce_mislabeled": np.nan,
            "ours_n_queried": float(last["n_queried"].mean()),
            "paper_n_queried": np.nan,
            "ours_f1": float(last["f1"].mean()),
            "ours_f1_se": se(last["f1"]),
            "paper_f1": np.nan,
            "paper_f1_se": np.nan,
            "ours_f1_r0": float(first["f1"].mean()),
            "paper_f1_r0": np.nan,
            "seconds_per_round": float(per_round.mean()) if len(per_round) else np.nan,
            "strategy": strategy,
            "selector": selector,
            "refit": refit,
            "training": training,
        }
        if paper is not None:
            row.update(_paper_numbers(paper, row, inspector))
        rows.append(row)
    return pd.DataFrame(rows)


def _paper_numbers(paper, row, inspector):
    """The paper's numbers for the competitor of ``row`` ({} when it has none)."""
    match = paper[
        (paper["dataset"] == row["dataset"])
        & (paper["model"] == row["paper_model"])
        & (paper["method"] == row["paper_method"])
        & (paper["inspector"] == inspector)
        & (paper["cepr"] == 0)
    ]
    if not len(match):
        return {}
    m = match.iloc[0]
    return dict(
        paper_n_cleaned=float(m["final_n_cleaned_mean"]),
        paper_n_cleaned_se=float(m["final_n_cleaned_se"]),
        paper_n_cleaned_ce=float(m.get("final_n_cleaned_ce_mean", np.nan)),
        paper_ce_mislabeled=(
            float(m.get("final_n_cleaned_ce_mean", np.nan) / m["final_n_queried_mean"])
            if row["strategy"] != "no_ce" and m["final_n_queried_mean"] > 0
            else np.nan
        ),
        paper_n_queried=float(m["final_n_queried_mean"]),
        paper_f1=float(m["final_f1_mean"]),
        paper_f1_se=float(m["final_f1_se"]),
        paper_f1_r0=float(m["f1_r0_mean"]),
    )


def _ce_mislabeled(last):
    """Mean and SE over repeats of the fraction of counter-examples shown
    that were mislabeled (NaN for runs without counter-examples, or traces
    written before ``n_ce_shown`` was recorded)."""
    if (
        not {"n_ce_shown", "n_noisy_ce"} <= set(last)
        or not (last["n_ce_shown"] > 0).any()
    ):
        return {"ours_ce_mislabeled": np.nan, "ours_ce_mislabeled_se": np.nan}
    shown = last["n_ce_shown"].where(last["n_ce_shown"] > 0)
    fraction = (last["n_noisy_ce"] / shown).dropna()
    return {
        "ours_ce_mislabeled": float(fraction.mean()),
        "ours_ce_mislabeled_se": float(fraction.std(ddof=0) / np.sqrt(len(fraction))),
    }


def competitor_row(table, strategy, selector):
    """The row of one competitor in a comparison table, or None."""
    match = table[(table["strategy"] == strategy) & (table["selector"] == selector)]
    return None if match.empty else match.iloc[0]


def mean_se_text(mean, se, fmt=".1f", missing=""):
    """``"mean ± se"``, or ``missing`` when there is no mean.

    Examples
    --------
    >>> from sklearn_cincer.benchmark._report import mean_se_text
    >>> mean_se_text(26.0, 1.5), mean_se_text(float("nan"), 0.0, missing="n/a")
    ('26.0 ± 1.5', 'n/a')
    """
    if mean is None or np.isnan(mean):
        return missing
    return f"{mean:{fmt}} ± {se:{fmt}}"


def readable(table):
    """The comparison table without the key columns its labels already show."""
    return table.drop(
        columns=["strategy", "selector", "refit", "training"], errors="ignore"
    )


def summarize_pairs(table):
    """One line per data set, model and refit: does CINCER reproduce the paper?

    Puts CINCER with the library's default selector
    (:class:`~sklearn_cincer.CleaningSelector`; Top Fisher in folders run
    before it was the default) next to the paper's CINCER, next to CINCER
    with Top Fisher (Eq. 14 alone) and ranking counter-examples as the
    authors' code did, and next to the Q1 baselines, and checks the paper's
    claims on our runs: CINCER cleans at least as many labels as the paper
    reports and reaches at least its F1, with the paper's standard error as
    the tolerance, and it cleans more than Drop CE and No CE.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`compare_with_paper`.

    Returns
    -------
    summary : pandas.DataFrame
        ``cleaned`` and ``f1`` columns hold "mean ± se"; ``cleaned_ok`` and
        ``f1_ok`` are True where ours is at least the paper's minus its
        standard error (empty without the paper's numbers);
        ``ahead_of_baselines`` is True where CINCER's mean is above both
        Drop CE's and No CE's.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_cincer.benchmark._report import summarize_pairs
    >>> rows = [("cincer", "top_fisher", 25.0, 0.9),
    ...         ("drop_ce", "top_fisher", 15.0, 0.85), ("no_ce", "none", 14.0, 0.84)]
    >>> t = pd.DataFrame([{"dataset": "breast", "model": "fc", "refit": "scratch",
    ...     "strategy": st, "selector": sel, "n_repeats": 5, "ours_n_cleaned": c,
    ...     "ours_n_cleaned_se": 1.0, "ours_f1": f, "ours_f1_se": 0.01,
    ...     "paper_n_cleaned": 27.8, "paper_n_cleaned_se": 1.2, "paper_f1": 0.94,
    ...     "paper_f1_se": 0.006, "seconds_per_round": 0.1} for st, sel, c, f in rows])
    >>> row = summarize_pairs(t).iloc[0]
    >>> row["cincer_cleaned"], bool(row["cleaned_ok"]), bool(row["ahead_of_baselines"])
    ('25.0 ± 1.0', False, True)
    """
    import pandas as pd

    pick = competitor_row

    def mean_se(row, what, fmt):
        if row is None:
            return ""
        return mean_se_text(row[what], row[what + "_se"], fmt)

    rows = []
    keys = _keys(table, ["dataset", "model", "refit"])
    for key, g in table.groupby(keys, sort=False, dropna=False):
        dataset, model, refit = key[:3]
        default = "cleaning"
        cincer = pick(g, "cincer", default)
        if cincer is None:  # a folder run before the cleaning selector
            default = "top_fisher"
            cincer = pick(g, "cincer", default)
        if cincer is None:
            continue
        top = pick(g, "cincer", "top_fisher") if default != "top_fisher" else None
        authors = pick(g, "cincer", "authors_top_fisher")
        drop, none = pick(g, "drop_ce", default), pick(g, "no_ce", "none")
        has_paper = not pd.isna(cincer["paper_n_cleaned"])
        baselines = [r["ours_n_cleaned"] for r in (drop, none) if r is not None]
        rows.append(
            {
                "dataset": dataset,
                "model": model,
                "refit": refit,
                **({"training": _training(key, keys)} if "training" in keys else {}),
                "n_repeats": int(cincer["n_repeats"]),
                "paper_cleaned": mean_se(cincer, "paper_n_cleaned", ".1f"),
                "cincer_cleaned": mean_se(cincer, "ours_n_cleaned", ".1f"),
                "top_fisher_cleaned": mean_se(top, "ours_n_cleaned", ".1f"),
                "authors_ranking_cleaned": mean_se(authors, "ours_n_cleaned", ".1f"),
                "drop_ce_cleaned": mean_se(drop, "ours_n_cleaned", ".1f"),
                "no_ce_cleaned": mean_se(none, "ours_n_cleaned", ".1f"),
                "cleaned_ok": (
                    cincer["ours_n_cleaned"]
                    >= cincer["paper_n_cleaned"] - cincer["paper_n_cleaned_se"]
                )
                if has_paper
                else None,
                "paper_f1": mean_se(cincer, "paper_f1", ".3f"),
                "cincer_f1": mean_se(cincer, "ours_f1", ".3f"),
                "top_fisher_f1": mean_se(top, "ours_f1", ".3f"),
                "authors_ranking_f1": mean_se(authors, "ours_f1", ".3f"),
                "f1_ok": (
                    cincer["ours_f1"] >= cincer["paper_f1"] - cincer["paper_f1_se"]
                )
                if has_paper
                else None,
                "ahead_of_baselines": (
                    bool(baselines) and cincer["ours_n_cleaned"] > max(baselines)
                ),
                "seconds_per_round": cincer["seconds_per_round"],
            }
        )
    return pd.DataFrame(rows)


def compare_precision_with_paper(precision, paper=None, ks=(5, 10), paper_models=None):
    """Our Pr@k next to the paper's (``cepr`` runs), per selector.

    ``paper_models`` maps our model names to the paper's, as in
    :func:`compare_with_paper`.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_cincer.benchmark import compare_precision_with_paper
    >>> pr = pd.DataFrame({"dataset": "breast", "model": "fc",
    ...     "selector": ["top_fisher"] * 2, "pr_at_5": [.2, .4], "pr_at_10": [.1, .3]})
    >>> t = compare_precision_with_paper(pr, paper=pd.DataFrame())
    >>> float(t["ours_pr_at_5"].iloc[0])
    0.3
    """
    import pandas as pd

    if paper is None:
        try:
            paper = load_paper_results()
        except FileNotFoundError:
            paper = pd.DataFrame()
    names = {
        "cleaning": "cincer_top_fisher",
        "top_fisher": "cincer_top_fisher",
        "influence": "if",
        "nearest": "nn_1",
        "authors_top_fisher": "cincer_top_fisher",
    }
    models = dict(PAPER_MODEL_NAMES, **(paper_models or {}))
    rows = []
    for (dataset, model, selector), g in precision.groupby(
        ["dataset", "model", "selector"], sort=False
    ):
        row = {
            "dataset": dataset,
            "model": model,
            "paper_model": models.get(model, model),
            "selector": selector,
            "n_queries": int(g.shape[0]),
        }
        match = None
        if len(paper):
            match = paper[
                (paper["dataset"] == dataset)
                & (paper["model"] == row["paper_model"])
                & (paper["method"] == names.get(selector, selector))
                & (paper["cepr"] == 1)
            ]
        for k in ks:
            col = f"pr_at_{k}"
            row[f"ours_{col}"] = float(g[col].mean())
            row[f"ours_{col}_se"] = float(g[col].std(ddof=0) / np.sqrt(g[col].count()))
            row[f"paper_{col}"] = (
                float(match.iloc[0][f"{col}_mean"])
                if match is not None and len(match)
                else np.nan
            )
        rows.append(row)
    return pd.DataFrame(rows)


def format_table(table, floatfmt=".3f"):
    """A comparison table as GitHub markdown (no extra dependency).

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_cincer.benchmark import format_table
    >>> print(format_table(pd.DataFrame({"a": [1.0], "b": ["x"]})))
    | a | b |
    |---|---|
    | 1.000 | x |
    """
    cols = list(table.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, row in table.iterrows():
        cells = []
        for c in cols:
            v = row[c]
            if isinstance(v, float):
                cells.append("" if np.isnan(v) else format(v, floatfmt))
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
