"""The paper's experiments: streams, the cleaning runs (Q1, Q3) and Pr@k (Q2).

Every competitor of a repeat sees the same stream: the noise, the bootstrap
set and the order of the incoming examples depend only on the data set, the
repeat and ``random_state``, never on the model, strategy or selector. The
model's initialization is seeded the same way, so that competitors differ only
in what they are compared on.
"""

import json
import numbers
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.metrics import f1_score
from sklearn.utils import Bunch

from .._cleaner import SkepticalCleaner
from .._progress import progress
from .._threads import limit_threads
from ..datasets import NOISE_KINDS
from ..oracles import SimulatedOracle
from ._registry import (
    NET_MODELS,
    STRATEGIES,
    TRAININGS,
    check_training,
    checked_cleaner_params,
    checked_selector,
    make_model,
    make_selector,
    selector_label,
)

#: The paper's settings (section 4).
PAPER_SETTINGS = {
    "noise_rate": 0.2,
    "n_bootstrap": 100,
    "n_rounds": 100,
    "threshold": 0.2,
    "n_repeats": 5,
}

#: Bootstrap sizes that differ from 100 in the paper.
PAPER_BOOTSTRAP = {"20ng": 500}

#: The (data set, model) pairs of the paper.
PAPER_PAIRS = (
    ("mnist", "lr"),
    ("mnist", "fc"),
    ("mnist", "cnn"),
    ("fashion_mnist", "fc"),
    ("fashion_mnist", "cnn"),
    ("adult", "fc"),
    ("breast", "fc"),
    ("20ng", "fc"),
)

#: Q2 is run on these pairs by default (the issue asks for at least these).
Q2_PAIRS = (("breast", "fc"), ("adult", "fc"), ("mnist", "lr"))

#: The competitors of Q1 and Q3 as (strategy, selector). CINCER and Drop CE
#: use the library's default selector ("cleaning"); Q3 also runs the paper's
#: Top Fisher (Eq. 14 alone).
Q1_RUNS = (("cincer", "cleaning"), ("drop_ce", "cleaning"), ("no_ce", "none"))
Q3_RUNS = (
    ("cincer", "cleaning"),
    ("cincer", "top_fisher"),
    ("cincer", "practical_fisher"),
    ("cincer", "nearest"),
)

TRACE_COLUMNS = (
    "repeat",
    "round",
    "f1",
    "n_cleaned",
    "n_cleaned_ex",
    "n_cleaned_ce",
    "n_queried",
    "n_mistakes_seen",
    "n_ce_shown",
    "n_noisy_ce",
    "n_dropped",
    "n_train",
    "n_noisy_train",
    "seconds",
    "cpu_seconds",
    "eval_seconds",
)


def paper_bootstrap(dataset):
    """The paper's bootstrap size for a data set (500 for 20NG, else 100).

    Examples
    --------
    >>> from sklearn_cincer.benchmark import paper_bootstrap
    >>> paper_bootstrap("20ng"), paper_bootstrap("breast")
    (500, 100)
    """
    return PAPER_BOOTSTRAP.get(dataset, PAPER_SETTINGS["n_bootstrap"])


def repeat_seed(random_state, repeat):
    """The seed of one repeat: the same for every competitor.

    Parameters
    ----------
    random_state : int
        The experiment's seed.
    repeat : int
        The repeat's number.

    Returns
    -------
    seed : int
        In ``[0, 2**31 - 1)``; it fixes the repeat's noise, bootstrap set,
        stream order and model seed for all competitors.

    Examples
    --------
    >>> from sklearn_cincer.benchmark import repeat_seed
    >>> repeat_seed(0, 1) == repeat_seed(0, 1) != repeat_seed(0, 2)
    True
    """
    return int(
        np.random.SeedSequence([int(random_state), int(repeat)]).generate_state(1)[0]
        % (2**31 - 1)
    )


