"""What the cleaner tells its oracle around a fit (optional for oracles)."""

import contextlib


@contextlib.contextmanager
def oracle_fit(oracle, cleaner, X, y, *, partial=False):
    """Tell ``oracle`` that a ``fit`` or ``partial_fit`` starts and ends.

    An oracle may define ``start_fit(cleaner, X, y, partial=...)``, called
    before the cleaner changes (it may refuse by raising: the cleaner is left
    as it was), and ``finish_fit()``, called when the call ends, also on an
    error. :class:`AnnotationSession` uses them to check that its store
    belongs to this run and to say how many answers it replayed.
    """
    start = getattr(oracle, "start_fit", None)
    if start is None:
        yield
        return
    start(cleaner, X, y, partial=partial)
    try:
        yield
    finally:
        finish = getattr(oracle, "finish_fit", None)
        if finish is not None:
            finish()
