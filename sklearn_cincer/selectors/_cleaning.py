"""A counter-example selector built for cleaning: the likely mislabeled supporter."""

import contextlib
import copy
from numbers import Integral, Real

import numpy as np
from scipy import linalg
from scipy.special import expit, softmax
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import Interval, StrOptions

from .._core import fisher_math as _fisher
from .._core.last_layer import last_layer_view
from .._core.parameter_views import linear_penalty
from ._base import BaseSelector
from ._batch import batch_ready, support_scan
from ._top_fisher import TopFisherSelector, _check_rows, _features_name

#: Top Fisher's own damping, used where the model has no L2 penalty.
_DEFAULT_DAMPING = 1e-3
#: Training rows read to estimate the Fisher's mean eigenvalue (all below).
_EIGENVALUE_ROWS = 4096
#: Above this many outputs (classes) the leave-one-out step, c^3 per
#: candidate, gives way to the in-sample probability.
_MAX_LOO_OUTPUTS = 32
#: Rows whose leverage through a conjugate-gradient preconditioner is kept.
_LEVERAGE_KEPT = 20000
#: Candidates sorted by in-sample probability before a batch's pass starts.
_HEAD_ROWS = 8192
#: The least damping kept on an intercept the model does not penalize,
#: relative to the weights' damping (see :class:`_FreeIntercept`).
_INTERCEPT_FLOOR = 1e-4


def model_l2_penalty(estimator, n_samples):
    """The L2 strength of a model's own training objective, per example.

    The objective is read as ``mean loss + lambda / 2 ||w||^2`` and ``lambda``
    is returned (0 when the model has no L2 penalty or it is unknown):

    - ``LogisticRegression``: ``(1 - l1_ratio) / (C n)``;
    - ``SGDClassifier``: ``alpha (1 - l1_ratio)``;
    - ``MLPClassifier``: ``alpha / n``;
    - a skorch net: its optimizer's ``weight_decay`` (not AdamW's, which is
      decoupled from the objective);
    - a Pipeline: its last step's.

    Parameters
    ----------
    estimator : fitted classifier
    n_samples : int
        Rows of the training set.

    Returns
    -------
    lam : float

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_cincer.selectors._cleaning import model_l2_penalty
    >>> model_l2_penalty(LogisticRegression(C=0.5), 100)
    0.02
    """
    if isinstance(estimator, Pipeline):
        return model_l2_penalty(estimator.steps[-1][1], n_samples)
    n = max(int(n_samples), 1)
    if isinstance(estimator, (LogisticRegression, SGDClassifier)):
        l2, _, per_sample, _ = linear_penalty(estimator)
        return l2 / n if per_sample else l2
    if isinstance(estimator, MLPClassifier):
        return float(estimator.alpha) / n
    params = estimator.get_params() if hasattr(estimator, "get_params") else {}
    optimizer = getattr(params.get("optimizer"), "__name__", "")
    if "optimizer__weight_decay" in params and "AdamW" not in optimizer:
        return float(params["optimizer__weight_decay"] or 0.0)
    return 0.0


def _intercept_l2_penalty(estimator, n_samples):
    """The L2 strength on the last layer's intercept, per example, or None.

    ``None`` where the intercept is penalized as the weights are (a skorch
    optimizer's ``weight_decay`` decays every parameter) or where the model
    is unknown; a float for the models that exempt it: ``SGDClassifier``
    and ``MLPClassifier`` (``alpha`` penalizes ``coef_`` / ``coefs_``
    only), ``LogisticRegression`` (0, but for liblinear, which penalizes
    the intercept as a feature of value ``intercept_scaling``).
    """
    if isinstance(estimator, Pipeline):
        return _intercept_l2_penalty(estimator.steps[-1][1], n_samples)
    if isinstance(estimator, (LogisticRegression, SGDClassifier)):
        _, _, per_sample, intercept = linear_penalty(estimator)
        return intercept / max(int(n_samples), 1) if per_sample else intercept
    if isinstance(estimator, MLPClassifier):
        return 0.0
    return None