def make_stream(
    X,
    y,
    *,
    n_bootstrap=100,
    n_rounds=100,
    noise_rate=0.2,
    noise_kind="uniform",
    random_state=None,
):
    """Corrupt a training pool and draw a bootstrap set and a stream from it.

    As in the paper: ``noise_rate`` of the labels of the whole pool are
    corrupted (uniformly at random in the paper; ``noise_kind`` says how,
    see :func:`~sklearn_cincer.datasets.make_label_noise`), then ``n_bootstrap + n_rounds`` examples
    are drawn at random without replacement, the first ``n_bootstrap`` being
    the bootstrap set and the rest the incoming examples, in order.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The training pool.
    y : ndarray of shape (n_samples,)
        Its true labels.
    n_bootstrap : int, default=100
    n_rounds : int, default=100
    noise_rate : float, default=0.2
    noise_kind : {"uniform", "pairwise", "confusion"}, default="uniform"
        "confusion" flips labels to the classes a logistic regression
        trained on the clean pool confuses them with.
    random_state : int, RandomState instance or None, default=None
        Seeds the noise and the draw.

    Returns
    -------
    stream : sklearn.utils.Bunch
        ``X``, ``y_true``, ``y_noisy``, ``is_noisy`` (in stream order),
        ``indices`` (rows of the pool), ``n_bootstrap``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer.benchmark import make_stream
    >>> X, y = np.arange(100.0).reshape(50, 2), np.arange(50) % 2
    >>> s = make_stream(X, y, n_bootstrap=10, n_rounds=5, random_state=0)
    >>> s.X.shape, bool(np.all(s.is_noisy == (s.y_noisy != s.y_true)))
    ((15, 2), True)
    """
    from sklearn.utils import check_random_state

    from ..datasets import make_label_noise

    rng = check_random_state(random_state)
    y = np.asarray(y)
    n = n_bootstrap + n_rounds
    if n > y.shape[0]:
        raise ValueError(
            f"The pool has {y.shape[0]} examples, fewer than n_bootstrap + "
            f"n_rounds = {n}."
        )
    y_noisy, is_noisy = make_label_noise(
        y,
        noise_rate,
        kind=noise_kind,
        classes=np.unique(y),
        random_state=rng,
        X=X if noise_kind == "confusion" else None,
    )
    indices = rng.permutation(y.shape[0])[:n]
    return Bunch(
        X=np.asarray(X)[indices],
        y_true=y[indices],
        y_noisy=y_noisy[indices],
        is_noisy=is_noisy[indices],
        indices=indices,
        n_bootstrap=n_bootstrap,
    )


