"""How to read the last layer of each kind of fitted classifier.

A :class:`LastLayerView` gives the selectors what Eq. 14 needs from a fitted
model, whatever its kind: the features ``h(x)`` that feed the last layer, the
layer's weights, bias and link, and the link's outputs ``P``. Views for
scikit-learn's linear models, ``MLPClassifier`` and pipelines ending in one
live here; the skorch view lives in :mod:`sklearn_cincer.nets`, which
registers it (:mod:`sklearn_cincer._core.view_registry`), so that this module never
imports torch nor ``nets``.

Every view and every feature map it holds is a module-level class, never a
closure, so that a fitted selector (and a fitted cleaner) can be pickled.
"""

import numpy as np
from scipy.special import expit, softmax
from sklearn.base import is_classifier
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from .fisher_math import _check_link
from .view_registry import checked_view, find_last_layer_view


class LastLayerView:
    """The last layer of a fitted classifier, as the selectors see it.

    A model whose ``predict_proba`` is a link (softmax or sigmoid) of an
    affine map of some features ``h(x)`` is described by that map:
    ``P = link(h(X) @ coef.T + intercept)``. The selectors differentiate
    ``log P(y | x)`` with respect to ``coef`` and ``intercept`` only, so
    ``h`` may be anything (a kernel map, a frozen network, a fitted
    transformer), computed by ``transform``.

    Parameters
    ----------
    classes : array-like of shape (c,)
        The labels of the model, in the order of its outputs (the fitted
        estimator's ``classes_``): sorted, without repeats.
    link : {"softmax", "logistic", "ovr"}
        See :data:`~sklearn_cincer.extend.LINKS`: ``"softmax"`` with
        ``k = c`` outputs, ``"logistic"`` with one output for two classes
        (the probability of ``classes[1]``), ``"ovr"`` with ``k = c``
        independent sigmoids.
    coef : array-like of shape (k, d)
        Weights of the last layer (``k = 1`` for the logistic link).
    intercept : array-like of shape (k,) or None
        Bias of the last layer, ``None`` when the model has none.
    transform : callable, default=None
        Maps input rows ``X`` to the features ``h(X)`` of shape ``(n, d)``;
        ``None`` for the identity (linear models). A module-level function or
        a callable object, not a closure, so that a fitted selector holding
        the view can be pickled.

    Raises
    ------
    ValueError
        When the shapes do not agree with the link and the classes, or the
        classes are not sorted and distinct (labels would be matched to the
        wrong outputs).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer.extend import LastLayerView
    >>> view = LastLayerView(["a", "b", "c"], "softmax", np.eye(3, 2),
    ...                      np.zeros(3), transform=np.square)
    >>> H = view.features(np.array([[1.0, -2.0]]))
    >>> H
    array([[1., 4.]])
    >>> view.outputs(H).round(3)
    array([[0.047, 0.936, 0.017]])
    >>> view.encode(["c", "z"])  # -1: a label the model has no output for
    array([ 2, -1])
    """

    def __init__(self, classes, link, coef, intercept=None, transform=None):
        _check_link(link)
        self.classes = np.asarray(classes)
        self.link = link
        self.coef = np.asarray(coef, dtype=float)
        self.intercept = None if intercept is None else np.asarray(intercept, float)
        if transform is not None and not callable(transform):
            raise ValueError(
                f"transform must be callable or None, got {type(transform).__name__}."
            )
        self._transform = transform
        _check_shapes(self)

    @property
    def transform(self):
        """The map from input rows to ``h(X)``; ``None`` for the identity."""
        return self._transform

    @property
    def fit_intercept(self):
        return self.intercept is not None

    @property
    def n_outputs(self):
        return self.coef.shape[0]

    def features(self, X):
        """``h(X)``: the input of the last layer, computed in one batch."""
        if self._transform is None:
            H = np.asarray(X, dtype=float)
        else:
            H = np.asarray(self._transform(X), dtype=float)
        n_rows = getattr(X, "shape", (len(X),))[0]
        if H.ndim != 2 or H.shape != (n_rows, self.coef.shape[1]):
            # A feature map from outside the package that disagrees with
            # the weights would otherwise fail inside a matrix product.
            raise ValueError(
                f"The last layer's features of {n_rows} rows must have shape "
                f"({n_rows}, {self.coef.shape[1]}) to match coef, got {H.shape}."
            )
        return H

    def logits(self, H):
        Z = H @ self.coef.T
        if self.intercept is not None:
            Z += self.intercept
        return Z

    def outputs(self, H):
        """``P``: the outputs of the link at features ``H``."""
        Z = self.logits(H)
        if self.link == "softmax":
            return softmax(Z, axis=1)
        return expit(Z)

    def encode(self, y):
        """Label values to output indices; ``-1`` for labels the model lacks."""
        y = np.asarray(y)
        if y.ndim == 0:
            y = y.reshape(1)
        index = np.searchsorted(self.classes, y)
        index = np.clip(index, 0, len(self.classes) - 1)
        found = self.classes[index] == y
        return np.where(found, index, -1)


