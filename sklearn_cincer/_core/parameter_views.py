"""All parameters of a fitted classifier, as the all-parameter selectors see them.

``FullFisherSelector``, ``PracticalFisherSelector`` and ``InfluenceSelector``
need per-example gradients of every parameter and, for influence, the
curvature of the training objective. A :class:`ParameterView` provides them
with numpy in and out, whatever computes them inside: numpy for scikit-learn
models (this module), torch for skorch networks (:mod:`sklearn_cincer.nets`,
which registers its view with :mod:`sklearn_cincer._core.view_registry`; this module
never imports it).

Conventions shared by every implementation (the contract):

- ``classes``: the label values of the model's outputs (``classes_``).
- ``n_params``: the number of parameters; every vector below has that
  length, float64, with the parameters flattened in one fixed order
  (:meth:`ParameterView.parameters` gives the current values in that order).
- Labels are given as label values (as in ``classes``), never as indices.
- Gradients are of ``log P(y | x)`` per example: the *negative* of the loss
  gradient.
- The objective is the one the estimator minimizes, written as a mean over
  the training rows plus its own regularization,
  ``L(theta) = 1/n sum_i loss(x_i, y_i) + R(theta) / n`` (each
  implementation's docstring says what ``R`` is). :meth:`hvp` and
  :meth:`hessian` are derivatives of ``L``; their ``n_samples`` argument is
  the ``n`` of the full training set, so that a mini-batch gets the
  regularization of the whole set (stochastic estimators such as LiSSA pass
  mini-batches).
- Memory: methods work in batches of ``batch_size`` rows and never hold an
  ``n x n_params`` matrix, except :meth:`gradients`, which yields one batch
  at a time.

Methods:

``parameters()``
    ``(n_params,)`` current parameter values.
``predict_proba(X)``
    ``(n, len(classes))`` the model's predictive distribution.
``gradients(X, y, batch_size=256)``
    generator of ``(b, n_params)`` per-example gradients of ``log P(y|x)``.
``gradient_dot(X, y, v, batch_size=256)``
    ``(n,)`` ``G v`` without materializing ``G``.
``fisher(X, batch_size=256)``
    ``(n_params, n_params)`` the true Fisher information
    ``1/n sum_i sum_a P(a|x_i) g(x_i, a) g(x_i, a)^T``.
``hvp(X, y, v, n_samples=None)``
    ``(n_params,)`` Hessian of ``L`` on ``(X, y)`` times ``v``.
``hessian(X, y, n_samples=None)``
    ``(n_params, n_params)`` the exact Hessian of ``L``; only where
    ``has_exact_hessian`` is True (raises ``NotImplementedError`` otherwise).
``null_space()``
    ``(n_params, r)`` orthonormal directions the model's outputs ignore (for
    example a shift of all softmax intercepts) in which the Hessian is zero
    and every gradient orthogonal; ``(n_params, 0)`` when there are none.
"""

from abc import ABC, abstractmethod

import numpy as np
from scipy.special import expit, softmax
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from . import fisher_math as _fisher
from .last_layer import _ACTIVATIONS, last_layer_view
from .view_registry import checked_view, find_parameter_view


