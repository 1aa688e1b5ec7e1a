"""The oracle wrapper that records every answer in a store and resumes."""

import os
import threading
import warnings

from ._base import OracleError, checked_answer, detached_copy
from ._fingerprint import differences, run_fingerprint
from ._store import AnnotationStore, question_key

_ON_CHANGE = ("raise", "ask")


def _answers(n):
    return f"{n} answer" if n == 1 else f"{n} answers"


class AnnotationSession:
    """An oracle that records every answer in a store and replays them on resume.

    Wrap the oracle that answers (a person behind a
    :class:`~sklearn_cincer.oracles.BrowserOracle` or
    :class:`~sklearn_cincer.oracles.TerminalOracle`, or any callable) and
    give the wrapper to :class:`~sklearn_cincer.SkepticalCleaner` as its
    ``oracle``. For each query it first looks in the store: a question
    already answered (the same example and counter-example, with the same
    features and current labels, under the same strategy) gets its recorded
    answer back without asking again. Otherwise the question is written to
    the store, asked, and its answer is written as soon as it comes.

    **Durable answers.** With a human oracle, the answer is written to the
    store before the person is told it was saved: the page says "Saved." (the
    terminal "Saved.") only once the answer is in the file. A write that
    fails says so and leaves the question open, so the person can submit it
    again; nothing reaches the cleaner that is not in the store.

    **Resuming.** The cleaner is deterministic given its data, parameters and
    ``random_state``, and its answers. After a crash (or a deliberate stop),
    run the same ``fit`` again with a session on the same store: it replays
    the recorded answers, in order, so the cleaner retraces the same rounds
    and reaches the first unanswered question, where the person takes over.
    Every recorded answer is applied exactly once in the new run; nothing
    answered is asked again. The session prints how many answers it
    replayed ("Resumed: replayed N answers from STORE").

    **Same run, or refused.** At the start of each ``fit`` the cleaner tells
    the session its settings and data; the store keeps their fingerprint
    with the run. A later ``fit`` with other data (a changed row, rescaled
    features) or settings that decide the questions (``threshold``,
    ``counter_examples``, the estimator's or selector's parameters,
    ``random_state``...) is refused before anything is asked, with a message
    that lists what differs (``on_change="raise"``); or, with
    ``on_change="ask"``, goes on, replaying only the answers to identical
    questions and asking the rest. ``partial_fit`` brings new rows by nature:
    only its settings are compared.

    **One writer.** The session holds its store for writing from its first
    use: a second session on the same file in another process is refused
    at its start ("in use by process ..."). The hold goes with the process,
    even when it is killed, and is given back by :meth:`close`.

    **Undo.** When the wrapped oracle lets the person revise the last answer
    (both human oracles do), the revision is written to the store at once,
    replacing the earlier answer, and handed to the session's own revision
    listeners: the running cleaner listens during ``fit`` and
    ``partial_fit`` and applies it before its next round (or at the end of
    the call). The store records where it was applied, so that a rerun
    replays the earlier answer at its question and the revision at the same
    point, and retraces the live run. A revision made when no cleaner runs
    (after the fit ended) is applied when the session is run again:
    :attr:`n_revisions_` counts revisions, and :attr:`needs_rerun_` says
    whether one was left for a rerun.

    Parameters
    ----------
    oracle : callable
        ``oracle(query) -> Answer``: who answers the questions not in the
        store.
    store : AnnotationStore, str or path-like
        The store, or the path of its SQLite file.
    on_change : {"raise", "ask"}, default="raise"
        What a ``fit`` does when the store was written by a run with other
        data or settings: "raise" refuses with an
        :class:`~sklearn_cincer.oracles.OracleError` naming what differs;
        "ask" replays only the answers to identical questions and asks the
        rest.

    Attributes
    ----------
    n_replayed_ : int
        Questions answered from the store since this object was made.
    n_asked_ : int
        Questions passed on to ``oracle``.
    n_revisions_ : int
        Revisions (undos) recorded.
    needs_rerun_ : bool
        True when a revision was recorded while no cleaner was running to
        apply it (after its fit ended): it takes effect when the session is
        run again.

    See Also
    --------
    AnnotationStore : The store, with its CSV audit log.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_cincer import SimulatedOracle, SkepticalCleaner
    >>> from sklearn_cincer.datasets import make_label_noise
    >>> from sklearn_cincer.oracles import AnnotationSession, AnnotationStore
    >>> X, y = make_classification(n_samples=80, random_state=0)
    >>> y_noisy, _ = make_label_noise(y, noise_rate=0.2, random_state=0)
    >>> store = AnnotationStore(":memory:")
    >>> session = AnnotationSession(SimulatedOracle(y), store)
    >>> first = SkepticalCleaner(LogisticRegression(), oracle=session,
    ...                          n_bootstrap=40, random_state=0).fit(X, y_noisy)
    >>> session.n_asked_ == first.n_queries_ == store.n_answered
    True

    Running again with the same store asks nothing: every answer is replayed.

    >>> again = AnnotationSession(SimulatedOracle(y), store)
    >>> second = SkepticalCleaner(LogisticRegression(), oracle=again,
    ...                           n_bootstrap=40, random_state=0).fit(X, y_noisy)
    Resumed: replayed ... answers from :memory:.
    >>> again.n_asked_, again.n_replayed_ == first.n_queries_
    (0, True)
    >>> bool((second.y_ == first.y_).all())
    True

    With other settings, the store refuses rather than replay answers into
    a run that would not have asked them:

    >>> other = AnnotationSession(SimulatedOracle(y), store)
    >>> SkepticalCleaner(LogisticRegression(), oracle=other, threshold=0.5,
    ...                  n_bootstrap=40, random_state=0).fit(X, y_noisy)
    Traceback (most recent call last):
    ...
    sklearn_cincer.oracles._base.OracleError: The store :memory: was written by ...
      threshold: 0.2 in the store, 0.5 now.
    ...
    """

    def __init__(self, oracle, store, *, on_change="raise"):
        if not callable(oracle):
            raise TypeError(
                f"oracle must be a callable oracle(query) -> Answer, got "
                f"{type(oracle).__name__}."
            )
        if on_change not in _ON_CHANGE:
            raise ValueError(
                f"on_change must be one of {list(_ON_CHANGE)}, got {on_change!r}."
            )
        if not isinstance(store, AnnotationStore):
            if not isinstance(store, (str, os.PathLike)):
                raise TypeError(
                    "store must be an AnnotationStore or the path of its file, "
                    f"got {type(store).__name__}."
                )
            store = AnnotationStore(store)
        self.oracle = oracle
        self.store = store
        self.on_change = on_change
        self.n_replayed_ = 0
        self.n_asked_ = 0
        self.n_revisions_ = 0
        self.needs_rerun_ = False
        self._reset_runtime()

    def _reset_runtime(self):
        self._run_id = None
        self._fingerprint = None
        self._answered_keys = set()
        self._lock = threading.Lock()
        self._pending = {}  # question key -> question_id, while being asked
        self._committed = {}  # question key -> answer, written by the listener
        self._replayed_this_fit = 0
        self._n_legacy = 0
        self._announced = 0  # replays announced in this fit
        self._revision_listeners = []
        self._asked = []  # (query handed on, own copy) of the latest questions
        self._revision_rows = {}  # id(answer) -> (answer, row), until applied
        self._scheduled = []  # (query, answer, round) replayed, for the cleaner

    def __repr__(self):
        return f"AnnotationSession(oracle={self.oracle!r}, store={self.store!r})"

    def __getstate__(self):
        state = dict(self.__dict__)
        for key in (
            "_lock",
            "_pending",
            "_committed",
            "_answered_keys",
            "_revision_listeners",
            "_asked",
            "_revision_rows",
            "_scheduled",
        ):
            state.pop(key, None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        run_id, fingerprint = self._run_id, self._fingerprint
        self._reset_runtime()
        self._run_id, self._fingerprint = run_id, fingerprint

    def __getattr__(self, name):
        # push(queries), a block of questions handed at once (the auditor's),
        # passes through to an oracle that takes it; the store records each
        # question when it is asked, as for any other
        if name == "push" and "oracle" in self.__dict__:
            return self.oracle.push
        raise AttributeError(
            f"{type(self).__name__!r} object has no attribute {name!r}"
        )

    def close(self):
        """Close the store, giving back its hold for writing."""
        self.store.close()

    # ------------------------------------------------------------ the run

    def _begin(self):
        """Hold the store and listen to the oracle (once; idempotent)."""
        self.store.hold()
        for name, listener in (
            ("add_revision_listener", self._on_revision),
            ("add_answer_listener", self._on_answer),
        ):
            register = getattr(self.oracle, name, None)
            if register is not None:
                register(listener)

    def start_fit(self, cleaner, X, y, *, partial=False):
        """Called by the cleaner before a ``fit`` or ``partial_fit`` changes it.

        Holds the store, checks that it was written by a run with the same
        data and settings (only the settings for ``partial=True``: a
        ``partial_fit`` that extends a fitted stream), and records this run's
        fingerprint.

        Parameters
        ----------
        cleaner : SkepticalCleaner or object with ``get_params``
            The cleaner about to run; a
            :class:`~sklearn_cincer.LabelAuditor` passes its settings (all
            but its budget).
        X, y : array-like
            The data of the call, as validated by the cleaner.
        partial : bool, default=False
            True for a ``partial_fit`` that extends a fitted stream.

        Raises
        ------
        OracleError
            When the store is in use by another process, or (with
            ``on_change="raise"``) was written by another run.
        """
        self._begin()
        current = run_fingerprint(cleaner, X, y)
        stored = self.store.last_fingerprint()
        if partial and stored is not None:
            current["data"] = stored.get("data")
        lines = [] if stored is None else differences(stored, current)
        if lines and self.on_change == "raise":
            raise OracleError(
                f"The store {self.store.path} was written by a run with other "
                "data or settings:\n  " + ".\n  ".join(lines) + ".\nReplaying its "
                "answers here could apply them to questions this run would not "
                "ask. Give this run a new store, run it as before, or pass "
                "on_change='ask' to AnnotationSession to replay only the answers "
                "to identical questions (same examples, features and labels) and "
                "ask the rest."
            )
        if lines:
            print(
                f"The store {self.store.path} was written by a run with other "
                "data or settings (" + "; ".join(lines) + "): only the answers "
                "to identical questions replay.",
                flush=True,
            )
        self._replayed_this_fit = 0
        self._announced = 0
        if current != self._fingerprint and not self.store.read_only:
            self._run_id = self.store.start_run(current)
            self._fingerprint = current

    def finish_fit(self):
        """Called by the cleaner when a ``fit`` or ``partial_fit`` ends."""
        if self._announced and self._replayed_this_fit > self._announced:
            # with on_change="ask", replays may come between questions
            print(
                f"Replayed {_answers(self._replayed_this_fit)} in all from "
                f"{self.store.path}.",
                flush=True,
            )
        self._announce()

    def _announce(self):
        """Say once per fit how many answers were replayed, if any."""
        if self._announced or self._replayed_this_fit == 0:
            return
        self._announced = self._replayed_this_fit
        text = (
            f"Resumed: replayed {_answers(self._replayed_this_fit)} from "
            f"{self.store.path}."
        )
        print(text, flush=True)
        notify = getattr(self.oracle, "notify", None)
        if notify is not None:
            notify(text)

    # ------------------------------------------------------------ answers

    # ---------------------------------------------------------- revisions

    def add_revision_listener(self, listener):
        """Call ``listener(query, answer)`` for each revision, once it is stored.

        The cleaner listens while it runs, to apply revisions at once; a
        listener that returns True says it applies them in a running fit.
        Adding the same listener twice has no effect.

        Parameters
        ----------
        listener : callable
        """
        with self._lock:
            if listener not in self._revision_listeners:
                self._revision_listeners.append(listener)

    def remove_revision_listener(self, listener):
        """Stop calling ``listener``; one not added is ignored.

        Parameters
        ----------
        listener : callable
        """
        with self._lock:
            if listener in self._revision_listeners:
                self._revision_listeners.remove(listener)

    def _on_revision(self, query, answer):
        """Store a revision, then hand it to the listeners (the running cleaner).

        Returns whether a listener applies it in a running fit, for the
        oracle to tell the person.
        """
        with self._lock:
            own = next((mine for handed, mine in self._asked if handed is query), query)
            listeners = list(self._revision_listeners)
        answer = checked_answer(answer, own)  # the question as it was asked
        row = self.store.record_revision(own, answer, run_id=self._run_id)
        self.n_revisions_ += 1
        if not listeners:
            self.needs_rerun_ = True
            return False
        with self._lock:
            self._revision_rows[id(answer)] = (answer, row)
        return any([bool(listener(own, answer)) for listener in listeners])

    def revision_applied(self, query, answer, round_):
        """Called by the cleaner once it applied a revision, before ``round_``.

        The store records the point, so that a rerun applies the revision
        there too.
        """
        with self._lock:
            entry = self._revision_rows.pop(id(answer), None)
        if entry is not None and entry[0] is answer and not self.store.read_only:
            self.store.mark_revision_applied(entry[1], round_)

    def end_of_questions(self):
        """Passed on to the wrapped oracle: the fit asks nothing more."""
        end = getattr(self.oracle, "end_of_questions", None)
        if end is not None:
            end()

    def due_revisions(self):
        """The revisions replayed since the last call: ``(query, answer, round)``.

        The cleaner applies each before ``round``, where the live run did.
        """
        with self._lock:
            due, self._scheduled = self._scheduled, []
        return due

    def _on_answer(self, query, answer):
        """Write an answer before the oracle confirms it to the person.

        The human oracles call this (from the thread that serves the page,
        or the terminal's) before they say "Saved."; an exception means "not
        saved": the question stays open.
        """
        with self._lock:
            own = next((mine for handed, mine in self._asked if handed is query), None)
            key = question_key(own) if own is not None else None
            question_id = self._pending.get(key)
        if question_id is None:
            return  # a question this session did not ask
        answer = checked_answer(answer, own)  # the class values themselves
        self.store.record_answer(question_id, answer)
        with self._lock:
            self._pending.pop(key, None)
            self._committed[key] = answer

    def _replay(self, query):
        found = self.store.find_replay(query)
        stored = None
        if found is not None:
            stored, revisions = found
            with self._lock:
                self._scheduled += [
                    (query, answer, round_) for answer, round_ in revisions
                ]
        if stored is None:
            legacy = self.store.find_legacy_answer(query)
            if legacy is None:
                return None
            question_id, stored = legacy
            if not self.store.read_only:
                self.store.adopt(question_id, query)
            if self._n_legacy == 0:
                warnings.warn(
                    f"The store {self.store.path} was written by an earlier "
                    "version of sklearn-cincer, without fingerprints of the "
                    "examples: its answers are matched by ids and labels only, as "
                    "then (the features cannot be checked), and take the "
                    "fingerprints of the examples they are replayed on.",
                    UserWarning,
                    stacklevel=3,
                )
            self._n_legacy += 1
        return stored

    def __call__(self, query):
        self._begin()
        if self._run_id is None and not self.store.read_only:
            self._run_id = self.store.start_run()
        key = question_key(query)
        stored = self._replay(query)
        if stored is not None:
            self.n_replayed_ += 1
            self._replayed_this_fit += 1
            self._answered_keys.add(key)
            return stored
        question_id = self.store.record_question(query, run_id=self._run_id)
        self._announce()  # before the person is asked
        self.n_asked_ += 1
        # The oracle gets a copy; answers are checked against this query, so
        # an oracle that edits its copy changes nothing that is stored.
        handed = detached_copy(query)
        with self._lock:
            self._pending[key] = question_id
            self._asked = self._asked[-3:] + [(handed, query)]
        try:
            answer = self.oracle(handed)
        finally:
            with self._lock:
                self._pending.pop(key, None)
                committed = self._committed.pop(key, None)
        if committed is not None:
            if committed != checked_answer(answer, query):
                raise OracleError(
                    f"The oracle saved one answer about example {query.example_id} "
                    "and returned another."
                )
            answer = committed
        else:
            try:
                answer = checked_answer(answer, query)  # the class values themselves
            except OracleError:
                return answer  # the cleaner raises the same error; nothing recorded
            self.store.record_answer(question_id, answer)
        self._answered_keys.add(key)
        return answer
