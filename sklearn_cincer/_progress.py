"""Progress of long loops: a tqdm bar when tqdm is installed, plain lines otherwise.

Every long loop of the library (the cleaner's and the auditor's ``fit``,
cross-validation, the benchmark commands) reports through :func:`progress`,
so that they all honor ``verbose`` the same way:

- ``verbose=0``: silent;
- ``verbose>=1``: a tqdm bar (``tqdm.auto``, so a widget in a notebook) when
  tqdm is installed, otherwise a plain line every tenth of the loop;
- ``verbose>=2`` without tqdm: a plain line at every step.

tqdm is optional: it is imported when a bar is first needed, never at module
load.
"""

import sys


def _tqdm_class():
    """tqdm's auto bar, or None when tqdm is not installed."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm


class Progress:
    """A loop's progress: iterate over it, or call :meth:`update` per step.

    Use :func:`progress` to make one.
    """

    def __init__(self, iterable, total, desc, verbose, unit, leave):
        self.iterable = iterable
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.total = total
        self.desc = desc
        self.verbose = int(verbose or 0)
        self.n = 0
        self._postfix = {}
        self._bar = None
        self._plain = False
        if self.verbose > 0:
            tqdm = _tqdm_class()
            if tqdm is not None:
                self._bar = tqdm(
                    total=total, desc=desc, unit=unit, leave=leave, dynamic_ncols=True
                )
            else:
                self._plain = True
        # Plain lines every tenth of a known total (every step at verbose>=2).
        self._every = max(1, total // 10) if self.verbose == 1 and total else 1

    def __iter__(self):
        try:
            for item in self.iterable:
                yield item
                self.update()
        finally:
            self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def set_postfix(self, **values):
        """Numbers shown next to the bar (or at the end of a plain line)."""
        self._postfix = values
        if self._bar is not None:
            self._bar.set_postfix(values, refresh=False)

    def update(self, n=1, **postfix):
        """Advance by ``n`` steps; keywords replace the postfix."""
        if postfix:
            self.set_postfix(**postfix)
        self.n += n
        if self._bar is not None:
            self._bar.update(n)
        elif self._plain:
            crossed = self.n // self._every > (self.n - n) // self._every
            if crossed or (self.total is not None and self.n >= self.total):
                self._print()

    def write(self, text):
        """Print a line without breaking the bar."""
        if self.verbose <= 0:
            return
        if self._bar is not None:
            self._bar.write(text)
        else:
            print(text, flush=True)

    def _print(self):
        of = "" if self.total is None else f"/{self.total}"
        extra = ", ".join(f"{k} {v}" for k, v in self._postfix.items())
        print(
            f"[{self.desc}] {self.n}{of}" + (f": {extra}" if extra else ""),
            file=sys.stdout,
            flush=True,
        )

    def close(self):
        """End the bar (a plain progress prints nothing more)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def progress(iterable=None, *, total=None, desc="", verbose=0, unit="it", leave=True):
    """Show the progress of a loop, as ``verbose`` asks.

    Parameters
    ----------
    iterable : iterable, default=None
        The loop to wrap; iterate over the returned object. None for a
        progress advanced by hand with :meth:`Progress.update`.
    total : int, default=None
        Number of steps; ``len(iterable)`` when it has one.
    desc : str, default=""
        What the loop does, shown in front of the bar.
    verbose : int, default=0
        0: silent; 1: a tqdm bar when tqdm is installed, else a line every
        tenth of the loop; 2 and more: without tqdm, a line every step.
    unit : str, default="it"
        The unit of a step.
    leave : bool, default=True
        Whether the bar stays on screen when done (False for inner loops).

    Returns
    -------
    progress : Progress

    Examples
    --------
    >>> from sklearn_cincer._progress import progress
    >>> sum(x for x in progress(range(4), desc="sum", verbose=0))
    6
    >>> with progress(total=2, desc="fit", verbose=0) as bar:
    ...     bar.update(queries=0)
    ...     bar.update(queries=1)
    >>> bar.n
    2
    """
    return Progress(iterable, total, desc, verbose, unit, leave)
