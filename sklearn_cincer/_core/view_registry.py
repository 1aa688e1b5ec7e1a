"""Adapters for model families the numpy core does not know, registered by extensions.

The registration functions are public in :mod:`sklearn_cincer.extend`, for
families defined outside the package; the package's own extension
(:mod:`sklearn_cincer.nets`) uses them too.

:func:`~sklearn_cincer._core.last_layer.last_layer_view` and
:func:`~sklearn_cincer._core.parameter_views.parameter_view` read scikit-learn models
themselves. Other families (skorch networks) are read by extension modules,
which register a factory here when they are imported::

    register_last_layer_view(is_skorch, skorch_view)      # in sklearn_cincer.nets

so that the dependency points one way: the extension imports the core, the
core never imports the extension's code. The core still finds a skorch net
without the user importing :mod:`sklearn_cincer.nets` first: when no
registered adapter takes a model, the extension that serves the package of
the model's class (:data:`EXTENSIONS`) is imported by name, once, and its
import registers its adapters. Why this rather than the alternatives: an
``import sklearn_cincer.nets`` written in the core makes an import cycle
(``nets`` imports the core at load time); a packaging entry point would
need the package reinstalled for every change to be seen; asking users to
import ``nets`` first fails silently for those who do not.
"""

import importlib
import threading

#: Extension modules of this package, by the top-level package of the model
#: classes they serve. Importing one registers its adapters.
EXTENSIONS = {"skorch": "sklearn_cincer.nets"}

_LAST_LAYER_VIEWS = []
_PARAMETER_VIEWS = []
# Registrations may come from any thread (a module imported lazily); lookups
# read a snapshot, so that one never sees a registry being rewritten.
_REGISTRY_LOCK = threading.Lock()


def _model_packages(estimator):
    """Top-level packages of the classes in the estimator's MRO."""
    return {cls.__module__.split(".")[0] for cls in type(estimator).__mro__}


def is_skorch(estimator):
    """Whether the estimator is a skorch net (or subclasses one).

    Read from the class hierarchy's modules, so it never imports skorch.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_cincer._core.view_registry import is_skorch
    >>> is_skorch(LogisticRegression())
    False
    """
    return "skorch" in _model_packages(estimator)


def _register(registry, predicate, factory, name):
    for what, value in (("predicate", predicate), ("factory", factory)):
        if not callable(value):
            raise TypeError(
                f"{name} takes a callable {what}, got {type(value).__name__}."
            )
    # The newest registration is tried first, so a later one can override;
    # registering the same pair again (a module reloaded) changes nothing.
    entry = (predicate, factory)
    with _REGISTRY_LOCK:
        if entry in registry:
            registry.remove(entry)
        registry.insert(0, entry)


def register_last_layer_view(predicate, factory):
    """Teach the selectors to read the last layer of a family of models.

    After this call, :func:`~sklearn_cincer.extend.last_layer_view` (and so
    every selector that reads the last layer) asks ``factory`` for the view
    of each fitted estimator that ``predicate`` accepts. Registrations last
    for the Python process; the newest one that accepts an estimator wins,
    and the package's own families (scikit-learn's linear models and
    ``MLPClassifier``, Pipelines) are read before any registration.

    Parameters
    ----------
    predicate : callable
        ``predicate(estimator) -> bool``: whether ``factory`` reads this
        estimator.
    factory : callable
        ``factory(estimator, needs=...) -> LastLayerView``; ``needs`` names who
        asks, for error messages. A module-level function, so that fitted
        selectors holding its view can be pickled. The view's ``classes``
        must be the estimator's ``classes_``, in their order.

    Raises
    ------
    TypeError
        When ``predicate`` or ``factory`` is not callable (nothing is
        registered then).

    Examples
    --------
    >>> from sklearn.base import BaseEstimator
    >>> from sklearn_cincer.extend import (
    ...     LastLayerView, last_layer_view, register_last_layer_view)
    >>> class Stump(BaseEstimator):  # a one-feature logistic model, say
    ...     def fit(self, X, y):
    ...         self.classes_ = sorted(set(y))
    ...         return self
    >>> def is_stump(estimator):
    ...     return isinstance(estimator, Stump)
    >>> def stump_view(estimator, needs="This selector"):
    ...     return LastLayerView(estimator.classes_, "logistic", [[1.0]], [0.0])
    >>> register_last_layer_view(is_stump, stump_view)
    >>> last_layer_view(Stump().fit([[0.0], [1.0]], [0, 1])).link
    'logistic'
    """
    _register(_LAST_LAYER_VIEWS, predicate, factory, "register_last_layer_view")


