"""The whole grid of the paper, and the report written from its results.

Layout of an output folder::

    <output>/runs/<dataset>__<model>__<strategy>__<selector>__<refit>/
        config.json, trace_<r>.csv, queries_<r>.csv
    <output>/runs/<dataset>__<model>__precision/precision_<r>.csv
    <output>/figures/*.png
    <output>/comparison.csv, comparison.md, precision.csv, precision.md

Runs are resumable: a repeat whose trace exists is not run again, so a grid
can be stopped and restarted, or extended with more repeats.
"""

import itertools
import json
import time
from pathlib import Path

import numpy as np

from .._progress import progress
from ._registry import NET_MODELS, make_model, selector_label
from ._runner import (
    PAPER_PAIRS,
    Q1_RUNS,
    Q2_PAIRS,
    Q3_RUNS,
    RunSpec,
    make_stream,
    paper_bootstrap,
    repeat_seed,
    run_experiment,
    run_precision_experiment,
)

#: Selectors compared in Q2 (on the same queries); full_fisher only where the
#: model is small, and the authors' ranking unless ``authors_ranking=False``.
Q2_SELECTORS = ("cleaning", "top_fisher", "practical_fisher", "influence", "nearest")
#: Q2 pairs where the dense Fisher of all parameters is affordable: the
#: paper's FC net on breast cancer has 4,130 parameters (a 136 MB matrix
#: factorized per query, about a second); on adult it has 8,866 (629 MB,
#: about 8 s per query on one core), which the grid leaves out.
_FULL_FISHER_MAX_PARAMS = {("breast", "fc"): 5000}
_FULL_FISHER_OK = {"wine", "digits"}
#: Q2 selectors the grid leaves out where they cost minutes per query here:
#: the exact Hessian of MNIST/LR (7,850 parameters) is factorized per query.
_Q2_LEFT_OUT = {("mnist", "lr"): {"influence"}}


def grid_specs(
    pairs=PAPER_PAIRS,
    questions=("q1", "q3"),
    refits=("scratch",),
    authors_ranking=True,
    n_rounds=100,
    eval_every=1,
    trainings=("code",),
):
    """The competitors of the grid, without duplicates.

    Examples
    --------
    >>> from sklearn_cincer.benchmark._reproduce import grid_specs
    >>> specs = grid_specs([("breast", "lr")], authors_ranking=False)
    >>> [(s.strategy, s.selector) for s in specs]  # doctest: +NORMALIZE_WHITESPACE
    [('cincer', 'cleaning'), ('drop_ce', 'cleaning'), ('no_ce', 'none'),
     ('cincer', 'top_fisher'), ('cincer', 'practical_fisher'), ('cincer', 'nearest')]
    >>> grid_specs([("breast", "lr")], questions=())  # Q2 only: no cleaning runs
    []
    """
    runs = []
    if "q1" in questions:
        runs += Q1_RUNS
    if "q3" in questions:
        runs += Q3_RUNS
    if authors_ranking and runs:  # beside Q1/Q3 runs, never on its own
        runs.append(("cincer", "authors_top_fisher"))
    runs = list(dict.fromkeys(runs))
    specs = []
    for refit, training in itertools.product(refits, trainings):
        for dataset, model in pairs:
            for strategy, selector in runs:
                specs.append(
                    RunSpec(
                        dataset,
                        model,
                        strategy,
                        selector,
                        refit=refit,
                        n_rounds=n_rounds,
                        eval_every=eval_every,
                        training=training,
                    )
                )
    # "lr" has no training: its runs are the same under every training
    return list({spec.name: spec for spec in specs}.values())


