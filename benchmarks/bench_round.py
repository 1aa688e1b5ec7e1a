"""The wait for the next question, as a person sees it, next to a bare GEMM.

Times the real path inside :class:`~sklearn_cincer.SkepticalCleaner`: from
the end of a model update to the moment the oracle receives the next
question. That is the margin of the incoming example, the selector brought
up to date for the current model (:meth:`TopFisherSelector.update`: features
of new rows, outputs, the Fisher and its factor), the solve ``F^-1 g_t``,
the score of every candidate and the bookkeeping of the question.

The setting is the one of an engineer cleaning a large data set: a linear
softmax head on fixed features (embeddings of a pretrained network),
updated incrementally (``refit="incremental"``, one SGD step on the rows a
round changed). The first ``N`` rows are the bootstrap set; every streamed
row carries a label its model contradicts, so every round asks a question.
The model update is not part of the wait (it happens after the answer).

Each size reports, in one process with one thread pinned (BLAS through
threadpoolctl, torch if installed):

* ``gemm64``: one bare GEMM of ``2 N (d+1) c`` flops in float64 (``[X 1] W^T``),
  the yardstick of the targets; ``gemm32`` the same in float32;
* ``first``: the first question (the selector built from nothing);
* ``next``: the median wait of the other questions, split into ``update``
  (the Fisher for the current model), ``score`` (solve and scoring) and the
  rest (margin, candidates, bookkeeping);
* the ratio ``next / gemm64``, the peak resident memory and what ``N x P``
  would take.

Run (sizes as ``N,d,c``; ``--selector-param`` as ``NAME=VALUE``)::

    OMP_NUM_THREADS=1 python benchmarks/bench_round.py \\
        --size 10000,64,10 --size 100000,64,10 \\
        --size 1000000,512,10 --size 100000,512,1000 --questions 10

The default sizes are the issue's: (1e4, 64, 10), (1e5, 64, 10),
(1e6, 512, 10), (1e5, 512, 1000). The two large ones need about 3 GB.

``--estimator`` times the estimators people use inside the cleaner instead
(``LogisticRegression``, ``SGDClassifier(loss="log_loss")``,
``MLPClassifier``, a skorch net, and the custom head above as one more row),
with the default selector and ``refit="incremental"``: per round, the
question (from the start of the round, which is the end of the previous
update, to the oracle), the update after the answer, and the whole round,
each next to the same bare GEMM. ``--table`` writes them as the
reStructuredText table of the speed guide (``docs/user_guide/_speed_estimators.txt``),
which this one command rebuilds (about 40 minutes on one busy core)::

    OMP_NUM_THREADS=1 python benchmarks/bench_round.py --all-estimators \
        --table docs/user_guide/_speed_estimators.txt

Sizes whose float64 rows (and the training rows a question copies) would
not fit ``--memory-gb`` are listed as not run, with the reason; a cell still
fitting or asking after ``--cell-seconds`` stops there and reports the
questions it finished. Sizes with ``N (d + 1) c`` over ``1e8`` ask
``--large-questions`` questions (default 4) instead of ``--questions``.
"""

import argparse
import contextlib
import os
import resource
import signal
import sys
import time

import numpy as np
from scipy.special import softmax
from sklearn.base import BaseEstimator, ClassifierMixin

from sklearn_cincer import (
    CleaningSelector,
    SimulatedOracle,
    SkepticalCleaner,
    TopFisherSelector,
)
from sklearn_cincer._core.last_layer import LastLayerView
from sklearn_cincer.oracles import Answer

SIZES = (
    (10_000, 64, 10),
    (100_000, 64, 10),
    (1_000_000, 512, 10),
    (100_000, 512, 1000),
)

# When the last model update ended, and what the instrumented selector saw.
_CLOCK = {"updated": None}
_PARTS = []
# How long each model update took (``--estimator``), in order.
_UPDATES = []


