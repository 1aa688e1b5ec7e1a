"""SkepticalCleaner: the CINCER loop as a scikit-learn meta-estimator."""

import contextlib
import copy
import functools
import math
import threading
from dataclasses import replace
from numbers import Integral, Real

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    _fit_context,
    clone,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, RealNotInt, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _outputs, _questions, _refit
from ._issues import cleaner_label_issues
from ._meta_estimator import (
    CleanedClassifierMixin,
    column_std,
    nan_policy,
    seed_unset_random_states,
    takes_nan,
    thread_limited,
    unchanged_on_error,
)
from ._progress import progress

# QueryRecord lived here: pickles of fitted cleaners name it by this module
from ._questions import QueryRecord  # noqa: F401
from ._revisions import (
    RevisionInbox,
    end_of_questions,
    listening,
    replayed_revisions,
    report_applied,
)
from ._suspicion import is_suspicious, margin, predictions
from .oracles._base import CounterExample, OracleError, Query, answer_labels, plain
from .oracles._hooks import oracle_fit
from .selectors import BaseSelector, CleaningSelector

# Bootstrap rows on which the selector is tried before the stream starts.
_FAIL_FAST_ROWS = 256


class _Stream:
    """Everything the loop changes, so that a failed call can be undone.

    ``X`` holds every example seen, by stream id; it is only ever replaced (by
    concatenation), never written in place, so copies may share it.
    """

    def __init__(self, X, labels, classes, template, refit_method, rng, selector):
        self.X = X
        self.classes = classes
        self.labels = labels  # index into classes of each example's current label
        self.in_train = np.zeros(labels.shape[0], dtype=bool)
        self.template = template  # unfitted, seeded: every scratch refit clones it
        self.refit_method = refit_method
        self.estimator = None
        self.rng = rng
        self.selector = selector
        self.history = []
        self.n_rounds = 0
        self.n_scratch_rounds = 0  # warm starts that had to refit from scratch
        self.largest_margin = 0.0  # of a streamed example the model disagreed with
        self._feature_scale = None
        self.revisions = []  # PendingRevision, waiting for their round
        self.inbox = None  # the RevisionInbox of the running call

    def __getstate__(self):
        state = dict(self.__dict__)
        state["inbox"] = None  # it holds a lock; it only lives during a call
        return state

    def __setstate__(self, state):
        state.setdefault("revisions", [])  # a stream pickled before revisions
        self.__dict__.update(state)

    def feature_scale(self):
        """Each feature's standard deviation over the rows of ``fit``, once.

        The human oracles compare features in these units (``Query``).
        """
        if getattr(self, "_feature_scale", None) is None:  # also when unpickled
            self._feature_scale = column_std(self.X)
            self._feature_scale.setflags(write=False)  # shared by every query
        return self._feature_scale

    def blank_rows(self):
        """Whether each example has no value at all: every feature missing.

        Computed once per growth of ``X`` (its rows never change in place).
        """
        blank = getattr(self, "_blank", None)  # also when unpickled
        if blank is None or blank.shape[0] != self.X.shape[0]:
            X = self.X
            if X.shape[1] == 0:
                blank = np.zeros(X.shape[0], dtype=bool)
            else:  # only rows missing their first value can be blank
                blank = np.isnan(X[:, 0])
                maybe = np.flatnonzero(blank)
                blank[maybe] = np.isnan(X[maybe]).all(axis=1)
            self._blank = blank
        return blank

    def copy(self):
        new = copy.copy(self)
        new.labels = self.labels.copy()
        new.in_train = self.in_train.copy()
        new.estimator = copy.deepcopy(self.estimator)
        new.rng = copy.deepcopy(self.rng)
        # The selector is shared: the loop never changes a fitted one in
        # place but updates a copy of it (copy-on-write, _fit_selector), so
        # copying its arrays (features of the whole training set) is wasted.
        new.history = list(self.history)
        new.revisions = list(getattr(self, "revisions", []))
        return new

    def extend(self, X, labels):
        self.X = np.concatenate([self.X, X]) if self.X.size else X
        self.labels = np.concatenate([self.labels, labels])
        self.in_train = np.concatenate(
            [self.in_train, np.zeros(labels.shape[0], dtype=bool)]
        )


class _BlockPicks:
    """The picks of a block's questions, scored together ahead of their turn.

    Keyed by the question's example, label and prediction: a question whose
    label is no longer the one it was scored with is scored again.
    """

    #: The most questions scored in one pass.
    _MAX_BATCH = 256

    def __init__(self, block, labels, predicted, suspicious):
        asked = [
            (int(i), int(lab), int(pred))
            for i, lab, pred in zip(
                block[suspicious], labels[suspicious], predicted[suspicious]
            )
        ]
        self.queue = asked
        self.index = {q[0]: j for j, q in enumerate(asked)}
        self.picks = {}
        self.candidates = {}  # by prediction (None: every training row)
        self.size = 8

    def has(self, example_id, label, prediction):
        return (example_id, int(label), int(prediction)) in self.picks

    def get(self, example_id, label, prediction):
        return self.picks.get((example_id, int(label), int(prediction)))

    def next_batch(self, example_id, label, prediction):
        """The questions from this one on, grouped by prediction, this first."""
        start = self.index.get(example_id)
        batch = [] if start is None else self.queue[start : start + self.size]
        self.size = min(2 * self.size, self._MAX_BATCH)
        if not batch or batch[0] != (example_id, int(label), int(prediction)):
            # not the question expected: scored alone
            batch = [(example_id, int(label), int(prediction))]
        groups = {}
        for i, _, pred in batch:
            groups.setdefault(pred, []).append(i)
        first = int(prediction)
        order = [first] + [p for p in groups if p != first]
        return [(p, np.asarray(groups[p], dtype=np.intp)) for p in order]

    def keep(self, ids, labels, prediction, found):
        for i, lab, pick in zip(ids.tolist(), labels.tolist(), found):
            self.picks[(i, int(lab), int(prediction))] = pick


