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

import numpy as np
from scipy import linalg

#: The links of a last layer that the math supports.
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
    """
    return targets(y, P.shape[1], link) - P


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
    Ht = _with_bias(H, fit_intercept)
    return (R[:, :, None] * Ht[:, None, :]).reshape(H.shape[0], -1)


def _with_bias(H, fit_intercept):
    H = np.asarray(H, dtype=float)
    if not fit_intercept:
        return H
    return np.hstack([H, np.ones((H.shape[0], 1))])


def fisher_matrix(H, P, link, fit_intercept=True):
    """The exact Fisher information of the last layer over a set of examples.

    ``F = 1/n sum_i Lambda_i kron h~_i h~_i^T``, the expectation over the
    model's own predictive distribution (the "true" Fisher of Eq. 13 of the
    paper, not the empirical one), with the output covariance

    - softmax: ``Lambda_i = diag(p_i) - p_i p_i^T``;
    - logistic: ``Lambda_i = p_i (1 - p_i)`` (one output);
    - ovr: ``Lambda_i = diag(p_i (1 - p_i))``.

    It is built with matrix products over batches of rows, so memory holds at
    most a batch of ``n_params`` wide rows, never ``n x n_params``.

    Parameters
    ----------
    H : ndarray of shape (n, d)
    P : ndarray of shape (n, k)
    link : {"softmax", "logistic", "ovr"}
    fit_intercept : bool, default=True

    Returns
    -------
    F : ndarray of shape (k * m, k * m) with ``m = d + fit_intercept``
    """
    _check_link(link)
    H = np.asarray(H, dtype=float)
    P = np.asarray(P, dtype=float)
    n, d = H.shape
    k = P.shape[1]
    m = d + bool(fit_intercept)
    F = np.zeros((k * m, k * m))
    if n == 0:
        return F
    rows = max(1, _FISHER_BATCH_BYTES // (8 * k * m))
    for start in range(0, n, rows):
        Hb = _with_bias(H[start : start + rows], fit_intercept)
        Pb = P[start : start + rows]
        # Rows q_i = w_i kron h~_i with w = p (softmax) or p(1-p).
        W = Pb if link == "softmax" else Pb * (1.0 - Pb)
        Q = (W[:, :, None] * Hb[:, None, :]).reshape(Hb.shape[0], k * m)
        # Diagonal blocks H~^T diag(w_a) H~, all from one product H~^T Q.
        M = Hb.T @ Q
        for a in range(k):
            block = slice(a * m, (a + 1) * m)
            F[block, block] += M[:, block]
        if link == "softmax":
            # The rank-one part p p^T kron h~ h~^T, all blocks at once:
            # F -= Q^T Q (numpy runs this as syrk).
            F -= Q.T @ Q
    F /= n
    return F


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
    scale = np.trace(F) / dim if dim else 0.0
    if not scale > 0:
        # All outputs saturated (p in {0, 1}): F is zero, any scale will do.
        scale = 1.0
    F.flat[:: dim + 1] += damping * scale
    return F


def factorize(F, damping):
    """Cholesky factor of the damped Fisher ``F + lambda I``.

    The factor is computed by numpy (the same BLAS as the products that
    built ``F``: mixing numpy's and scipy's separate OpenBLAS thread pools
    back to back makes a Cholesky factor many times slower on a busy
    machine).

    Returns
    -------
    factor : tuple ``(L, True)``
        The lower triangular factor, in the format of
        :func:`scipy.linalg.cho_factor` (so :func:`scipy.linalg.cho_solve`
        accepts it).

    Raises
    ------
    numpy.linalg.LinAlgError
        With a message that says to raise ``damping`` when the damped matrix
        is not numerically positive definite.
    """
    D = damp(F, damping)
    if not np.all(np.isfinite(D)):
        raise ValueError("The Fisher information matrix has NaN or infinite entries.")
    try:
        return np.linalg.cholesky(D), True
    except np.linalg.LinAlgError as exc:
        raise np.linalg.LinAlgError(
            f"The damped Fisher information matrix (damping={damping!r}) is not "
            "positive definite in floating point; use a larger damping."
        ) from exc


def solve(factor, g):
    """Solve ``(F + lambda I) v = g`` for a gradient ``g``.

    Parameters
    ----------
    factor : tuple
        As returned by :func:`factorize`.
    g : ndarray of shape (k, m) or (k * m,)
        The gradient; a ``(k, m)`` matrix is read in row-major order.

    Returns
    -------
    v : ndarray of the same shape as ``g``
    """
    g = np.asarray(g, dtype=float)
    return linalg.cho_solve(factor, g.reshape(-1), check_finite=False).reshape(g.shape)


# Rows per block when scoring candidates: the block's ``(rows, k)`` products
# stay in cache and no temporary grows with the number of candidates.
_SCORE_BLOCK_ROWS = 16384


def kernel_scores(V, H, R, fit_intercept=True, rows=None):
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

    Returns
    -------
    scores : ndarray of shape (n,) or (len(rows),)
        Higher means removing the candidate raises ``P(y_t | x_t)`` more.
        Float64 when ``H`` is float64, else ``H``'s dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer._fisher import kernel_scores
    >>> V = np.array([[1.0, 2.0, 0.5]])          # k=1 output, d=2, bias
    >>> H = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> R = np.array([[1.0], [-1.0]])
    >>> kernel_scores(V, H, R)
    array([-1.5,  2.5])
    """
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
        HV *= R[block]
        np.sum(HV, axis=1, out=scores[start:stop])
    np.negative(scores, out=scores)
    return scores


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
        Ht = _with_bias(H, fit_intercept)
        n, m = Ht.shape
        k = P.shape[1]
        B = output_factors(P, link)
        # Gram of the columns (i, a): (B_i^T B_j)[a, b] (h~_i . h~_j).
        Bs = B.transpose(1, 0, 2).reshape(k, n * k)  # [B_1, ..., B_n]
        K = Ht @ Ht.T
        G = (Bs.T @ Bs) * np.repeat(np.repeat(K, k, axis=0), k, axis=1)
        dim = k * m
        scale = np.trace(G) / (n * dim) if n else 0.0
        if not scale > 0:
            scale = 1.0
        self.lam = damping * scale
        G.flat[:: n * k + 1] += n * self.lam
        try:
            self.L = np.linalg.cholesky(G)
        except np.linalg.LinAlgError as exc:
            raise np.linalg.LinAlgError(
                f"The damped Fisher information matrix (damping={damping!r}) is "
                "not positive definite in floating point; use a larger damping."
            ) from exc
        self.B, self.Ht, self.shape = B, Ht, (k, m)

    def solve(self, g):
        """``(F + lambda I)^-1 g`` for a gradient ``g = r h~^T`` of shape (k, m)."""
        g = np.asarray(g, dtype=float).reshape(self.shape)
        # U^T g, column (i, a): B_i[:, a]^T g h~_i.
        Ug = np.einsum("nab,an->nb", self.B, g @ self.Ht.T).reshape(-1)
        w = linalg.cho_solve((self.L, True), Ug, check_finite=False)
        C = np.einsum("nab,nb->na", self.B, w.reshape(self.B.shape[0], -1))
        return (g - C.T @ self.Ht) / self.lam

    def leverage(self, H, fit_intercept):
        """``J_j (F + lambda I)^-1 J_j^T`` for rows ``H``; see :func:`leverage`.

        By the Woodbury identity, with ``W_j = J_j U`` (entries
        ``B_i[a, b] h~_j . h~_i``), it is ``(|h~_j|^2 I - W_j G^-1 W_j^T) /
        lambda`` where ``G`` is the damped Gram matrix already factored.
        """
        Ht = _with_bias(H, fit_intercept)
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


