"""When is an incoming example suspicious: the margin test of the paper (Eq. 1)."""

import numpy as np


def predictions(estimator, X, proba, classes):
    """Column index of the model's prediction ``y^`` for each row of ``X``.

    The class of highest probability, as ``predict`` gives it; where several
    classes tie for the highest probability, the estimator's own ``predict``
    decides. Ties are not rare: a saturated one-vs-rest model (an
    ``SGDClassifier`` far from its training data) gives every class the
    same normalized probability while its decision function still tells
    them apart, and the first maximum would then name a class the model
    does not predict.

    Parameters
    ----------
    estimator : fitted classifier
    X : ndarray of shape (n, n_features)
    proba : ndarray of shape (n, c)
        ``predict_proba(X)``, one column per class of ``classes``.
    classes : ndarray of shape (c,)
        Sorted labels of the columns.

    Returns
    -------
    ndarray of int of shape (n,)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_cincer._suspicion import predictions
    >>> model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    >>> predictions(model, np.array([[0.5]]), np.array([[0.5, 0.5]]), model.classes_)
    array([1])
    """
    proba = np.atleast_2d(proba)
    index = proba.argmax(axis=1)
    tied = np.flatnonzero((proba == proba.max(axis=1, keepdims=True)).sum(axis=1) > 1)
    if tied.size:
        index[tied] = np.searchsorted(classes, estimator.predict(X[tied]))
    return index


def margin(proba, labels, predictions=None):
    """The margin ``mu = P(y^ | x) - P(y~ | x)`` and the prediction ``y^``.

    Parameters
    ----------
    proba : ndarray of shape (n, c)
        Predicted probabilities, one column per class.
    labels : ndarray of int of shape (n,)
        Column index of each example's annotated label ``y~``.
    predictions : ndarray of int of shape (n,), default=None
        Column index of each prediction ``y^`` (see :func:`predictions`,
        which breaks ties as the model's ``predict`` does); ``None`` for the
        first class of highest probability.

    Returns
    -------
    margins : ndarray of shape (n,)
        In ``[0, 1]``; zero when the prediction equals the annotation.
    predictions : ndarray of int of shape (n,)
        Column index of the prediction.
    """
    proba = np.atleast_2d(proba)
    labels = np.asarray(labels).reshape(-1)
    rows = np.arange(proba.shape[0])
    if predictions is None:
        predictions = proba.argmax(axis=1)
    predictions = np.asarray(predictions).reshape(-1)
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