def _mean_eigenvalue(view, H, P):
    """``trace(F) / dim`` of the top-layer Fisher, in closed form."""
    if view.link == "softmax":
        spread = 1.0 - np.einsum("ij,ij->i", P, P)
    else:
        spread = np.einsum("ij,ij->i", P, 1.0 - P)
    norms = np.einsum("ij,ij->i", H, H) + view.fit_intercept
    dim = P.shape[1] * (H.shape[1] + view.fit_intercept)
    return float(np.mean(spread * norms)) / dim


class _FreeIntercept:
    """The damped Fisher with the intercept's own damping, from its factor.

    The factor holds ``A = F + lambda I``; a model that does not penalize
    its intercept (``LogisticRegression``, ``SGDClassifier``, the output
    bias of ``MLPClassifier``) has the Hessian ``A' = F + lambda D``, with
    ``D`` 1 on the weights and ``beta / lambda`` on the intercepts. With
    ``G`` the intercept coordinates, ``A' = A - (lambda - beta) G G^T`` and
    by the Woodbury identity::

        A'^-1 = A^-1 + U S^-1 U^T,   U = A^-1 G,
        S = I / (lambda - beta) - G^T A^-1 G

    (``k x k``: one solve per output, once per fit). For the softmax link
    ``G`` spans only the intercept moves orthogonal to the shift of every
    logit: ``F`` is zero along that shift, so without damping ``A'`` would
    be singular there, while no gradient and no logit probability moves
    along it, so its damping changes nothing.

    ``beta`` is the model's own intercept penalty (liblinear's), at least
    ``_INTERCEPT_FLOOR * lambda``: an intercept the data hardly constrain (a
    class the model predicts with certainty everywhere) would otherwise
    leave ``S`` to a difference of nearly equal numbers, while a damping
    ``1e-4`` times the weights' barely moves an intercept the data do
    constrain (its curvature in ``F`` is far above it).
    """

    def __init__(self, factor, lam, beta, shape, link):
        k, m = shape
        q = k - 1 if link == "softmax" else k
        Q = np.eye(k)
        if link == "softmax":  # an orthonormal basis of the moves summing to 0
            Q = np.linalg.qr(np.eye(k) - 1.0 / k)[0][:, :q]
        G = np.zeros((k, m, q))
        G[:, m - 1, :] = Q
        G = G.reshape(k * m, q)
        if isinstance(factor, tuple):
            U = linalg.cho_solve(factor, G, check_finite=False)
        else:
            U = np.column_stack(
                [factor.solve(G[:, j].reshape(shape)).reshape(-1) for j in range(q)]
            )
        S = np.eye(q) / (lam - beta) - G.T @ U
        self.S_inv = np.linalg.inv((S + S.T) / 2.0)
        self.U = U.reshape(k, m, q)

    def leverage(self, Ht):
        """The change of each row's leverage ``J_j A^-1 J_j^T``: ``W S^-1 W^T``."""
        W = np.einsum("jc,acq->jaq", Ht, self.U)
        return np.einsum("jaq,qs,jbs->jab", W, self.S_inv, W)


def _free_intercept(fisher, penalties):
    """The :class:`_FreeIntercept` of a model that exempts its intercept, or None.

    ``penalties`` is ``(weights', intercept's)`` L2 strength of the model,
    or None. None where the intercept is damped as the weights are: a model
    without an intercept, one that penalizes it alike, or a factor whose
    leverage is a conjugate-gradient preconditioner's (large problems,
    approximate anyway).
    """
    view, factor = fisher.view_, fisher.factor_
    lam = fisher._state.get("lam")
    if (
        penalties is None
        or not view.fit_intercept
        or not lam
        or isinstance(factor, _fisher.ConjugateGradientFactor)
    ):
        return None
    lam_model, penalty = penalties
    # The factor's damping is the model's penalty up to the estimate of F's
    # scale: the intercept keeps the same ratio to it as in the model.
    beta = max(lam * penalty / lam_model, _INTERCEPT_FLOOR * lam)
    if abs(lam - beta) <= 1e-12 * lam:
        return None
    shape = (view.n_outputs, view.coef.shape[1] + 1)
    try:
        free = _FreeIntercept(factor, lam, beta, shape, view.link)
    except np.linalg.LinAlgError:
        return None  # keep the damped intercept rather than stop a question
    return free if np.isfinite(free.S_inv).all() else None


