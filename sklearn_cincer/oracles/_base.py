"""The oracle protocol: typed queries and answers.

An oracle is any callable ``oracle(query) -> answer``. The cleaner builds a
:class:`Query` for each suspicious example and applies the :class:`Answer`
it gets back, after checking it.
"""

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np


@dataclass(frozen=True)
class CounterExample:
    """One counter-example shown with a suspicious example.

    A :class:`Query` holds one per counter-example shown
    (``query.counter_examples``), best first: several when the cleaner's
    ``n_counter_examples`` is above 1.

    Attributes
    ----------
    example_id : int
        Its stream id.
    x : ndarray of shape (n_features,)
        Its features.
    label : object
        Its current label.
    score : float or None, default=None
        The selector's score (higher is shown first).
    score_text : str or None, default=None
        What the score means, in plain words, from the selector that gave it
        (``describe_score``); the human oracles show it. None: "how much it
        supports the doubt", the meaning of Eq. 14.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer.oracles import CounterExample, Query
    >>> query = Query(example_id=7, x=np.zeros(2), label=0, prediction=1,
    ...               margin=0.6, classes=np.array([0, 1]), counter_examples=(
    ...                   CounterExample(3, np.ones(2), 1, score=2.5),
    ...                   CounterExample(5, np.ones(2), 1, score=1.5)))
    >>> [ce.example_id for ce in query.counter_examples], query.counter_example_id
    ([3, 5], 3)
    """

    example_id: int
    x: np.ndarray = field(repr=False)
    label: Any
    score: float | None = None
    score_text: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Query:
    """What the cleaner asks about one suspicious example.

    Attributes
    ----------
    example_id : int
        Stream id of the suspicious example: its position in the stream (the
        rows of ``fit``, then those of each ``partial_fit``).
    x : ndarray of shape (n_features,)
        Its features, as the cleaner received them.
    label : object
        Its current (annotated) label.
    prediction : object
        The model's prediction for it.
    margin : float
        ``P(prediction | x) - P(label | x)``; the example is suspicious
        because this reached the cleaner's threshold.
    classes : ndarray
        The labels an answer may use.
    counter_example_id : int or None
        Stream id of the counter-example: a training example, labeled as the
        model predicts, that supports the model's doubt (the selector's
        first). ``None`` when
        the strategy shows none (``counter_examples="none"``) or no training
        example is a candidate. With several counter-examples, the first
        (best) one; ``counter_x``, ``counter_label`` and ``score`` are its
        too, so an oracle written for one counter-example keeps working.
    counter_x : ndarray of shape (n_features,) or None
        The counter-example's features.
    counter_label : object or None
        The counter-example's current label.
    score : float or None
        The selector's score of the counter-example (higher means removing it
        would raise ``P(label | x)`` more).
    round : int
        Number of the streamed example this query is about, from 1.
    strategy : {"relabel", "drop", "none", "explain"}
        What the cleaner will do with the answer (see ``SkepticalCleaner``);
        "explain" (:class:`~sklearn_cincer.LabelAuditor`): the
        counter-example is shown to explain the doubt and its label is kept.
    feature_names : ndarray of str or None
        Names of the features, when the cleaner was fitted on a DataFrame.
    question : int, default=0
        Number of this question among the cleaner's questions, from 1 (those
        answered from a store included); 0 when unknown.
    n_rounds : int or None, default=None
        The round at which the current ``fit`` or ``partial_fit`` call ends:
        with ``round``, how far the stream has come. None when unknown.
    feature_scale : ndarray of shape (n_features,) or None, default=None
        The spread (standard deviation) of each feature over the rows the
        cleaner was fitted on. The human oracles rank the features that
        differ most between the example and the counter-example in these
        units, so that large-unit features do not win by their units. None
        ranks by raw difference.
    note : str or None
        More on why this pair is asked, from whoever asks (the auditor's
        ranking, and whether the counter-example's own label is in doubt);
        the human oracles show it after their own explanation.
    counter_examples : tuple of CounterExample, default=()
        Every counter-example shown, best first: one per
        ``n_counter_examples`` of the cleaner (fewer when fewer training
        examples are candidates), none without a counter-example. Built from
        ``counter_example_id``, ``counter_x``, ``counter_label`` and
        ``score`` when only those are given; when it is given, those fields
        are its first entry's.

    Examples
    --------
    An oracle reads a query and decides the labels:

    >>> import numpy as np
    >>> from sklearn_cincer.oracles import Answer, Query
    >>> query = Query(example_id=7, x=np.array([0.2, 0.9]), label="cat",
    ...               prediction="dog", margin=0.6,
    ...               classes=np.array(["cat", "dog"]), counter_example_id=3,
    ...               counter_x=np.array([0.3, 0.8]), counter_label="dog")
    >>> query.has_counter_example
    True
    >>> def keep_everything(query):
    ...     return Answer(label=query.label, counter_label=query.counter_label)
    >>> keep_everything(query)
    Answer(label='cat', counter_label='dog', annotator=None)
    """

    example_id: int
    x: np.ndarray
    label: Any
    prediction: Any
    margin: float
    classes: np.ndarray
    counter_example_id: int | None = None
    counter_x: np.ndarray | None = None
    counter_label: Any = None
    score: float | None = None
    round: int = 0
    strategy: str = "relabel"
    feature_names: np.ndarray | None = field(default=None, repr=False)
    # How far the stream has come, and how to compare features: for people.
    question: int = field(default=0, repr=False)
    n_rounds: int | None = field(default=None, repr=False)
    feature_scale: np.ndarray | None = field(default=None, repr=False)
    note: str | None = field(default=None, repr=False)
    counter_examples: tuple = field(default=(), repr=False)

    def __post_init__(self):
        shown = tuple(self.counter_examples)
        for ce in shown:
            if not isinstance(ce, CounterExample):
                raise TypeError(
                    "Query.counter_examples holds CounterExample records, got "
                    f"{type(ce).__name__}."
                )
        if not shown and self.counter_example_id is not None:
            shown = (
                CounterExample(
                    self.counter_example_id,
                    self.counter_x,
                    self.counter_label,
                    self.score,
                ),
            )
        elif shown and self.counter_example_id is None:
            first = shown[0]
            for name, value in (
                ("counter_example_id", first.example_id),
                ("counter_x", first.x),
                ("counter_label", first.label),
                ("score", first.score),
            ):
                object.__setattr__(self, name, value)
        elif shown and shown[0].example_id != self.counter_example_id:
            raise ValueError(
                f"Query.counter_example_id is {self.counter_example_id} but the "
                f"first of counter_examples is {shown[0].example_id}; the first "
                "counter-example is the one the single fields describe."
            )
        ids = [ce.example_id for ce in shown]
        if len(set(ids)) != len(ids):
            raise ValueError(f"Query.counter_examples shows an example twice: {ids}.")
        object.__setattr__(self, "counter_examples", shown)

    @property
    def has_counter_example(self):
        """Whether the query shows a counter-example."""
        return self.counter_example_id is not None


