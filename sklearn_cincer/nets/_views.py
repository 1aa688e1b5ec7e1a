"""Reading the last layer of a skorch classifier with a forward hook.

``h(x)``, the input of the module's last ``torch.nn.Linear`` layer, is caught
by a forward hook while the module runs on batches of rows (never one row at
a time). Which layer is "last" is, by default, the last ``nn.Linear``
registered in the module; a module names another one with a
``cincer_last_layer`` attribute (the dotted name of the layer, as in
``module.named_modules()``, or the layer itself)::

    class Net(torch.nn.Module):
        cincer_last_layer = "head.2"
        ...

Every time features are read, the outputs of that layer are checked against
the net's own probabilities (``predict_proba``: its softmax, or the module's
softmax output, or a sigmoid for one logit), so a wrong guess is an error that
says how to name the layer, never silently wrong numbers.
"""

import numpy as np
import torch
from torch import nn

from .._core.last_layer import LastLayerView

#: Name of the module attribute that names the last linear layer.
LAST_LAYER_ATTRIBUTE = "cincer_last_layer"

#: Rows per forward pass when reading features.
FEATURE_BATCH_SIZE = 4096


def _fitted_module(estimator, needs):
    module = getattr(estimator, "module_", None)
    if not getattr(estimator, "initialized_", False) or module is None:
        raise TypeError(
            f"{needs} needs a fitted skorch net; {type(estimator).__name__} is "
            "not initialized (call fit first)."
        )
    return module


def _how_to_name(module):
    return (
        f"Name the layer whose input is h(x) and whose outputs are the logits "
        f"of predict_proba with an attribute on the module, e.g. "
        f"`{type(module).__name__}.{LAST_LAYER_ATTRIBUTE} = 'output'` (the "
        "dotted name in module.named_modules())."
    )


def find_last_layer(module, needs="This selector"):
    """The last linear layer of a torch module and its name.

    Parameters
    ----------
    module : torch.nn.Module
    needs : str
        Who asks, named in errors.

    Returns
    -------
    name : str
    layer : torch.nn.Linear

    Examples
    --------
    >>> from sklearn_cincer.nets import FCNet, find_last_layer
    >>> find_last_layer(FCNet(4, 3))[0]
    'output'
    """
    names = {id(m): name for name, m in module.named_modules()}
    hint = getattr(module, LAST_LAYER_ATTRIBUTE, None)
    if hint is not None:
        if isinstance(hint, str):
            layer = dict(module.named_modules()).get(hint)
            if layer is None:
                raise TypeError(
                    f"{needs}: {type(module).__name__}.{LAST_LAYER_ATTRIBUTE} = "
                    f"{hint!r} names no submodule; known names: "
                    f"{[n for n, _ in module.named_modules() if n][:20]}."
                )
        else:
            layer = hint
        if not isinstance(layer, nn.Linear):
            raise TypeError(
                f"{needs}: {type(module).__name__}.{LAST_LAYER_ATTRIBUTE} names "
                f"a {type(layer).__name__}, not a torch.nn.Linear layer."
            )
        return names.get(id(layer), str(hint)), layer
    linear = [(n, m) for n, m in module.named_modules() if isinstance(m, nn.Linear)]
    if not linear:
        raise TypeError(
            f"{needs} needs the input of the last linear layer of the network, "
            f"but {type(module).__name__} has no torch.nn.Linear layer. "
            + _how_to_name(module)
        )
    return linear[-1]


def _link(estimator, layer, needs):
    classes = np.asarray(estimator.classes_)
    k = layer.out_features
    if k == len(classes) and k >= 2:
        return classes, "softmax"
    if k == 1 and len(classes) == 2:
        return classes, "logistic"
    raise TypeError(
        f"{needs}: the last linear layer has {k} outputs but the classifier has "
        f"{len(classes)} classes ({classes.tolist()}). Each class needs one output "
        "(or one logit for two classes); pass classes= to the skorch net when the "
        "training data lack a class. " + _how_to_name(estimator.module_)
    )


def _to_input(estimator, X, module):
    """Rows of ``X`` as a tensor on the net's device, in the module's dtype."""
    if torch.is_tensor(X):
        tensor = X
    else:
        tensor = torch.as_tensor(np.asarray(X))
    param = next(module.parameters(), None)
    if param is not None and tensor.is_floating_point():
        tensor = tensor.to(param.dtype)
    return tensor.to(estimator.device)


def _probabilities(estimator, outputs):
    """The net's own ``predict_proba`` from raw module outputs (a tensor)."""
    nonlin = estimator._get_predict_nonlinearity()
    proba = nonlin(outputs)
    if isinstance(proba, tuple):
        proba = proba[0]
    proba = proba.detach()
    if proba.dim() == 1:
        proba = torch.stack([1 - proba, proba], dim=1)
    return proba