class ParameterView(ABC):
    """Per-example gradients and curvature of all parameters of a fitted model.

    The all-parameter selectors (``FullFisherSelector``,
    ``PracticalFisherSelector``, ``InfluenceSelector``) read a model through
    one of these, NumPy in and out. Subclasses set ``classes`` and
    ``n_params`` and implement :meth:`parameters`, :meth:`predict_proba`,
    :meth:`gradients` and :meth:`hvp`; the others have generic (batched)
    defaults that implementations may override with faster closed forms.

    The contract every implementation keeps:

    - vectors have length ``n_params``, float64, the parameters flattened in
      one fixed order (that of :meth:`parameters`);
    - labels are label values (as in ``classes``), never indices;
    - gradients are of ``log P(y | x)`` per example, the *negative* of the
      loss gradient;
    - :meth:`hvp` and :meth:`hessian` are derivatives of the training
      objective written as a mean, ``1/n sum_i loss(x_i, y_i) + R / n``
      (``R`` the model's own regularization), with ``n = n_samples``, the
      size of the whole training set, so that a mini-batch gets the
      regularization of the whole set;
    - methods work in batches of rows and never hold an ``n x n_params``
      matrix, except :meth:`gradients`, which yields one batch at a time.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_cincer.extend import ParameterView, parameter_view
    >>> X, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1])
    >>> view = parameter_view(LogisticRegression().fit(X, y))
    >>> isinstance(view, ParameterView), view.n_params  # one weight, one bias
    (True, 2)
    >>> view.gradient_dot(X, y, np.array([1.0, 0.0])).shape
    (4,)
    """

    #: The label values of the model's outputs, in order.
    classes: np.ndarray

    #: Number of parameters.
    n_params: int

    #: Whether :meth:`hessian` is available in closed form.
    has_exact_hessian = False

    @abstractmethod
    def parameters(self):
        """Current parameter values, ``(n_params,)``, in the gradients' order."""

    @abstractmethod
    def predict_proba(self, X):
        """The predictive distribution, ``(n, len(classes))``."""

    @abstractmethod
    def gradients(self, X, y, batch_size=256):
        """Yield per-example gradients of ``log P(y|x)``, ``(b, n_params)`` each."""

    @abstractmethod
    def hvp(self, X, y, v, n_samples=None):
        """Hessian of the training objective on ``(X, y)`` times ``v``.

        ``n_samples`` (default ``len(X)``) is the size of the training set
        whose regularization applies.
        """

    def gradient_dot(self, X, y, v, batch_size=256):
        """``G v`` for the per-example gradients ``G`` of ``(X, y)``, batched.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        v = np.asarray(v, dtype=float)
        parts = [G @ v for G in self.gradients(X, y, batch_size=batch_size)]
        return np.concatenate(parts) if parts else np.zeros(0)

    def fisher(self, X, batch_size=256):
        """The true Fisher ``1/n sum_i sum_a P(a|x_i) g(x_i, a) g(x_i, a)^T``.

        The expectation is over the model's own predictive distribution, so
        the labels of ``X`` are not used.

        Returns
        -------
        ndarray of shape (n_params, n_params)
        """
        X = np.asarray(X)
        n = X.shape[0]
        F = np.zeros((self.n_params, self.n_params))
        if n == 0:
            return F
        for start in range(0, n, batch_size):
            Xb = X[start : start + batch_size]
            root = np.sqrt(self.predict_proba(Xb))
            for a, label in enumerate(self.classes):
                labels = np.full(Xb.shape[0], label, dtype=self.classes.dtype)
                (G,) = self.gradients(Xb, labels, batch_size=Xb.shape[0])
                G *= root[:, a : a + 1]
                F += G.T @ G
        F /= n
        return F

    def hessian(self, X, y, n_samples=None):
        """The exact Hessian of the training objective, where known in closed form.

        Raises
        ------
        NotImplementedError
            When ``has_exact_hessian`` is False; use :meth:`hvp`.
        """
        raise NotImplementedError(
            f"{type(self).__name__} has no closed-form Hessian; use hvp()."
        )

    def null_space(self):
        """Orthonormal directions the outputs ignore, ``(n_params, r)``."""
        return np.zeros((self.n_params, 0))


def parameter_view(estimator, needs="This selector", device=None):
    """The :class:`ParameterView` of a fitted classifier.

    Parameters
    ----------
    estimator : fitted classifier
        ``LogisticRegression``, ``SGDClassifier(loss="log_loss")``,
        ``MLPClassifier``, a skorch classifier, or a ``Pipeline`` ending in
        one of these.
    needs : str, default="This selector"
        Who asks, named in the error when the estimator is not supported.
    device : str or None, default=None
        Where a torch model computes (skorch only; passed on to registered
        factories, ignored otherwise).

    Returns
    -------
    view : ParameterView
        The newest registered one (:func:`register_parameter_view`) that
        accepts the estimator, else the package's own, else the model's own
        ``parameter_view()`` method.

    Raises
    ------
    TypeError
        When the estimator's parameters cannot be read (the message says what
        is supported and how to register a view), or a registered factory
        returns something else than a :class:`ParameterView`.

    Examples
    --------
    >>> from sklearn.neural_network import MLPClassifier
    >>> from sklearn_cincer.extend import parameter_view
    >>> model = MLPClassifier((2,), max_iter=5, random_state=0)
    >>> model = model.fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    >>> parameter_view(model).n_params  # 1x2 + 2 hidden, 2x1 + 1 output
    7
    """
    if isinstance(estimator, Pipeline):
        inner = parameter_view(estimator.steps[-1][1], needs=needs, device=device)
        return _PipelineParameterView(estimator[:-1], inner)
    # Families read by an extension (skorch nets: sklearn_cincer.nets).
    factory = find_parameter_view(estimator)
    if factory is not None:
        view = factory(estimator, needs=needs, device=device)
        return checked_view(view, estimator, factory, ParameterView)
    return _sklearn_parameter_view(estimator, needs)


class _PipelineParameterView(ParameterView):
    """The parameters of a Pipeline's final classifier, its inputs transformed."""

    def __init__(self, head, inner):
        self.head = head
        self.inner = inner
        self.classes = inner.classes
        self.n_params = inner.n_params
        self.has_exact_hessian = inner.has_exact_hessian

    def parameters(self):
        return self.inner.parameters()

    def predict_proba(self, X):
        return self.inner.predict_proba(self.head.transform(X))

    def gradients(self, X, y, batch_size=256):
        return self.inner.gradients(self.head.transform(X), y, batch_size)

    def gradient_dot(self, X, y, v, batch_size=256):
        return self.inner.gradient_dot(self.head.transform(X), y, v, batch_size)

    def fisher(self, X, batch_size=256):
        return self.inner.fisher(self.head.transform(X), batch_size)

    def hvp(self, X, y, v, n_samples=None):
        return self.inner.hvp(self.head.transform(X), y, v, n_samples)

    def hessian(self, X, y, n_samples=None):
        return self.inner.hessian(self.head.transform(X), y, n_samples)

    def null_space(self):
        return self.inner.null_space()