# ids of the cleaners inside fit or partial_fit, in any thread (a lock on the
# instance would not pickle, and clone or check_estimator would see it)
_RUNNING = set()
_RUNNING_LOCK = threading.Lock()


def _one_call_at_a_time(method):
    """Refuse a fit or partial_fit while another one runs on the same cleaner.

    Two calls at once would each work on a copy of the state and the last to
    publish would silently drop the other's rows and answers.
    """

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with _RUNNING_LOCK:
            busy = id(self) in _RUNNING
            if not busy:
                _RUNNING.add(id(self))
        if busy:
            raise RuntimeError(
                f"This {type(self).__name__} is already running fit or "
                f"partial_fit (in another thread, or from its oracle); "
                f"{method.__name__} was refused and changed nothing. Calls on "
                "one cleaner must not overlap: wait for the running one to "
                "return, or fit a clone."
            )
        try:
            return method(self, *args, **kwargs)
        finally:
            with _RUNNING_LOCK:
                _RUNNING.discard(id(self))

    return wrapper


def _while_waiting(selector):
    """What the selector prepares for the next question while the oracle waits.

    A selector's ``while_waiting()`` context manager (Top Fisher factorizes
    the current model's Fisher in the background, see
    :meth:`~sklearn_cincer.TopFisherSelector.while_waiting`); nothing for any
    other.
    """
    while_waiting = getattr(selector, "while_waiting", None)
    if not callable(while_waiting):
        return contextlib.nullcontext()
    return while_waiting()