class SoftmaxHead(ClassifierMixin, BaseEstimator):
    """A linear softmax classifier on fixed features, updated by SGD steps.

    ``fit`` (and the first ``partial_fit``) starts from the closed form of
    Gaussian classes with a shared spherical covariance (class means, one
    pass over the rows) and takes ``n_steps`` full-batch gradient steps;
    every later ``partial_fit`` takes one gradient step on the rows given,
    as an online head would.

    Parameters
    ----------
    learning_rate : float, default=0.01
    n_steps : int, default=2
    """

    def __init__(self, learning_rate=0.01, n_steps=2):
        self.learning_rate = learning_rate
        self.n_steps = n_steps

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self._init(X, y)
        return self._updated()

    def partial_fit(self, X, y, classes=None):
        if not hasattr(self, "coef_"):
            self.classes_ = np.unique(y if classes is None else classes)
            self._init(X, y)
        else:
            self._step(X, y)
        return self._updated()

    def _updated(self):
        _CLOCK["updated"] = time.perf_counter()
        return self

    def _init(self, X, y):
        index = np.searchsorted(self.classes_, y)
        c, d = len(self.classes_), X.shape[1]
        counts = np.bincount(index, minlength=c).astype(float)
        means = np.zeros((c, d))
        for a in np.flatnonzero(counts):
            means[a] = X[index == a].mean(axis=0, dtype=float)
        spread = float(np.mean(np.var(X[:10_000], axis=0))) or 1.0
        self.coef_ = means / spread
        self.intercept_ = -0.5 * np.einsum("ij,ij->i", means, means) / spread
        self.intercept_ += np.log(np.maximum(counts, 1) / counts.sum())
        for _ in range(self.n_steps):
            rows = slice(0, min(X.shape[0], 20_000))
            self._step(X[rows], y[rows])

    def _step(self, X, y):
        P = self.predict_proba(X)
        P[np.arange(len(y)), np.searchsorted(self.classes_, y)] -= 1.0
        self.coef_ = self.coef_ - self.learning_rate * (P.T @ X) / len(y)
        self.intercept_ = self.intercept_ - self.learning_rate * P.mean(axis=0)

    def predict_proba(self, X):
        Z = np.asarray(X) @ self.coef_.T.astype(X.dtype) + self.intercept_
        return softmax(Z.astype(float), axis=1)

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def last_layer_view(self):
        """The last layer for the selectors: the whole model."""
        return LastLayerView(self.classes_, "softmax", self.coef_, self.intercept_)


class _Timed:
    """Records how long the selector's update and its scoring take."""

    def update(self, estimator, X, y, rows=None):
        start = time.perf_counter()
        out = super().update(estimator, X, y, rows)
        _PARTS.append(("update", time.perf_counter() - start))
        return out

    def score(self, x, y, candidates=None):
        start = time.perf_counter()
        out = super().score(x, y, candidates)
        _PARTS.append(("score", time.perf_counter() - start))
        return out


class TimedTopFisherSelector(_Timed, TopFisherSelector):
    """Top Fisher, timed."""


class TimedCleaningSelector(_Timed, CleaningSelector):
    """The cleaning selector (the cleaner's default), timed."""


#: ``--selector``: the timed selector of each name.
TIMED = {"top_fisher": TimedTopFisherSelector, "cleaning": TimedCleaningSelector}


class TimedOracle(SimulatedOracle):
    """Answers from the true labels and records the wait for each question.

    With ``keep_labels=True`` it answers every label as it was, so that two
    runs with different selectors see the same training sets and models,
    and their picks can be compared question by question.
    """

    def __init__(self, y_true, keep_labels=False, read_seconds=0.0):
        super().__init__(y_true)
        self.keep_labels = keep_labels
        self.read_seconds = read_seconds
        self.waits = []
        self.parts = []
        self.rounds = []  # the updates before each question (its round)

    def __call__(self, query):
        self.waits.append(time.perf_counter() - _CLOCK["updated"])
        self.parts.append(dict(_PARTS))
        self.rounds.append(len(_UPDATES))
        _PARTS.clear()
        if self.read_seconds:
            # a person reading (--read-seconds): the selector's background
            # refresh runs meanwhile; not part of any timing
            time.sleep(self.read_seconds)
        if self.keep_labels:
            return Answer(label=query.label, counter_label=query.counter_label)
        return super().__call__(query)


@contextlib.contextmanager
def one_thread():
    """One thread for every BLAS (threadpoolctl) and for torch, if present."""
    from threadpoolctl import threadpool_limits

    try:
        import torch
    except ImportError:  # pragma: no cover
        torch = None
    before = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    if torch is not None:
        torch.set_num_threads(before)


