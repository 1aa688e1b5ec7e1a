"""Eq. 14 of several suspicious examples against the same candidates at once.

One question scores every candidate: ``s_k = -g_t^T V`` with ``V = (F +
lambda I)^-1 g_t``, one pass over the candidates' features. The questions of
a block of the cleaner share the model, the training set and (when they
share a prediction) the candidates, so their scores are one matrix product:
each candidate's gradient ``J_k = r_k h~_k^T`` is formed once and multiplied
by every solved query together, a block of candidates at a time (the memory
stays ``O(block x (questions + parameters))``, never ``questions x
candidates``).

The product rounds differently from one-at-a-time scoring, so each score
comes with a bound ``E`` on that difference; the callers score again, as
one-at-a-time scoring does, every candidate whose pick the difference could
change.
"""

import numpy as np

from .._core.fisher_math import with_bias
from ._base import BaseSelector, top_candidates

# Entries of a block's products: J (rows x parameters) and S (rows x queries).
_BLOCK_ENTRIES = 2**20


def batch_ready(selector, cls, fisher, fisher_cls):
    """Whether ``selector`` scores as ``cls`` does, on features in memory.

    ``fisher`` is its Top Fisher selector, of class ``fisher_cls`` or a
    subclass. A subclass that overrides ``score``, ``select`` or the query's
    solve ranks otherwise than the batch would: its examples are left to
    one-at-a-time scoring, as are features kept out of memory (Dask).
    """
    kind, inner = type(selector), type(fisher)
    same = (
        kind.score is cls.score
        and kind.select is BaseSelector.select
        and inner.score is fisher_cls.score
        and inner.query_direction is fisher_cls.query_direction
        and inner._kernel_scores is fisher_cls._kernel_scores
    )
    H = getattr(fisher._state["H"], "array", fisher._state["H"])
    return same and isinstance(H, np.ndarray)


def support_scan(selector, X, y, candidates, order=None, first=None):
    """A :class:`_SupportScan` of the fitted Top Fisher ``selector``."""
    return _SupportScan(selector, X, y, candidates, order, first)


class _SupportScan:
    """Eq. 14 of several examples, block by block of candidates.

    Iterating yields ``(positions, S, E, columns)``: ``positions`` index
    ``candidates``, ``S[i, j]`` is the score of candidate ``positions[i]``
    for example ``columns[j]`` and ``|S - s| <= E`` for the score ``s`` that
    one-at-a-time scoring computes. An example dropped (:meth:`drop`) is no
    longer scored.

    The bound: both computations sum the same ``k m`` terms ``r_a h~_c
    V_ac`` in another order, each off by at most ``(k m + d + k + 4) eps``
    times the sum of the terms' magnitudes (Higham's bound for dot products;
    ``eps`` of the features' dtype, since one-at-a-time scoring runs in it),
    and that sum is at most ``||r||_1 ||h~||_inf max_a ||V_a||_1``.

    Parameters
    ----------
    selector : TopFisherSelector
        Fitted.
    X, y : arrays
        The examples and their labels.
    candidates : ndarray of int
        Rows of the fitted training set.
    order : ndarray of int, default=None
        The order in which to visit ``candidates`` (positions); all in order
        when None.
    first : int, default=None
        Rows of the first block; each next block doubles, up to the bound
        on memory. Small when the caller may stop early.
    """

    def __init__(self, selector, X, y, candidates, order=None, first=None):
        self.selector = selector
        self.candidates = candidates
        self.H = getattr(selector._state["H"], "array", selector._state["H"])
        self.V = selector._query_directions(X, y)
        flat = np.array([v.reshape(-1) for v in self.V], dtype=float)
        self.Vt = flat.reshape(len(self.V), -1)
        self.v_norm = np.array(
            [np.abs(v).sum(axis=1).max() if v.size else 0.0 for v in self.V]
        )
        k_m = self.Vt.shape[1]
        d, k = self.H.shape[1], self.V[0].shape[0] if self.V else 1
        self.bound = 2.0 * (k_m + d + k + 4) * np.finfo(self.H.dtype).eps
        self.order = np.arange(candidates.shape[0]) if order is None else order
        self.most = max(256, _BLOCK_ENTRIES // (k_m + len(self.V) + 1))
        self.first = self.most if first is None else min(first, self.most)
        self.active = np.ones(len(self.V), dtype=bool)

    def drop(self, t):
        """Score example ``t`` no more."""
        self.active[t] = False

    def __iter__(self):
        start, size = 0, self.first
        while start < self.order.shape[0] and self.active.any():
            positions = self.order[start : start + size]
            columns = np.flatnonzero(self.active)
            S, E = self._block(positions, columns)
            yield positions, S, E, columns
            start += size
            size = min(2 * size, self.most)

    def _block(self, positions, columns):
        selector = self.selector
        rows = self.candidates[positions]
        ids = rows if selector._rows is None else selector._rows[rows]
        R = selector._candidate_residuals(ids)
        Ht = with_bias(
            np.asarray(self.H[ids], dtype=float), selector.view_.fit_intercept
        )
        J = (R[:, :, None] * Ht[:, None, :]).reshape(R.shape[0], -1)
        S = J @ self.Vt[columns].T
        np.negative(S, out=S)
        size = np.abs(R).sum(axis=1) * np.abs(Ht).max(axis=1, initial=0.0)
        E = np.multiply.outer(size, self.v_norm[columns])
        # Terms near the dtype's largest value may overflow one-at-a-time
        # scoring and not the product (or the other way): an infinite bound
        # leaves such an example to one-at-a-time scoring, which says why.
        E[~(E < np.finfo(self.H.dtype).max / 1024)] = np.inf
        E *= self.bound
        return S, E

    def exact(self, t, positions):
        """The one-at-a-time scores of example ``t`` for ``positions``."""
        V, candidates = self.V[t], self.candidates[positions]
        return np.asarray(self.selector._kernel_scores(V, candidates))


class _Kept:
    """The candidates that may still be among one example's ``n`` best.

    ``lo`` and ``hi`` bound each one's exact score; ``floor``, the ``n``-th
    largest ``lo`` seen, bounds the ``n``-th best exact score from below,
    so a candidate with ``hi < floor`` is out whatever the rounding.
    """

    def __init__(self):
        self.positions = np.zeros(0, dtype=np.intp)
        self.lo = self.hi = np.zeros(0)
        self.floor = -np.inf
        self.bad = False

    def add(self, positions, S, E, n):
        """Take a block's scores; True when they are not all finite."""
        if not (np.isfinite(S).all() and np.isfinite(E).all()):
            self.bad = True
            return True
        lo = np.concatenate([self.lo, S - E])
        hi = np.concatenate([self.hi, S + E])
        if lo.shape[0] >= n:
            self.floor = max(self.floor, np.partition(lo, lo.shape[0] - n)[-n])
        keep = hi >= self.floor
        self.positions = np.concatenate([self.positions, positions])[keep]
        self.lo, self.hi = lo[keep], hi[keep]
        return False

    def top(self, scan, t, n):
        """The picks, from the contenders' one-at-a-time scores."""
        positions = np.sort(self.positions)  # candidates' order breaks ties
        exact = scan.exact(t, positions)
        return top_candidates(
            exact, scan.candidates[positions], n, type(scan.selector).__name__
        )
