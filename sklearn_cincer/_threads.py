"""Thread limits for the cleaner's loop: BLAS/OpenMP pools and torch.

The loop solves many small problems (a refit, a margin, a Fisher solve per
round). On them a multi-threaded BLAS or torch mostly synchronizes, and
on a busy machine OpenMP threads spin while they wait for a busy core: one
thread is faster (the user guide's :ref:`threads` gives the numbers). The
cleaner, the auditor and ``find_label_issues`` therefore run on one thread
by default: their ``n_threads="auto"`` reads the library's setting
(``set_config``), 1 unless changed.
"""

import contextlib
import sys

from ._config import get_config


def torch_if_imported():
    """The torch module when something has imported it already, else None.

    The core never imports torch itself: a model that uses torch has
    imported it by the time it is fit.
    """
    torch = sys.modules.get("torch")
    # A module half-way through its own import lacks its functions.
    return torch if hasattr(torch, "set_num_threads") else None


def resolve_n_threads(n_threads):
    """``n_threads`` with ``"auto"`` read from the library's settings.

    Examples
    --------
    >>> from sklearn_cincer import config_context
    >>> from sklearn_cincer._threads import resolve_n_threads
    >>> with config_context(n_threads=3):
    ...     resolve_n_threads("auto"), resolve_n_threads(2)
    (3, 2)
    """
    return get_config()["n_threads"] if n_threads == "auto" else n_threads


@contextlib.contextmanager
def limit_threads(n_threads):
    """Run the body with at most ``n_threads`` BLAS, OpenMP and torch threads.

    BLAS and OpenMP pools are limited with threadpoolctl; torch's intra-op
    threads with ``torch.set_num_threads`` when torch is already imported
    (never importing it). Everything is restored on exit, also when the body
    raises.

    A pool that a library loads only inside the body (torch imported there)
    is not limited: threadpoolctl sees the libraries loaded when the limit is
    entered. Import such a library before entering.

    Parameters
    ----------
    n_threads : int, None or "auto"
        The limit; None leaves every library as it is; ``"auto"`` reads it
        from the library's settings (:func:`~sklearn_cincer.set_config`).

    Examples
    --------
    >>> from threadpoolctl import threadpool_info
    >>> from sklearn_cincer._threads import limit_threads
    >>> with limit_threads(1):
    ...     all(pool["num_threads"] == 1 for pool in threadpool_info())
    True
    """
    n_threads = resolve_n_threads(n_threads)
    if n_threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    # torch's count is read before threadpoolctl limits the OpenMP pool that
    # torch shares, which would change what torch reports.
    torch = torch_if_imported()
    before = None if torch is None else torch.get_num_threads()
    with threadpool_limits(limits=n_threads):
        if torch is not None:
            torch.set_num_threads(n_threads)  # also its own MKL and OpenMP
        try:
            yield
        finally:
            if torch is not None:
                torch.set_num_threads(before)
