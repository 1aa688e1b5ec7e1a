"""The selectors by the Fisher over every parameter of the model.

FullFisherSelector, PracticalFisherSelector; the
last-layer one is in :mod:`sklearn_cincer.selectors._top_fisher`.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval

from .._core import fisher_math as _fisher
from .._core.parameter_views import parameter_view
from ._base import BaseSelector, as_row
from ._top_fisher import _all_rows


class _AllParameterSelector(BaseSelector):
    """Shared by the selectors that use the gradients of all parameters."""

    def _fit_view(self, estimator, X, y):
        self.view_ = parameter_view(estimator, needs=type(self).__name__)
        self._X = np.asarray(X)
        self._y = np.asarray(y)

    def _query_gradient(self, x, y):
        (g,) = self.view_.gradients(as_row(x), np.asarray([y]), batch_size=1)
        return g[0]

    def _kernel(self, v, candidates):
        """``-G_k v`` for the candidates' gradients ``G_k``, batched."""
        if _all_rows(candidates, self.n_train_):
            X, y = self._X, self._y
        else:
            X, y = self._X[candidates], self._y[candidates]
        return -self.view_.gradient_dot(X, y, v, batch_size=self.batch_size)


class FullFisherSelector(_AllParameterSelector):
    """Counter-examples by the Fisher kernel over all parameters (Eq. 13-14).

    ``score_k = -g(z_t)^T (F + lambda I)^-1 g(z_k)`` with ``g`` the gradient
    of ``log P(y | x)`` with respect to every parameter of the model and
    ``F`` the exact (true) Fisher information over the current training set,
    ``1/n sum_i sum_y P(y|x_i) g(x_i, y) g(x_i, y)^T``. For logistic
    regression and ``SGDClassifier`` this equals :class:`TopFisherSelector`
    (the last layer is the whole model); for ``MLPClassifier`` the gradients
    of all layers are computed per example by backpropagation, in batches.

    ``F`` has ``n_params^2`` entries, so this is for small models only: it
    refuses models with more than ``max_params`` parameters.

    Parameters
    ----------
    damping : float, default=1e-3
        ``lambda`` relative to the mean eigenvalue of ``F``, as in
        :class:`TopFisherSelector` (same default, same reason). With all
        parameters ``F`` is more singular still (rank at most ``n (c - 1)``),
        so the damping decides the directions the training set does not
        determine.
    max_params : int, default=4096
        The largest model accepted (``F`` takes ``8 max_params^2`` bytes,
        128 MiB at the default).
    batch_size : int, default=256
        Rows per batch of per-example gradients.

    Attributes
    ----------
    view_ : ParameterView
        How gradients are computed from the model.
    factor_ : tuple
        Cholesky factor of the damped Fisher.
    n_train_ : int
        Number of training rows the selector was fitted on.

    See Also
    --------
    TopFisherSelector : The same kernel over the last layer only.
    PracticalFisherSelector : The identity in place of ``F``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.neural_network import MLPClassifier
    >>> from sklearn_cincer import FullFisherSelector
    >>> X, y = load_iris(return_X_y=True)
    >>> model = MLPClassifier((8,), max_iter=2000, random_state=0).fit(X, y)
    >>> selector = FullFisherSelector().fit(model, X, y)
    >>> selector.score(X[120], 1, [0, 60, 130]).shape
    (3,)
    """

    _parameter_constraints = {
        "damping": [Interval(Real, 0, None, closed="neither")],
        "max_params": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, damping=1e-3, max_params=4096, batch_size=256):
        self.damping = damping
        self.max_params = max_params
        self.batch_size = batch_size

    def _fit(self, estimator, X, y):
        self._validate_params()
        self._fit_view(estimator, X, y)
        n_params = self.view_.n_params
        if n_params > self.max_params:
            raise ValueError(
                f"FullFisherSelector needs the {n_params} x {n_params} Fisher "
                f"matrix of all parameters ({8 * n_params**2 / 2**20:.0f} MiB), "
                f"more than max_params={self.max_params} allows. Use "
                "TopFisherSelector (last layer only) or raise max_params."
            )
        F = self.view_.fisher(self._X, batch_size=self.batch_size)
        if not np.all(np.isfinite(F)):
            raise _fisher.scale_error(self._X)
        self.factor_ = _fisher.factorize(F, self.damping)

    def score(self, x, y, candidates=None):
        candidates = self._candidates(candidates)
        v = _fisher.solve(self.factor_, self._query_gradient(x, y))
        return self._kernel(v, candidates)


class PracticalFisherSelector(_AllParameterSelector):
    """Counter-examples by the gradient inner product (the paper's "Practical Fisher").

    Eq. 14 with the identity in place of the Fisher information, over the
    gradients of all parameters (as the paper does)::

        score_k = -g(z_t)^T g(z_k)

    with ``g`` the gradient of ``log P(y | x)``. The sign is Eq. 14's: a
    candidate whose gradient opposes the suspicious example's (for a linear
    model, a nearby example labeled as the prediction) scores high. The
    authors' code ranks by the opposite sign (see the notes in the
    documentation); that picks the least conflicting candidate.

    Parameters
    ----------
    batch_size : int, default=256
        Rows per batch of per-example gradients.

    Attributes
    ----------
    view_ : ParameterView
        How gradients are computed from the model.
    n_train_ : int
        Number of training rows the selector was fitted on.

    See Also
    --------
    FullFisherSelector : With the exact Fisher information.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_cincer import PracticalFisherSelector
    >>> X, y = load_iris(return_X_y=True)
    >>> model = LogisticRegression(max_iter=1000).fit(X, y)
    >>> selector = PracticalFisherSelector().fit(model, X, y)
    >>> index, score = selector.select(X[120], 1, (y == 2).nonzero()[0])
    >>> int(y[index]), score > 0
    (2, True)
    """

    _parameter_constraints = {
        "batch_size": [Interval(Integral, 1, None, closed="left")]
    }

    def __init__(self, batch_size=256):
        self.batch_size = batch_size

    def _fit(self, estimator, X, y):
        self._validate_params()
        self._fit_view(estimator, X, y)

    def score(self, x, y, candidates=None):
        candidates = self._candidates(candidates)
        scores = self._kernel(self._query_gradient(x, y), candidates)
        if not np.all(np.isfinite(scores)):
            raise _fisher.scale_error(
                np.vstack([as_row(x), self._X[candidates]]),
                "The gradients' inner product",
            )
        return scores