@dataclass(frozen=True)
class Answer:
    """The labels an oracle decided for the examples of a :class:`Query`.

    Attributes
    ----------
    label : object
        The label of the suspicious example: its current label to keep it, or
        another one of ``query.classes``.
    counter_label : object, default=None
        The label of the counter-example (the first one, when the query shows
        several); ``None`` keeps its current label. Ignored when the query
        has no counter-example, and with the "drop" and "explain" strategies
        (which never relabel counter-examples).
    annotator : str, default=None
        Who answered, for the record.
    skipped : bool, default=False
        True when the person skipped the question instead of answering it.
        A skip carries the current labels (``label`` is ``query.label`` and
        ``counter_label`` is ``query.counter_label``), so the cleaner keeps
        both as they are; the flag only tells the record (and an
        :class:`~sklearn_cincer.oracles.AnnotationStore`) that nobody vouched
        for them. It is left out of the ``repr``.
    counter_labels : tuple, default=None
        One label per counter-example of ``query.counter_examples``, in
        order; an entry ``None`` keeps that counter-example's label. ``None``
        (the default) leaves them all to ``counter_label`` (the first) and
        keeps the others. Its first entry and ``counter_label`` must agree
        when both are given. In the ``repr`` only when given.

    Examples
    --------
    >>> from sklearn_cincer.oracles import Answer
    >>> Answer(label=1, counter_label=1, annotator="ann")
    Answer(label=1, counter_label=1, annotator='ann')
    >>> Answer(label=0).counter_label is None  # keep the counter-example's label
    True

    Three counter-examples: relabel the second, keep the others.

    >>> Answer(label=0, counter_labels=(None, 0, None))
    Answer(label=0, counter_label=None, counter_labels=(None, 0, None),
           annotator=None)
    """

    label: Any
    counter_label: Any = None
    annotator: str | None = None
    skipped: bool = field(default=False, repr=False)
    counter_labels: tuple | None = field(default=None, repr=False)

    def __repr__(self):
        labels = (
            ""
            if self.counter_labels is None
            else f"counter_labels={self.counter_labels!r}, "
        )
        return (
            f"Answer(label={self.label!r}, counter_label={self.counter_label!r}, "
            f"{labels}annotator={self.annotator!r})"
        )


