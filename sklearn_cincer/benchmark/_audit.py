"""Auditing a static dataset: LabelAuditor against cleanlab, at equal labels inspected.

For each data set, noise kind and seed, 20% of the training labels are
corrupted; then

- **cleanlab** (2.9, a benchmark dependency only): ``find_label_issues``
  (confident learning, issues ranked by self-confidence, then the other
  labels by ``get_label_quality_scores``) on the cross-validated
  probabilities of the noisy labels; a person inspects the top ``B`` labels
  of that static ranking;
- **LabelAuditor** (defaults: the same folds and model, refit every 10
  labels, counter-example offers and follow-ups) inspects ``B`` labels.

A simulated annotator sets every inspected label to its true value. Both are
measured at equal labels inspected ``B`` (5, 10 and 20% of the rows):
errors fixed (as a percentage of the noisy labels: the noise removed),
precision (errors among the labels inspected) and the test F1 of the model
retrained on the cleaned labels. At equal questions, cleanlab inspects as
many labels as the auditor asked questions (an auditor's question may
inspect two labels).
"""

import functools
import json
import os
import time
from pathlib import Path

import numpy as np

#: Data sets of the audit benchmark.
AUDIT_DATASETS = ("breast", "wine", "digits", "adult", "mnist")

#: Rows drawn (per seed) from the training pool of the large data sets.
AUDIT_ROWS = {"adult": 2000, "mnist": 2000}

#: Budgets, as fractions of the rows.
AUDIT_BUDGETS = (0.05, 0.1, 0.2)

#: Noise kinds of the default grid (``make_label_noise``'s): uniform and
#: pair-flip; ``"confusion"`` (flips to the classes a model confuses) is one
#: option away (``--noise confusion``).
AUDIT_NOISE = ("uniform", "pairwise")

#: Counter-example selectors of the auditor in the default grid (benchmark
#: names, as ``--selector`` takes them): Top Fisher, as when the user guide's
#: tables were first measured.
AUDIT_SELECTORS = ("top_fisher",)

AUDIT_COLUMNS = (
    "dataset",
    "noise",
    "seed",
    "budget",
    "method",
    "selector",
    "labels_budget",
    "labels_inspected",
    "questions",
    "n_noisy",
    "errors_fixed",
    "noise_removed",
    "precision",
    "f1",
    "counter_offers",
    "follow_ups",
    "seconds",
)


def _pool_images(X, side, factor=2):
    """Average-pool flattened ``side x side`` images by ``factor``."""
    small = side // factor
    return (
        X.reshape(-1, small, factor, small, factor)
        .mean(axis=(2, 4))
        .reshape(X.shape[0], -1)
    )


def load_audit_data(name, seed, *, data_home=None):
    """One data set as the audit benchmark uses it.

    The loaders' train/test split; Adult and MNIST keep a random subset of
    2,000 training rows (drawn by ``seed``), and MNIST's 28x28 images are
    average-pooled to 14x14 (196 features), so that the Fisher matrix of a
    logistic regression (1,970 parameters instead of 7,850) is factored in a
    fraction of a second at each refit.

    Parameters
    ----------
    name : str
        One of :data:`AUDIT_DATASETS` (or any loader name).
    seed : int
        Seeds the subset.
    data_home : str, default=None
        Data folder for Adult and MNIST.

    Returns
    -------
    X, y, X_test, y_test : ndarray

    Examples
    --------
    >>> from sklearn_cincer.benchmark import load_audit_data
    >>> X, y, X_test, y_test = load_audit_data("wine", 0)
    >>> X.shape, X_test.shape
    ((142, 13), (36, 13))
    """
    from ..datasets import load_dataset

    data = load_dataset(name, data_home=data_home)
    X, y = np.asarray(data.X_train, dtype=float), np.asarray(data.y_train)
    X_test, y_test = np.asarray(data.X_test, dtype=float), np.asarray(data.y_test)
    rows = AUDIT_ROWS.get(name)
    if rows is not None and rows < y.shape[0]:
        keep = np.random.RandomState(seed).choice(y.shape[0], rows, replace=False)
        X, y = X[keep], y[keep]
    if name in ("mnist", "fashion_mnist"):
        X, X_test = _pool_images(X, 28), _pool_images(X_test, 28)
    return X, y, X_test, y_test


