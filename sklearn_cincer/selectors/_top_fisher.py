"""Selectors that score candidates with a Fisher kernel (Eq. 14 of the paper)."""

import contextlib
import copy
from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, RealNotInt, StrOptions

from .._core import fisher_math as _fisher
from .._core.last_layer import last_layer_view
from ._base import BaseSelector, as_row
from ._batch import _Kept, batch_ready, support_scan
from ._refresh import FactorRefresh
from ._rows import FeatureRows

# Above this many feature entries (n x d), "auto" passes over the rows in
# float32: half the memory traffic, the same picks (see the user guide).
_FLOAT32_ENTRIES = 2**22

# The "auto" choices, in multiply-adds per model update (one core does about
# 1e10 a second): the exact F as a matrix while its build stays under
# _DENSE_BUDGET; the exact F solved matrix-free (conjugate gradients) while
# about _CG_PASSES passes over the outputs stay under _CG_BUDGET; otherwise
# a Kronecker-factored F, estimated from all rows while one pass over the
# outputs stays under _OUTPUT_BUDGET, else from a random subsample of that
# cost (at least _MIN_SAMPLE rows).
_DENSE_BUDGET = 2**30
_CG_PASSES = 42
_CG_BUDGET = 2**33
_OUTPUT_BUDGET = 2**28
_MIN_SAMPLE = 2000
# The largest dense F, and dual Gram matrix, accepted (bytes).
_DENSE_MAX_BYTES = 2**32
_DUAL_MAX_BYTES = 2**29
# Conjugate gradients are preconditioned by the exact F of an earlier model
# while forming it costs under _PRECONDITIONER_BUDGET multiply-adds and
# _PRECONDITIONER_MAX_BYTES; rebuilt when the outputs drift past _STALE_DRIFT.
_PRECONDITIONER_BUDGET = 2**37
_PRECONDITIONER_MAX_BYTES = 2**28
_STALE_DRIFT = 0.1
# A selector whose factor is refreshed while the oracle waits (inside the
# cleaner) keeps it up to _HARD_DRIFT: the next wait refreshes it, but an
# oracle that answers at once (a simulated one) leaves no time to.
_HARD_DRIFT = 0.25
# Rows (evenly spaced) whose features a stale factor keeps, to tell how far
# a changing feature map (a network's hidden layers) moved since it was built.
_DRIFT_ROWS = 4096
# K-FAC's factors A and G keep their eigendecompositions while they moved
# less than this (relative, Frobenius norm): a row added to a million
# changes nothing worth an O(m^3) decomposition per question, and 1% is far
# inside K-FAC's own error (its F is off by 40-50%, see the user guide).
_STALE_A = 1e-2


def _all_rows(candidates, n):
    """Whether ``candidates`` is every row in order (so no subset is needed)."""
    return candidates.shape[0] == n and np.array_equal(candidates, np.arange(n))


# Rows whose features tell whether the feature map changed.
_FINGERPRINT_ROWS = 64


def _model_key(view):
    """What the outputs ``P`` depend on, besides the features."""
    return (
        view.link,
        view.classes.copy(),
        view.coef.copy(),
        None if view.intercept is None else view.intercept.copy(),
    )


def _same_key(a, b):
    return (
        a[0] == b[0]
        and np.array_equal(a[1], b[1])
        and np.array_equal(a[2], b[2])
        and (a[3] is None) == (b[3] is None)
        and (a[3] is None or np.array_equal(a[3], b[3]))
    )


def _identity_features(view):
    """Whether ``h(x) = x`` (a linear model): features never change."""
    return view._transform is None


def _features_name(view):
    """The inputs that the Fisher squares, as an error message names them."""
    if _identity_features(view):
        return "The features of X"
    return "The last layer's inputs (the model's features of X)"


def _split_changes(delta):
    """Rows whose weight rose and fell, with the (positive) amounts."""
    up = np.flatnonzero(delta > 0)
    down = np.flatnonzero(delta < 0)
    return (up, delta[up]), (down, -delta[down])


class _Computed:
    """An attribute computed on access, unless the instance sets its own."""

    def __init__(self, function):
        self.function = function

    def __get__(self, instance, owner=None):
        return self if instance is None else self.function(instance)


def _training_weights(view, y, rows, n_ids):
    """How many times each id is in the training set, its labels, and the total.

    The weights are None when every id is there once (or ``rows`` is None:
    the rows are the training set, in order).
    """
    if rows is None:
        return None, view.encode(y), n_ids
    counts = np.bincount(rows, minlength=n_ids)
    once = counts.min(initial=1) == 1 and counts.max(initial=1) == 1
    weights = None if once else counts.astype(float)
    n_train = n_ids if weights is None else int(counts.sum())
    return weights, view.encode(y[:n_ids]), n_train


