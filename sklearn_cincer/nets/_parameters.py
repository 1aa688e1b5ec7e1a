"""All parameters of a skorch network, by torch.func: the torch ParameterView.

Per-example gradients are ``vmap(grad(log P(y|x)))`` over batches of rows;
``G v`` is a forward-mode ``jvp`` (no ``n x n_params`` matrix, not even per
batch); Hessian-vector products are forward-over-reverse
(``jvp(grad(L))``). Everything runs on a float64 copy of the module, in
evaluation mode (no dropout), on ``device``; numpy comes in and out, as
the :class:`~sklearn_cincer._core.parameter_views.ParameterView` contract says.
"""

import copy
import math
import os

import numpy as np
import torch
from torch.func import functional_call, grad, jvp, vmap

from .._core.parameter_views import ParameterView
from ._views import find_last_layer

#: Fraction of the free memory (of the device, or of the host for the CPU)
#: that a full Fisher matrix may take before :meth:`fisher` refuses.
FISHER_MEMORY_FRACTION = 0.5


def _free_bytes(device):
    device = torch.device(device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        return 8 * 2**30


def _human(n_bytes):
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n_bytes < 1024 or unit == "PiB":
            return f"{n_bytes:,.1f} {unit}"
        n_bytes /= 1024


# ``outputs -> log P(. | x)`` for each criterion: module-level functions, not
# closures, so that a TorchParameterView (and a selector holding one) pickles.


def _log_softmax(out):
    return torch.log_softmax(out, dim=-1)


def _log_of_probabilities(out):
    return torch.log(out.clamp_min(torch.finfo(out.dtype).tiny))


def _binary_log_sigmoid(out):
    z = out.reshape(out.shape[0], -1)[:, 0] if out.dim() > 1 else out
    return torch.stack(
        [torch.nn.functional.logsigmoid(-z), torch.nn.functional.logsigmoid(z)],
        dim=-1,
    )


def _log_proba_fn(estimator, needs):
    """``outputs -> log P(. | x)`` for the net's criterion."""
    criterion = estimator.criterion_
    if isinstance(criterion, torch.nn.CrossEntropyLoss):
        return _log_softmax
    if isinstance(criterion, torch.nn.NLLLoss):
        # skorch's NeuralNetClassifier feeds log(output) to NLLLoss: the
        # module outputs probabilities (it ends in a softmax).
        return _log_of_probabilities
    if isinstance(criterion, torch.nn.BCEWithLogitsLoss):
        return _binary_log_sigmoid
    raise TypeError(
        f"{needs} needs log P(y|x) of the network, known for the criteria "
        "CrossEntropyLoss (logits), NLLLoss (a module ending in a softmax, as "
        "skorch's NeuralNetClassifier expects) and BCEWithLogitsLoss; this net "
        f"uses {type(criterion).__name__}."
    )


class TorchParameterView(ParameterView):
    """Gradients and curvature of every trainable parameter of a skorch net.

    Parameters
    ----------
    estimator : fitted skorch classifier
    needs : str, default="This selector"
        Who asks, named in errors.
    device : str or torch.device, default=None
        Where to compute; ``None`` for the net's own ``device``.
    dtype : torch.dtype, default=torch.float64
        Precision of the computations (a copy of the module is cast to it).

    Notes
    -----
    The objective is the mean of the net's loss, ``-log P(y | x)``, over the
    training rows plus ``weight_decay / 2 * ||theta||^2`` when the optimizer
    has a ``weight_decay`` parameter (Adam's and SGD's L2 penalty, which does
    not scale with ``n_samples``). Parameters are flattened in the order of
    ``module_.named_parameters()``, trainable ones only.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer.nets import LogRegNetClassifier, TorchParameterView
    >>> X = np.random.RandomState(0).rand(20, 3)
    >>> y = (X[:, 0] > 0.5).astype(int)
    >>> net = LogRegNetClassifier(max_epochs=2, random_state=0).fit(X, y)
    >>> view = TorchParameterView(net)
    >>> view.n_params, next(view.gradients(X, y)).shape
    (8, (20, 8))
    """

    def __init__(
        self, estimator, needs="This selector", device=None, dtype=torch.float64
    ):
        if not getattr(estimator, "initialized_", False):
            raise TypeError(
                f"{needs} needs a fitted skorch net; {type(estimator).__name__} "
                "is not initialized (call fit first)."
            )
        self.needs = needs
        self.device = torch.device(estimator.device if device is None else device)
        self.dtype = dtype
        self.classes = np.asarray(estimator.classes_)
        module = copy.deepcopy(estimator.module_).to(device=self.device, dtype=dtype)
        module.eval()
        for p in module.parameters():
            p.requires_grad_(False)
        self.module = module
        self._names = [
            n for n, p in estimator.module_.named_parameters() if p.requires_grad
        ]
        named = dict(module.named_parameters())
        self._params = {n: named[n].detach() for n in self._names}
        self._shapes = [self._params[n].shape for n in self._names]
        self._sizes = [self._params[n].numel() for n in self._names]
        self.n_params = int(sum(self._sizes))
        self._log_proba = _log_proba_fn(estimator, needs)
        self._estimator = estimator
        self._input_dtype = next(estimator.module_.parameters()).dtype
        params = estimator.get_params()
        self.weight_decay = float(params.get("optimizer__weight_decay", 0.0) or 0.0)
        if "AdamW" in getattr(estimator.optimizer, "__name__", ""):
            self.weight_decay = 0.0  # decoupled decay: not part of an objective
        self._checked = False

    # --------------------------------------------------------- plumbing

    def _tensor(self, X):
        X = X if torch.is_tensor(X) else torch.as_tensor(np.asarray(X))
        if X.is_floating_point():
            X = X.to(self.dtype)
        return X.to(self.device)

    def _labels(self, y):
        y = np.asarray(y).reshape(-1)
        index = np.searchsorted(self.classes, y)
        index = np.clip(index, 0, len(self.classes) - 1)
        bad = self.classes[index] != y
        if bad.any():
            raise ValueError(
                f"Labels {np.unique(y[bad]).tolist()} are not among the net's "
                f"classes {self.classes.tolist()}."
            )
        return torch.as_tensor(index, device=self.device)

    def _flat(self, tensors, batched):
        parts = [
            tensors[n].reshape(tensors[n].shape[0], -1)
            if batched
            else tensors[n].reshape(-1)
            for n in self._names
        ]
        return torch.cat(parts, dim=-1)

    def _unflat(self, v):
        v = torch.as_tensor(np.asarray(v, dtype=float), device=self.device)
        v = v.to(self.dtype)
        if v.shape != (self.n_params,):
            raise ValueError(
                f"Expected a vector of {self.n_params} parameters, got shape "
                f"{tuple(v.shape)}."
            )
        out, start = {}, 0
        for name, shape, size in zip(self._names, self._shapes, self._sizes):
            out[name] = v[start : start + size].reshape(shape)
            start += size
        return out

    def _log_p(self, params, X):
        return self._log_proba(functional_call(self.module, params, (X,)))

    def _check(self, X):
        """Once: the log-probabilities must match the net's predict_proba."""
        if self._checked or len(X) == 0:
            return
        X = X[:16]
        with torch.no_grad():
            mine = self._log_p(self._params, self._tensor(X)).exp().cpu()
        theirs = torch.as_tensor(
            np.asarray(self._estimator.predict_proba(_as_input(X, self._input_dtype)))
        )
        if mine.shape != theirs.shape or not torch.allclose(
            mine.double(), theirs.double(), atol=1e-4, rtol=0
        ):
            raise TypeError(
                f"{self.needs}: the log-probabilities read from the module's "
                "outputs and its criterion do not match predict_proba; a module "
                "with CrossEntropyLoss must return logits, one with NLLLoss "
                "probabilities."
            )
        self._checked = True

    def _example_log_p(self, params, x, label):
        return self._log_p(params, x.unsqueeze(0))[0].gather(0, label.reshape(1))[0]

    # ---------------------------------------------------------- contract

    def parameters(self):
        return self._flat(self._params, batched=False).double().cpu().numpy()

    def predict_proba(self, X, batch_size=1024):
        X = np.asarray(X) if not torch.is_tensor(X) else X
        self._check(X)
        parts = []
        with torch.no_grad():
            for start in range(0, len(X), batch_size):
                xb = self._tensor(X[start : start + batch_size])
                parts.append(self._log_p(self._params, xb).exp().double().cpu())
        if not parts:
            return np.zeros((0, len(self.classes)))
        return torch.cat(parts).numpy()

    def _batch_gradients(self, xb, yb):
        per_example = vmap(grad(self._example_log_p), in_dims=(None, 0, 0))
        return self._flat(per_example(self._params, xb, yb), batched=True)

    def gradients(self, X, y, batch_size=256):
        """Yield per-example gradients of ``log P(y|x)`` (vmap of grad), batched."""
        X = np.asarray(X) if not torch.is_tensor(X) else X
        self._check(X)
        labels = self._labels(y)
        for start in range(0, len(X), batch_size):
            xb = self._tensor(X[start : start + batch_size])
            G = self._batch_gradients(xb, labels[start : start + batch_size])
            yield G.double().cpu().numpy()

    def gradient_dot(self, X, y, v, batch_size=256):
        """``G v`` by forward-mode differentiation, without forming ``G``."""
        X = np.asarray(X) if not torch.is_tensor(X) else X
        self._check(X)
        labels = self._labels(y)
        tangent = self._unflat(v)
        parts = []
        for start in range(0, len(X), batch_size):
            xb = self._tensor(X[start : start + batch_size])
            yb = labels[start : start + batch_size]

            def picked(params):  # called at once, in this iteration
                logp = self._log_p(params, xb)  # noqa: B023
                return logp.gather(1, yb[:, None])[:, 0]  # noqa: B023

            _, dot = jvp(picked, (self._params,), (tangent,))
            parts.append(dot.double().cpu())
        return torch.cat(parts).numpy() if parts else np.zeros(0)

    def fisher_nbytes(self):
        """Bytes of the ``n_params x n_params`` float64 Fisher matrix."""
        return 8 * self.n_params**2

    def check_fisher_fits(self):
        """Raise ``MemoryError`` when the full Fisher would not fit in memory."""
        need = self.fisher_nbytes()
        free = _free_bytes(self.device)
        if need > FISHER_MEMORY_FRACTION * free:
            raise MemoryError(
                f"{self.needs}: the full Fisher information of this network has "
                f"{self.n_params:,} parameters, so it is a {self.n_params:,} x "
                f"{self.n_params:,} matrix that needs {_human(need)} in float64; "
                f"only {_human(free)} is free on {self.device} (at most "
                f"{FISHER_MEMORY_FRACTION:.0%} of it may be used). Use "
                "TopFisherSelector (the last layer only) or PracticalFisherSelector "
                "for a network this size."
            )

    def fisher(self, X, batch_size=256):
        """The true Fisher over ``X``, built on ``device`` from per-example gradients.

        Raises
        ------
        MemoryError
            When the ``n_params x n_params`` matrix would take more than
            :data:`FISHER_MEMORY_FRACTION` of the free memory; the message
            gives the size it would need.
        """
        self.check_fisher_fits()
        X = np.asarray(X) if not torch.is_tensor(X) else X
        self._check(X)
        F = torch.zeros(
            (self.n_params, self.n_params), dtype=torch.float64, device=self.device
        )
        n = len(X)
        if n == 0:
            return F.cpu().numpy()
        c = len(self.classes)
        for start in range(0, n, batch_size):
            xb = self._tensor(X[start : start + batch_size])
            with torch.no_grad():
                root = self._log_p(self._params, xb).exp().sqrt()
            for a in range(c):
                labels = torch.full((xb.shape[0],), a, device=self.device)
                G = self._batch_gradients(xb, labels).double() * root[:, a : a + 1]
                F.addmm_(G.T, G)
        F /= n
        return F.cpu().numpy()

    def _mean_loss(self, params, xb, yb):
        logp = self._log_p(params, xb)
        return -logp.gather(1, yb[:, None]).mean()

    def hvp(self, X, y, v, n_samples=None, batch_size=1024):
        """Hessian of the training objective on ``(X, y)`` times ``v`` (jvp of grad).

        The weight decay term does not depend on ``n_samples``.
        """
        X = np.asarray(X) if not torch.is_tensor(X) else X
        self._check(X)
        labels = self._labels(y)
        tangent = self._unflat(v)
        n = len(X)
        out = torch.zeros(self.n_params, dtype=torch.float64, device=self.device)
        for start in range(0, n, batch_size):
            xb = self._tensor(X[start : start + batch_size])
            yb = labels[start : start + batch_size]
            _, Hv = jvp(
                grad(lambda p: self._mean_loss(p, xb, yb)),  # noqa: B023 (now)
                (self._params,),
                (tangent,),
            )
            out += self._flat(Hv, batched=False).double() * (xb.shape[0] / n)
        if self.weight_decay:
            out += self.weight_decay * self._flat(tangent, batched=False).double()
        return out.cpu().numpy()

    def null_space(self):
        """Shifts of all softmax logits by the same amount, in the last layer.

        With a softmax over the last linear layer's outputs, adding the same
        vector to every row of its weights (and the same number to every
        bias) changes no probability: ``d + 1`` orthonormal directions.
        Empty for other links.
        """
        empty = np.zeros((self.n_params, 0))
        criterion = self._estimator.criterion_
        c = len(self.classes)
        if not isinstance(criterion, (torch.nn.CrossEntropyLoss, torch.nn.NLLLoss)):
            return empty
        try:
            name, layer = find_last_layer(self._estimator.module_, self.needs)
        except TypeError:
            return empty
        if layer.out_features != c or c < 2:
            return empty
        offsets, start = {}, 0
        for pname, size in zip(self._names, self._sizes):
            offsets[pname] = start
            start += size
        prefix = f"{name}." if name else ""
        w_name, b_name = prefix + "weight", prefix + "bias"
        if w_name not in offsets:
            return empty
        d = layer.in_features
        columns = []
        for j in range(d):
            col = np.zeros(self.n_params)
            col[offsets[w_name] + np.arange(c) * d + j] = 1 / math.sqrt(c)
            columns.append(col)
        if layer.bias is not None and b_name in offsets:
            col = np.zeros(self.n_params)
            col[offsets[b_name] + np.arange(c)] = 1 / math.sqrt(c)
            columns.append(col)
        return np.stack(columns, axis=1)


def _as_input(X, dtype):
    if torch.is_tensor(X):
        return X.to(dtype)
    X = np.asarray(X)
    if np.issubdtype(X.dtype, np.floating):
        return X.astype(torch.empty(0, dtype=dtype).numpy().dtype)
    return X


def skorch_parameter_view(estimator, needs="This selector", device=None):
    """The torch :class:`~sklearn_cincer._core.parameter_views.ParameterView` of a skorch net.

    Parameters
    ----------
    estimator : fitted skorch classifier
    needs : str
        Who asks, named in errors.
    device : str or None
        Where to compute ("cpu", "cuda"); ``None`` for the net's own device.

    Returns
    -------
    TorchParameterView

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer.nets import LogRegNetClassifier, skorch_parameter_view
    >>> X = np.random.RandomState(0).rand(20, 3)
    >>> y = (X[:, 0] > 0.5).astype(int)
    >>> net = LogRegNetClassifier(max_epochs=2, random_state=0).fit(X, y)
    >>> skorch_parameter_view(net).hvp(X, y, np.ones(8)).shape
    (8,)
    """
    return TorchParameterView(estimator, needs=needs, device=device)
