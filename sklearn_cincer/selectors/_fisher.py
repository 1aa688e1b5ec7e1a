"""Selectors that score candidates with a Fisher kernel (Eq. 14 of the paper)."""

from numbers import Integral, Real

import joblib
import numpy as np
from sklearn.utils._param_validation import Interval

from .. import _fisher
from .._models import last_layer_view
from .._parameters import parameter_view
from ._base import BaseSelector, _as_row


# Above this many entries, features are kept in float32 for scoring.
_FLOAT32_ENTRIES = 2**22


def _scoring_features(H):
    if H.size >= _FLOAT32_ENTRIES and H.dtype != np.float32:
        return H.astype(np.float32)
    return H


def _all_rows(candidates, n):
    """Whether ``candidates`` is every row in order (so no subset is needed)."""
    return candidates.shape[0] == n and np.array_equal(candidates, np.arange(n))


# Rows whose features enter a model's fingerprint.
_FINGERPRINT_ROWS = 64


def _fingerprint(view, H):
    """A hash of a model as the selector sees it: its last layer and features.

    ``H`` holds the features of the first training rows. The last layer's
    weights and those features change when any parameter does (hidden
    layers, a Pipeline's transformers), so equal hashes mean an unchanged
    model. Hashing arrays only is fast and works for models that cannot be
    pickled; hashing the whole estimator cost a fifth of a round on small
    networks.
    """
    return joblib.hash(
        (view.link, view.coef, view.intercept, np.asarray(H[:_FINGERPRINT_ROWS]))
    )


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

    ``F`` is built with matrix products over batches (never an ``n x
    n_params`` matrix) and factorized by Cholesky, with no pseudo-inverse or
    eigendecomposition. Between rounds, :meth:`update` reuses what is still
    valid.

    Parameters
    ----------
    damping : float, default=1e-3
        ``lambda``, as a fraction of the mean eigenvalue of ``F``
        (``trace(F) / dim``), so that one value fits every feature scale.
        ``F`` is singular (softmax ignores a shift of all logits; features may
        be collinear) and the damping makes it positive definite for its
        Cholesky factor. In the softmax null direction it changes nothing, as
        every gradient is orthogonal to it. Why ``1e-3``: small enough that
        the ranking follows the undamped kernel (the pseudo-inverse) on the
        directions the training set determines, large enough for a stable
        Cholesky factor in float64 whatever the conditioning. On logistic
        regression, where ``F`` is the Hessian of the log loss and the
        damping plays the role of the L2 penalty, the ranking agrees with
        leave-one-out retraining (Spearman correlation 0.998 to 0.999 on the
        ground-truth problems of the tests) for any damping from 1e-6 to 1e-1;
        it degrades from about 1 (0.956), where the damping swamps the
        curvature. Raise it when features are strongly collinear.

    Notes
    -----
    The features of a large training set (``n * d >= 2**22``) are kept in
    float32 for scoring, which halves the memory and time of
    :func:`~sklearn_cincer._fisher.kernel_scores`; ``F`` is always built
    and solved in float64.

    Attributes
    ----------
    view_ : LastLayerView
        How the features, outputs and gradients are read from the model.
    factor_ : tuple or DualFactor
        Cholesky factor of the damped Fisher, as from
        :func:`scipy.linalg.cho_factor`; for a last layer wider than its
        rank (``n k < k (d + 1)``, e.g. logistic regression on images) the
        exact dual form :class:`sklearn_cincer._fisher.DualFactor` instead,
        which never forms ``F``.
    n_train_ : int
        Number of training rows the selector was fitted on.

    See Also
    --------
    FullFisherSelector : The Fisher kernel over all parameters.
    InfluenceSelector : The Hessian of the training objective instead of ``F``.
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
    >>> model.predict(X[120:121])  # the suspicious example, annotated as 1
    array([2])
    >>> candidates = (y == 2).nonzero()[0]  # examples labeled as the prediction
    >>> index, score = selector.select(X[120], 1, candidates)
    >>> int(y[index]), score > 0
    (2, True)
    """

    _parameter_constraints = {"damping": [Interval(Real, 0, None, closed="neither")]}

    def __init__(self, damping=1e-3):
        self.damping = damping

    def _fit(self, estimator, X, y):
        self._validate_params()
        view = last_layer_view(estimator, needs=type(self).__name__)
        H = view.features(X)
        P = view.outputs(H)
        self.view_ = view
        m = H.shape[1] + view.fit_intercept
        if _fisher.use_dual(H.shape[0], P.shape[1], m):
            # A wide last layer (e.g. logistic regression on pixels): solve
            # exactly through the (n k)-sized Gram matrix, never forming F.
            self._fisher_sum = None
            self.factor_ = _fisher.DualFactor(
                H, P, view.link, view.fit_intercept, self.damping
            )
        else:
            # Unnormalized sum n F, kept so that adding rows is a low-rank update.
            self._fisher_sum = _fisher.fisher_matrix(
                H, P, view.link, view.fit_intercept
            )
            self._fisher_sum *= H.shape[0]
            self.factor_ = self._factorize(H.shape[0])
        self._X = np.asarray(X)
        self._fingerprint = _fingerprint(view, H)
        self._H = _scoring_features(H)
        self._P = P
        self._R = _fisher.residuals(P, view.encode(y), view.link)

    def _same_model(self, estimator, X):
        view = last_layer_view(estimator, needs=type(self).__name__)
        H = view.features(X[:_FINGERPRINT_ROWS])
        return _fingerprint(view, H) == self._fingerprint

    def _factorize(self, n):
        return _fisher.factorize(self._fisher_sum / max(n, 1), self.damping)

    def update(self, estimator, X, y):
        """Refit on a new training set, reusing what is still valid.

        Equivalent to :meth:`fit` (the same factor and scores, up to
        rounding), but when the model is unchanged (the same fitted
        parameters) and ``X`` starts with the rows this selector was fitted
        on, it only

        - recomputes the residuals of relabeled rows (the true Fisher does
          not depend on the labels), and
        - adds the new rows' terms to ``F`` (a low-rank update: rank at most
          ``k`` per new row) before a new Cholesky factor, which costs
          ``O(b k^2 m^2 + (k m)^3)`` for ``b`` new rows instead of
          ``O(n k^2 m^2)`` for rebuilding ``F`` from all ``n`` rows.

        Otherwise (an unfitted selector, a refitted model, removed or changed
        rows) it calls :meth:`fit`.

        Parameters
        ----------
        estimator : fitted classifier
        X : array-like of shape (n_samples, n_features)
            The whole current training set.
        y : array-like of shape (n_samples,)
            Its current labels.

        Returns
        -------
        self : object
        """
        X = np.asarray(X)
        y = np.asarray(y)
        n_old = getattr(self, "n_train_", None)
        reusable = (
            n_old is not None
            and self._fisher_sum is not None
            and X.shape[0] == y.shape[0]
            and X.shape[0] >= n_old
            and X.ndim == self._X.ndim
            and X.shape[1:] == self._X.shape[1:]
            and np.array_equal(X[:n_old], self._X)
            and self._same_model(estimator, X)
        )
        if not reusable:
            return self.fit(estimator, X, y)
        view = self.view_
        if X.shape[0] > n_old:
            H_new = view.features(X[n_old:])
            P_new = view.outputs(H_new)
            self._fisher_sum += H_new.shape[0] * _fisher.fisher_matrix(
                H_new, P_new, view.link, view.fit_intercept
            )
            self._H = _scoring_features(np.concatenate([self._H, H_new]))
            self._P = np.concatenate([self._P, P_new])
            self._X = X.copy()
            self.factor_ = self._factorize(X.shape[0])
        self._R = _fisher.residuals(self._P, view.encode(y), view.link)
        self.n_train_ = X.shape[0]
        return self

    def query_direction(self, x, y):
        """``V = (F + lambda I)^-1 g(z_t)``, shaped as the last layer's ``(k, m)``."""
        view = self.view_
        h = view.features(_as_row(x))
        g = _fisher.gradients(
            h, view.outputs(h), view.encode([y]), view.link, view.fit_intercept
        )
        g = g.reshape(view.n_outputs, -1)
        if isinstance(self.factor_, _fisher.DualFactor):
            return self.factor_.solve(g)
        return _fisher.solve(self.factor_, g)

    def score(self, x, y, candidates=None):
        candidates = self._candidates(candidates)
        V = self.query_direction(x, y)
        rows = None if _all_rows(candidates, self.n_train_) else candidates
        return _fisher.kernel_scores(
            V, self._H, self._R, self.view_.fit_intercept, rows=rows
        )


class _AllParameterSelector(BaseSelector):
    """Shared by the selectors that use the gradients of all parameters."""

    def _fit_view(self, estimator, X, y):
        self.view_ = parameter_view(estimator, needs=type(self).__name__)
        self._X = np.asarray(X)
        self._y = np.asarray(y)

    def _query_gradient(self, x, y):
        (g,) = self.view_.gradients(_as_row(x), np.asarray([y]), batch_size=1)
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
        return self._kernel(self._query_gradient(x, y), candidates)
