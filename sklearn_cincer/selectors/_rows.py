"""Features of a growing training set, kept across rounds without copies.

The cleaner's training set grows by a row or two per round. A selector that
rebuilt (or re-copied) the features of every row each round would spend a
pass over ``n x d`` numbers per question, as much as a whole Fisher build at a
million rows. :class:`FeatureRows` keeps them in an append-only buffer with
spare capacity, so adding ``b`` rows costs ``O(b d)``.

Sharing: the cleaner publishes a selector and works on a shallow copy of it
during the next call (copy-on-write), so two selectors may hold the same
buffer. Each knows how many rows it owns (``n``); the buffer records how far
it has been written (``claimed``). A selector may append in place only when
nobody wrote past its own rows; otherwise it copies its rows to a new buffer
first. The rows a selector owns are therefore never written again, and a
discarded call (an oracle that raised) leaves the published selector exactly
as it was.
"""

import numpy as np


class _Buffer:
    """The shared storage: an array with spare rows and how far it is written."""

    __slots__ = ("array", "claimed")

    def __init__(self, array, claimed):
        self.array = array
        self.claimed = claimed


class FeatureRows:
    """The first ``n`` rows of an append-only feature buffer.

    Parameters
    ----------
    H : ndarray of shape (n, d)
        The first rows, copied into the buffer.
    dtype : dtype, default=None
        Of the buffer; ``H``'s own when None.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer.selectors._rows import FeatureRows
    >>> rows = FeatureRows(np.zeros((2, 3)))
    >>> more = rows.extended(np.ones((1, 3)))
    >>> rows.array.shape, more.array.shape
    ((2, 3), (3, 3))
    >>> other = rows.extended(np.full((1, 3), 2.0))  # rows 0-1 shared, row 2 not
    >>> float(more.array[2, 0]), float(other.array[2, 0])
    (1.0, 2.0)
    """

    def __init__(self, H, dtype=None):
        H = np.array(H, dtype=dtype, order="C")
        self._buffer = _Buffer(H, H.shape[0])
        self.n = H.shape[0]

    @classmethod
    def _owning(cls, buffer, n):
        rows = cls.__new__(cls)
        rows._buffer, rows.n = buffer, n
        return rows

    @property
    def array(self):
        """The rows, ``(n, d)``: a view of the buffer, never to be written."""
        return self._buffer.array[: self.n]

    @property
    def dtype(self):
        return self._buffer.array.dtype

    def extended(self, H_new):
        """These rows followed by ``H_new``, as a new :class:`FeatureRows`.

        ``self`` is unchanged: its rows are never written, whoever appends.
        """
        H_new = np.asarray(H_new, dtype=self.dtype)
        b = H_new.shape[0]
        buffer = self._buffer
        end = self.n + b
        if buffer.claimed != self.n or buffer.array.shape[0] < end:
            # Somebody appended past our rows, or there is no room: copy ours
            # into a new buffer with room to double.
            capacity = max(end, 2 * self.n, 16)
            array = np.empty((capacity,) + buffer.array.shape[1:], dtype=self.dtype)
            array[: self.n] = self.array
            buffer = _Buffer(array, self.n)
        buffer.array[self.n : end] = H_new
        buffer.claimed = end
        return FeatureRows._owning(buffer, end)

    def __getstate__(self):
        # Only the owned rows, not the spare capacity (nor rows of others).
        return {"array": self.array}

    def __setstate__(self, state):
        array = np.asarray(state["array"])
        self._buffer = _Buffer(array, array.shape[0])
        self.n = array.shape[0]