def cleanlab_ranking(labels, proba):
    """Labels in the order a cleanlab user inspects them.

    The issues of ``cleanlab.filter.find_label_issues`` (confident learning,
    ranked by self-confidence), then the other labels by
    ``cleanlab.rank.get_label_quality_scores`` (self-confidence).

    Parameters
    ----------
    labels : ndarray of int of shape (n,)
        Noisy labels, as class indices.
    proba : ndarray of shape (n, c)
        Out-of-sample probabilities.

    Returns
    -------
    order : ndarray of int of shape (n,)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer.benchmark._audit import cleanlab_ranking
    >>> proba = np.array([[.9, .1], [.8, .2], [.3, .7], [.2, .8], [.6, .4]] * 4)
    >>> labels = np.array([0, 1, 1, 1, 0] * 4)  # rows 1, 6, 11, 16 look wrong
    >>> cleanlab_ranking(labels, proba)[:4].tolist()  # doctest: +SKIP
    [1, 6, 11, 16]
    """
    try:
        from cleanlab.filter import find_label_issues
        from cleanlab.rank import get_label_quality_scores
    except ImportError as exc:
        raise ImportError(
            "The audit benchmark compares with cleanlab: pip install "
            "'cleanlab==2.9.*' (a benchmark dependency only)."
        ) from exc
    # n_jobs=1: cleanlab's own process pool breaks inside joblib's workers
    issues = np.asarray(
        find_label_issues(
            labels, proba, return_indices_ranked_by="self_confidence", n_jobs=1
        ),
        dtype=int,
    )
    quality = get_label_quality_scores(labels, proba)
    rest = np.setdiff1d(np.argsort(quality, kind="stable"), issues, assume_unique=True)
    # setdiff1d sorts: restore the quality order of the rest
    rest = rest[np.argsort(quality[rest], kind="stable")]
    return np.concatenate([issues, rest])


def _f1(model, X, y, X_test, y_test):
    from sklearn.base import clone
    from sklearn.metrics import f1_score

    fitted = clone(model).fit(X, y)
    return 100 * f1_score(y_test, fitted.predict(X_test), average="weighted")


def _row(
    dataset,
    noise,
    seed,
    budget,
    method,
    n_budget,
    y_noisy,
    y_clean,
    y_true,
    inspected,
    questions,
    f1,
    seconds,
    offers=0,
    follow_ups=0,
    selector="top_fisher",
):
    noisy = y_noisy != y_true
    fixed = int((noisy & (y_clean == y_true)).sum())
    found = int(noisy[inspected].sum())
    return {
        "dataset": dataset,
        "noise": noise,
        "seed": seed,
        "budget": budget,
        "method": method,
        "selector": selector,
        "labels_budget": int(n_budget),
        "labels_inspected": int(inspected.sum()),
        "questions": int(questions),
        "n_noisy": int(noisy.sum()),
        "errors_fixed": fixed,
        "noise_removed": 100 * fixed / max(1, int(noisy.sum())),
        "precision": 100 * found / max(1, int(inspected.sum())),
        "f1": f1,
        "counter_offers": int(offers),
        "follow_ups": int(follow_ups),
        "seconds": seconds,
    }


