"""The question engine: one question, asked and applied the same way by all.

:class:`~sklearn_cincer.SkepticalCleaner` and
:class:`~sklearn_cincer.LabelAuditor` ask about a suspicious example in the
same steps, each a function here:

1. :func:`pick_counter_examples`: the selector's best training examples
   supporting the model's doubt;
2. :func:`build_query`: the :class:`~sklearn_cincer.oracles.Query` the
   oracle reads;
3. :func:`hand_over`: the one place a question reaches an oracle, as a
   detached copy, so nothing the oracle does to it is recorded;
4. :func:`read_answer`: the answer checked against the query and read into
   an :class:`Outcome` (a skip keeps every label; a counter-example whose
   label is not offered keeps it);
5. :func:`apply_answer`: the one place an answer's labels are written;
6. :func:`record`: the :class:`QueryRecord` of the question.

What each asker does around these steps is its own: the cleaner's "drop"
strategy and undo, the auditor's budget and follow-ups.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np

from .oracles._base import (
    CounterExample,
    Query,
    answer_labels,
    ask,
    detached_copy,
    plain,
)
from .selectors._base import top_candidates


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
        Stream id of the counter-example shown, if any (the first, best one,
        when several were shown).
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
    counter_example_ids : tuple of int
        Every counter-example shown, best first (``n_counter_examples`` of
        the cleaner, fewer when fewer were candidates); its first entry is
        ``counter_example_id``. Empty when none was shown.
    scores, counter_labels_before, counter_labels_after : tuple
        The selector's score and the labels before and after of each of
        ``counter_example_ids``, in order; ``counter_labels_after`` holds
        None for those dropped. Built from the single fields when only those
        are given.
    revised_round : int or None, default=None
        When the person revised the answer (undo, with a human oracle): the
        round before which the cleaner applied the revision, the end of a
        call counting as the round after its last. The labels, ``dropped``,
        ``skipped`` and ``annotator`` are then those of the revised answer;
        None when the answer was never revised.

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
    counter_example_id: int | None
    margin: float
    score: float | None
    prediction: Any
    label_before: Any
    label_after: Any
    counter_label_before: Any
    counter_label_after: Any
    dropped: bool
    answered: bool
    annotator: str | None = None
    skipped: bool = False
    counter_example_ids: tuple = ()
    scores: tuple = ()
    counter_labels_before: tuple = ()
    counter_labels_after: tuple = ()
    revised_round: int | None = None

    def __post_init__(self):
        if self.counter_example_ids or self.counter_example_id is None:
            return
        # one counter-example, given by the single fields
        for name, value in (
            ("counter_example_ids", self.counter_example_id),
            ("scores", self.score),
            ("counter_labels_before", self.counter_label_before),
            ("counter_labels_after", self.counter_label_after),
        ):
            object.__setattr__(self, name, (value,))

    def __setstate__(self, state):
        # a record pickled before several counter-examples existed
        self.__dict__.update(state)
        self.__post_init__()

    @property
    def relabeled_example(self):
        """Whether the answer changed the suspicious example's label."""
        return self.label_after != self.label_before

    @property
    def relabeled_counter_example(self):
        """Whether the answer changed the (first) counter-example's label."""
        return (
            self.counter_example_id is not None
            and not self.dropped
            and self.counter_label_after != self.counter_label_before
        )

    @property
    def relabeled_counter_examples(self):
        """Whether the answer changed each counter-example's label, in order.

        Examples
        --------
        >>> from sklearn_cincer import QueryRecord
        >>> record = QueryRecord(round=1, example_id=9, counter_example_id=2,
        ...     margin=0.5, score=1.0, prediction=1, label_before=0,
        ...     label_after=1, counter_label_before=1, counter_label_after=1,
        ...     dropped=False, answered=True, counter_example_ids=(2, 4),
        ...     scores=(1.0, 0.5), counter_labels_before=(1, 1),
        ...     counter_labels_after=(1, 0))
        >>> record.relabeled_counter_examples
        (False, True)
        """
        return tuple(
            not self.dropped and after != before
            for before, after in zip(
                self.counter_labels_before, self.counter_labels_after
            )
        )


@dataclass(frozen=True)
class Outcome:
    """What an answer decided, read against its query.

    Attributes
    ----------
    label : object
        The suspicious example's label after the answer (the query's label
        when nobody answered or the question was skipped).
    counter_labels : tuple
        One label per counter-example of the query, in order: the answer's
        where its label was offered, the label shown elsewhere.
    answered : bool
        False when no oracle was there to answer.
    skipped : bool
        Whether the oracle skipped the question.
    annotator : str or None
        Who answered, as the oracle said.
    """

    label: Any
    counter_labels: tuple
    answered: bool = True
    skipped: bool = False
    annotator: str | None = None


