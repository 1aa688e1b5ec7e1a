"""Perceptually close counter-examples (Section 3.4 of the paper)."""

from numbers import Integral, Real

import numpy as np
from sklearn.base import clone
from sklearn.metrics import pairwise_distances
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from .._core.last_layer import last_layer_view
from ._base import BaseSelector, as_row
from ._top_fisher import TopFisherSelector


class PerceptualSelector(BaseSelector):
    """Restrict the candidates to those close to the suspicious example, then rank.

    Section 3.4 of the paper: influential counter-examples may look nothing
    like the suspicious example, which makes them hard to understand. This
    selector first keeps the candidates that are perceptually close to the
    suspicious example, the ``n_neighbors`` nearest or those within
    ``radius`` (or the ``n_neighbors`` nearest among those within
    ``radius`` when both are given), and scores only those with another
    selector (by default :class:`TopFisherSelector`). The others score
    ``-inf``. When no candidate lies within ``radius``, the nearest one is
    kept, so that a counter-example always exists.

    Distances are measured in input space, or in the model's feature space
    ``h(x)`` (the input of its last layer) with ``space="features"``.

    Parameters
    ----------
    selector : selector object, default=None
        Ranks the kept candidates; ``None`` for ``TopFisherSelector()``. It
        is cloned and fitted on the same training set.
    n_neighbors : int or None, default=10
        How many of the nearest candidates to keep; ``None`` for no limit.
    radius : float or None, default=None
        Keep only candidates within this distance; ``None`` for no limit.
    metric : str or callable, default="euclidean"
        Any metric :func:`sklearn.metrics.pairwise_distances` accepts.
    space : {"input", "features"}, default="input"
        Where distances are measured.

    Attributes
    ----------
    selector_ : selector object
        The fitted inner selector.
    n_train_ : int
        Number of training rows the selector was fitted on.

    See Also
    --------
    NearestNeighborSelector : The nearest candidate, whatever its influence.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_cincer import PerceptualSelector
    >>> X, y = load_iris(return_X_y=True)
    >>> model = LogisticRegression(max_iter=1000).fit(X, y)
    >>> selector = PerceptualSelector(n_neighbors=5).fit(model, X, y)
    >>> scores = selector.score(X[120], 1, (y == 2).nonzero()[0])
    >>> int((scores > -float("inf")).sum())
    5
    """

    _parameter_constraints = {
        "selector": [HasMethods(["fit", "score"]), None],
        "n_neighbors": [Interval(Integral, 1, None, closed="left"), None],
        "radius": [Interval(Real, 0, None, closed="neither"), None],
        "metric": [str, callable],
        "space": [StrOptions({"input", "features"})],
    }

    def __init__(
        self,
        selector=None,
        n_neighbors=10,
        radius=None,
        metric="euclidean",
        space="input",
    ):
        self.selector = selector
        self.n_neighbors = n_neighbors
        self.radius = radius
        self.metric = metric
        self.space = space

    def _fit(self, estimator, X, y):
        self._validate_params()
        if self.n_neighbors is None and self.radius is None:
            raise ValueError(
                "PerceptualSelector needs n_neighbors or radius (or both) to "
                "restrict the candidates."
            )
        inner = TopFisherSelector() if self.selector is None else self.selector
        self.selector_ = clone(inner).fit(estimator, X, y)
        self._transform = None
        if self.space == "features":
            self._transform = last_layer_view(
                estimator, needs="PerceptualSelector(space='features')"
            ).features
        self._Z = self._embed(X)

    def _embed(self, X):
        X = np.asarray(X, dtype=float)
        return X if self._transform is None else self._transform(X)

    def _kept(self, x, candidates):
        """Positions in ``candidates`` of the kept ones, nearest first."""
        z = self._embed(as_row(x))
        distances = pairwise_distances(z, self._Z[candidates], metric=self.metric)[0]
        order = np.argsort(distances, kind="stable")
        if self.radius is not None:
            within = int(np.searchsorted(distances[order], self.radius, side="right"))
            order = order[: max(within, 1)]
        if self.n_neighbors is not None:
            order = order[: self.n_neighbors]
        return order

    def neighbors(self, x, candidates=None):
        """The kept candidates (rows of the training set), nearest first."""
        candidates = self._candidates(candidates)
        if candidates.size == 0:
            return candidates
        return candidates[self._kept(x, candidates)]

    def score(self, x, y, candidates=None):
        candidates = self._candidates(candidates)
        scores = np.full(candidates.shape[0], -np.inf)
        if candidates.size == 0:
            return scores
        kept = self._kept(x, candidates)
        scores[kept] = self.selector_.score(x, y, candidates[kept])
        return scores
