"""The exact Fisher of the current model, factorized while the oracle waits.

Conjugate gradients solve with the current model's ``F`` exactly, whatever
their preconditioner; the factor of the exact ``F`` of a recent model makes
them converge in a step or two. Building that factor costs ``n P^2``
multiply-adds (about half a second at ``n = 100,000``, ``P = 650``), far
more than a question: :class:`FactorRefresh` builds it in a background
thread, only while the oracle waits for the person (between
:meth:`~FactorRefresh.resume` and :meth:`~FactorRefresh.pause`), in chunks
of rows, so that it never takes a core from the question itself and never
runs outside the thread limits of the call that asks (the cleaner's
``n_threads``: BLAS pools are process-wide, and the refresh computes only
while the cleaner's call waits inside them).
"""

import threading

import numpy as np

from .._core import fisher_math as _fisher

# Multiply-adds per chunk of the build: the foreground waits at most one
# chunk (a few milliseconds) when the answer comes back.
_CHUNK_MACS = 2**27
# A refresh that nobody resumes for this long gives up (the selector that
# started it was dropped, or the questions stopped): its thread ends.
_IDLE_SECONDS = 120.0


class FactorRefresh:
    """The factor of the damped exact ``F`` of one model, built in the background.

    Parameters
    ----------
    H : ndarray of shape (n, d)
        The features of every row (not copied; never written).
    P : ndarray of shape (n, k)
        The model's outputs on them: the model whose ``F`` is built.
    weights : ndarray of shape (n,) or None
        How many times each row counts.
    link : {"softmax", "logistic", "ovr"}
    fit_intercept : bool
    damping : float
        Relative, as in :func:`sklearn_cincer._core.fisher_math.damp`.
    keep : dict, default=None
        More entries for the result: what the caller needs to judge the
        factor later (the features it was built on, when they may change).

    Notes
    -----
    The result is ``dict(factor=..., P=P, weights=weights, n=n)``, the form
    of the stale factor that :class:`~sklearn_cincer.TopFisherSelector`
    keeps, with the entries of ``keep``. A failed build (a damped ``F`` that is not positive definite, no
    memory) leaves no result and :attr:`error` set: the selector then goes
    on with the factor it has, since conjugate gradients reach the same
    solution with any preconditioner, and a build that fails for good fails
    again, with its message, when the selector rebuilds the factor itself.

    A pickled or copied refresh is an empty, finished one: no thread, lock
    or event is ever pickled.
    """

    def __init__(self, H, P, weights, link, fit_intercept, damping, keep=None):
        self._job = (H, P, weights, link, fit_intercept, float(damping))
        self._keep = {} if keep is None else dict(keep)
        self._run = threading.Event()
        self._stop = threading.Event()
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._thread = None
        self.result = None
        self.error = None

    def __getstate__(self):
        return {}

    def __setstate__(self, state):
        self.__init__(None, None, None, None, True, 0.0)
        self._done.set()

    @property
    def done(self):
        """Whether the build ended (with a result, an error or cancelled)."""
        return self._done.is_set()

    def resume(self):
        """Let the build run (starting its thread on the first call)."""
        if self._done.is_set():
            return
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._work,
                name="sklearn-cincer-factor-refresh",
                daemon=True,
            )
            self._thread.start()
        self._run.set()

    def pause(self):
        """Stop the build at its next chunk; returns once no chunk is running."""
        self._run.clear()
        with self._lock:  # the chunk in progress, if any, ends first
            pass

    def cancel(self):
        """Give the build up; its thread ends at the next chunk."""
        self._stop.set()
        self._run.set()

    def join(self, timeout=None):
        """Wait for the thread to end (tests and shutdown)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _step(self, work, *args):
        """Run ``work(*args)`` once the build may run; False when given up instead."""
        while True:
            if not self._run.wait(_IDLE_SECONDS) or self._stop.is_set():
                return False
            with self._lock:
                if self._run.is_set():  # else paused between the check and the lock
                    work(*args)
                    return True

    def _work(self):
        try:
            H, P, weights, link, bias, damping = self._job
            n = H.shape[0]
            dim = P.shape[1] * (H.shape[1] + bool(bias))
            rows = max(64, _CHUNK_MACS // max(dim * dim, 1))
            total = np.zeros((dim, dim))

            def add(block):
                w = None if weights is None else weights[block]
                count = block.stop - block.start if w is None else float(np.sum(w))
                if count > 0:
                    total[...] += count * _fisher.fisher_matrix(
                        H[block], P[block], link, bias, w
                    )

            for start in range(0, n, rows):
                if not self._step(add, slice(start, min(start + rows, n))):
                    return
            count = n if weights is None else float(np.sum(weights))
            found = {}

            def factorize():
                found["factor"] = _fisher.factorize(total / max(count, 1), damping)

            if self._step(factorize):
                self.result = dict(
                    factor=found["factor"],
                    P=P,
                    weights=weights,
                    n=P.shape[0],
                    **self._keep,
                )
        except Exception as exc:  # noqa: BLE001 - kept for the caller, see Notes
            self.error = exc
        finally:
            self._job = None  # the features and outputs are not held any longer
            self._done.set()