def pick_counter_examples(selector, x, label, candidates, n):
    """The ``n`` best candidates of a fitted selector and their scores.

    Parameters
    ----------
    selector : fitted selector
    x : ndarray of shape (n_features,)
        The suspicious example.
    label : object
        Its current label.
    candidates : ndarray of int
        Positions, in the rows the selector was fit on, that may be shown.
    n : int
        How many to show at most.

    Returns
    -------
    picked : list of (int, float)
        Positions among the selector's rows and scores, best first. One
        counter-example is the selector's own ``select`` (which may be
        faster than scoring every candidate); more take its ranking
        further, with the same tie-break.
    """
    if n == 1:
        row, score = selector.select(x, label, candidates)
        return [(int(row), float(score))]
    scores = np.asarray(selector.score(x, label, candidates))
    rows, top = top_candidates(scores, candidates, n, type(selector).__name__)
    return [(int(row), float(score)) for row, score in zip(rows.tolist(), top.tolist())]


def build_query(
    X,
    example_id,
    *,
    picked,
    counter_labels,
    describe=None,
    feature_names=None,
    **fields,
):
    """The query about row ``example_id`` of ``X`` and its counter-examples.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Every example the asker may show, by id.
    example_id : int
    picked : list of (int, float)
        The counter-examples' ids in ``X`` and scores, best first.
    counter_labels : list
        Their current labels, as class values.
    describe : callable or None, default=None
        The selector's ``describe_score``: its own words for a score.
    feature_names : ndarray or None, default=None
        Copied, so that an oracle that edits its names changes nothing.
    **fields
        The other fields of :class:`~sklearn_cincer.oracles.Query`.
    """
    shown = tuple(
        CounterExample(
            ce_id,
            X[ce_id].copy(),
            label,
            score,
            None if describe is None else describe(score),
        )
        for (ce_id, score), label in zip(picked, counter_labels)
    )
    return Query(
        example_id=example_id,
        x=X[example_id].copy(),
        feature_names=None if feature_names is None else feature_names.copy(),
        counter_examples=shown,
        **fields,
    )


def hand_over(oracle, query, asker, *, on_handed=None):
    """The oracle's answer to ``query``: the one place a question reaches it.

    The oracle gets a detached copy (``detached_copy``); its answer is
    checked against ``query``, so nothing it does to its copy is recorded.
    ``on_handed(handed)`` is told the copy first (the cleaner's undo
    identifies a revised question by it). Any failure of the oracle is one
    error that names the example (``oracles._base.ask``).
    """
    handed = detached_copy(query)
    if on_handed is not None:
        on_handed(handed)
    return ask(oracle, handed, asker, query.example_id)


def unanswered(query):
    """The outcome of a question nobody answered: every label kept."""
    return Outcome(
        query.label, tuple(ce.label for ce in query.counter_examples), answered=False
    )


def read_answer(answer, query, offered):
    """Check ``answer`` against ``query`` and read what it decided.

    Parameters
    ----------
    answer : Answer
    query : Query
    offered : sequence of bool
        Per counter-example, whether the answer may change its label.

    Returns
    -------
    outcome : Outcome

    Raises
    ------
    OracleError
        When the answer cannot be applied (not an Answer, a label outside
        the classes...): nothing has changed yet.
    """
    label, decided = answer_labels(answer, query)
    shown = tuple(ce.label for ce in query.counter_examples)
    if answer.skipped:
        # a skipped question changes nothing, whatever labels it carries
        label, decided = query.label, shown
    decided = tuple(
        new if offer else old for new, old, offer in zip(decided, shown, offered)
    )
    return Outcome(
        label,
        decided,
        answered=True,
        skipped=bool(answer.skipped),
        annotator=answer.annotator,
    )


def apply_answer(labels, classes, query, outcome):
    """Write the outcome's labels into ``labels``; the one place answers land.

    Parameters
    ----------
    labels : ndarray of int
        Each example's label, as an index into ``classes``; changed in place.
    classes : ndarray
    query, outcome : Query, Outcome

    Returns
    -------
    relabeled : list of int
        The counter-examples whose label the answer changed.
    """
    labels[query.example_id] = np.searchsorted(classes, outcome.label)
    relabeled = []
    for ce, new in zip(query.counter_examples, outcome.counter_labels):
        if new != ce.label:
            labels[ce.example_id] = np.searchsorted(classes, new)
            relabeled.append(ce.example_id)
    return relabeled


def record(query, outcome, *, record_type=QueryRecord, dropped=False, **extra):
    """The record of a question and its outcome.

    Parameters
    ----------
    query, outcome : Query, Outcome
    record_type : type, default=QueryRecord
        :class:`QueryRecord` or a subclass, whose own fields come in
        ``extra``.
    dropped : bool, default=False
        Whether the counter-examples left the training set (their labels
        after are then None).
    """
    shown = query.counter_examples
    first = shown[0] if shown else None
    after = (None,) * len(shown) if dropped else outcome.counter_labels
    return record_type(
        round=query.round,
        example_id=query.example_id,
        counter_example_id=None if first is None else first.example_id,
        margin=query.margin,
        score=None if first is None else first.score,
        prediction=query.prediction,
        label_before=query.label,
        label_after=plain(outcome.label),
        counter_label_before=None if first is None else first.label,
        counter_label_after=plain(after[0]) if shown else None,
        dropped=dropped,
        answered=outcome.answered,
        annotator=outcome.annotator,
        skipped=outcome.skipped,
        counter_example_ids=tuple(ce.example_id for ce in shown),
        scores=tuple(ce.score for ce in shown),
        counter_labels_before=tuple(ce.label for ce in shown),
        counter_labels_after=tuple(plain(a) for a in after),
        **extra,
    )