def collect_traces(output_dir):
    """All per-round traces under ``<output_dir>/runs``, stacked.

    Examples
    --------
    >>> from sklearn_cincer.benchmark._reproduce import collect_traces
    >>> collect_traces("/nonexistent").empty
    True
    """
    import pandas as pd

    frames = []
    for config in sorted(Path(output_dir, "runs").glob("*/config.json")):
        spec = json.loads(config.read_text())
        if "strategy" not in spec:
            continue
        for path in sorted(config.parent.glob("trace_*.csv")):
            frame = pd.read_csv(path)
            for key in ("dataset", "model", "strategy", "refit"):
                frame[key] = spec[key]
            # runs written before the option trained the networks as the
            # paper's text says; "lr" has no training
            frame["training"] = spec.get(
                "training", ("text" if spec["model"] in NET_MODELS else None)
            )
            frame["selector"] = selector_label(
                spec["selector"],
                spec.get("selector_params"),
                spec.get("cleaner_params"),
            )
            frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def collect_precision(output_dir):
    """All Q2 results under ``<output_dir>/runs``, stacked."""
    import pandas as pd

    frames = []
    for folder in sorted(Path(output_dir, "runs").glob("*__precision*")):
        dataset, model = folder.name.split("__")[:2]
        for path in sorted(folder.glob("precision_*.csv")):
            frame = pd.read_csv(path)
            frame["dataset"], frame["model"] = dataset, model
            frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def counter_example_figure(
    dataset,
    model="lr",
    *,
    selectors=("cleaning", "top_fisher", "nearest", "influence"),
    data=None,
    data_home=None,
    random_state=0,
    n_bootstrap=None,
):
    """Figure 1: a suspicious image next to the counter-examples of several selectors.

    The model is fit on the noisy bootstrap set of repeat 0; the first
    incoming example it finds suspicious (margin at least 0.2) is shown next
    to the counter-example each available selector picks.

    Returns
    -------
    fig : matplotlib.figure.Figure or None
        None when the data set has no images or nothing is suspicious.
    """
    from ..datasets import load_dataset
    from ._registry import make_selector
    from ._report import pick_counter_examples, plot_counter_examples

    if data is None:
        data = load_dataset(dataset, data_home=data_home, random_state=random_state)
    if "images_train" not in data:
        return None
    shape = data.images_train.shape[1:]
    n_bootstrap = paper_bootstrap(dataset) if n_bootstrap is None else n_bootstrap
    seed = repeat_seed(random_state, 0)
    s = make_stream(
        data.X_train,
        data.y_train,
        n_bootstrap=n_bootstrap,
        n_rounds=100,
        random_state=seed,
    )
    B = n_bootstrap
    fitted = make_model(model, random_state=seed).fit(s.X[:B], s.y_noisy[:B])
    proba = fitted.predict_proba(s.X[B:])
    top = proba.max(axis=1)
    own = proba[
        np.arange(proba.shape[0]), np.searchsorted(fitted.classes_, s.y_noisy[B:])
    ]
    suspicious = np.flatnonzero(top - own >= 0.2)
    if suspicious.size == 0:
        return None
    t = B + suspicious[0]
    chosen = {}
    for name in selectors:
        try:
            chosen[name] = make_selector(name)
        except ImportError:
            continue
    picks = pick_counter_examples(
        fitted, s.X[:B], s.y_noisy[:B], s.X[t], s.y_noisy[t], chosen
    )
    names = data.target_names
    prediction = fitted.predict(s.X[t : t + 1])[0]

    def caption(i):
        truth = names[s.y_true[i]]
        return f"label {names[s.y_noisy[i]]} (true {truth})"

    return plot_counter_examples(
        s.X[t].reshape(shape),
        caption(t) + f"\npredicted {names[prediction]}",
        {name: (s.X[i].reshape(shape), caption(i)) for name, i in picks.items()},
    )