def _label_probability(view, Z, y):
    """``P(y | x)`` from the last layer's logits ``Z``, as the model predicts it."""
    if view.link == "softmax":
        P = softmax(Z, axis=1)
    else:
        P = expit(Z)
    if view.link == "logistic":
        return np.where(y == 1, P[:, 0], 1.0 - P[:, 0])
    if view.link == "ovr":  # scikit-learn normalizes one-vs-rest units
        P = P / np.maximum(P.sum(axis=1, keepdims=True), np.finfo(float).tiny)
    known = y >= 0
    out = np.zeros(Z.shape[0])
    out[known] = P[np.flatnonzero(known), y[known]]
    return out


def leave_one_out_probability(
    view, factor, H, y, n_train, free_intercept=None, leverage=None
):
    """Each row's probability of its own label once it leaves the training set.

    One Newton step on the last layer, from the fitted weights, with the
    damped Fisher of the training set *without* the row (a rank-``k``
    update, by the Sherman-Morrison-Woodbury identity): the approximate
    leave-one-out of Rad and Maleki (2020). With ``J_i`` the Jacobian of the
    logits in the last layer's weights, ``M_i = J_i (n (F + lambda I))^-1
    J_i^T`` and ``Lambda_i`` the covariance of the outputs, removing row
    ``i`` moves its logits by::

        dz_i = -M_i (I - Lambda_i M_i)^-1 (t(y_i) - p_i)

    For logistic regression with ``lambda`` equal to its L2 penalty this is
    the leave-one-out of the model itself, to first order in the step
    (the tests check it against refitting).

    Parameters
    ----------
    view : LastLayerView
    factor : tuple or DualFactor
        The factor of ``F + lambda I`` over the ``n_train`` training rows.
    H : ndarray of shape (r, d)
        Features of the rows.
    y : ndarray of shape (r,)
        Their label indices (``-1`` for a label the model lacks).
    n_train : int
    free_intercept : _FreeIntercept or None, default=None
        The correction of ``factor`` for an intercept that is not damped as
        the weights are (the model's own objective does not penalize it).
    leverage : ndarray of shape (r, k, k), default=None
        ``J_i (F + lambda I)^-1 J_i^T`` of the rows through ``factor``, if
        known (:func:`sklearn_cincer._core.fisher_math.leverage`).

    Returns
    -------
    q : ndarray of shape (r,)
        ``P(y_i | x_i)`` of the model refit without row ``i``.
    """
    H = np.asarray(H, dtype=float)
    y = np.asarray(y)
    Z = view.logits(H)
    P = view.outputs(H)
    R = _fisher.residuals(P, y, view.link)
    M = (
        _fisher.leverage(factor, H, view.fit_intercept)
        if leverage is None
        else (np.array(leverage, dtype=float))
    )
    if free_intercept is not None:
        M = M + free_intercept.leverage(np.hstack([H, np.ones((H.shape[0], 1))]))
    M /= max(int(n_train), 1)
    B = _fisher.output_factors(P, view.link)
    A = np.eye(P.shape[1])[None] - B @ np.transpose(B, (0, 2, 1)) @ M
    # The eigenvalues of Lambda M lie in [0, 1) for any damping > 0, so A is
    # invertible; it nears singular only for a row the model memorizes, whose
    # step then grows without bound: the pseudo-inverse and the clip keep the
    # logits finite (beyond 1e4 a probability is 0 or 1 in float64 anyway).
    # A row whose leverage is not finite (a factor on the edge of
    # singularity) keeps its in-sample probability rather than stop a person.
    finite = np.isfinite(A).all(axis=(1, 2)) & np.isfinite(R).all(axis=1)
    step = np.zeros_like(R)
    if finite.any():
        try:
            step[finite] = np.linalg.solve(A[finite], R[finite][:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            step[finite] = _pinv_steps(A[finite], R[finite])
    M = np.where(finite[:, None, None], M, 0.0)
    shift = np.clip(-np.einsum("iab,ib->ia", M, step), -1e4, 1e4)
    return _label_probability(view, Z + shift, y)


def _stable_smallest(values, k):
    """Positions of the ``k`` smallest values, as ``argsort(kind="stable")[:k]``.

    In linear time for the selection; only the ``k`` picked are sorted.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer.selectors._cleaning import _stable_smallest
    >>> _stable_smallest(np.array([0.5, 0.1, 0.5, 0.1, 0.9]), 3).tolist()
    [1, 3, 0]
    """
    if k >= values.shape[0]:
        return np.argsort(values, kind="stable")
    # Every value below the k-th smallest is in; ties at it go by position.
    kth = np.partition(values, k - 1)[k - 1]
    below = np.flatnonzero(values < kth)
    tied = np.flatnonzero(values == kth)[: k - below.shape[0]]
    picked = np.concatenate([below, tied])
    return picked[np.argsort(values[picked], kind="stable")]


def _pinv_steps(A, R):
    """``pinv(A_i) r_i`` row by row; a row whose SVD fails gets no step.

    LAPACK's divide-and-conquer SVD (numpy's) fails to converge on rare
    finite matrices; the row then keeps its in-sample probability.
    """
    step = np.zeros_like(R)
    for i in range(A.shape[0]):
        try:
            step[i] = np.linalg.pinv(A[i]) @ R[i]
        except np.linalg.LinAlgError:
            pass
    return step


class CleaningSelector(BaseSelector):
    """Counter-examples worth a second look: the supporter most likely mislabeled.

    CINCER shows a counter-example next to each suspicious example so that a
    person can check both labels. This selector picks the counter-example
    that is most likely *mislabeled* among those that explain the doubt:

    1. **Support.** Eq. 14 of the paper over the last layer, as
       :class:`~sklearn_cincer.TopFisherSelector` computes it: ``s_k =
       -g(z_t)^T (F + lambda I)^-1 g(z_k) > 0`` means that removing ``z_k``
       and refitting would raise the probability of the suspicious label, so
       ``z_k`` supports the model's doubt.
    2. **Suspicion.** Among the supporters, the one whose own label the model
       finds least likely *out of sample*: ``q_k``, the probability of
       ``z_k``'s label once ``z_k`` leaves the training set, in closed form
       from the same factor (see :func:`leave_one_out_probability`). A
       mislabeled example is one the rest of the data contradicts; its
       in-sample probability hides that when the model has learned it by
       heart, its leave-one-out probability does not.

    The score is ``1 - q_k`` (the leave-one-out probability that the label is
    wrong, in ``(0, 1]``) for a supporter (``-p_k``, its in-sample
    probability, beyond the ``shortlist``) and ``s_k - 1`` (at most ``-1``)
    for a candidate that does not support the doubt, so every supporter
    ranks above every other candidate, and those that do not are ranked by
    Eq. 14 (the least opposed first; their ``q_k`` is never computed, which
    halves the cost of a question).

    Why not Eq. 14 alone: when the training set is much smaller than the
    last layer (images: 100 to 200 examples, 7,850 weights for logistic
    regression on MNIST), the exact ``F^-1`` divides each candidate's score
    by about its own gradient energy, so the score no longer depends on how
    badly the candidate is fit (Spearman correlation with its residual about
    0 on the paper's MNIST and Fashion-MNIST streams), and Eq. 14's top
    candidate is mislabeled about as often as a random one. The
    leave-one-out probability singles out mislabeled candidates (see the
    user guide, :ref:`selectors`).

    Parameters
    ----------
    damping : "auto" or float, default="auto"
        ``lambda``, relative to the mean eigenvalue of ``F`` as in
        :class:`~sklearn_cincer.TopFisherSelector`. ``"auto"`` takes the
        model's own L2 penalty where it has one
        (``LogisticRegression``, ``SGDClassifier``, ``MLPClassifier``, a
        skorch optimizer's ``weight_decay``; see :func:`model_l2_penalty`),
        so that ``F + lambda I`` is the Hessian of a linear model's own
        objective and both the support and the leave-one-out probability are
        those of refitting it; else Top Fisher's ``1e-3``. The leave-one-out
        probability then damps the intercepts as the model penalizes them:
        not at all for ``LogisticRegression`` (but liblinear),
        ``SGDClassifier`` and ``MLPClassifier`` (a floor of ``1e-4 lambda``
        keeps the matrix well conditioned), which matters on unscaled
        features (see the user guide, :ref:`selectors`).

    fisher : {"auto", "exact", "kfac", "ekfac"}, default="auto"
        The Fisher of the inner :class:`~sklearn_cincer.TopFisherSelector`
        (see there). With K-FAC the leave-one-out probability uses the
        Kronecker approximation's leverage, cheap for a wide last layer.
    shortlist : int or None, default=1000
        The leave-one-out probability is computed for at most this many
        supporters per question: those whose label the model finds least
        likely in sample (the leave-one-out probability corrects that one).
        The other supporters rank below them, by their in-sample
        probability. Exact whenever fewer candidates support the doubt (the
        paper's training sets have at most a few hundred rows); ``None``
        computes it for every supporter (one ``c x c`` leverage each). A last
        layer of more than 32 outputs ranks the supporters by their
        in-sample probability instead: the leave-one-out step costs ``c^3``
        per candidate, minutes a question at 1,000 classes.

    Attributes
    ----------
    fisher_ : TopFisherSelector
        The fitted Top Fisher selector that computes Eq. 14.
    damping_ : float
        The relative damping used.
    n_train_ : int
        Number of training rows the selector was fitted on.
    n_iter_ : int
        Conjugate-gradient iterations of the last solve (``fisher_.n_iter_``).

    See Also
    --------
    TopFisherSelector : Eq. 14 alone, the most influential counter-example.
    PracticalFisherSelector : Eq. 14 with the identity in place of ``F``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_cincer import CleaningSelector, TopFisherSelector
    >>> X, y = load_iris(return_X_y=True)
    >>> y[[100, 101]] = 1  # two examples of class 2, mislabeled as 1
    >>> model = LogisticRegression(max_iter=1000).fit(X, y)
    >>> model.predict(X[133:134])  # a suspicious example, annotated as 2
    array([1])
    >>> candidates = (y == 1).nonzero()[0]  # examples labeled as the prediction
    >>> selector = CleaningSelector().fit(model, X, y)
    >>> index, score = selector.select(X[133], 2, candidates)
    >>> int(index), round(score, 2)  # mislabeled; P(label wrong) out of sample
    (100, 0.99)

    Eq. 14 alone shows a correctly labeled example instead:

    >>> TopFisherSelector().fit(model, X, y).select(X[133], 2, candidates)[0]
    83
    """

    _parameter_constraints = {
        "damping": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
        "fisher": [StrOptions({"auto", "exact", "kfac", "ekfac"})],
        "shortlist": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(self, damping="auto", *, fisher="auto", shortlist=1000):
        self.damping = damping
        self.fisher = fisher
        self.shortlist = shortlist

    def _fit(self, estimator, X, y):
        self._validate_params()
        last_layer_view(estimator, needs=type(self).__name__)  # a clear error
        self.damping_, self._penalties = self._damping(estimator, X)
        self.fisher_ = TopFisherSelector(damping=self.damping_, fisher=self.fisher).fit(
            estimator, X, y
        )
        self._keep(X, y)

    def _damping(self, estimator, X, rows=None):
        """``(damping, penalties)``: the model's own L2 penalty, or as given.

        ``penalties`` is ``(weights', intercept's)`` L2 strength where the
        damping is the model's and its intercept is penalized apart (else
        None; see :class:`_FreeIntercept`). ``F``'s mean eigenvalue, which
        turns the penalty into a relative damping, is exact up to
        ``_EIGENVALUE_ROWS`` training rows and
        estimated from that many evenly spaced rows above (one pass over a
        large training set per question would cost more than the question).
        """
        if self.damping != "auto":
            return float(self.damping), None
        n_train = X.shape[0] if rows is None else rows.shape[0]
        lam = model_l2_penalty(estimator, n_train)
        if lam > 0:
            intercept = _intercept_l2_penalty(estimator, n_train)
            # an intercept the model does not penalize alike is damped apart
            penalties = None if intercept is None else (lam, intercept)
            view = last_layer_view(estimator, needs=type(self).__name__)
            picked = np.arange(n_train)
            if n_train > _EIGENVALUE_ROWS:
                picked = np.linspace(0, n_train - 1, _EIGENVALUE_ROWS).astype(np.intp)
            H = view.features(X[picked if rows is None else rows[picked]])
            scale = _mean_eigenvalue(view, H, view.outputs(H))
            if not np.isfinite(scale):
                # else lam / inf = 0 fails as a damping the user never set
                raise _fisher.scale_error(H, name=_features_name(view))
            if scale > 0:
                return float(lam / scale), penalties
        return _DEFAULT_DAMPING, None

    def _keep(self, X, y, rows=None):
        # The training set is X[rows]; rows are gathered only for the
        # candidates whose leave-one-out probability is asked for.
        self._X, self._rows = X, rows
        self._y = self.fisher_.view_.encode(y if rows is None else y[rows])
        self._q = np.full(self.n_train_, np.nan)  # leave-one-out, filled lazily
        self._p = np.full(self.n_train_, np.nan)  # in sample, filled lazily
        self._free = None  # the intercept's correction, made on first use

    def update(self, estimator, X, y, rows=None):
        """Refit on a new training set, reusing Top Fisher's work where valid.

        The same result as :meth:`fit`: the inner
        :meth:`TopFisherSelector.update` reuses the features and Fisher sums
        of the rows it has seen; a new damping (the penalty of a linear
        model is divided by ``n``) refactors ``F``.

        Parameters
        ----------
        estimator, X, y, rows
            As in :meth:`TopFisherSelector.update`: the model and the whole
            current training set with its current labels (``X[rows]`` with
            ``rows``).

        Returns
        -------
        self : object
        """
        X, y, rows = _check_rows(X, y, rows)
        fitted = hasattr(self, "fisher_")
        if not fitted and rows is None:
            return super().update(estimator, X, y, rows)
        self._validate_params()
        if not fitted:
            last_layer_view(estimator, needs=type(self).__name__)  # a clear error
        damping, penalties = self._damping(estimator, X, rows)
        # The cleaner updates a shallow copy of a selector it may still
        # publish: rebind the inner selector, never update the shared one.
        # A new damping (a linear model's penalty is divided by n) only
        # refactors F; the features and sums it has are still reused. A
        # first update keeps them by id too, so that the next one reuses them.
        fisher = (
            copy.copy(self.fisher_) if fitted else TopFisherSelector(fisher=self.fisher)
        )
        fisher.set_params(damping=damping)
        fisher.update(estimator, X, y, rows)
        # As fit: the state is taken only once all of it is computed.
        trial = copy.copy(self)
        trial.fisher_, trial.damping_ = fisher, damping
        trial._penalties = penalties
        trial.n_train_ = fisher.n_train_
        trial._keep(X, y, rows)
        return self._take_state(trial)

    def while_waiting(self):
        """Prepare the next question while the oracle waits for a person.

        The inner Top Fisher's (see
        :meth:`TopFisherSelector.while_waiting`): a context manager around
        the oracle's call.
        """
        fisher = getattr(self, "fisher_", None)
        if fisher is None:
            return contextlib.nullcontext()
        return fisher.while_waiting()

    @property
    def n_iter_(self):
        """Conjugate-gradient iterations of the inner Top Fisher's last solve."""
        return self.fisher_.n_iter_

    def leave_one_out_probability(self, rows=None):
        """``q_k``: each row's probability of its own label once it is left out.

        Computed on first use and kept, so that several questions on one
        fitted model pay for each row once.

        Parameters
        ----------
        rows : array-like of int, default=None
            Rows of the fitted training set; ``None`` for all.

        Returns
        -------
        q : ndarray of shape (n_rows,)
        """
        rows = self._candidates(rows)
        todo = rows[np.isnan(self._q[rows])]
        if todo.size:
            fisher = self.fisher_
            if getattr(self, "_free", None) is None:  # also when unpickled
                penalties = getattr(self, "_penalties", None)
                self._free = (_free_intercept(fisher, penalties),)
            H = self._row_features(todo)
            self._q[todo] = leave_one_out_probability(
                fisher.view_,
                fisher.factor_,
                H,
                self._y[todo],
                self.n_train_,
                self._free[0],
                leverage=self._leverage(todo, H),
            )
        return self._q[rows]

    def _leverage(self, rows, H):
        """The rows' leverage through the factor; kept by id while it stays.

        Conjugate gradients' leverage is that of their preconditioner (see
        :func:`~sklearn_cincer._core.fisher_math.leverage`), the exact factor of a
        recent model, which stays from one question to the next while the
        model moves: the leverage of a training row through it is kept
        (``r P^2`` multiply-adds for ``r`` rows, several times the question's
        solve for a shortlist of 1000), while the features are the same too:
        a network's hidden layers move at every update, and a row's leverage
        is that of its current features. Any other factor changes with the
        model, so its leverage is computed afresh.
        """
        factor = self.fisher_.factor_
        fit_intercept = self.fisher_.view_.fit_intercept
        if not isinstance(factor, _fisher.ConjugateGradientFactor):
            return _fisher.leverage(factor, H, fit_intercept)
        base = factor.preconditioner
        features = getattr(self.fisher_, "_state", {}).get("features_token")
        cache = getattr(self, "_leverage_cache", None)
        if cache is None or len(cache) != 4 or cache[0] is not base:
            # what depends on the factor alone (its inverse), then by row
            cache = self._leverage_cache = (base, features, {}, {})
        if (
            features is None
            or cache[1] is not features
            or len(cache[2]) > _LEVERAGE_KEPT
        ):
            cache = self._leverage_cache = (base, features, {}, cache[3])
        kept = cache[2]
        ids = (rows if self._rows is None else self._rows[rows]).tolist()
        todo = [j for j, i in enumerate(ids) if i not in kept]
        if todo:
            new = _fisher.leverage(factor, H[todo], fit_intercept, kept=cache[3])
            kept.update(zip([ids[j] for j in todo], new))
        return np.stack([kept[i] for i in ids])

    def in_sample_probability(self, rows=None):
        """Each row's probability of its own label, from the fitted model.

        ``rows`` as in :meth:`leave_one_out_probability`; returns ``p`` of
        shape (n_rows,).
        """
        rows = self._candidates(rows)
        p = getattr(self, "_p", None)
        if p is None:  # a selector pickled before the cache existed
            p = self._p = np.full(self.n_train_, np.nan)
        todo = rows[np.isnan(p[rows])]
        if todo.size:
            # kept for the next questions on the same model and rows
            view = self.fisher_.view_
            p[todo] = _label_probability(
                view, view.logits(self._row_features(todo)), self._y[todo]
            )
        return p[rows]

    def _row_features(self, rows):
        """The last layer's features of training rows (gathered by id).

        Top Fisher keeps every training row's features: they are read there
        when kept in double precision (the same values), computed otherwise.
        """
        fisher = self.fisher_
        kept = getattr(fisher, "_state", {}).get("H")
        kept = getattr(kept, "array", kept)
        if isinstance(kept, np.ndarray) and kept.dtype == np.float64:
            return kept[rows if fisher._rows is None else fisher._rows[rows]]
        ids = rows if self._rows is None else self._rows[rows]
        return np.asarray(fisher.view_.features(self._X[ids]), dtype=float)

    def describe_score(self, score):
        """A score in plain words, for the person who answers.

        Parameters
        ----------
        score : float
            One of :meth:`score`'s values.

        Returns
        -------
        text : str
        """
        if score > 0:
            return f"how likely its own label is wrong, judged without it: {score:.0%}"
        return "it does not support the doubt (no training example does)"

    def select_many(self, X, y, candidates=None, n=1):
        """The ``n`` best counter-examples of several suspicious examples at once.

        The same picks as ``top_candidates(score(x_t, y_t, candidates),
        candidates, n)`` for each example (the rows, their order, their
        scores and the tie-breaking), at the cost of one pass over the
        candidates for all the examples, and often much less: the candidates
        are visited by their in-sample probability, lowest first, which is
        the order of the ``shortlist``, so an example's pass ends once it has
        more than ``shortlist`` supporters. Eq. 14's support of all the
        examples is one matrix product (see
        :meth:`TopFisherSelector.select_many`); a candidate whose support is
        within rounding of 0 is scored again as one-at-a-time scoring does,
        so that no rounding makes it a supporter or not.

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
            For each example, ``(rows, scores)`` as
            :func:`~sklearn_cincer.selectors._base.top_candidates` returns
            them; ``None`` where the batch cannot decide cheaply (fewer than
            ``n`` supporters, a score that is not finite, ``shortlist=None``,
            a head of more than 32 outputs, features out of memory): score
            that example on its own.
        """
        candidates = self._candidates(candidates)
        if candidates.size == 0:
            raise ValueError("There is no candidate counter-example to select.")
        picks = [None] * len(y)
        if (
            self.shortlist is None
            or self.fisher_.view_.n_outputs > _MAX_LOO_OUTPUTS
            or not batch_ready(self, CleaningSelector, self.fisher_, TopFisherSelector)
        ):
            return picks
        p = self.in_sample_probability(candidates)
        if not np.isfinite(p).all():
            return picks
        # Most passes end within the least likely rows: those are sorted
        # first, the rest only for an example that needs them.
        head = _stable_smallest(p, _HEAD_ROWS)
        scan = support_scan(
            self.fisher_, np.asarray(X), y, candidates, order=head, first=1024
        )
        found = self._supporters(scan, [[] for _ in picks])
        if scan.active.any() and head.size < p.size:
            scan.order = np.argsort(p, kind="stable")[head.size :]
            found = self._supporters(scan, found)
        # every shortlist's leave-one-out probability in one computation
        shortlists = [f[: self.shortlist] for f in found if f is not None]
        if shortlists:
            union = np.unique(np.concatenate(shortlists)).astype(np.intp)
            self.leave_one_out_probability(candidates[union])
        for t, supporters in enumerate(found):
            if supporters is not None:
                picks[t] = self._best_supporters(
                    candidates,
                    supporters,
                    n,
                    scan.H.dtype,
                    complete=len(supporters) <= self.shortlist,
                )
        return picks

    def _supporters(self, scan, found):
        """Each example's first ``shortlist + 1`` supporters, in ``scan`` order.

        Appended to ``found``; None for an example whose support is not
        finite.
        """
        limit = self.shortlist + 1
        for positions, S, E, columns in scan:
            for j, t in enumerate(columns):
                s, e = S[:, j], E[:, j]
                if not (np.isfinite(s).all() and np.isfinite(e).all()):
                    found[t] = None
                    scan.drop(t)
                    continue
                supports = s > e
                unsure = np.flatnonzero(np.abs(s) <= e)
                if unsure.size:  # as one-at-a-time scoring decides it
                    supports[unsure] = scan.exact(t, positions[unsure]) > 0
                found[t].extend(positions[supports][: limit - len(found[t])].tolist())
                if len(found[t]) >= limit:
                    scan.drop(t)
        return found

    def _best_supporters(self, candidates, supporters, n, dtype, complete):
        """The ``n`` best of the supporters scored by ``1 - q``, or None.

        The scores are rounded to ``dtype``, the features' (and so Eq. 14's)
        precision, as :meth:`score` writes them into Eq. 14's array: float32
        features may round two scores to a tie, which the candidates' order
        then breaks.

        ``supporters`` are positions in ``candidates``: every supporter when
        ``complete``, else the shortlist and one more. Every other candidate
        scores at most 0 (``-p``) when it supports the doubt, below -1 when
        not, so the ``n`` best of the shortlist are the ``n`` best of all
        when they score above 0, and the ``n`` best of every supporter are
        whenever there are ``n`` (``1 - q >= 0``).
        """
        short = np.asarray(supporters[: self.shortlist], dtype=np.intp)
        if short.size < n:
            return None
        q = self.leave_one_out_probability(candidates[short])
        scores = np.asarray(1.0 - q, dtype=np.result_type(dtype, np.float32))
        if not np.isfinite(scores).all():
            return None
        order = np.lexsort((short, -scores))[:n]  # ties: candidates' order
        if not complete and not scores[order[-1]] > 0:
            return None
        return candidates[short[order]], scores[order]

    def score(self, x, y, candidates=None):
        candidates = self._candidates(candidates)
        support = self.fisher_.score(x, y, candidates)
        scores = support - 1.0
        supporters = np.flatnonzero(support > 0)
        if self.fisher_.view_.n_outputs > _MAX_LOO_OUTPUTS:
            # A c x c leverage per candidate costs c^3: beyond a few dozen
            # outputs (a wide head), the in-sample probability ranks.
            scores[supporters] = 1.0 - self.in_sample_probability(
                candidates[supporters]
            )
            return scores
        if self.shortlist is not None and supporters.size > self.shortlist:
            p = self.in_sample_probability(candidates[supporters])
            order = _stable_smallest(p, self.shortlist)
            rest = np.ones(supporters.size, dtype=bool)
            rest[order] = False
            scores[supporters[rest]] = -p[rest]
            supporters = supporters[order]
        scores[supporters] = 1.0 - self.leave_one_out_probability(
            candidates[supporters]
        )
        return scores