@dataclass(frozen=True)
class RunSpec:
    """One competitor: what is run on which data, and how.

    ``name`` identifies its folder of results.

    Parameters
    ----------
    dataset : str
        A name of :data:`sklearn_cincer.datasets.LOADERS`.
    model : str
        "lr", "lr_net", "fc" or "cnn".
    strategy : str, default="cincer"
        "cincer", "drop_ce" or "no_ce".
    selector : str, default="cleaning"
        A selector name ("none" for "no_ce").
    refit : {"scratch", "incremental"}, default="scratch"
    n_bootstrap : int, default=None
        The paper's (100, or 500 for 20NG) when None.
    n_rounds : int, default=100
    noise_rate : float, default=0.2
    noise_kind : {"uniform", "pairwise", "confusion"}, default="uniform"
        How labels are corrupted (:func:`make_stream`); a kind other than
        the paper's uniform noise ends the name (``...__confusion``).
    threshold : float, default=0.2
    model_params, selector_params : dict
        Extra parameters of the model and the selector.
    cleaner_params : dict
        Extra parameters of :class:`~sklearn_cincer.SkepticalCleaner`, e.g.
        ``{"n_counter_examples": 2}``; not those the run sets itself
        (``threshold``, ``refit``...). They join the selector's label (in
        brackets), so the run has its own folder and row.
    eval_every : int, default=1
        Measure the test F1 every ``eval_every`` rounds (and always after the
        bootstrap and the last round); the rounds in between get NaN. The
        paper measures every round; with the CNN a prediction on MNIST's
        10,000 test images costs more than the round itself, so the grid can
        measure less often without changing the final numbers.
    training : {"code", "text"}, default="code"
        How the networks are trained (``"lr_net"``, ``"fc"``, ``"cnn"``; see
        :func:`make_model`): ``"code"`` as the authors' code did, which gave
        the paper's published numbers, or ``"text"`` as the paper's text
        says. It ends the name of a network's run (``...__scratch__code``);
        for ``"lr"``, which has no such option, it becomes None.

    Examples
    --------
    >>> from sklearn_cincer.benchmark import RunSpec
    >>> spec = RunSpec("breast", "lr", strategy="no_ce")
    >>> spec.name, spec.n_bootstrap
    ('breast__lr__no_ce__none__scratch', 100)
    """

    dataset: str
    model: str
    strategy: str = "cincer"
    selector: str = "cleaning"
    refit: str = "scratch"
    n_bootstrap: int | None = None
    n_rounds: int = 100
    noise_rate: float = 0.2
    threshold: float = 0.2
    noise_kind: str = "uniform"
    model_params: dict = field(default_factory=dict)
    selector_params: dict = field(default_factory=dict)
    eval_every: int = 1
    cleaner_params: dict = field(default_factory=dict)
    training: str | None = "code"

    def __post_init__(self):
        if self.training is not None:
            check_training("fc", self.training)  # an unknown value fails here
        if self.model not in NET_MODELS:
            object.__setattr__(self, "training", None)  # "lr" has no such option
        elif self.training is None:
            raise ValueError(
                f"A network's run needs a training, one of {list(TRAININGS)}; got None."
            )
        if (
            isinstance(self.eval_every, bool)
            or not isinstance(self.eval_every, numbers.Integral)
            or self.eval_every < 1
        ):
            raise ValueError(
                f"eval_every must be a positive integer, got {self.eval_every!r}."
            )
        if self.noise_kind not in NOISE_KINDS:
            raise ValueError(
                f"Unknown noise_kind {self.noise_kind!r}; choose one of "
                f"{list(NOISE_KINDS)}."
            )
        if self.strategy not in STRATEGIES:
            raise ValueError(
                f"Unknown strategy {self.strategy!r}; choose one of "
                f"{sorted(STRATEGIES)}."
            )
        if self.strategy == "no_ce":
            object.__setattr__(self, "selector", "none")
            object.__setattr__(self, "selector_params", {})
            # shows no counter-example: the run is the plain No CE run
            object.__setattr__(
                self,
                "cleaner_params",
                {
                    k: v
                    for k, v in self.cleaner_params.items()
                    if k != "n_counter_examples"
                },
            )
        elif self.selector_params:
            # a misspelt or out-of-range parameter fails here, before any data
            # is loaded, rather than in the middle of a grid
            try:
                checked_selector(self.selector, **self.selector_params)
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"Invalid selector_params {self.selector_params!r} for "
                    f"{self.selector!r}: {exc}"
                ) from exc
        if self.cleaner_params:
            checked_cleaner_params(self.cleaner_params)
        if self.n_bootstrap is None:
            object.__setattr__(self, "n_bootstrap", paper_bootstrap(self.dataset))

    @property
    def label(self):
        """The selector's label with its and the cleaner's parameters."""
        return selector_label(self.selector, self.selector_params, self.cleaner_params)

    @property
    def name(self):
        parts = [self.dataset, self.model, self.strategy, self.label, self.refit]
        if self.training is not None:
            parts.append(self.training)
        if self.noise_kind != "uniform":
            parts.append(self.noise_kind)
        return "__".join(parts)


def _counts(history, y_true):
    """Cleaning counters of a list of QueryRecord, against the true labels.

    Every counter-example shown counts, several per question with
    ``n_counter_examples > 1``: ``ce`` those relabeled to their true label,
    ``shown`` all those shown, ``noisy_ce`` those shown with a wrong label,
    ``dropped`` those dropped.
    """
    ex = ce = shown = noisy_ce = dropped = 0
    for r in history:
        if r.label_after != r.label_before and r.label_after == y_true[r.example_id]:
            ex += 1
        for ce_id, before, after, relabeled in zip(
            r.counter_example_ids,
            r.counter_labels_before,
            r.counter_labels_after,
            r.relabeled_counter_examples,
        ):
            truth = y_true[ce_id]
            noisy_ce += before != truth
            ce += bool(relabeled and after == truth)
        shown += len(r.counter_example_ids)
        dropped += len(r.counter_example_ids) if r.dropped else 0
    return ex, ce, shown, noisy_ce, dropped