def _unsupported(estimator, needs):
    return TypeError(
        f"{needs} needs per-example gradients of all the parameters of the "
        f"classifier, which this package cannot compute for "
        f"{type(estimator).__name__}. Supported are LogisticRegression, "
        "SGDClassifier(loss='log_loss'), MLPClassifier, skorch classifiers and "
        "Pipelines ending in one of these. To support another family, register "
        "a view of its parameters with "
        "sklearn_cincer.extend.register_parameter_view; else use "
        "TopFisherSelector (last layer only, where the model exposes it), "
        "NearestNeighborSelector or RandomSelector."
    )


def _sklearn_parameter_view(estimator, needs):
    if isinstance(estimator, (LogisticRegression, SGDClassifier)):
        check_is_fitted(estimator)
        if isinstance(estimator, SGDClassifier) and estimator.loss != "log_loss":
            raise TypeError(
                f"{needs} needs a probabilistic model: SGDClassifier with "
                f"loss='log_loss', not loss={estimator.loss!r}."
            )
        return LinearParameterView(estimator)
    if isinstance(estimator, MLPClassifier):
        check_is_fitted(estimator)
        return MLPParameterView(estimator)
    if hasattr(estimator, "parameter_view"):
        # Third-party models can describe their parameters themselves.
        return checked_view(
            estimator.parameter_view(),
            estimator,
            type(estimator).parameter_view,
            ParameterView,
        )
    raise _unsupported(estimator, needs)


def _encode(classes, y):
    """Label values to output indices; ``-1`` for labels the model lacks."""
    y = np.asarray(y)
    if y.ndim == 0:
        y = y.reshape(1)
    index = np.clip(np.searchsorted(classes, y), 0, len(classes) - 1)
    return np.where(classes[index] == y, index, -1)


