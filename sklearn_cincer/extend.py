"""Teach the selectors a new family of models: the extension API.

The selectors never look inside a classifier themselves; they read it through
a *view*. Scikit-learn's ``LogisticRegression``, ``SGDClassifier(loss=
"log_loss")``, ``MLPClassifier``, skorch networks and Pipelines ending in one
of these are read by the package. Any other probabilistic classifier works
with the selectors once it has a view:

- :class:`LastLayerView` and :func:`register_last_layer_view`: the features
  that feed the model's last layer, its weights, bias and link. Enough for
  :class:`~sklearn_cincer.CleaningSelector` (the default of
  :class:`~sklearn_cincer.SkepticalCleaner`),
  :class:`~sklearn_cincer.TopFisherSelector` and
  :class:`~sklearn_cincer.PerceptualSelector`.
- :class:`ParameterView` and :func:`register_parameter_view`: per-example
  gradients and curvature of every parameter, for
  :class:`~sklearn_cincer.FullFisherSelector`,
  :class:`~sklearn_cincer.PracticalFisherSelector` and
  :class:`~sklearn_cincer.InfluenceSelector`.
- :func:`last_layer_view` and :func:`parameter_view`: the views the
  selectors will use for a fitted model, to check a registration.

Instead of registering, a model class of your own may describe itself with a
``last_layer_view()`` (and ``parameter_view()``) method returning its view.

The math of the last layer, on NumPy arrays or on Dask arrays of rows (each
chunk computed where it lives; ``pip install "sklearn-cincer[dask]"``), for
selectors of your own or data beyond one machine: :data:`LINKS`,
:func:`outputs`, :func:`residuals`, :func:`fisher_matrix`,
:func:`feature_moment`, :func:`output_moment` and :func:`kernel_scores`.

See :ref:`extending` in the user guide for a worked example.
"""

from ._core.fisher_math import (
    LINKS,
    feature_moment,
    fisher_matrix,
    kernel_scores,
    output_moment,
    outputs,
    residuals,
)
from ._core.last_layer import LastLayerView, last_layer_view
from ._core.parameter_views import ParameterView, parameter_view
from ._core.view_registry import register_last_layer_view, register_parameter_view

__all__ = [
    "LINKS",
    "LastLayerView",
    "ParameterView",
    "feature_moment",
    "fisher_matrix",
    "kernel_scores",
    "last_layer_view",
    "output_moment",
    "outputs",
    "parameter_view",
    "register_last_layer_view",
    "register_parameter_view",
    "residuals",
]
