"""Neural networks for CINCER: the paper's models and skorch glue (needs torch).

Nothing in :mod:`sklearn_cincer` imports this module when it is loaded:
torch and skorch are imported only when a network is used.

- :class:`FCNet`, :class:`ConvNet`, :class:`LogRegNet`: the paper's modules.
- :class:`FCNetClassifier`, :class:`ConvNetClassifier`,
  :class:`LogRegNetClassifier`, :class:`PaperNetClassifier`: skorch
  classifiers with the paper's training rule.
- :func:`skorch_view`: the last layer of any skorch classifier, read with a
  forward hook (see :data:`LAST_LAYER_ATTRIBUTE` to name the layer).
- :class:`TorchTopFisherSelector`: Top Fisher computed by torch on a device.
- :func:`skorch_parameter_view`: per-example gradients and Hessian-vector
  products of all parameters, for the all-parameter selectors.
"""

try:
    import skorch  # noqa: F401
    import torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "sklearn_cincer.nets needs torch and skorch: "
        "pip install 'sklearn-cincer[torch]'."
    ) from exc

from ._classifiers import (
    ConvNetClassifier,
    FCNetClassifier,
    LogRegNetClassifier,
    PaperNetClassifier,
    StopAtTrainAccuracy,
    TensorBatches,
)
from ._modules import ConvNet, FCNet, LogRegNet
from ._parameters import TorchParameterView, skorch_parameter_view
from ._selectors import TorchTopFisherSelector, torch_fisher_matrix
from ._views import LAST_LAYER_ATTRIBUTE, find_last_layer, skorch_view

__all__ = [
    "LAST_LAYER_ATTRIBUTE",
    "ConvNet",
    "ConvNetClassifier",
    "FCNet",
    "FCNetClassifier",
    "LogRegNet",
    "LogRegNetClassifier",
    "PaperNetClassifier",
    "StopAtTrainAccuracy",
    "TensorBatches",
    "TorchParameterView",
    "TorchTopFisherSelector",
    "find_last_layer",
    "skorch_parameter_view",
    "skorch_view",
    "torch_fisher_matrix",
]