class OracleError(RuntimeError):
    """The oracle raised, or gave an answer the cleaner cannot apply.

    The cleaner raises it (chained to the oracle's own exception, if any) and
    is left exactly as it was before the call.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_cincer import SkepticalCleaner
    >>> from sklearn_cincer.oracles import OracleError
    >>> def offline(query):
    ...     raise ConnectionError("no annotator")
    >>> X = np.r_[np.linspace(0, 1, 20), np.linspace(2, 3, 20), [0.1]][:, None]
    >>> y = np.r_[np.zeros(20, int), np.ones(21, int)]
    >>> try:
    ...     SkepticalCleaner(LogisticRegression(), n_bootstrap=40,
    ...                      oracle=offline).fit(X, y)
    ... except OracleError as error:
    ...     print(error)
    The oracle raised ConnectionError while answering the query about example 40: no annotator
    """


class AnnotationStopped(OracleError):
    """The person answering chose to stop (Ctrl-D or Ctrl-C at a terminal prompt).

    A deliberate stop, not a failure: the cleaner raises it with a one-line
    message and no traceback of the oracle's internals, and is left exactly
    as it was before the call. The answers already given stay where they
    were kept: in the oracle's ``answers_``, and in the store of an
    :class:`~sklearn_cincer.oracles.AnnotationSession`, which replays them
    when the same fit runs again, so the person resumes where they stopped.

    Examples
    --------
    >>> import io
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_cincer import SkepticalCleaner
    >>> from sklearn_cincer.oracles import AnnotationStopped, TerminalOracle
    >>> X = np.r_[np.linspace(0, 1, 20), np.linspace(2, 3, 20), [0.1]][:, None]
    >>> y = np.r_[np.zeros(20, int), np.ones(21, int)]
    >>> oracle = TerminalOracle(stdin=io.StringIO(""), stdout=io.StringIO())
    >>> try:  # the input ends at once, as when the person presses Ctrl-D
    ...     SkepticalCleaner(LogisticRegression(), n_bootstrap=40,
    ...                      oracle=oracle).fit(X, y)
    ... except AnnotationStopped as stop:
    ...     print(stop)  # doctest: +ELLIPSIS
    The annotator stopped at question 1 (end of input): 0 answers given, ... as it was.
    """

    def __init__(self, message="", *, interrupted=False):
        super().__init__(message)
        #: True for Ctrl-C (an interrupt), False for the end of input (Ctrl-D).
        self.interrupted = bool(interrupted)


def plain(value):
    """numpy values as plain Python ones, for readable queries, answers, messages.

    A numpy scalar becomes a Python scalar and an array a (nested) list;
    lists and tuples are converted element by element; anything else is
    returned as it is. So ``f"{plain(value)!r}"`` reads ``0``, not
    ``np.int64(0)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer.oracles._base import plain
    >>> plain(np.int64(3)), plain(np.array([1, 2])), plain((np.float64(0.5), "a"))
    (3, [1, 2], (0.5, 'a'))
    """
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)) and type(value) in (list, tuple):
        return type(value)(plain(v) for v in value)
    return value


def _copied(value):
    return value.copy() if isinstance(value, np.ndarray) else value


def detached_copy(query):
    """A copy of ``query`` that shares no array with it.

    Whoever asks hands the oracle a detached copy and checks the answer
    against its own query: an oracle that writes into ``query.classes``,
    ``query.x`` or a counter-example's features (numpy arrays stay writable
    inside a frozen dataclass) then changes nothing that is recorded.
    ``feature_scale`` is shared: the cleaner computes it once, read-only, and
    records nothing from it.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer.oracles import Query
    >>> from sklearn_cincer.oracles._base import detached_copy
    >>> query = Query(example_id=7, x=np.zeros(2), label=0, prediction=1,
    ...               margin=0.6, classes=np.array([0, 1]))
    >>> copy = detached_copy(query)
    >>> copy.classes[0] = -5
    >>> query.classes.tolist(), copy.classes.tolist()
    ([0, 1], [-5, 1])
    """
    shown = tuple(replace(ce, x=_copied(ce.x)) for ce in query.counter_examples)
    first = shown[0] if shown else None
    return replace(
        query,
        x=_copied(query.x),
        classes=_copied(query.classes),
        counter_x=None if first is None else first.x,
        feature_names=_copied(query.feature_names),
        counter_examples=shown,
    )