def _apply_output_covariance(P, Z, link):
    """``Lambda_i z_i`` for every row: the output covariance times a logit direction."""
    if link == "softmax":
        return P * (Z - np.sum(P * Z, axis=1, keepdims=True))
    return P * (1.0 - P) * Z


def _proba_from_outputs(P, link):
    if link == "softmax":
        return P
    if link == "logistic":
        return np.hstack([1.0 - P, P])
    # One-vs-rest: normalized as scikit-learn's predict_proba does.
    total = P.sum(axis=1, keepdims=True)
    total[total == 0] = 1.0
    return P / total


def linear_penalty(est):
    """The penalty of a linear model's objective: ``(l2, l1, per_sample, intercept)``.

    ``l2`` and ``l1`` are the weights of the L2 (``l2 / 2 ||w||^2``) and L1
    parts, ``per_sample`` says whether they are divided by ``n`` in the mean
    objective (``LogisticRegression``: yes, ``SGDClassifier``: no) and
    ``intercept`` is the L2 weight on the intercept (liblinear only). Read
    from the parameters, so the estimator need not be fitted.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_cincer._core.parameter_views import linear_penalty
    >>> linear_penalty(LogisticRegression(C=0.5))
    (2.0, 0.0, True, 0.0)
    """
    if isinstance(est, SGDClassifier):
        penalty = est.penalty
        l1_ratio = {None: 0.0, "l2": 0.0, "l1": 1.0}.get(penalty, est.l1_ratio)
        l2 = 0.0 if penalty is None else est.alpha * (1.0 - l1_ratio)
        l1 = 0.0 if penalty is None else est.alpha * l1_ratio
        return l2, l1, False, 0.0
    C = float(est.C)
    penalty = getattr(est, "penalty", "deprecated")
    if penalty in ("deprecated", None) or penalty == "elasticnet":
        l1_ratio = est.l1_ratio if est.l1_ratio is not None else 0.0
    else:
        l1_ratio = {"l2": 0.0, "l1": 1.0, "none": 0.0}.get(penalty, 0.0)
    if penalty in (None, "none") or not np.isfinite(C):
        return 0.0, 0.0, True, 0.0
    l2 = (1.0 - l1_ratio) / C
    intercept = 0.0
    if est.solver == "liblinear" and est.fit_intercept:
        intercept = l2 / float(est.intercept_scaling) ** 2
    return l2, l1_ratio / C, True, intercept