def write_report(output_dir, *, paper=None, figures=True, paper_models=None):
    """Write the comparison tables and figures of an output folder.

    Parameters
    ----------
    output_dir : str or path-like
    paper : pandas.DataFrame, default=None
        The paper's numbers; see :func:`load_paper_results`.
    figures : bool, default=True
    paper_models : dict, default=None
        See :func:`compare_with_paper`.

    Returns
    -------
    table : pandas.DataFrame
        Our final numbers next to the paper's (also written to
        ``comparison.csv`` and ``comparison.md``).
    """
    from ._report import (
        compare_precision_with_paper,
        compare_with_paper,
        format_table,
        plot_precision,
        plot_traces,
        readable,
        summarize_pairs,
    )

    output_dir = Path(output_dir)
    traces = collect_traces(output_dir)
    precision = collect_precision(output_dir)
    table = None
    if not traces.empty:
        table = compare_with_paper(traces, paper, paper_models=paper_models)
        table.to_csv(output_dir / "comparison.csv", index=False)
        (output_dir / "comparison.md").write_text(format_table(readable(table)) + "\n")
        summary = summarize_pairs(table)
        if not summary.empty:
            summary.to_csv(output_dir / "summary.csv", index=False)
            (output_dir / "summary.md").write_text(format_table(summary) + "\n")
    if not precision.empty:
        pr = compare_precision_with_paper(precision, paper)
        pr.to_csv(output_dir / "precision.csv", index=False)
        (output_dir / "precision.md").write_text(format_table(pr) + "\n")
    if figures:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig_dir = output_dir / "figures"
        fig_dir.mkdir(exist_ok=True)
        if not traces.empty:
            groups = {
                "q1": Q1_RUNS,
                "q3": Q3_RUNS + (("cincer", "authors_top_fisher"),),
            }
            known = set().union(*groups.values())
            for (dataset, model, refit), g in traces.groupby(
                ["dataset", "model", "refit"]
            ):
                pairs = list(zip(g["strategy"], g["selector"]))
                # runs of neither question (other selectors, selector parameters)
                # are drawn together with CINCER's default for reference
                others = {p for p in pairs if p not in known}
                if others:
                    others.add(("cincer", "cleaning"))
                for question, runs in dict(groups, variants=others).items():
                    keep = g[[p in runs for p in pairs]]
                    if keep.empty:
                        continue
                    fig = plot_traces(keep, title=f"{dataset} / {model} ({refit})")
                    fig.savefig(
                        fig_dir / f"{question}__{dataset}__{model}__{refit}.png",
                        dpi=120,
                    )
                    plt.close(fig)
        if not precision.empty:
            for (dataset, model), g in precision.groupby(["dataset", "model"]):
                fig = plot_precision(g, title=f"{dataset} / {model}")
                fig.savefig(fig_dir / f"q2__{dataset}__{model}.png", dpi=120)
                plt.close(fig)
    return table


def reproduce(
    output_dir,
    *,
    pairs=PAPER_PAIRS,
    questions=("q1", "q2", "q3"),
    refits=("scratch",),
    trainings=("code",),
    n_repeats=5,
    n_rounds=100,
    authors_ranking=True,
    q2_pairs=Q2_PAIRS,
    random_state=0,
    data_home=None,
    n_jobs=1,
    threads=1,
    figures=True,
    eval_every=1,
    verbose=1,
):
    """Run the paper's grid and write results, figures and the comparison table.

    Competitors whose model or selector is unavailable (e.g. the networks
    without torch) are skipped with a message; everything else runs.

    Parameters
    ----------
    output_dir : str or path-like
        Where results go (see the module's layout).
    pairs : sequence of (dataset, model), default=PAPER_PAIRS
    questions : sequence of {"q1", "q2", "q3"}
    refits : sequence of {"scratch", "incremental"}
    trainings : sequence of {"code", "text"}, default=("code",)
        How the networks train (see :class:`RunSpec`); "code" reproduces
        the paper's published numbers. Q2 uses the first.
    n_repeats, n_rounds : int
    authors_ranking : bool, default=True
        Also run CINCER with :class:`AuthorsTopFisherSelector`.
    q2_pairs : sequence of (dataset, model), default=Q2_PAIRS
    random_state : int, default=0
    data_home : str, default=None
    n_jobs : int, default=1
        Repeats in parallel.
    threads : int or None, default=1
        BLAS/OpenMP threads per repeat (see :func:`run_experiment`).
    figures : bool, default=True
    eval_every : int, default=1
        Measure the test F1 every ``eval_every`` rounds (see
        :class:`RunSpec`).
    verbose : int, default=1

    Returns
    -------
    table : pandas.DataFrame or None
        The comparison table.
    """
    output_dir = Path(output_dir)
    runs_dir = output_dir / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    skipped = []
    data_for = _data_loader(data_home, random_state)
    started = time.perf_counter()
    # the same for every run of the grid, Q2 included
    run_kw = dict(
        n_repeats=n_repeats,
        random_state=random_state,
        output_dir=runs_dir,
        n_jobs=n_jobs,
        threads=threads,
        verbose=verbose,
    )
    specs = grid_specs(
        pairs,
        [q for q in questions if q != "q2"],
        refits,
        authors_ranking,
        n_rounds,
        eval_every,
        trainings,
    )
    _run_grid(specs, data_for, skipped, run_kw)
    if "q2" in questions:
        for dataset, model in q2_pairs:
            available, params = _q2_selectors(dataset, model, authors_ranking, skipped)
            try:
                run_precision_experiment(
                    dataset,
                    model,
                    available,
                    training=trainings[0] if model in NET_MODELS else None,
                    n_rounds=n_rounds,
                    data=data_for(dataset),
                    selector_params=params,
                    **run_kw,
                )
            except ImportError as exc:
                skipped.append((f"{dataset}__{model}__q2", str(exc)))
    (output_dir / "skipped.json").write_text(json.dumps(skipped, indent=2))
    table = write_report(output_dir, figures=figures)
    if figures:
        _write_counter_example_figures(
            output_dir / "figures", pairs, data_for, random_state
        )
    if verbose:
        print(
            f"[reproduce] done in {time.perf_counter() - started:.0f} s; "
            f"{len(skipped)} skipped; see {output_dir}",
            flush=True,
        )
    return table


