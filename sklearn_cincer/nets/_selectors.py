"""Top Fisher computed by torch, on the CPU or a GPU."""

from numbers import Real

import torch
from sklearn.utils._param_validation import Interval

from .._core import fisher_math as _fisher
from .._core.last_layer import last_layer_view
from .._core.view_registry import is_skorch
from ..selectors._base import BaseSelector, as_row
from ._views import skorch_view

#: Bytes of the ``(rows x k(d+1))`` scratch matrix per batch when forming F.
FISHER_BATCH_BYTES = 64 * 2**20


def torch_fisher_matrix(H, P, link, fit_intercept=True):
    """:func:`sklearn_cincer._core.fisher_math.fisher_matrix` in torch, on ``H``'s device.

    Parameters
    ----------
    H : tensor of shape (n, d)
    P : tensor of shape (n, k)
    link : {"softmax", "logistic", "ovr"}
    fit_intercept : bool, default=True

    Returns
    -------
    F : float64 tensor of shape (k * m, k * m), ``m = d + fit_intercept``

    Examples
    --------
    >>> import torch
    >>> from sklearn_cincer.nets import torch_fisher_matrix
    >>> H = torch.ones(4, 2, dtype=torch.float64)
    >>> P = torch.full((4, 2), 0.5, dtype=torch.float64)
    >>> torch_fisher_matrix(H, P, "softmax").shape
    torch.Size([6, 6])
    """
    n, d = H.shape
    k = P.shape[1]
    m = d + bool(fit_intercept)
    F = torch.zeros((k * m, k * m), dtype=torch.float64, device=H.device)
    if n == 0:
        return F
    rows = max(1, FISHER_BATCH_BYTES // (8 * k * m))
    for start in range(0, n, rows):
        Hb = H[start : start + rows].double()
        if fit_intercept:
            Hb = torch.cat([Hb, torch.ones_like(Hb[:, :1])], dim=1)
        Pb = P[start : start + rows].double()
        W = Pb if link == "softmax" else Pb * (1.0 - Pb)
        for a in range(k):
            block = slice(a * m, (a + 1) * m)
            F[block, block] += (Hb * W[:, a : a + 1]).T @ Hb
        if link == "softmax":
            Q = (Pb[:, :, None] * Hb[:, None, :]).reshape(Hb.shape[0], k * m)
            F.addmm_(Q.T, Q, alpha=-1.0)
    return F / n


class TorchTopFisherSelector(BaseSelector):
    """:class:`~sklearn_cincer.TopFisherSelector` computed by torch on a device.

    The same score, ``-g(z_t)^T (F + lambda I)^-1 g(z_k)`` over the last
    layer, with the same damping (relative to ``trace(F) / dim``) and a
    Cholesky solve, but the features, the Fisher matrix, its factor and the
    scores of every candidate are torch tensors on ``device`` (float64), so
    a GPU scores a million candidates in one product. For a skorch net the
    features are hooked on its own device and never leave it.

    Parameters
    ----------
    damping : float, default=1e-3
        As in :class:`~sklearn_cincer.TopFisherSelector`.
    device : str or None, default=None
        "cpu", "cuda", "cuda:1"...; ``None`` for the skorch net's own device
        (the CPU for other models).

    Attributes
    ----------
    view_ : LastLayerView
        The last layer of the model.
    device_ : torch.device
        Where the computations ran.
    n_train_ : int
        Number of training rows the selector was fitted on.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_cincer.nets import TorchTopFisherSelector
    >>> X = np.random.RandomState(0).rand(30, 2)
    >>> y = (X[:, 0] > 0.5).astype(int)
    >>> model = LogisticRegression().fit(X, y)
    >>> selector = TorchTopFisherSelector(device="cpu").fit(model, X, y)
    >>> selector.score(X[0], 1).shape
    (30,)
    """

    _parameter_constraints = {
        "damping": [Interval(Real, 0, None, closed="neither")],
        "device": [str, None, torch.device],
    }

    def __init__(self, damping=1e-3, device=None):
        self.damping = damping
        self.device = device

    def _features(self, X):
        """``(H, P)`` on the device, float64."""
        view = self.view_
        if self._hook is not None:
            H = self._hook.tensors(X)[0].to(self.device_, torch.float64)
        else:
            H = torch.as_tensor(
                view.features(X), dtype=torch.float64, device=self.device_
            )
        Z = H @ self._W.T
        if self._b is not None:
            Z = Z + self._b
        P = torch.softmax(Z, dim=1) if view.link == "softmax" else torch.sigmoid(Z)
        return H, P

    def _residuals(self, P, y):
        view = self.view_
        index = torch.as_tensor(view.encode(y), device=self.device_)
        if view.link == "logistic":
            T = (index == 1).double()[:, None]
        else:
            T = torch.zeros_like(P)
            known = index >= 0
            T[known.nonzero()[:, 0], index[known]] = 1.0
        return T - P

    def _fit(self, estimator, X, y):
        self._validate_params()
        needs = type(self).__name__
        inner = estimator
        while hasattr(inner, "steps"):  # a Pipeline: the hook needs the net
            inner = inner.steps[-1][1]
        self._hook = None
        if is_skorch(inner) and inner is estimator:
            # Features hooked on the net's device, never through numpy.
            self.view_ = skorch_view(estimator, needs=needs)
            self._hook = self.view_.transform
            default = estimator.device
        else:
            self.view_ = last_layer_view(estimator, needs=needs)
            default = "cpu"
        self.device_ = torch.device(default if self.device is None else self.device)
        view = self.view_
        self._W = torch.as_tensor(view.coef, dtype=torch.float64, device=self.device_)
        self._b = (
            None
            if view.intercept is None
            else torch.as_tensor(
                view.intercept, dtype=torch.float64, device=self.device_
            )
        )
        H, P = self._features(X)
        F = torch_fisher_matrix(H, P, view.link, view.fit_intercept)
        if not bool(torch.isfinite(F).all()):
            raise _fisher.scale_error(
                H.detach().cpu().numpy(),
                name="The last layer's inputs (the network's features of X)",
            )
        dim = F.shape[0]
        scale = float(torch.trace(F)) / dim if dim else 0.0
        if not scale > 0:
            scale = 1.0
        F.diagonal().add_(self.damping * scale)
        factor, info = torch.linalg.cholesky_ex(F)
        if int(info) != 0:
            raise _fisher.not_positive_definite_error(self.damping)
        self.factor_ = factor
        self._H = H
        self._R = self._residuals(P, y)

    def query_direction(self, x, y):
        """``V = (F + lambda I)^-1 g(z_t)``, a ``(k, m)`` tensor on the device."""
        h, p = self._features(as_row(x))
        r = self._residuals(p, [y])
        if self.view_.fit_intercept:
            h = torch.cat([h, torch.ones_like(h[:, :1])], dim=1)
        g = (r[0][:, None] * h[0][None, :]).reshape(-1, 1)
        V = torch.cholesky_solve(g, self.factor_)
        return V.reshape(r.shape[1], -1)

    def score(self, x, y, candidates=None):
        candidates = self._candidates(candidates)
        V = self.query_direction(x, y)
        if candidates.shape[0] == self.n_train_:
            H, R = self._H, self._R
        else:
            index = torch.as_tensor(candidates, device=self.device_)
            H, R = self._H[index], self._R[index]
        d = H.shape[1]
        HV = H @ V[:, :d].T
        if self.view_.fit_intercept:
            HV = HV + V[:, d]
        return (-(R * HV).sum(dim=1)).cpu().numpy()
