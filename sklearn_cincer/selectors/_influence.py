"""Counter-examples by influence functions: the Hessian of the training objective."""

from numbers import Integral, Real

import numpy as np
from scipy import linalg
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from .._core import fisher_math as _fisher
from ._base import as_row
from ._full_fisher import _AllParameterSelector
from ._top_fisher import _all_rows


def lissa(hvp, v, *, damping=0.0, scale=1.0, depth=1000, repeats=1):
    """Inverse-Hessian-vector product ``(H + damping I)^-1 v`` by LiSSA.

    The stochastic Neumann series of Agarwal, Bullins and Hazan (2017), as
    used for influence functions by Koh and Liang (2017)::

        h_0 = v,    h_j = v + h_{j-1} - (H_j + damping I) h_{j-1} / scale

    whose fixed point is ``h = scale (H + damping I)^-1 v``; ``h_depth / scale``
    is returned, averaged over ``repeats`` independent runs. It converges when
    every eigenvalue of ``(H + damping I) / scale`` lies in ``(0, 2)``, that is
    ``scale`` above half the largest eigenvalue and ``damping`` above minus
    the smallest one (a non-convex objective needs ``damping > 0``); the
    error shrinks as ``(1 - lambda_min / scale)^depth``.

    Parameters
    ----------
    hvp : callable
        ``hvp(u, j)`` returns ``H_j u``, the Hessian (or a mini-batch
        estimate of it) at step ``j``.
    v : ndarray of shape (n_params,)
    damping, scale : float
    depth, repeats : int

    Returns
    -------
    ndarray of shape (n_params,)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer.selectors._influence import lissa
    >>> A = np.array([[2.0, 0.5], [0.5, 1.0]])
    >>> h = lissa(lambda u, j: A @ u, np.array([1.0, 1.0]), scale=3.0, depth=200)
    >>> np.allclose(h, np.linalg.solve(A, [1.0, 1.0]))
    True
    """
    v = np.asarray(v, dtype=float)
    total = np.zeros_like(v)
    for _ in range(repeats):
        h = v.copy()
        for j in range(depth):
            h = v + h - (hvp(h, j) + damping * h) / scale
        total += h / scale
    return total / repeats