def make_data(n, d, c, n_questions, dtype=np.float32, seed=0, separation=3.0):
    """Gaussian classes in ``d`` dimensions; the streamed rows mislabeled.

    Unit-variance classes around centers of norm about ``separation`` (3:
    classes overlap, a linear model is right about 90% of the time at
    ``c = 10``, so its probabilities are not all 0 or 1). Returns ``X``
    (``n + n_questions`` rows), the true labels and the labels given (the
    streamed rows' shifted to another class).
    """
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((c, d)).astype(dtype) * (separation / np.sqrt(d))
    y = rng.integers(0, c, n + n_questions)
    X = np.empty((n + n_questions, d), dtype=dtype)
    for start in range(0, X.shape[0], 65536):
        block = slice(start, start + 65536)
        X[block] = rng.standard_normal((len(y[block]), d), dtype=dtype)
        X[block] += centers[y[block]]
    y_given = y.copy()
    y_given[n:] = (y[n:] + 1 + rng.integers(0, c - 1, n_questions)) % c
    return X, y, y_given


def bare_gemm(X, c, dtype, repeats=3):
    """Median seconds of ``[X 1] W^T`` in ``dtype`` (``2 N (d+1) c`` flops)."""
    n, d = X.shape
    Xt = np.empty((n, d + 1), dtype=dtype)
    Xt[:, :d] = X
    Xt[:, d] = 1
    W = np.random.default_rng(1).standard_normal((c, d + 1)).astype(dtype)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        Xt @ W.T
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def run_size(
    n,
    d,
    c,
    n_questions,
    selector_params,
    dtype=np.float32,
    selector=None,
    keep_labels=False,
    gemm=True,
    name="top_fisher",
):
    """One size: the yardsticks and the waits, as a dict of seconds.

    ``selector`` replaces the timed selector ``name`` (Top Fisher or the
    cleaning selector) of ``selector_params``;
    ``keep_labels`` makes the oracle keep every label (see TimedOracle);
    ``gemm=False`` skips the yardsticks. ``picks`` lists the
    counter-example of each question.
    """
    X, y, y_given = make_data(n, d, c, n_questions, dtype=dtype)
    gemm64 = bare_gemm(X[:n], c, np.float64) if gemm else np.nan
    gemm32 = bare_gemm(X[:n], c, np.float32) if gemm else np.nan
    oracle = TimedOracle(y, keep_labels=keep_labels)
    if selector is None:
        selector = TIMED[name](**selector_params)
    cleaner = SkepticalCleaner(
        SoftmaxHead(),
        selector=selector,
        oracle=oracle,
        threshold=0.0,
        n_bootstrap=n,
        refit="incremental",
        random_state=0,
    )
    start = time.perf_counter()
    cleaner.fit(X, y_given)
    total = time.perf_counter() - start
    waits = np.array(oracle.waits)
    rest = [w - sum(p.values()) for w, p in zip(waits, oracle.parts)]
    later = slice(1, None)
    selector = cleaner.selector_
    return {
        "n": n,
        "d": d,
        "c": c,
        "questions": len(waits),
        "gemm64": gemm64,
        "gemm32": gemm32,
        "first": float(waits[0]),
        "next": float(np.median(waits[later])),
        "next_max": float(np.max(waits[later])),
        # Questions that waited for a rebuild (more than 3 times the median).
        "slow": int(np.sum(waits[later] > 3 * np.median(waits[later]))),
        "update": float(np.median([p.get("update", 0) for p in oracle.parts[1:]])),
        "score": float(np.median([p.get("score", 0) for p in oracle.parts[1:]])),
        "rest": float(np.median(rest[1:])),
        "fit_total": total,
        "form": f"{getattr(selector, 'fisher_', 'exact')}/"
        f"{getattr(selector, 'solver_', type(selector).__name__)}",
        "rows": getattr(selector, "n_fisher_rows_", n),
        "dtype": str(getattr(selector, "dtype_", "float64")),
        "picks": [r.counter_example_id for r in cleaner.history_],
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "n_by_p_gb": n * c * (d + 1) * 8 / 2**30,
    }