def leverage(factor, H, fit_intercept=True):
    """Each row's leverage: ``M_j = J_j (F + lambda I)^-1 J_j^T``, in its own logits.

    ``J_j = I_k kron h~_j^T`` is the Jacobian of row ``j``'s logits in the
    last layer's weights, so ``M_j`` (``k x k``) says how far a unit change of
    the weights along row ``j``'s own gradient moves its own logits: the
    leverage of the row. Its self-influence is ``r_j^T M_j r_j`` for the
    residual ``r_j``. Computed with triangular solves against the factor,
    in blocks of rows, never forming an inverse.

    Parameters
    ----------
    factor : tuple or DualFactor
        From :func:`factorize` or :class:`DualFactor`.
    H : ndarray of shape (r, d)
        Features of the rows.
    fit_intercept : bool, default=True

    Returns
    -------
    M : ndarray of shape (r, k, k)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer import _fisher
    >>> H = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    >>> P = np.array([[0.3], [0.6], [0.5]])
    >>> factor = _fisher.factorize(_fisher.fisher_matrix(H, P, "logistic"), 0.1)
    >>> M = _fisher.leverage(factor, H)
    >>> F = _fisher.damp(_fisher.fisher_matrix(H, P, "logistic"), 0.1)
    >>> Ht = np.hstack([H, np.ones((3, 1))])
    >>> np.allclose(M[:, 0, 0], np.einsum("ij,jk,ik->i", Ht, np.linalg.inv(F), Ht))
    True
    """
    if isinstance(factor, DualFactor):
        return factor.leverage(H, fit_intercept)
    L = factor[0]
    Ht = _with_bias(H, fit_intercept)
    r, m = Ht.shape
    k = L.shape[0] // m
    out = np.empty((r, k, k))
    for start in range(0, r, _LEVERAGE_BLOCK_ROWS):
        Hb = Ht[start : start + _LEVERAGE_BLOCK_ROWS]
        b = Hb.shape[0]
        # Columns e_a kron h~_j, in the row-major order of a (k, m) gradient.
        E = np.zeros((k, m, b, k))
        for a in range(k):
            E[a, :, :, a] = Hb.T
        Y = linalg.solve_triangular(
            L, E.reshape(k * m, b * k), lower=True, check_finite=False
        ).reshape(k * m, b, k)
        out[start : start + b] = np.einsum("xja,xjb->jab", Y, Y)
    return out


def use_dual(n, k, m):
    """Whether the dual form is cheaper: rank ``n k`` below the size ``k m``."""
    return n * k < k * m