def hooked_forward(estimator, X, layer, batch_size=FEATURE_BATCH_SIZE):
    """Inputs and outputs of ``layer`` and the net's probabilities, in batches.

    The module runs in evaluation mode (no dropout) without gradients; its
    training mode is restored afterwards.

    Returns
    -------
    H, Z, P : torch tensors on the net's device
        ``H`` the layer's inputs ``(n, d)``, ``Z`` its outputs ``(n, k)``,
        ``P`` the net's probabilities ``(n, c)``.
    """
    module = estimator.module_
    caught = []

    def hook(_, inputs, output):
        caught.append((inputs[0].detach(), output.detach()))

    handle = layer.register_forward_hook(hook)
    was_training = module.training
    Hs, Zs, Ps = [], [], []
    try:
        module.eval()
        with torch.no_grad():
            n = len(X)
            for start in range(0, n, batch_size):
                xb = _to_input(estimator, X[start : start + batch_size], module)
                caught.clear()
                out = estimator.infer(xb)
                if isinstance(out, tuple):
                    out = out[0]
                if len(caught) != 1:
                    raise TypeError(
                        f"The layer read as the last layer ran {len(caught)} times "
                        "in one forward pass; it must run exactly once. "
                        + _how_to_name(module)
                    )
                h, z = caught[0]
                Hs.append(h.reshape(h.shape[0], -1) if h.dim() != 2 else h)
                Zs.append(z.reshape(z.shape[0], -1))
                Ps.append(_probabilities(estimator, out))
    finally:
        handle.remove()
        module.train(was_training)
    if not Hs:
        d = layer.in_features
        empty = torch.zeros((0, d), device=estimator.device)
        return empty, torch.zeros((0, layer.out_features)), torch.zeros((0, 0))
    return torch.cat(Hs), torch.cat(Zs), torch.cat(Ps)


def check_outputs(Z, P, link, name, module, needs, atol=1e-4):
    """Raise unless the link of the layer's outputs ``Z`` gives the net's ``P``."""
    Z = Z.double()
    if link == "softmax":
        Q = torch.softmax(Z, dim=1)
    else:
        p = torch.sigmoid(Z[:, 0])
        Q = torch.stack([1 - p, p], dim=1)
    if Q.shape != P.shape or not torch.allclose(Q, P.double(), atol=atol, rtol=0):
        gap = float((Q - P.double()).abs().max()) if Q.shape == P.shape else "shape"
        raise TypeError(
            f"{needs}: the {link} of the outputs of layer {name!r} does not give "
            f"the net's predict_proba (largest difference {gap}), so {name!r} is "
            "not the network's last layer (or the module ends in something other "
            "than a softmax/sigmoid). " + _how_to_name(module)
        )


class HookedFeatures:
    """``h(X)`` of a skorch net, caught by a forward hook and checked.

    A callable object (``numpy`` float64 out) rather than a closure, so that
    views and fitted selectors pickle. The layer is found again from the
    net's module after unpickling (pickling a skorch net saves its module
    apart, so a layer object kept here would no longer be the module's).

    Parameters
    ----------
    estimator : fitted skorch classifier
    link : {"softmax", "logistic"}
        The link whose outputs must give the net's ``predict_proba``.
    needs : str
        Who asks, named in errors.
    layer : tuple (name, torch.nn.Linear), default=None
        The layer, when already found by :func:`find_last_layer`.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer.nets import LogRegNetClassifier
    >>> from sklearn_cincer.nets._views import HookedFeatures
    >>> X = np.random.RandomState(0).rand(20, 3)
    >>> y = (X[:, 0] > 0.5).astype(int)
    >>> net = LogRegNetClassifier(max_epochs=2, random_state=0).fit(X, y)
    >>> HookedFeatures(net, "softmax", "doc").tensors(X)[0].shape
    torch.Size([20, 3])
    """

    def __init__(self, estimator, link, needs, layer=None):
        self.estimator = estimator
        self.link = link
        self.needs = needs
        self._layer = layer

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_layer"] = None
        return state

    @property
    def layer(self):
        """The name and the ``nn.Linear`` layer read, found once."""
        if self._layer is None:
            self._layer = find_last_layer(self.estimator.module_, self.needs)
        return self._layer

    def tensors(self, X):
        """``h(X)`` and the net's probabilities ``P``: tensors on the net's device.

        Raises
        ------
        TypeError
            When the layer's outputs do not give ``predict_proba``.
        """
        name, layer = self.layer
        H, Z, P = hooked_forward(self.estimator, X, layer)
        check_outputs(Z, P, self.link, name, self.estimator.module_, self.needs)
        return H, P

    def __call__(self, X):
        return self.tensors(X)[0].double().cpu().numpy()


def skorch_view(estimator, needs="This selector"):
    """The :class:`~sklearn_cincer._core.last_layer.LastLayerView` of a fitted skorch classifier.

    The last layer is the module's last ``torch.nn.Linear`` (or the one its
    ``cincer_last_layer`` attribute names); ``h(x)`` is its input, read with a
    forward hook in batches. The layer must produce the logits of the net's
    ``predict_proba`` (softmax over one output per class, or a sigmoid of one
    logit for two classes), whether the softmax is in the module or in the
    net's predict nonlinearity; this is checked every time features are read.

    Parameters
    ----------
    estimator : fitted skorch classifier
    needs : str
        Who asks, named in errors.

    Returns
    -------
    LastLayerView

    Raises
    ------
    TypeError
        When the module has no linear layer, the named layer is not linear,
        or its outputs do not give ``predict_proba``; the message says how to
        name the right layer.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer.nets import LogRegNetClassifier, skorch_view
    >>> X = np.random.RandomState(0).rand(20, 3)
    >>> y = (X[:, 0] > 0.5).astype(int)
    >>> net = LogRegNetClassifier(max_epochs=2, random_state=0).fit(X, y)
    >>> view = skorch_view(net)
    >>> view.link, view.coef.shape, view.features(X).shape
    ('softmax', (2, 3), (20, 3))
    """
    module = _fitted_module(estimator, needs)
    name, layer = find_last_layer(module, needs)
    classes, link = _link(estimator, layer, needs)
    coef = layer.weight.detach().double().cpu().numpy()
    intercept = (
        None if layer.bias is None else layer.bias.detach().double().cpu().numpy()
    )
    transform = HookedFeatures(estimator, link, needs, layer=(name, layer))
    return LastLayerView(classes, link, coef, intercept, transform=transform)
