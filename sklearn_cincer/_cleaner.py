"""SkepticalCleaner: the CINCER loop as a scikit-learn meta-estimator."""

import copy
import functools
import math
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, Optional

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
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._suspicion import is_suspicious, margin
from .oracles._base import OracleError, Query, check_answer, plain
from .selectors import CleaningSelector

_MAX_SEED = np.iinfo(np.int32).max


@dataclass(frozen=True)
class QueryRecord:
    """One question the cleaner asked, and what came of it.

    Attributes
    ----------
    round : int
        Number of the streamed example, from 1 (the bootstrap is round 0).
    example_id : int
        Stream id of the suspicious example.
    counter_example_id : int or None
        Stream id of the counter-example shown, if any.
    margin : float
        ``P(prediction | x) - P(label | x)`` under the model of that round.
    score : float or None
        The selector's score of the counter-example.
    prediction : object
        The model's prediction for the suspicious example.
    label_before, label_after : object
        The suspicious example's label as annotated and as it entered the
        training set.
    counter_label_before, counter_label_after : object or None
        The counter-example's label before and after; ``counter_label_after``
        is None when it was dropped.
    dropped : bool
        Whether the counter-example left the training set ("drop" strategy).
    answered : bool
        False when no oracle was there to answer (``oracle=None``).
    annotator : str or None
        Who answered, as the oracle said.
    skipped : bool
        Whether the oracle skipped the question (``Answer.skipped``): both
        labels stay as they were and nothing is dropped.

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
    >>> record = cleaner.history_[0]
    >>> record.example_id, record.label_before, record.label_after
    (40, 1, 0)
    >>> record.relabeled_example
    True
    """

    round: int
    example_id: int
    counter_example_id: Optional[int]
    margin: float
    score: Optional[float]
    prediction: Any
    label_before: Any
    label_after: Any
    counter_label_before: Any
    counter_label_after: Any
    dropped: bool
    answered: bool
    annotator: Optional[str] = None
    skipped: bool = False

    @property
    def relabeled_example(self):
        """Whether the answer changed the suspicious example's label."""
        return self.label_after != self.label_before

    @property
    def relabeled_counter_example(self):
        """Whether the answer changed the counter-example's label."""
        return (
            self.counter_example_id is not None
            and not self.dropped
            and self.counter_label_after != self.counter_label_before
        )


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

    def copy(self):
        new = copy.copy(self)
        new.labels = self.labels.copy()
        new.in_train = self.in_train.copy()
        new.estimator = copy.deepcopy(self.estimator)
        new.rng = copy.deepcopy(self.rng)
        # The selector is shared: the loop replaces it with a fresh clone at
        # each question and never changes a fitted one in place, so copying
        # its arrays (features of the whole training set) would be wasted.
        new.history = list(self.history)
        return new

    def extend(self, X, labels):
        self.X = np.concatenate([self.X, X]) if self.X.size else X
        self.labels = np.concatenate([self.labels, labels])
        self.in_train = np.concatenate(
            [self.in_train, np.zeros(labels.shape[0], dtype=bool)]
        )


def _unchanged_on_error(method):
    """Undo everything a failing call did to the cleaner's attributes.

    The loop works on a copy of the state and publishes it only at the end,
    so this only has to restore what input validation set early
    (``n_features_in_``, ``feature_names_in_``) and what a half-finished
    publication would leave.
    """

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        saved = dict(self.__dict__)
        try:
            return method(self, *args, **kwargs)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    return wrapper


def _can_warm_start(estimator, y):
    """Whether a warm start on labels ``y`` keeps the model's outputs.

    It does when ``y`` holds exactly the model's classes, or a subset of them
    for a model whose classes were fixed in advance (a ``classes`` parameter,
    as skorch classifiers have); otherwise the outputs change shape.
    """
    present = np.unique(y)
    known = np.asarray(estimator.classes_)
    if np.array_equal(present, known):
        return True
    fixed = estimator.get_params().get("classes", None) is not None
    return fixed and bool(np.isin(present, known).all())


def _estimator_has(attr):
    def check(self):
        if hasattr(self, "estimator_"):
            return hasattr(self.estimator_, attr)
        return hasattr(self.estimator, attr)

    return check


def _seed_unset_random_states(obj, rng):
    """Give every ``*random_state`` parameter left at None a seed from ``rng``.

    So that refits from scratch start from the same initial weights every
    round (as the paper does) and one cleaner seed fixes the whole run.
    """
    params = obj.get_params(deep=True)
    seeds = {
        key: int(rng.randint(_MAX_SEED))
        for key in sorted(params)
        if (key == "random_state" or key.endswith("__random_state"))
        and params[key] is None
    }
    if seeds:
        obj.set_params(**seeds)
    return obj