def run_audit_task(
    dataset,
    noise,
    seed,
    *,
    budgets=AUDIT_BUDGETS,
    noise_rate=0.2,
    model="lr",
    data=None,
    data_home=None,
    auditor_params=None,
    selector="top_fisher",
):
    """Audit one noisy copy of a data set with cleanlab and with LabelAuditor.

    Parameters
    ----------
    dataset : str
    noise : {"uniform", "pairwise", "confusion"}
    seed : int
        Seeds the subset, the noise and the models.
    budgets : sequence of float, default=(0.05, 0.1, 0.2)
        Labels inspected, as fractions of the rows.
    noise_rate : float, default=0.2
    model : str, default="lr"
        A benchmark model name (:func:`make_model`).
    data : tuple, default=None
        ``(X, y, X_test, y_test)``; loaded with :func:`load_audit_data`
        when None.
    data_home : str, default=None
    auditor_params : dict, default=None
        Parameters of the auditor besides its defaults; a ``selector`` there
        overrides ``selector``.
    selector : str, default="top_fisher"
        The auditor's counter-example selector, by its benchmark name
        (:data:`~sklearn_cincer.benchmark.SELECTORS`). Every row carries it,
        so that runs with several selectors can be told apart.

    Returns
    -------
    rows : list of dict
        Per budget: ``cleanlab`` and ``auditor`` at equal labels inspected,
        and ``cleanlab_per_question`` (cleanlab with as many labels as the
        auditor asked questions), with the columns of
        :data:`AUDIT_COLUMNS`.

    Examples
    --------
    >>> from sklearn_cincer.benchmark import run_audit_task
    >>> rows = run_audit_task("wine", "pairwise", 0, budgets=(0.1,))  # doctest: +SKIP
    >>> sorted({r["method"] for r in rows})  # doctest: +SKIP
    ['auditor', 'cleanlab', 'cleanlab_per_question']
    """
    from ._registry import make_model

    if data is None:
        data = load_audit_data(dataset, seed, data_home=data_home)
    X, y_true, X_test, y_test = data
    y_noisy = _noisy_labels(X, y_true, y_test, noise, noise_rate, seed)
    estimator = make_model(model, random_state=seed)
    n = y_true.shape[0]

    started = time.perf_counter()
    order, splits = _cleanlab_order(estimator, X, y_noisy)
    ranking_seconds = time.perf_counter() - started
    # what every row of this task says about it
    task_row = functools.partial(_row, dataset, noise, seed, selector=selector)

    def cleanlab_row(budget, n_labels, method):
        t0 = time.perf_counter()
        inspected = np.zeros(n, dtype=bool)
        inspected[order[:n_labels]] = True
        y_clean = np.where(inspected, y_true, y_noisy)
        f1 = _f1(estimator, X, y_clean, X_test, y_test)
        return task_row(
            budget,
            method,
            n_labels,
            y_noisy,
            y_clean,
            y_true,
            inspected,
            n_labels,
            f1,
            ranking_seconds + time.perf_counter() - t0,
        )

    rows = []
    for budget in budgets:
        n_labels = int(round(budget * n))
        rows.append(cleanlab_row(budget, n_labels, "cleanlab"))
        t0 = time.perf_counter()
        auditor = _fit_auditor(
            estimator,
            X,
            y_noisy,
            y_true,
            n_labels,
            splits,
            seed,
            selector,
            auditor_params,
        )
        inspected = _inspected(auditor)
        f1 = _f1(estimator, X, auditor.y_, X_test, y_test)
        rows.append(
            task_row(
                budget,
                "auditor",
                n_labels,
                y_noisy,
                auditor.y_,
                y_true,
                inspected,
                auditor.n_queries_,
                f1,
                time.perf_counter() - t0,
                offers=sum(r.counter_offered for r in auditor.history_),
                follow_ups=sum(r.follow_up for r in auditor.history_),
            )
        )
        rows.append(cleanlab_row(budget, auditor.n_queries_, "cleanlab_per_question"))
    return rows


def _noisy_labels(X, y_true, y_test, noise, noise_rate, seed):
    """The labels of the noisy copy that the task audits."""
    from ..datasets import make_label_noise

    classes = np.unique(np.concatenate([y_true, y_test]))
    y_noisy, _ = make_label_noise(
        y_true,
        noise_rate,
        kind=noise,
        classes=classes,
        random_state=seed,
        X=X if noise == "confusion" else None,
    )
    return y_noisy


def _cleanlab_order(estimator, X, y_noisy):
    """cleanlab's ranking of the examples from 5-fold predictions, and the folds."""
    from .._crossval import check_splits, cross_val_proba

    splits, _ = check_splits(5, X, y_noisy)
    proba = cross_val_proba(
        estimator, X, y_noisy, np.unique(y_noisy), splits=splits
    ).proba
    order = cleanlab_ranking(np.searchsorted(np.unique(y_noisy), y_noisy), proba)
    return order, splits


def _fit_auditor(
    estimator, X, y_noisy, y_true, n_labels, splits, seed, selector, auditor_params
):
    """A LabelAuditor fit with a simulated oracle and a budget of ``n_labels``."""
    from .._auditor import LabelAuditor
    from ..oracles import SimulatedOracle
    from ._registry import make_selector

    params = dict(
        oracle=SimulatedOracle(y_true),
        budget=n_labels,
        cv=splits,
        random_state=seed,
        explain_issues=False,
        selector=make_selector(selector),
    )
    params.update(auditor_params or {})
    return LabelAuditor(estimator, **params).fit(X, y_noisy)


def _inspected(auditor):
    """Which labels a fitted auditor inspected, the questions it asked included."""
    inspected = np.array(auditor.label_issues_["inspected"], dtype=bool)
    for r in auditor.history_:  # a skipped question is asked, not inspected
        inspected[r.example_id] = True
        if r.counter_offered:
            inspected[r.counter_example_id] = True
    return inspected


def _write_rows(rows, path):
    import pandas as pd

    tmp = path.with_name(path.name + ".part")
    pd.DataFrame(rows, columns=list(AUDIT_COLUMNS)).to_csv(tmp, index=False)
    os.replace(tmp, path)


def _task_path(folder, dataset, noise, seed, selector):
    # Top Fisher's tasks keep the names they had before --selector, so that
    # an earlier run's results are read back
    suffix = "" if selector == "top_fisher" else f"__{selector}"
    return folder / f"{dataset}__{noise}__{seed}{suffix}.csv"


def _read_rows(path, selector):
    import pandas as pd

    frame = pd.read_csv(path)
    if "selector" not in frame:  # written before --selector: Top Fisher
        frame.insert(frame.columns.get_loc("method") + 1, "selector", selector)
    return frame


def _task(
    dataset,
    noise,
    seed,
    selector,
    budgets,
    noise_rate,
    data_home,
    folder,
    threads,
    auditor_params,
):
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        rows = run_audit_task(
            dataset,
            noise,
            seed,
            budgets=budgets,
            noise_rate=noise_rate,
            data_home=data_home,
            auditor_params=auditor_params,
            selector=selector,
        )
    if folder is not None:
        _write_rows(rows, _task_path(folder, dataset, noise, seed, selector))
    return rows


def run_audit_benchmark(
    *,
    datasets=AUDIT_DATASETS,
    noises=AUDIT_NOISE,
    budgets=AUDIT_BUDGETS,
    n_repeats=5,
    noise_rate=0.2,
    random_state=0,
    data_home=None,
    output_dir=None,
    n_jobs=1,
    threads=1,
    auditor_params=None,
    verbose=1,
    selectors=AUDIT_SELECTORS,
):
    """Run the audit benchmark; resumable, tasks in parallel.

    Parameters
    ----------
    datasets, noises, budgets : sequences
        The grid (default: the five data sets, uniform and pair-flip noise,
        5/10/20% budgets).
    n_repeats : int, default=5
        Seeds per data set and noise: ``random_state`` to
        ``random_state + n_repeats - 1``.
    noise_rate : float, default=0.2
    random_state : int, default=0
    data_home : str, default=None
    output_dir : str or path-like, default=None
        Each task (data set, noise, seed, selector) writes
        ``<output_dir>/runs/<dataset>__<noise>__<seed>[__<selector>].csv``
        (no suffix for Top Fisher); tasks whose file exists are read back
        instead of run again.
    n_jobs : int, default=1
        Tasks run in parallel (joblib processes).
    threads : int or None, default=1
        BLAS threads per task.
    auditor_params : dict, default=None
        Parameters of the auditor besides its defaults.
    verbose : int, default=1
        A progress bar over the tasks.
    selectors : sequence of str, default=("top_fisher",)
        The auditor's counter-example selectors, by benchmark name; each is
        a task of its own, with cleanlab on the same noisy copy.

    Returns
    -------
    results : pandas.DataFrame
        One row per task, budget and method (:data:`AUDIT_COLUMNS`).

    Examples
    --------
    >>> from sklearn_cincer.benchmark import run_audit_benchmark
    >>> frame = run_audit_benchmark(datasets=["wine"], noises=["pairwise"],
    ...     budgets=[0.1], n_repeats=1, verbose=0)  # doctest: +SKIP
    """
    import pandas as pd
    from joblib import Parallel, delayed

    from .._progress import progress

    folder = None
    if output_dir is not None:
        folder = Path(output_dir) / "runs"
        folder.mkdir(parents=True, exist_ok=True)
        config = dict(
            datasets=list(datasets),
            noises=list(noises),
            budgets=list(budgets),
            n_repeats=n_repeats,
            noise_rate=noise_rate,
            random_state=random_state,
            auditor_params=auditor_params or {},
            selectors=list(selectors),
        )
        (Path(output_dir) / "config.json").write_text(json.dumps(config, indent=2))
    done, todo = [], []
    for dataset in datasets:
        for noise in noises:
            for seed in range(random_state, random_state + n_repeats):
                for selector in selectors:
                    path = (
                        None
                        if folder is None
                        else _task_path(folder, dataset, noise, seed, selector)
                    )
                    if path is not None and path.is_file():
                        done.append(_read_rows(path, selector))
                    else:
                        todo.append((dataset, noise, seed, selector))
    if verbose and done:
        print(
            f"[audit-benchmark] {len(done)} task(s) already done, {len(todo)} to run.",
            flush=True,
        )
    jobs = (
        delayed(_task)(
            d,
            k,
            s,
            sel,
            budgets,
            noise_rate,
            data_home,
            folder,
            threads,
            auditor_params,
        )
        for d, k, s, sel in todo
    )
    results = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(jobs)
    bar = progress(
        results, total=len(todo), desc="audit-benchmark", verbose=verbose, unit="task"
    )
    for rows in bar:
        done.append(pd.DataFrame(rows, columns=list(AUDIT_COLUMNS)))
    frame = pd.concat(done, ignore_index=True)
    return frame.sort_values(
        ["dataset", "noise", "seed", "budget", "selector", "method"], kind="stable"
    ).reset_index(drop=True)


