"""Label issues from probabilities a user already has, and a dataset's health.

:func:`~sklearn_cincer.find_label_issues` with ``pred_probs`` ranks labels
from out-of-sample probabilities computed elsewhere, as cleanlab's
``find_label_issues(labels, pred_probs)`` does; :func:`health_summary`
sums the issues up per class, as cleanlab's ``health_summary`` does, and
names label spellings that differ only in case or whitespace.
"""

from dataclasses import dataclass, field

import numpy as np

from ._issues import issues_table, label_quality
from ._spellings import describe_variants, spelling_variants
from ._suspicion import is_suspicious, margin

#: How far a row of ``pred_probs`` may sum from 1 (float32 softmax outputs).
_SUM_TOLERANCE = 1e-4


def _classes_of(labels, n_columns):
    """The class of each column of ``pred_probs``.

    The sorted distinct labels when there are as many as columns; else, for
    integer labels, ``0 .. n_columns - 1`` (cleanlab's convention, which
    allows a class without any label).
    """
    try:
        classes = np.unique(labels)
    except TypeError:
        raise ValueError(
            "labels mix types that cannot be sorted (text and numbers, or "
            "missing values as None); give every row a label of one type."
        ) from None
    if classes.shape[0] == n_columns:
        return classes
    if (
        labels.dtype.kind in "iu"
        and classes.size
        and classes[0] >= 0
        and classes[-1] < n_columns
    ):
        return np.arange(n_columns)
    raise ValueError(
        f"pred_probs has {n_columns} columns but labels hold {classes.shape[0]} "
        "classes; its columns must be the sorted classes (or, for integer "
        f"labels, the classes 0 to {n_columns - 1})."
    )


