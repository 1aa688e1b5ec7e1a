"""What a cleaning run hands back: cleaned rows, the table of changes, warnings."""

import warnings

import numpy as np
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import _num_samples

CHANGE_COLUMNS = (
    "round",
    "example_id",
    "role",
    "change",
    "label_before",
    "label_after",
    "annotator",
)


def label_changes(history):
    """One row per label changed and per counter-example dropped, in order.

    Parameters
    ----------
    history : list of QueryRecord

    Returns
    -------
    changes : pandas.DataFrame or list of dict
        Columns :data:`CHANGE_COLUMNS`: the round, the stream id, its role in
        the question (``"example"`` or ``"counter-example"``, one row for
        each of several counter-examples shown with one question), the change
        (``"relabeled"``, or ``"dropped"`` for a counter-example that left the
        training set under the "drop" strategy, whose label stays), the
        labels before and after, and who answered. A DataFrame when pandas is
        installed, else a list of dicts.
    """
    rows = []
    for r in history:
        common = {"round": r.round, "annotator": r.annotator}
        if r.relabeled_example:
            rows.append(
                dict(
                    common,
                    example_id=r.example_id,
                    role="example",
                    change="relabeled",
                    label_before=r.label_before,
                    label_after=r.label_after,
                )
            )
        # every counter-example shown, in order (several with
        # n_counter_examples > 1)
        for ce_id, before, after, relabeled in zip(
            r.counter_example_ids,
            r.counter_labels_before,
            r.counter_labels_after,
            r.relabeled_counter_examples,
        ):
            if relabeled:
                rows.append(
                    dict(
                        common,
                        example_id=ce_id,
                        role="counter-example",
                        change="relabeled",
                        label_before=before,
                        label_after=after,
                    )
                )
            if r.dropped:
                rows.append(
                    dict(
                        common,
                        example_id=ce_id,
                        role="counter-example",
                        change="dropped",
                        label_before=before,
                        label_after=before,
                    )
                )
    rows = [{key: row[key] for key in CHANGE_COLUMNS} for row in rows]
    try:
        import pandas as pd
    except ImportError:
        return rows
    return pd.DataFrame(rows, columns=list(CHANGE_COLUMNS))


def cleaned_rows(X, ids, y, n_seen):
    """The rows ``ids`` of ``X`` (all ``n_seen`` rows streamed) and labels ``y``.

    A DataFrame keeps its index and columns, and the labels come as a Series
    on the same index; other inputs give an array of rows and one of labels.
    """
    n_rows = _num_samples(X)
    if n_rows != n_seen:
        raise ValueError(
            f"The cleaner has seen {n_seen} rows (those of fit, then of each "
            f"partial_fit, in order); X has {n_rows}. Pass the same rows, in "
            "the same order, to get the cleaned data set."
        )
    rows = _safe_indexing(X, ids)
    if hasattr(rows, "iloc") and hasattr(rows, "columns"):
        import pandas as pd

        return rows, pd.Series(np.asarray(y), index=rows.index)
    return np.asarray(rows), np.asarray(y)


def warn_if_silent(n_rounds, n_questions, largest_margin, threshold, min_rounds=100):
    """Warn when a long stream asked nothing although the model disagreed.

    ``largest_margin`` is the largest margin of a streamed example whose
    label differed from the prediction (0 when there was none: the model
    agreed with every label, and there is nothing to say).
    """
    if n_rounds < min_rounds or n_questions or largest_margin <= 0:
        return
    suggestion = round(largest_margin * 0.9, 2) if largest_margin >= 0.02 else 0.0
    warnings.warn(
        f"SkepticalCleaner asked no question in {n_rounds} rounds: the model "
        f"disagreed with some labels, but the largest margin of those "
        f"examples was {largest_margin:.2f}, below threshold {threshold}. A "
        "model that is unsure of everything (a network trained for few "
        "epochs, strong regularization) has small margins. Lower threshold "
        f"(e.g. to {suggestion}) to ask about such examples.",
        UserWarning,
        stacklevel=4,
    )