def ask(oracle, handed, asker, example_id):
    """``oracle(handed)``, or the one error that says why there is no answer.

    The shared last step of every question, the cleaner's and the
    auditor's: a person's deliberate stop (:class:`AnnotationStopped`) comes
    back as one line, without the oracle's internals, saying that the fit
    changed nothing; any other failure of the oracle becomes an
    :class:`OracleError` naming the example.

    Parameters
    ----------
    oracle : callable
    handed : Query
        The copy of the question the oracle gets (:func:`detached_copy`).
    asker : str
        Who asks, for the message ("cleaner", "auditor").
    example_id : int
        The suspicious example, for the message.
    """
    try:
        return oracle(handed)
    except AnnotationStopped as stop:
        raise AnnotationStopped(
            f"{stop} This fit changed nothing; the {asker} is as it was.",
            interrupted=getattr(stop, "interrupted", False),
        ) from None
    except Exception as exc:
        raise OracleError(
            f"The oracle raised {type(exc).__name__} while answering the "
            f"query about example {example_id}: {exc}"
        ) from exc


def _labels(classes):
    """Classes as a plain list, for messages."""
    return np.asarray(classes).tolist()


def _is_bool(value):
    return isinstance(value, (bool, np.bool_))


def _class_value(value, classes, what):
    """The class ``value`` names, as a plain Python value; raises OracleError.

    ``what`` says whose label it is (``"example 7"``), for the message.
    An answer must be one scalar equal to exactly one class. A bool names a
    class only when the classes are bools, and the other way round: in
    Python ``True == 1``, so a bool for integer classes (``label=query.label
    == 1``) is a typing mistake, not a class.
    """
    classes = np.asarray(classes)
    shown = plain(value)
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if np.ndim(value) != 0 or isinstance(value, (list, tuple, set, dict)):
        raise OracleError(
            f"The oracle answered {shown!r} as the label of {what}; an answer "
            f"gives one label, one of the classes {_labels(classes)}."
        )
    if _is_bool(value) != (classes.dtype == bool):
        raise OracleError(
            f"The oracle answered {shown!r} as the label of {what}, but the "
            f"classes are {_labels(classes)}: a bool names a class only when "
            "the classes are bools, and only a bool does then (True == 1 in "
            "Python, so a mix is taken for a typing mistake)."
        )
    try:
        matches = np.flatnonzero(classes == value)
    except (TypeError, ValueError):
        matches = np.zeros(0, dtype=int)
    if matches.shape[0] != 1:
        raise OracleError(
            f"The oracle answered label {shown!r} for {what}, which is not one "
            f"of the classes {_labels(classes)}."
        )
    return plain(classes[matches[0]])


def check_answer(answer, query):
    """Check an oracle's answer against its query.

    Each label must be one scalar equal to exactly one of ``query.classes``
    (a numpy scalar, ``2.0`` for the class ``2``...); the class value itself
    is returned, as a plain Python value, so what is recorded is always one
    of the classes. A bool is a class only when the classes are bools
    (``True == 1`` in Python: a bool for integer classes is refused as a
    typing mistake). ``answer.skipped`` must be a bool. ``counter_labels``,
    when given, must hold one entry per counter-example of the query, each
    ``None`` or a label, and agree with ``counter_label`` on the first.

    Parameters
    ----------
    answer : Answer
        What the oracle returned.
    query : Query
        What it was asked.

    Returns
    -------
    label, counter_label : object
        The decided labels, as the class values; ``counter_label`` (of the
        first counter-example) is its current label when the answer leaves
        it out, ``None`` without a counter-example. The labels of every
        counter-example come from :func:`answer_labels`.

    Raises
    ------
    OracleError
        If the answer is not an :class:`Answer`, a label is not one scalar
        equal to one class of ``query.classes``, ``counter_labels`` does not
        hold one entry per counter-example or disagrees with
        ``counter_label``, or ``skipped`` is not a bool; the message names
        the example.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer.oracles import Answer, Query, check_answer
    >>> query = Query(example_id=7, x=np.zeros(2), label=0, prediction=1,
    ...               margin=0.6, classes=np.array([0, 1]), counter_example_id=3,
    ...               counter_x=np.zeros(2), counter_label=1)
    >>> check_answer(Answer(label=np.int64(1)), query)
    (1, 1)
    >>> check_answer(Answer(label=2), query)
    Traceback (most recent call last):
    ...
    sklearn_cincer.oracles._base.OracleError: The oracle answered label 2 for example 7, which is not one of the classes [0, 1].
    """
    label, labels = answer_labels(answer, query)
    return label, (labels[0] if labels else None)