class InfluenceSelector(_AllParameterSelector):
    """Counter-examples by influence functions (the paper's "IF").

    Scores each candidate with the first-order change in ``log P(y_t | x_t)``
    when the candidate is removed from the training set and the model is
    refit (Koh and Liang, 2017)::

        score_k = -1/n g(z_t)^T (H + lambda I)^-1 g(z_k)

    where ``g`` is the gradient of ``log P(y | x)`` with respect to all
    parameters and ``H`` the Hessian of the estimator's own training
    objective (a mean over the ``n`` training rows plus its regularization,
    see :class:`~sklearn_cincer._core.parameter_views.LinearParameterView`). So the
    score has Eq. 14's sign, with the Hessian in place of the Fisher
    information, and the scale of a change in log-probability.

    - ``method="exact"``: ``H`` in closed form (``LogisticRegression``,
      ``SGDClassifier`` with log loss: the penalty, its strength ``C`` or
      ``alpha``, and whether the intercept is penalized are read from the
      estimator), factorized once by Cholesky per model. Directions that the
      model ignores (a shift of all softmax intercepts) are null directions
      of ``H`` to which every gradient is orthogonal; they are handled
      exactly, so the scores are those of the pseudo-inverse.
    - ``method="lissa"``: the inverse-Hessian-vector product by LiSSA (see
      :func:`lissa`), with Hessian-vector products of the objective, for
      models without a closed form (``MLPClassifier``, networks).
    - ``method="auto"``: exact where the model has a closed-form Hessian,
      LiSSA otherwise.

    Parameters
    ----------
    method : {"auto", "exact", "lissa"}, default="auto"
    damping : float or "auto", default="auto"
        ``lambda``, absolute, added to ``H``. ``"auto"`` is 0 for the exact
        method (the regularized Hessian is already positive definite off its
        null directions; set a damping for an unpenalized model on separable
        data) and 0.01 for LiSSA (Koh and Liang's value: the Hessian of a
        network is not positive definite).
    scale : float or "auto", default="auto"
        LiSSA's scale; it must exceed half of the largest eigenvalue of
        ``H + lambda I``. ``"auto"`` is 1.1 times that eigenvalue estimated
        by 30 steps of power iteration on the training set (2 times it with
        mini-batches).
    depth : int, default=1000
        LiSSA's number of recursion steps per repeat.
    repeats : int, default=1
        Independent LiSSA runs averaged.
    batch_size : int or None, default=None
        Rows per Hessian-vector product in LiSSA, drawn at random for each
        step; ``None`` uses the whole training set (deterministic). Also the
        batch of per-example gradients when scoring (256 when ``None``).
    random_state : int, RandomState instance or None, default=None
        Seeds LiSSA's mini-batches and the power iteration.

    Attributes
    ----------
    view_ : ParameterView
        How gradients and curvature are computed from the model.
    method_ : {"exact", "lissa"}
        The method used.
    damping_ : float
        The damping used.
    scale_ : float or None
        LiSSA's scale (``None`` for the exact method).
    factor_ : tuple or None
        Cholesky factor of the damped Hessian (exact method only).
    n_train_ : int
        Number of training rows the selector was fitted on.

    See Also
    --------
    FullFisherSelector : The Fisher information in place of the Hessian.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_cincer import InfluenceSelector
    >>> X, y = load_iris(return_X_y=True)
    >>> model = LogisticRegression(max_iter=1000).fit(X, y)
    >>> selector = InfluenceSelector().fit(model, X, y)
    >>> selector.method_
    'exact'
    >>> index, score = selector.select(X[120], 1, (y == 2).nonzero()[0])
    >>> int(y[index]), score > 0
    (2, True)
    """

    _parameter_constraints = {
        "method": [StrOptions({"auto", "exact", "lissa"})],
        "damping": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "scale": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "depth": [Interval(Integral, 1, None, closed="left")],
        "repeats": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        method="auto",
        damping="auto",
        scale="auto",
        depth=1000,
        repeats=1,
        batch_size=None,
        random_state=None,
    ):
        self.method = method
        self.damping = damping
        self.scale = scale
        self.depth = depth
        self.repeats = repeats
        self.batch_size = batch_size
        self.random_state = random_state

    def _kernel(self, v, candidates):
        if _all_rows(candidates, self.n_train_):
            X, y = self._X, self._y
        else:
            X, y = self._X[candidates], self._y[candidates]
        return -self.view_.gradient_dot(X, y, v, batch_size=self.batch_size or 256)

    def _fit(self, estimator, X, y):
        self._validate_params()
        self._fit_view(estimator, X, y)
        view = self.view_
        method = self.method
        if method == "auto":
            method = "exact" if view.has_exact_hessian else "lissa"
        if method == "exact" and not view.has_exact_hessian:
            raise ValueError(
                f"InfluenceSelector(method='exact') needs the Hessian in closed "
                f"form, which {type(estimator).__name__} does not have; use "
                "method='lissa'."
            )
        self.method_ = method
        self._rng = check_random_state(self.random_state)
        self.factor_ = None
        self.scale_ = None
        if method == "exact":
            self.damping_ = 0.0 if self.damping == "auto" else float(self.damping)
            self.factor_ = self._exact_factor()
        else:
            self.damping_ = 0.01 if self.damping == "auto" else float(self.damping)
            self.scale_ = (
                self._auto_scale() if self.scale == "auto" else float(self.scale)
            )

    def _exact_factor(self):
        view = self.view_
        H = view.hessian(self._X, self._y)
        if not np.all(np.isfinite(H)):
            raise _fisher.scale_error(self._X, "The Hessian of the training objective")
        H.flat[:: H.shape[0] + 1] += self.damping_
        N = view.null_space()
        if N.shape[1]:
            # Every gradient is orthogonal to the null directions N and H N = 0,
            # so (H + s N N^T)^-1 g is the pseudo-inverse's H^+ g for any s > 0.
            s = max(np.trace(H) / H.shape[0], np.finfo(float).tiny)
            H += s * (N @ N.T)
        return _fisher.cholesky(
            H,
            "The Hessian of the training objective is singular (an unpenalized "
            "model on separable or collinear data?); set a positive damping for "
            "InfluenceSelector.",
        )

    def _hvp_at(self, step_rng):
        """``hvp(u, j)`` over the whole training set or a fresh mini-batch."""
        view, X, y, n = self.view_, self._X, self._y, self._X.shape[0]
        if self.batch_size is None or self.batch_size >= n:
            return lambda u, j: view.hvp(X, y, u, n_samples=n)

        def hvp(u, j):
            rows = step_rng.choice(n, size=self.batch_size, replace=False)
            return view.hvp(X[rows], y[rows], u, n_samples=n)

        return hvp

    def _auto_scale(self):
        view, X, y, n = self.view_, self._X, self._y, self._X.shape[0]
        u = self._rng.normal(size=view.n_params)
        top = 0.0
        for _ in range(30):
            u /= np.linalg.norm(u)
            w = view.hvp(X, y, u, n_samples=n) + self.damping_ * u
            top = abs(float(u @ w))
            u = w
        if not np.isfinite(top):
            raise _fisher.scale_error(self._X, "The Hessian of the training objective")
        factor = 1.1 if self.batch_size is None or self.batch_size >= n else 2.0
        return factor * max(top, np.finfo(float).tiny)

    def inverse_hvp(self, v):
        """``(H + lambda I)^-1 v`` by the fitted method."""
        v = np.asarray(v, dtype=float)
        if self.method_ == "exact":
            return linalg.cho_solve(self.factor_, v, check_finite=False)
        return lissa(
            self._hvp_at(self._rng),
            v,
            damping=self.damping_,
            scale=self.scale_,
            depth=self.depth,
            repeats=self.repeats,
        )

    def score(self, x, y, candidates=None):
        candidates = self._candidates(candidates)
        (g,) = self.view_.gradients(as_row(x), np.asarray([y]), batch_size=1)
        v = self.inverse_hvp(g[0])
        return self._kernel(v, candidates) / self.n_train_