def run_cleaning(
    stream,
    X_test,
    y_test,
    *,
    model,
    selector=None,
    strategy="cincer",
    threshold=0.2,
    refit="scratch",
    classes=None,
    random_state=None,
    repeat=0,
    eval_every=1,
    cleaner_params=None,
    verbose=0,
):
    """Run one competitor on one stream, measuring after every round.

    The cleaner is fit on the bootstrap set, then streamed one example per
    round (``partial_fit``); after each round the weighted F1 on the clean
    test set and the cleaning counters are recorded.

    Parameters
    ----------
    stream : Bunch
        From :func:`make_stream`.
    X_test, y_test : ndarray
        The clean test set.
    model : classifier
        Unfitted.
    selector : selector or None
        Unused by the "no_ce" strategy.
    strategy : {"cincer", "drop_ce", "no_ce"}, default="cincer"
    threshold : float, default=0.2
    refit : {"scratch", "incremental"}, default="scratch"
    classes : array-like, default=None
        All classes (default: those of ``y_test`` and the stream).
    random_state : int or None, default=None
        Seeds the cleaner (model initialization, selectors).
    repeat : int, default=0
        Written in the trace.
    eval_every : int, default=1
        Measure the F1 every ``eval_every`` rounds, and always at round 0 and
        the last round; NaN in between.
    cleaner_params : dict, default=None
        Further parameters of the cleaner (e.g. ``n_counter_examples``).
    verbose : int, default=0

    Returns
    -------
    trace : list of dict
        One row per round (round 0 is the bootstrap model), with the columns
        of :data:`TRACE_COLUMNS`.
    cleaner : SkepticalCleaner
        The fitted cleaner (``history_`` has every query).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_cincer import NearestNeighborSelector
    >>> from sklearn_cincer.benchmark import make_stream, run_cleaning
    >>> from sklearn_cincer.datasets import load_breast_cancer
    >>> data = load_breast_cancer()
    >>> s = make_stream(data.X_train, data.y_train, n_bootstrap=50, n_rounds=5,
    ...                 random_state=0)
    >>> trace, cleaner = run_cleaning(s, data.X_test, data.y_test,
    ...     model=LogisticRegression(), selector=NearestNeighborSelector())
    >>> len(trace), sorted(trace[-1])[:3]
    (6, ['cpu_seconds', 'eval_seconds', 'f1'])
    """
    B = stream.n_bootstrap
    X, y_noisy, y_true = stream.X, stream.y_noisy, stream.y_true
    if classes is None:
        classes = np.unique(np.concatenate([y_true, np.asarray(y_test)]))
    cleaner = SkepticalCleaner(
        model,
        selector=selector,
        oracle=SimulatedOracle(y_true),
        threshold=threshold,
        counter_examples=STRATEGIES[strategy],
        n_bootstrap=B,
        refit=refit,
        random_state=random_state,
        n_threads=None,  # the caller's limit (``threads`` of the experiment)
        **(cleaner_params or {}),
    )
    trace = []

    last_round = X.shape[0] - B

    def record(round_, seconds, cpu_seconds):
        t0 = time.perf_counter()
        f1 = np.nan
        if round_ % eval_every == 0 or round_ == last_round:
            f1 = f1_score(y_test, cleaner.predict(X_test), average="weighted")
        ex, ce, shown, noisy_ce, dropped = _counts(cleaner.history_, y_true)
        trace.append(
            {
                "repeat": repeat,
                "round": round_,
                "f1": float(f1),
                "n_cleaned": ex + ce,
                "n_cleaned_ex": ex,
                "n_cleaned_ce": ce,
                "n_queried": cleaner.n_queries_,
                "n_mistakes_seen": int(stream.is_noisy[B : B + round_].sum()),
                "n_ce_shown": int(shown),
                "n_noisy_ce": int(noisy_ce),
                "n_dropped": int(dropped),
                "n_train": int(cleaner.ids_.shape[0]),
                "n_noisy_train": int((cleaner.y_ != y_true[cleaner.ids_]).sum()),
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
                "eval_seconds": time.perf_counter() - t0,
            }
        )

    # CPU seconds of the process, as well as wall seconds: with one thread
    # they do not count the time other jobs on the machine took
    t0, c0 = time.perf_counter(), time.process_time()
    cleaner.partial_fit(X[:B], y_noisy[:B], classes=classes)
    record(0, time.perf_counter() - t0, time.process_time() - c0)
    for t in range(B, X.shape[0]):
        t0, c0 = time.perf_counter(), time.process_time()
        cleaner.partial_fit(X[t : t + 1], y_noisy[t : t + 1])
        record(t - B + 1, time.perf_counter() - t0, time.process_time() - c0)
        if verbose > 1:
            row = trace[-1]
            print(
                f"  round {row['round']}: f1={row['f1']:.3f} "
                f"cleaned={row['n_cleaned']} queried={row['n_queried']}",
                flush=True,
            )
    return trace, cleaner