def answer_labels(answer, query):
    """The decided label of the example and of every counter-example.

    As :func:`check_answer`, which raises the same errors, for all the
    counter-examples: an entry left out (``None``, or every entry but the
    first when the answer gives only ``counter_label``) is the
    counter-example's current label.

    Returns
    -------
    label : object
        The suspicious example's label, as a class value.
    counter_labels : tuple
        One class value per ``query.counter_examples``; empty without a
        counter-example.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer.oracles import Answer, CounterExample, Query
    >>> from sklearn_cincer.oracles._base import answer_labels
    >>> query = Query(example_id=7, x=np.zeros(2), label=0, prediction=1,
    ...               margin=0.6, classes=np.array([0, 1]), counter_examples=(
    ...                   CounterExample(3, np.zeros(2), 1),
    ...                   CounterExample(4, np.ones(2), 1)))
    >>> answer_labels(Answer(label=1, counter_labels=(None, 0)), query)
    (1, (1, 0))
    >>> answer_labels(Answer(label=1, counter_label=0), query)
    (1, (0, 1))
    """
    if not isinstance(answer, Answer):
        raise OracleError(
            f"The oracle must return an Answer, got {type(answer).__name__} for "
            f"the query about example {query.example_id}."
        )
    if not _is_bool(answer.skipped):
        raise OracleError(
            f"The oracle answered skipped={plain(answer.skipped)!r} for example "
            f"{query.example_id}; skipped must be True or False."
        )
    label = _class_value(answer.label, query.classes, f"example {query.example_id}")
    shown = query.counter_examples
    given = answer.counter_labels
    if given is not None:
        if not isinstance(given, (tuple, list)) or len(given) != len(shown):
            raise OracleError(
                f"The oracle answered counter_labels={plain(given)!r} about "
                f"example {query.example_id}, which shows {len(shown)} "
                "counter-example(s): give a tuple with one label (or None to "
                "keep it) per counter-example, in order."
            )
    if not shown:
        return label, ()
    decided = []
    for k, ce in enumerate(shown):
        value = None if given is None else given[k]
        what = f"the counter-example {ce.example_id}"
        if value is not None:
            value = _class_value(value, query.classes, what)
        if k == 0 and answer.counter_label is not None:
            first = _class_value(answer.counter_label, query.classes, what)
            if value is not None and value != first:
                raise OracleError(
                    f"The oracle answered counter_label={first!r} but "
                    f"counter_labels[0]={value!r} for the counter-example "
                    f"{ce.example_id}; they name the same label and must agree."
                )
            value = first
        decided.append(plain(ce.label) if value is None else value)
    return label, tuple(decided)


def checked_answer(answer, query):
    """The answer with its labels replaced by the class values they name.

    As :func:`check_answer` (which raises the same errors), but returns an
    :class:`Answer`, for whoever records answers: ``1.0`` or
    ``np.int64(1)`` for the class ``1`` is recorded as ``1``. A
    ``counter_label`` left out stays ``None``; ``counter_labels``, when
    given, becomes a tuple of class values with its first entry and
    ``counter_label`` filled from each other, so that both say the same.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer.oracles import Answer, Query
    >>> from sklearn_cincer.oracles._base import checked_answer
    >>> query = Query(example_id=7, x=np.zeros(2), label=0, prediction=1,
    ...               margin=0.6, classes=np.array([0, 1]))
    >>> checked_answer(Answer(label=1.0), query)
    Answer(label=1, counter_label=None, annotator=None)
    """
    label, decided = answer_labels(answer, query)
    counter_label = decided[0] if decided and answer.counter_label is not None else None
    labels = answer.counter_labels
    if labels is not None:
        labels = tuple(
            None
            if value is None and not (k == 0 and counter_label is not None)
            else decided[k]
            for k, value in enumerate(labels)
        )
        if labels and labels[0] is not None:
            counter_label = labels[0]
    return replace(
        answer, label=label, counter_label=counter_label, counter_labels=labels
    )
