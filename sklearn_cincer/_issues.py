"""The label issues table in cleanlab's vocabulary, for the cleaner and the auditor.

Both :class:`~sklearn_cincer.SkepticalCleaner` (for the questions it asked)
and :class:`~sklearn_cincer.LabelAuditor` (for every row) describe label
issues with the columns of cleanlab's ``find_label_issues`` table, plus what
CINCER adds:

``is_label_issue``
    Whether the given label is wrong: the person's verdict where the label
    was inspected (the answer changed it), the model's flag otherwise.
``label_quality``
    In ``[0, 1]``, low means suspicious: cleanlab's normalized margin
    ``(1 + P(given) - max_{k != given} P(k)) / 2`` (:func:`label_quality`).
    Where the model predicts another class it is ``(1 - margin) / 2`` with
    CINCER's margin ``P(prediction) - P(given)``, so both rank the same.
``given_label``
    The label as given to ``fit``.
``predicted_label``
    The model's prediction (out of sample for the auditor).
``counter_example``
    Id of the training example that most supports the doubt, ``-1`` where
    there is none.
``counter_example_score``
    The score that the selector which picked the counter-example gave it
    (its ``select`` for the suspicious example at its current label, when
    the question was asked, or for the auditor's other rows under the last
    ranking); NaN where there is none. Higher means that it supports the
    doubt more; the scale is the selector's, the same in both tables for
    the same selector. With :class:`~sklearn_cincer.CleaningSelector` (the
    cleaner's default) it is the probability, judged without the
    counter-example, that its own label is wrong, in ``(0, 1]`` (below 0
    where no candidate supports the doubt); with
    :class:`~sklearn_cincer.TopFisherSelector` (the auditor's default) it is
    Eq. 14's support, any positive number. Give both the same selector to
    compare their tables.
``inspected``
    Whether a person (the oracle) answered about this label.
``cleaned_label``
    The label after cleaning: the answer where inspected, else the given one.

The table is a pandas DataFrame indexed by example id (``example_id``) when
pandas is installed, else a numpy structured array with the same fields and
an ``example_id`` field first.
"""

import numpy as np

#: The columns of a label issues table, in order.
ISSUE_COLUMNS = (
    "is_label_issue",
    "label_quality",
    "given_label",
    "predicted_label",
    "counter_example",
    "counter_example_score",
    "inspected",
    "cleaned_label",
)


def label_quality(proba, labels):
    """cleanlab's normalized margin: ``(1 + P(label) - max_{k != label} P(k)) / 2``.

    Parameters
    ----------
    proba : ndarray of shape (n, c)
        Predicted probabilities, one column per class.
    labels : ndarray of int of shape (n,)
        Column of each example's label.

    Returns
    -------
    quality : ndarray of shape (n,)
        In ``[0, 1]``; below 0.5 exactly where another class is more
        probable than the label.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer._issues import label_quality
    >>> label_quality(np.array([[0.9, 0.1], [0.3, 0.7]]), np.array([0, 0]))
    array([0.9, 0.3])
    """
    proba = np.asarray(proba, dtype=float)
    labels = np.asarray(labels).reshape(-1)
    rows = np.arange(proba.shape[0])
    given = proba[rows, labels]
    others = proba.copy()
    others[rows, labels] = -np.inf
    best_other = others.max(axis=1) if proba.shape[1] > 1 else np.zeros_like(given)
    return (1.0 + given - best_other) / 2.0


def _pandas():
    """pandas, or None when it is not installed (an optional dependency)."""
    try:
        import pandas
    except ImportError:
        return None
    return pandas


def _label_array(values, classes):
    """Labels as an array of the classes' dtype (object when mixed or missing)."""
    try:
        return np.asarray(values, dtype=np.asarray(classes).dtype)
    except (TypeError, ValueError):
        return np.asarray(values, dtype=object)