def _timed_estimator(base, **params):
    """An instance of a subclass of ``base`` that clocks its updates.

    ``_CLOCK["updated"]`` is when the last ``fit`` or ``partial_fit`` ended
    (the start of the next round); ``_UPDATES`` lists how long each took.
    A call made inside another (skorch's ``fit`` calls ``partial_fit``) is
    part of the outer one.
    """
    depth = [0]

    def clocked(method):
        def wrapper(self, *args, **kwargs):
            start = time.perf_counter()
            depth[0] += 1
            try:
                out = method(self, *args, **kwargs)
            finally:
                depth[0] -= 1
            if not depth[0]:
                _CLOCK["updated"] = time.perf_counter()
                _UPDATES.append(_CLOCK["updated"] - start)
            return out

        return wrapper

    namespace = {"__module__": __name__, "fit": clocked(base.fit)}
    if hasattr(base(**params), "partial_fit"):
        namespace["partial_fit"] = clocked(base.partial_fit)
    cls = type(f"Timed{base.__name__}", (base,), namespace)
    globals()[cls.__name__] = cls  # so that clone and pickle find it
    return cls(**params)


#: ``--estimator``: each name's label in the table.
LABELS = {
    "logistic": "``LogisticRegression()``",
    "sgd": '``SGDClassifier(loss="log_loss")``',
    "mlp": "``MLPClassifier(max_iter=20)``",
    "skorch": "``PaperNetClassifier(LogRegNet, max_epochs=5)`` (skorch)",
    "head": "``SoftmaxHead`` (this script's custom head, one SGD step)",
}


def _estimators(device="cpu"):
    """``--estimator``: each name's timed estimator, built on demand.

    ``device`` is where the skorch net trains and predicts.
    """
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    from sklearn.neural_network import MLPClassifier

    def skorch_net():
        from sklearn_cincer.nets import LogRegNet, PaperNetClassifier

        return _timed_estimator(
            PaperNetClassifier,
            module=LogRegNet,
            max_epochs=5,
            random_state=0,
            device=device,
        )

    return {
        "logistic": lambda: _timed_estimator(LogisticRegression),
        "sgd": lambda: _timed_estimator(SGDClassifier, loss="log_loss", random_state=0),
        # 20 epochs for the bootstrap fit: 200 (the default) on 1e5 rows
        # would take longer than the whole benchmark.
        "mlp": lambda: _timed_estimator(MLPClassifier, max_iter=20, random_state=0),
        "skorch": skorch_net,
        "head": lambda: _timed_estimator(SoftmaxHead),
    }


class _OverTime(Exception):
    """Raised by the alarm when a cell runs past ``--cell-seconds``."""


def _alarm(signum, frame):
    raise _OverTime


@contextlib.contextmanager
def _alarm_after(seconds):
    """``_OverTime`` after ``seconds`` (none if 0 or None); a caller's
    alarm (gpu_check's hard limit) is put back, less the time spent."""
    if not seconds:
        yield
        return
    start = time.monotonic()
    previous = signal.signal(signal.SIGALRM, _alarm)
    earlier = signal.alarm(max(int(seconds), 1))
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        if earlier:
            signal.alarm(max(int(earlier - (time.monotonic() - start)), 1))


def memory_needed_gb(n, d, c):
    """What a cell holds at least: its float64 rows twice, and outputs.

    The rows, and either the GEMM yardstick's copy of them with a column of
    ones or the copy of the training rows that the bootstrap fit (and every
    warm start) is given; plus a few ``N x c`` arrays of outputs.
    """
    return (2 * n * (d + 1) + 4 * n * c) * 8 / 2**30


class _CountIterations:
    """Conjugate-gradient iterations of every solve, while entered (--estimator).

    Also how long each background refresh took to pause when an answer came
    back (``pauses``, seconds: the chunk it was computing ends first), a
    wait outside the question and the update.
    """

    def __enter__(self):
        from sklearn_cincer._core import fisher_math as _fisher

        try:
            from sklearn_cincer.selectors._refresh import FactorRefresh as refresh
        except ImportError:  # a version without the background refresh
            refresh = type("NoRefresh", (), {"pause": None})
        self.counts, self.pauses = [], []
        cls, self.refresh = _fisher.ConjugateGradientFactor, refresh
        self.original = original = cls.solve_with_info
        self.original_pause = original_pause = refresh.pause

        def counted(factor, g):
            out = original(factor, g)
            self.counts.append(out[1])
            return out

        def timed_pause(job):
            start = time.perf_counter()
            original_pause(job)
            self.pauses.append(time.perf_counter() - start)

        cls.solve_with_info = counted
        refresh.pause = timed_pause
        return self

    def __exit__(self, *exc):
        from sklearn_cincer._core import fisher_math as _fisher

        _fisher.ConjugateGradientFactor.solve_with_info = self.original
        self.refresh.pause = self.original_pause