def summarize_audit(results, *, per="label"):
    """Mean ± SE per data set, noise and budget: cleanlab next to the auditor.

    Parameters
    ----------
    results : pandas.DataFrame
        From :func:`run_audit_benchmark`.
    per : {"label", "question"}, default="label"
        "label": at equal labels inspected (cleanlab inspects as many labels
        as the auditor); "question": at equal questions (cleanlab inspects as
        many labels as the auditor asked questions).

    Returns
    -------
    table : pandas.DataFrame
        One row per data set, noise, budget and ``selector`` (the
        auditor's; Top Fisher for results written before it was a column),
        with for each of noise
        removed, precision and F1 (in %) the means and standard errors over
        seeds of both methods and of their paired difference
        (``*_diff``: auditor minus cleanlab), and ``n_seeds``. The standard
        error is the standard deviation over seeds (``ddof=0``, as in the
        other benchmark tables) divided by the square root of their number.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_cincer.benchmark import summarize_audit
    >>> rows = [dict(dataset="wine", noise="uniform", seed=s, budget=0.1,
    ...              method=m, noise_removed=v, precision=v, f1=90.0,
    ...              labels_inspected=14, questions=14)
    ...         for s, (a, c) in enumerate([(50.0, 40.0), (60.0, 40.0)])
    ...         for m, v in (("auditor", a), ("cleanlab", c))]
    >>> row = summarize_audit(pd.DataFrame(rows)).iloc[0]
    >>> float(row["noise_removed_diff"]), round(float(row["noise_removed_diff_se"]), 2)
    (15.0, 3.54)
    """
    import pandas as pd

    baseline = {"label": "cleanlab", "question": "cleanlab_per_question"}[per]
    if "selector" not in results:
        results = results.assign(selector="top_fisher")
    keys = ["dataset", "noise", "budget", "selector"]
    rows = []
    for key, g in results.groupby(keys, sort=False):
        ours = g[g["method"] == "auditor"].set_index("seed")
        theirs = g[g["method"] == baseline].set_index("seed")
        seeds = ours.index.intersection(theirs.index)
        if seeds.empty:
            continue
        row = dict(zip(keys, key), n_seeds=len(seeds))
        row["auditor_labels"] = float(ours.loc[seeds, "labels_inspected"].mean())
        row["auditor_questions"] = float(ours.loc[seeds, "questions"].mean())
        row["cleanlab_labels"] = float(theirs.loc[seeds, "labels_inspected"].mean())
        for metric in ("noise_removed", "precision", "f1"):
            a, c = ours.loc[seeds, metric], theirs.loc[seeds, metric]
            for col, values in (
                (f"auditor_{metric}", a),
                (f"cleanlab_{metric}", c),
                (f"{metric}_diff", a - c),
            ):
                row[col] = float(values.mean())
                row[col + "_se"] = float(values.std(ddof=0) / np.sqrt(len(values)))
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    order = {name: i for i, name in enumerate(AUDIT_DATASETS)}
    noise = {name: i for i, name in enumerate(AUDIT_NOISE)}
    keys = (
        table["dataset"].map(order).fillna(len(order)) * 100
        + table["noise"].map(noise).fillna(len(noise)) * 10
    )
    return (
        table.assign(_key=keys)
        .sort_values(["selector", "_key", "budget"], kind="stable")
        .drop(columns="_key")
        .reset_index(drop=True)
    )