def issues_table(
    example_id,
    *,
    is_label_issue,
    label_quality,
    given_label,
    predicted_label,
    counter_example,
    counter_example_score,
    inspected,
    cleaned_label,
    classes,
):
    """Build a label issues table (DataFrame, or structured array without pandas).

    Every argument is a sequence with one value per row; ``counter_example``
    holds ``-1`` and ``counter_example_score`` NaN where there is none.
    ``classes`` gives the dtype of the label columns.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer._issues import issues_table
    >>> table = issues_table([4, 9], is_label_issue=[True, False],
    ...     label_quality=[0.2, 0.9], given_label=[1, 0], predicted_label=[0, 0],
    ...     counter_example=[2, -1], counter_example_score=[1.5, np.nan],
    ...     inspected=[True, False], cleaned_label=[0, 0], classes=np.array([0, 1]))
    >>> int(table.loc[4, "counter_example"]), bool(table.loc[9, "is_label_issue"])
    (2, False)
    """
    example_id = np.asarray(example_id, dtype=np.int64).reshape(-1)
    columns = {
        "is_label_issue": np.asarray(is_label_issue, dtype=bool),
        "label_quality": np.asarray(label_quality, dtype=float),
        "given_label": _label_array(given_label, classes),
        "predicted_label": _label_array(predicted_label, classes),
        "counter_example": np.asarray(counter_example, dtype=np.int64),
        "counter_example_score": np.asarray(counter_example_score, dtype=float),
        "inspected": np.asarray(inspected, dtype=bool),
        "cleaned_label": _label_array(cleaned_label, classes),
    }
    for name, values in columns.items():
        if values.shape != example_id.shape:
            raise ValueError(
                f"{name} has {values.shape[0]} values for {example_id.shape[0]} rows."
            )
    pd = _pandas()
    if pd is None:
        dtype = [("example_id", np.int64)] + [
            (name, values.dtype) for name, values in columns.items()
        ]
        table = np.empty(example_id.shape[0], dtype=dtype)
        table["example_id"] = example_id
        for name, values in columns.items():
            table[name] = values
        return table
    return pd.DataFrame(columns, index=pd.Index(example_id, name="example_id"))


def cleaner_label_issues(history, classes):
    """The label issues table of a cleaner's questions, one row per question.

    Parameters
    ----------
    history : list of QueryRecord
        ``SkepticalCleaner.history_``.
    classes : ndarray
        ``SkepticalCleaner.classes_``.

    Returns
    -------
    table : pandas.DataFrame or numpy structured array
        Indexed by the suspicious example's stream id. Every row was flagged
        by the margin; ``is_label_issue`` is the oracle's verdict where it
        answered (the label changed), True where nobody answered or the
        question was skipped.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer import QueryRecord
    >>> from sklearn_cincer._issues import cleaner_label_issues
    >>> record = QueryRecord(round=1, example_id=7, counter_example_id=3,
    ...     margin=0.6, score=2.0, prediction=1, label_before=0, label_after=1,
    ...     counter_label_before=1, counter_label_after=1, dropped=False,
    ...     answered=True)
    >>> table = cleaner_label_issues([record], np.array([0, 1]))
    >>> row = table.loc[7]
    >>> float(row["label_quality"]), int(row["cleaned_label"]), bool(row["inspected"])
    (0.2, 1, True)
    """
    inspected = [r.answered and not r.skipped for r in history]
    return issues_table(
        [r.example_id for r in history],
        is_label_issue=[
            (r.label_after != r.label_before) if seen else True
            for r, seen in zip(history, inspected)
        ],
        label_quality=[(1.0 - r.margin) / 2.0 for r in history],
        given_label=[r.label_before for r in history],
        predicted_label=[r.prediction for r in history],
        counter_example=[
            -1 if r.counter_example_id is None else r.counter_example_id
            for r in history
        ],
        counter_example_score=[np.nan if r.score is None else r.score for r in history],
        inspected=inspected,
        cleaned_label=[r.label_after for r in history],
        classes=classes,
    )