def run_estimator(
    n,
    d,
    c,
    n_questions,
    name,
    seconds=None,
    device="cpu",
    selector=None,
    read_seconds=0.0,
):
    """One estimator at one size: question, update and round, in seconds.

    ``seconds`` stops the cell (a ``SIGALRM``) once it has run that long:
    it then reports the questions whose update had finished, and ``stopped``
    says where it was. ``device`` is the skorch net's; ``selector`` replaces
    the cleaner's default. ``read_seconds``: how long the oracle takes to
    answer (a person reading), outside every timing. ``cg_iterations`` lists
    the iterations of each conjugate-gradient solve (one per question).
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    X, y, y_given = make_data(n, d, c, n_questions, dtype=np.float64)
    gemm64 = bare_gemm(X[:n], c, np.float64)
    oracle = TimedOracle(y, read_seconds=read_seconds)
    _UPDATES.clear()
    cleaner = SkepticalCleaner(
        _estimators(device)[name](),
        oracle=oracle,
        threshold=0.0,
        n_bootstrap=n,
        refit="incremental",
        random_state=0,
        **({} if selector is None else {"selector": selector}),
    )
    stopped, load = None, os.getloadavg()[0]
    start = time.perf_counter()
    with _alarm_after(seconds):
        try:
            with warnings.catch_warnings(), _CountIterations() as iterations:
                warnings.simplefilter("ignore", ConvergenceWarning)
                cleaner.fit(X, y_given)
        except _OverTime:
            stopped = _where(oracle)
    total = time.perf_counter() - start
    row = _estimator_row(
        name,
        (n, d, c),
        gemm64,
        oracle,
        total,
        stopped,
        load,
        getattr(cleaner, "refit_method_", None),
    )
    row.update(
        cg_iterations=iterations.counts,
        read_seconds=read_seconds,
        pauses=iterations.pauses,
    )
    return row


def _where(oracle):
    """Where a cell was when its time ran out."""
    if not _UPDATES:
        return "bootstrap fit"
    asked = len(oracle.waits)
    if asked and oracle.rounds[-1] == len(_UPDATES):
        return f"update after question {asked}"
    return f"round after question {asked}" if asked else "first question"


def _estimator_row(name, size, gemm64, oracle, total, stopped, load, method):
    """The medians of the questions whose update after the answer finished.

    ``_UPDATES``: the bootstrap fit, then one update per round; the oracle
    saw each question after ``oracle.rounds[i]`` updates, so the update that
    follows it is ``_UPDATES[oracle.rounds[i]]``. The first question builds
    the selector from nothing and is reported apart.
    """
    n, d, c = size
    done = [i for i, t in enumerate(oracle.rounds) if t < len(_UPDATES)]
    questions = np.array([oracle.waits[i] for i in done[1:]])
    updates = np.array([_UPDATES[oracle.rounds[i]] for i in done[1:]])

    def median(values):
        return float(np.median(values)) if len(values) else np.nan

    return {
        "estimator": name,
        "n": n,
        "d": d,
        "c": c,
        "gemm64": gemm64,
        "method": method or "?",
        "questions": len(done),
        "stopped": stopped,
        "bootstrap": _UPDATES[0] if _UPDATES else np.nan,
        "first": oracle.waits[0] if oracle.waits else np.nan,
        "question": median(questions),
        "update": median(updates),
        "round": median(questions + updates),
        "fit_total": total,
        "load": load,
        "load_after": os.getloadavg()[0],
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }


def _pauses(pauses):
    if not pauses:
        return "- (none ran)"
    return f"median {1e3 * np.median(pauses):.1f} ms, max {1e3 * max(pauses):.1f} ms"


def _iterations(counts):
    if not counts:
        return "none"
    return f"median {np.median(counts):g}, max {max(counts)} of {len(counts)}"


def skipped_row(name, n, d, c, memory_gb):
    """A cell not run: what it would need, next to the limit."""
    return {
        "estimator": name,
        "n": n,
        "d": d,
        "c": c,
        "skipped": f"not run: needs at least {memory_needed_gb(n, d, c):.1f} GB "
        f"(the float64 rows and the copy of them a fit is given), over the "
        f"{memory_gb:g} GB limit",
    }


def format_estimator_row(r):
    head = f"{r['estimator']:<9} N={r['n']:>9,} d={r['d']:>4} c={r['c']:>4} "
    if "skipped" in r:
        return head + r["skipped"]
    g = r["gemm64"]
    stopped = (
        f" | stopped after {r['fit_total']:.0f} s in the {r['stopped']}"
        if r["stopped"]
        else ""
    )
    return head + (
        f"{r['method']:<11} | gemm64 {1e3 * g:7.2f} ms | bootstrap fit "
        f"{r['bootstrap']:7.2f} s | first question {r['first']:6.2f} s | "
        f"median of {max(r['questions'] - 1, 0)}: question "
        f"{1e3 * r['question']:8.1f} ms ({r['question'] / g:6.1f} x), update "
        f"{1e3 * r['update']:8.1f} ms ({r['update'] / g:6.1f} x), round "
        f"{1e3 * r['round']:8.1f} ms ({r['round'] / g:6.1f} x gemm64) | load "
        f"{r['load']:.1f}-{r['load_after']:.1f} | peak RSS {r['peak_rss_gb']:.1f} GB"
        f" | CG iterations per solve {_iterations(r['cg_iterations'])}, read "
        f"{r['read_seconds']:g} s, refresh paused in {_pauses(r['pauses'])}"
        f"{stopped}"
    )


def _seconds(value, gemm=None):
    """``1.23 s (45 x)``: a time and its ratio to the GEMM, if given."""
    if not np.isfinite(value):
        return "-"
    text = f"{value:.2f} s" if value >= 1 else f"{1e3 * value:.3g} ms"
    return text if gemm is None else f"{text} ({value / gemm:,.1f} x)"


def estimator_table(rows, command):
    """The speed guide's table (reStructuredText) of ``--estimator`` rows."""
    lines = [".. list-table::", "   :header-rows: 1", ""]
    header = [
        "estimator (update)",
        "``N, d, c``",
        "bare GEMM, float64",
        "question (x GEMM)",
        "update (x GEMM)",
        "whole round (x GEMM)",
        "questions, load, peak memory",
    ]
    body = [header]
    for r in rows:
        size = f"{r['n']:,}, {r['d']}, {r['c']}"
        if "skipped" in r:
            body.append(
                [LABELS[r["estimator"]], size, "-", r["skipped"], "-", "-", "-"]
            )
            continue
        g = r["gemm64"]
        asked = r["questions"] - 1
        note = f"median of {asked}" if asked > 0 else "no question after the first"
        if r["stopped"]:
            note += f"; stopped after {r['fit_total']:.0f} s in the {r['stopped']}"
        method = "" if r["method"] == "?" else f" (``{r['method']}``)"
        body.append(
            [
                f"{LABELS[r['estimator']]}{method}",
                size,
                _seconds(g),
                _seconds(r["question"], g),
                _seconds(r["update"], g),
                _seconds(r["round"], g),
                f"{note}; load {r['load']:.1f} to {r['load_after']:.1f}; "
                f"{r['peak_rss_gb']:.1f} GB",
            ]
        )
    for row in body:
        lines.append(f"   * - {row[0]}")
        lines.extend(f"     - {cell}" for cell in row[1:])
    lines += [
        "",
        f"Command: ``{command}``. The first question of each run "
        "(the selector built from nothing) is not in the medians.",
        "",
    ]
    return "\n".join(lines)


