"""Models, selectors and strategies of the benchmark, by name, resolved lazily.

Nothing here imports torch: the networks are looked up in
:mod:`sklearn_cincer.nets` only when one is asked for, and the selectors in
:mod:`sklearn_cincer` only when used, so that a name whose implementation is
not there yet gives a clear error instead of breaking the import.
"""

import importlib

#: Model name -> (module, class name, keyword arguments).
MODELS = {
    "lr": ("sklearn.linear_model", "LogisticRegression", {"max_iter": 1000}),
    "lr_net": ("sklearn_cincer.nets", "LogRegNetClassifier", {}),
    "fc": ("sklearn_cincer.nets", "FCNetClassifier", {}),
    "cnn": ("sklearn_cincer.nets", "ConvNetClassifier", {}),
}

#: The models with a ``training`` option: the paper's networks (skorch).
NET_MODELS = frozenset({"lr_net", "fc", "cnn"})

#: How the paper's networks are trained (``PaperNetClassifier.training``):
#: as the paper's text says, or as the authors' code did. The benchmark's
#: default is "code", the training that produced the published numbers.
TRAININGS = ("text", "code")

#: The paper's names of our models (for the comparison table).
PAPER_MODEL_NAMES = {
    "lr": "logreg",
    "lr_net": "logreg",
    "fc": "fullnet",
    "cnn": "convnet",
}

#: Selector name -> class name, looked up in sklearn_cincer then its selectors.
SELECTORS = {
    "cleaning": "CleaningSelector",
    "top_fisher": "TopFisherSelector",
    "practical_fisher": "PracticalFisherSelector",
    "full_fisher": "FullFisherSelector",
    "influence": "InfluenceSelector",
    "nearest": "NearestNeighborSelector",
    "random": "RandomSelector",
    "authors_top_fisher": "AuthorsTopFisherSelector",
}

#: Strategy name -> SkepticalCleaner's ``counter_examples``.
STRATEGIES = {"cincer": "relabel", "drop_ce": "drop", "no_ce": "none"}


def make_model(name, random_state=None, training=None, **params):
    """A fresh, unfitted classifier by its benchmark name.

    Parameters
    ----------
    name : {"lr", "lr_net", "fc", "cnn"}
        ``"lr"``: scikit-learn's ``LogisticRegression(max_iter=1000)``, L2
        penalty ``C=1``, fit to convergence (a convex problem: the exact
        Top Fisher and influence apply); ``"lr_net"``: logistic regression
        trained as the paper did (Adam, stopping at 70% training accuracy);
        ``"fc"`` and ``"cnn"``: the paper's networks. The last three come
        from :mod:`sklearn_cincer.nets` and need the torch extra.
    random_state : int or None, default=None
        Seeds the model's initialization.
    training : {"text", "code"} or None, default=None
        How a network is trained (see
        :class:`~sklearn_cincer.nets.PaperNetClassifier`): ``"text"`` as the
        paper says (stopping at 90% training accuracy, 70% for LR),
        ``"code"`` as the authors' code did (all 100 epochs, Keras's
        initialisation). None keeps the network's default ("text"). Only
        the networks have it: ``"lr"`` is fit to convergence.
    **params
        Overrides of the model's parameters.

    Returns
    -------
    estimator : classifier

    Raises
    ------
    ValueError
        For an unknown name, an unknown ``training``, or a ``training`` for
        a model that has none.
    ImportError
        When the model needs torch/skorch, or :mod:`sklearn_cincer.nets` does
        not provide it yet.

    Examples
    --------
    >>> from sklearn_cincer.benchmark import make_model
    >>> make_model("lr", random_state=0)
    LogisticRegression(max_iter=1000, random_state=0)
    """
    if name not in MODELS:
        raise ValueError(f"Unknown model {name!r}; choose one of {sorted(MODELS)}.")
    check_training(name, training)
    module_name, class_name, defaults = MODELS[name]
    try:
        module = importlib.import_module(module_name)
        cls = getattr(module, class_name)
    except (ImportError, AttributeError) as exc:
        raise ImportError(
            f"Model {name!r} ({module_name}.{class_name}) is unavailable: it needs "
            "the torch extra (pip install 'sklearn-cincer[torch]') and "
            f"sklearn_cincer.nets to provide {class_name} ({exc})."
        ) from exc
    kwargs = dict(defaults)
    kwargs.update(params)
    if random_state is not None:
        kwargs["random_state"] = random_state
    if training is not None:
        kwargs["training"] = training
    return cls(**kwargs)