class LinearParameterView(ParameterView):
    """All parameters of a fitted ``LogisticRegression`` or ``SGDClassifier``.

    The parameters are the rows of the ``k x (d + fit_intercept)`` matrix
    ``[coef_, intercept_]`` in row-major order, as in
    :mod:`sklearn_cincer._core.fisher_math`: the last layer is the whole model, so
    everything here is closed form (``has_exact_hessian`` is True).

    The objective, as a mean over ``n`` training rows, is the estimator's own:

    - ``LogisticRegression``: ``C sum loss + 1/2 ||w||^2`` divided by
      ``C n``, so ``R = (1 - l1_ratio) / (2 C) ||w||^2``; the intercept is not
      penalized, except by ``solver="liblinear"``, which penalizes it as a
      feature of value ``intercept_scaling``; ``C = inf`` or ``penalty=None``
      means no penalty.
    - ``SGDClassifier``: ``mean loss + alpha R(w)``, so the L2 part of
      ``alpha`` (times ``1 - l1_ratio`` for ``"elasticnet"``) does not shrink
      with ``n``; the intercept is not penalized; for more than two classes
      each one-vs-rest unit is its own problem, so the Hessian is block
      diagonal.

    The Hessian of the log loss equals the Fisher information for these
    models (canonical link), so ``hessian = fisher + regularization``. An L1
    part of the penalty has no Hessian; :meth:`hvp` and :meth:`hessian` refuse
    it, as they refuse ``class_weight``.
    """

    has_exact_hessian = True

    def __init__(self, estimator):
        self.estimator = estimator
        self.view = last_layer_view(estimator)
        self.classes = self.view.classes
        self.link = self.view.link
        self.fit_intercept = self.view.fit_intercept
        k, d = self.view.coef.shape
        self._shape = (k, d + self.fit_intercept)
        self.n_params = k * (d + self.fit_intercept)

    # -- what the objective is ------------------------------------------------
    def _penalty(self):
        """``(l2 weight, l1 part, scales with 1/n, intercept l2)``."""
        return linear_penalty(self.estimator)

    def _check_twice_differentiable(self, needs="The Hessian"):
        l2, l1, _, _ = self._penalty()
        if l1 > 0:
            raise ValueError(
                f"{needs} of the objective is not defined for an L1 penalty; "
                "fit the estimator with an L2 penalty (l1_ratio=0)."
            )
        if getattr(self.estimator, "class_weight", None) is not None:
            raise ValueError(
                f"{needs} with class_weight is not supported; fit the "
                "estimator with class_weight=None."
            )

    def _regularization(self, n_samples):
        """Diagonal of the Hessian of ``R(theta) / n``, ``(n_params,)``."""
        l2, _, per_sample, intercept = self._penalty()
        scale = 1.0 / n_samples if per_sample else 1.0
        k, m = self._shape
        diag = np.full((k, m), l2 * scale)
        if self.fit_intercept:
            diag[:, -1] = intercept * scale
        return diag.reshape(-1)

    # -- the contract ---------------------------------------------------------
    def parameters(self):
        view = self.view
        if not self.fit_intercept:
            return view.coef.reshape(-1).copy()
        return np.hstack([view.coef, view.intercept[:, None]]).reshape(-1)

    def _features(self, X):
        H = self.view.features(X)
        return H, self.view.outputs(H)

    def predict_proba(self, X):
        return _proba_from_outputs(self._features(X)[1], self.link)

    def gradients(self, X, y, batch_size=256):
        X = np.asarray(X)
        y = np.asarray(y)
        for start in range(0, X.shape[0], batch_size):
            H, P = self._features(X[start : start + batch_size])
            yb = _encode(self.classes, y[start : start + batch_size])
            yield _fisher.gradients(H, P, yb, self.link, self.fit_intercept)

    def gradient_dot(self, X, y, v, batch_size=None):
        H, P = self._features(X)
        R = _fisher.residuals(P, _encode(self.classes, y), self.link)
        V = np.asarray(v, dtype=float).reshape(self._shape)
        return -_fisher.kernel_scores(V, H, R, self.fit_intercept)

    def fisher(self, X, batch_size=None):
        H, P = self._features(X)
        return _fisher.fisher_matrix(H, P, self.link, self.fit_intercept)

    def hvp(self, X, y, v, n_samples=None):
        self._check_twice_differentiable()
        H, P = self._features(X)
        n = H.shape[0]
        n_samples = n if n_samples is None else n_samples
        V = np.asarray(v, dtype=float).reshape(self._shape)
        d = H.shape[1]
        Z = H @ V[:, :d].T
        if self.fit_intercept:
            Z += V[:, d]
        A = _apply_output_covariance(P, Z, self.link)
        out = np.empty(self._shape)
        out[:, :d] = A.T @ H
        if self.fit_intercept:
            out[:, d] = A.sum(axis=0)
        out /= max(n, 1)
        return out.reshape(-1) + self._regularization(n_samples) * V.reshape(-1)

    def hessian(self, X, y, n_samples=None):
        self._check_twice_differentiable()
        X = np.asarray(X)
        n_samples = X.shape[0] if n_samples is None else n_samples
        Hs = self.fisher(X)
        Hs.flat[:: self.n_params + 1] += self._regularization(n_samples)
        return Hs

    def null_space(self):
        if self.link != "softmax":
            return np.zeros((self.n_params, 0))
        k, m = self._shape
        free = np.flatnonzero(self._regularization(1).reshape(k, m)[0] == 0)
        N = np.zeros((k, m, free.size))
        N[:, free, np.arange(free.size)] = 1.0 / np.sqrt(k)
        return N.reshape(self.n_params, free.size)