def _query_rows(cleaner, stream, repeat):
    rows = []
    for r in cleaner.history_:
        row = asdict(r)
        row["repeat"] = repeat
        row["example_noisy"] = bool(stream.is_noisy[r.example_id])
        row["example_pool_index"] = int(stream.indices[r.example_id])
        ce = r.counter_example_id
        row["counter_example_noisy"] = (
            None if ce is None else bool(r.counter_label_before != stream.y_true[ce])
        )
        row["counter_example_pool_index"] = (
            None if ce is None else int(stream.indices[ce])
        )
        # whether each counter-example shown (best first) was mislabeled
        row["counter_examples_noisy"] = tuple(
            bool(before != stream.y_true[i])
            for i, before in zip(r.counter_example_ids, r.counter_labels_before)
        )
        rows.append(row)
    return rows


def _write_csv(rows, path, columns=None):
    """Write rows atomically (temporary file, then rename)."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=columns)
    tmp = path.with_name(path.name + ".part")
    frame.to_csv(tmp, index=False)
    os.replace(tmp, path)
    return frame


def _one_repeat(
    spec, repeat, stream, X_test, y_test, classes, seed, folder, verbose, threads=None
):
    # The model is made before the thread limit is entered: making a network
    # imports torch, and a library loaded inside the limit escapes it (the
    # first repeat of a process then ran torch on every core).
    model = make_model(
        spec.model, random_state=seed, training=spec.training, **spec.model_params
    )
    with limit_threads(threads):
        return _repeat(
            spec, repeat, stream, X_test, y_test, classes, seed, folder, verbose, model
        )


def _repeat(
    spec, repeat, stream, X_test, y_test, classes, seed, folder, verbose, model
):
    started = time.perf_counter()
    selector = (
        None
        if spec.strategy == "no_ce"
        else make_selector(spec.selector, **spec.selector_params)
    )
    trace, cleaner = run_cleaning(
        stream,
        X_test,
        y_test,
        model=model,
        selector=selector,
        strategy=spec.strategy,
        threshold=spec.threshold,
        refit=spec.refit,
        classes=classes,
        random_state=seed,
        repeat=repeat,
        eval_every=spec.eval_every,
        cleaner_params=spec.cleaner_params,
        verbose=verbose,
    )
    queries = _query_rows(cleaner, stream, repeat)
    if folder is not None:
        _write_csv(queries, folder / f"queries_{repeat}.csv")
        _write_csv(trace, folder / f"trace_{repeat}.csv", list(TRACE_COLUMNS))
    if verbose:
        last = trace[-1]
        print(
            f"[{spec.name}] repeat {repeat} done in "
            f"{time.perf_counter() - started:.1f} s: cleaned {last['n_cleaned']}, "
            f"queried {last['n_queried']}, F1 {trace[0]['f1']:.3f} -> "
            f"{last['f1']:.3f}",
            flush=True,
        )
    return trace


def _load_data(dataset, data, data_home, random_state):
    if data is not None:
        return data
    from ..datasets import load_dataset

    return load_dataset(dataset, data_home=data_home, random_state=random_state)


def run_experiment(
    spec,
    *,
    n_repeats=5,
    random_state=0,
    data=None,
    data_home=None,
    output_dir=None,
    n_jobs=1,
    threads=1,
    verbose=1,
    repeats=None,
):
    """Run one competitor over several repeats; resumable, repeats in parallel.

    Parameters
    ----------
    spec : RunSpec
        What to run.
    n_repeats : int, default=5
        Repeats, each with its own noise and stream (shared by every
        competitor with the same ``random_state``).
    random_state : int, default=0
        Base seed; repeat ``r`` uses :func:`repeat_seed` of it.
    data : Bunch, default=None
        The data set, as a loader returns it; loaded by name when None.
    data_home : str, default=None
        Data folder for the loaders.
    output_dir : str or path-like, default=None
        When given, each repeat writes ``<output_dir>/<spec.name>/trace_<r>.csv``
        and ``queries_<r>.csv``, and repeats whose trace exists are read back
        instead of run again.
    n_jobs : int, default=1
        Repeats run in parallel with joblib.
    threads : int or None, default=1
        BLAS/OpenMP threads of each repeat (threadpoolctl). One suits the
        small models of the paper, whose many tiny fits only contend for
        cores otherwise; None leaves the libraries' defaults.
    verbose : int, default=1
        Print a line per repeat (and per round when above 1).
    repeats : sequence of int, default=None
        Run (or read back) only these repeats of ``range(n_repeats)``; None
        for all. Lets several processes share the repeats of one folder.

    Returns
    -------
    traces : pandas.DataFrame
        The per-round traces of the repeats, with the spec's fields as
        columns.

    Examples
    --------
    >>> from sklearn_cincer.benchmark import RunSpec, run_experiment
    >>> spec = RunSpec("wine", "lr", "cincer", "nearest", n_bootstrap=40,
    ...                n_rounds=3)
    >>> traces = run_experiment(spec, n_repeats=2, verbose=0)
    >>> traces.groupby("repeat")["round"].max().tolist()
    [3, 3]
    """
    import pandas as pd
    from joblib import Parallel, delayed

    if repeats is None:
        repeats = range(n_repeats)
    repeats = sorted({int(r) for r in repeats})
    if any(r < 0 or r >= n_repeats for r in repeats):
        raise ValueError(
            f"repeats must lie in range(n_repeats={n_repeats}), got {repeats}."
        )
    data = _load_data(spec.dataset, data, data_home, random_state)
    classes = np.unique(np.concatenate([data.y_train, data.y_test]))
    folder = _experiment_folder(output_dir, spec, n_repeats, random_state)
    done, todo = _saved_repeats(folder, repeats, "trace")
    if verbose and done:
        print(
            f"[{spec.name}] {len(done)} repeat(s) already done, {len(todo)} to run.",
            flush=True,
        )
    jobs = []
    for r in todo:
        seed = repeat_seed(random_state, r)
        stream = make_stream(
            data.X_train,
            data.y_train,
            n_bootstrap=spec.n_bootstrap,
            n_rounds=spec.n_rounds,
            noise_rate=spec.noise_rate,
            random_state=seed,
            noise_kind=spec.noise_kind,
        )
        jobs.append(
            delayed(_one_repeat)(
                spec,
                r,
                stream,
                data.X_test,
                data.y_test,
                classes,
                seed,
                folder,
                verbose,
                threads,
            )
        )
    results = Parallel(n_jobs=n_jobs, return_as="generator")(jobs)
    bar = progress(
        results,
        total=len(jobs),
        desc=spec.name,
        verbose=verbose if len(jobs) > 1 else 0,
        unit="repeat",
        leave=False,
    )
    for r, trace in zip(todo, bar):
        done[r] = pd.DataFrame(trace, columns=list(TRACE_COLUMNS))
    frame = pd.concat([done[r] for r in sorted(done)], ignore_index=True)
    for key in ("dataset", "model", "strategy", "refit", "training"):
        frame[key] = getattr(spec, key)
    frame["selector"] = spec.label
    return frame


def _experiment_folder(output_dir, spec, n_repeats, random_state):
    """Make the folder of a competitor's results and write its config (None: none)."""
    if output_dir is None:
        return None
    folder = Path(output_dir) / spec.name
    folder.mkdir(parents=True, exist_ok=True)
    config = {k: v for k, v in asdict(spec).items()}
    config.update(n_repeats=n_repeats, random_state=random_state)
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    return folder


