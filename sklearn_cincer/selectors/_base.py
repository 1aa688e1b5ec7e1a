"""The selector contract: how counter-example selectors plug into the cleaner."""

import copy
from abc import ABCMeta, abstractmethod

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted


class BaseSelector(BaseEstimator, metaclass=ABCMeta):
    """Base class for counter-example selectors.

    A selector is a small estimator-like object: its constructor stores
    parameters only, so ``clone``, ``get_params`` and ``set_params`` work and
    a :class:`~sklearn_cincer.SkepticalCleaner` can tune it through nested
    parameters (``selector__damping``) in a grid search.

    The cleaner uses a selector in two steps:

    1. ``fit(estimator, X, y)``, or ``update(estimator, X, y, rows)`` on a
       fitted selector, once per question, after the model update: precompute
       whatever does not depend on the suspicious example (features of the
       training set, a factorized Fisher matrix...). :meth:`update` refits by
       default; selectors override it to reuse what is still valid.
    2. ``score(x, y, candidates)``, once per suspicious example: score the
       candidate training examples; the highest score is the counter-example.

    Subclasses implement :meth:`_fit` and :meth:`score`.

    Examples
    --------
    A selector that prefers the candidate with the largest first feature:

    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_cincer.selectors import BaseSelector
    >>> class LargestFirstFeature(BaseSelector):
    ...     def _fit(self, estimator, X, y):
    ...         self.X_ = X
    ...     def score(self, x, y, candidates=None):
    ...         return self.X_[self._candidates(candidates), 0]
    >>> X, y = np.array([[0.0], [3.0], [1.0], [2.0]]), np.array([0, 1, 0, 1])
    >>> model = LogisticRegression().fit(X, y)
    >>> LargestFirstFeature().fit(model, X, y).select([0.5], 0, candidates=[1, 3])
    (1, 3.0)
    """

    def fit(self, estimator, X, y):
        """Prepare to score the training set ``(X, y)`` under a fitted model.

        Parameters
        ----------
        estimator : fitted classifier
            The model whose suspicion is being explained.
        X : array-like of shape (n_samples, n_features)
            The current training set, in the rows the candidates index.
        y : array-like of shape (n_samples,)
            Its current labels.

        Returns
        -------
        self : object
        """
        X = np.asarray(X)
        y = np.asarray(y)
        if X.shape[0] != y.shape[0]:
            raise ValueError(
                f"X and y have different numbers of rows: {X.shape[0]} and "
                f"{y.shape[0]}."
            )
        # Fit a shallow copy and take its state only once it succeeded: a
        # failed fit leaves the selector as it was (unfitted, or fitted on
        # the earlier training set), never half-fitted.
        trial = copy.copy(self)
        trial.n_train_ = X.shape[0]
        trial._fit(estimator, X, y)
        return self._take_state(trial)

    def _take_state(self, trial):
        """Adopt the state of ``trial``, a shallow copy fitted successfully.

        ``_fit`` and ``update`` rebind the attributes they change (never
        write into arrays the selector holds), so the copy's attributes are
        the new state and the original's stay valid until this moment.
        """
        vars(self).update(vars(trial))
        return self

    def update(self, estimator, X, y, rows=None):
        """Fit on the current training set, reusing earlier work where valid.

        The cleaner calls this once per question on a fitted selector (or a
        fresh clone), after each model update. This default refits from
        scratch (:meth:`fit` on ``X[rows], y[rows]``); selectors whose fit
        is costly override it to reuse what the new model and training set
        leave valid (:meth:`TopFisherSelector.update
        <sklearn_cincer.TopFisherSelector.update>`). An override must rebind
        the attributes it changes, never write into arrays it already holds:
        the cleaner updates a shallow copy of a selector it may still share.

        Parameters
        ----------
        estimator : fitted classifier
            The model whose suspicion is being explained.
        X : array-like of shape (n_samples, n_features)
            The current training set or, with ``rows``, every example by a
            stable integer id (its row): row ``i`` is the same example at
            every call, so rows seen before need not be read again.
        y : array-like of shape (n_samples,)
            The labels of the rows of ``X``.
        rows : array-like of int, default=None
            The training set is ``X[rows]``, ``y[rows]``; the candidates of
            :meth:`score` index it. ``None``: all of ``X``.

        Returns
        -------
        self : object
        """
        if rows is not None:
            rows = np.asarray(rows, dtype=np.intp)
            X, y = np.asarray(X)[rows], np.asarray(y)[rows]
        return self.fit(estimator, X, y)

    @abstractmethod
    def _fit(self, estimator, X, y):
        """Precompute what scoring needs; ``X`` and ``y`` are arrays."""

    @abstractmethod
    def score(self, x, y, candidates=None):
        """Score candidate counter-examples for one suspicious example.

        Parameters
        ----------
        x : array-like of shape (n_features,) or (1, n_features)
            The suspicious example.
        y : object
            Its current (annotated) label.
        candidates : array-like of int or bool, default=None
            Rows of the fitted training set to score, or a boolean mask with
            one entry per training row; ``None`` for all.

        Returns
        -------
        scores : ndarray of shape (n_candidates,)
            Higher is a better counter-example.
        """

    def select(self, x, y, candidates=None):
        """The best counter-example: its row and its score.

        Ties go to the first candidate in ``candidates`` order. A score of
        ``-inf`` rules a candidate out (as :class:`PerceptualSelector` does
        with those outside the neighbourhood).

        Parameters
        ----------
        x : array-like of shape (n_features,) or (1, n_features)
            The suspicious example.
        y : object
            Its current (annotated) label.
        candidates : array-like of int or bool, default=None
            Rows of the fitted training set, or a boolean mask with one entry
            per training row; ``None`` for all.

        Returns
        -------
        index : int
            Row of the fitted training set.
        score : float

        Raises
        ------
        ValueError
            When the scores cannot be ranked (a NaN or ``+inf``, or only
            ``-inf``), as :func:`top_candidates`, whose ranking this is.
        """
        candidates = self._candidates(candidates)
        if candidates.size == 0:
            raise ValueError("There is no candidate counter-example to select.")
        scores = np.asarray(self.score(x, y, candidates))
        rows, best = top_candidates(scores, candidates, 1, type(self).__name__)
        return int(rows[0]), float(best[0])

    def _candidates(self, candidates):
        check_is_fitted(self, "n_train_")
        if candidates is None:
            return np.arange(self.n_train_)
        candidates = _as_rows(candidates, self.n_train_)
        if candidates.size and (
            candidates.min() < 0 or candidates.max() >= self.n_train_
        ):
            raise IndexError(
                f"candidates must index the {self.n_train_} fitted training rows."
            )
        return candidates


