"""How the cleaner updates its classifier after a round.

Three ways (``SkepticalCleaner.refit_method_``):

- ``"fit"``: a clone of the unfitted template is fit on the whole training
  set (``refit="scratch"``, or an estimator that cannot update);
- ``"partial_fit"``: the fitted model learns the rows that changed, in one
  pass over those rows only (preferred wherever it exists: a warm start
  runs full epochs over the whole training set every round, which for
  ``SGDClassifier`` or ``MLPClassifier`` on 1e5 rows costs seconds, and
  for a skorch net a minute);
- ``"warm_start"``: the fitted model is fit again on the whole training set,
  starting from its current solution (a model without ``partial_fit``, as
  ``LogisticRegression``).

A skorch net learns the round's rows (with the replay of a gradient
learner) for at most ``_NET_EPOCHS`` epochs, whatever its ``max_epochs``
(its own ``partial_fit`` would train ``max_epochs``, up to 100 for the
paper's nets); its callbacks still apply, so the paper's nets stop early
at their training accuracy target, measured on those rows.

For a :class:`~sklearn.pipeline.Pipeline` the update applies to its last
step, on the rows transformed by the other steps, which stay as they were
fitted on the bootstrap set (refitting them would change the features the
last step's solution was learned on, and cost a full fit per round).
"""

import re
import warnings

import numpy as np
from sklearn.pipeline import Pipeline

from ._core.view_registry import is_skorch

# torch's words for a float64 input meeting float32 weights ("mat1 and mat2
# must have the same dtype, but got Double and Float", "expected scalar type
# Float but found Double", "Input type (double) and bias type (float)...").
_DTYPE_CLASH = re.compile(r"double.*float|float.*double", re.IGNORECASE | re.DOTALL)


def _last_step(estimator):
    """``(prefix, heads, last)``: how to reach and feed a Pipeline's last step.

    ``prefix`` is the ``get_params`` path of the last step (``""`` for a
    plain estimator), ``heads`` the Pipelines of the other steps, outermost
    first (nested Pipelines are followed), ``last`` the final estimator.
    """
    prefix, heads = "", []
    while isinstance(estimator, Pipeline):
        name, last = estimator.steps[-1]
        if len(estimator.steps) > 1:
            heads.append(estimator[:-1])
        prefix += f"{name}__"
        estimator = last
    return prefix, heads, estimator


def _transform(heads, X):
    for head in heads:
        X = head.transform(X)
    return X


def refit_method(estimator, refit):
    """The update used for ``estimator`` under the cleaner's ``refit``.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_cincer._refit import refit_method
    >>> refit_method(make_pipeline(StandardScaler(), LogisticRegression()),
    ...              "incremental")
    'warm_start'
    >>> refit_method(make_pipeline(StandardScaler(), GaussianNB()), "incremental")
    'partial_fit'
    >>> from sklearn.linear_model import SGDClassifier
    >>> refit_method(SGDClassifier(loss="log_loss"), "incremental")
    'partial_fit'
    >>> refit_method(LogisticRegression(), "scratch")
    'fit'
    """
    if refit == "scratch":
        return "fit"
    _, _, last = _last_step(estimator)
    params = last.get_params()
    if _learns_rows(last, params):
        return "partial_fit"
    if "warm_start" in params:
        return "warm_start"
    return "fit"


def _learns_rows(last, params):
    """Whether ``last.partial_fit`` learns the rows it is given in one pass."""
    # hasattr: MLPClassifier(solver="lbfgs") hides partial_fit (available_if).
    if not hasattr(last, "partial_fit"):
        return False
    # SGDClassifier's partial_fit refuses class_weight="balanced" (the
    # weights need every row's label); a warm start can use it.
    return not ("warm_start" in params and params.get("class_weight") == "balanced")


def warn_cannot_update(estimator):
    """Say that ``refit="incremental"`` falls back to refits from scratch."""
    _, heads, last = _last_step(estimator)
    where = type(last).__name__
    if heads:
        where += f" (the last step of the {type(estimator).__name__})"
    warnings.warn(
        f"refit='incremental' cannot update {where}: it has neither a "
        "warm_start parameter nor a partial_fit method, so every round refits "
        "it from scratch. Use refit='scratch' to say so, or a model that can "
        "update.",
        UserWarning,
        stacklevel=4,
    )


def warn_scratch_rounds(n_scratch, n_rounds):
    """Say how many warm-started rounds had to refit from scratch."""
    warnings.warn(
        f"refit='incremental' refit the model from scratch in {n_scratch} of "
        f"{n_rounds} rounds: in those the training set's classes differed "
        "from the model's, and a warm start cannot change its number of "
        "outputs. A model told every class in advance (a 'classes' parameter, "
        "as skorch classifiers have) avoids it.",
        UserWarning,
        stacklevel=4,
    )


def prepare(template, method):
    """Set ``warm_start=True`` where the method needs it; returns ``template``."""
    if method == "warm_start":
        prefix, _, _ = _last_step(template)
        template.set_params(**{f"{prefix}warm_start": True})
    return template