def _saved_repeats(folder, repeats, prefix):
    """The repeats already saved in ``folder`` (read back) and those left to run.

    Repeat ``r`` is saved as ``<prefix>_<r>.csv``; a None folder saves nothing.
    """
    import pandas as pd

    done, todo = {}, []
    for r in repeats:
        path = None if folder is None else folder / f"{prefix}_{r}.csv"
        if path is not None and path.is_file():
            done[r] = pd.read_csv(path)
        else:
            todo.append(r)
    return done, todo


# ------------------------------------------------------------------ Q2

_PRECISION_COLUMNS = [
    "repeat",
    "round",
    "selector",
    "n_candidates",
    "n_noisy_candidates",
    "pr_at_5",
    "pr_at_10",
    "pr_at_25",
    "ce_noisy",
    "seconds",
]


def precision_at_k(scores, is_noisy, ks=(5, 10, 25)):
    """Fraction of noisy examples among the ``k`` highest scores, for each k.

    Ties are broken by position (a stable sort of the negated scores). With
    fewer than ``k`` candidates, the fraction is over all of them.

    Examples
    --------
    >>> from sklearn_cincer.benchmark import precision_at_k
    >>> precision_at_k([0.9, 0.1, 0.5, 0.7], [True, True, False, False], ks=(1, 2))
    {1: 1.0, 2: 0.5}
    """
    order = np.argsort(-np.asarray(scores, dtype=float), kind="stable")
    noisy = np.asarray(is_noisy, dtype=bool)[order]
    return {k: float(noisy[:k].mean()) if noisy.size else float("nan") for k in ks}


