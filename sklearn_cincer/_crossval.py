"""Out-of-sample probabilities by cross-validation, keeping the fold models.

:func:`cross_val_proba` is ``cross_val_predict(..., method="predict_proba")``
that also returns what explaining a prediction needs: the model of each
fold and the rows it was trained on, so that a counter-example can be picked
among the training examples of the very model that doubted a label.
"""

import copy
from dataclasses import dataclass

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import check_cv

from ._progress import progress
from ._refit import can_warm_start
from ._threads import limit_threads


@dataclass
class CrossValProba:
    """Out-of-sample probabilities and the fold models that produced them.

    Attributes
    ----------
    proba : ndarray of shape (n_samples, n_classes)
        Row ``i`` comes from the model of the fold whose test part holds it.
    fold : ndarray of int of shape (n_samples,)
        The fold of each row.
    estimators : list of fitted classifiers
        One per fold.
    train : list of ndarray of int
        The training rows of each fold's model.
    """

    proba: np.ndarray
    fold: np.ndarray
    estimators: list
    train: list


def _fit_fold(estimator, X, y, train, test, classes, previous, n_threads=None):
    # A worker process does not inherit the caller's thread limit.
    with limit_threads(n_threads):
        return _fit_fold_limited(estimator, X, y, train, test, classes, previous)


def _fit_fold_limited(estimator, X, y, train, test, classes, previous):
    if previous is not None and can_warm_start(previous, y[train]):
        # go on from the fold's last solution (same rows, a few labels changed)
        model = copy.deepcopy(previous).set_params(warm_start=True)
    else:
        model = clone(estimator)
    model.fit(X[train], y[train])
    proba = model.predict_proba(X[test])
    known = np.asarray(model.classes_)
    if known.shape[0] != classes.shape[0] or not np.array_equal(known, classes):
        # a class absent from this fold's training part: its column is zero
        full = np.zeros((proba.shape[0], classes.shape[0]))
        full[:, np.searchsorted(classes, known)] = proba
        proba = full
    return model, proba


def check_splits(cv, X, y):
    """The ``(train, test)`` folds of ``cv``, checked to partition the rows.

    Returns
    -------
    splits : list of (ndarray, ndarray)
    fold : ndarray of int of shape (n_samples,)
        The fold whose test part holds each row.
    """
    splits = list(check_cv(cv, y, classifier=True).split(X, y))
    fold = np.full(y.shape[0], -1, dtype=np.intp)
    for f, (_, test) in enumerate(splits):
        if np.any(fold[test] >= 0):
            raise ValueError("cv must put every row in exactly one test fold.")
        fold[test] = f
    if np.any(fold < 0):
        raise ValueError(
            f"cv left {int((fold < 0).sum())} rows out of every test fold; "
            "out-of-sample probabilities need a partition (KFold-like cv)."
        )
    return splits, fold


def cross_val_proba(
    estimator,
    X,
    y,
    classes,
    *,
    cv=5,
    splits=None,
    warm_start=None,
    n_jobs=None,
    verbose=0,
    n_threads=None,
    stop=None,
):
    """Out-of-sample ``predict_proba`` of every row, with the fold models.

    Parameters
    ----------
    estimator : classifier
        Unfitted; cloned for each fold.
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        The labels to train on (values of ``classes``).
    classes : ndarray of shape (n_classes,)
        Sorted; the columns of ``proba``.
    cv : int, cross-validation generator or iterable, default=5
        As in scikit-learn (``check_cv``, stratified for a classifier). The
        test parts must cover every row exactly once.
    splits : list of (train, test), default=None
        Folds from :func:`check_splits`, which ``cv`` is then ignored for;
        fixing them keeps the same folds while labels change.
    warm_start : CrossValProba, default=None
        An earlier result on the same ``splits``: each fold's model goes on
        from its solution there (``warm_start=True``) instead of starting
        over, where the estimator has ``warm_start`` and its fold still holds
        the same classes.
    n_jobs : int, default=None
        Folds fitted in parallel (joblib).
    verbose : int, default=0
        A progress bar over the folds when positive.
    n_threads : int or None, default=None
        BLAS, OpenMP and torch threads of each fold's fit (also in a joblib
        worker); None leaves them as they are.
    stop : callable, default=None
        Asked before each fold's result is taken; when it returns True the
        remaining folds are not fitted and None is returned (a refit whose
        labels went out of date stops early).

    Returns
    -------
    result : CrossValProba or None
        None only when ``stop`` stopped it.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_cincer._crossval import cross_val_proba
    >>> X, y = load_iris(return_X_y=True)
    >>> cvp = cross_val_proba(LogisticRegression(max_iter=500), X, y, np.unique(y))
    >>> cvp.proba.shape, len(cvp.estimators), bool(np.allclose(cvp.proba.sum(1), 1))
    ((150, 3), 5, True)
    """
    from joblib import Parallel, delayed

    if splits is None:
        splits, fold = check_splits(cv, X, y)
    else:
        fold = np.empty(y.shape[0], dtype=np.intp)
        for f, (_, test) in enumerate(splits):
            fold[test] = f
    previous = [None] * len(splits)
    if warm_start is not None and "warm_start" in estimator.get_params():
        previous = warm_start.estimators
    jobs = (
        delayed(_fit_fold)(estimator, X, y, train, test, classes, prev, n_threads)
        for (train, test), prev in zip(splits, previous)
    )
    results = Parallel(n_jobs=n_jobs, return_as="generator")(jobs)
    proba = np.zeros((y.shape[0], classes.shape[0]))
    estimators = []
    bar = progress(
        results,
        total=len(splits),
        desc="cross-validation",
        verbose=verbose,
        unit="fold",
        leave=False,
    )
    for (model, p), (_, test) in zip(bar, splits):
        if stop is not None and stop():
            return None
        proba[test] = p
        estimators.append(model)
    return CrossValProba(
        proba=proba,
        fold=fold,
        estimators=estimators,
        train=[train for train, _ in splits],
    )