def bootstrap_fit(estimator, X, y, method, classes):
    """Fit an unfitted clone on the bootstrap set.

    A model that updates with ``partial_fit`` but also trains to convergence
    with ``fit`` (an iterative learner: it has ``warm_start``, as
    ``SGDClassifier`` and ``MLPClassifier``) is fit fully when the bootstrap
    set holds every class, so that the first model is the one a refit from
    scratch would give (one pass of ``partial_fit`` over 100 rows is far
    from it). Otherwise ``partial_fit`` declares every class up front: a
    later ``partial_fit`` cannot add one.
    """
    _, heads, last = _last_step(estimator)
    if method != "partial_fit" or (
        "warm_start" in last.get_params()
        and np.array_equal(np.unique(y), np.asarray(classes))
    ):
        return estimator.fit(X, y)
    for head in heads:
        X = head.fit_transform(X, y)
    last.partial_fit(X, y, classes=classes)
    return estimator


def explain_fit_error(estimator, error):
    """A clearer error for a known failure of the first fit, else None.

    A plain skorch net fed the cleaner's float64 rows fails deep inside torch
    ("mat1 and mat2 must have the same dtype"): say what to do instead.
    """
    _, _, last = _last_step(estimator)
    if not (isinstance(error, RuntimeError) and _DTYPE_CLASH.search(str(error))):
        return None
    return TypeError(
        f"The network ({type(last).__name__}) could not be fit on the "
        "cleaner's rows, which are float64, while its module's weights are "
        f"float32 (torch said: {error}). Cast the rows to float32 before the "
        "network: put FunctionTransformer(to_float32) before it in a Pipeline, "
        "with a module-level function 'def to_float32(X): return "
        "np.asarray(X, dtype=np.float32)', or use "
        "sklearn_cincer.nets.PaperNetClassifier, which casts them itself."
    )


def can_warm_start(estimator, y):
    """Whether a warm start on labels ``y`` keeps the model's outputs.

    It does when ``y`` holds exactly the model's classes, or a subset of them
    for a model whose classes were fixed in advance (a ``classes`` parameter,
    as skorch classifiers have); otherwise the outputs change shape.
    """
    _, _, last = _last_step(estimator)
    present = np.unique(y)
    known = np.asarray(last.classes_)
    if np.array_equal(present, known):
        return True
    fixed = last.get_params().get("classes", None) is not None
    return fixed and bool(np.isin(present, known).all())


def warm_fit(estimator, X, y):
    """Fit the last step again from its current solution, on transformed rows."""
    _, heads, last = _last_step(estimator)
    last.fit(_transform(heads, X), y)
    return estimator


#: Earlier training rows a gradient learner's ``partial_fit`` replays with
#: each round's rows. Steps on one row at a time drift: SGDClassifier
#: cleaning 20% noisy digits ended at macro F1 0.80-0.83 without a replay,
#: 0.87-0.90 with 32 rows, 0.90-0.94 with 128 (from scratch: 0.92-0.95).
#: A 129-row pass is still no epoch over a large training set.
_REPLAY_ROWS = 128


def rows_to_learn(estimator, train_ids, changed):
    """The stream ids a round's ``partial_fit`` learns, in this order.

    ``changed`` (the new example, the relabeled counter-examples), after up
    to ``_REPLAY_ROWS`` of the latest other rows of the training set
    (``train_ids``, sorted) for a gradient learner (one with ``warm_start``,
    as ``SGDClassifier`` and ``MLPClassifier``). A model whose
    ``partial_fit`` accumulates counts (naive Bayes) learns ``changed``
    only: a replayed row would count twice.
    """
    changed = np.asarray(changed, dtype=np.intp)
    _, _, last = _last_step(estimator)
    if "warm_start" not in last.get_params():
        return changed
    tail = train_ids[-(_REPLAY_ROWS + changed.shape[0]) :]
    tail = tail[~np.isin(tail, changed)][-_REPLAY_ROWS:]
    return np.concatenate([tail, changed])


#: Most epochs a skorch net's ``partial_fit`` runs over a round's rows (the
#: changed rows and the replay). A round's rows are a few examples and the
#: replay: ``max_epochs`` of them (100 for the paper's nets) would fit the
#: net to those rows alone and undo what it learned of the others.
_NET_EPOCHS = 5


def partial_fit(estimator, X, y):
    """Teach the last step the rows ``X``, transformed by the other steps."""
    _, heads, last = _last_step(estimator)
    X = _transform(heads, X)
    if is_skorch(last):
        _net_partial_fit(last, X, y)
    else:
        last.partial_fit(X, y)
    return estimator


def _net_partial_fit(net, X, y):
    """A skorch net's ``partial_fit`` for at most ``_NET_EPOCHS`` epochs."""
    # A plain NeuralNetClassifier re-infers classes_ from the y of every call
    # (check_data): rows that lack a class must not take it from the model.
    known = net.__dict__.get("classes_inferred_")
    try:
        net.partial_fit(X, y, epochs=min(int(net.max_epochs), _NET_EPOCHS))
    finally:
        if known is not None:
            seen = net.__dict__.get("classes_inferred_", known)
            net.classes_inferred_ = np.union1d(known, seen)