def register_parameter_view(predicate, factory):
    """Teach the all-parameter selectors to read a family of models.

    After this call, :func:`~sklearn_cincer.extend.parameter_view` (and so
    ``FullFisherSelector``, ``PracticalFisherSelector`` and
    ``InfluenceSelector``) asks ``factory`` for the view of each fitted
    estimator that ``predicate`` accepts; the newest registration that
    accepts an estimator wins, before the package's own families.

    Parameters
    ----------
    predicate : callable
        ``predicate(estimator) -> bool``.
    factory : callable
        ``factory(estimator, needs=..., device=...) -> ParameterView``; a
        module-level function, so that fitted selectors can be pickled.

    Raises
    ------
    TypeError
        When ``predicate`` or ``factory`` is not callable (nothing is
        registered then).

    Examples
    --------
    >>> from sklearn_cincer.extend import register_parameter_view
    >>> def never(estimator):
    ...     return False
    >>> def no_view(estimator, needs="This selector", device=None):
    ...     raise NotImplementedError
    >>> register_parameter_view(never, no_view)
    """
    _register(_PARAMETER_VIEWS, predicate, factory, "register_parameter_view")


def _find(registry, estimator):
    with _REGISTRY_LOCK:
        entries = tuple(registry)
    for predicate, factory in entries:
        try:
            accepts = predicate(estimator)
        except Exception as exc:
            # A predicate from outside the package that fails on a model it
            # was not written for would otherwise surface as an error of
            # unrelated code, far from the registration.
            name = getattr(predicate, "__qualname__", repr(predicate))
            raise TypeError(
                f"The predicate {name}, registered to read a family of models, "
                f"failed on a {type(estimator).__name__}: {exc!r}. A predicate "
                "must return False for the models it does not read."
            ) from exc
        if accepts:
            return factory
    return None


def _load_extensions(estimator):
    """Import the extensions that serve this estimator; whether any is new."""
    loaded = False
    for package in sorted(_model_packages(estimator)):
        module = EXTENSIONS.get(package)
        if module is not None and module not in _IMPORTED:
            importlib.import_module(module)  # an ImportError says what to install
            _IMPORTED.add(module)
            loaded = True
    return loaded


_IMPORTED = set()


def _lookup(registry, estimator):
    factory = _find(registry, estimator)
    if factory is None and _load_extensions(estimator):
        factory = _find(registry, estimator)
    return factory


def find_last_layer_view(estimator):
    """The registered factory that reads this estimator's last layer, or None.

    Imports the extension that serves the estimator's package
    (:data:`EXTENSIONS`) the first time one is needed.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_cincer._core.view_registry import find_last_layer_view
    >>> find_last_layer_view(LogisticRegression()) is None  # read by the core
    True
    """
    return _lookup(_LAST_LAYER_VIEWS, estimator)


def find_parameter_view(estimator):
    """The registered factory of this estimator's ParameterView, or None.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_cincer._core.view_registry import find_parameter_view
    >>> find_parameter_view(LogisticRegression()) is None
    True
    """
    return _lookup(_PARAMETER_VIEWS, estimator)


def checked_view(view, estimator, source, kind):
    """A view from outside the package, checked against its estimator.

    ``source`` (a registered factory, or the model's own method) returned
    ``view``, which must be a ``kind`` (LastLayerView or ParameterView). A
    view whose classes differ from the estimator's would apply the
    selectors' reasoning to the wrong labels without any error later on.
    """
    import numpy as np

    name = getattr(source, "__qualname__", repr(source))
    if not isinstance(view, kind):
        raise TypeError(
            f"{name} must return a {kind.__name__} for {type(estimator).__name__}, "
            f"got {type(view).__name__}."
        )
    classes = getattr(estimator, "classes_", None)
    if classes is not None and not (
        len(classes) == len(view.classes)
        and np.all(np.asarray(classes) == np.asarray(view.classes))
    ):
        raise ValueError(
            f"{name} returned a view whose classes {view.classes!r} are not the "
            f"classes_ of the {type(estimator).__name__} {np.asarray(classes)!r}."
        )
    return view