def run_precision(stream, *, model, selectors, ks=(5, 10, 25), repeat=0):
    """Q2: how many noisy counter-examples each selector ranks first.

    The paper's protocol (``cepr`` runs): the model is fit once on the noisy
    bootstrap set and then frozen; the incoming examples arrive with their
    true labels and join the training set. Every incoming example that the
    model misclassifies is a query (threshold 0); for each selector the
    candidates (training examples labeled as the prediction) are ranked and
    the fraction of noisy ones among the top ``k`` recorded. The simulated
    oracle then relabels the selector's top-ranked counter-example, in that
    selector's own copy of the labels (as separate runs of the authors' code
    would): the queries are the same for all selectors, the candidates may
    differ once some were cleaned.

    Parameters
    ----------
    stream : Bunch
        From :func:`make_stream`; its incoming labels are replaced by the
        true ones.
    model : classifier
        Unfitted; fit on the bootstrap set.
    selectors : dict of str -> selector
        The selectors to compare.
    ks : tuple of int, default=(5, 10, 25)
    repeat : int, default=0

    Returns
    -------
    rows : list of dict
        One per (query, selector): ``repeat``, ``round``, ``selector``,
        ``n_candidates``, ``n_noisy_candidates``, ``pr_at_<k>``,
        ``ce_noisy`` (whether the top candidate is noisy), ``seconds``.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_cincer import NearestNeighborSelector
    >>> from sklearn_cincer.benchmark import make_stream, run_precision
    >>> from sklearn_cincer.datasets import load_breast_cancer
    >>> data = load_breast_cancer()
    >>> s = make_stream(data.X_train, data.y_train, n_bootstrap=50, n_rounds=30,
    ...                 random_state=0)
    >>> rows = run_precision(s, model=LogisticRegression(),
    ...                      selectors={"nearest": NearestNeighborSelector()})
    >>> all(0 <= r["pr_at_5"] <= 1 for r in rows)
    True
    """
    B = stream.n_bootstrap
    X, y_true = stream.X, stream.y_true
    start = stream.y_noisy.copy()
    start[B:] = y_true[B:]  # clean incoming examples
    model = clone(model).fit(X[:B], start[:B])
    proba_all = model.predict_proba(X)
    predictions = np.asarray(model.classes_)[proba_all.argmax(axis=1)]
    labels = {name: start.copy() for name in selectors}  # each its own cleaning
    rows = []
    for t in range(B, X.shape[0]):
        if predictions[t] == start[t]:
            continue
        train = np.arange(t)  # the bootstrap and the incoming examples so far
        for name, selector in selectors.items():
            own = labels[name]
            candidates = np.flatnonzero(own[train] == predictions[t])
            if candidates.size == 0:
                continue
            noisy = own[candidates] != y_true[candidates]
            t0 = time.perf_counter()
            fitted = clone(selector).fit(model, X[train], own[train])
            scores = fitted.score(X[t], own[t], candidates)
            seconds = time.perf_counter() - t0
            pr = precision_at_k(scores, noisy, ks)
            top = int(np.argmax(scores))
            rows.append(
                {
                    "repeat": repeat,
                    "round": t - B + 1,
                    "selector": name,
                    "n_candidates": int(candidates.size),
                    "n_noisy_candidates": int(noisy.sum()),
                    **{f"pr_at_{k}": v for k, v in pr.items()},
                    "ce_noisy": bool(noisy[top]),
                    "seconds": seconds,
                }
            )
            own[candidates[top]] = y_true[candidates[top]]  # the oracle cleans it
    return rows