def _sorted_and_distinct(classes):
    try:
        return bool(np.all(classes[1:] > classes[:-1]))
    except TypeError:  # labels of types that do not compare (1 and "a")
        return False


def _check_shapes(view):
    """One clear error for a view whose parts do not fit together."""
    classes, coef, intercept = view.classes, view.coef, view.intercept
    problem = None
    if classes.ndim != 1 or len(classes) < 2:
        problem = f"classes must list at least 2 labels, got {classes!r}"
    elif not _sorted_and_distinct(classes):
        # encode() looks labels up by bisection: unsorted classes would
        # match labels to the wrong outputs.
        problem = f"classes must be sorted and distinct, got {classes!r}"
    elif coef.ndim != 2:
        problem = f"coef must be 2-D (k, d), got shape {coef.shape}"
    elif coef.shape[0] != (1 if view.link == "logistic" else len(classes)):
        problem = (
            f"the {view.link!r} link with {len(classes)} classes needs "
            f"{'1 output' if view.link == 'logistic' else f'{len(classes)} outputs'}"
            f", but coef has {coef.shape[0]} rows"
        )
    elif view.link == "logistic" and len(classes) != 2:
        problem = f"the 'logistic' link needs 2 classes, got {len(classes)}"
    elif intercept is not None and intercept.shape != (coef.shape[0],):
        problem = f"intercept must have shape ({coef.shape[0]},), got {intercept.shape}"
    if problem is not None:
        raise ValueError(f"LastLayerView: {problem}.")


def _unsupported(estimator, needs):
    return TypeError(
        f"{needs} needs access to the last layer of the classifier, which is "
        f"not known for {type(estimator).__name__}. Supported are "
        "LogisticRegression, SGDClassifier(loss='log_loss'), MLPClassifier, "
        "skorch classifiers whose module ends in a linear layer, and Pipelines "
        "ending in one of these. To support another family, register a view of "
        "its last layer with sklearn_cincer.extend.register_last_layer_view; "
        "else use a selector that needs only the inputs "
        "(NearestNeighborSelector, RandomSelector)."
    )


def _linear_view(estimator):
    classes = estimator.classes_
    coef = estimator.coef_
    intercept = estimator.intercept_ if estimator.fit_intercept else None
    if len(classes) == 2:
        return LastLayerView(classes, "logistic", coef, intercept)
    if isinstance(estimator, SGDClassifier) or _is_ovr_logistic(estimator):
        return LastLayerView(classes, "ovr", coef, intercept)
    return LastLayerView(classes, "softmax", coef, intercept)


def _is_ovr_logistic(estimator):
    # Older scikit-learn has ``multi_class``; liblinear is always one-vs-rest.
    multi_class = getattr(estimator, "multi_class", "auto")
    return multi_class == "ovr" or getattr(estimator, "solver", None) == "liblinear"


def _identity(Z):
    return Z


def _relu(Z):
    return np.maximum(Z, 0.0)


_ACTIVATIONS = {
    "identity": _identity,
    "logistic": expit,
    "tanh": np.tanh,
    "relu": _relu,
}


class MLPHiddenLayers:
    """``h(X)`` of an ``MLPClassifier``: the output of its last hidden layer.

    A callable object rather than a closure, so that views pickle. It holds
    the estimator's own weight arrays (no copy).

    Parameters
    ----------
    coefs, intercepts : list of ndarray
        The hidden layers' ``coefs_`` and ``intercepts_`` (the output layer
        left out).
    activation : str
        The name of the hidden activation, a key of ``MLPClassifier``'s.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer._core.last_layer import MLPHiddenLayers
    >>> h = MLPHiddenLayers([np.eye(2)], [np.zeros(2)], "relu")
    >>> h(np.array([[1.0, -1.0]]))
    array([[1., 0.]])
    """

    def __init__(self, coefs, intercepts, activation):
        self.coefs = list(coefs)
        self.intercepts = list(intercepts)
        self.activation = activation

    def __call__(self, X):
        activation = _ACTIVATIONS[self.activation]
        A = np.asarray(X, dtype=float)
        for W, b in zip(self.coefs, self.intercepts):
            A = activation(A @ W + b)
        return A


