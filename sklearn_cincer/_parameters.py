"""All parameters of a fitted classifier, as the all-parameter selectors see them.

``FullFisherSelector``, ``PracticalFisherSelector`` and ``InfluenceSelector``
need per-example gradients of every parameter and, for influence,
Hessian-vector products of the training objective. A :class:`ParameterView`
provides them with numpy in and out, whatever computes them inside: numpy
for scikit-learn models (this package), torch for skorch networks
(:mod:`sklearn_cincer.nets`, imported only when such a model is seen).

Conventions shared by every implementation:

- gradients are of ``log P(y | x)`` (the negative of the loss gradient), per
  example, in float64, with the parameters flattened in one fixed order;
- labels are given as label values (as in the estimator's ``classes_``);
- the Hessian is that of the objective the estimator minimizes, as a mean
  over the training rows, with its own regularization.
"""

from abc import ABC, abstractmethod

import numpy as np


class ParameterView(ABC):
    """Per-example gradients and curvature of all parameters of a fitted model."""

    #: Number of parameters.
    n_params: int

    @abstractmethod
    def gradients(self, X, y, batch_size=256):
        """Yield per-example gradients of ``log P(y|x)``, ``(b, n_params)`` each."""

    def gradient_dot(self, X, y, v, batch_size=256):
        """``G v`` for the per-example gradients ``G`` of ``(X, y)``, batched.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        v = np.asarray(v, dtype=float)
        parts = [G @ v for G in self.gradients(X, y, batch_size=batch_size)]
        return np.concatenate(parts) if parts else np.zeros(0)

    @abstractmethod
    def hvp(self, X, y, v):
        """Hessian of the training objective on ``(X, y)`` times ``v``."""
