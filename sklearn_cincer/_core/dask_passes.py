"""Passes over rows held in Dask arrays: each chunk where it lives.

The passes of :mod:`sklearn_cincer._core.fisher_math` (the Fisher build, K-FAC's
factors, the outputs, the scores of the candidates) are sums or maps over
rows. For a Dask array of rows each chunk's share is computed by a task on
the worker that holds the chunk (the distributed scheduler places a task
with its data), and only small results travel: a ``P x P`` (or ``m x m``,
``k x k``) partial sum per chunk, added up in a tree; scores and outputs
stay a Dask array, chunked as the rows.

Dask is imported here only, and only when a Dask array is passed:
``pip install "sklearn-cincer[dask]"``. Nothing else in the package imports
this module at load time; :func:`is_dask` recognizes a Dask array without
importing Dask.
"""

import numpy as np


def is_dask(*arrays):
    """Whether any of ``arrays`` is a Dask array (without importing Dask).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer._core.dask_passes import is_dask
    >>> is_dask(np.zeros(3), None)
    False
    """
    return any(
        type(a).__module__.split(".")[0] == "dask" and hasattr(a, "chunks")
        for a in arrays
        if a is not None
    )


def _aligned(H, *others):
    """``H`` and ``others`` as Dask arrays with the same row chunks.

    Columns in one chunk (every row whole in its chunk); NumPy arrays among
    ``others`` (the labels, say) are chunked like ``H``.
    """
    import dask.array as da

    H = da.asarray(H)
    H = H.rechunk({1: -1}) if H.ndim == 2 else H
    rows = H.chunks[0]
    out = [H]
    for a in others:
        if a is None:
            out.append(None)
            continue
        a = da.asarray(a)
        spec = {0: rows} if a.ndim == 1 else {0: rows, 1: -1}
        out.append(a.rechunk(spec))
    return out


def _blocks(array):
    return None if array is None else list(array.to_delayed().ravel())


def _tree_sum(parts):
    """Add delayed partial sums pairwise, so no one task receives them all."""
    import dask

    add = dask.delayed(np.add, pure=True)
    while len(parts) > 1:
        parts = [
            add(a, b) if b is not None else a
            for a, b in zip(parts[::2], parts[1::2] + [None])
        ]
    return parts[0]


def row_sum(function, H, *others, **kwargs):
    """``sum over chunks of function(H_chunk, *other_chunks, **kwargs)``, computed.

    Parameters
    ----------
    function : callable
        Returns a NumPy array (the chunk's partial sum), all of one shape.
    H : dask array of shape (n, d)
    *others : dask or NumPy arrays of n rows, or None
        Chunked as ``H`` (rechunked if needed).
    **kwargs
        Passed to ``function``.

    Returns
    -------
    total : ndarray

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> from sklearn_cincer._core.dask_passes import row_sum
    >>> H = da.ones((10, 2), chunks=(3, 2))
    >>> row_sum(lambda h: h.T @ h, H)
    array([[10., 10.],
           [10., 10.]])
    """
    import dask

    arrays = _aligned(H, *others)
    columns = [_blocks(a) for a in arrays]
    call = dask.delayed(function, pure=True)
    parts = [
        call(*(None if column is None else column[i] for column in columns), **kwargs)
        for i in range(len(columns[0]))
    ]
    return np.asarray(_tree_sum(parts).compute())


def row_map(function, H, *others, width, dtype, **kwargs):
    """``function`` applied chunk by chunk: a lazy Dask array of the rows.

    ``function(H_chunk, *other_chunks, **kwargs)`` returns ``(rows, width)``
    (or ``(rows,)`` for ``width=None``).

    Examples
    --------
    >>> import dask.array as da
    >>> from sklearn_cincer._core.dask_passes import row_map
    >>> H = da.ones((10, 2), chunks=(3, 2))
    >>> row_map(lambda h: h.sum(axis=1), H, width=None, dtype=float).compute()[:3]
    array([2., 2., 2.])
    """
    import dask.array as da

    arrays = _aligned(H, *others)
    positions = [i for i, a in enumerate(arrays) if a is not None]
    flat = {i for i in positions if arrays[i].ndim == 1}
    # Every input 2-D, so that map_blocks pairs the chunks of rows (a 1-D
    # array would be aligned with the columns); raveled back in ``apply``.
    present = [arrays[i][:, None] if i in flat else arrays[i] for i in positions]

    def apply(*blocks):
        full = [None] * len(arrays)
        for i, block in zip(positions, blocks):
            full[i] = block.ravel() if i in flat else block
        return function(*full, **kwargs)

    if width is None:
        return da.map_blocks(apply, *present, drop_axis=1, dtype=dtype)
    return da.map_blocks(
        apply, *present, chunks=(arrays[0].chunks[0], (width,)), dtype=dtype
    )
