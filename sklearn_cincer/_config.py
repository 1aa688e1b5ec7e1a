"""The library's settings: ``set_config``, ``get_config`` and ``config_context``.

Modeled on scikit-learn's: each thread has its own settings, starting from
the library's defaults, so that a ``config_context`` in one thread does not
change another's. The only setting is ``n_threads``, the thread limit that
:class:`~sklearn_cincer.SkepticalCleaner`, :class:`~sklearn_cincer.LabelAuditor`
and :func:`~sklearn_cincer.find_label_issues` use where their own
``n_threads`` is ``"auto"`` (the default).
"""

import contextlib
import os
import threading
from numbers import Integral

#: The environment variable that sets ``n_threads`` for a whole process.
ENV_N_THREADS = "SKLEARN_CINCER_N_THREADS"

_local = threading.local()


def _check_n_threads(value, where):
    """``value`` as a thread limit (an int >= 1, or None), else a clear error."""
    if value is None or (
        isinstance(value, Integral) and not isinstance(value, bool) and value >= 1
    ):
        return None if value is None else int(value)
    raise ValueError(
        f"{where} must be an integer >= 1, or None to leave the libraries' own "
        f"thread counts; got {value!r}."
    )


def _default_n_threads():
    """1, or the environment variable's value (``none`` for None)."""
    text = os.environ.get(ENV_N_THREADS, "").strip()
    if not text:
        return 1
    if text.lower() == "none":
        return None
    try:
        value = int(text)
    except ValueError:
        value = text
    return _check_n_threads(value, f"The environment variable {ENV_N_THREADS}")


def _settings():
    if not hasattr(_local, "settings"):
        _local.settings = {"n_threads": _default_n_threads()}
    return _local.settings


def get_config():
    """The library's current settings (of this thread).

    Returns
    -------
    config : dict
        ``{"n_threads": ...}``; a copy, changing it changes nothing.

    See Also
    --------
    set_config : Change the settings.
    config_context : Change them for a block of code.

    Examples
    --------
    >>> import sklearn_cincer
    >>> sklearn_cincer.get_config()["n_threads"]
    1
    """
    return dict(_settings())


def set_config(n_threads="keep"):
    """Change the library's settings (of this thread, until changed again).

    Parameters
    ----------
    n_threads : int or None
        Threads that BLAS, OpenMP and torch may use while the library's
        estimators fit, wherever their own ``n_threads`` is ``"auto"`` (the
        default). None leaves the libraries' own thread counts (one per core,
        usually). Starts at 1, or at the value of the environment variable
        ``SKLEARN_CINCER_N_THREADS`` (``none`` for None). Left as it is when
        not given.

    See Also
    --------
    config_context : The same for a block of code only.
    get_config : The current settings.

    Examples
    --------
    >>> import sklearn_cincer
    >>> sklearn_cincer.set_config(n_threads=2)
    >>> sklearn_cincer.get_config()["n_threads"]
    2
    >>> sklearn_cincer.set_config(n_threads=1)
    """
    if n_threads != "keep":
        _settings()["n_threads"] = _check_n_threads(n_threads, "n_threads")


@contextlib.contextmanager
def config_context(n_threads="keep"):
    """Change the library's settings inside a ``with`` block, then restore them.

    The previous settings come back when the block ends, also when it raises.

    Parameters
    ----------
    n_threads : int or None
        As in :func:`set_config`.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> import sklearn_cincer
    >>> X, y = np.arange(20.0)[:, None], np.r_[np.zeros(10), np.ones(10)]
    >>> with sklearn_cincer.config_context(n_threads=2):
    ...     auditor = sklearn_cincer.LabelAuditor(LogisticRegression()).fit(X, y)
    >>> sklearn_cincer.get_config()["n_threads"]
    1
    """
    before = get_config()
    set_config(n_threads=n_threads)  # validated before anything changes
    try:
        yield
    finally:
        _settings().update(before)