class TopFisherSelector(BaseSelector):
    """Counter-examples by the top-layer Fisher kernel (the paper's "Top Fisher").

    Scores each candidate training example ``z_k`` with Eq. 14 of the paper
    restricted to the last layer's parameters::

        score_k = -g(z_t)^T (F + lambda I)^-1 g(z_k)

    where ``g(z) = (t(y) - p(x)) [h(x); 1]^T`` is the gradient of
    ``log P(y | x)`` with respect to the last layer and ``F`` the Fisher
    information of the last layer over the current training set. A high
    score means that removing ``z_k`` and refitting would raise the
    probability of the suspicious label ``y_t`` the most: ``z_k`` is the
    training example that most supports the model's doubt.

    For a linear model (``LogisticRegression``, ``SGDClassifier`` with
    ``loss="log_loss"``) the last layer is the whole model and ``h(x) = x``;
    for ``MLPClassifier`` ``h(x)`` is the last hidden layer; skorch networks
    are read with a forward hook. A binary scikit-learn model keeps its own
    one-logit parameterization.

    ``F`` is exact by default and solved without a pseudo-inverse or an
    eigendecomposition of ``F``; for large training sets and wide last
    layers ``fisher`` and ``subsample`` trade exactness for time, each
    measured against the exact pick in the user guide. Between rounds,
    :meth:`update` reuses what is still valid, so that a person waits for
    the next question only as long as the model's change requires.

    Parameters
    ----------
    damping : float, default=1e-3
        ``lambda``, as a fraction of the mean eigenvalue of ``F``
        (``trace(F) / dim``), so that one value fits every feature scale.
        ``F`` is singular (softmax ignores a shift of all logits; features may
        be collinear) and the damping makes it positive definite for its
        Cholesky factor. In the softmax null direction it changes nothing, as
        every gradient is orthogonal to it. Why ``1e-3``: small enough that
        the ranking follows the undamped kernel (the pseudo-inverse) on the
        directions the training set determines, large enough for a stable
        Cholesky factor in float64 whatever the conditioning. On logistic
        regression, where ``F`` is the Hessian of the log loss and the
        damping plays the role of the L2 penalty, the ranking agrees with
        leave-one-out retraining (Spearman correlation 0.998 to 0.999 on the
        ground-truth problems of the tests) for any damping from 1e-6 to 1e-1;
        it degrades from about 1 (0.956), where the damping swamps the
        curvature. Raise it when features are strongly collinear. Every
        form of ``F`` below is damped by the same ``lambda`` (relative to
        the exact ``trace(F)``).
    fisher : {"auto", "exact", "kfac", "ekfac"}, default="auto"
        The form of ``F``:

        - "exact": ``F = 1/n sum_i Lambda_i kron h~_i h~_i^T`` itself,
          solved as ``solver`` says.
        - "kfac": Kronecker-factored, ``F ~ G kron A`` with
          ``G = mean Lambda_i`` (``c x c``) and ``A = mean h~_i h~_i^T``
          (``(d+1) x (d+1)``), inverted through their eigendecompositions
          (Martens and Grosse, 2015). Never forms a ``P x P`` matrix
          (``P = c (d+1)``), so it handles wide heads: 1000 classes on
          2048 features.
        - "ekfac": K-FAC's eigenbasis with the exact diagonal of ``F`` in it
          as eigenvalues (George et al., 2018; as in Kronfluence).
        - "auto": "exact" while it is cheap (a dense ``F`` while its build
          costs under about ``2**30`` multiply-adds, else the matrix-free
          solver while about 42 passes over the outputs cost under
          ``2**33``), else "kfac".
    solver : {"auto", "cholesky", "cg"}, default="auto"
        How the exact ``F`` is solved (ignored by "kfac" and "ekfac"):
        "cholesky" forms ``F`` (or, for a last layer wider than its rank,
        ``n c < P``, the exact dual Gram matrix) and factorizes it; "cg"
        never forms it: conjugate gradients with ``F v`` computed from the
        rows (two passes over the features per iteration), preconditioned
        by K-FAC, to the relative residual ``tol``. "auto" takes "cholesky"
        while it is cheap, as ``fisher="auto"`` says.
    subsample : int, float, "auto" or None, default="auto"
        Rows that estimate ``F``: an int is a number of rows, a float in
        ``(0, 1]`` a fraction, drawn at random (``random_state``) each time
        ``F`` is built; None uses every row. "auto" uses every row for the
        exact ``F``, and for K-FAC and EK-FAC while one pass over the
        outputs costs under ``2**28`` multiply-adds, else as many rows as
        that allows (at least 2000). The paper's authors used 30 rows. For
        a linear model K-FAC's ``A`` (which does not depend on the model's
        outputs) always uses every row, kept up to date row by row.
    dtype : {"auto", "float64", "float32"}, default="auto"
        Precision in which the features are kept and the products over the
        rows run (the outputs, ``F v`` of conjugate gradients, K-FAC's
        ``A``, the scores): float32 halves their memory and time. What
        cancels stays float64 whatever this says: the exact ``F``, the
        output side of ``Lambda`` (``diag(p) - p p^T`` is nearly 0 for a
        confident model) and every small matrix and factorization. "auto"
        takes float32 from ``n * d >= 2**22`` feature entries; it changed
        no pick in the measurements of the user guide (:ref:`speed`).
    tol : float, default=1e-4
        Relative residual at which conjugate gradients stop (``solver="cg"``).
    random_state : int, RandomState instance or None, default=None
        Draws the subsample. The cleaner seeds it when None.

    Attributes
    ----------
    view_ : LastLayerView
        How the features, outputs and gradients are read from the model.
    factor_ : tuple or object with a ``solve`` method
        The damped ``F``, ready to solve with (:func:`sklearn_cincer._core.fisher_math.solve`
        accepts every form): for the dense exact ``F`` its Cholesky factor as
        from :func:`scipy.linalg.cho_factor`; else
        :class:`~sklearn_cincer._core.fisher_math.DualFactor` (exact, through the
        ``(n c)``-sized Gram matrix),
        :class:`~sklearn_cincer._core.fisher_math.ConjugateGradientFactor` (exact,
        matrix-free) or :class:`~sklearn_cincer._core.fisher_math.KroneckerFactor`
        (K-FAC, EK-FAC).
    fisher_ : {"exact", "kfac", "ekfac"}
        The form of ``F`` used.
    solver_ : {"cholesky", "dual", "cg", "kfac", "ekfac"}
        How it is solved.
    n_fisher_rows_ : int
        Rows that estimated ``F`` (``n_train_`` unless subsampled).
    dtype_ : numpy dtype
        Precision of the passes over the rows.
    n_train_ : int
        Number of training rows the selector was fitted on.
    n_iter_ : int
        Conjugate-gradient iterations of the last solve (0 for a direct
        one). With ``solver="cg"`` the preconditioner is the exact ``F`` of
        a recent model, factorized in the background while the oracle
        waits for the person (see :meth:`while_waiting`), so a question
        takes one to a few.

    See Also
    --------
    FullFisherSelector : The Fisher kernel over all parameters.
    InfluenceSelector : The Hessian of the training objective instead of ``F``.
    NearestNeighborSelector : The 1-NN baseline of the paper.
    RandomSelector : A random candidate.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_cincer import TopFisherSelector
    >>> X, y = load_iris(return_X_y=True)
    >>> model = LogisticRegression(max_iter=1000).fit(X, y)
    >>> selector = TopFisherSelector().fit(model, X, y)
    >>> model.predict(X[120:121])  # the suspicious example, annotated as 1
    array([2])
    >>> candidates = (y == 2).nonzero()[0]  # examples labeled as the prediction
    >>> index, score = selector.select(X[120], 1, candidates)
    >>> int(y[index]), score > 0
    (2, True)

    K-FAC, for a large training set or a wide last layer:

    >>> kfac = TopFisherSelector(fisher="kfac").fit(model, X, y)
    >>> kfac.select(X[120], 1, candidates)[0] == index
    True
    """

    _parameter_constraints = {
        "damping": [Interval(Real, 0, None, closed="neither")],
        "fisher": [StrOptions({"auto", "exact", "kfac", "ekfac"})],
        "solver": [StrOptions({"auto", "cholesky", "cg"})],
        "subsample": [
            Interval(Integral, 1, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="right"),
            StrOptions({"auto"}),
            None,
        ],
        "dtype": [StrOptions({"auto", "float64", "float32"})],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        damping=1e-3,
        *,
        fisher="auto",
        solver="auto",
        subsample="auto",
        dtype="auto",
        tol=1e-4,
        random_state=None,
    ):
        self.damping = damping
        self.fisher = fisher
        self.solver = solver
        self.subsample = subsample
        self.dtype = dtype
        self.tol = tol
        self.random_state = random_state

    # ------------------------------------------------------------ fitting

    def _fit(self, estimator, X, y):
        self._refresh(estimator, X, y, None, reuse=False)

    def update(self, estimator, X, y, rows=None):
        """Refit on a new training set, reusing what is still valid.

        The same as :meth:`fit` on ``(X[rows], y[rows])`` (the same factor
        and scores, up to rounding, or for a subsampled ``F`` another draw),
        but it only recomputes what changed since the last fit or update:

        - the features of rows not seen before (all of them when the feature
          map changed, e.g. a network's hidden layers were refit; never for
          a linear model, whose features are its inputs);
        - the outputs ``P`` and ``F``, only when the model changed; when it
          did not, the rows that entered or left change ``F`` by a low-rank
          term (rank at most ``c`` per row) and relabeled rows change only
          their residuals (the true Fisher does not depend on the labels);
        - K-FAC's ``A`` of a linear model, never rebuilt: the rows that
          entered or left change it by a low-rank term.

        Parameters
        ----------
        estimator : fitted classifier
        X : array-like of shape (n_samples, n_features)
            The whole current training set or, with ``rows``, every example
            by a stable integer id (its row), as the cleaner's stream.
        y : array-like of shape (n_samples,)
            Its current labels (by id with ``rows``).
        rows : array-like of int, default=None
            The training set is ``X[rows]``; its rows are the candidates'
            indices. Row ``i`` of ``X`` must be the same example at every
            call with ``rows`` (``X`` may grow), so rows seen before are not
            read again. Without ``rows``, ``X`` must start with the rows of
            the previous call to be reused (compared in full).

        Returns
        -------
        self : object
        """
        if type(self)._fit is not TopFisherSelector._fit:
            # A subclass that derives more state in its own _fit would keep
            # it stale: refit it whole (override _refreshed instead to reuse).
            return super().update(estimator, X, y, rows)
        X, y, rows = _check_rows(X, y, rows)
        # As fit: a failed update leaves the selector as it was.
        trial = copy.copy(self)
        trial._refresh(estimator, X, y, rows, reuse=True)
        trial.n_train_ = X.shape[0] if rows is None else rows.shape[0]
        return self._take_state(trial)

    def _pass_dtype(self, n, d):
        if self.dtype == "auto":
            return np.dtype(np.float32 if n * d >= _FLOAT32_ENTRIES else np.float64)
        return np.dtype(self.dtype)

    def _plan(self, n, k, m):
        """``(form, solver, sample size or None)`` for ``n`` rows, ``F`` of ``k m``."""
        fisher, subsample, P = self.fisher, self.subsample, k * m
        sample = None
        if isinstance(subsample, Integral):
            sample = int(subsample)
        elif isinstance(subsample, Real):
            sample = int(np.ceil(subsample * n))
        if sample is not None and sample >= n:
            sample = None
        rows = n if sample is None else sample
        # The dual form's Gram matrix is (rows k)^2: exact and cheap only
        # while that is small too (a wide head has many outputs).
        dual = _fisher.use_dual(rows, k, m) and 8 * (rows * k) ** 2 <= _DUAL_MAX_BYTES
        dense = dual or (
            rows * P * P <= _DENSE_BUDGET and 8 * P * P <= _DENSE_MAX_BYTES
        )
        if fisher == "auto":
            cheap = dense or _CG_PASSES * rows * P <= _CG_BUDGET
            fisher = "exact" if cheap else "kfac"
        if fisher == "exact":
            solver = self.solver
            if solver == "auto":
                solver = "cholesky" if dense else "cg"
            if solver == "cholesky" and dual:
                solver = "dual"
        else:
            solver = fisher
            if subsample == "auto" and n * P > _OUTPUT_BUDGET:
                sample = max(_OUTPUT_BUDGET // P, _MIN_SAMPLE)
                sample = None if sample >= n else sample
        if solver == "cholesky" and 8 * P * P > _DENSE_MAX_BYTES:
            raise ValueError(
                f"The exact Fisher matrix of this last layer has {P} x {P} entries "
                f"({8 * P * P / 2**30:.0f} GiB); use solver='cg' (exact, "
                "matrix-free) or fisher='kfac'."
            )
        return fisher, solver, sample

    def _features(self, view, X, start, stop, dtype):
        """Features of rows ``start:stop`` of ``X``, in ``dtype``."""
        if _identity_features(view) and X.dtype == dtype:
            return X[start:stop]
        return np.asarray(view.features(X[start:stop]), dtype=dtype)

    def _refresh(self, estimator, X, y, rows, reuse):
        """Make the selector describe ``estimator`` on the training set.

        The state is rebound, never written in place: the cleaner shares a
        published selector with the shallow copy it updates.
        """
        self._validate_params()
        view = last_layer_view(estimator, needs=type(self).__name__)
        if rows is not None and rows.shape[0] and 2 * rows.shape[0] < rows.max() + 1:
            # Sparse ids: gather the rows rather than keep features of all ids.
            X, y, rows, reuse = X[rows], y[rows], None, False
        n_ids = X.shape[0] if rows is None else int(rows.max(initial=-1)) + 1
        dtype = self._pass_dtype(n_ids, view.coef.shape[1])
        identity = _identity_features(view)
        old = self._reusable(X, rows, n_ids, dtype, reuse)
        key, H, same_features = self._features_by_id(
            view, X, n_ids, dtype, identity, old
        )
        # names these features: what is computed from them stays valid with it
        token = (same_features and old.get("features_token")) or object()
        H_array = getattr(H, "array", H)
        n_old = old["n_ids"] if same_features else 0
        weights, labels, n_train = _training_weights(view, y, rows, n_ids)

        # Outputs, kept while the model (and its features) are the same.
        model = _model_key(view)
        same_model = same_features and _same_key(model, old["model"])
        P = None
        if same_model and old["P"] is not None:
            P = old["P"]
            if n_ids > n_old:
                P = np.concatenate([P, self._outputs(view, H_array[n_old:])])

        k, m = view.n_outputs, view.coef.shape[1] + view.fit_intercept
        form, solver, sample = self._plan(n_train, k, m)
        state = dict(
            X=X,
            by_id=rows is not None,
            n_ids=n_ids,
            dtype=dtype,
            key=key,
            H=H,
            features_token=token,
            model=model,
            P=P,
            weights=weights,
            params=self._estimate_params(),
            damping=self.damping,
            plan=(form, solver, sample),
            sample=None,
            A=None,
            A_all=None,
            A_eig=None,
            G_eig=None,
            fisher_sum=None,
            dense=None,
            norms=None,
            lam=None,
            refresh=None,
            dense_drift=None,
            prepares=bool(old is not None and old.get("prepares")),
        )
        if same_features:
            state["norms"] = old["norms"]  # of the same features, by id
        factor = self._new_factor(
            view,
            state,
            old,
            same_features,
            same_model,
            H_array,
            labels,
            n_train,
            identity,
        )
        self._publish(view, factor, state, labels, rows, n_train)

    def _new_factor(
        self, view, state, old, same_features, same_model, H, labels, n_train, identity
    ):
        """The factor for the new ``state``: kept, or rebuilt where it changed."""
        weights, n_ids = state["weights"], state["n_ids"]
        form, solver, sample = state["plan"]
        plan_same = same_model and old["plan"] == state["plan"]
        same_factor = plan_same and old["damping"] == self.damping
        if same_factor and sample is None and _same_rows(old, weights, n_ids):
            # The same model on the same rows (relabels aside): nothing to do.
            state.update((name, old[name]) for name in _SUMS)
            return self.factor_
        if (
            same_factor
            and sample is not None
            and self._sample_still_valid(old, weights, n_ids)
        ):
            # Nothing the estimate depends on changed: keep it as it is (a
            # linear model's A over every row follows the rows, for later).
            state.update(
                (name, old[name]) for name in ("sample", "A_eig", "G_eig", "lam")
            )
            if identity and old["A_all"] is not None:
                self._moment(
                    state, "A_all", old, H, weights, n_ids, view.fit_intercept, n_train
                )
            return self.factor_
        drawn = None if old is None or old["plan"] != state["plan"] else (old["sample"])
        k, m = view.n_outputs, view.coef.shape[1] + view.fit_intercept
        # stale=old: a factor of earlier features still preconditions
        return self._build(
            view,
            state,
            old if same_features else None,
            plan_same,
            H,
            labels,
            n_train,
            (form, solver, sample),
            k,
            m,
            drawn,
            stale=old,
        )

    def _publish(self, view, factor, state, labels, rows, n_train):
        """Make the new state and factor the selector's own, then call the hook."""
        form, solver, sample = state["plan"]
        weights, n_ids = state["weights"], state["n_ids"]
        self.view_ = view
        self.factor_ = factor
        self.fisher_, self.solver_ = form, solver
        self.n_fisher_rows_ = n_train if sample is None else sample
        self.dtype_ = state["dtype"]
        self._state = state
        self._labels = labels
        self._rows = (
            None
            if rows is None
            or (weights is None and rows.shape[0] == n_ids and _all_rows(rows, n_ids))
            else rows
        )
        # the unnormalized dense sum n F, by the name subclasses read
        self._fisher_sum = state["fisher_sum"]
        self._refreshed()

    def _features_by_id(self, view, X, n_ids, dtype, identity, old):
        """The features of every id, kept across updates while the map is the same.

        Returns the fingerprint of the feature map, the features, and
        whether ``old`` state had the same map.
        """
        key = None if identity else view.features(X[:_FINGERPRINT_ROWS])
        same_features = old is not None and (
            identity or np.array_equal(key[: len(old["key"])], old["key"])
        )
        if identity and X.dtype == dtype:
            H = X[:n_ids]
        elif same_features and isinstance(old["H"], FeatureRows):
            H = old["H"]
            if n_ids > H.n:
                H = H.extended(self._features(view, X, H.n, n_ids, dtype))
        else:
            H = FeatureRows(self._features(view, X, 0, n_ids, dtype))
        return key, H, same_features

    def _refreshed(self):
        """Called at the end of every fit and update: a hook for subclasses.

        A subclass that derives more state from the fitted selector (from
        ``factor_``, the features...) computes it here, so that it follows
        both :meth:`fit` and the reuse path of :meth:`update`.
        """

    # The training rows' arrays, in training order, for subclasses that read
    # them (the state keeps features by id). Each access gathers; a subclass
    # may still assign them (non-data descriptors).

    def _gathered_H(self):
        H = getattr(self._state["H"], "array", self._state["H"])
        return H if self._rows is None else H[self._rows]

    def _gathered_X(self):
        X = self._state["X"]
        return X[: self._state["n_ids"]] if self._rows is None else X[self._rows]

    def _gathered_P(self):
        P = self._state["P"]
        if P is None:
            return self._outputs(self.view_, self._H)
        return P if self._rows is None else P[self._rows]

    def _gathered_R(self):
        return self._candidate_residuals(self._rows)

    _H = _Computed(_gathered_H)
    _X = _Computed(_gathered_X)
    _P = _Computed(_gathered_P)
    _R = _Computed(_gathered_R)

    def _estimate_params(self):
        """The parameters the state depends on (a new seed keeps a draw valid)."""
        params = self.get_params(deep=False)
        params.pop("random_state", None)
        # The damping enters only the factor (checked on its own, below):
        # features, sums and eigenbases stay valid when it changes.
        params.pop("damping", None)
        return params

    def _reusable(self, X, rows, n_ids, dtype, reuse):
        """The previous state if it may be reused for ``X`` and ``rows``."""
        old = getattr(self, "_state", None)
        if not reuse or old is None:
            return None
        if (
            old["params"] != self._estimate_params()
            or old["by_id"] != (rows is not None)
            or old["dtype"] != dtype
            or n_ids < old["n_ids"]
            or X.shape[1:] != old["X"].shape[1:]
        ):
            return None
        n_old = old["n_ids"]
        if rows is None and not np.array_equal(X[:n_old], old["X"][:n_old]):
            return None
        return old

    @staticmethod
    def _sample_still_valid(old, weights, n_ids):
        if old.get("sample") is None:
            return False
        sample = old["sample"][0]
        if weights is None:
            return bool(sample.max(initial=-1) < n_ids)
        return bool(np.all(weights[sample] > 0))

    def _outputs(self, view, H):
        return _fisher.outputs(H, view.coef, view.intercept, view.link)

    def _draw(self, state, drawn, weights, n_ids, n_train, sample):
        """The rows that estimate F: a random draw from the training set.

        The previous draw is kept while its rows are all still in the
        training set and the set grew by less than a tenth since: the
        estimate then changes with the model only, not with a new draw (so
        its eigenbases can be reused, see _eigenbasis).
        """
        if drawn is not None:
            ids, n_then = drawn
            present = (
                np.ones(ids.shape[0], bool) if weights is None else (weights[ids] > 0)
            )
            if (
                ids.shape[0] == sample
                and present.all()
                and n_then <= n_train <= 1.1 * n_then
            ):
                state["sample"] = drawn
                return ids
        rng = check_random_state(self.random_state)
        if weights is None:
            ids = np.sort(rng.choice(n_ids, size=sample, replace=False))
        else:
            rows = np.repeat(np.arange(n_ids), weights.astype(np.intp))
            ids = np.unique(rows[rng.choice(rows.shape[0], sample, replace=False)])
        state["sample"] = (ids, n_train)
        return ids

    def _build(
        self,
        view,
        state,
        old,
        plan_same,
        H,
        labels,
        n_train,
        plan,
        k,
        m,
        drawn=None,
        stale=None,
    ):
        """The factor of the damped ``F``; reuses ``old`` where still exact.

        ``stale`` is the previous state even when the features changed
        (``old`` is None then): its factor may still precondition.
        """
        form, solver, sample = plan
        link, bias = view.link, view.fit_intercept
        weights = state["weights"]
        n_ids = state["n_ids"]
        if sample is not None:
            ids = self._draw(state, drawn, weights, n_ids, n_train, sample)
            Hf, wf, nf = H[ids], None, ids.shape[0]
            Pf = state["P"][ids] if state["P"] is not None else self._outputs(view, Hf)
        else:
            if state["P"] is None:
                state["P"] = self._outputs(view, H)
            Hf, Pf, wf, nf = H, state["P"], weights, n_train
        norms = None if sample is not None else _row_norms(state, H, bias)
        dim = k * m
        lam = _fisher.damping_value(
            _fisher.fisher_trace(Hf, Pf, link, bias, wf, norms=norms) / max(nf, 1),
            dim,
            self.damping,
        )
        if not np.isfinite(lam):
            # F's trace overflowed: the features are too large, whatever the path.
            raise _fisher.scale_error(Hf, name=_features_name(view))
        state["lam"] = lam  # the absolute damping of every form below

        if solver == "dual":
            index = (
                np.arange(Hf.shape[0])
                if wf is None
                else np.repeat(np.arange(Hf.shape[0]), wf.astype(np.intp))
            )
            return _fisher.DualFactor(Hf[index], Pf[index], link, bias, self.damping)
        if solver == "cholesky":
            total = state["fisher_sum"] = self._dense_sum(
                view, state, old, plan_same, Hf, Pf, wf, n_ids
            )
            return _fisher.factorize(total / max(nf, 1), self.damping)

        if solver == "cg":
            dense = self._dense_preconditioner(
                view, state, stale, Hf, Pf, wf, nf, k * m
            )
            if dense is not None:
                return _fisher.ConjugateGradientFactor(
                    Hf if sample is not None else state["H"],
                    Pf,
                    link,
                    bias,
                    wf,
                    lam,
                    dense,
                    tol=self.tol,
                )

        kron = self._kronecker(view, state, old, H, n_train, Hf, Pf, wf, nf)
        if solver != "cg":
            return kron
        return _fisher.ConjugateGradientFactor(
            Hf if sample is not None else state["H"],
            Pf,
            link,
            bias,
            wf,
            lam,
            kron,
            tol=self.tol,
        )

    def _kronecker(self, view, state, old, H, n_train, Hf, Pf, wf, nf):
        """The K-FAC (or EK-FAC) factor of the damped ``F``; reuses ``old``'s parts."""
        link, bias = view.link, view.fit_intercept
        weights, n_ids = state["weights"], state["n_ids"]
        _, solver, sample = state["plan"]
        # K-FAC's input factor A: for a linear model over every row, kept up
        # to date row by row (it never depends on the model); else over the
        # rows that estimate F, updated likewise while the features stay.
        if _identity_features(view):
            A = self._moment(state, "A_all", old, H, weights, n_ids, bias, n_train)
        elif sample is None:
            A = self._moment(state, "A", old, H, weights, n_ids, bias, n_train)
        else:
            A = _fisher.feature_moment(Hf, bias) / max(nf, 1)
        a, QA = self._eigenbasis(state, old, A, "A_eig")
        G = _fisher.output_moment(Pf, link, wf) / max(nf, 1)
        g, QG = self._eigenbasis(state, old, G, "G_eig")
        if solver == "ekfac":
            S = _fisher.ekfac_eigenvalues(Hf, Pf, link, QA, QG, bias, wf) / max(nf, 1)
        else:
            S = np.outer(g, a)
        return _fisher.KroneckerFactor(QG, QA, S, state["lam"])

    def _dense_preconditioner(self, view, state, old, Hf, Pf, wf, nf, dim):
        """The exact F of an earlier model, factorized, while it is close enough.

        Conjugate gradients solve with the current model's F exactly; this
        only decides how fast. An incremental refit moves the outputs a
        little per question, so the factor of the F of a recent model makes
        conjugate gradients converge in a few iterations (K-FAC, blind to
        which rows are uncertain, needs about 20 on a model right 90% of
        the time). The factor is the newest at hand: the one a background
        refresh built while the oracle waited (see :meth:`while_waiting`),
        if it has finished, else the one kept, also when the features changed
        since (a network's hidden layers move at every incremental update).
        It is rebuilt here, on the question's path, when the outputs and
        features moved by more than ``_STALE_DRIFT`` (see :func:`_drift`);
        for a selector whose factor
        is prepared while the oracle waits, only past ``_HARD_DRIFT``: the
        next wait refreshes it, and an unfinished refresh is never waited
        for. Used only while forming F is affordable; None otherwise (K-FAC
        then preconditions).
        """
        if (
            state["plan"][2] is not None
            or 8 * dim * dim > _PRECONDITIONER_MAX_BYTES
            or nf * dim * dim > _PRECONDITIONER_BUDGET
        ):
            return None
        stale, refresh = _newest_factor(old)
        if stale is not None and not _fits(stale, Pf, dim):
            stale = None  # of another last layer (new classes, new width)
        moving = None if _identity_features(view) else Hf
        drift = (
            None
            if stale is None
            else _drift(stale, Pf, wf, state["norms"], moving, view.fit_intercept)
        )
        if drift is not None and drift <= _STALE_DRIFT:
            state.update(dense=stale, refresh=refresh, dense_drift=drift)
            return stale["factor"]
        if drift is not None and drift <= _HARD_DRIFT and self._prepares:
            state.update(dense=stale, refresh=refresh, dense_drift=drift)
            return stale["factor"]
        if refresh is not None:
            refresh.cancel()  # superseded by the factor built now
        F = _fisher.fisher_matrix(Hf, Pf, view.link, view.fit_intercept, wf)
        factor = _fisher.factorize(F, self.damping)
        state.update(
            dense=dict(
                factor=factor,
                P=Pf,
                weights=wf,
                n=Pf.shape[0],
                **_kept_features(moving, Pf.shape[0]),
            ),
            refresh=None,
            dense_drift=0.0,
        )
        return factor

    @contextlib.contextmanager
    def while_waiting(self):
        """Prepare the next question's factor while the oracle waits for a person.

        A context manager around the oracle's call: inside it, a background
        thread factorizes the exact ``F`` of the current model (when
        conjugate gradients precondition with the exact ``F`` of an earlier
        one, see ``solver``), a chunk of rows at a time; on exit it pauses
        at the end of its chunk, so that it never competes with the next
        question for a core, and it resumes at the next question's wait.
        The next :meth:`update` takes the factor if it is finished and goes
        on with the one it has otherwise. The picks are the same either
        way, to ``tol``: conjugate gradients solve with the current ``F``
        whatever their preconditioner.

        :class:`~sklearn_cincer.SkepticalCleaner` enters it around every
        oracle call. Anything else does nothing in it.

        Yields
        ------
        None
        """
        state = getattr(self, "_state", None)
        if state is not None:
            state["prepares"] = True  # see _dense_preconditioner
        refresh = self._refresh_job()
        if refresh is None:
            yield
            return
        refresh.resume()
        try:
            yield
        finally:
            refresh.pause()

    def _refresh_job(self):
        """The background refresh for the current model: started, or None.

        None when there is nothing to prepare: no dense preconditioner in
        use, or it is the current model's own. The refresh is recorded in
        the state that the cleaner's working copy shares with the selector
        it published; it changes no result, only which factor the next
        update may start from.
        """
        state = getattr(self, "_state", None)
        if not state or state.get("dense") is None or state.get("P") is None:
            return None
        refresh = state.get("refresh")
        if refresh is not None and not refresh.done:
            return refresh
        if not state.get("dense_drift"):
            return None
        view = self.view_
        H = getattr(state["H"], "array", state["H"])
        n = state["P"].shape[0]
        moving = None if _identity_features(view) else H
        refresh = FactorRefresh(
            H[:n],
            state["P"],
            state["weights"],
            view.link,
            view.fit_intercept,
            state["damping"],
            keep=_kept_features(moving, n),
        )
        state["refresh"] = refresh
        return refresh

    @property
    def _prepares(self):
        """Whether someone enters :meth:`while_waiting` (the cleaner does)."""
        return bool((getattr(self, "_state", None) or {}).get("prepares", False))

    @property
    def n_iter_(self):
        """Conjugate-gradient iterations of the last solve (0: a direct solve).

        With ``solver="cg"`` each iteration is one pass of ``F v`` over the
        rows (two products with the features), beyond the one that checks
        the preconditioner's first guess.
        """
        return int(getattr(self.factor_, "n_iter_", 0))

    def _dense_sum(self, view, state, old, plan_same, Hf, Pf, wf, n_ids):
        """``sum_i w_i F_i``: from ``old`` plus the rows that changed, if valid."""
        link, bias = view.link, view.fit_intercept
        if not (
            plan_same
            and old is not None
            and old["fisher_sum"] is not None
            and state["plan"][2] is None
        ):
            total = _fisher.fisher_matrix(Hf, Pf, link, bias, wf)
            return total * (Hf.shape[0] if wf is None else float(np.sum(wf)))
        # The model is the same: F changes by the terms of the rows whose
        # weight changed (rows added, removed, duplicated).
        total = old["fisher_sum"].copy()
        delta = _weight_change(old, state["weights"], n_ids)
        for (index, amount), sign in zip(_split_changes(delta), (1.0, -1.0)):
            if index.size:
                part = _fisher.fisher_matrix(Hf[index], Pf[index], link, bias, amount)
                total += sign * part * float(amount.sum())
        return total

    @staticmethod
    def _moment(state, name, old, H, weights, n_ids, bias, n_train):
        """``mean_i w_i h~_i h~_i^T`` over every row, from ``old``'s if it has one.

        The unnormalized sum is kept in ``state[name]``; rows whose weight
        changed (added, removed) change it by their own terms only.
        """
        previous = None if old is None else old.get(name)
        if previous is None:
            total = _fisher.feature_moment(H, bias, weights)
        else:
            total = previous.copy()
            delta = _weight_change(old, weights, n_ids)
            for (index, amount), sign in zip(_split_changes(delta), (1.0, -1.0)):
                if index.size:
                    total += sign * _fisher.feature_moment(H[index], bias, amount)
        state[name] = total
        return total / max(n_train, 1)

    @staticmethod
    def _eigenbasis(state, old, M, name):
        """Eigenvalues and vectors of ``M``, reusing ``old``'s while M barely moved.

        K-FAC's factors move little from one question to the next (a row
        added to many; a small model update), and an eigendecomposition
        costs ``O(m^3)`` (a second for 1000 classes): within ``_STALE_A``
        (1%, relative, Frobenius norm) the previous one is kept.
        """
        if old is not None and old.get(name) is not None:
            values, vectors, then = old[name]
            if then.shape == M.shape and np.linalg.norm(M - then) <= (
                _STALE_A * np.linalg.norm(then)
            ):
                state[name] = old[name]
                return values, vectors
        values, vectors = _fisher.psd_eigh(M)
        state[name] = (values, vectors, M)
        return values, vectors

    # ------------------------------------------------------------ scoring

    def query_direction(self, x, y):
        """``V = (F + lambda I)^-1 g(z_t)``, shaped as the last layer's ``(k, m)``."""
        return self._query_directions(as_row(x), [y])[0]

    def _query_directions(self, X, y):
        """:meth:`query_direction` of each row of ``X``: one features' pass."""
        view = self.view_
        H = view.features(X)
        P = view.outputs(H)
        labels = view.encode(y)
        if hasattr(self.factor_, "solve_outer"):
            # g = r h~^T has rank one: K-FAC rotates r and h~ on their own.
            R = _fisher.residuals(P, labels, view.link)
            return [
                self.factor_.solve_outer(R[t], H[t], view.fit_intercept)
                for t in range(H.shape[0])
            ]
        G = _fisher.gradients(H, P, labels, view.link, view.fit_intercept)
        # one solve per query: the same numbers as a question asked alone
        return [_fisher.solve(self.factor_, g.reshape(view.n_outputs, -1)) for g in G]

    def _candidate_residuals(self, ids):
        """``t(y) - p`` of the rows ``ids`` (all ids when None)."""
        view, state = self.view_, self._state
        H = getattr(state["H"], "array", state["H"])
        P = state["P"]
        if P is None:
            P = self._outputs(view, H if ids is None else H[ids])
        elif ids is not None:
            P = P[ids]
        labels = self._labels if ids is None else self._labels[ids]
        return _fisher.residuals(P, labels, view.link)

    def score(self, x, y, candidates=None):
        candidates = self._candidates(candidates)
        return self._kernel_scores(self.query_direction(x, y), candidates)

    def _kernel_scores(self, V, candidates):
        """Eq. 14 of the rows ``candidates`` for the solved query ``V``."""
        rows = self._rows
        if rows is None:
            ids = None if _all_rows(candidates, self.n_train_) else candidates
        else:
            ids = rows[candidates]
        H = getattr(self._state["H"], "array", self._state["H"])
        return _fisher.kernel_scores(
            V,
            H,
            self._candidate_residuals(ids),
            self.view_.fit_intercept,
            rows=ids,
            gathered=True,
        )

    def select_many(self, X, y, candidates=None, n=1):
        """The ``n`` best counter-examples of several suspicious examples at once.

        The same picks as ``top_candidates(score(x_t, y_t, candidates),
        candidates, n)`` for each example (the rows, their order and the
        tie-breaking: a tie goes to the first candidate in ``candidates``
        order), at the cost of one pass over the candidates for all the
        examples: their gradients ``J_k`` are formed once per block of
        candidates and multiplied by every solved query together. The scores
        of that product differ from one-at-a-time scoring by rounding only;
        a candidate whose rounding bound reaches the ``n``-th best is scored
        again as one-at-a-time scoring does, so that no rounding flips a pick.

        Parameters
        ----------
        X : array-like of shape (n_examples, n_features)
            The suspicious examples.
        y : array-like of shape (n_examples,)
            Their current (annotated) labels.
        candidates : array-like of int or bool, default=None
            As in :meth:`select`, the same for every example.
        n : int, default=1
            Counter-examples per example.

        Returns
        -------
        picks : list of tuple or None
            For each example, ``(rows, scores)`` as :func:`top_candidates`
            returns them; ``None`` where the batch cannot decide (a score
            that is not finite, or features kept out of memory): score that
            example on its own, which also raises the error that explains it.
        """
        candidates = self._candidates(candidates)
        if candidates.size == 0:
            raise ValueError("There is no candidate counter-example to select.")
        X = np.asarray(X)
        picks = [None] * len(y)
        if not batch_ready(self, TopFisherSelector, self, TopFisherSelector):
            return picks
        scan = support_scan(self, X, y, candidates)
        kept = [_Kept() for _ in picks]
        for positions, S, E, columns in scan:
            for j, t in enumerate(columns):
                if kept[t].add(positions, S[:, j], E[:, j], n):
                    scan.drop(t)
        for t, k in enumerate(kept):
            if not k.bad:
                picks[t] = k.top(scan, t, n)
        return picks


# What the Fisher's state keeps across updates (see TopFisherSelector._build).
_SUMS = (
    "sample",
    "A",
    "A_all",
    "A_eig",
    "G_eig",
    "fisher_sum",
    "dense",
    "norms",
    "lam",
    "refresh",
    "dense_drift",
    "prepares",
)


def _newest_factor(old):
    """``(stale factor, refresh still running)`` of ``old``'s state.

    A finished background refresh replaces the factor kept (it describes a
    later model); one that failed is dropped, and the factor kept goes on
    (see :class:`FactorRefresh`).
    """
    if old is None:
        return None, None
    stale, refresh = old.get("dense"), old.get("refresh")
    if refresh is not None and refresh.done:
        if refresh.result is not None:
            stale = refresh.result
        refresh = None
    return stale, refresh


def _fits(stale, P, dim):
    """Whether ``stale`` is the factor of a last layer of this shape.

    An update may bring another model of the same inputs (more classes, a
    network of another width): its outputs or its ``F`` have another size.
    """
    factor = stale["factor"]
    return stale["P"].shape[1] == P.shape[1] and factor[0].shape[0] == dim


def _row_norms(state, H, bias):
    """``||h~_i||^2`` of every id, kept in ``state`` (new ids appended)."""
    norms = state.get("norms")
    n = H.shape[0]
    if norms is None or norms.shape[0] > n:
        norms = np.zeros(0)
    if norms.shape[0] < n:
        new = H[norms.shape[0] :]
        new = np.einsum("ij,ij->i", new, new, dtype=float) + float(bias)
        norms = np.concatenate([norms, new])
    state["norms"] = norms
    return norms


def _kept_features(H, n):
    """What a factor built on the features ``H[:n]`` keeps of them.

    ``{}`` for a linear model (``H`` None: its features never change), else
    ``features=(ids, H[ids])`` for up to ``_DRIFT_ROWS`` evenly spaced rows,
    in the features' own precision: enough to estimate how far the features
    moved since (:func:`_drift`), never a copy of every row.
    """
    if H is None:
        return {}
    ids = np.unique(np.linspace(0, n - 1, min(n, _DRIFT_ROWS)).astype(np.intp))
    return {"features": (ids, np.array(H[ids]))}


def _feature_moves(stale, H, kept, norms, bias):
    """``sum_i ||h_i - h_i^then|| (||h~_i|| + ||h~_i^then||)`` over the rows of both times.

    It bounds how far ``h~_i h~_i^T`` moved (Frobenius norm), estimated from
    the rows ``stale`` kept (see :func:`_kept_features`); infinite when it
    kept none (a factor from before the features were kept).
    """
    if stale.get("features") is None:
        return np.inf
    ids, then = stale["features"]
    now, then = np.asarray(H[ids], dtype=float), np.asarray(then, dtype=float)
    size_then = np.sqrt(np.einsum("ij,ij->i", then, then) + float(bias))
    moves = np.linalg.norm(now - then, axis=1) * (np.sqrt(norms[ids]) + size_then)
    return float(kept[ids] @ moves) * (stale["n"] / max(ids.shape[0], 1))


def _drift(stale, P, weights, norms, H=None, bias=True):
    """How far the outputs (and features) moved since ``stale`` was built, relative.

    ``sum_i ||p_i - p_i^then||_1 ||h~_i||^2`` over the rows of both times,
    plus ``||h~_i||^2`` for each row added or removed since, over
    ``sum_i ||h~_i||^2``: 0 for the same model on the same rows, 2 for a
    model that now gives every row to another class. With the current
    features ``H`` (None when they cannot change), the features' move
    (:func:`_feature_moves`) is added: the factor is of ``F`` built on
    ``Lambda_i kron h~_i h~_i^T``, and both factors may have moved.
    """
    n_then = stale["n"]
    before = np.zeros(P.shape[0])
    before[:n_then] = 1.0 if stale["weights"] is None else stale["weights"]
    now = np.ones(P.shape[0]) if weights is None else weights
    kept = np.minimum(before, now)[:n_then]
    moved = np.abs(P[:n_then] - stale["P"]).sum(axis=1) @ (kept * norms[:n_then])
    moved += np.abs(now - before) @ norms
    if H is not None:
        moved += _feature_moves(stale, H, kept, norms, bias)
    return float(moved / max(now @ norms, np.finfo(float).tiny))


def _same_rows(old, weights, n_ids):
    """Whether the training rows (and their counts) are those of ``old``."""
    if n_ids != old["n_ids"]:
        return False
    if weights is None or old["weights"] is None:
        return weights is None and old["weights"] is None
    return np.array_equal(weights, old["weights"])


def _weight_change(old, weights, n_ids):
    """New minus old weight of every id (ids new since ``old`` had weight 0)."""
    new = np.ones(n_ids) if weights is None else weights
    before = np.zeros(n_ids)
    n_old = old["n_ids"]
    before[:n_old] = 1.0 if old["weights"] is None else old["weights"]
    return new - before


def _check_rows(X, y, rows):
    """``X``, ``y`` as arrays and ``rows`` as valid indices (or None)."""
    X = np.asarray(X)
    y = np.asarray(y)
    if X.shape[0] != y.shape[0]:
        raise ValueError(
            f"X and y have different numbers of rows: {X.shape[0]} and {y.shape[0]}."
        )
    if rows is not None:
        rows = np.asarray(rows, dtype=np.intp).reshape(-1)
        if rows.size and (rows.min() < 0 or rows.max() >= X.shape[0]):
            raise IndexError(f"rows must index the {X.shape[0]} rows of X.")
    return X, y, rows
