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

Your own network with :class:`~sklearn_cincer.SkepticalCleaner`
----------------------------------------------------------------

The simplest is ``PaperNetClassifier(YourModule, ...)``: it takes any module
(a class taking ``(n_features, n_classes)`` is sized from the data), casts
the cleaner's float64 rows to float32, keeps ``classes_`` fixed across warm
starts, and trains without a validation split. A plain
``skorch.NeuralNetClassifier`` works too when

- its module ends in a ``torch.nn.Linear`` layer whose outputs are the
  logits of ``predict_proba`` (with ``CrossEntropyLoss``, or a softmax at the
  end of the module with skorch's default ``NLLLoss``); otherwise name that
  layer on the module: ``cincer_last_layer = "name"`` (the dotted name in
  ``module.named_modules()``), or you get an error that says so;
- it receives float32 inputs: put it in a Pipeline after
  ``FunctionTransformer(to_float32)`` (a module-level function, so that it
  can be pickled and hashed);
- ``train_split=None``: skorch's default 5-fold stratified validation split
  fails on tiny bootstrap sets (a class with fewer than 5 examples) and
  hides 20% of the training set from the model;
- ``classes=`` lists every label when the bootstrap set may lack one
  (skorch re-infers ``classes_`` from ``y`` at every fit, and its
  ``partial_fit`` ignores ``classes``).

Torch threads: the paper's networks are tiny, and on a shared machine
torch's default of one thread per core can be many times slower than one
thread (OpenMP spinning). :class:`~sklearn_cincer.SkepticalCleaner` runs
torch on ``n_threads=1`` thread during ``fit`` by default and restores the
count afterwards; outside the cleaner, consider ``torch.set_num_threads(1)``.
"""

try:
    import skorch  # noqa: F401  (fail early with a clear message)
    import torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "sklearn_cincer.nets needs torch and skorch: "
        "pip install 'sklearn-cincer[torch]'."
    ) from exc

from .._core.view_registry import (
    is_skorch,
    register_last_layer_view,
    register_parameter_view,
)
from ._classifiers import (
    TRAININGS,
    ConvNetClassifier,
    FCNetClassifier,
    LogRegNetClassifier,
    PaperNetClassifier,
    StopAtTrainAccuracy,
    TensorBatches,
    keras_initialize,
)
from ._modules import ConvNet, FCNet, LogRegNet
from ._parameters import TorchParameterView, skorch_parameter_view
from ._selectors import TorchTopFisherSelector, torch_fisher_matrix
from ._views import LAST_LAYER_ATTRIBUTE, find_last_layer, skorch_view

# The core reads skorch nets through these; it never imports this package's
# code, but imports this package by name when it first meets a skorch net
# (see sklearn_cincer._core.view_registry), so registering here is enough.
register_last_layer_view(is_skorch, skorch_view)
register_parameter_view(is_skorch, skorch_parameter_view)

__all__ = [
    "LAST_LAYER_ATTRIBUTE",
    "TRAININGS",
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
    "keras_initialize",
    "skorch_parameter_view",
    "skorch_view",
    "torch_fisher_matrix",
]
