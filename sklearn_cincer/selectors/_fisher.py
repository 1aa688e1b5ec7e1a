"""Selectors that score candidates with a Fisher kernel (Eq. 14 of the paper)."""

from numbers import Real

import numpy as np
from sklearn.utils._param_validation import Interval

from .. import _fisher
from .._models import last_layer_view
from ._base import BaseSelector, _as_row


class TopFisherSelector(BaseSelector):
    """Counter-examples by the top-layer Fisher kernel (the paper's "Top Fisher").

    Scores each candidate training example ``z_k`` with Eq. 14 of the paper
    restricted to the last layer's parameters::

        score_k = -g(z_t)^T (F + lambda I)^-1 g(z_k)

    where ``g(z) = (t(y) - p(x)) [h(x); 1]^T`` is the gradient of
    ``log P(y | x)`` with respect to the last layer and ``F`` the exact Fisher
    information of the last layer over the whole current training set. A high
    score means that removing ``z_k`` and refitting would raise the
    probability of the suspicious label ``y_t`` the most: ``z_k`` is the
    training example that most supports the model's doubt.

    For a linear model (``LogisticRegression``, ``SGDClassifier`` with
    ``loss="log_loss"``) the last layer is the whole model and ``h(x) = x``;
    for ``MLPClassifier`` ``h(x)`` is the last hidden layer; skorch networks
    are read with a forward hook. A binary scikit-learn model keeps its own
    one-logit parameterization.

    Parameters
    ----------
    damping : float, default=1e-3
        ``lambda``, as a fraction of the mean eigenvalue of ``F``
        (``trace(F) / dim``), so that one value fits every feature scale.
        ``F`` is singular (softmax ignores a shift of all logits; features may
        be collinear) and the damping makes it positive definite for its
        Cholesky factor. The default is small enough that the ranking matches
        the pseudo-inverse's on well-determined directions and large enough
        that the factorization is stable in float64; raise it when features
        are strongly collinear.

    Attributes
    ----------
    view_ : LastLayerView
        How the features, outputs and gradients are read from the model.
    factor_ : tuple
        Cholesky factor of the damped Fisher, as from
        :func:`scipy.linalg.cho_factor`.
    n_train_ : int
        Number of training rows the selector was fitted on.

    See Also
    --------
    NearestNeighborSelector : The 1-NN baseline of the paper.
    RandomSelector : A random candidate.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_cincer import TopFisherSelector
    >>> X, y = load_iris(return_X_y=True)
    >>> model = LogisticRegression(max_iter=1000).fit(X, y)
    >>> selector = TopFisherSelector().fit(model, X, y)
    >>> candidates = (y == 1).nonzero()[0]  # examples labeled as the prediction
    >>> index, score = selector.select(X[120], 1, candidates)
    >>> int(y[index])
    1
    """

    _parameter_constraints = {"damping": [Interval(Real, 0, None, closed="neither")]}

    def __init__(self, damping=1e-3):
        self.damping = damping

    def _fit(self, estimator, X, y):
        self._validate_params()
        view = last_layer_view(estimator, needs=type(self).__name__)
        H = view.features(X)
        P = view.outputs(H)
        F = _fisher.fisher_matrix(H, P, view.link, view.fit_intercept)
        self.view_ = view
        self.factor_ = _fisher.factorize(F, self.damping)
        self._H = H
        self._R = _fisher.residuals(P, view.encode(y), view.link)

    def query_direction(self, x, y):
        """``V = (F + lambda I)^-1 g(z_t)``, shaped as the last layer's ``(k, m)``."""
        view = self.view_
        h = view.features(_as_row(x))
        g = _fisher.gradients(
            h, view.outputs(h), view.encode([y]), view.link, view.fit_intercept
        )
        return _fisher.solve(self.factor_, g.reshape(view.n_outputs, -1))

    def score(self, x, y, candidates=None):
        candidates = self._candidates(candidates)
        V = self.query_direction(x, y)
        return _fisher.kernel_scores(
            V, self._H[candidates], self._R[candidates], self.view_.fit_intercept
        )
