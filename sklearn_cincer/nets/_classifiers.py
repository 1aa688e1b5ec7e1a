"""Ready skorch classifiers with the paper's training rule."""

import contextlib
import numbers

import numpy as np
import torch
from sklearn.utils import check_random_state
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback, PassthroughScoring, PrintLog

from ._modules import ConvNet, FCNet, LogRegNet

_MAX_SEED = np.iinfo(np.int32).max

#: The two ways to train the paper's networks (see ``PaperNetClassifier``).
TRAININGS = ("text", "code")
#: Keras's default ``epsilon`` of Adam, which the authors' code used.
_KERAS_ADAM_EPS = 1e-7
#: The methods of a training batch that the lean epoch stands in for.
_BATCH_METHODS = (
    "train_step",
    "train_step_single",
    "on_batch_begin",
    "on_batch_end",
    "on_grad_computed",
    "_step_optimizer",
    "_zero_grad_optimizer",
)
#: Whether torch's Adam has a fused CPU kernel (torch 2.4 and later).
_FUSED_ADAM = tuple(int(v) for v in torch.__version__.split(".")[:2]) >= (2, 4)


class StopAtTrainAccuracy(Callback):
    """Stop training once the accuracy on the training batches reaches a target.

    The accuracy of an epoch is that of the predictions made on the training
    batches while they were learned (in training mode, as Keras reports its
    ``accuracy``), so checking it costs no extra forward pass. It is recorded
    in the net's history as ``train_acc``.

    Parameters
    ----------
    threshold : float or None
        Stop when the epoch's training accuracy is at least this; ``None``
        never stops (train ``max_epochs``).

    Examples
    --------
    >>> from sklearn_cincer.nets import StopAtTrainAccuracy
    >>> StopAtTrainAccuracy(0.9).threshold
    0.9
    """

    def __init__(self, threshold=0.9):
        self.threshold = threshold

    def on_epoch_begin(self, net, **kwargs):
        self.correct_, self.seen_ = 0, 0

    def on_batch_end(self, net, batch=None, training=False, y_pred=None, **kwargs):
        if not training or y_pred is None or batch is None:
            return
        self.count(y_pred, batch[1])

    def count(self, y_pred, y_true):
        """Add a training batch's predictions to the epoch's accuracy."""
        if not torch.is_tensor(y_true):
            y_true = torch.as_tensor(np.asarray(y_true))
        y_pred = y_pred.detach()
        if y_pred.dim() == 1 or y_pred.shape[1] == 1:  # one logit
            predicted = (y_pred.reshape(-1) > 0).long()
        else:
            predicted = y_pred.argmax(dim=1)
        self.correct_ += int((predicted.cpu() == y_true.reshape(-1).cpu()).sum())
        self.seen_ += int(y_true.shape[0])

    def on_epoch_end(self, net, **kwargs):
        if not self.seen_:
            return
        accuracy = self.correct_ / self.seen_
        net.history.record("train_acc", accuracy)
        if self.threshold is not None and accuracy >= self.threshold:
            raise KeyboardInterrupt  # skorch's way to end fit early


