"""A refit that runs while the person reads the question it depends on.

The auditor refits its ranking (a cross-validation) every ``refit_every``
labels. The refit needs the last answer of the block, so run after the
answer it makes the person wait. Instead, when the block's last question
goes to the oracle, :class:`SpeculativeRefit` starts the refit in a
background thread on the labels that answer most likely leaves (the model's
predictions for the asked labels: the ranking's top is mostly right). When
the answer comes, :meth:`SpeculativeRefit.result` hands the refit over if
the labels are what it assumed; otherwise it stops it (between folds) and
the caller refits in the foreground, as without it. The refit is a
deterministic function of the labels, so the questions are the same either
way; only the wait moves.

Once the cross-validation is handed over, the same thread goes on fitting
each fold's selector, the folds of the first questions first, while the
person answers; a question whose fold is not fitted yet fits it itself, as
without the thread.

Nothing of it is kept on the estimator: the thread lives in the state of
one ``fit`` call and is joined before the call returns or fails, so a
pickle taken mid-run holds no thread or lock, and no thread outlives the
thread limits of the call.
"""

import threading

import numpy as np


class SpeculativeRefit:
    """A refit started in a background thread on assumed labels.

    Parameters
    ----------
    compute : callable
        ``compute(labels, stop) -> result``: the refit on ``labels``; it
        should return early (None) when ``stop()`` turns True.
    labels : ndarray
        The labels it assumes; copied.
    then : callable, default=None
        ``then(result, stop)``: more work for the same thread once the
        result is handed over (its errors are ignored: it only prepares
        what the caller would otherwise compute itself).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer._background import SpeculativeRefit
    >>> refit = SpeculativeRefit(lambda labels, stop: labels.sum(), np.array([1, 2]))
    >>> int(refit.result(np.array([1, 2])))
    3
    >>> SpeculativeRefit(lambda labels, stop: labels.sum(),
    ...                  np.array([1, 2])).result(np.array([1, 0])) is None
    True
    """

    def __init__(self, compute, labels, then=None):
        self.labels = np.array(labels, copy=True)
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._result = None
        self._failed = False
        self._thread = threading.Thread(
            target=self._run,
            args=(compute, then),
            name="sklearn-cincer-refit",
            daemon=True,
        )
        self._thread.start()

    def _run(self, compute, then):
        try:
            self._result = compute(self.labels, self._stop.is_set)
        except BaseException:  # noqa: BLE001 - the foreground refit reports it
            # a refit on assumed labels may fail where the real one would
            # not (a class gone from a fold): the caller refits on the real
            # labels, which raises if the failure is real
            self._failed = True
        finally:
            self._ready.set()
        if then is None or self._failed or self._result is None:
            return
        try:
            then(self._result, self._stop.is_set)
        except BaseException:  # noqa: BLE001 - the caller does it again
            pass

    def result(self, labels):
        """The refit if it assumed ``labels`` and succeeded, else None.

        Waits for the refit, not for ``then``. When there is no result to
        hand over, the thread is stopped and waited for.
        """
        if not np.array_equal(labels, self.labels):
            self.cancel()
            return None
        self._ready.wait()
        if self._failed or self._result is None:
            self.cancel()
            return None
        return self._result

    def cancel(self):
        """Stop the thread and wait for it (no thread outlives a fit)."""
        self._stop.set()
        self._thread.join()


def start_speculation(auditor, X, audit, ranking, row, counters=()):
    """Start the next ranking's refit as the block's last question is asked.

    It assumes that the answer gives ``row`` (and each of ``counters``, the
    counter-examples whose labels are offered too) the label the ranking
    predicts out of sample.
    ``audit`` is the state of the running ``LabelAuditor.fit``; the refit
    reads its folds and last cross-validation, which stay as they are until
    the next ranking takes it (:func:`take_speculation`). The thread of the
    previous refit, if it still fits selectors for the ranking that ends
    here, is stopped first.
    """
    if audit.speculation is not None:
        audit.speculation.cancel()
    labels = audit.labels.copy()
    labels[row] = ranking["prediction"][row]
    for counter in counters:
        labels[counter] = ranking["prediction"][counter]
    fitted = {}

    def compute(assumed, stop):
        # no progress bar: the person is reading a question meanwhile
        cvp = auditor._cross_validate(
            audit.template, X, audit, assumed, verbose=0, stop=stop
        )
        return None if cvp is None else (cvp, fitted)

    def then(result, stop):
        _fit_selectors(result[0], X, audit, labels, fitted, stop)

    audit.speculation = SpeculativeRefit(compute, labels, then)


def prefetch_selectors(X, audit, ranking):
    """Fit the folds' selectors of a ranking refit in the foreground, in a thread.

    The first ranking, and one whose background refit was not taken: the
    first question fits its own fold's selector at once, the thread the
    others while the person reads. Returns the dict it fills, to serve as
    the ranking's selector cache.
    """
    if audit.speculation is not None:
        audit.speculation.cancel()
    cvp, labels, fitted = ranking["cv"], audit.labels.copy(), ranking["selectors"]

    def compute(assumed, stop):
        return cvp, fitted

    def then(result, stop):
        _fit_selectors(cvp, X, audit, labels, fitted, stop, skip_first=True)

    audit.speculation = SpeculativeRefit(compute, labels, then)


def _fit_selectors(cvp, X, audit, labels, fitted, stop, skip_first=False):
    """Each fold's selector on the new models, as the questions would fit them.

    Into ``fitted``, keyed as ``LabelAuditor._fold_selector`` caches them
    (``fold -> (fitted selector, labels of its training rows)``), the folds
    of the most suspicious labels first (but the first one with
    ``skip_first``: the question about to be asked fits it); a fold the
    questions fitted meanwhile is skipped.
    """
    from sklearn.base import clone

    from ._issues import label_quality

    order = np.argsort(label_quality(cvp.proba, labels), kind="stable")
    _, first = np.unique(cvp.fold[order], return_index=True)
    for fold in np.argsort(first)[int(skip_first) :]:
        fold = int(fold)
        if stop():
            return
        if fold in fitted:
            continue
        train = cvp.train[fold]
        y_train = labels[train]
        selector = clone(audit.selector).fit(
            cvp.estimators[fold], X[train], audit.classes[y_train]
        )
        fitted.setdefault(fold, (selector, y_train))


def take_speculation(audit):
    """``(cross-validation, fold selectors)`` refit for these labels.

    ``(None, {})`` when there is none to take: the caller refits in the
    foreground. The selectors' dict fills as the thread goes on.
    """
    speculation = audit.speculation
    taken = None if speculation is None else speculation.result(audit.labels)
    if taken is None:
        audit.speculation = None
        return None, {}
    return taken
