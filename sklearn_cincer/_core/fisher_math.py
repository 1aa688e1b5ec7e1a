"""Plain numpy math of a classifier's last layer.

Everything here works on three arrays that describe a fitted model on a set of
examples, whatever the model is:

``H``
    ``(n, d)``, the features that feed the last layer, ``h(x)`` (for a linear
    model, ``x`` itself). The bias input ``1`` is never materialized: functions
    take ``fit_intercept`` and treat ``h~ = [h; 1]`` implicitly.
``P``
    ``(n, k)``, the outputs of the last layer's link in the model's own
    parameterization (see :data:`LINKS`).
``y``
    ``(n,)`` integer label indices into the model's output classes, ``-1`` for
    a label the model has no output for.

The gradient of the log-likelihood of label ``y`` with respect to the last
layer's weights and bias is the ``k x (d+1)`` matrix ``g = r h~^T`` where the
residual ``r = t(y) - P`` is the target minus the output (see
:func:`residuals`). The parameters are ordered as the rows of that matrix
(``vec`` in row-major order), so the Fisher information matrix has the
Kronecker structure ``F = 1/n sum_i Lambda_i kron h~_i h~_i^T`` with the
per-example output covariance ``Lambda_i`` (see :func:`fisher_matrix`).
"""

import warnings

import numpy as np
from scipy import linalg
from scipy.special import expit, softmax
from sklearn.exceptions import ConvergenceWarning

from . import dask_passes as _dask

#: The links of a last layer that the math supports (a
#: :class:`~sklearn_cincer.extend.LastLayerView`'s ``link``).
#:
#: ``"softmax"``
#:     ``k = c`` logits and ``P`` the softmax probabilities (multinomial
#:     logistic regression, networks with a softmax output).
#: ``"logistic"``
#:     a binary model with one logit; ``P`` is ``(n, 1)``, the probability of
#:     the second class (scikit-learn's binary linear models and MLPs).
#: ``"ovr"``
#:     ``k = c`` independent logistic units, one per class, as trained by
#:     one-vs-rest (``SGDClassifier`` with ``loss="log_loss"`` on more than two
#:     classes); ``P`` holds each unit's sigmoid.
LINKS = ("softmax", "logistic", "ovr")

# Rows of the (rows x k(d+1)) scratch matrix built per batch when forming the
# softmax Fisher: bounded so that memory never holds an (n x n_params) matrix.
_FISHER_BATCH_BYTES = 32 * 2**20


def _check_link(link):
    if link not in LINKS:
        raise ValueError(f"link must be one of {LINKS}, got {link!r}.")


def targets(y, n_outputs, link):
    """Target vectors ``t(y)`` of labels in the model's output space.

    Parameters
    ----------
    y : ndarray of shape (n,)
        Label indices into the model's classes; ``-1`` for a label the model
        has no output for (its target is all zeros).
    n_outputs : int
        ``k``, the number of outputs of the last layer.
    link : {"softmax", "logistic", "ovr"}
        The link of the last layer.

    Returns
    -------
    T : ndarray of shape (n, n_outputs)
    """
    _check_link(link)
    y = np.asarray(y)
    if link == "logistic":
        return (y == 1).astype(float)[:, None]
    T = np.zeros((y.shape[0], n_outputs))
    known = y >= 0
    T[np.flatnonzero(known), y[known]] = 1.0
    return T


def residuals(P, y, link):
    """Residuals ``r = t(y) - P``: the gradient of ``log P(y|x)`` w.r.t. the logits.

    Parameters
    ----------
    P : ndarray of shape (n, k)
        Outputs of the link.
    y : ndarray of shape (n,)
        Label indices (see :func:`targets`).
    link : {"softmax", "logistic", "ovr"}

    Returns
    -------
    R : ndarray of shape (n, k)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer.extend import residuals
    >>> residuals(np.array([[0.25, 0.75], [0.5, 0.5]]), np.array([1, 0]), "softmax")
    array([[-0.25,  0.25],
           [ 0.5 , -0.5 ]])
    """
    if _dask.is_dask(P, y):
        y = y if _dask.is_dask(y) else np.asarray(y)
        return _dask.row_map(
            _residuals_chunk, P, y, width=P.shape[1], dtype=float, link=link
        )
    return targets(y, P.shape[1], link) - P


def _residuals_chunk(P, y, link):
    return residuals(P, y, link)


def gradients(H, P, y, link, fit_intercept=True):
    """Explicit per-example gradients of ``log P(y|x)`` w.r.t. the last layer.

    Each row is ``vec(r h~^T)``, of length ``k (d + fit_intercept)``. This
    materializes an ``n x n_params`` matrix: use it for small problems and
    tests; the selectors never call it on a whole training set.

    Returns
    -------
    G : ndarray of shape (n, k * (d + fit_intercept))
    """
    R = residuals(P, y, link)
    Ht = with_bias(H, fit_intercept)
    return (R[:, :, None] * Ht[:, None, :]).reshape(H.shape[0], -1)


def with_bias(H, fit_intercept):
    H = _pass_array(H)
    if not fit_intercept:
        return H
    return np.hstack([H, np.ones((H.shape[0], 1), dtype=H.dtype)])


def _pass_array(H):
    """``H`` as float32 or float64 (its own precision), never copied if it is."""
    H = np.asarray(H)
    if H.dtype in (np.float32, np.float64):
        return H
    return H.astype(float)


