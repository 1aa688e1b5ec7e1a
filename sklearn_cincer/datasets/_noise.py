"""Label noise: corrupt a known fraction of labels, reproducibly."""

from numbers import Real

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    validate_params,
)

#: Rows a confusion matrix is learnt from, at most (a stratified sample).
_CONFUSION_MAX_ROWS = 5000

#: The kinds of noise :func:`make_label_noise` makes.
NOISE_KINDS = ("uniform", "pairwise", "confusion")


@validate_params(
    {
        "y": ["array-like"],
        "noise_rate": [Interval(Real, 0, 1, closed="both")],
        "kind": [StrOptions(set(NOISE_KINDS))],
        "classes": ["array-like", None],
        "confusion": ["array-like", None],
        "X": ["array-like", "sparse matrix", None],
        "estimator": [HasMethods(["fit", "predict"]), None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_label_noise(
    y,
    noise_rate=0.2,
    *,
    kind="uniform",
    classes=None,
    confusion=None,
    X=None,
    estimator=None,
    random_state=None,
):
    """Corrupt a fraction of labels, as the paper's experiments do.

    Exactly ``round(noise_rate * n_samples)`` examples, drawn uniformly
    without replacement, get a wrong label:

    - ``kind="uniform"`` (the paper's setting): a label drawn uniformly among
      the other classes;
    - ``kind="pairwise"`` (class-dependent): the next class in sorted order,
      the last class flipping to the first, so each class is confused with one
      other;
    - ``kind="confusion"`` (realistic): a wrong label drawn from the row of a
      confusion matrix, so a class is mistaken for the classes a model (or
      a person) confuses it with, in proportion: a 4 becomes a 9 more often
      than a 1. The matrix is ``confusion`` when given, else the confusion
      matrix of ``estimator`` (default: a logistic regression) trained on
      the clean labels ``y`` and evaluated out of sample by 5-fold
      cross-validation on ``X`` (on a stratified sample of 5,000 rows when
      there are more). A class that was never confused with another gets a
      uniform wrong label.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        The true labels.
    noise_rate : float, default=0.2
        Fraction of labels to corrupt, in ``[0, 1]``.
    kind : {"uniform", "pairwise", "confusion"}, default="uniform"
        How a corrupted label is chosen.
    classes : array-like, default=None
        All labels a corrupted label may take; defaults to those in ``y``.
    confusion : array-like of shape (n_classes, n_classes), default=None
        For ``kind="confusion"``: how often true class ``i`` (row, in the
        sorted order of ``classes``) is taken for class ``j`` (column); any
        non-negative counts or rates, the diagonal is ignored.
    X : {array-like, sparse matrix} of shape (n_samples, n_features), \
            default=None
        For ``kind="confusion"`` without ``confusion``: the features a model
        learns ``y`` from, to find which classes it confuses.
    estimator : classifier, default=None
        That model; ``LogisticRegression(max_iter=1000)`` when None.
    random_state : int, RandomState instance or None, default=None
        Seeds which examples are corrupted, how, and the cross-validation
        folds.

    Returns
    -------
    y_noisy : ndarray of shape (n_samples,)
        The labels with noise.
    is_noisy : ndarray of bool of shape (n_samples,)
        Which labels were corrupted (``y_noisy != y`` exactly there).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer.datasets import make_label_noise
    >>> y = np.array([0, 1, 2] * 10)
    >>> y_noisy, is_noisy = make_label_noise(y, noise_rate=0.2, random_state=0)
    >>> int(is_noisy.sum()), bool(np.all((y_noisy != y) == is_noisy))
    (6, True)

    Class 0 is only ever taken for class 2 in this confusion matrix, so its
    corrupted labels all become 2:

    >>> confusion = [[9, 0, 1], [1, 9, 1], [1, 1, 9]]
    >>> y_noisy, is_noisy = make_label_noise(
    ...     y, 0.5, kind="confusion", confusion=confusion, random_state=0)
    >>> sorted(set(y_noisy[is_noisy & (y == 0)].tolist()))
    [2]
    """
    y = np.asarray(y)
    classes = np.unique(y) if classes is None else np.unique(classes)
    n_classes = classes.shape[0]
    if n_classes < 2 and noise_rate > 0:
        raise ValueError("Label noise needs at least two classes.")
    rng = check_random_state(random_state)
    if kind == "confusion":
        # checked before any random draw, so a bad matrix fails at once
        flip = _flip_probabilities(y, classes, confusion, X, estimator, rng)
    n_noisy = int(round(noise_rate * y.shape[0]))
    noisy = rng.choice(y.shape[0], size=n_noisy, replace=False)
    current = np.searchsorted(classes, y[noisy])
    if kind == "uniform":
        # A shift in 1..c-1 lands uniformly on the other classes.
        new = (current + rng.randint(1, n_classes, size=n_noisy)) % n_classes
    elif kind == "pairwise":
        new = (current + 1) % n_classes
    else:
        # inverse-CDF draw from each corrupted example's row of flip
        cdf = np.cumsum(flip[current], axis=1)
        u = rng.random_sample(n_noisy)[:, None] * cdf[:, -1:]
        new = np.minimum((cdf <= u).sum(axis=1), n_classes - 1)
    y_noisy = y.copy()
    y_noisy[noisy] = classes[new]
    is_noisy = np.zeros(y.shape[0], dtype=bool)
    is_noisy[noisy] = True
    return y_noisy, is_noisy


def _flip_probabilities(y, classes, confusion, X, estimator, rng):
    """Row ``i``: the probability that a corrupted label of class ``i`` is ``j``.

    The off-diagonal of the confusion matrix, normalised by row; a row with
    no confusion at all becomes uniform over the other classes. The diagonal
    is zero, so a corrupted label always changes.
    """
    n_classes = classes.shape[0]
    if confusion is None:
        if X is None:
            raise ValueError(
                "kind='confusion' needs the confusion matrix (confusion=...) or "
                "the features X to learn it from."
            )
        confusion = _model_confusion(X, y, classes, estimator, rng)
    confusion = np.array(confusion, dtype=float)
    if confusion.shape != (n_classes, n_classes):
        raise ValueError(
            f"confusion must have shape ({n_classes}, {n_classes}), one row and "
            f"column per class, got {confusion.shape}."
        )
    if not np.all(np.isfinite(confusion)) or np.any(confusion < 0):
        raise ValueError("confusion must hold finite, non-negative counts or rates.")
    np.fill_diagonal(confusion, 0.0)
    totals = confusion.sum(axis=1, keepdims=True)
    uniform = (1.0 - np.eye(n_classes)) / (n_classes - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, confusion / totals, uniform)


def _model_confusion(X, y, classes, estimator, rng):
    """The out-of-sample confusion matrix of a model trained on the clean ``y``."""
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import confusion_matrix
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    if estimator is None:
        estimator = LogisticRegression(max_iter=1000)
    counts = np.unique(y, return_counts=True)[1]
    n_splits = int(min(5, counts.min()))
    if n_splits < 2:
        raise ValueError(
            "kind='confusion' learns the confusion matrix by cross-validation and "
            "needs at least two examples of every class in y; pass confusion=... "
            "instead."
        )
    cv = StratifiedKFold(
        n_splits, shuffle=True, random_state=rng.randint(np.iinfo(np.int32).max)
    )
    if y.shape[0] > _CONFUSION_MAX_ROWS:
        # which classes a model confuses is clear from a few thousand rows,
        # and five fits on the whole of a large pool would cost minutes
        from sklearn.model_selection import train_test_split

        rows, _ = train_test_split(
            np.arange(y.shape[0]),
            train_size=_CONFUSION_MAX_ROWS,
            stratify=y,
            random_state=rng.randint(np.iinfo(np.int32).max),
        )
        X, y = X[np.sort(rows)], y[np.sort(rows)]
    predicted = cross_val_predict(clone(estimator), X, y, cv=cv)
    return confusion_matrix(y, predicted, labels=classes)