def check_pred_probs(labels, pred_probs):
    """Validate ``labels`` and ``pred_probs``; returns them with the classes.

    Returns
    -------
    labels : ndarray of shape (n_samples,)
    pred_probs : ndarray of float of shape (n_samples, n_classes)
    classes : ndarray of shape (n_classes,)
    encoded : ndarray of int of shape (n_samples,)
        The column of each label.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be one-dimensional; got shape {labels.shape}.")
    try:
        pred_probs = np.asarray(pred_probs, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"pred_probs must hold numbers: {exc}") from None
    if pred_probs.ndim != 2 or pred_probs.shape[0] != labels.shape[0]:
        raise ValueError(
            f"pred_probs must have shape (n_samples, n_classes) = "
            f"({labels.shape[0]}, n_classes) for {labels.shape[0]} labels; got "
            f"{pred_probs.shape}."
        )
    if pred_probs.shape[1] < 2:
        raise ValueError("pred_probs needs at least two columns (classes).")
    if not np.all(np.isfinite(pred_probs)):
        bad = np.flatnonzero(~np.isfinite(pred_probs).all(axis=1))
        raise ValueError(
            f"pred_probs holds NaN or infinite values (rows {bad[:5].tolist()})."
        )
    if pred_probs.min() < 0 or pred_probs.max() > 1:
        raise ValueError(
            "pred_probs must lie in [0, 1]; pass probabilities, "
            "not decision scores or logits."
        )
    sums = pred_probs.sum(axis=1)
    off = np.flatnonzero(np.abs(sums - 1.0) > _SUM_TOLERANCE)
    if off.size:
        raise ValueError(
            f"Each row of pred_probs must sum to 1; {off.size} rows do not "
            f"(row {off[0]} sums to {sums[off[0]]:.6g})."
        )
    classes = _classes_of(labels, pred_probs.shape[1])
    return labels, pred_probs, classes, np.searchsorted(classes, labels)


def pred_probs_issues(labels, pred_probs, threshold=0.0):
    """The label issues table from given out-of-sample probabilities.

    As :class:`~sklearn_cincer.LabelAuditor` ranks its own cross-validated
    probabilities; without a model there is no counter-example
    (``counter_example`` is -1).
    """
    labels, pred_probs, classes, encoded = check_pred_probs(labels, pred_probs)
    margins, predicted = margin(pred_probs, encoded)
    n = labels.shape[0]
    return issues_table(
        np.arange(n),
        is_label_issue=is_suspicious(margins, predicted, encoded, threshold),
        label_quality=label_quality(pred_probs, encoded),
        given_label=labels,
        predicted_label=classes[predicted],
        counter_example=np.full(n, -1),
        counter_example_score=np.full(n, np.nan),
        inspected=np.zeros(n, dtype=bool),
        cleaned_label=labels,
        classes=classes,
    )


@dataclass
class HealthSummary:
    """What :func:`health_summary` found; ``print`` it for a report.

    Attributes
    ----------
    n_examples, n_label_issues : int
        Rows, and rows whose label the probabilities doubt.
    overall_label_quality : float
        ``1 - n_label_issues / n_examples`` (cleanlab's overall label health
        score): the share of labels the probabilities agree with.
    mean_label_quality : float
        The mean of the rows' ``label_quality`` (normalized margin).
    classes : list of dict
        Per class, worst first: ``class``, ``n_examples`` (rows given that
        label), ``n_label_issues`` (of them, doubted), ``issue_rate`` and
        ``mean_label_quality``.
    confused : list of dict
        Pairs of classes most often confused, most first: ``given``,
        ``predicted`` and ``n_examples`` (rows given the one and predicted
        the other, both directions counted together; ``given`` is the more
        frequent direction).
    spellings : list of dict
        Groups of label spellings that differ only in case or whitespace,
        ``{spelling: count}`` each (see ``spelling_variants``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer import health_summary
    >>> summary = health_summary(np.array([0, 0, 1]),
    ...                          np.array([[.9, .1], [.2, .8], [.3, .7]]))
    >>> print(summary)  # doctest: +NORMALIZE_WHITESPACE
    Label issues: 1 of 3 examples; overall label quality 0.667 (mean
    normalized margin 0.600).
    Issues per class (worst first):
      0: 1 of 2 (50.0%), mean quality 0.550
      1: 0 of 1 (0.0%), mean quality 0.700
    Classes most often confused:
      0 and 1: 1
    """

    n_examples: int
    n_label_issues: int
    overall_label_quality: float
    mean_label_quality: float
    classes: list = field(default_factory=list)
    confused: list = field(default_factory=list)
    spellings: list = field(default_factory=list)

    def __str__(self):
        lines = [
            (
                f"Label issues: {self.n_label_issues} of {self.n_examples} "
                f"examples; overall label quality {self.overall_label_quality:.3f} "
                f"(mean normalized margin {self.mean_label_quality:.3f})."
            ),
            "Issues per class (worst first):",
        ]
        lines += [
            f"  {c['class']!r}: {c['n_label_issues']} of {c['n_examples']} "
            f"({c['issue_rate']:.1%}), mean quality {c['mean_label_quality']:.3f}"
            for c in self.classes
        ]
        if self.confused:
            lines.append("Classes most often confused:")
            lines += [
                f"  {p['given']!r} and {p['predicted']!r}: {p['n_examples']}"
                for p in self.confused
            ]
        if self.spellings:
            lines.append(
                "Labels that differ only in case or whitespace (one "
                "class each for the model; merge them in the data):"
            )
            lines += [f"  {line}" for line in describe_variants(self.spellings)]
        return "\n".join(lines)


def _per_class(classes, encoded, flagged, quality):
    rows = []
    for k, cls in enumerate(classes):
        mine = encoded == k
        n = int(mine.sum())
        rows.append(
            {
                "class": cls.item() if hasattr(cls, "item") else cls,
                "n_examples": n,
                "n_label_issues": int(flagged[mine].sum()),
                "issue_rate": float(flagged[mine].mean()) if n else 0.0,
                "mean_label_quality": float(quality[mine].mean())
                if n
                else float("nan"),
            }
        )
    return sorted(rows, key=lambda r: (-r["issue_rate"], -r["n_label_issues"]))


def _confused(classes, encoded, predicted, flagged, top):
    """The pairs of classes with the most doubted labels, both ways together."""
    c = classes.shape[0]
    counts = np.zeros((c, c), dtype=np.int64)
    np.add.at(counts, (encoded[flagged], predicted[flagged]), 1)
    both = counts + counts.T
    pairs = [
        (int(both[i, j]), i, j) for i in range(c) for j in range(i + 1, c) if both[i, j]
    ]
    pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
    out = []
    for n, i, j in pairs[:top]:
        given, other = (i, j) if counts[i, j] >= counts[j, i] else (j, i)
        out.append(
            {
                "given": classes[given].item()
                if hasattr(classes[given], "item")
                else classes[given],
                "predicted": classes[other].item()
                if hasattr(classes[other], "item")
                else classes[other],
                "n_examples": n,
            }
        )
    return out


def health_summary(labels, pred_probs, *, threshold=0.0, top=10):
    """A dataset's label health: issues per class, confused classes, spellings.

    Like cleanlab's ``health_summary``, from out-of-sample probabilities
    (``LabelAuditor(...).fit(X, y).proba_``, or any cross-validated
    ``predict_proba``). A label is an issue when the probabilities predict
    another class with a margin of at least ``threshold``, as in
    :func:`~sklearn_cincer.find_label_issues`.

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
        The labels as given.
    pred_probs : array-like of shape (n_samples, n_classes)
        Out-of-sample probabilities; columns are the sorted classes (or, for
        integer labels, the classes ``0 .. n_classes - 1``); each row sums
        to 1.
    threshold : float, default=0.0
        The margin from which a label is an issue.
    top : int, default=10
        Pairs of confused classes listed at most.

    Returns
    -------
    summary : HealthSummary
        Counts and lists; ``print(summary)`` gives a short report.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer import health_summary
    >>> labels = np.array(["cat", "cat", "dog", "dog", "Dog "])
    >>> # columns: the sorted classes 'Dog ', 'cat', 'dog'
    >>> pred_probs = np.array([[0, .9, .1], [0, .2, .8], [0, .1, .9],
    ...                        [0, .2, .8], [.9, 0, .1]])
    >>> summary = health_summary(labels, pred_probs)
    >>> summary.n_label_issues, summary.confused[0]["n_examples"]
    (1, 1)
    >>> summary.spellings
    [{'dog': 2, 'Dog ': 1}]
    """
    labels, pred_probs, classes, encoded = check_pred_probs(labels, pred_probs)
    margins, predicted = margin(pred_probs, encoded)
    flagged = is_suspicious(margins, predicted, encoded, threshold)
    quality = label_quality(pred_probs, encoded)
    n = labels.shape[0]
    return HealthSummary(
        n_examples=int(n),
        n_label_issues=int(flagged.sum()),
        overall_label_quality=1.0 - float(flagged.mean()) if n else 1.0,
        mean_label_quality=float(quality.mean()) if n else 1.0,
        classes=_per_class(classes, encoded, flagged, quality),
        confused=_confused(classes, encoded, predicted, flagged, top),
        spellings=spelling_variants(labels),
    )