class SkepticalCleaner(
    CleanedClassifierMixin, MetaEstimatorMixin, ClassifierMixin, BaseEstimator
):
    """Clean labels while learning, asking about suspicious examples (CINCER).

    The cleaner learns from a stream of labeled examples. It fits the wrapped
    classifier on the first ``n_bootstrap`` rows, then takes the other rows
    one at a time, in order. For each incoming example it computes the margin
    ``P(prediction | x) - P(label | x)``; when the margin reaches
    ``threshold`` the label is suspicious. The cleaner then finds a training
    example that supports the suspicion (the counter-example, chosen by
    ``selector`` among the training examples labeled as the prediction; by
    default the supporter whose own label is most likely wrong) and
    asks ``oracle`` to relabel the pair. The training set takes the answer and
    the classifier is refit, every round.

    Read more in the :ref:`User Guide <user_guide>`.

    Parameters
    ----------
    estimator : classifier
        A scikit-learn compatible classifier with ``predict_proba``
        (``LogisticRegression``, ``SGDClassifier(loss="log_loss")``,
        ``MLPClassifier``, a skorch ``NeuralNetClassifier``, a Pipeline ending
        in one...). It is cloned, never changed.
    selector : selector object, default=None
        Chooses the counter-example; ``None`` means
        :class:`~sklearn_cincer.CleaningSelector`: among the training
        examples that support the doubt (Eq. 14 of the paper, positive), the
        one most likely mislabeled. ``TopFisherSelector()`` is Eq. 14 alone,
        the paper's choice (the most influential counter-example). A clone is fit at
        the first query and updated at each later one
        (:meth:`~sklearn_cincer.selectors.BaseSelector.update`), so work that
        the new model leaves valid is reused.
    oracle : callable, default=None
        ``oracle(query) -> answer`` with a
        :class:`~sklearn_cincer.oracles.Query` and an
        :class:`~sklearn_cincer.oracles.Answer`, for example a
        :class:`~sklearn_cincer.SimulatedOracle`. With ``None`` the cleaner
        runs non-interactively: it still finds every suspicious example and
        its counter-example and records them in ``history_`` (with
        ``answered=False``), but keeps every label as it is, so the training
        set is the whole stream. Answer the recorded questions later and pass
        the cleaned labels to a new fit.
    threshold : float, default=0.2
        ``tau`` in ``[0, 1]``: an example is suspicious when its margin is at
        least ``threshold`` and the prediction differs from its label. Lower
        values ask more questions; 0 asks about every disagreement.
    counter_examples : {"relabel", "drop", "none"}, default="relabel"
        What is shown and done for a suspicious example:

        - "relabel" (CINCER): the oracle sees the example and its
          counter-example and may relabel both.
        - "drop" (the paper's "Drop CE"): the counter-example is found the same
          way and removed from the training set when the oracle keeps the
          example's label; it is never relabeled. With several
          counter-examples, all those shown are removed.
        - "none" (skeptical learning, "No CE"): only the example is shown.
    n_counter_examples : int, default=1
        How many counter-examples each question shows: the selector's top
        ``n_counter_examples`` candidates, best first (fewer when fewer
        training examples are candidates). The oracle answers for each
        (``Answer.counter_labels``); with "drop", keeping the example's
        label drops every one shown. Ignored with ``counter_examples="none"``.
        Several cost the person more labels to inspect per question and can
        find more mislabeled training examples; see :ref:`several_ce` for
        measurements.
    candidates : {"predicted", "all"}, default="predicted"
        Which training examples may serve as counter-example: "predicted"
        keeps those whose current label is the model's prediction for the
        suspicious example (the paper's pertinence rule, so that the pair
        shows the conflict); "all" lets the selector rank every one.
    n_bootstrap : int or float, default=100
        Size of the bootstrap set: the first rows of ``fit``, on which the
        first model is trained without _questions. A float in ``(0, 1)`` is a
        fraction of the rows (rounded up). All rows are bootstrap when there
        are fewer. When the first ``n_bootstrap`` rows hold a single class, the
        bootstrap set extends to the first row of another class, since no
        classifier can start from one class.
    refit : {"scratch", "incremental"}, default="scratch"
        How the classifier is updated after each round:

        - "scratch": a clone is fit on the whole current training set, from
          the same initial state every round (the paper's protocol).
        - "incremental": the current model goes on learning. An estimator with
          ``partial_fit`` (``SGDClassifier``, ``MLPClassifier``, naive Bayes,
          a skorch net) learns the rows the round changed, in one pass over
          them (a few epochs for a skorch net, never its ``max_epochs``): the
          new example and the counter-examples relabeled, with their current
          labels (it cannot unlearn a dropped example nor a replaced label),
          after the 128 latest other training rows for a gradient learner;
          one without (``LogisticRegression``) but with a
          ``warm_start`` parameter is fit on the whole current training set
          starting from its current solution (relabels and drops count); any
          other is refit from scratch, with a ``UserWarning``. A Pipeline
          updates its last step this way, on rows transformed by the other
          steps, which stay as fitted on the bootstrap set.
          ``refit_method_`` says which was used.
    random_state : int, RandomState instance or None, default=None
        Seeds the wrapped estimator and the selectors where their own
        ``random_state`` is None, so the same seed gives the same queries.
    verbose : int, default=0
        Show progress when positive: a bar over the rounds with tqdm when it
        is installed, else a line every tenth of the stream (every round when
        above 1).
    n_threads : int, None or "auto", default="auto"
        Threads that BLAS, OpenMP and torch may use during :meth:`fit` and
        :meth:`partial_fit` (set with threadpoolctl, and with
        ``torch.set_num_threads`` when torch is already imported; the cleaner
        never imports it). The previous settings are restored when the call
        returns or fails. ``None`` leaves the libraries as they are.
        ``"auto"`` takes the library's setting, 1 unless changed with
        :func:`~sklearn_cincer.set_config`, :func:`~sklearn_cincer.config_context`
        or the environment variable ``SKLEARN_CINCER_N_THREADS``. One
        thread is the default because each round solves small problems, on
        which more threads mostly wait for each other, and results then do
        not depend on the machine's core count (see :ref:`threads` for the
        numbers). Raise it,
        or pass None, for a large model on a quiet machine with many cores.
    refit_every : int or float, default=1
        Rows streamed between two updates of the model. 1 updates it after
        every round (the paper's protocol). An integer ``k`` updates it once
        every ``k`` rows; a float in ``(0, 1)`` once the training set has
        grown by that fraction since the last update (at least one row), so
        that updates cost about as much in all as ``1 / refit_every`` fits on
        the whole stream. The rows between two updates are scored with one
        ``predict_proba`` call, by the unchanged model: the same questions as
        scoring them one at a time. An answer that changes a label or drops
        a counter-example updates the model at once, so that it always
        learns from the person's corrections before the next question. Use it
        on long streams (a refit per row costs a fit on the whole training
        set), above all where nobody answers during the run.

    Attributes
    ----------
    estimator_ : classifier
        The classifier fit on the cleaned training set.
    classes_ : ndarray of shape (n_classes,)
        The labels, from ``y`` of the first fit (or ``classes`` of the first
        ``partial_fit``).
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``, when ``X`` has string column
        names.
    ids_ : ndarray of int
        Stream ids of the examples of the current training set, in order. The
        stream id of a row of ``fit`` is its position; ``partial_fit``
        numbers its rows after all those seen before.
    y_ : ndarray
        Current (cleaned) labels of the examples in ``ids_``.
    y_cleaned_ : ndarray of shape (`n_seen_`,)
        Current (cleaned) label of every example seen, by stream id: aligned
        with the rows of ``fit`` (then those of each ``partial_fit``).
        ``y_cleaned_[ids_]`` is ``y_``; a counter-example dropped by the
        "drop" strategy keeps its label here but is not in ``ids_``. See
        :meth:`cleaned_dataset` for the rows and :meth:`label_changes` for
        what changed.
    history_ : list of QueryRecord
        One record per question asked, in order: round, ids of the example and
        counter-example, margin, selector score, labels before and after.
        An answer the person revised (undo) while the cleaner ran holds the
        revised labels, applied before the round ``revised_round``.
        ``pandas.DataFrame(cleaner.history_)`` makes a table of it.
    label_issues_ : pandas.DataFrame or numpy structured array
        The questions of ``history_`` in cleanlab's vocabulary, one row per
        suspicious example (indexed by its stream id, ``example_id``), with
        the columns of :attr:`LabelAuditor.label_issues_
        <sklearn_cincer.LabelAuditor.label_issues_>`.
        ``counter_example_score`` is the selector's score of the first
        counter-example: with the default
        :class:`~sklearn_cincer.CleaningSelector`, the probability (judged
        without it) that its own label is wrong.
    n_seen_ : int
        Number of examples seen (bootstrap and stream).
    n_queries_ : int
        Number of suspicious examples (questions asked or recorded).
    n_relabeled_examples_ : int
        Suspicious examples whose label the oracle changed.
    n_relabeled_counter_examples_ : int
        Counter-examples whose label the oracle changed (each of several
        shown with one question counts).
    n_dropped_ : int
        Counter-examples removed from the training set ("drop" strategy).
    n_revised_ : int
        Questions whose answer the person revised (undo) while the cleaner
        ran; ``history_`` holds the revised answers (``revised_round``).
    refit_method_ : {"fit", "warm_start", "partial_fit"}
        How ``estimator_`` is updated each round (for a Pipeline, its last
        step).
    selector_ : selector object
        The selector that chose the last counter-example (unfitted before the
        first query).

    See Also
    --------
    CleaningSelector : The default counter-example selector.
    TopFisherSelector : The paper's counter-example selector (Eq. 14).
    SimulatedOracle : An oracle that answers from known true labels.

    Notes
    -----
    The loop follows Algorithm 1 of Teso et al., "Interactive Label Cleaning
    with Example-based Explanations", NeurIPS 2021. A call that fails (bad
    input, an oracle that raises or answers a label outside ``classes_``)
    leaves the cleaner exactly as it was before the call.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.preprocessing import minmax_scale
    >>> from sklearn_cincer import SimulatedOracle, SkepticalCleaner
    >>> from sklearn_cincer.datasets import make_label_noise
    >>> X, y_true = load_breast_cancer(return_X_y=True)
    >>> X, y_true = minmax_scale(X)[:200], y_true[:200]
    >>> y_noisy, flipped = make_label_noise(y_true, noise_rate=0.2, random_state=0)
    >>> cleaner = SkepticalCleaner(
    ...     LogisticRegression(), oracle=SimulatedOracle(y_true), n_bootstrap=100
    ... ).fit(X, y_noisy)
    >>> cleaner.n_queries_ > 0
    True
    >>> bool((cleaner.y_ != y_true[cleaner.ids_]).sum() < flipped.sum())
    True
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict_proba"])],
        "selector": [HasMethods(["fit", "score", "select"]), None],
        "oracle": [callable, None],
        "threshold": [Interval(Real, 0, 1, closed="both")],
        "counter_examples": [StrOptions({"relabel", "drop", "none"})],
        "n_counter_examples": [Interval(Integral, 1, None, closed="left")],
        "candidates": [StrOptions({"predicted", "all"})],
        "n_bootstrap": [
            Interval(Integral, 1, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="neither"),
        ],
        "refit": [StrOptions({"scratch", "incremental"})],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "n_threads": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
            None,
        ],
        "refit_every": [
            Interval(Integral, 1, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="neither"),
        ],
    }

    def __init__(
        self,
        estimator,
        *,
        selector=None,
        oracle=None,
        threshold=0.2,
        counter_examples="relabel",
        n_counter_examples=1,
        candidates="predicted",
        n_bootstrap=100,
        refit="scratch",
        random_state=None,
        verbose=0,
        n_threads="auto",
        refit_every=1,
    ):
        self.estimator = estimator
        self.selector = selector
        self.oracle = oracle
        self.threshold = threshold
        self.counter_examples = counter_examples
        self.n_counter_examples = n_counter_examples
        self.candidates = candidates
        self.n_bootstrap = n_bootstrap
        self.refit = refit
        self.random_state = random_state
        self.verbose = verbose
        self.n_threads = n_threads
        self.refit_every = refit_every

    # ------------------------------------------------------------------ fit

    @_one_call_at_a_time
    @_fit_context(prefer_skip_nested_validation=False)
    @unchanged_on_error
    @thread_limited
    def fit(self, X, y):
        """Run the loop over ``(X, y)``: bootstrap on the first rows, stream the rest.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The examples, in stream order.
        y : array-like of shape (n_samples,)
            Their (possibly noisy) labels.

        Returns
        -------
        self : object
            The fitted cleaner.
        """
        X, y = validate_data(
            self, X, y, reset=True, ensure_all_finite=nan_policy(self.estimator)
        )
        check_classification_targets(y)
        classes = np.unique(y)
        with oracle_fit(self.oracle, self, X, y):
            return self._start(X, y, classes)

    @_one_call_at_a_time
    @_fit_context(prefer_skip_nested_validation=False)
    @unchanged_on_error
    @thread_limited
    def partial_fit(self, X, y, classes=None):
        """Stream more examples into the cleaner, one round each.

        On a cleaner that is not fitted yet this is :meth:`fit` (the first
        ``n_bootstrap`` rows are the bootstrap set), with ``classes`` naming
        every label the stream may hold.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The new examples, in stream order. Their stream ids follow those
            of every example seen before.
        y : array-like of shape (n_samples,)
            Their labels, each one of ``classes_``.
        classes : array-like of shape (n_classes,), default=None
            All labels; used only on the first call, where it defaults to the
            labels in ``y``.

        Returns
        -------
        self : object
        """
        if not hasattr(self, "_stream"):
            X, y = validate_data(
                self, X, y, reset=True, ensure_all_finite=nan_policy(self.estimator)
            )
            check_classification_targets(y)
            classes = np.unique(y) if classes is None else np.unique(classes)
            unknown = np.setdiff1d(y, classes)
            if unknown.size:
                raise ValueError(
                    f"y holds labels {unknown.tolist()} that are not in classes "
                    f"{classes.tolist()}."
                )
            with oracle_fit(self.oracle, self, X, y):
                return self._start(X, y, classes)
        X, y = validate_data(
            self, X, y, reset=False, ensure_all_finite=nan_policy(self.estimator)
        )
        labels = self._encode(y)
        with oracle_fit(self.oracle, self, X, y, partial=True):
            stream = self._stream.copy()
            first_id = stream.X.shape[0]
            stream.extend(X, labels)
            self._stream_rows(stream, range(first_id, stream.X.shape[0]))
            self._publish(stream)
        return self

    def _encode(self, y):
        y = np.asarray(y)
        unknown = np.setdiff1d(y, self.classes_)
        if unknown.size:
            raise ValueError(
                f"y holds labels {unknown.tolist()} that are not in classes_ "
                f"{self.classes_.tolist()}; partial_fit cannot add classes."
            )
        return np.searchsorted(self.classes_, y)

    def _start(self, X, y, classes):
        n_samples = X.shape[0]
        if isinstance(self.n_bootstrap, Integral):
            n_bootstrap = min(self.n_bootstrap, n_samples)
        else:
            n_bootstrap = max(1, math.ceil(self.n_bootstrap * n_samples))
        labels = np.searchsorted(classes, y)
        if np.all(labels == labels[0]):
            raise ValueError(
                f"y holds only one class ({plain(classes[labels[0]])!r}); the "
                "classifier needs at least two classes."
            )
        if np.all(labels[:n_bootstrap] == labels[0]):
            # A classifier cannot start from one class: take the bootstrap up
            # to the first example of another class (data sorted by label).
            n_bootstrap = int(np.argmax(labels != labels[0])) + 1

        rng = check_random_state(self.random_state)
        template = seed_unset_random_states(clone(self.estimator), rng)
        refit_method = _refit.refit_method(template, self.refit)
        if self.refit == "incremental" and refit_method == "fit":
            _refit.warn_cannot_update(template)
        _refit.prepare(template, refit_method)
        selector = CleaningSelector() if self.selector is None else self.selector
        selector = clone(selector)

        stream = _Stream(X, labels, classes, template, refit_method, rng, selector)
        stream.in_train[:n_bootstrap] = True
        stream.estimator = self._bootstrap_fit(stream)
        if self.counter_examples != "none":
            # Fail fast: a selector that cannot read this model should say so
            # now, not at the first question, maybe after a person's answers.
            # A few rows show that; the first question fits the whole set.
            ids = np.flatnonzero(stream.in_train)[:_FAIL_FAST_ROWS]
            clone(selector).fit(
                stream.estimator, stream.X[ids], classes[stream.labels[ids]]
            )
        self._stream_rows(stream, range(n_bootstrap, n_samples))
        self._publish(stream)
        return self

    def _bootstrap_fit(self, stream):
        X, y = self._training_set(stream)
        try:
            return _refit.bootstrap_fit(
                clone(stream.template), X, y, stream.refit_method, stream.classes
            )
        except Exception as exc:
            clearer = _refit.explain_fit_error(stream.template, exc)
            if clearer is None:
                raise
            raise clearer from exc

    def _training_set(self, stream):
        ids = np.flatnonzero(stream.in_train)
        return stream.X[ids], stream.classes[stream.labels[ids]]

    def _update(self, stream, entered):
        """Refit after a round; ``entered`` lists the ids whose rows changed."""
        if stream.refit_method == "partial_fit":
            rows = _refit.rows_to_learn(
                stream.estimator, np.flatnonzero(stream.in_train), entered
            )
            _refit.partial_fit(
                stream.estimator, stream.X[rows], stream.classes[stream.labels[rows]]
            )
            return
        X, y = self._training_set(stream)
        if stream.refit_method == "warm_start" and _refit.can_warm_start(
            stream.estimator, y
        ):
            _refit.warm_fit(stream.estimator, X, y)
        else:
            # From scratch, also when warm starting is impossible because the
            # training set gained or lost a class (the weights change shape).
            stream.n_scratch_rounds += stream.refit_method == "warm_start"
            stream.estimator = clone(stream.template).fit(X, y)

    def _stream_rows(self, stream, ids):
        """Run the rounds of ``ids``, then say what went unexpectedly."""
        scratch_before = stream.n_scratch_rounds
        questions_before = len(stream.history)
        stream.largest_margin = 0.0
        stream.inbox = RevisionInbox()
        try:
            with listening(self.oracle, stream.inbox):
                self._run(stream, ids)
                if len(stream.history) > questions_before:
                    end_of_questions(self.oracle)
            # the end of the call: what was revised since the last round
            self._revision_point(stream, stream.n_rounds + 1)
        finally:
            stream.inbox = None
        n_scratch = stream.n_scratch_rounds - scratch_before
        if n_scratch:
            _refit.warn_scratch_rounds(n_scratch, len(ids))
        _outputs.warn_if_silent(
            len(ids),
            len(stream.history) - questions_before,
            stream.largest_margin,
            self.threshold,
        )

    # ----------------------------------------------------------- the loop

    def _run(self, stream, ids):
        ids = np.asarray(list(ids), dtype=np.intp)
        verbose = self.verbose if len(ids) > 1 else 0  # no bar for one round
        with progress(
            total=len(ids), desc="SkepticalCleaner", verbose=verbose, unit="round"
        ) as bar:
            start = 0
            while start < ids.shape[0]:
                block = ids[start : start + self._block_size(stream)]
                start += self._run_block(stream, block, bar)

    def _block_size(self, stream):
        """Rows to stream before the next update of the model."""
        if isinstance(self.refit_every, Integral):
            return int(self.refit_every)
        return max(1, math.ceil(self.refit_every * int(stream.in_train.sum())))

    def _run_block(self, stream, block, bar):
        """Stream ``block`` on the current model, then update it once.

        The model does not change inside the block, so its rows are scored
        by one ``predict_proba`` call. An answer that changes a label (or
        drops a counter-example) ends the block after its row, so that the
        model learns it before the next row is scored.

        Returns
        -------
        n_done : int
            Rows of ``block`` streamed.
        """
        # what was revised (undo) since, or is due now on a replay, first:
        # the block is scored on the model that learnt it
        self._revision_point(stream, stream.n_rounds + 1)
        classes = stream.classes
        X = stream.X[block]
        proba = self._proba(stream.estimator, X, classes)
        # On tied probabilities the model's own predict names the prediction.
        predicted = predictions(stream.estimator, X, proba, classes)
        labels = stream.labels[block]
        margins, _ = margin(proba, labels, predicted)
        suspicious = is_suspicious(margins, predicted, labels, self.threshold)
        # Counter-examples come from the rows the model was trained on (the
        # rows of this block are not, until the update): one selector fit
        # serves every question of the block.
        stream.model_rows = np.flatnonzero(stream.in_train)
        stream.block_selector = None
        stream.block_picks = _BlockPicks(block, labels, predicted, suspicious)
        n_train = stream.model_rows.shape[0]
        entered = []
        for done, example_id in enumerate(block.tolist(), start=1):
            stream.n_rounds += 1
            label = stream.labels[example_id]
            mu, prediction = float(margins[done - 1]), int(predicted[done - 1])
            if prediction != label:
                stream.largest_margin = max(stream.largest_margin, mu)
            entered.append(example_id)
            changed = False
            if suspicious[done - 1]:
                n_questions = len(stream.history)
                entered += self._ask(stream, example_id, mu, prediction)
                changed = self._answer_changed(stream, n_questions)
            stream.in_train[example_id] = True
            n_train = int(stream.in_train.sum()) if changed else n_train + 1
            bar.update(queries=len(stream.history), train=n_train)
            if changed:
                break
        # of this block only
        stream.model_rows = stream.block_selector = stream.block_picks = None
        self._update(stream, entered)
        return done

    @staticmethod
    def _answer_changed(stream, n_questions):
        """Whether the question asked after ``n_questions`` changed the training set."""
        if len(stream.history) == n_questions:
            return False
        record = stream.history[-1]
        return bool(
            record.relabeled_example
            or record.dropped
            or any(record.relabeled_counter_examples)
        )

    def _counter_examples(self, stream, example_id, prediction):
        """The counter-examples' ids and scores, best first; empty when none."""
        train_ids = stream.model_rows
        candidates = self._candidate_rows(stream, prediction)
        if candidates.size == 0:
            return []
        selector = stream.block_selector
        if selector is None:
            selector = stream.block_selector = self._fit_selector(stream, train_ids)
        x, label = stream.X[example_id], stream.classes[stream.labels[example_id]]
        picked = self._picks_of_block(stream, selector, example_id, prediction)
        if picked is not None:
            rows, top = picked
            picked = list(zip(rows.tolist(), top.tolist()))
        else:
            picked = _questions.pick_counter_examples(
                selector, x, label, candidates, self.n_counter_examples
            )
        stream.selector = selector
        return [(int(train_ids[row]), float(score)) for row, score in picked]

    def _candidate_rows(self, stream, prediction):
        """Positions in ``stream.model_rows`` that may be counter-examples."""
        block = getattr(stream, "block_picks", None)
        key = prediction if self.candidates == "predicted" else None
        if block is not None and key in block.candidates:
            return block.candidates[key]  # the training set is the block's
        train_ids = stream.model_rows
        if self.candidates == "predicted":
            candidates = np.flatnonzero(stream.labels[train_ids] == prediction)
        else:
            candidates = np.arange(train_ids.shape[0])
        # a row with every value missing shows a person nothing: never offered
        candidates = candidates[~stream.blank_rows()[train_ids[candidates]]]
        if block is not None:
            block.candidates[key] = candidates
        return candidates

    def _picks_of_block(self, stream, selector, example_id, prediction):
        """This question's picks, scored with the block's next questions; or None.

        A selector with ``select_many`` scores several questions in one pass
        over the candidates. Inside a block the model, the training set and
        the questions' labels stay as they are (an answer that changes one
        ends the block), so the questions still to come can be scored now.
        The first batch holds 8 questions, each next one twice the last (at
        most ``_BlockPicks._MAX_BATCH``): a block cut short by an answer has
        scored at most 8 more questions than twice those it asked. None
        where the selector has no ``select_many`` or leaves this question to
        be scored on its own.
        """
        block = getattr(stream, "block_picks", None)
        select_many = getattr(selector, "select_many", None)
        if block is None or not callable(select_many):
            return None
        label = stream.labels[example_id]
        if not block.has(example_id, label, prediction):
            for predicted, ids in block.next_batch(example_id, label, prediction):
                rows = self._candidate_rows(stream, predicted)
                found = [None] * ids.shape[0]
                if rows.size:  # else no counter-example for those questions
                    found = select_many(
                        stream.X[ids],
                        stream.classes[stream.labels[ids]],
                        rows,
                        n=self.n_counter_examples,
                    )
                block.keep(ids, stream.labels[ids], predicted, found)
        return block.get(example_id, label, prediction)

    def _fit_selector(self, stream, train_ids):
        """The selector, fit on the current model and training set.

        A fitted selector that can reuse its work (one that overrides
        ``update``, as :class:`~sklearn_cincer.TopFisherSelector` does, so
        that the Fisher of an unchanged model is not rebuilt for each
        question) is updated; any other is a fresh, seeded clone, fit anew.
        The update works on a shallow copy (copy-on-write): the published
        cleaner may share the previous selector, and a call that fails must
        leave it as it was. ``update`` rebinds the arrays it changes, never
        writes into them, so the copy's arrays are shared safely.
        """
        previous = stream.selector
        reusable = (
            isinstance(previous, BaseSelector)
            and type(previous).update is not BaseSelector.update
            and hasattr(previous, "n_train_")
        )
        if reusable:
            selector = copy.copy(previous)
            for name, value in selector.get_params(deep=False).items():
                if isinstance(value, (np.random.RandomState, np.random.Generator)):
                    setattr(selector, name, copy.deepcopy(value))  # drawn from
        else:
            selector = seed_unset_random_states(clone(previous), stream.rng)
        if not isinstance(selector, BaseSelector):
            return selector.fit(
                stream.estimator,
                stream.X[train_ids],
                stream.classes[stream.labels[train_ids]],
            )
        # Every example by its stream id, and the training set as ids: a
        # selector that keeps features by id reads only the new rows.
        return selector.update(
            stream.estimator, stream.X, stream.classes[stream.labels], rows=train_ids
        )

    def _ask(self, stream, example_id, mu, prediction):
        """Query about a suspicious example; returns other ids whose rows changed."""
        classes = stream.classes
        picked = []
        if self.counter_examples != "none":
            picked = self._counter_examples(stream, example_id, prediction)
        query = _questions.build_query(
            stream.X,
            example_id,
            picked=picked,
            counter_labels=[
                plain(classes[stream.labels[ce_id]]) for ce_id, _ in picked
            ],
            # the selector's own words for its score, for the person
            describe=getattr(stream.selector, "describe_score", None),
            feature_names=getattr(self, "feature_names_in_", None),
            label=plain(classes[stream.labels[example_id]]),
            prediction=plain(classes[prediction]),
            margin=mu,
            classes=classes.copy(),
            round=stream.n_rounds,
            strategy=self.counter_examples,
            # what a person needs: progress (a call streams the rows after
            # this one) and the features' spread
            question=len(stream.history) + 1,
            n_rounds=stream.n_rounds + stream.X.shape[0] - 1 - example_id,
            feature_scale=stream.feature_scale(),
        )
        if self.oracle is None:
            outcome = _questions.unanswered(query)
        else:
            offered = [self.counter_examples == "relabel"] * len(picked)
            outcome = _questions.read_answer(
                self._call_oracle(stream, query), query, offered
            )
        changed = _questions.apply_answer(stream.labels, classes, query, outcome)
        # "drop": the oracle kept the example's label, so every
        # counter-example shown in support of the doubt goes
        dropped = bool(
            picked
            and self.counter_examples == "drop"
            and outcome.answered
            and not outcome.skipped
            and outcome.label == query.label
        )
        if dropped:
            stream.in_train[[ce_id for ce_id, _ in picked]] = False
        stream.history.append(_questions.record(query, outcome, dropped=dropped))
        return changed

    def _call_oracle(self, stream, query):
        """The oracle's answer to ``query``: where the cleaner hands it over.

        The undo's inbox is told the copy the oracle gets, so that a revised
        answer names its question.
        """
        on_handed = None
        if stream.inbox is not None:

            def on_handed(handed):
                stream.inbox.note_handed(handed, query.example_id)

        with _while_waiting(stream.selector):
            return _questions.hand_over(
                self.oracle, query, "cleaner", on_handed=on_handed
            )

    # ------------------------------------------------------------ revisions

    def _revision_point(self, stream, round_):
        """Apply the revisions due before ``round_``, then refit if labels changed.

        A revision made now is due at once; one replayed from a store is due
        at the round where the live run applied it, so that a resumed run
        retraces the live one.
        """
        if stream.inbox is not None:
            stream.revisions += stream.inbox.take()
        stream.revisions += replayed_revisions(self.oracle)
        if not stream.revisions:
            return
        due, waiting = [], []
        for pending in stream.revisions:
            (
                due if pending.round is None or pending.round <= round_ else waiting
            ).append(pending)
        stream.revisions = waiting
        changed = []
        for pending in due:
            changed += self._apply_revision(stream, pending, round_)
            report_applied(self.oracle, pending, round_)
        if stream.refit_method == "partial_fit":
            # it cannot unlearn: it learns the rows in the training set anew
            changed = [i for i in changed if stream.in_train[i]]
        if changed:
            self._update(stream, sorted(set(changed)))

    def _apply_revision(self, stream, pending, round_):
        """Give one question the labels of its revised answer; returns the ids
        whose label or place in the training set changed."""
        index = self._revised_question(stream, pending.query)
        record = stream.history[index]
        own = self._record_query(stream, record)
        answer = pending.answer
        try:
            new_label, after = answer_labels(answer, own)
        except OracleError as exc:
            raise OracleError(f"A revised answer cannot be applied: {exc}") from None
        skipped = bool(answer.skipped)
        if skipped:  # a skip keeps the labels the question showed
            new_label, after = own.label, record.counter_labels_before
        ids = record.counter_example_ids
        changed = self._relabel(
            stream, record.example_id, record.label_after, new_label
        )
        dropped = False
        if self.counter_examples == "relabel":
            for ce_id, old, new in zip(ids, record.counter_labels_after, after):
                changed += self._relabel(stream, ce_id, old, new)
        elif self.counter_examples == "drop" and ids:
            # as in _ask: keeping the example's label drops the counter-examples
            dropped = new_label == own.label and not skipped
            if dropped != record.dropped:
                stream.in_train[list(ids)] = not dropped
                changed += list(ids)
            after = (None,) * len(ids) if dropped else record.counter_labels_before
        stream.history[index] = replace(
            record,
            label_after=plain(new_label),
            counter_label_after=plain(after[0]) if ids else None,
            counter_labels_after=tuple(plain(a) for a in after),
            dropped=dropped,
            annotator=answer.annotator,
            skipped=skipped,
            revised_round=round_,
        )
        return changed

    @staticmethod
    def _relabel(stream, stream_id, answered, revised):
        """Set the label a revision gives, unless a later answer changed it.

        ``answered`` is the label the question's earlier answer set. When the
        current label differs, a later question relabeled the example: the
        person decided on it after, and that answer stays.
        """
        old = np.searchsorted(stream.classes, answered)
        new = np.searchsorted(stream.classes, revised)
        if old == new or stream.labels[stream_id] != old:
            return []
        stream.labels[stream_id] = new
        return [stream_id]

    @staticmethod
    def _revised_question(stream, query):
        """The index in the history of the question a revision is about.

        The query the oracle was handed identifies it; an oracle that
        revises a question of an earlier call (or a store replaying one) is
        matched by the example's id, which a stream asks about once.
        """
        example_id = None
        if stream.inbox is not None:
            example_id = stream.inbox.example_of(query)
        if example_id is None:
            example_id = getattr(query, "example_id", None)
        for index in range(len(stream.history) - 1, -1, -1):
            record = stream.history[index]
            if record.example_id == example_id and record.answered:
                return index
        raise OracleError(
            f"The oracle revised an answer about example {plain(example_id)!r}, "
            "which this cleaner never asked about; the revision cannot be applied."
        )

    def _record_query(self, stream, record):
        """The question of ``record`` as the cleaner asked it, from its own state."""
        return Query(
            example_id=record.example_id,
            x=stream.X[record.example_id],
            label=record.label_before,
            prediction=record.prediction,
            margin=record.margin,
            classes=stream.classes,
            round=record.round,
            strategy=self.counter_examples,
            counter_examples=tuple(
                CounterExample(ce_id, stream.X[ce_id], label, score)
                for ce_id, label, score in zip(
                    record.counter_example_ids,
                    record.counter_labels_before,
                    record.scores,
                )
            ),
        )

    @property
    def label_issues_(self):
        """The questions asked, as a label issues table (see the class docstring)."""
        check_is_fitted(self)
        return cleaner_label_issues(self.history_, self.classes_)

    def _publish(self, stream):
        """Make the state of a finished call the cleaner's fitted state."""
        self._stream = stream
        self.classes_ = stream.classes
        self.estimator_ = stream.estimator
        self.selector_ = stream.selector
        self.refit_method_ = stream.refit_method
        self.ids_ = np.flatnonzero(stream.in_train)
        self.y_ = stream.classes[stream.labels[self.ids_]]
        self.y_cleaned_ = stream.classes[stream.labels]
        self.history_ = list(stream.history)
        self.n_seen_ = int(stream.X.shape[0])
        self.n_queries_ = len(stream.history)
        self.n_relabeled_examples_ = sum(r.relabeled_example for r in stream.history)
        self.n_relabeled_counter_examples_ = sum(
            sum(r.relabeled_counter_examples) for r in stream.history
        )
        self.n_dropped_ = sum(
            len(r.counter_example_ids) for r in stream.history if r.dropped
        )
        self.n_revised_ = sum(r.revised_round is not None for r in stream.history)

    # ------------------------------------------------------------- results

    def cleaned_dataset(self, X):
        """The cleaned training set: its rows of ``X`` and their labels.

        Parameters
        ----------
        X : array-like or DataFrame of shape (`n_seen_`, n_features)
            Every row the cleaner has seen, in order: the ``X`` of ``fit``
            (followed by those of each ``partial_fit``). The cleaner keeps
            only a numeric copy, so it takes the rows back from you rather
            than storing a second copy of a DataFrame.

        Returns
        -------
        X_clean : ndarray or DataFrame
            The rows of the training set (``ids_``), in order; a DataFrame
            keeps its index and columns (``X.iloc[cleaner.ids_]``).
        y_clean : ndarray or Series
            Their cleaned labels (``y_``); a Series on the same index when
            ``X`` is a DataFrame.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from sklearn.linear_model import LogisticRegression
        >>> from sklearn_cincer import SimulatedOracle, SkepticalCleaner
        >>> X = pd.DataFrame({"size": np.r_[np.linspace(0, 1, 20),
        ...                                 np.linspace(2, 3, 20), [0.1]]},
        ...                  index=[f"id{i}" for i in range(41)])
        >>> y_true = np.r_[np.zeros(20, int), np.ones(20, int), [0]]
        >>> y_noisy = y_true.copy(); y_noisy[-1] = 1
        >>> cleaner = SkepticalCleaner(LogisticRegression(), n_bootstrap=40,
        ...                            oracle=SimulatedOracle(y_true)).fit(X, y_noisy)
        >>> X_clean, y_clean = cleaner.cleaned_dataset(X)
        >>> y_clean.tail(2)
        id39    1
        id40    0
        dtype: int64
        """
        check_is_fitted(self)
        return _outputs.cleaned_rows(X, self.ids_, self.y_, self.n_seen_)

    def label_changes(self):
        """A table of every label the answers changed, and every drop.

        Returns
        -------
        changes : pandas.DataFrame or list of dict
            One row per change, in order: ``round``, ``example_id`` (stream
            id), ``role`` (``"example"`` or ``"counter-example"``),
            ``change`` (``"relabeled"``, or ``"dropped"`` for a
            counter-example removed from the training set by the "drop"
            strategy), ``label_before``, ``label_after`` and ``annotator``. A
            list of dicts when pandas is not installed. Applying the
            relabels in order to the labels given to ``fit`` gives
            ``y_cleaned_``.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.linear_model import LogisticRegression
        >>> from sklearn_cincer import SimulatedOracle, SkepticalCleaner
        >>> X = np.r_[np.linspace(0, 1, 20), np.linspace(2, 3, 20), [0.1]][:, None]
        >>> y_true = np.r_[np.zeros(20, int), np.ones(20, int), [0]]
        >>> y_noisy = y_true.copy(); y_noisy[-1] = 1
        >>> cleaner = SkepticalCleaner(LogisticRegression(), n_bootstrap=40,
        ...                            oracle=SimulatedOracle(y_true)).fit(X, y_noisy)
        >>> cleaner.label_changes()  # doctest: +NORMALIZE_WHITESPACE
           round  example_id     role     change  label_before  label_after annotator
        0      1          40  example  relabeled             1            0  simulated
        """
        check_is_fitted(self)
        return _outputs.label_changes(self.history_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = takes_nan(self.estimator)
        return tags