def run_precision_experiment(
    dataset,
    model,
    selectors,
    *,
    n_repeats=5,
    n_rounds=100,
    n_bootstrap=None,
    noise_rate=0.2,
    random_state=0,
    data=None,
    data_home=None,
    output_dir=None,
    n_jobs=1,
    threads=1,
    selector_params=None,
    verbose=1,
    training=None,
):
    """Q2 over several repeats: Pr@k of each selector, same queries for all.

    Parameters
    ----------
    dataset : str
    model : str
        Benchmark model name (see :func:`make_model`).
    selectors : list of str
        Benchmark selector names.
    selector_params : dict of str -> dict, default=None
        Parameters of some of the selectors, by name (e.g. a larger
        ``max_params`` for ``full_fisher``); results keep the plain names.
    n_repeats, n_rounds, n_bootstrap, noise_rate, random_state
        As in :func:`run_experiment` (``n_bootstrap=None``: the paper's).
    data, data_home, output_dir, n_jobs, threads, verbose
        As in :func:`run_experiment`; results go to
        ``<output_dir>/<dataset>__<model>__precision/precision_<r>.csv``
        (``...__precision__<training>`` with a ``training``).
    training : {"code", "text"} or None, default=None
        How a network trains (see :func:`make_model`); None keeps the
        network's default ("text"). A model without the option takes None.

    Returns
    -------
    rows : pandas.DataFrame

    Examples
    --------
    >>> from sklearn_cincer.benchmark import run_precision_experiment
    >>> pr = run_precision_experiment("wine", "lr", ["nearest", "random"],
    ...     n_repeats=1, n_rounds=20, n_bootstrap=40, verbose=0)
    >>> sorted(pr["selector"].unique())
    ['nearest', 'random']
    """
    import pandas as pd
    from joblib import Parallel, delayed

    params = dict(selector_params or {})
    for name in selectors:  # bad parameters fail before any work
        checked_selector(name, **params.get(name, {}))
    check_training(model, training)
    data = _load_data(dataset, data, data_home, random_state)
    n_bootstrap = paper_bootstrap(dataset) if n_bootstrap is None else n_bootstrap
    folder = None
    if output_dir is not None:
        suffix = "" if training is None else f"__{training}"
        folder = Path(output_dir) / f"{dataset}__{model}__precision{suffix}"
        folder.mkdir(parents=True, exist_ok=True)
    done, todo = _saved_repeats(folder, range(n_repeats), "precision")
    label = f"{dataset}__{model}__precision"

    def one(r):
        # As in _one_repeat: make the model (importing torch) before the limit.
        seed = repeat_seed(random_state, r)
        estimator = make_model(model, random_state=seed, training=training)
        with limit_threads(threads):
            stream = make_stream(
                data.X_train,
                data.y_train,
                n_bootstrap=n_bootstrap,
                n_rounds=n_rounds,
                noise_rate=noise_rate,
                random_state=seed,
            )
            return _precision_repeat(
                r,
                stream,
                estimator,
                selectors,
                params,
                folder,
                label if verbose else None,
            )

    results = Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(one)(r) for r in todo
    )
    bar = progress(
        results,
        total=len(todo),
        desc=f"{dataset}__{model}__precision",
        verbose=verbose if len(todo) > 1 else 0,
        unit="repeat",
        leave=False,
    )
    for r, frame in zip(todo, bar):
        done[r] = frame
    frame = pd.concat([done[r] for r in sorted(done)], ignore_index=True)
    frame["dataset"], frame["model"] = dataset, model
    return frame


def _precision_repeat(r, stream, estimator, selectors, params, folder, label):
    """One repeat of Q2 as a frame, saved in ``folder`` and told under ``label``.

    A None ``folder`` saves nothing; a None ``label`` prints nothing.
    """
    import pandas as pd

    rows = run_precision(
        stream,
        model=estimator,
        selectors={
            name: make_selector(name, **params.get(name, {})) for name in selectors
        },
        repeat=r,
    )
    if folder is not None:
        _write_csv(rows, folder / f"precision_{r}.csv", _PRECISION_COLUMNS)
    if label is not None:
        print(
            f"[{label}] repeat {r} done: {len(rows) // max(1, len(selectors))} queries",
            flush=True,
        )
    return pd.DataFrame(rows, columns=_PRECISION_COLUMNS)
