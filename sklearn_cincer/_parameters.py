"""All parameters of a fitted classifier, as the all-parameter selectors see them.

``FullFisherSelector``, ``PracticalFisherSelector`` and ``InfluenceSelector``
need per-example gradients of every parameter and, for influence, the
curvature of the training objective. A :class:`ParameterView` provides them
with numpy in and out, whatever computes them inside: numpy for scikit-learn
models (this module), torch for skorch networks
(:mod:`sklearn_cincer.nets`, imported only when such a model is seen).

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
from sklearn.pipeline import Pipeline


class ParameterView(ABC):
    """Per-example gradients and curvature of all parameters of a fitted model.

    See the module docstring for the contract. Subclasses implement
    :meth:`parameters`, :meth:`predict_proba`, :meth:`gradients` and
    :meth:`hvp`; the others have generic (batched) defaults that
    implementations may override with faster closed forms.
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
        """Orthonormal parameter directions that the outputs ignore, ``(n_params, r)``."""
        return np.zeros((self.n_params, 0))


def parameter_view(estimator, needs="This selector", device=None):
    """The :class:`ParameterView` of a fitted classifier.

    Parameters
    ----------
    estimator : fitted classifier
        ``LogisticRegression``, ``SGDClassifier(loss="log_loss")``,
        ``MLPClassifier``, a skorch classifier, or a ``Pipeline`` ending in
        one of these.
    needs : str
        Who asks, named in the error when the estimator is not supported.
    device : str or None
        Where a torch model computes (skorch only; ignored otherwise).

    Raises
    ------
    TypeError
        When the estimator's parameters cannot be read; the message says what
        is supported.
    """
    if isinstance(estimator, Pipeline):
        inner = parameter_view(estimator.steps[-1][1], needs=needs, device=device)
        return _PipelineParameterView(estimator[:-1], inner)
    if type(estimator).__module__.split(".")[0] == "skorch":
        from .nets._parameters import skorch_parameter_view  # imports torch

        return skorch_parameter_view(estimator, needs=needs, device=device)
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


def _sklearn_parameter_view(estimator, needs):
    raise TypeError(f"{needs}: not implemented yet")