class SkepticalCleaner(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Clean labels while learning, asking about suspicious examples (CINCER).

    The cleaner learns from a stream of labeled examples. It fits the wrapped
    classifier on the first ``n_bootstrap`` rows, then takes the other rows
    one at a time, in order. For each incoming example it computes the margin
    ``P(prediction | x) - P(label | x)``; when the margin reaches
    ``threshold`` the label is suspicious. The cleaner then finds the training
    example that most supports the suspicion (the counter-example, chosen by
    ``selector`` among the training examples labeled as the prediction) and
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
        the paper's choice (the most influential counter-example). It is
        cloned for each query.
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
          example's label; it is never relabeled.
        - "none" (skeptical learning, "No CE"): only the example is shown.
    candidates : {"predicted", "all"}, default="predicted"
        Which training examples may serve as counter-example: "predicted"
        keeps those whose current label is the model's prediction for the
        suspicious example (the paper's pertinence rule, so that the pair
        shows the conflict); "all" lets the selector rank every one.
    n_bootstrap : int or float, default=100
        Size of the bootstrap set: the first rows of ``fit``, on which the
        first model is trained without questions. A float in ``(0, 1)`` is a
        fraction of the rows (rounded up). All rows are bootstrap when there
        are fewer. When the first ``n_bootstrap`` rows hold a single class, the
        bootstrap set extends to the first row of another class, since no
        classifier can start from one class.
    refit : {"scratch", "incremental"}, default="scratch"
        How the classifier is updated after each round:

        - "scratch": a clone is fit on the whole current training set, from
          the same initial state every round (the paper's protocol).
        - "incremental": the current model goes on learning. An estimator with
          a ``warm_start`` parameter is fit on the whole current training set
          starting from its current solution (relabels and drops count); one
          without ``warm_start`` but with ``partial_fit`` learns the examples
          that entered the training set this round (it cannot unlearn a
          dropped example nor a replaced label); any other is refit from
          scratch. ``refit_method_`` says which was used.
    random_state : int, RandomState instance or None, default=None
        Seeds the wrapped estimator and the selectors where their own
        ``random_state`` is None, so the same seed gives the same queries.
    verbose : int, default=0
        Print progress every tenth of the stream when positive, every round
        when above 1.

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
    history_ : list of QueryRecord
        One record per question asked, in order: round, ids of the example and
        counter-example, margin, selector score, labels before and after.
        ``pandas.DataFrame(cleaner.history_)`` makes a table of it.
    n_seen_ : int
        Number of examples seen (bootstrap and stream).
    n_queries_ : int
        Number of suspicious examples (questions asked or recorded).
    n_relabeled_examples_ : int
        Suspicious examples whose label the oracle changed.
    n_relabeled_counter_examples_ : int
        Counter-examples whose label the oracle changed.
    n_dropped_ : int
        Counter-examples removed from the training set ("drop" strategy).
    refit_method_ : {"fit", "warm_start", "partial_fit"}
        How ``estimator_`` is updated each round.
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
        "candidates": [StrOptions({"predicted", "all"})],
        "n_bootstrap": [
            Interval(Integral, 1, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="neither"),
        ],
        "refit": [StrOptions({"scratch", "incremental"})],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimator,
        *,
        selector=None,
        oracle=None,
        threshold=0.2,
        counter_examples="relabel",
        candidates="predicted",
        n_bootstrap=100,
        refit="scratch",
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.selector = selector
        self.oracle = oracle
        self.threshold = threshold
        self.counter_examples = counter_examples
        self.candidates = candidates
        self.n_bootstrap = n_bootstrap
        self.refit = refit
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fit

    @_fit_context(prefer_skip_nested_validation=False)
    @_unchanged_on_error
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
        X, y = validate_data(self, X, y, reset=True)
        check_classification_targets(y)
        classes = np.unique(y)
        return self._start(X, y, classes)

    @_fit_context(prefer_skip_nested_validation=False)
    @_unchanged_on_error
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
            X, y = validate_data(self, X, y, reset=True)
            check_classification_targets(y)
            classes = np.unique(y) if classes is None else np.unique(classes)
            unknown = np.setdiff1d(y, classes)
            if unknown.size:
                raise ValueError(
                    f"y holds labels {unknown.tolist()} that are not in classes "
                    f"{classes.tolist()}."
                )
            return self._start(X, y, classes)
        X, y = validate_data(self, X, y, reset=False)
        labels = self._encode(y)
        stream = self._stream.copy()
        first_id = stream.X.shape[0]
        stream.extend(X, labels)
        self._run(stream, range(first_id, stream.X.shape[0]))
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
                f"y holds only one class ({classes[labels[0]]!r}); the classifier "
                "needs at least two classes."
            )
        if np.all(labels[:n_bootstrap] == labels[0]):
            # A classifier cannot start from one class: take the bootstrap up
            # to the first example of another class (data sorted by label).
            n_bootstrap = int(np.argmax(labels != labels[0])) + 1

        rng = check_random_state(self.random_state)
        template = _seed_unset_random_states(clone(self.estimator), rng)
        refit_method = self._refit_method(template)
        if refit_method == "warm_start":
            template.set_params(warm_start=True)
        selector = CleaningSelector() if self.selector is None else self.selector
        selector = clone(selector)

        stream = _Stream(X, labels, classes, template, refit_method, rng, selector)
        stream.in_train[:n_bootstrap] = True
        stream.estimator = self._bootstrap_fit(stream)
        if self.counter_examples != "none":
            # Fail fast: a selector that cannot read this model should say so
            # now, not at the first question, maybe after a person's answers.
            clone(selector).fit(stream.estimator, *self._training_set(stream))
        self._run(stream, range(n_bootstrap, n_samples))
        self._publish(stream)
        return self

    def _refit_method(self, estimator):
        if self.refit == "scratch":
            return "fit"
        if "warm_start" in estimator.get_params():
            return "warm_start"
        if hasattr(estimator, "partial_fit"):
            return "partial_fit"
        return "fit"

    def _bootstrap_fit(self, stream):
        estimator = clone(stream.template)
        X, y = self._training_set(stream)
        if stream.refit_method == "partial_fit":
            return estimator.partial_fit(X, y, classes=stream.classes)
        return estimator.fit(X, y)

    def _training_set(self, stream):
        ids = np.flatnonzero(stream.in_train)
        return stream.X[ids], stream.classes[stream.labels[ids]]

    def _update(self, stream, entered):
        """Refit after a round; ``entered`` lists the ids whose rows changed."""
        if stream.refit_method == "partial_fit":
            stream.estimator.partial_fit(
                stream.X[entered], stream.classes[stream.labels[entered]]
            )
            return
        X, y = self._training_set(stream)
        if stream.refit_method == "warm_start" and _can_warm_start(stream.estimator, y):
            stream.estimator.fit(X, y)
        else:
            # From scratch, also when warm starting is impossible because the
            # training set gained or lost a class (the weights change shape).
            stream.estimator = clone(stream.template).fit(X, y)

    # ----------------------------------------------------------- the loop

    def _proba(self, estimator, X, classes):
        """``predict_proba`` with one column per class of the cleaner.

        The model may not know every class yet (one missing from the
        bootstrap set): its missing columns are zero.
        """
        proba = estimator.predict_proba(X)
        known = np.asarray(estimator.classes_)
        if known.shape[0] == classes.shape[0] and np.array_equal(known, classes):
            return proba
        full = np.zeros((proba.shape[0], classes.shape[0]))
        full[:, np.searchsorted(classes, known)] = proba
        return full

    def _run(self, stream, ids):
        ids = list(ids)
        every = max(1, len(ids) // 10) if self.verbose == 1 else 1
        for step, example_id in enumerate(ids, start=1):
            self._round(stream, example_id)
            if self.verbose and (step % every == 0 or step == len(ids)):
                print(
                    f"[SkepticalCleaner] round {step}/{len(ids)}: "
                    f"{len(stream.history)} queries, training set of "
                    f"{int(stream.in_train.sum())}",
                    flush=True,
                )

    def _round(self, stream, example_id):
        stream.n_rounds += 1
        classes = stream.classes
        x = stream.X[example_id : example_id + 1]
        label = stream.labels[example_id]
        proba = self._proba(stream.estimator, x, classes)
        margins, predictions = margin(proba, [label])
        mu, prediction = float(margins[0]), int(predictions[0])
        entered = [example_id]
        if is_suspicious(mu, prediction, label, self.threshold):
            entered += self._ask(stream, example_id, mu, prediction)
        stream.in_train[example_id] = True
        self._update(stream, entered)

    def _counter_example(self, stream, example_id, prediction):
        """The counter-example's id and score, or ``(None, None)``."""
        train_ids = np.flatnonzero(stream.in_train)
        if self.candidates == "predicted":
            candidates = np.flatnonzero(stream.labels[train_ids] == prediction)
        else:
            candidates = np.arange(train_ids.shape[0])
        if candidates.size == 0:
            return None, None
        selector = self._fit_selector(stream, train_ids)
        row, score = selector.select(
            stream.X[example_id], stream.classes[stream.labels[example_id]], candidates
        )
        stream.selector = selector
        return int(train_ids[row]), score

    def _fit_selector(self, stream, train_ids):
        """A fresh, seeded clone of the selector, fit on the current training set."""
        selector = _seed_unset_random_states(clone(stream.selector), stream.rng)
        return selector.fit(
            stream.estimator,
            stream.X[train_ids],
            stream.classes[stream.labels[train_ids]],
        )

    def _ask(self, stream, example_id, mu, prediction):
        """Query about a suspicious example; returns other ids whose rows changed."""
        classes = stream.classes
        label = stream.labels[example_id]
        counter_id, score = None, None
        if self.counter_examples != "none":
            counter_id, score = self._counter_example(stream, example_id, prediction)
        has_counter = counter_id is not None
        query = Query(
            example_id=example_id,
            x=stream.X[example_id].copy(),
            label=plain(classes[label]),
            prediction=plain(classes[prediction]),
            margin=mu,
            classes=classes.copy(),
            counter_example_id=counter_id,
            counter_x=stream.X[counter_id].copy() if has_counter else None,
            counter_label=(
                plain(classes[stream.labels[counter_id]]) if has_counter else None
            ),
            score=score,
            round=stream.n_rounds,
            strategy=self.counter_examples,
            feature_names=getattr(self, "feature_names_in_", None),
        )
        new_label, new_counter_label, annotator = query.label, query.counter_label, None
        answered = self.oracle is not None
        if answered:
            try:
                answer = self.oracle(query)
            except Exception as exc:
                raise OracleError(
                    f"The oracle raised {type(exc).__name__} while answering the "
                    f"query about example {example_id}: {exc}"
                ) from exc
            new_label, new_counter_label = check_answer(answer, query)
            annotator = answer.annotator
            if answer.skipped:
                # A skipped question changes nothing, whatever labels it carries.
                new_label, new_counter_label = query.label, query.counter_label
        skipped = answered and answer.skipped

        changed = []
        stream.labels[example_id] = np.searchsorted(classes, new_label)
        dropped = False
        if has_counter and answered:
            if self.counter_examples == "relabel":
                stream.labels[counter_id] = np.searchsorted(classes, new_counter_label)
                if new_counter_label != query.counter_label:
                    changed.append(counter_id)
            elif new_label == query.label and not skipped:
                # "drop": the oracle kept the example's label
                stream.in_train[counter_id] = False
                dropped = True
        if self.counter_examples == "drop":
            new_counter_label = None if dropped else query.counter_label

        stream.history.append(
            QueryRecord(
                round=stream.n_rounds,
                example_id=example_id,
                counter_example_id=counter_id,
                margin=mu,
                score=score,
                prediction=query.prediction,
                label_before=query.label,
                label_after=plain(new_label),
                counter_label_before=query.counter_label,
                counter_label_after=plain(new_counter_label),
                dropped=dropped,
                answered=answered,
                annotator=annotator,
                skipped=skipped,
            )
        )
        return changed

    def _publish(self, stream):
        """Make the state of a finished call the cleaner's fitted state."""
        self._stream = stream
        self.classes_ = stream.classes
        self.estimator_ = stream.estimator
        self.selector_ = stream.selector
        self.refit_method_ = stream.refit_method
        self.ids_ = np.flatnonzero(stream.in_train)
        self.y_ = stream.classes[stream.labels[self.ids_]]
        self.history_ = list(stream.history)
        self.n_seen_ = int(stream.X.shape[0])
        self.n_queries_ = len(stream.history)
        self.n_relabeled_examples_ = sum(r.relabeled_example for r in stream.history)
        self.n_relabeled_counter_examples_ = sum(
            r.relabeled_counter_example for r in stream.history
        )
        self.n_dropped_ = sum(r.dropped for r in stream.history)

    # ------------------------------------------------------------- predict

    @available_if(_estimator_has("predict"))
    def predict(self, X):
        """Predict with the classifier fit on the cleaned training set.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return self.estimator_.predict(X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities, one column per class of ``classes_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return self._proba(self.estimator_, X, self.classes_)

    @available_if(_estimator_has("predict_proba"))
    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """The wrapped classifier's ``decision_function``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return self.estimator_.decision_function(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags
