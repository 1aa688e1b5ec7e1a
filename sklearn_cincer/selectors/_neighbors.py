"""Selectors that need only the inputs: the paper's 1-NN and random baselines."""

import numpy as np
from sklearn.metrics import pairwise_distances
from sklearn.utils import check_random_state

from .._core import fisher_math as _fisher
from ._base import BaseSelector, as_row


class NearestNeighborSelector(BaseSelector):
    """The candidate closest to the suspicious example (the paper's 1-NN).

    The score of a candidate is minus its distance to the suspicious example
    in input space, so the nearest one wins. It ignores the model: the
    baseline the paper uses to show that influence matters.

    Parameters
    ----------
    metric : str, default="euclidean"
        Any metric :func:`sklearn.metrics.pairwise_distances` accepts.

    Attributes
    ----------
    n_train_ : int
        Number of training rows the selector was fitted on.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_cincer import NearestNeighborSelector
    >>> X = np.array([[0.0], [1.0], [5.0]])
    >>> y = np.array([0, 0, 1])
    >>> model = LogisticRegression().fit(X, y)
    >>> NearestNeighborSelector().fit(model, X, y).select([4.0], 0)
    (2, -1.0)
    """

    _parameter_constraints = {"metric": [str, callable]}

    def __init__(self, metric="euclidean"):
        self.metric = metric

    def _fit(self, estimator, X, y):
        self._validate_params()
        self._X = np.asarray(X, dtype=float)

    def score(self, x, y, candidates=None):
        candidates = self._candidates(candidates)
        x = as_row(np.asarray(x, dtype=float))
        distances = pairwise_distances(x, self._X[candidates], metric=self.metric)
        if not np.all(np.isfinite(distances)):
            raise _fisher.scale_error(
                np.vstack([x, self._X[candidates]]), "The distance between examples"
            )
        return -distances[0]


class RandomSelector(BaseSelector):
    """A candidate drawn uniformly at random: the floor any selector must beat.

    Parameters
    ----------
    random_state : int, RandomState instance or None, default=None
        Seeds the draws. A :class:`~sklearn_cincer.SkepticalCleaner` seeds a
        selector whose ``random_state`` is None from its own, so that the
        same cleaner seed gives the same queries.

    Attributes
    ----------
    n_train_ : int
        Number of training rows the selector was fitted on.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_cincer import RandomSelector
    >>> X, y = np.arange(8.0).reshape(-1, 1), np.array([0] * 4 + [1] * 4)
    >>> model = LogisticRegression().fit(X, y)
    >>> scores = RandomSelector(random_state=0).fit(model, X, y).score([1.0], 0)
    >>> scores.shape
    (8,)
    """

    _parameter_constraints = {"random_state": ["random_state"]}

    def __init__(self, random_state=None):
        self.random_state = random_state

    def _fit(self, estimator, X, y):
        self._validate_params()
        self._rng = check_random_state(self.random_state)

    def score(self, x, y, candidates=None):
        candidates = self._candidates(candidates)
        return self._rng.uniform(size=candidates.shape[0])