def _batch_rows(width, itemsize, budget=None):
    budget = _FISHER_BATCH_BYTES if budget is None else budget
    return max(1, budget // (itemsize * max(width, 1)))


def fisher_matrix(H, P, link, fit_intercept=True, weights=None):
    """The exact Fisher information of the last layer over a set of examples.

    ``F = 1/n sum_i Lambda_i kron h~_i h~_i^T``, the expectation over the
    model's own predictive distribution (the "true" Fisher of Eq. 13 of the
    paper, not the empirical one), with the output covariance

    - softmax: ``Lambda_i = diag(p_i) - p_i p_i^T``;
    - logistic: ``Lambda_i = p_i (1 - p_i)`` (one output);
    - ovr: ``Lambda_i = diag(p_i (1 - p_i))``.

    It is built with matrix products over batches of rows, so memory holds at
    most a batch of ``n_params`` wide rows, never ``n x n_params``. Always in
    float64, whatever the features' precision: for a confident model the
    diagonal part and the rank-one part nearly cancel (``p ~ e_y``), and
    float32 products lose the small eigenvalues of ``F`` to that
    cancellation (the damped matrix then fails its Cholesky factor).

    Parameters
    ----------
    H : ndarray of shape (n, d)
    P : ndarray of shape (n, k)
    link : {"softmax", "logistic", "ovr"}
    fit_intercept : bool, default=True
    weights : ndarray of shape (n,), default=None
        A weight per row (how many times it counts; 0 leaves it out): ``F``
        is then the weighted mean ``sum_i w_i F_i / sum_i w_i``.

    Returns
    -------
    F : ndarray of shape (k * m, k * m) with ``m = d + fit_intercept``

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer.extend import fisher_matrix
    >>> H, P = np.array([[1.0], [2.0]]), np.array([[0.5], [0.5]])
    >>> fisher_matrix(H, P, "logistic")  # 1/n sum p(1-p) [h, 1][h, 1]^T
    array([[0.625, 0.375],
           [0.375, 0.25 ]])
    """
    _check_link(link)
    if _dask.is_dask(H, P, weights):
        total = H.shape[0] if weights is None else float(np.sum(weights))
        F = _dask.row_sum(
            _fisher_sum_chunk, H, P, weights, link=link, fit_intercept=fit_intercept
        )
        return F / total if total > 0 else F
    H = _pass_array(H)
    P = np.asarray(P, dtype=float)
    n, d = H.shape
    k = P.shape[1]
    m = d + bool(fit_intercept)
    F = np.zeros((k * m, k * m))
    total = n if weights is None else float(np.sum(weights))
    if n == 0 or not total > 0:
        return F
    rows = _batch_rows(k * m, 8)
    for start in range(0, n, rows):
        Hb = with_bias(H[start : start + rows].astype(float, copy=False), fit_intercept)
        Pb = P[start : start + rows]
        # Rows q_i = w_i kron h~_i with w = p (softmax) or p(1-p).
        W = Pb if link == "softmax" else Pb * (1.0 - Pb)
        Q = (W[:, :, None] * Hb[:, None, :]).reshape(Hb.shape[0], k * m)
        if weights is None:
            Qw = Q
        else:
            wb = np.asarray(weights[start : start + rows], dtype=float)
            Qw = Q * wb[:, None]
        # Diagonal blocks H~^T diag(w_a) H~, all from one product H~^T Q.
        M = Hb.T @ Qw
        for a in range(k):
            block = slice(a * m, (a + 1) * m)
            F[block, block] += M[:, block]
        if link == "softmax":
            # The rank-one part p p^T kron h~ h~^T, all blocks at once:
            # F -= Q^T Q (numpy runs this as syrk).
            if weights is not None:
                Q *= np.sqrt(wb)[:, None]
            F -= Q.T @ Q
    F /= total
    return F


def check_finite(M, what="The Fisher information matrix"):
    """Raise a ValueError that says why when ``M`` holds NaN or infinite entries.

    Selectors check the matrix they factorize, so that a model whose
    features overflow float64 is refused with a reason instead of giving
    NaN scores (and a counter-example picked by chance).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer._core.fisher_math import check_finite
    >>> check_finite(np.eye(2))
    >>> check_finite(np.array([[np.inf]]))
    Traceback (most recent call last):
    ...
    ValueError: The Fisher information matrix has NaN or infinite entries: ...
    """
    if not np.all(np.isfinite(M)):
        raise non_finite_error(what)


def non_finite_error(what):
    """The ValueError of :func:`check_finite`, for ``what`` (a sentence's subject)."""
    return ValueError(
        f"{what} has NaN or infinite entries: the model's features or "
        "gradients overflow float64 (inputs of magnitude 1e155 or more "
        "square to infinity) or are NaN, so no counter-example can be "
        "ranked. Scale the inputs (for example with a StandardScaler in a "
        "Pipeline)."
    )


# Features beyond this magnitude are named as the cause of an overflow: their
# squares (1e200 and up) summed over rows and weighted by outputs leave
# float64 (about 1.8e308) within a few orders of magnitude.
_LARGE_FEATURE = 1e100


def scale_error(
    features, what="The Fisher information matrix", name="The features of X"
):
    """The ValueError when ``what`` overflowed: names the inputs' largest value.

    Parameters
    ----------
    features : array-like or torch tensor
        The inputs that ``what`` squares (a linear model's ``X``, a network's
        last-layer features).
    what : str
        The quantity that is not finite, a sentence's subject.
    name : str
        The inputs, a sentence's subject.

    Returns
    -------
    error : ValueError
        Naming the largest absolute value of ``features`` when it is large
        (the cause: scale the inputs), else :func:`non_finite_error`'s.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer._core.fisher_math import scale_error
    >>> print(scale_error(np.array([[1.0, -2e154]])))
    The features of X have values up to 2e+154 in absolute value: ...
    """
    values = np.abs(np.asarray(features, dtype=float))
    if values.size and not np.all(np.isfinite(values)):
        return ValueError(
            f"{name} have NaN or infinite values, so {what[0].lower() + what[1:]} "
            "cannot be computed and no counter-example can be ranked."
        )
    largest = float(values.max(initial=0.0))
    if not largest >= _LARGE_FEATURE:
        return non_finite_error(what)
    return ValueError(
        f"{name} have values up to {largest:.0e} in absolute value: "
        f"{what[0].lower() + what[1:]} squares them and overflows float64, so "
        "no counter-example can be ranked. Scale them (for example with a "
        "StandardScaler in a Pipeline)."
    )


def not_positive_definite_error(damping):
    """The error when the damped Fisher has no Cholesky factor: raise ``damping``."""
    return np.linalg.LinAlgError(_not_positive_definite(damping))


def _fisher_sum_chunk(H, P, weights, link, fit_intercept):
    """``sum_i w_i F_i`` of one chunk of rows (the Dask path)."""
    total = H.shape[0] if weights is None else float(np.sum(weights))
    return fisher_matrix(H, P, link, fit_intercept, weights) * total


def damping_value(trace, dim, damping):
    """``lambda = damping * trace(F) / dim``: the damping relative to ``F``'s scale.

    The mean eigenvalue ``trace(F) / dim`` is the scale, so that one
    ``damping`` works whatever the scale of the features; when ``F`` is zero
    (all outputs saturated, ``p`` in {0, 1}) any scale will do and 1 is used.
    """
    scale = trace / dim if dim else 0.0
    if not scale > 0:
        scale = 1.0
    return damping * scale


def damp(F, damping):
    """``F + lambda I`` with ``lambda = damping * trace(F) / dim``.

    The damping is relative to the mean eigenvalue of ``F`` so that one value
    works whatever the scale of the features. ``F`` is singular by
    construction (softmax is invariant to shifting all logits; features may be
    collinear), so some damping is needed for a Cholesky factor. In the
    softmax null direction it changes nothing: every gradient is orthogonal to
    it, since ``sum(t(y) - p) = 0``.
    """
    F = np.array(F, dtype=float, copy=True)
    dim = F.shape[0]
    F.flat[:: dim + 1] += damping_value(np.trace(F), dim, damping)
    return F


def cholesky(M, message):
    """Cholesky factor of a symmetric positive definite ``M``, ready to solve with.

    The factor is computed by numpy (the same BLAS as the products that
    built ``M``: mixing numpy's and scipy's separate OpenBLAS thread pools
    back to back makes a Cholesky factor many times slower on a busy
    machine) and returned as the upper factor ``U = L^T``: the transpose of
    numpy's C-ordered ``L`` is Fortran-ordered, the layout LAPACK's solver
    reads in place. Passing ``L`` itself made :func:`scipy.linalg.cho_solve`
    copy the whole factor on every solve (10 times the solve's own cost at
    ``5130 x 5130``).

    Returns
    -------
    factor : tuple ``(U, False)``
        In the format of :func:`scipy.linalg.cho_factor` (``lower=False``),
        so :func:`scipy.linalg.cho_solve` and :func:`solve` accept it.

    Raises
    ------
    numpy.linalg.LinAlgError
        With ``message`` when ``M`` is not numerically positive definite.
    """
    try:
        return np.linalg.cholesky(M).T, False
    except np.linalg.LinAlgError as exc:
        raise np.linalg.LinAlgError(message) from exc


def _not_positive_definite(damping):
    # The damping is relative to F's scale, so this happens when the features'
    # scales differ by many orders of magnitude: scaling them is the first fix.
    return (
        f"The damped Fisher information matrix (the selector's damping="
        f"{float(damping)!r}, relative to its mean eigenvalue) is not positive "
        "definite in floating point: the features of X may differ in scale by "
        "many orders of magnitude (scale them, for example with a "
        "StandardScaler in a Pipeline), else raise the selector's damping."
    )


def factorize(F, damping):
    """Cholesky factor of the damped Fisher ``F + lambda I``.

    Returns
    -------
    factor : tuple ``(U, False)``
        The upper triangular factor, Fortran-ordered, in the format of
        :func:`scipy.linalg.cho_factor` (see :func:`cholesky`).

    Raises
    ------
    numpy.linalg.LinAlgError
        With a message that says to raise ``damping`` when the damped matrix
        is not numerically positive definite.
    """
    D = damp(F, damping)
    check_finite(D)
    return cholesky(D, _not_positive_definite(damping))


def solve(factor, g):
    """Solve ``(F + lambda I) v = g`` for a gradient ``g``.

    Parameters
    ----------
    factor : tuple or object with a ``solve`` method
        As returned by :func:`factorize` (a Cholesky factor), or one of the
        structured forms (:class:`DualFactor`, :class:`KroneckerFactor`,
        :class:`ConjugateGradientFactor`).
    g : ndarray of shape (k, m) or (k * m,)
        The gradient; a ``(k, m)`` matrix is read in row-major order.

    Returns
    -------
    v : ndarray of the same shape as ``g``
    """
    g = np.asarray(g, dtype=float)
    if hasattr(factor, "solve"):
        return factor.solve(g.reshape(factor.shape)).reshape(g.shape)
    return linalg.cho_solve(factor, g.reshape(-1), check_finite=False).reshape(g.shape)


# Rows per block when scoring candidates: the block's ``(rows, k)`` products
# stay in cache and no temporary grows with the number of candidates.
_SCORE_BLOCK_ROWS = 16384


def kernel_scores(V, H, R, fit_intercept=True, rows=None, gathered=False):
    """``-r_k^T V h~_k`` for every row: Eq. 14 with ``V = F^-1 g_t`` solved.

    Matrix products over blocks of candidates, no loop over candidates:
    ``score = -rowsum(R * (H V_w^T + v_b))``, where ``V = [V_w, v_b]`` splits
    the weight and bias columns, so ``h~`` is never materialized and ``H``
    is never copied or cast: the products run in ``H``'s own dtype (float32
    features halve the memory traffic of very large candidate sets and use
    single-precision BLAS).

    Parameters
    ----------
    V : ndarray of shape (k, m)
        The solved query, ``(F + lambda I)^-1 g_t`` reshaped.
    H : ndarray of shape (n, d)
        Features of the candidates, float32 or float64.
    R : ndarray of shape (n, k)
        Residuals of the candidates at their labels.
    fit_intercept : bool, default=True
    rows : ndarray of int, default=None
        Score only these rows of ``H`` and ``R`` (gathered one block at a
        time, so the candidates' features are never copied as a whole).
    gathered : bool, default=False
        Whether ``R`` holds the residuals of ``rows`` only, in their order
        (computed for the candidates alone), rather than of every row.

    Returns
    -------
    scores : ndarray of shape (n,) or (len(rows),)
        Higher means removing the candidate raises ``P(y_t | x_t)`` more.
        Float64 when ``H`` is float64, else ``H``'s dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer.extend import kernel_scores
    >>> V = np.array([[1.0, 2.0, 0.5]])          # k=1 output, d=2, bias
    >>> H = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> R = np.array([[1.0], [-1.0]])
    >>> kernel_scores(V, H, R)
    array([-1.5,  2.5])
    """
    if _dask.is_dask(H, R):
        # Each chunk of candidates scored where it lives; a lazy Dask array.
        if rows is not None:
            H, R = H[rows], R if gathered else R[rows]
        return _dask.row_map(
            _scores_chunk,
            H,
            R,
            width=None,
            dtype=np.result_type(H.dtype, np.float32),
            V=np.asarray(V),
            fit_intercept=fit_intercept,
        )
    H = np.asarray(H)
    if H.dtype not in (np.float32, np.float64):
        H = H.astype(float)
    dtype = H.dtype
    V = np.asarray(V)
    n, d = H.shape
    Vw = np.ascontiguousarray(V[:, :d], dtype=dtype)
    vb = V[:, d].astype(dtype) if fit_intercept else None
    R = np.asarray(R)
    if rows is not None:
        rows = np.asarray(rows, dtype=np.intp)
        n = rows.shape[0]
    scores = np.empty(n, dtype=dtype)
    for start in range(0, n, _SCORE_BLOCK_ROWS):
        stop = min(start + _SCORE_BLOCK_ROWS, n)
        block = slice(start, stop) if rows is None else rows[start:stop]
        HV = H[block] @ Vw.T
        if vb is not None:
            HV += vb
        HV *= R[start:stop] if gathered else R[block]
        np.sum(HV, axis=1, out=scores[start:stop])
    np.negative(scores, out=scores)
    return scores


def _scores_chunk(H, R, V, fit_intercept):
    return kernel_scores(V, H, R, fit_intercept)


def output_factors(P, link):
    """``B_i`` with ``B_i B_i^T = Lambda_i``, the output covariance of each row.

    For softmax ``B = diag(sqrt p) - p sqrt(p)^T`` (since ``sum p = 1``); for
    the logistic and one-vs-rest links ``B = diag(sqrt(p (1 - p)))``.

    Returns
    -------
    B : ndarray of shape (n, k, k)
    """
    _check_link(link)
    P = np.asarray(P, dtype=float)
    n, k = P.shape
    if link == "softmax":
        s = np.sqrt(P)
        B = -P[:, :, None] * s[:, None, :]
        B[:, np.arange(k), np.arange(k)] += s
        return B
    B = np.zeros((n, k, k))
    B[:, np.arange(k), np.arange(k)] = np.sqrt(P * (1.0 - P))
    return B


class DualFactor:
    """The damped Fisher ``F + lambda I`` in its dual (Woodbury) form.

    ``n F = U U^T`` with one column ``B_i[:, a] kron h~_i`` per example ``i``
    and output ``a``, so ``F`` has rank at most ``n k``. When that is smaller
    than ``F``'s size (a wide last layer, such as logistic regression on
    pixels), the Woodbury identity solves with the ``(n k) x (n k)`` Gram
    matrix ``U^T U = (B^T B) * (H~ H~^T kron 1)`` instead, exactly and without
    ever forming ``F``::

        (lambda I + U U^T / n)^-1 g = (g - U (n lambda I + U^T U)^-1 U^T g) / lambda

    Parameters
    ----------
    H : ndarray of shape (n, d)
    P : ndarray of shape (n, k)
    link : {"softmax", "logistic", "ovr"}
    fit_intercept : bool
    damping : float
        As in :func:`damp`: relative to ``trace(F) / dim``.
    """

    def __init__(self, H, P, link, fit_intercept, damping):
        Ht = with_bias(np.asarray(H, dtype=float), fit_intercept)
        n, m = Ht.shape
        k = P.shape[1]
        B = output_factors(P, link)
        # Gram of the columns (i, a): (B_i^T B_j)[a, b] (h~_i . h~_j).
        Bs = B.transpose(1, 0, 2).reshape(k, n * k)  # [B_1, ..., B_n]
        K = Ht @ Ht.T
        G = (Bs.T @ Bs) * np.repeat(np.repeat(K, k, axis=0), k, axis=1)
        check_finite(G)  # as the primal form checks F: never NaN scores
        self.lam = damping_value(np.trace(G) / n if n else 0.0, k * m, damping)
        G.flat[:: n * k + 1] += n * self.lam
        self.factor = cholesky(G, _not_positive_definite(damping))
        self.B, self.Ht, self.shape = B, Ht, (k, m)

    @property
    def L(self):
        """The lower Cholesky factor of the damped Gram matrix (C-ordered)."""
        return self.factor[0].T

    def solve(self, g):
        """``(F + lambda I)^-1 g`` for a gradient ``g = r h~^T`` of shape (k, m)."""
        g = np.asarray(g, dtype=float).reshape(self.shape)
        # U^T g, column (i, a): B_i[:, a]^T g h~_i.
        Ug = np.einsum("nab,an->nb", self.B, g @ self.Ht.T).reshape(-1)
        w = linalg.cho_solve(self.factor, Ug, check_finite=False)
        C = np.einsum("nab,nb->na", self.B, w.reshape(self.B.shape[0], -1))
        return (g - C.T @ self.Ht) / self.lam

    def leverage(self, H, fit_intercept):
        """``J_j (F + lambda I)^-1 J_j^T`` for rows ``H``; see :func:`leverage`.

        By the Woodbury identity, with ``W_j = J_j U`` (entries
        ``B_i[a, b] h~_j . h~_i``), it is ``(|h~_j|^2 I - W_j G^-1 W_j^T) /
        lambda`` where ``G`` is the damped Gram matrix already factored.
        """
        Ht = with_bias(H, fit_intercept)
        r, k = Ht.shape[0], self.shape[0]
        n = self.B.shape[0]
        out = np.empty((r, k, k))
        for start in range(0, r, _LEVERAGE_BLOCK_ROWS):
            Hb = Ht[start : start + _LEVERAGE_BLOCK_ROWS]
            K = Hb @ self.Ht.T  # (rows, n)
            T = np.einsum("iab,ji->ibja", self.B, K).reshape(n * k, -1)
            Y = linalg.solve_triangular(self.L, T, lower=True, check_finite=False)
            Y = Y.reshape(n * k, Hb.shape[0], k)
            M = -np.einsum("xja,xjb->jab", Y, Y)
            M[:, np.arange(k), np.arange(k)] += np.einsum("ij,ij->i", Hb, Hb)[:, None]
            out[start : start + Hb.shape[0]] = M / self.lam
        return out


# Rows per block in :func:`leverage`: bounds its ``(n_params, rows * k)``
# right-hand sides.
_LEVERAGE_BLOCK_ROWS = 64
# Entries of the (rows, k, P) products per block in the inverse path (32 MB).
_LEVERAGE_BLOCK_ENTRIES = 2**22


def leverage(factor, H, fit_intercept=True, kept=None):
    """Each row's leverage: ``M_j = J_j (F + lambda I)^-1 J_j^T``, in its own logits.

    ``J_j = I_k kron h~_j^T`` is the Jacobian of row ``j``'s logits in the
    last layer's weights, so ``M_j`` (``k x k``) says how far a unit change of
    the weights along row ``j``'s own gradient moves its own logits: the
    leverage of the row. Its self-influence is ``r_j^T M_j r_j`` for the
    residual ``r_j``. Computed with triangular solves against the factor,
    in blocks of rows, never forming an inverse.

    Parameters
    ----------
    factor : tuple, DualFactor, KroneckerFactor or ConjugateGradientFactor
        From :func:`factorize` or one of the structured forms. K-FAC's
        leverage is that of its approximation of ``F``; conjugate gradients
        (matrix-free) use their preconditioner's.
    H : ndarray of shape (r, d)
        Features of the rows.
    fit_intercept : bool, default=True
    kept : dict, default=None
        Where the work that depends on the factor alone (the inverse of its
        triangle, when many rows are asked for) is kept for the next call
        with the same factor: a caller whose factor stays from one question
        to the next (a conjugate-gradient preconditioner) passes the same
        dict, and a new one with a new factor.

    Returns
    -------
    M : ndarray of shape (r, k, k)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer._core import fisher_math as _fisher
    >>> H = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    >>> P = np.array([[0.3], [0.6], [0.5]])
    >>> factor = _fisher.factorize(_fisher.fisher_matrix(H, P, "logistic"), 0.1)
    >>> M = _fisher.leverage(factor, H)
    >>> F = _fisher.damp(_fisher.fisher_matrix(H, P, "logistic"), 0.1)
    >>> Ht = np.hstack([H, np.ones((3, 1))])
    >>> np.allclose(M[:, 0, 0], np.einsum("ij,jk,ik->i", Ht, np.linalg.inv(F), Ht))
    True
    """
    if isinstance(factor, ConjugateGradientFactor):
        # Matrix-free: one solve per row and output would cost a pass over
        # every row each; the preconditioner is the structured approximation
        # of F (K-FAC, or the exact F of a slightly older model) it holds.
        factor = factor.preconditioner
    if isinstance(factor, (DualFactor, KroneckerFactor)):
        return factor.leverage(H, fit_intercept)
    C, lower = factor
    # Solve with the lower factor L: L itself, or U^T for an upper U = L^T.
    trans = 0 if lower else 1
    Ht = with_bias(H, fit_intercept)
    r, m = Ht.shape
    dim = C.shape[0]
    k = dim // m
    if 3 * r * (k - 1) > dim:
        return _leverage_by_inverse(C, trans, lower, Ht, k, kept)
    out = np.empty((r, k, k))
    for start in range(0, r, _LEVERAGE_BLOCK_ROWS):
        Hb = Ht[start : start + _LEVERAGE_BLOCK_ROWS]
        b = Hb.shape[0]
        # Columns e_a kron h~_j, in the row-major order of a (k, m) gradient.
        E = np.zeros((k, m, b, k))
        for a in range(k):
            E[a, :, :, a] = Hb.T
        Y = linalg.solve_triangular(
            C, E.reshape(k * m, b * k), trans=trans, lower=lower, check_finite=False
        ).reshape(k * m, b, k)
        out[start : start + b] = np.einsum("xja,xjb->jab", Y, Y)
    return out


def _leverage_by_inverse(C, trans, lower, Ht, k, kept=None):
    """:func:`leverage` for many rows: ``W = L^-1`` once, then products.

    ``L^-1 (e_a kron h~_j) = W[:, a-block] h~_j`` reads only the ``m``
    columns of block ``a``: ``r P^2`` multiply-adds for ``r`` rows plus
    ``P^3 / 3`` for ``W``, where triangular solves against the ``r k``
    sparse columns cost ``r k P^2``. ``W``'s blocks are kept in ``kept``
    (a dict, if given) for the next call with the same factor.
    """
    dim = C.shape[0]
    blocks = None if kept is None else kept.get("inverse_blocks")
    if blocks is None or blocks.shape != (k, dim // k, dim):
        blocks = _inverse_blocks(C, trans, lower, k)
        if kept is not None:
            kept["inverse_blocks"] = blocks
    r = Ht.shape[0]
    out = np.empty((r, k, k))
    step = max(1, _LEVERAGE_BLOCK_ENTRIES // (k * dim))
    for start in range(0, r, step):
        Hb = Ht[start : start + step]
        Y = np.matmul(Hb[None], blocks).transpose(1, 0, 2)  # (rows, k, dim)
        out[start : start + Hb.shape[0]] = Y @ Y.transpose(0, 2, 1)
    return out


def _inverse_blocks(C, trans, lower, k):
    """``blocks[a] = W[:, a-block]^T`` for ``W = L^-1``: ``Ht @ blocks[a]`` is
    ``L^-1 (e_a kron h~)^T``; contiguous, for the products of every call."""
    dim = C.shape[0]
    W = linalg.solve_triangular(
        C, np.eye(dim), trans=trans, lower=lower, check_finite=False
    )
    return np.ascontiguousarray(W.reshape(dim, k, dim // k).transpose(1, 2, 0))


def use_dual(n, k, m):
    """Whether the dual form is cheaper: rank ``n k`` below the size ``k m``."""
    return n * k < k * m


# ------------------------------------------------- passes over many rows
#
# The functions below make one pass over the rows of ``H`` (and ``P``) in
# blocks, in ``H``'s own precision, and return small float64 matrices (sums,
# not means: callers keep them up to date by adding and removing rows).


def _blocks(n, rows, weights, dtype):
    """``(slice, weights of the slice)`` over ``n`` rows, ``rows`` at a time."""
    for start in range(0, n, rows):
        block = slice(start, min(n, start + rows))
        yield (
            block,
            None if weights is None else np.asarray(weights[block], dtype=dtype),
        )


def outputs(H, coef, intercept, link):
    """``P``, the link's outputs at features ``H``, in ``H``'s precision.

    Parameters
    ----------
    H : ndarray of shape (n, d), float32 or float64
    coef : ndarray of shape (k, d)
    intercept : ndarray of shape (k,) or None
    link : {"softmax", "logistic", "ovr"}

    Returns
    -------
    P : ndarray of shape (n, k), float64 (the product runs in ``H``'s
        precision; the link in float64, as the Fisher's output side needs)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer.extend import outputs
    >>> outputs(np.zeros((1, 2)), np.ones((3, 2)), None, "softmax").round(3)
    array([[0.333, 0.333, 0.333]])
    """
    _check_link(link)
    if _dask.is_dask(H):
        return _dask.row_map(
            outputs,
            H,
            width=np.shape(coef)[0],
            dtype=float,
            coef=coef,
            intercept=intercept,
            link=link,
        )
    H = _pass_array(H)
    Z = (H @ np.asarray(coef, dtype=H.dtype).T).astype(float, copy=False)
    if intercept is not None:
        Z += np.asarray(intercept, dtype=float)
    return softmax(Z, axis=1) if link == "softmax" else expit(Z)


def _link_weights(P, link):
    """Per-row diagonal of ``Lambda`` without the rank-one part: ``p`` or ``p(1-p)``."""
    return P if link == "softmax" else P * (1.0 - P)


def feature_moment(H, fit_intercept=True, weights=None):
    """``sum_i w_i h~_i h~_i^T``: K-FAC's input factor ``A`` (unnormalized).

    It does not depend on the model's outputs, so while the features do not
    change it is kept up to date by adding the terms of rows that enter and
    subtracting those of rows that leave.

    Parameters
    ----------
    H : ndarray of shape (n, d)
    fit_intercept : bool, default=True
    weights : ndarray of shape (n,), default=None
        How many times each row counts (``None``: once).

    Returns
    -------
    A : ndarray of shape (m, m), ``m = d + fit_intercept``

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer.extend import feature_moment
    >>> feature_moment(np.array([[1.0], [2.0]]))
    array([[5., 3.],
           [3., 2.]])
    """
    if _dask.is_dask(H, weights):
        return _dask.row_sum(
            _feature_moment_chunk, H, weights, fit_intercept=fit_intercept
        )
    H = _pass_array(H)
    n, d = H.shape
    m = d + bool(fit_intercept)
    A = np.zeros((m, m))
    for block, w in _blocks(n, _batch_rows(d, H.dtype.itemsize), weights, H.dtype):
        Hb = H[block]
        Hs = Hb if w is None else Hb * np.sqrt(w)[:, None]
        A[:d, :d] += Hs.T @ Hs  # syrk
        if fit_intercept:
            column = Hb.sum(axis=0) if w is None else w @ Hb
            A[:d, d] += column
            A[d, :d] += column
            A[d, d] += Hb.shape[0] if w is None else w.sum()
    return A


def _feature_moment_chunk(H, weights, fit_intercept):
    return feature_moment(H, fit_intercept, weights)


def output_moment(P, link, weights=None):
    """``sum_i w_i Lambda_i``: K-FAC's output factor ``G`` (unnormalized).

    Parameters
    ----------
    P : ndarray of shape (n, k)
    link : {"softmax", "logistic", "ovr"}
    weights : ndarray of shape (n,), default=None

    Returns
    -------
    G : ndarray of shape (k, k)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer.extend import output_moment
    >>> output_moment(np.array([[0.5, 0.5]]), "softmax")
    array([[ 0.25, -0.25],
           [-0.25,  0.25]])
    """
    _check_link(link)
    if _dask.is_dask(P, weights):
        return _dask.row_sum(_output_moment_chunk, P, weights, link=link)
    P = _pass_array(P)
    n, k = P.shape
    G = np.zeros((k, k))
    diagonal = np.zeros(k)
    # In float64: diag(p) - p p^T cancels for confident rows (see fisher_matrix).
    for block, w in _blocks(n, _batch_rows(k, 8), weights, np.float64):
        Pb = P[block].astype(float, copy=False)
        W = _link_weights(Pb, link)
        diagonal += W.sum(axis=0) if w is None else w @ W
        if link == "softmax":
            Ps = Pb if w is None else Pb * np.sqrt(w)[:, None]
            G -= Ps.T @ Ps  # syrk
    G.flat[:: k + 1] += diagonal
    return G


def _output_moment_chunk(P, weights, link):
    return output_moment(P, link, weights)


def fisher_trace(H, P, link, fit_intercept=True, weights=None, norms=None):
    """``trace(sum_i w_i Lambda_i kron h~_i h~_i^T)``, without forming ``F``.

    ``trace(Lambda_i) ||h~_i||^2`` per row: every form of ``F`` (exact,
    K-FAC, EK-FAC) is damped relative to this trace, so that one
    ``damping`` means the same ``lambda`` whatever the form.

    ``norms`` (``||h~_i||^2`` of every row, if known) spares the pass over
    ``H``.

    Returns
    -------
    trace : float

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer._core.fisher_math import fisher_matrix, fisher_trace
    >>> H, P = np.array([[1.0, 2.0]]), np.array([[0.2, 0.8]])
    >>> bool(np.isclose(fisher_trace(H, P, "softmax"),
    ...                 np.trace(fisher_matrix(H, P, "softmax"))))
    True
    """
    _check_link(link)
    if _dask.is_dask(H, P, weights, norms):
        return float(
            _dask.row_sum(
                _trace_chunk,
                H,
                P,
                weights,
                norms,
                link=link,
                fit_intercept=fit_intercept,
            )
        )
    H = _pass_array(H)
    P = _pass_array(P)
    total = 0.0
    rows = _batch_rows(H.shape[1] + P.shape[1], H.dtype.itemsize)
    for block, w in _blocks(H.shape[0], rows, weights, np.float64):
        Pb = P[block].astype(float)
        if link == "softmax":
            lam = Pb.sum(axis=1) - np.einsum("ij,ij->i", Pb, Pb)
        else:
            lam = (Pb * (1.0 - Pb)).sum(axis=1)
        if norms is None:
            Hb = H[block].astype(float)
            per_row = lam * (np.einsum("ij,ij->i", Hb, Hb) + bool(fit_intercept))
        else:
            per_row = lam * norms[block]
        total += float(per_row.sum() if w is None else w @ per_row)
    return total


def _trace_chunk(H, P, weights, norms, link, fit_intercept):
    return np.asarray(fisher_trace(H, P, link, fit_intercept, weights, norms))


def ekfac_eigenvalues(H, P, link, QA, QG, fit_intercept=True, weights=None):
    """The exact diagonal of ``F`` in K-FAC's eigenbasis (EK-FAC, unnormalized).

    ``S[a, j] = sum_i w_i (QG^T Lambda_i QG)[a, a] (QA^T h~_i)[j]^2``: the
    eigenvalue correction of George et al. (2018), as Kronfluence uses it,
    for the true Fisher. ``QG kron QA`` diagonalizes K-FAC's ``G kron A``;
    replacing its eigenvalues ``g_a a_j`` by ``S`` gives the best diagonal
    approximation of ``F`` in that basis (in Frobenius norm), with the same
    trace as ``F``.

    Parameters
    ----------
    H : ndarray of shape (n, d)
    P : ndarray of shape (n, k)
    link : {"softmax", "logistic", "ovr"}
    QA : ndarray of shape (m, m)
        Eigenvectors of the input factor ``A``.
    QG : ndarray of shape (k, k)
        Eigenvectors of the output factor ``G``.
    fit_intercept : bool, default=True
    weights : ndarray of shape (n,), default=None

    Returns
    -------
    S : ndarray of shape (k, m)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer._core.fisher_math import ekfac_eigenvalues
    >>> H, P = np.array([[1.0], [2.0]]), np.array([[0.3], [0.6]])
    >>> S = ekfac_eigenvalues(H, P, "logistic", np.eye(2), np.eye(1))
    >>> S.round(2)  # sum_i p_i (1 - p_i) [h_i^2, 1]
    array([[1.17, 0.45]])
    """
    _check_link(link)
    if _dask.is_dask(H, P, weights):
        return _dask.row_sum(
            _ekfac_chunk,
            H,
            P,
            weights,
            link=link,
            QA=QA,
            QG=QG,
            fit_intercept=fit_intercept,
        )
    H = _pass_array(H)
    P = np.asarray(P)
    n, d = H.shape
    k, m = QG.shape[0], QA.shape[0]
    QA_w = np.asarray(QA[:d], dtype=H.dtype)
    qa_b = np.asarray(QA[d], dtype=H.dtype) if fit_intercept else None
    QG = np.asarray(QG, dtype=float)
    QG2 = QG * QG
    S = np.zeros((k, m))
    rows = _batch_rows(max(m, k), H.dtype.itemsize)
    for block, w in _blocks(n, rows, weights, np.float64):
        # The output side in float64, where it cancels (see fisher_matrix);
        # what is left is a sum of nonnegative terms, safe in H's precision.
        Pb = P[block].astype(float, copy=False)
        D = _link_weights(Pb, link) @ QG2
        if link == "softmax":
            D -= np.square(Pb @ QG)
        np.maximum(D, 0.0, out=D)
        if w is not None:
            D *= w[:, None]
        D = D.astype(H.dtype, copy=False)
        HQ = H[block] @ QA_w
        if qa_b is not None:
            HQ += qa_b
        np.square(HQ, out=HQ)
        S += D.T @ HQ
    return S


def _ekfac_chunk(H, P, weights, link, QA, QG, fit_intercept):
    return ekfac_eigenvalues(H, P, link, QA, QG, fit_intercept, weights)


def fisher_vector_product(H, P, V, link, fit_intercept=True, weights=None):
    """``sum_i w_i Lambda_i V h~_i h~_i^T``: ``n F vec(V)`` without forming ``F``.

    Two products over the rows (``Z = H~ V^T``, then ``Y^T H~`` with
    ``y_i = Lambda_i z_i``), in ``H``'s precision: this is what lets the
    exact Fisher be solved by conjugate gradients for a last layer far too
    wide for ``F`` itself.

    Parameters
    ----------
    H : ndarray of shape (n, d)
    P : ndarray of shape (n, k)
    V : ndarray of shape (k, m)
    link : {"softmax", "logistic", "ovr"}
    fit_intercept : bool, default=True
    weights : ndarray of shape (n,), default=None

    Returns
    -------
    FV : ndarray of shape (k, m), float64

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer._core.fisher_math import fisher_matrix, fisher_vector_product
    >>> H, P = np.array([[1.0, 2.0], [0.5, -1.0]]), np.array([[0.2], [0.7]])
    >>> V = np.array([[1.0, 0.0, 2.0]])
    >>> n_F = 2 * fisher_matrix(H, P, "logistic")
    >>> bool(np.allclose(fisher_vector_product(H, P, V, "logistic"),
    ...                  (n_F @ V.ravel()).reshape(V.shape)))
    True
    """
    _check_link(link)
    if _dask.is_dask(H, P, weights):
        return _dask.row_sum(
            _fvp_chunk,
            H,
            P,
            weights,
            V=np.asarray(V, float),
            link=link,
            fit_intercept=fit_intercept,
        )
    H = _pass_array(H)
    P = np.asarray(P)
    n, d = H.shape
    V = np.asarray(V, dtype=float)
    Vw = np.ascontiguousarray(V[:, :d], dtype=H.dtype)
    vb = V[:, d].astype(H.dtype) if fit_intercept else None
    out = np.zeros(V.shape)
    for block, w in _blocks(n, _SCORE_BLOCK_ROWS, weights, np.float64):
        Hb, Pb = H[block], P[block].astype(float, copy=False)
        Z = Hb @ Vw.T
        if vb is not None:
            Z += vb
        # Lambda z in float64, where it cancels (see fisher_matrix).
        Z = Z.astype(float, copy=False)
        if link == "softmax":
            Z *= Pb
            Z -= Pb * Z.sum(axis=1, keepdims=True)
        else:
            Z *= Pb * (1.0 - Pb)
        if w is not None:
            Z *= w[:, None]
        out[:, :d] += Z.astype(H.dtype, copy=False).T @ Hb
        if fit_intercept:
            out[:, d] += Z.sum(axis=0)
    return out


def _fvp_chunk(H, P, weights, V, link, fit_intercept):
    return fisher_vector_product(H, P, V, link, fit_intercept, weights)


# ------------------------------------------------------ structured forms


def psd_eigh(M):
    """Eigenvalues (clipped at 0: ``M`` is positive semidefinite) and vectors."""
    values, vectors = np.linalg.eigh(M)
    return np.maximum(values, 0.0), vectors


class KroneckerFactor:
    """A damped Fisher that is diagonal in a Kronecker eigenbasis, inverted.

    ``F~ = (QG kron QA) diag(vec S) (QG kron QA)^T``; solving
    ``(F~ + lambda I) v = g`` costs two small products on each side::

        V = QG ((QG^T G QA) / (S + lambda)) QA^T

    for ``g`` of shape ``(k, m)``, so ``F~`` is never formed: a head of
    1000 classes on 2048 features (two million parameters) needs a
    ``1000 x 1000`` and a ``2049 x 2049`` matrix instead of ``F``'s four
    trillion entries.

    - K-FAC (:meth:`kfac`): ``F ~ G kron A`` with ``G = mean Lambda_i``
      and ``A = mean h~_i h~_i^T``; ``S = g a^T`` from their eigenvalues.
    - EK-FAC (:meth:`ekfac`): the same basis, with ``S`` the exact diagonal
      of ``F`` in it (:func:`ekfac_eigenvalues`).

    Parameters
    ----------
    QG : ndarray of shape (k, k)
    QA : ndarray of shape (m, m)
    eigenvalues : ndarray of shape (k, m)
        ``S``.
    lam : float
        The damping ``lambda`` (absolute).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer._core.fisher_math import KroneckerFactor
    >>> A, G = np.array([[2.0, 0.0], [0.0, 1.0]]), np.array([[4.0]])
    >>> factor = KroneckerFactor.kfac(A, G, lam=0.0)
    >>> factor.solve(np.array([[8.0, 4.0]]))  # (G kron A)^-1 g
    array([[1., 1.]])
    """

    def __init__(self, QG, QA, eigenvalues, lam):
        self.QG, self.QA = QG, QA
        self.eigenvalues = eigenvalues
        self.lam = float(lam)
        self.shape = (QG.shape[0], QA.shape[0])

    @classmethod
    def kfac(cls, A, G, lam):
        """K-FAC from the (normalized) factors ``A`` (m x m) and ``G`` (k x k)."""
        a, QA = psd_eigh(A)
        g, QG = psd_eigh(G)
        return cls(QG, QA, np.outer(g, a), lam)

    def solve(self, g):
        """``(F~ + lambda I)^-1 g`` for ``g`` of shape ``(k, m)``."""
        g = np.asarray(g, dtype=float).reshape(self.shape)
        return self._back(self.QG.T @ g @ self.QA)

    def solve_outer(self, r, h, fit_intercept=True):
        """The same for a gradient ``g = r h~^T`` (rank one), never formed.

        ``QG^T g QA = (QG^T r)(QA^T h~)^T``: two matrix-vector products
        instead of two matrix products (half the work for a wide head).
        """
        h = np.asarray(h, dtype=float).ravel()
        if fit_intercept:
            h = np.append(h, 1.0)
        return self._back(np.outer(self.QG.T @ r, self.QA.T @ h))

    def leverage(self, H, fit_intercept=True):
        """``J_j (F~ + lambda I)^-1 J_j^T`` for rows ``H``; see :func:`leverage`.

        With ``u_j = QA^T h~_j`` it is ``QG diag(w_j) QG^T``, ``w_j[c] =
        sum_d u_j[d]^2 / (S[c, d] + lambda)``: two small products per row.
        """
        U = with_bias(np.asarray(H, dtype=float), fit_intercept) @ self.QA
        W = (U * U) @ (1.0 / (self.eigenvalues + self.lam)).T
        return np.einsum("ac,jc,bc->jab", self.QG, W, self.QG)

    def _back(self, inner):
        inner /= self.eigenvalues + self.lam
        return self.QG @ inner @ self.QA.T


class ConjugateGradientFactor:
    """The exact damped Fisher, solved matrix-free by conjugate gradients.

    ``(F + lambda I) v = g`` with ``F v`` computed from the rows by
    :func:`fisher_vector_product` (two passes over the features per
    iteration, never a ``P x P`` matrix), preconditioned by a structured
    approximation of ``F`` (:class:`KroneckerFactor`): K-FAC captures most
    of ``F``'s spectrum, so a few iterations reach ``tol``.

    Parameters
    ----------
    H : ndarray of shape (n, d), or an object whose ``array`` is one
        The features; not copied.
    P : ndarray of shape (n, k)
        The outputs.
    link : {"softmax", "logistic", "ovr"}
    fit_intercept : bool
    weights : ndarray of shape (n,) or None
        How many times each row counts.
    lam : float
        The damping ``lambda`` (absolute).
    preconditioner : tuple or object with a ``solve`` method
        An approximation of ``F + lambda I``, in any form :func:`solve`
        accepts: a :class:`KroneckerFactor`, or the Cholesky factor of the
        exact ``F`` of an earlier model.
    tol : float, default=1e-4
        Stop when ``||g - (F + lambda I) v|| <= tol ||g||``.
    max_iter : int, default=200

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer._core import fisher_math as _fisher
    >>> rng = np.random.RandomState(0)
    >>> H, P = rng.randn(50, 3), rng.dirichlet(np.ones(4), 50)
    >>> F = _fisher.fisher_matrix(H, P, "softmax")
    >>> A = _fisher.feature_moment(H) / 50
    >>> G = _fisher.output_moment(P, "softmax") / 50
    >>> lam = 0.01
    >>> cg = _fisher.ConjugateGradientFactor(
    ...     H, P, "softmax", True, None, lam,
    ...     _fisher.KroneckerFactor.kfac(A, G, lam), tol=1e-10)
    >>> g = _fisher.gradients(H[:1], P[:1], [2], "softmax").reshape(4, 4)
    >>> want = np.linalg.solve(F + lam * np.eye(16), g.ravel())
    >>> bool(np.allclose(cg.solve(g).ravel(), want))
    True
    """

    def __init__(
        self,
        H,
        P,
        link,
        fit_intercept,
        weights,
        lam,
        preconditioner,
        tol=1e-4,
        max_iter=200,
    ):
        self.H, self.P, self.link = H, P, link
        self.fit_intercept, self.weights = fit_intercept, weights
        n = getattr(H, "array", H).shape[0]
        self.total = float(n if weights is None else np.sum(weights))
        self.lam = float(lam)
        self.preconditioner = preconditioner
        self.tol, self.max_iter = tol, max_iter
        width = getattr(H, "array", H).shape[1] + bool(fit_intercept)
        self.shape = (P.shape[1], width)

    def matvec(self, V):
        """``(F + lambda I) V``."""
        H = getattr(self.H, "array", self.H)
        FV = fisher_vector_product(
            H, self.P, V, self.link, self.fit_intercept, self.weights
        )
        FV /= max(self.total, 1.0)
        return FV + self.lam * V

    def solve(self, g):
        """``(F + lambda I)^-1 g`` to the relative residual ``tol``."""
        return self.solve_with_info(g)[0]

    def solve_with_info(self, g):
        """The solution, the number of iterations and the relative residual."""
        g = np.asarray(g, dtype=float).reshape(self.shape)
        norm = np.linalg.norm(g)
        x = solve(self.preconditioner, g)
        if norm == 0:
            self.n_iter_ = 0
            return x, 0, 0.0
        r = g - self.matvec(x)
        residual = np.linalg.norm(r) / norm
        z = solve(self.preconditioner, r)
        p = z.copy()
        rz = np.vdot(r, z)
        n_iter = 0
        while residual > self.tol and n_iter < self.max_iter:
            n_iter += 1
            Ap = self.matvec(p)
            alpha = rz / np.vdot(p, Ap)
            x += alpha * p
            r -= alpha * Ap
            residual = np.linalg.norm(r) / norm
            z = solve(self.preconditioner, r)
            rz, rz_old = np.vdot(r, z), rz
            p = z + (rz / rz_old) * p
        if residual > self.tol:
            warnings.warn(
                f"Conjugate gradients stopped at the relative residual "
                f"{residual:.1e} after {n_iter} iterations, above tol={self.tol}; "
                "raise the damping or tol.",
                ConvergenceWarning,
                stacklevel=3,
            )
        self.n_iter_ = n_iter  # the last solve's, as the selectors report it
        return x, n_iter, float(residual)
