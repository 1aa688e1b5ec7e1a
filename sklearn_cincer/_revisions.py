"""Revisions (undo) that reach the cleaner while it runs.

A person behind a human oracle may revise the last answer they gave after
the cleaner has applied it. The oracle hands the revision to its revision
listeners, possibly from another thread (the page's server); the cleaner
listens for the duration of ``fit`` and ``partial_fit`` with a
:class:`RevisionInbox` and applies what arrived at its next safe point
(before a round, and at the end of the call). An
:class:`~sklearn_cincer.oracles.AnnotationSession` that replays a store
hands back the revisions recorded there, each with the round at which the
live run applied it, so that the rerun applies it at the same point.
"""

import contextlib
import threading
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PendingRevision:
    """A revision waiting for the round at which it applies.

    ``round`` is None for a revision made now (it applies at the next safe
    point); a replayed one applies before the round the live run applied it
    at. ``live`` revisions are reported back to the oracle once applied
    (``revision_applied``), so that a store records where.
    """

    query: Any
    answer: Any
    round: int | None = None
    live: bool = True


class RevisionInbox:
    """The cleaner's revision listener: queues revisions under a lock.

    It also remembers the queries handed to the oracle in this call, so that
    a revision is matched to its question by the very object the oracle was
    given (an oracle may edit the fields of its copy).
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._items = []
        self._handed = {}

    def __call__(self, query, answer):
        with self._lock:
            self._items.append(PendingRevision(query, answer))
        return True  # applied in the running fit: the oracle may say so

    def note_handed(self, query, example_id):
        """Remember that ``query`` was handed out about ``example_id``."""
        with self._lock:
            self._handed[id(query)] = (query, example_id)

    def example_of(self, query):
        """The example id ``query`` was handed out about, or None."""
        with self._lock:
            entry = self._handed.get(id(query))
        return entry[1] if entry is not None and entry[0] is query else None

    def take(self):
        """Every revision queued since the last call, in order."""
        with self._lock:
            items, self._items = self._items, []
        return items


@contextlib.contextmanager
def listening(oracle, inbox):
    """Register ``inbox`` as a revision listener of ``oracle`` for the body.

    An oracle without ``add_revision_listener`` makes no revisions; one
    without ``remove_revision_listener`` keeps the inbox, which nobody
    reads after the call.
    """
    add = getattr(oracle, "add_revision_listener", None)
    if add is None:
        yield
        return
    add(inbox)
    try:
        yield
    finally:
        remove = getattr(oracle, "remove_revision_listener", None)
        if remove is not None:
            remove(inbox)


def end_of_questions(oracle):
    """Tell a human oracle that the call asks nothing more.

    A person may then revise their last answer while the call can still
    apply it (the terminal asks once more; the page says the fit is ending).
    """
    end = getattr(oracle, "end_of_questions", None)
    if end is not None:
        end()


def replayed_revisions(oracle):
    """The revisions a replaying oracle scheduled since the last call."""
    due = getattr(oracle, "due_revisions", None)
    if due is None:
        return []
    return [
        PendingRevision(query, answer, int(round_), live=False)
        for query, answer, round_ in due()
    ]


def report_applied(oracle, pending, round_):
    """Tell the oracle where a live revision was applied (a store keeps it)."""
    applied = getattr(oracle, "revision_applied", None)
    if pending.live and applied is not None:
        applied(pending.query, pending.answer, round_)
