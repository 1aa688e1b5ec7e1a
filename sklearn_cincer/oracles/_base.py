"""The oracle protocol: typed queries and answers.

An oracle is any callable ``oracle(query) -> answer``. The cleaner builds a
:class:`Query` for each suspicious example and applies the :class:`Answer`
it gets back, after checking it.
"""

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np


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
        Stream id of the counter-example: the training example, labeled as the
        model predicts, that most supports the model's doubt. ``None`` when
        the strategy shows none (``counter_examples="none"``) or no training
        example is a candidate.
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
    note : str or None
        More on why this pair is asked, from whoever asks (the auditor's
        ranking, and whether the counter-example's own label is in doubt);
        the human oracles show it after their own explanation.

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
    counter_example_id: Optional[int] = None
    counter_x: Optional[np.ndarray] = None
    counter_label: Any = None
    score: Optional[float] = None
    round: int = 0
    strategy: str = "relabel"
    feature_names: Optional[np.ndarray] = field(default=None, repr=False)
    note: Optional[str] = field(default=None, repr=False)

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
        The label of the counter-example; ``None`` keeps its current label.
        Ignored when the query has no counter-example, and with the "drop"
        and "explain" strategies (which never relabel counter-examples).
    annotator : str, default=None
        Who answered, for the record.
    skipped : bool, default=False
        True when the person skipped the question instead of answering it.
        A skip carries the current labels (``label`` is ``query.label`` and
        ``counter_label`` is ``query.counter_label``), so the cleaner keeps
        both as they are; the flag only tells the record (and an
        :class:`~sklearn_cincer.oracles.AnnotationStore`) that nobody vouched
        for them. It is left out of the ``repr``.
    
    Examples
    --------
    >>> from sklearn_cincer.oracles import Answer
    >>> Answer(label=1, counter_label=1, annotator="ann")
    Answer(label=1, counter_label=1, annotator='ann')
    >>> Answer(label=0).counter_label is None  # keep the counter-example's label
    True
    """

    label: Any
    counter_label: Any = None
    annotator: Optional[str] = None
    skipped: bool = field(default=False, repr=False)


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


def plain(value):
    """numpy scalars as Python scalars, for readable queries, answers and records."""
    return value.item() if isinstance(value, np.generic) else value


def _labels(classes):
    """Classes as a plain list, for messages."""
    return np.asarray(classes).tolist()


def _is_known(label, classes):
    try:
        return bool(np.any(np.asarray(classes) == label))
    except (TypeError, ValueError):
        return False


def check_answer(answer, query):
    """Check an oracle's answer against its query.

    Parameters
    ----------
    answer : Answer
        What the oracle returned.
    query : Query
        What it was asked.

    Returns
    -------
    label, counter_label : object
        The decided labels; ``counter_label`` is the counter-example's current
        label when the answer leaves it out, ``None`` without a
        counter-example.

    Raises
    ------
    OracleError
        If the answer is not an :class:`Answer` or names a label outside
        ``query.classes``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer.oracles import Answer, Query, check_answer
    >>> query = Query(example_id=7, x=np.zeros(2), label=0, prediction=1,
    ...               margin=0.6, classes=np.array([0, 1]), counter_example_id=3,
    ...               counter_x=np.zeros(2), counter_label=1)
    >>> check_answer(Answer(label=1), query)
    (1, 1)
    >>> check_answer(Answer(label=2), query)
    Traceback (most recent call last):
    ...
    sklearn_cincer.oracles._base.OracleError: The oracle answered label 2 for example 7, which is not one of the classes [0, 1].
    """
    if not isinstance(answer, Answer):
        raise OracleError(
            f"The oracle must return an Answer, got {type(answer).__name__} for "
            f"the query about example {query.example_id}."
        )
    if not _is_known(answer.label, query.classes):
        raise OracleError(
            f"The oracle answered label {answer.label!r} for example "
            f"{query.example_id}, which is not one of the classes "
            f"{_labels(query.classes)}."
        )
    if not query.has_counter_example:
        return answer.label, None
    counter_label = query.counter_label
    if answer.counter_label is not None:
        if not _is_known(answer.counter_label, query.classes):
            raise OracleError(
                f"The oracle answered label {answer.counter_label!r} for the "
                f"counter-example {query.counter_example_id}, which is not one "
                f"of the classes {list(query.classes)}."
            )
        counter_label = answer.counter_label
    return answer.label, counter_label