def format_row(r):
    return (
        f"N={r['n']:>9,} d={r['d']:>4} c={r['c']:>5} | {r['form']:<13} "
        f"rows={r['rows']:>9,} {r['dtype']:<7} | gemm64 {1e3 * r['gemm64']:8.1f} ms "
        f"gemm32 {1e3 * r['gemm32']:8.1f} ms | first {1e3 * r['first']:9.1f} ms | "
        f"next {1e3 * r['next']:8.1f} ms (update {1e3 * r['update']:.1f}, score "
        f"{1e3 * r['score']:.1f}, rest {1e3 * r['rest']:.1f}; max "
        f"{1e3 * r['next_max']:.1f}, {r['slow']} over 3x the median) = "
        f"{r['next'] / r['gemm64']:5.2f} x gemm64 | "
        f"peak RSS {r['peak_rss_gb']:.1f} GB (N x P would be {r['n_by_p_gb']:.0f} GB)"
    )


def _size(text):
    n, d, c = (int(float(v)) for v in text.split(","))
    return n, d, c


def _param(text):
    name, _, value = text.partition("=")
    for cast in (int, float):
        try:
            return name, cast(value)
        except ValueError:
            pass
    return name, None if value == "None" else value


def _parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--size",
        type=_size,
        action="append",
        help="N,d,c (repeatable); default: the issue's four",
    )
    parser.add_argument(
        "--questions",
        type=int,
        default=10,
        help="questions per size (the first is cold)",
    )
    parser.add_argument(
        "--large-questions",
        type=int,
        default=4,
        help="questions at sizes with N (d+1) c over 1e8 (--estimator)",
    )
    parser.add_argument(
        "--selector-param",
        type=_param,
        action="append",
        default=[],
        help="NAME=VALUE for the selector",
    )
    parser.add_argument(
        "--selector",
        choices=sorted(TIMED),
        action="append",
        help="selector(s) to time, each on every size (default: top_fisher)",
    )
    parser.add_argument(
        "--float64", action="store_true", help="float64 features (default float32)"
    )
    parser.add_argument(
        "--estimator",
        choices=sorted(LABELS),
        action="append",
        help="time this estimator inside the cleaner, with "
        "the default selector (repeatable), instead of "
        "the SGD head",
    )
    parser.add_argument(
        "--all-estimators",
        action="store_true",
        help="every --estimator, the custom head last",
    )
    parser.add_argument(
        "--memory-gb",
        type=float,
        default=6.0,
        help="skip --estimator cells that need more",
    )
    parser.add_argument(
        "--cell-seconds",
        type=float,
        default=600.0,
        help="stop an --estimator cell after this long (0: never)",
    )
    parser.add_argument(
        "--read-seconds",
        type=float,
        default=0.0,
        help="with --estimator: seconds the oracle takes to "
        "answer, as a person reading (not timed)",
    )
    parser.add_argument(
        "--table",
        help="write the --estimator rows to this file as the docs' table (.txt)",
    )
    return parser