def audit_verdict(summary):
    """The issue's targets, checked on a per-label summary.

    Returns
    -------
    verdict : dict
        ``cells``, ``cells_at_least_cleanlab`` (noise removed: auditor mean
        >= cleanlab mean), ``pairwise_mean_gain`` (mean difference of noise
        removed over the pair-flip cells, points), ``worst_f1_diff`` (the
        lowest mean F1 difference, points), and ``targets_met``.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_cincer.benchmark._audit import audit_verdict
    >>> s = pd.DataFrame({"noise": ["pairwise", "uniform"],
    ...                   "noise_removed_diff": [6.0, 1.0], "f1_diff": [0.1, -0.2]})
    >>> audit_verdict(s)["targets_met"]
    True
    """
    diff = summary["noise_removed_diff"]
    pair = summary[summary["noise"] == "pairwise"]["noise_removed_diff"]
    verdict = {
        "cells": int(len(summary)),
        "cells_at_least_cleanlab": int((diff >= 0).sum()),
        "pairwise_mean_gain": float(pair.mean()) if len(pair) else float("nan"),
        "worst_f1_diff": float(summary["f1_diff"].min()),
    }
    verdict["targets_met"] = bool(
        verdict["cells_at_least_cleanlab"] == verdict["cells"]
        and verdict["pairwise_mean_gain"] >= 5.0
        and verdict["worst_f1_diff"] >= -0.5
    )
    return verdict