def _mlp_view(estimator):
    if estimator.out_activation_ not in ("softmax", "logistic") or (
        estimator.out_activation_ == "logistic" and estimator.n_outputs_ != 1
    ):
        raise TypeError(
            "Only single-label MLPClassifier models are supported (softmax or "
            f"one logistic output); this one has out_activation_="
            f"{estimator.out_activation_!r} with {estimator.n_outputs_} outputs."
        )
    link = "softmax" if estimator.out_activation_ == "softmax" else "logistic"
    hidden = MLPHiddenLayers(
        estimator.coefs_[:-1], estimator.intercepts_[:-1], estimator.activation
    )
    return LastLayerView(
        estimator.classes_,
        link,
        estimator.coefs_[-1].T,
        estimator.intercepts_[-1],
        transform=hidden,
    )


class PipelineFeatures:
    """``h(X)`` through a Pipeline: its transformers, then the final step's own map.

    A callable object rather than a closure, so that views pickle.

    Parameters
    ----------
    head : Pipeline
        The fitted transformers (``pipeline[:-1]``).
    inner : callable or None
        The final classifier's feature map; ``None`` for a linear model.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> from sklearn_cincer._core.last_layer import PipelineFeatures
    >>> head = make_pipeline(FunctionTransformer(np.square))
    >>> PipelineFeatures(head, None)(np.array([[2.0, 3.0]]))
    array([[4., 9.]])
    """

    def __init__(self, head, inner=None):
        self.head = head
        self.inner = inner

    def __call__(self, X):
        Z = self.head.transform(X)
        return Z if self.inner is None else self.inner(Z)


def _pipeline_view(pipeline, needs):
    view = last_layer_view(pipeline.steps[-1][1], needs=needs)
    transform = PipelineFeatures(pipeline[:-1], view.transform)
    return LastLayerView(
        view.classes, view.link, view.coef, view.intercept, transform=transform
    )


def last_layer_view(estimator, needs="This selector"):
    """The :class:`LastLayerView` of a fitted classifier.

    The view every selector that reads the last layer uses: the package's
    own for scikit-learn's linear models, ``MLPClassifier`` and Pipelines,
    else the newest registered one (:func:`register_last_layer_view`), else
    the model's own ``last_layer_view()`` method. Call it to check that a
    model of a new family is read as intended.

    Parameters
    ----------
    estimator : fitted classifier
    needs : str, default="This selector"
        Who asks, named in the error when the estimator is not supported.

    Returns
    -------
    view : LastLayerView

    Raises
    ------
    TypeError
        When the estimator's last layer cannot be read (the message says what
        is supported and how to register a view), or a registered factory
        returns something else than a :class:`LastLayerView`.
    ValueError
        When the view's ``classes`` are not the estimator's ``classes_``.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_cincer.extend import last_layer_view
    >>> model = LogisticRegression().fit([[0.0], [1.0], [2.0]], [0, 1, 2])
    >>> view = last_layer_view(model)
    >>> view.link, view.coef.shape
    ('softmax', (3, 1))
    """
    if isinstance(estimator, Pipeline):
        return _pipeline_view(estimator, needs)
    check_is_fitted(estimator)
    if isinstance(estimator, LogisticRegression):
        return _linear_view(estimator)
    if isinstance(estimator, SGDClassifier):
        if estimator.loss != "log_loss":
            raise TypeError(
                f"{needs} needs a probabilistic model: SGDClassifier with "
                f"loss='log_loss', not loss={estimator.loss!r}."
            )
        return _linear_view(estimator)
    if isinstance(estimator, MLPClassifier):
        return _mlp_view(estimator)
    # Families read by an extension (skorch nets: sklearn_cincer.nets).
    factory = find_last_layer_view(estimator)
    if factory is not None:
        return checked_view(
            factory(estimator, needs=needs), estimator, factory, LastLayerView
        )
    if hasattr(estimator, "last_layer_view"):
        # Third-party models can describe their last layer themselves.
        return checked_view(
            estimator.last_layer_view(),
            estimator,
            type(estimator).last_layer_view,
            LastLayerView,
        )
    raise _unsupported(estimator, needs)


def is_probabilistic_classifier(estimator):
    return is_classifier(estimator) and hasattr(estimator, "predict_proba")
