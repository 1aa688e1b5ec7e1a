"""When is an incoming example suspicious: the margin test of the paper (Eq. 1)."""

import numpy as np


def margin(proba, labels):
    """The margin ``mu = P(y^ | x) - P(y~ | x)`` and the prediction ``y^``.

    Parameters
    ----------
    proba : ndarray of shape (n, c)
        Predicted probabilities, one column per class.
    labels : ndarray of int of shape (n,)
        Column index of each example's annotated label ``y~``.

    Returns
    -------
    margins : ndarray of shape (n,)
        In ``[0, 1]``; zero when the prediction equals the annotation.
    predictions : ndarray of int of shape (n,)
        Column index of the prediction (the first maximum, as ``predict``).
    """
    proba = np.atleast_2d(proba)
    labels = np.asarray(labels).reshape(-1)
    rows = np.arange(proba.shape[0])
    predictions = proba.argmax(axis=1)
    return proba[rows, predictions] - proba[rows, labels], predictions


def is_suspicious(margins, predictions, labels, threshold):
    """Suspicious: the margin reaches the threshold and the prediction differs.

    With a positive threshold the second condition follows from the first; it
    matters for ``threshold=0``, which then flags every disagreement (never an
    example the model agrees with).
    """
    return (np.asarray(predictions) != np.asarray(labels)) & (
        np.asarray(margins) >= threshold
    )