def format_audit_table(summary):
    """A summary as a markdown table of "mean ± SE" cells.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_cincer.benchmark._audit import format_audit_table, summarize_audit
    >>> rows = [dict(dataset="wine", noise="uniform", seed=0, budget=0.1,
    ...              method=m, noise_removed=50.0, precision=90.0, f1=95.0,
    ...              labels_inspected=14, questions=12)
    ...         for m in ("auditor", "cleanlab")]
    >>> table = format_audit_table(summarize_audit(pd.DataFrame(rows)))
    >>> print(table.splitlines()[2][:58])
    | wine | uniform | 10% | 14 / 14 | 12.0 | 50.0 ± 0.0 | 50.0
    """
    rows = _table_cells(summary)
    lines = [
        "| " + " | ".join(_HEADER) + " |",
        "|" + "|".join("---" for _ in _HEADER) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


_HEADER = (
    "data set",
    "noise",
    "budget",
    "labels (auditor / cleanlab)",
    "questions (auditor)",
    "noise removed, cleanlab",
    "noise removed, auditor",
    "difference",
    "precision, cleanlab",
    "precision, auditor",
    "F1, cleanlab",
    "F1, auditor",
    "F1 difference",
)


def _table_cells(summary):
    from ._report import mean_se_text

    def cell(row, col, fmt=".1f"):
        return mean_se_text(row[col], row[col + "_se"], fmt)

    return [
        [
            str(r["dataset"]),
            str(r["noise"]),
            f"{r['budget']:.0%}",
            f"{r['auditor_labels']:.0f} / {r['cleanlab_labels']:.0f}",
            f"{r['auditor_questions']:.1f}",
            cell(r, "cleanlab_noise_removed"),
            cell(r, "auditor_noise_removed"),
            cell(r, "noise_removed_diff"),
            cell(r, "cleanlab_precision"),
            cell(r, "auditor_precision"),
            cell(r, "cleanlab_f1", ".2f"),
            cell(r, "auditor_f1", ".2f"),
            cell(r, "f1_diff", ".2f"),
        ]
        for _, r in summary.iterrows()
    ]


def format_audit_rst(summary, title):
    """A summary as a reStructuredText ``csv-table`` (for the docs).

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_cincer.benchmark._audit import format_audit_rst, summarize_audit
    >>> rows = [dict(dataset="wine", noise="uniform", seed=0, budget=0.1,
    ...              method=m, noise_removed=50.0, precision=90.0, f1=95.0,
    ...              labels_inspected=14, questions=12)
    ...         for m in ("auditor", "cleanlab")]
    >>> print(format_audit_rst(summarize_audit(pd.DataFrame(rows)), "T")[:48])
    .. csv-table:: T
       :header: "data set", "noise"
    """

    def quoted(values):
        return ", ".join('"' + v.replace('"', '""') + '"' for v in values)

    lines = [f".. csv-table:: {title}", f"   :header: {quoted(_HEADER)}", ""]
    lines += ["   " + quoted(row) for row in _table_cells(summary)]
    return "\n".join(lines)


def write_audit_report(results, output_dir, *, figures=True):
    """Write ``summary.md`` (the tables and verdicts), ``summary.rst``, figures.

    With several selectors, each gets its tables and verdict, and
    ``selectors.md``/``selectors.rst`` compare them cell by cell.

    Parameters
    ----------
    results : pandas.DataFrame
        From :func:`run_audit_benchmark`.
    output_dir : str or path-like
    figures : bool, default=True
        Also draw ``noise_removed.png`` (noise removed against the budget,
        per data set and noise kind; ``noise_removed_<selector>.png`` for
        every selector but the first when there are several).

    Returns
    -------
    text : str
        The markdown written to ``summary.md``.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    per_label = summarize_audit(results, per="label")
    per_question = summarize_audit(results, per="question")
    selectors = list(dict.fromkeys(per_label["selector"]))
    parts = [
        "# Audit benchmark: LabelAuditor against cleanlab",
        "Mean ± standard error over seeds; noise removed, precision and "
        "F1 in %. Differences are paired by seed (auditor minus cleanlab).",
    ]
    rst = []
    for i, name in enumerate(selectors):
        label = per_label[per_label["selector"] == name]
        question = per_question[per_question["selector"] == name]
        parts += _report_parts(label, question, name, len(selectors) > 1)
        rst += [
            format_audit_rst(
                label,
                "Per label: at equal labels inspected "
                f"(auditor with {name}; mean ± SE over seeds, in %)",
            ),
            format_audit_rst(
                question,
                "Per question: cleanlab inspects as many "
                "labels as the auditor asked questions (auditor "
                f"with {name})",
            ),
        ]
        if figures:
            suffix = "" if i == 0 else f"_{name}"
            fig = plot_audit(label)
            fig.savefig(output_dir / f"noise_removed{suffix}.png", dpi=120)
    text = "\n\n".join(parts) + "\n"
    (output_dir / "summary.md").write_text(text)
    (output_dir / "summary.rst").write_text("\n\n".join(rst) + "\n")
    if len(selectors) > 1:
        compared = compare_selectors(results)
        (output_dir / "selectors.md").write_text(
            "# The auditor's selectors, cell by cell\n\n"
            + format_selectors(compared)
            + "\n"
        )
        (output_dir / "selectors.rst").write_text(
            format_selectors(compared, rst=True) + "\n"
        )
        compared.to_csv(output_dir / "selectors.csv", index=False)
    per_label.to_csv(output_dir / "summary_per_label.csv", index=False)
    per_question.to_csv(output_dir / "summary_per_question.csv", index=False)
    return text


def _report_parts(per_label, per_question, selector, several):
    """The markdown sections of one selector's tables and verdict."""
    verdict = audit_verdict(per_label)
    with_selector = f" (auditor with {selector})" if several else ""
    return [
        f"## Per label: at equal labels inspected{with_selector}",
        "cleanlab inspects as many labels as the auditor (the budget).",
        format_audit_table(per_label),
        f"## Per question: at equal questions{with_selector}",
        "cleanlab inspects one label per question, as many as the auditor "
        "asked questions; an auditor's question inspects one label, or two "
        "with a relabel offer.",
        format_audit_table(per_question),
        f"## Targets (per label){with_selector}",
        "\n".join(f"- {k}: {v}" for k, v in verdict.items()),
    ]


def compare_selectors(results):
    """The auditor's selectors side by side, with cleanlab, on the same cells.

    Parameters
    ----------
    results : pandas.DataFrame
        From :func:`run_audit_benchmark` with several selectors.

    Returns
    -------
    table : pandas.DataFrame
        One row per data set, noise and budget, on the seeds that every
        selector finished: ``cleanlab`` (noise removed at equal labels) and,
        per selector ``s``, ``s`` (noise removed), ``s_se`` and
        ``s_questions`` (mean questions), plus ``n_seeds``.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_cincer.benchmark._audit import compare_selectors
    >>> rows = [dict(dataset="wine", noise="uniform", seed=s, budget=0.1,
    ...              method=m, selector=sel, noise_removed=v, questions=q)
    ...         for s in (0, 1)
    ...         for sel, a, q in (("cleaning", 60.0, 12), ("top_fisher", 50.0, 13))
    ...         for m, v in (("auditor", a), ("cleanlab", 40.0))]
    >>> row = compare_selectors(pd.DataFrame(rows)).iloc[0]
    >>> float(row["cleaning"]), float(row["top_fisher"]), float(row["cleanlab"])
    (60.0, 50.0, 40.0)
    """
    import pandas as pd

    keys = ["dataset", "noise", "budget"]
    selectors = list(dict.fromkeys(results["selector"]))
    rows = []
    for key, g in results.groupby(keys, sort=False):
        ours = g[g["method"] == "auditor"]
        seeds = set(ours["seed"])
        for name in selectors:
            seeds &= set(ours.loc[ours["selector"] == name, "seed"])
        if not seeds:
            continue
        g = g[g["seed"].isin(seeds)]
        cleanlab = g[(g["method"] == "cleanlab") & (g["selector"] == selectors[0])][
            "noise_removed"
        ]
        row = dict(
            zip(keys, key),
            n_seeds=len(seeds),
            cleanlab=float(cleanlab.mean()),
            cleanlab_se=float(cleanlab.std(ddof=0) / np.sqrt(len(seeds))),
        )
        for name in selectors:
            mine = g[(g["method"] == "auditor") & (g["selector"] == name)]
            row[name] = float(mine["noise_removed"].mean())
            row[f"{name}_se"] = float(
                mine["noise_removed"].std(ddof=0) / np.sqrt(len(seeds))
            )
            row[f"{name}_questions"] = float(mine["questions"].mean())
        rows.append(row)
    return pd.DataFrame(rows)


def format_selectors(compared, *, rst=False):
    """:func:`compare_selectors`' table as markdown, or an rst ``csv-table``."""
    from ._report import mean_se_text

    names = [
        c[: -len("_questions")] for c in compared.columns if c.endswith("_questions")
    ]
    header = ["data set", "noise", "budget", "cleanlab"]
    header += [f"auditor, {n}" for n in names]
    header += [f"questions, {n}" for n in names] + ["seeds"]
    body = []
    for _, r in compared.iterrows():
        body.append(
            [
                str(r["dataset"]),
                str(r["noise"]),
                f"{r['budget']:.0%}",
                mean_se_text(r["cleanlab"], r["cleanlab_se"], ".1f"),
            ]
            + [mean_se_text(r[n], r[f"{n}_se"], ".1f") for n in names]
            + [f"{r[f'{n}_questions']:.1f}" for n in names]
            + [str(int(r["n_seeds"]))]
        )
    if rst:

        def quoted(values):
            return ", ".join('"' + v.replace('"', '""') + '"' for v in values)

        lines = [
            ".. csv-table:: Noise removed (%, mean ± SE over seeds) at "
            "equal labels inspected, by the auditor's selector",
            f"   :header: {quoted(header)}",
            "",
        ]
        return "\n".join(lines + ["   " + quoted(row) for row in body])
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in body])