def top_candidates(scores, candidates, n, who="The selector"):
    """The ``n`` best candidates and their scores, best first.

    The one ranking of every selector: :meth:`BaseSelector.select` takes its
    first, and the cleaner the first ``n_counter_examples``. Ties go to the
    earlier candidate in ``candidates`` order (a stable sort), so the first
    is always ``argmax``'s. A score of ``-inf`` rules a candidate out; fewer
    than ``n`` come back when fewer remain.

    Parameters
    ----------
    scores : ndarray of shape (n_candidates,)
        The selector's scores of ``candidates``.
    candidates : ndarray of int of shape (n_candidates,) or of bool
        Rows of the fitted training set, or a boolean mask of them (then
        ``scores`` holds the scores of the rows it selects, in order).
    n : int
        How many to return, at least 1.
    who : str, default="The selector"
        Named in the error.

    Returns
    -------
    rows : ndarray of int
        Between 1 and ``n`` rows of the training set, best first.
    top_scores : ndarray of float
        Their scores.

    Raises
    ------
    ValueError
        When a score is NaN or ``+inf``, or every score is ``-inf``: the
        model's numbers overflowed (inputs too large for float64) and the
        ranking would be garbage, so no counter-example is picked.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer.selectors._base import top_candidates
    >>> top_candidates(np.array([0.5, 2.0, -np.inf, 2.0]), np.array([7, 8, 9, 10]), 3)
    (array([ 8, 10,  7]), array([2. , 2. , 0.5]))
    """
    scores = np.asarray(scores, dtype=float).reshape(-1)
    candidates = _as_rows(candidates)
    if scores.shape != candidates.shape:
        raise ValueError(
            f"{who} returned {scores.shape[0]} scores for {candidates.shape[0]} "
            "candidates."
        )
    order = np.argsort(-scores, kind="stable")[:n]
    bad = np.isnan(scores) | (scores == np.inf)
    if bad.any() or scores[order[0]] == -np.inf:
        n_bad = int(bad.sum()) if bad.any() else candidates.size
        raise ValueError(
            f"{who} gave {n_bad} of {candidates.size} "
            "candidates a NaN or infinite score, so no counter-example can "
            "be ranked: the model's features, distances or gradients "
            "overflow float64 (inputs of magnitude 1e155 or more square to "
            "infinity) or are NaN. Scale the inputs (for example with a "
            "StandardScaler in a Pipeline)."
        )
    order = order[scores[order] > -np.inf]
    return candidates[order].astype(np.intp), scores[order]


def _as_rows(candidates, n_train=None):
    """Candidate rows as integers: a boolean mask is read as a mask.

    A mask must have one entry per training row (``n_train``, where known);
    ``np.asarray(mask, dtype=int)`` would silently read it as the rows 0
    and 1. Non-integral numbers are refused rather than truncated.
    """
    array = np.asarray(candidates)
    if array.dtype == bool:
        if array.ndim != 1 or n_train is not None and array.shape[0] != n_train:
            raise ValueError(
                f"candidates is a boolean mask of shape {array.shape}, but "
                f"the selector was fitted on {n_train} training rows: pass one "
                "entry per training row, or the rows themselves as integers."
            )
        return np.flatnonzero(array)
    array = array.reshape(-1)
    if array.size and not np.issubdtype(array.dtype, np.integer):
        numeric = np.issubdtype(array.dtype, np.number)
        as_float = array.astype(float) if numeric else np.array([np.nan])
        if not np.all(np.isfinite(as_float) & (as_float == np.round(as_float))):
            raise ValueError(
                "candidates must be training rows (integers) or a boolean mask "
                f"of the training rows; got values of type {array.dtype}."
            )
        array = as_float
    return array.astype(np.intp)


def as_row(x):
    """One example as a ``(1, n_features)`` array."""
    x = np.asarray(x)
    return x.reshape(1, -1) if x.ndim <= 1 else x