def _estimator_cells(args, sizes):
    """Time every estimator at every size (one thread); the rows."""
    rows = []
    for n, d, c in sizes:
        for name in args.estimator:
            if memory_needed_gb(n, d, c) > args.memory_gb:
                r = skipped_row(name, n, d, c, args.memory_gb)
            else:
                large = n * (d + 1) * c > 1e8
                r = run_estimator(
                    n,
                    d,
                    c,
                    args.large_questions if large else args.questions,
                    name,
                    args.cell_seconds,
                    read_seconds=args.read_seconds,
                )
            rows.append(r)
            print(format_estimator_row(r), flush=True)
    return rows


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.all_estimators:
        args.estimator = [*sorted(set(LABELS) - {"head"}), "head"]
    params = dict(args.selector_param)
    print(f"load average {os.getloadavg()}, params {params}", flush=True)
    rows = []
    with one_thread():
        if args.estimator:
            rows = _estimator_cells(args, args.size or SIZES)
        for n, d, c in [] if args.estimator else args.size or SIZES:
            for name in args.selector or ["top_fisher"]:
                r = run_size(
                    n,
                    d,
                    c,
                    args.questions,
                    params,
                    np.float64 if args.float64 else np.float32,
                    name=name,
                )
                r["selector"] = name
                rows.append(r)
                print(f"{name:<10} " + format_row(r), flush=True)
    print(f"load average {os.getloadavg()}", flush=True)
    if args.table and args.estimator:
        command = "OMP_NUM_THREADS=1 python benchmarks/bench_round.py " + " ".join(
            argv if argv is not None else sys.argv[1:]
        )
        with open(args.table, "w") as f:
            f.write(estimator_table(rows, command))
    return rows


if __name__ == "__main__":
    main()
    sys.exit(0)