def plot_audit(summary):
    """Noise removed against the budget, cleanlab and auditor, per cell.

    Parameters
    ----------
    summary : pandas.DataFrame
        From :func:`summarize_audit`.

    Returns
    -------
    figure : matplotlib Figure
    """
    import matplotlib.pyplot as plt

    groups = list(summary.groupby(["dataset", "noise"], sort=False))
    ncols = min(5, len(groups)) or 1
    nrows = int(np.ceil(len(groups) / ncols)) or 1
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(3.2 * ncols, 2.8 * nrows), squeeze=False, sharey=True
    )
    for ax, ((dataset, noise), g) in zip(axes.ravel(), groups):
        g = g.sort_values("budget")
        x = 100 * g["budget"]
        for who, style in (("cleanlab", "--o"), ("auditor", "-s")):
            ax.errorbar(
                x,
                g[f"{who}_noise_removed"],
                g[f"{who}_noise_removed_se"],
                fmt=style,
                label=who,
                capsize=2,
            )
        ax.set_title(f"{dataset}, {noise}", fontsize="small")
        ax.set_xlabel("labels inspected (% of rows)")
    for ax in axes[:, 0]:
        ax.set_ylabel("noise removed (%)")
    for ax in axes.ravel()[len(groups) :]:
        ax.set_visible(False)
    axes[0, 0].legend(fontsize="small")
    fig.tight_layout()
    return fig