class TensorBatches:
    """Mini-batches sliced from whole tensors, a fast stand-in for DataLoader.

    skorch's default ``DataLoader`` indexes and collates one example at a
    time, which costs more than the step itself for the paper's small
    networks. This iterator converts the dataset's arrays once and yields
    slices, shuffled with torch's generator (so ``random_state`` seeds it).
    Datasets other than skorch's over plain arrays fall back to a
    ``DataLoader`` with the same arguments.

    Parameters
    ----------
    dataset : skorch.dataset.Dataset or torch Dataset
    batch_size : int, default=32
    shuffle : bool, default=False
    **kwargs
        Passed to ``torch.utils.data.DataLoader`` in the fallback.

    Examples
    --------
    >>> import numpy as np
    >>> from skorch.dataset import Dataset
    >>> from sklearn_cincer.nets import TensorBatches
    >>> batches = TensorBatches(Dataset(np.zeros((5, 2)), np.arange(5)), batch_size=2)
    >>> [len(yb) for _, yb in batches]
    [2, 2, 1]
    """

    def __init__(self, dataset, batch_size=32, shuffle=False, **kwargs):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.kwargs = kwargs

    def _arrays(self):
        X = getattr(self.dataset, "X", None)
        y = getattr(self.dataset, "y", None)
        if type(self.dataset).__name__ != "Dataset" or not (
            isinstance(X, np.ndarray) or torch.is_tensor(X)
        ):
            return None
        if y is not None and not (isinstance(y, np.ndarray) or torch.is_tensor(y)):
            return None
        X = torch.as_tensor(X)
        y = torch.zeros(len(X)) if y is None else torch.as_tensor(y)
        return X, y

    def __len__(self):
        return -(-len(self.dataset) // self.batch_size)

    def __iter__(self):
        arrays = self._arrays()
        if arrays is None:
            from torch.utils.data import DataLoader

            yield from DataLoader(
                self.dataset,
                batch_size=self.batch_size,
                shuffle=self.shuffle,
                **self.kwargs,
            )
            return
        X, y = arrays
        n = X.shape[0]
        if self.shuffle:
            order = torch.randperm(n)
            X, y = X[order], y[order]
        for start in range(0, n, self.batch_size):
            yield X[start : start + self.batch_size], y[start : start + self.batch_size]


def _seed(random_state):
    if random_state is None:
        return None
    if isinstance(random_state, numbers.Integral):
        return int(random_state)
    return int(check_random_state(random_state).randint(_MAX_SEED))


@contextlib.contextmanager
def _torch_seeded(seed, device):
    """Run with torch's random generators seeded, restoring them afterwards."""
    if seed is None:
        yield
        return
    devices = []
    if str(device).startswith("cuda") and torch.cuda.is_available():
        index = torch.device(device).index
        devices = [torch.cuda.current_device() if index is None else index]
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


class PaperNetClassifier(NeuralNetClassifier):
    """A skorch classifier trained with the paper's rule, for any module.

    Adam with its default parameters, batches of 32 shuffled examples, up to
    ``max_epochs=100`` epochs, stopping as soon as the accuracy on the
    training set reaches ``target_accuracy`` (see
    :class:`StopAtTrainAccuracy`). No validation split
    (``train_split=None``): the bootstrap sets are tiny.

    That is the rule the paper's text states (``training="text"``). The
    authors' code, which produced the paper's published numbers, trained
    differently, and ``training="code"`` reproduces it: its early stop
    watched a metric the model never logged, so every fit ran all
    ``max_epochs`` epochs whatever the training accuracy; its Keras layers
    started from Glorot-uniform weights and zero biases (torch draws both
    from a smaller uniform range); and its Adam used Keras's ``epsilon=1e-7``.
    The batch size (32) and learning rate (0.001) are the same in both.

    It differs from a plain ``skorch.NeuralNetClassifier`` in what a
    scikit-learn user expects:

    - ``module`` may be a class taking ``(n_features, n_classes, ...)`` (as
      :class:`FCNet`, :class:`ConvNet`, :class:`LogRegNet`): both are read from
      the data at the first fit.
    - Labels may be any values: they are encoded to output indices, and
      ``classes_`` is fixed by the first fit (or by ``classes``, or the
      ``classes`` argument of the first ``partial_fit``). ``predict`` returns
      label values. A warm-started fit keeps the classes of the first fit.
    - Inputs are cast to float32 (the cleaner passes float64).
    - Mini-batches are sliced from whole tensors (:class:`TensorBatches`)
      rather than collated one example at a time.
    - ``random_state`` seeds the initial weights, the shuffling and dropout,
      so every fit from scratch starts from the same weights (the paper's
      protocol) without touching torch's global generator.
    - ``warm_start=True`` continues from the current weights and optimizer
      state: :class:`~sklearn_cincer.SkepticalCleaner` sets it for
      ``refit="incremental"``.

    The softmax of the paper's output layer is applied by the loss
    (``CrossEntropyLoss`` on the module's logits) and by ``predict_proba``.

    Parameters
    ----------
    module : torch module class or instance
        Build from ``(n_features, n_classes, **module__kwargs)`` when it is a
        class whose first two parameters are named so.
    target_accuracy : float or None, default=0.9
        Stop training once the training accuracy of an epoch reaches it;
        ``None`` trains ``max_epochs`` epochs. Ignored when
        ``training="code"``.
    training : {"text", "code"}, default="text"
        ``"text"``: the paper's stated rule (stop at ``target_accuracy``,
        torch's initialisation and Adam). ``"code"``: what the authors' code
        did (all ``max_epochs`` epochs, Glorot-uniform weights and zero
        biases in every ``Linear`` and ``Conv2d`` layer, Adam's ``eps=1e-7``
        unless ``optimizer__eps`` is given). With torch's Adam, "code" also
        takes its fused kernel (``optimizer__fused=True`` unless given; same
        update, fewer operations). The training accuracy is recorded as
        ``train_acc`` in both.
    random_state : int, RandomState instance or None, default=None
        Seeds every fit; ``None`` uses torch's global generator.
    criterion, optimizer, lr, max_epochs, batch_size, train_split, device, \
warm_start, verbose, classes, **kwargs
        As in ``skorch.NeuralNetClassifier``, with the paper's defaults
        (``CrossEntropyLoss``, ``torch.optim.Adam``, ``lr=0.001``, 100 epochs,
        batch size 32, no validation split, ``device="cpu"``, silent).

    Attributes
    ----------
    classes_ : ndarray
        The labels, in the order of the module's outputs.
    n_features_in_ : int
        Number of input features seen at the first fit.
    module_ : torch.nn.Module
        The fitted module.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_cincer.nets import LogRegNet, PaperNetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> net = PaperNetClassifier(LogRegNet, max_epochs=5, random_state=0)
    >>> net.fit(X, y).predict(X[:3]).shape
    (3,)
    """

    def __init__(
        self,
        module,
        *,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=0.001,
        max_epochs=100,
        batch_size=32,
        train_split=None,
        target_accuracy=0.9,
        training="text",
        random_state=None,
        device="cpu",
        warm_start=False,
        verbose=0,
        classes=None,
        **kwargs,
    ):
        kwargs.setdefault("iterator_train", TensorBatches)
        kwargs.setdefault("iterator_valid", TensorBatches)
        kwargs.setdefault("iterator_train__shuffle", True)
        super().__init__(
            module,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            train_split=train_split,
            device=device,
            warm_start=warm_start,
            verbose=verbose,
            classes=classes,
            **kwargs,
        )
        self.target_accuracy = target_accuracy
        self.training = training
        self.random_state = random_state

    @property
    def _default_callbacks(self):
        # "code": the authors' early stop never fired; the accuracy is still
        # recorded, so both trainings can be compared epoch by epoch
        threshold = None if self.training == "code" else self.target_accuracy
        return [
            ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
            ("train_acc", StopAtTrainAccuracy(threshold)),
            ("print_log", PrintLog()),
        ]

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """One epoch; training epochs of a plain net take a lean loop.

        skorch's loop costs more than the step itself for the paper's small
        networks (callbacks notified, a closure and a step accumulator per
        batch). Where nothing needs them (no callbacks beyond the defaults,
        no fit parameters, batches of whole tensors, an optimizer without
        closure), the batches are learned directly; the history records the
        same per-batch loss and size, and the training accuracy, as skorch's
        loop would.
        """
        if not self._lean_epoch(iterator, training, fit_params):
            return super().run_single_epoch(
                iterator, training, prefix, step_fn, **fit_params
            )
        self._set_training(True)
        optimizer = self.optimizer_
        accuracy = dict(self.callbacks_).get("train_acc")
        n_batches = 0
        for Xb, yb in iterator:
            optimizer.zero_grad()
            y_pred = self.infer(Xb)
            loss = self.get_loss(y_pred, yb, X=Xb, training=True)
            loss.backward()
            optimizer.step()
            self.history.new_batch()
            self.history.record_batch(prefix + "_loss", loss.item())
            self.history.record_batch(prefix + "_batch_size", len(yb))
            if isinstance(accuracy, StopAtTrainAccuracy):
                accuracy.count(y_pred.detach(), yb)
            n_batches += 1
        self.history.record(prefix + "_batch_count", n_batches)

    def _lean_epoch(self, iterator, training, fit_params):
        callbacks = self.callbacks
        # a subclass that changes a batch's step or hooks keeps skorch's loop
        own = all(
            getattr(type(self), name) is getattr(PaperNetClassifier, name)
            for name in _BATCH_METHODS
        )
        return (
            training
            and not fit_params
            and own
            and (callbacks is None or callbacks == "disable" or not len(callbacks))
            and isinstance(iterator, TensorBatches)
            and iterator._arrays() is not None
            and list(self._optimizers) == ["optimizer"]
            and not isinstance(self.optimizer_, torch.optim.LBFGS)
        )

    def _check_training(self):
        """Raise on a bad ``training``, before any state changes."""
        if not isinstance(self.training, str) or self.training not in TRAININGS:
            raise ValueError(
                f"training must be one of {list(TRAININGS)} (the paper's text "
                f"or the authors' code), got {self.training!r}."
            )

    # ----------------------------------------------------------- classes

    @property
    def classes_(self):
        try:
            return self.classes_seen_
        except AttributeError:
            if self.classes is not None and len(self.classes):
                return np.unique(np.asarray(self.classes))
            raise AttributeError(
                f"{type(self).__name__} is not fitted: it has no classes_ yet."
            ) from None

    def check_data(self, X, y=None):
        pass  # classes_ are set by _learn_classes, not re-inferred every fit

    def _learn_classes(self, y, classes=None):
        if hasattr(self, "classes_seen_"):
            unknown = np.setdiff1d(np.asarray(y), self.classes_seen_)
            if unknown.size:
                raise ValueError(
                    f"y holds labels {unknown.tolist()} that the network has no "
                    f"output for (classes_ = {self.classes_seen_.tolist()}); pass "
                    "every label with classes= (to the constructor or to the "
                    "first partial_fit) or refit without warm_start."
                )
            return
        if classes is None:
            classes = self.classes
        if classes is None or not len(classes):
            classes = np.unique(np.asarray(y))
        self.classes_seen_ = np.unique(np.asarray(classes))

    def _encode(self, y):
        y = np.asarray(y)
        return np.searchsorted(self.classes_seen_, y).astype(np.int64)

    def _learn_shape(self, X):
        if hasattr(self, "n_features_in_") and self.initialized_:
            return
        shape = getattr(X, "shape", None)
        if shape is not None and len(shape) >= 2:
            self.n_features_in_ = int(np.prod(shape[1:]))

    # --------------------------------------------------------------- fit

    def initialize_module(self):
        kwargs = self.get_params_for("module")
        if isinstance(self.module, type) and _takes_sizes(self.module):
            if not hasattr(self, "n_features_in_") or not hasattr(
                self, "classes_seen_"
            ):
                raise AttributeError(
                    f"{type(self).__name__} builds {self.module.__name__} from "
                    "the data: call fit (or partial_fit) rather than initialize."
                )
            kwargs.setdefault("n_features", self.n_features_in_)
            kwargs.setdefault("n_classes", len(self.classes_seen_))
        self._check_training()
        with _torch_seeded(_seed(self.random_state), self.device):
            self.module_ = self.initialized_instance(self.module, kwargs)
            if self.training == "code":
                keras_initialize(self.module_)
        return self

    def get_params_for_optimizer(self, prefix, named_parameters):
        args, kwargs = super().get_params_for_optimizer(prefix, named_parameters)
        if (
            self.training == "code"
            and prefix == "optimizer"
            and self.optimizer is torch.optim.Adam
        ):
            kwargs.setdefault("eps", _KERAS_ADAM_EPS)
            if (
                _FUSED_ADAM
                and str(self.device).split(":")[0] in ("cpu", "cuda")
                and not kwargs.get("foreach")
            ):  # torch takes one or the other
                # one kernel per parameter rather than a dozen small ops:
                # the paper's nets spend a fifth of their step in Adam
                kwargs.setdefault("fused", True)
        return args, kwargs

    def fit(self, X, y, **fit_params):
        """Fit the network (from its initial weights unless ``warm_start``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or images
        y : array-like of shape (n_samples,)
            Labels, any values.

        Returns
        -------
        self : object
        """
        self._check_training()
        if not self.warm_start or not self.initialized_:
            for attr in ("classes_seen_", "n_features_in_"):
                self.__dict__.pop(attr, None)
            self._learn_classes(y)
            self._learn_shape(X)
        return super().fit(_as_float32(X), y, **fit_params)

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Train for ``max_epochs`` more epochs (or until the target accuracy).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or images
        y : array-like of shape (n_samples,)
        classes : array-like, default=None
            Every label the net will see; used at the first call only.

        Returns
        -------
        self : object
        """
        self._check_training()
        self._learn_classes(y, classes)
        self._learn_shape(X)
        seed = _seed(self.random_state)
        with _torch_seeded(None if seed is None else seed + 1, self.device):
            return super().partial_fit(_as_float32(X), self._encode(y), **fit_params)

    # ----------------------------------------------------------- predict

    def predict_proba(self, X):
        """Class probabilities, one column per class of ``classes_``."""
        return super().predict_proba(_as_float32(X))

    def predict(self, X):
        """The most probable label of each row (a value of ``classes_``)."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def last_layer_view(self, needs="This selector"):
        """The :class:`~sklearn_cincer._core.last_layer.LastLayerView` read by a hook."""
        from ._views import skorch_view

        return skorch_view(self, needs=needs)

    def parameter_view(self, needs="This selector", device=None):
        """A torch :class:`~sklearn_cincer._core.parameter_views.ParameterView` of the net."""
        from ._parameters import skorch_parameter_view

        return skorch_parameter_view(self, needs=needs, device=device)


def _takes_sizes(module_class):
    import inspect

    try:
        names = list(inspect.signature(module_class).parameters)
    except (TypeError, ValueError):
        return False
    return names[:2] == ["n_features", "n_classes"]


def keras_initialize(module):
    """Initialise a module's layers as Keras does: Glorot-uniform weights, zero biases.

    Every ``Linear`` and ``Conv*d`` layer is re-initialised in place (Keras's
    ``glorot_uniform`` computes its fans as ``torch.nn.init.xavier_uniform_``
    does, kernel size included); other layers are left as they are. Uses
    torch's global generator: seed it first.

    Parameters
    ----------
    module : torch.nn.Module

    Returns
    -------
    module : torch.nn.Module
        The same module.

    Examples
    --------
    >>> import torch
    >>> from sklearn_cincer.nets import FCNet, keras_initialize
    >>> net = keras_initialize(FCNet(4, 3))
    >>> float(net.output.bias.detach().abs().sum())
    0.0
    """
    layers = (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, layers):
                torch.nn.init.xavier_uniform_(layer.weight)
                if layer.bias is not None:
                    torch.nn.init.zeros_(layer.bias)
    return module


def _as_float32(X):
    """Numeric arrays and lists as float32, float tensors as float32; else as is."""
    if isinstance(X, (list, tuple)):
        array = np.asarray(X)
        X = array if array.dtype.kind in "fiub" else X
    if isinstance(X, np.ndarray) and X.dtype.kind in "fiub" and X.dtype != np.float32:
        return X.astype(np.float32)
    if torch.is_tensor(X) and X.is_floating_point() and X.dtype != torch.float32:
        return X.float()
    return X


_NET_PARAMS_DOC = """
    Parameters
    ----------
    module : torch module class, default={module}
    target_accuracy : float or None, default={target}
        Training stops once the training accuracy of an epoch reaches it
        (with ``training="text"``).
    training : {{"text", "code"}}, default="text"
        The paper's stated rule, or what the authors' code did (all
        ``max_epochs`` epochs, Keras's initialisation and Adam epsilon); see
        :class:`PaperNetClassifier`.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, shuffling and dropout of every fit.
    device : str, default="cpu"
        Where the network trains and predicts ("cpu", "cuda", "cuda:1").
    **kwargs
        Any other parameter of :class:`PaperNetClassifier` or
        ``skorch.NeuralNetClassifier`` (``max_epochs``, ``batch_size``,
        ``warm_start``, ``module__dropout``...).
"""


class FCNetClassifier(PaperNetClassifier):
    __doc__ = (
        """The paper's fully connected network (:class:`FCNet`), ready to fit.

    The paper's training rule (see :class:`PaperNetClassifier`): Adam, batch
    size 32, up to 100 epochs, stopping at 90% training accuracy.
"""
        + _NET_PARAMS_DOC.format(module="FCNet", target=0.9)
        + """
    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn_cincer.nets import FCNetClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> net = FCNetClassifier(max_epochs=3, random_state=0).fit(X[:64] / 16, y[:64])
    >>> len(net.history), net.predict(X[:2] / 16).shape
    (3, (2,))
"""
    )

    def __init__(
        self,
        module=FCNet,
        *,
        target_accuracy=0.9,
        random_state=None,
        device="cpu",
        **kwargs,
    ):
        super().__init__(
            module,
            target_accuracy=target_accuracy,
            random_state=random_state,
            device=device,
            **kwargs,
        )


class ConvNetClassifier(PaperNetClassifier):
    __doc__ = (
        """The paper's convolutional network (:class:`ConvNet`), ready to fit.

    Takes flat rows of square single-channel images (64 values: 8x8 digits;
    784: 28x28 MNIST), or set ``module__image_shape=(c, h, w)``. The paper's
    training rule (see :class:`PaperNetClassifier`).
"""
        + _NET_PARAMS_DOC.format(module="ConvNet", target=0.9)
        + """
    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn_cincer.nets import ConvNetClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> net = ConvNetClassifier(max_epochs=1, random_state=0)
    >>> net.fit(X[:32] / 16, y[:32]).predict_proba(X[:2]).shape
    (2, 10)
"""
    )

    def __init__(
        self,
        module=ConvNet,
        *,
        target_accuracy=0.9,
        random_state=None,
        device="cpu",
        **kwargs,
    ):
        super().__init__(
            module,
            target_accuracy=target_accuracy,
            random_state=random_state,
            device=device,
            **kwargs,
        )


class LogRegNetClassifier(PaperNetClassifier):
    __doc__ = (
        """Logistic regression as a network (:class:`LogRegNet`), ready to fit.

    The paper's rule for its logistic-regression model: as
    :class:`PaperNetClassifier`, stopping at 70% training accuracy.
"""
        + _NET_PARAMS_DOC.format(module="LogRegNet", target=0.7)
        + """
    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_cincer.nets import LogRegNetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> net = LogRegNetClassifier(max_epochs=2, random_state=0).fit(X, y)
    >>> net.classes_, net.target_accuracy
    (array([0, 1, 2]), 0.7)
"""
    )

    def __init__(
        self,
        module=LogRegNet,
        *,
        target_accuracy=0.7,
        random_state=None,
        device="cpu",
        **kwargs,
    ):
        super().__init__(
            module,
            target_accuracy=target_accuracy,
            random_state=random_state,
            device=device,
            **kwargs,
        )