def check_training(model, training):
    """Raise ValueError unless ``training`` suits ``model`` (None always does).

    Examples
    --------
    >>> from sklearn_cincer.benchmark._registry import check_training
    >>> check_training("fc", "code")
    >>> check_training("lr", "code")
    Traceback (most recent call last):
    ...
    ValueError: Model 'lr' has no training option (only the networks ['cnn', \
'fc', 'lr_net'] have); leave training out.
    """
    if training is None:
        return
    if not isinstance(training, str) or training not in TRAININGS:
        raise ValueError(
            f"Unknown training {training!r}; choose one of "
            f"{list(TRAININGS)} (the paper's text or the authors' "
            "code)."
        )
    if model not in NET_MODELS:
        raise ValueError(
            f"Model {model!r} has no training option (only the "
            f"networks {sorted(NET_MODELS)} have); leave training "
            "out."
        )


def selector_class(name):
    """The selector class of a benchmark selector name.

    Examples
    --------
    >>> from sklearn_cincer.benchmark import selector_class
    >>> selector_class("nearest").__name__
    'NearestNeighborSelector'
    """
    if name not in SELECTORS:
        raise ValueError(
            f"Unknown selector {name!r}; choose one of {sorted(SELECTORS)}."
        )
    class_name = SELECTORS[name]
    if name == "authors_top_fisher":
        from ._authors import AuthorsTopFisherSelector

        return AuthorsTopFisherSelector
    for module_name in ("sklearn_cincer", "sklearn_cincer.selectors"):
        cls = getattr(importlib.import_module(module_name), class_name, None)
        if cls is not None:
            return cls
    raise ImportError(
        f"Selector {name!r} ({class_name}) is not available in sklearn_cincer yet."
    )


def make_selector(name, **params):
    """A selector by its benchmark name.

    Parameters
    ----------
    name : str
        One of :data:`SELECTORS`.
    **params
        Parameters of the selector.

    Examples
    --------
    >>> from sklearn_cincer.benchmark import make_selector
    >>> make_selector("top_fisher")
    TopFisherSelector()
    """
    return selector_class(name)(**params)


def checked_selector(name, **params):
    """:func:`make_selector`, with the parameters validated now.

    A misspelt name raises TypeError and an invalid value ValueError here,
    before any data is loaded, rather than at the first fit of a long run.

    Examples
    --------
    >>> from sklearn_cincer.benchmark._registry import checked_selector
    >>> checked_selector("top_fisher", damping=0.1)
    TopFisherSelector(damping=0.1)
    """
    selector = make_selector(name, **params)
    if hasattr(selector, "_validate_params"):
        selector._validate_params()
    return selector


def selector_label(selector, params=None, cleaner_params=None):
    """A selector's name with its parameters, e.g. ``top_fisher(damping=0.1)``.

    Results of one selector run with other parameters must not share a
    folder or a row of the comparison table with the default run. Parameters
    of the cleaner itself (``cleaner_params``, e.g. ``n_counter_examples``)
    follow in brackets: they change what the competitor does as much.

    Examples
    --------
    >>> from sklearn_cincer.benchmark._registry import selector_label
    >>> selector_label("top_fisher"), selector_label("top_fisher", {"damping": 0.1})
    ('top_fisher', 'top_fisher(damping=0.1)')
    >>> selector_label("top_fisher", None, {"n_counter_examples": 2})
    'top_fisher[n_counter_examples=2]'
    """
    label = selector
    if params:
        label = f"{selector}({_params_text(params)})"
    if cleaner_params:
        label = f"{label}[{_params_text(cleaner_params)}]"
    return label