_DERIVATIVES = {
    # The derivative of each activation, from its output A (and input Z).
    "identity": lambda A, Z: np.ones_like(A),
    "logistic": lambda A, Z: A * (1.0 - A),
    "tanh": lambda A, Z: 1.0 - A**2,
    "relu": lambda A, Z: (Z > 0).astype(A.dtype),
}


_SECOND_DERIVATIVES = {
    "identity": lambda A, Z: np.zeros_like(A),
    "logistic": lambda A, Z: A * (1.0 - A) * (1.0 - 2.0 * A),
    "tanh": lambda A, Z: -2.0 * A * (1.0 - A**2),
    "relu": lambda A, Z: np.zeros_like(A),
}


class MLPParameterView(ParameterView):
    """All weights and biases of a fitted ``MLPClassifier``, in numpy.

    The parameters are, layer after layer, ``coefs_[l]`` (``in x out``,
    row-major) then ``intercepts_[l]``. Per-example gradients are computed by
    backpropagation over batches of rows: the gradient of a layer's weights
    for a batch is a ``(b, in, out)`` array, so memory holds at most
    ``batch_size x n_params`` numbers.

    The objective is scikit-learn's: ``mean log loss + alpha / (2 n) sum_l
    ||W_l||^2`` (biases not penalized). It has no closed-form Hessian
    (``has_exact_hessian`` is False), but exact Hessian-vector products by
    the R-operator (:meth:`hvp`), which LiSSA uses.
    """

    def __init__(self, estimator):
        if estimator.out_activation_ not in ("softmax", "logistic") or (
            estimator.out_activation_ == "logistic" and estimator.n_outputs_ != 1
        ):
            raise TypeError(
                "Only single-label MLPClassifier models are supported (softmax "
                "or one logistic output); this one has out_activation_="
                f"{estimator.out_activation_!r} with {estimator.n_outputs_} "
                "outputs."
            )
        self.estimator = estimator
        self.classes = np.asarray(estimator.classes_)
        self.link = "softmax" if estimator.out_activation_ == "softmax" else "logistic"
        self.alpha = float(estimator.alpha)
        self._activation = estimator.activation
        self._shapes = [W.shape for W in estimator.coefs_]
        self._theta = self._flatten(estimator.coefs_, estimator.intercepts_)
        self.n_params = self._theta.size
        mask = [
            np.concatenate([np.ones(W.size), np.zeros(W.shape[1])])
            for W in estimator.coefs_
        ]
        self._weight_mask = np.concatenate(mask)

    @staticmethod
    def _flatten(coefs, intercepts):
        return np.concatenate(
            [np.concatenate([W.reshape(-1), b]) for W, b in zip(coefs, intercepts)]
        )

    def _unflatten(self, theta):
        layers, at = [], 0
        for n_in, n_out in self._shapes:
            W = theta[at : at + n_in * n_out].reshape(n_in, n_out)
            at += n_in * n_out
            layers.append((W, theta[at : at + n_out]))
            at += n_out
        return layers

    def _forward(self, X, theta):
        layers = self._unflatten(theta)
        activation = _ACTIVATIONS[self._activation]
        A = [np.asarray(X, dtype=float)]
        Zs = []
        for W, b in layers[:-1]:
            Z = A[-1] @ W + b
            Zs.append(Z)
            A.append(activation(Z))
        W, b = layers[-1]
        logits = A[-1] @ W + b
        if self.link == "softmax":
            P = softmax(logits, axis=1)
        else:
            P = expit(logits)
        return layers, A, Zs, P

    def _backward(self, X, y, theta, per_example):
        """Gradients of ``log P(y|x)``: per example ``(n, n_params)`` or summed."""
        layers, A, Zs, P = self._forward(X, theta)
        delta = _fisher.residuals(P, _encode(self.classes, y), self.link)
        derivative = _DERIVATIVES[self._activation]
        parts = []
        for layer in range(len(layers) - 1, -1, -1):
            W, _ = layers[layer]
            if per_example:
                gW = (A[layer][:, :, None] * delta[:, None, :]).reshape(
                    delta.shape[0], -1
                )
                parts.append(np.hstack([gW, delta]))
            else:
                parts.append(
                    np.concatenate(
                        [(A[layer].T @ delta).reshape(-1), delta.sum(axis=0)]
                    )
                )
            if layer:
                delta = (delta @ W.T) * derivative(A[layer], Zs[layer - 1])
        parts.reverse()
        return np.hstack(parts) if per_example else np.concatenate(parts)

    def parameters(self):
        return self._theta.copy()

    def predict_proba(self, X):
        return _proba_from_outputs(self._forward(X, self._theta)[3], self.link)

    def gradients(self, X, y, batch_size=256):
        X = np.asarray(X)
        y = np.asarray(y)
        for start in range(0, X.shape[0], batch_size):
            stop = start + batch_size
            yield self._backward(X[start:stop], y[start:stop], self._theta, True)

    def objective_gradient(self, X, y, theta=None, n_samples=None):
        """Gradient of the training objective (mean loss + penalty) at ``theta``."""
        theta = self._theta if theta is None else theta
        n = np.asarray(X).shape[0]
        n_samples = n if n_samples is None else n_samples
        loss_grad = -self._backward(X, y, theta, False) / max(n, 1)
        return loss_grad + (self.alpha / n_samples) * self._weight_mask * theta

    def hvp(self, X, y, v, n_samples=None):
        """Exact Hessian-vector product by the R-operator (Pearlmutter, 1994).

        A forward pass of directional derivatives along ``v`` and a backward
        pass of their effect on the gradient, in ``O(n n_params)``. For ReLU
        the activation's derivative mask is that of the current parameters
        (the Hessian of the piecewise-smooth objective where it exists).
        """
        X = np.asarray(X, dtype=float)
        n = X.shape[0]
        n_samples = n if n_samples is None else n_samples
        v = np.asarray(v, dtype=float)
        layers, A, Zs, P = self._forward(X, self._theta)
        directions = self._unflatten(v)
        derivative = _DERIVATIVES[self._activation]
        second = _SECOND_DERIVATIVES[self._activation]
        # Forward: R{Z_l} and R{A_l}.
        RA = [np.zeros_like(X)]
        RZs = []
        for layer, ((W, _), (dW, db)) in enumerate(zip(layers, directions)):
            RZ = RA[-1] @ W + A[layer] @ dW + db
            RZs.append(RZ)
            if layer < len(layers) - 1:
                RA.append(derivative(A[layer + 1], Zs[layer]) * RZ)
        # Backward: the loss gradient delta = dLoss/dZ and its R{delta}.
        T = _fisher.targets(_encode(self.classes, y), P.shape[1], self.link)
        delta = (P - T) / max(n, 1)
        Rdelta = _apply_output_covariance(P, RZs[-1], self.link) / max(n, 1)
        parts = []
        for layer in range(len(layers) - 1, -1, -1):
            W, _ = layers[layer]
            dW, _ = directions[layer]
            RgW = RA[layer].T @ delta + A[layer].T @ Rdelta
            parts.append(np.concatenate([RgW.reshape(-1), Rdelta.sum(axis=0)]))
            if layer:
                Z, Al = Zs[layer - 1], A[layer]
                back = delta @ W.T
                Rdelta = (Rdelta @ W.T + delta @ dW.T) * derivative(Al, Z) + (
                    back * second(Al, Z) * RZs[layer - 1]
                )
                delta = back * derivative(Al, Z)
        parts.reverse()
        out = np.concatenate(parts)
        return out + (self.alpha / n_samples) * self._weight_mask * v

    def null_space(self):
        if self.link != "softmax":
            return np.zeros((self.n_params, 0))
        k = self._shapes[-1][1]
        N = np.zeros((self.n_params, 1))
        N[self.n_params - k :, 0] = 1.0 / np.sqrt(k)
        return N