def _data_loader(data_home, random_state):
    """A function that loads a data set, keeping the last one in memory."""
    from ..datasets import load_dataset

    cache = {}

    def data_for(dataset):
        if dataset not in cache:
            cache.clear()  # one data set in memory at a time
            cache[dataset] = load_dataset(
                dataset, data_home=data_home, random_state=random_state
            )
        return cache[dataset]

    return data_for


def _run_grid(specs, data_for, skipped, run_kw):
    """Run the Q1/Q3 competitors of ``specs``, appending the skipped to ``skipped``."""
    bar = progress(specs, desc="reproduce", verbose=run_kw["verbose"], unit="run")
    for spec in bar:
        bar.set_postfix(run=spec.name)
        try:
            run_experiment(spec, data=data_for(spec.dataset), **run_kw)
        except ImportError as exc:
            skipped.append((spec.name, str(exc)))
            bar.write(f"[reproduce] skipped {spec.name}: {exc}")


def _q2_selectors(dataset, model, authors_ranking, skipped):
    """The Q2 selectors of a pair that can run here, and their parameters.

    Those that cannot be imported are appended to ``skipped``.
    """
    left_out = _Q2_LEFT_OUT.get((dataset, model), set())
    selectors = [name for name in Q2_SELECTORS if name not in left_out]
    params = {}
    if (dataset, model) in _FULL_FISHER_MAX_PARAMS:
        selectors.append("full_fisher")
        params["full_fisher"] = {"max_params": _FULL_FISHER_MAX_PARAMS[dataset, model]}
    elif dataset in _FULL_FISHER_OK:  # for LR it equals Top Fisher anyway
        selectors.append("full_fisher")
    if authors_ranking:
        selectors.append("authors_top_fisher")
    available = []
    for name in selectors:
        try:
            from ._registry import selector_class

            selector_class(name)
            available.append(name)
        except ImportError as exc:
            skipped.append((f"{dataset}__{model}__q2__{name}", str(exc)))
    return available, params


def _write_counter_example_figures(fig_dir, pairs, data_for, random_state):
    """Save Figure 1 (counter-examples shown as images) for the image pairs."""
    import matplotlib.pyplot as plt

    for dataset, model in pairs:
        if dataset in ("mnist", "fashion_mnist", "digits") and model == "lr":
            fig = counter_example_figure(
                dataset, model, data=data_for(dataset), random_state=random_state
            )
            if fig is not None:
                fig.savefig(fig_dir / f"fig1__{dataset}__{model}.png", dpi=120)
                plt.close(fig)