def _params_text(params):
    return ",".join(f"{k}={params[k]!r}".replace("'", "") for k in sorted(params))


def split_selector_label(label):
    """``(selector, parameters text)`` of a :func:`selector_label`.

    The cleaner's parameters, when there are any, follow the selector's
    after a ``"; "``.

    Examples
    --------
    >>> from sklearn_cincer.benchmark._registry import split_selector_label
    >>> split_selector_label("top_fisher(damping=0.1)")
    ('top_fisher', 'damping=0.1')
    >>> split_selector_label("nearest")
    ('nearest', '')
    >>> split_selector_label("top_fisher(damping=0.1)[n_counter_examples=2]")
    ('top_fisher', 'damping=0.1; n_counter_examples=2')
    """
    label, cleaner = str(label), ""
    if label.endswith("]") and "[" in label:
        label, _, cleaner = label.rpartition("[")
        cleaner = cleaner[:-1]
    base, _, rest = label.partition("(")
    params = rest[:-1] if rest.endswith(")") else rest
    return base, "; ".join(part for part in (params, cleaner) if part)


#: Parameters of SkepticalCleaner that a run sets itself, from its RunSpec or
#: the experiment: a ``cleaner_params`` entry may not set them.
RUN_SETS = frozenset(
    {
        "estimator",
        "selector",
        "oracle",
        "threshold",
        "counter_examples",
        "n_bootstrap",
        "refit",
        "random_state",
        "n_threads",
    }
)


def checked_cleaner_params(params):
    """Validate parameters of :class:`~sklearn_cincer.SkepticalCleaner` now.

    A misspelt name, one the benchmark sets itself (``threshold``,
    ``refit``... have their own options) or an invalid value raises
    ValueError here, before any data is loaded.

    Examples
    --------
    >>> from sklearn_cincer.benchmark._registry import checked_cleaner_params
    >>> checked_cleaner_params({"n_counter_examples": 2})
    {'n_counter_examples': 2}
    >>> checked_cleaner_params({"threshold": 0.1})
    Traceback (most recent call last):
    ...
    ValueError: The benchmark sets threshold itself (an option or field of its
    own); cleaner parameters may set only ['candidates', 'n_counter_examples',
    'refit_every', 'verbose'].
    """
    from sklearn.linear_model import LogisticRegression

    from .._cleaner import SkepticalCleaner

    params = dict(params or {})
    allowed = sorted(set(SkepticalCleaner._get_param_names()) - RUN_SETS)
    for name in params:
        if name in RUN_SETS or name not in allowed:
            what = (
                "sets {} itself (an option or field of its own)"
                if name in RUN_SETS
                else "knows no cleaner parameter {}"
            ).format(name)
            raise ValueError(
                f"The benchmark {what}; cleaner parameters may set only {allowed}."
            )
    try:
        SkepticalCleaner(LogisticRegression(), **params)._validate_params()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Invalid cleaner parameters {params!r}: {exc}") from exc
    return params


def paper_method(strategy, selector):
    """The ``method`` of ``paper_results.csv`` a run compares with.

    Examples
    --------
    >>> from sklearn_cincer.benchmark._registry import paper_method
    >>> paper_method("cincer", "nearest"), paper_method("no_ce", "top_fisher")
    ('nn_1', 'no_ce')
    """
    if strategy == "no_ce":
        return "no_ce"
    if strategy == "drop_ce":
        return "drop_ce"
    selector, _ = split_selector_label(selector)
    return {
        "cleaning": "cincer_top_fisher",
        "top_fisher": "cincer_top_fisher",
        "authors_top_fisher": "cincer_top_fisher",
        "practical_fisher": "practical_fisher",
        "full_fisher": "full_fisher",
        "influence": "if",
        "nearest": "nn_1",
    }.get(selector)
