"""A durable record of a labeling session: the SQLite store."""

import csv
import datetime
import json
import os
import socket
import sqlite3
import threading
import urllib.parse
import warnings

from . import _lockfile, _schema
from ._base import Answer, OracleError, plain
from ._fingerprint import array_fingerprint
from ._schema import LIST_COLUMNS as _LIST_COLUMNS
from ._schema import SCHEMA as _SCHEMA  # noqa: F401 (tests build old stores)
from ._schema import SCHEMA_VERSION as _SCHEMA_VERSION  # noqa: F401

_COLUMNS = (
    "question_id",
    "run_id",
    "status",
    "round",
    "example_id",
    "counter_example_id",
    "strategy",
    "label_before",
    "counter_label_before",
    "prediction",
    "margin",
    "score",
    "label_after",
    "counter_label_after",
    "skipped",
    "annotator",
    "asked_at",
    "answered_at",
    "revises",
    "x_fingerprint",
    "counter_x_fingerprint",
    "counter_example_ids",
    "scores",
    "counter_labels_before",
    "counter_labels_after",
    "counter_x_fingerprints",
)

# The columns of a question that record_question writes, in order.
_QUESTION_FIELDS = (
    "run_id",
    "round",
    "example_id",
    "counter_example_id",
    "strategy",
    "label_before",
    "counter_label_before",
    "prediction",
    "margin",
    "score",
    "asked_at",
    "qkey",
    "x_fingerprint",
    "counter_x_fingerprint",
    "counter_example_ids",
    "scores",
    "counter_labels_before",
    "counter_x_fingerprints",
)

# Seconds a write waits for another connection's lock (a reader, or a
# database browser left open) before it fails with "database is locked": the
# person waits that long for "Saved." or "not saved", so not SQLite's 30 s.
_BUSY_TIMEOUT = 10.0


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(
        timespec="milliseconds"
    )


def _fingerprints(query):
    return (
        array_fingerprint(query.x),
        None if query.counter_x is None else array_fingerprint(query.counter_x),
    )


def _question_params(run_id, query, key):
    """The columns of :data:`_QUESTION_FIELDS` of a question, as stored."""
    shown = query.counter_examples
    lists = (None,) * 4
    if len(shown) > 1:
        lists = (
            json.dumps([int(ce.example_id) for ce in shown]),
            json.dumps([None if ce.score is None else float(ce.score) for ce in shown]),
            json.dumps([plain(ce.label) for ce in shown]),
            json.dumps([array_fingerprint(ce.x) for ce in shown]),
        )
    return (
        (
            run_id,
            int(query.round),
            int(query.example_id),
            None if query.counter_example_id is None else int(query.counter_example_id),
            query.strategy,
            _dump(query.label),
            _dump(query.counter_label),
            _dump(query.prediction),
            float(query.margin),
            None if query.score is None else float(query.score),
            _now(),
            key,
        )
        + _fingerprints(query)
        + lists
    )


def _insert_question(status, extra=()):
    """``INSERT`` of a question's fields (and the ``extra`` columns)."""
    columns = ("status",) + _QUESTION_FIELDS + tuple(extra)
    return (
        f"INSERT INTO questions ({', '.join(columns)}) VALUES "
        f"('{status}', {', '.join('?' * (len(columns) - 1))})"
    )


def _dump(value):
    """A label as JSON, so that 1 and "1" stay apart."""
    value = plain(value)
    try:
        return json.dumps(value)
    except TypeError as exc:
        raise TypeError(
            f"The store keeps labels as JSON; label {value!r} of type "
            f"{type(value).__name__} cannot be written."
        ) from exc


def _load(text):
    return None if text is None else json.loads(text)


def question_key(query):
    """What makes two queries the same question.

    The same example and counter-examples (ids and a fingerprint of their
    features, in order), with the same current labels, under the same
    strategy. The key of a question with at most one counter-example is the
    one stores have always had, so that their answers still replay.
    """
    fingerprint, counter_fingerprint = _fingerprints(query)
    key = [
        int(query.example_id),
        None if query.counter_example_id is None else int(query.counter_example_id),
        plain(query.label),
        plain(query.counter_label),
        query.strategy,
        fingerprint,
        counter_fingerprint,
    ]
    others = query.counter_examples[1:]
    if others:
        key.append(
            [
                [int(ce.example_id), plain(ce.label), array_fingerprint(ce.x)]
                for ce in others
            ]
        )
    return json.dumps(key)


def _legacy_key(query):
    """The key of the first schema: ids and labels only."""
    return json.dumps(
        [
            int(query.example_id),
            None if query.counter_example_id is None else int(query.counter_example_id),
            plain(query.label),
            plain(query.counter_label),
        ]
    )


class AnnotationStore:
    """Every question asked and every answer given, in a SQLite file.

    Each write is its own committed transaction, made as it happens: a
    question is written before the person sees it (status ``"pending"``) and
    its answer as soon as it is given (``"answered"``). A revised answer (the
    "undo" of the human oracles) marks the earlier one ``"revised"`` and adds
    a new row that points to it (``revises``), so the audit log keeps both;
    the round before which the running cleaner applied it is kept too
    (:meth:`mark_revision_applied`), so that a replay applies it at the same
    point (:meth:`find_replay`). At most one live row (pending or answered)
    exists per question: that is enforced by a unique index, so no answer can
    be recorded twice.

    A question is the pair of examples with their current labels and the
    strategy, and a SHA-256 fingerprint of each example's features
    (``x_fingerprint``, ``counter_x_fingerprint``): an answer is never found
    for an example whose features changed, even under the same id.

    The store is safe to use from several threads of one process; the SQLite
    file survives the process being killed at any moment (SQLite's journal
    rolls back a half-written transaction). Several processes may read it at
    once; an :class:`AnnotationSession` holds it for writing, so that a
    second session on the same file, in another process, is refused at its
    start (the lock is on the file itself, so through any of its names, and
    goes with the process, even when it is killed).

    Each answer carries a SHA-256 checksum of what it says and of its
    question, written in the same statement; an answer that no longer
    matches it (the file was changed) raises :class:`OracleError` instead
    of being replayed.

    A store carries a marker (SQLite's ``application_id`` and a metadata
    table). A file that is not a store (0 bytes, not SQLite, another
    application's database, even one with tables of the same names) is
    refused and left untouched, not turned into a new store. A store written
    by an earlier version, recognised by its exact schema, is upgraded in
    place when opened for writing. Every error names the file.

    Parameters
    ----------
    path : str or path-like
        The SQLite file; created when missing, reopened (and added to) when
        it exists. ``":memory:"`` keeps a store in memory only.
    read_only : bool or None, default=None
        Open the file only to read it (replaying its answers, auditing);
        any write raises :class:`OracleError`. ``None`` opens read-only when
        the file, or its folder, cannot be written.

    Attributes
    ----------
    path : str
        The file.
    read_only : bool
        Whether the store was opened read-only.

    See Also
    --------
    AnnotationSession : The oracle wrapper that writes to a store and resumes.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_cincer.oracles import Answer, AnnotationStore, Query
    >>> store = AnnotationStore(":memory:")
    >>> query = Query(example_id=5, x=np.zeros(2), label=0, prediction=1,
    ...               margin=0.7, classes=np.array([0, 1]), counter_example_id=2,
    ...               counter_x=np.ones(2), counter_label=1, score=3.5, round=1)
    >>> qid = store.record_question(query)
    >>> store.record_answer(qid, Answer(label=1, annotator="ana"))
    >>> store.find_answer(query)
    Answer(label=1, counter_label=1, annotator='ana')
    >>> [(r["example_id"], r["label_before"], r["label_after"])
    ...  for r in store.records()]
    [(5, 0, 1)]
    """

    def __init__(self, path, *, read_only=None):
        self.path = os.fspath(path)
        self._read_only_param = read_only
        self._lock = threading.RLock()
        self._conn = None
        self._held = None
        self._opened = False  # once opened, a missing file is not made anew
        self._connect()

    # ------------------------------------------------------------ opening

    @property
    def read_only(self):
        """Whether the store was opened read-only."""
        self._ensure()
        return self._read_only

    @property
    def legacy(self):
        """Whether some rows are of the first schema (see find_legacy_answer)."""
        self._ensure()
        return self._legacy

    def _ensure(self):
        """Open the connection if it is not (after close, or unpickling)."""
        with self._lock:
            if self._conn is None:
                self._connect()

    def _decide_read_only(self):
        if self._read_only_param is not None:
            return bool(self._read_only_param)
        if self.path == ":memory:" or not os.path.exists(self.path):
            return False
        folder = os.path.dirname(os.path.abspath(self.path))
        # SQLite writes its journal beside the file: the folder must be
        # writable too
        return not (os.access(self.path, os.W_OK) and os.access(folder, os.W_OK))

    def _connect(self):
        """Open the file, recognise it as a store (or make one), upgrade it.

        A file that is not a store is refused before SQLite writes anything
        to it or beside it.
        """
        read_only = self._decide_read_only()
        mine = self.path == ":memory:" or self._check_file(read_only)
        try:
            conn = self._open(read_only)
        except sqlite3.DatabaseError as exc:
            raise ValueError(
                f"{self.path} could not be opened as an SQLite database ({exc})."
            ) from exc
        try:
            self._prepare(conn, read_only, mine)
        except BaseException:
            conn.close()
            raise
        self._identity = _identity(self.path)
        self._conn, self._read_only, self._opened = conn, read_only, True

    def _check_file(self, read_only):
        """Refuse what cannot be a store; make a new file when none is there.

        Returns whether the file is ours to make a store in: marked as a
        store, or made just now.
        """
        path = self.path
        _check_beside(path)
        if os.path.exists(path):
            if not os.path.isfile(path):
                raise ValueError(
                    f"{path} is not a regular file, so not an annotation store."
                )
            if os.path.getsize(path) == 0:
                raise ValueError(
                    f"The store file {path} is empty (0 bytes): it holds no "
                    "answers and is not a store (a copy or a download that "
                    "failed?). Remove it to start a new store, or give the path "
                    "of the real one."
                )
            return _schema.check_header(path)
        if os.path.lexists(path):
            raise ValueError(
                f"{path} is a link to {os.readlink(path)}, which does not exist: "
                "a new store is not made through a link. Give the path of the "
                "file itself."
            )
        if self._opened:
            raise OracleError(
                f"The store {path} is missing: it was deleted or moved since it "
                "was opened. Put it back, or give the session the store where it "
                "is now (session.store = AnnotationStore(new_path))."
            )
        if read_only:
            raise FileNotFoundError(f"No store at {path} to open read-only.")
        # O_EXCL: never a file (or a link's target) that appeared meanwhile
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        return True

    def _open(self, read_only):
        if read_only:
            uri = "file:" + urllib.parse.quote(os.path.abspath(self.path)) + "?mode=ro"
            conn = sqlite3.connect(
                uri,
                uri=True,
                timeout=_BUSY_TIMEOUT,
                isolation_level=None,
                check_same_thread=False,
            )
        else:
            conn = sqlite3.connect(
                self.path,
                timeout=_BUSY_TIMEOUT,
                isolation_level=None,
                check_same_thread=False,
            )
        conn.row_factory = sqlite3.Row
        return conn

    def _prepare(self, conn, read_only, mine):
        """Check what the file is, upgrade it if writable, note its columns."""
        try:
            kind, version = _schema.identify(conn, self.path)
            if kind == "empty" and (read_only or not mine):
                raise ValueError(
                    f"{self.path} is an SQLite database without tables, not an "
                    "annotation store; it was left as it was."
                )
            if not read_only:
                conn.execute("PRAGMA synchronous = FULL")
                if kind != "ours" or version < _schema.SCHEMA_VERSION:
                    self._upgrade(conn)
        except sqlite3.DatabaseError as exc:
            raise ValueError(
                f"{self.path} is not an SQLite database, so not an "
                f"annotation store ({exc})."
            ) from exc
        self._columns = {
            table: {r["name"] for r in conn.execute(f"PRAGMA table_info({table})")}
            for table in ("questions", "runs", "revisions_applied")
        }
        if not self._columns["revisions_applied"]:  # a read-only earlier store
            del self._columns["revisions_applied"]
        # rows of the first schema, matched by ids and labels (find_legacy_answer)
        self._legacy = "x_fingerprint" not in self._columns["questions"] or bool(
            conn.execute(
                "SELECT 1 FROM questions WHERE x_fingerprint IS NULL LIMIT 1"
            ).fetchone()
        )

    def _upgrade(self, conn):
        """Make a new store, or upgrade an earlier one, in one transaction."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            # again under the write lock: another process may have done it
            kind, version = _schema.identify(conn, self.path)
            n_checked = 0
            if kind == "empty":
                _schema.create(conn)
            elif version < _schema.SCHEMA_VERSION:
                n_checked = _schema.upgrade(conn, version)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        if n_checked:
            given = (
                "its answer was" if n_checked == 1 else f"its {n_checked} answers were"
            )
            warnings.warn(
                f"The store {self.path} was written before answers carried a "
                f"checksum: {given} given one now, as stored (they were trusted "
                "before). From now on an answer changed in the file is refused "
                "instead of replayed.",
                UserWarning,
                stacklevel=5,
            )

    def __getstate__(self):
        if self.path == ":memory:":
            raise TypeError(
                "An in-memory AnnotationStore cannot be pickled; give it a file path."
            )
        return {"path": self.path, "read_only": self._read_only_param}

    def __setstate__(self, state):
        # the file is opened on first use, so that an object holding a store
        # that was moved or deleted still loads; its use then says so
        self.path = state["path"]
        self._read_only_param = state.get("read_only")
        self._lock = threading.RLock()
        self._conn = None
        self._held = None
        self._opened = True
        self._read_only = None

    def __repr__(self):
        return f"AnnotationStore({self.path!r})"

    def close(self):
        """Close the connection and give back the hold for writing.

        A closed store reopens on the next use.
        """
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            if self._held is not None:
                _lockfile.release(self._held)
                self._held = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        # a store dropped without close() gives back its hold, so that a
        # forgotten session does not keep other processes out
        try:
            self.close()
        except Exception:
            pass

    def hold(self):
        """Hold the store for writing in this process (idempotent).

        An :class:`AnnotationSession` calls this at its start, so that a
        second session on the same file in another process is refused before
        anyone answers. The lock is on the file itself, so a session through
        another name of the file (a link) is refused too. A read-only store
        is not held (it is never written).

        Raises
        ------
        OracleError
            When another process holds the store, naming it, or the store is
            missing.
        """
        if self.path == ":memory:" or self.read_only or self._held is not None:
            return
        with self._lock:
            if self._held is not None:
                return
            try:
                held = _lockfile.acquire(self.path)
            except _lockfile.InUseError:
                raise OracleError(
                    f"The store {self.path} is in use by {self._holder()}: another "
                    "session is writing to it. Finish or stop that session (or "
                    "close its store) first, or give this one another store."
                ) from None
            except OSError as exc:
                raise OracleError(
                    f"Cannot lock the store {self.path} for writing ({exc}); open "
                    "it with read_only=True to replay its answers."
                ) from exc
            started = datetime.datetime.now().isoformat(timespec="seconds")
            note = f"process {os.getpid()} on {socket.gethostname()} since {started}"
            try:
                if held != self._identity:  # the lock is on another file now
                    self._check_writable("the hold for writing")
                # for the "in use by" message of a session that is refused
                self._execute(
                    f"INSERT OR REPLACE INTO {_schema.INFO_TABLE} VALUES ('holder', ?)",
                    (note,),
                )
            except BaseException:
                _lockfile.release(held)
                raise
            self._held = held

    def _holder(self):
        """Who holds the store, as its holder noted it."""
        try:
            row = self._execute(
                f"SELECT value FROM {_schema.INFO_TABLE} WHERE key = 'holder'"
            ).fetchone()
        except OracleError:
            row = None
        return "another process" if row is None else row["value"]

    def _check_writable(self, what):
        if self.read_only:
            raise OracleError(
                f"The store {self.path} is read-only: its answers replay, but "
                f"{what} cannot be recorded. Copy it somewhere writable to go on."
            )
        # SQLite writes on into a file deleted or moved away while open: an
        # answer written there would be lost, so it is refused (and not saved)
        if _identity(self.path) != self._identity:
            raise OracleError(
                f"The store {self.path} was deleted, moved or replaced since it "
                f"was opened: {what} is not recorded. Put it back (or close this "
                "session and give it the store where it is now)."
            )

    def _execute(self, sql, params=()):
        with self._lock:
            self._ensure()
            try:
                return self._conn.execute(sql, params)
            except sqlite3.Error as exc:
                raise _store_error(self, exc) from exc

    def _transaction(self, statements):
        """Run ``[(sql, params), ...]`` atomically; the last cursor is returned."""
        with self._lock:
            self._ensure()
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise _store_error(self, exc) from exc
            try:
                cur = None
                for sql, params in statements:
                    cur = conn.execute(sql, params)
                conn.execute("COMMIT")
            except BaseException as exc:
                conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise _store_error(self, exc) from exc
                raise
            return cur

    # ------------------------------------------------------------ writing

    def start_run(self, fingerprint=None):
        """Note that a (re)run of the session started; returns its id.

        Parameters
        ----------
        fingerprint : dict, default=None
            What decides the run's questions (the cleaner's settings and
            data), as JSON-able data; see :meth:`last_fingerprint`.
        """
        self._check_writable("a new run")
        cur = self._execute(
            "INSERT INTO runs (started_at, fingerprint, pid) VALUES (?, ?, ?)",
            (
                _now(),
                None if fingerprint is None else json.dumps(fingerprint),
                os.getpid(),
            ),
        )
        return cur.lastrowid

    def last_fingerprint(self):
        """The fingerprint of the latest run that recorded one, or None."""
        self._ensure()
        if "fingerprint" not in self._columns["runs"]:
            return None
        row = self._execute(
            "SELECT fingerprint FROM runs WHERE fingerprint IS NOT NULL "
            "ORDER BY run_id DESC LIMIT 1"
        ).fetchone()
        return None if row is None else json.loads(row["fingerprint"])

    def record_question(self, query, run_id=None):
        """Write a question before it is shown; returns its ``question_id``.

        A question already pending (asked, never answered: the process died
        while the person was looking at it) keeps its row.
        """
        self._check_writable(f"the question about example {query.example_id}")
        key = question_key(query)
        with self._lock:
            row = self._execute(
                "SELECT question_id FROM questions WHERE qkey = ? AND status = "
                "'pending'",
                (key,),
            ).fetchone()
            if row is not None:
                return row["question_id"]
            cur = self._execute(
                _insert_question("pending"), _question_params(run_id, query, key)
            )
            return cur.lastrowid

    def record_answer(self, question_id, answer):
        """Write the answer to a pending question, with its checksum."""
        self._check_writable(f"the answer to question {question_id}")
        with self._lock:
            row = self._execute(
                "SELECT qkey, counter_label_before, counter_labels_before FROM "
                "questions WHERE question_id = ? AND status = 'pending'",
                (question_id,),
            ).fetchone()
            cur = None
            if row is not None:
                params = self._answer_params(
                    answer,
                    row["counter_label_before"],
                    before=_load(row["counter_labels_before"]),
                )
                cur = self._execute(
                    "UPDATE questions SET status = 'answered', label_after = ?, "
                    "counter_label_after = ?, skipped = ?, annotator = ?, "
                    "answered_at = ?, counter_labels_after = ?, checksum = ? "
                    "WHERE question_id = ? AND status = 'pending' AND qkey = ?",
                    params + (_checksum(row["qkey"], params), question_id, row["qkey"]),
                )
        # another connection may have answered it between the two statements
        if cur is None or cur.rowcount != 1:
            raise OracleError(
                f"Question {question_id} is not pending in {self!r}: it was "
                "answered already or never asked."
            )

    @staticmethod
    def _answer_params(answer, counter_default=None, before=None):
        """``label_after`` to ``answered_at``, then ``counter_labels_after``.

        ``counter_default``: the stored ``counter_label_after`` when the
        answer leaves it out. ``before``: the labels of a question's several
        counter-examples (a list), which the answer's ``None`` entries keep;
        None for a question with at most one.
        """
        labels = None
        if before is not None:
            given = answer.counter_labels or (answer.counter_label,)
            labels = json.dumps(
                [
                    plain(b) if k >= len(given) or given[k] is None else plain(given[k])
                    for k, b in enumerate(before)
                ]
            )
        counter = counter_default
        if answer.counter_label is not None:
            counter = _dump(answer.counter_label)
        return (
            _dump(answer.label),
            counter,
            int(bool(getattr(answer, "skipped", False))),
            answer.annotator,
            _now(),
            labels,
        )

    def record_revision(self, query, answer, run_id=None):
        """Replace the answer to ``query`` by ``answer`` (an "undo").

        The earlier answer stays in the log with status ``"revised"``; the new
        one is the one :meth:`find_answer` returns from now on. Returns the new
        row's ``question_id``.
        """
        self._check_writable(f"the revision about example {query.example_id}")
        key = question_key(query)
        with self._lock:
            old = self._execute(
                "SELECT question_id FROM questions WHERE qkey = ? AND status IN "
                "('pending', 'answered')",
                (key,),
            ).fetchone()
            statements = []
            revises = None
            if old is not None:
                revises = old["question_id"]
                statements.append(
                    (
                        "UPDATE questions SET status = 'revised' WHERE question_id = ?",
                        (revises,),
                    )
                )
            before = None
            if len(query.counter_examples) > 1:
                before = [ce.label for ce in query.counter_examples]
            counter = (
                None if query.counter_label is None else _dump(query.counter_label)
            )
            params = self._answer_params(answer, counter, before)
            statements.append(
                (
                    _insert_question(
                        "answered",
                        (
                            "revises",
                            "label_after",
                            "counter_label_after",
                            "skipped",
                            "annotator",
                            "answered_at",
                            "counter_labels_after",
                            "checksum",
                        ),
                    ),
                    _question_params(run_id, query, key)
                    + (revises,)
                    + params
                    + (_checksum(key, params),),
                )
            )
            return self._transaction(statements).lastrowid

    def mark_revision_applied(self, question_id, round_):
        """Record that the revision ``question_id`` was applied before ``round_``.

        A replay then applies it at the same point of the rerun
        (:meth:`find_replay`). A revision already marked keeps its round.
        """
        self._check_writable(f"where the revision {question_id} was applied")
        self._execute(
            "INSERT OR IGNORE INTO revisions_applied (question_id, applied_round) "
            "VALUES (?, ?)",
            (int(question_id), int(round_)),
        )

    # ------------------------------------------------------------ reading

    def find_replay(self, query):
        """What a rerun replays for this question, and the revisions after it.

        Returns None when the question has no live answer, else ``(answer,
        revisions)``: ``answer`` is the one the running cleaner applied when
        it asked, and ``revisions`` lists ``(answer, round)`` for each later
        revision (undo) that the cleaner applied before ``round``, in order.
        A revision recorded without that point (by an earlier version, or a
        run that stopped before applying it) replaces the answer instead, as
        it always did.
        """
        columns = self._answer_columns()  # reads the store's tables first
        applied = "revisions_applied" in self._columns
        rows = self._execute(
            f"SELECT status, {columns}, "
            + ("a.applied_round" if applied else "NULL AS applied_round")
            + " FROM questions"
            + (" LEFT JOIN revisions_applied a USING (question_id)" if applied else "")
            + " WHERE qkey = ? AND status IN ('answered', 'revised') ORDER BY "
            "question_id",
            (question_key(query),),
        ).fetchall()
        if not rows or rows[-1]["status"] != "answered":
            return None
        base = max(
            k for k, row in enumerate(rows) if k == 0 or row["applied_round"] is None
        )
        # every row that feeds the replay matches its checksum, or none replays
        return _answer(self._verified(rows[base])), [
            (_answer(self._verified(row)), row["applied_round"])
            for row in rows[base + 1 :]
        ]

    def find_answer(self, query):
        """The recorded answer to this question, or None.

        The same question means the same example and counter-example, with
        the same features (by fingerprint) and current labels, under the same
        strategy.

        Raises
        ------
        OracleError
            When the answer does not match its checksum (the file was changed
            since it was written): it is never replayed.
        """
        row = self._execute(
            f"SELECT {self._answer_columns()} FROM questions WHERE qkey = ? AND "
            "status = 'answered'",
            (question_key(query),),
        ).fetchone()
        return None if row is None else _answer(self._verified(row))

    def _answer_columns(self):
        """What :func:`_answer` and :meth:`_verified` read.

        A read-only store of an earlier version may lack the last columns.
        """
        self._ensure()
        have = self._columns["questions"]
        return ", ".join(
            c if c in have else f"NULL AS {c}"
            for c in ("question_id", "example_id", "qkey", "checksum")
            + _schema.ANSWER_FIELDS
        )

    def _verified(self, row):
        """The row, once its answer matches its checksum."""
        if "checksum" in self._columns["questions"] and (
            row["checksum"] != _schema.row_checksum(row)
        ):
            raise OracleError(
                f"The store {self.path} has a damaged answer to question "
                f"{row['question_id']} (about example {row['example_id']}): it does "
                "not match its checksum, so it was changed after it was written "
                "and is not replayed (it could apply another label than the one "
                "given). Restore the store from a copy, or set that row's status "
                "to 'revised' (e.g. with the sqlite3 tool) to ask the question "
                "again."
            )
        return row

    def find_legacy_answer(self, query):
        """An answer recorded by the first schema, matched by ids and labels.

        Rows written before fingerprints existed cannot be checked against
        the features; they are matched by ids, labels and strategy, as they
        were then. Returns ``(question_id, answer)`` or None.

        Raises
        ------
        OracleError
            When the answer does not match its checksum.
        """
        if not self.legacy or len(query.counter_examples) > 1:
            return None  # the first schema knew one counter-example at most
        row = self._execute(
            f"SELECT {self._answer_columns()} FROM questions WHERE "
            "qkey = ? AND status = 'answered' AND (strategy IS NULL OR strategy = ?)",
            (_legacy_key(query), query.strategy),
        ).fetchone()
        return (
            None if row is None else (row["question_id"], _answer(self._verified(row)))
        )

    def adopt(self, question_id, query):
        """Give a row of the first schema the key and fingerprints of ``query``.

        From then on the answer is found (and checked) like any other; its
        checksum, verified first, covers the new key.
        """
        self._check_writable(f"the fingerprints of question {question_id}")
        fingerprint, counter_fingerprint = _fingerprints(query)
        key = question_key(query)
        with self._lock:
            row = self._verified(
                self._execute(
                    f"SELECT {self._answer_columns()} FROM questions WHERE "
                    "question_id = ?",
                    (question_id,),
                ).fetchone()
            )
            fields = tuple(row[c] for c in _schema.ANSWER_FIELDS)
            self._execute(
                "UPDATE questions SET qkey = ?, x_fingerprint = ?, "
                "counter_x_fingerprint = ?, checksum = ? WHERE question_id = ?",
                (
                    key,
                    fingerprint,
                    counter_fingerprint,
                    _schema.answer_checksum(key, *fields),
                    question_id,
                ),
            )

    def records(self, status=None):
        """Every row, oldest first, as dicts (``pandas.DataFrame(...)`` works).

        The columns of :data:`_LIST_COLUMNS` hold a list per row, one entry
        per counter-example shown (empty without one), also for questions
        with a single counter-example, whose file rows leave them empty.

        Parameters
        ----------
        status : {"pending", "answered", "revised"} or None
            Keep only rows with this status.
        """
        self._ensure()
        have = self._columns["questions"]
        sql = (
            "SELECT "
            + ", ".join(c if c in have else f"NULL AS {c}" for c in _COLUMNS)
            + " FROM questions"
        )
        params = ()
        if status is not None:
            sql += " WHERE status = ?"
            params = (status,)
        out = []
        for row in self._execute(sql + " ORDER BY question_id", params).fetchall():
            rec = dict(row)
            for col in (
                "label_before",
                "counter_label_before",
                "prediction",
                "label_after",
                "counter_label_after",
            ) + _LIST_COLUMNS:
                rec[col] = _load(rec[col])
            rec["skipped"] = bool(rec["skipped"])
            if rec["counter_example_ids"] is None:
                _single_as_lists(rec)
            out.append(rec)
        return out

    @property
    def n_answered(self):
        """Number of questions with a live answer."""
        return self._execute(
            "SELECT COUNT(*) FROM questions WHERE status = 'answered'"
        ).fetchone()[0]

    def summary(self):
        """Counts for a team lead: questions by status, skips, relabels, annotators.

        Returns
        -------
        summary : dict
            ``answered`` (live answers), ``skipped`` (of those, skips),
            ``relabeled_examples`` and ``relabeled_counter_examples`` (live
            answers that changed a label), ``revised`` (answers replaced by an
            undo), ``pending`` (asked, never answered) and ``annotators``
            (live answers per annotator).

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_cincer.oracles import Answer, AnnotationStore, Query
        >>> store = AnnotationStore(":memory:")
        >>> query = Query(example_id=5, x=np.zeros(2), label=0, prediction=1,
        ...               margin=0.7, classes=np.array([0, 1]))
        >>> store.record_answer(store.record_question(query),
        ...                     Answer(label=1, annotator="ana"))
        >>> store.summary()["relabeled_examples"], store.summary()["annotators"]
        (1, {'ana': 1})
        """
        out = {
            "answered": 0,
            "skipped": 0,
            "relabeled_examples": 0,
            "relabeled_counter_examples": 0,
            "revised": 0,
            "pending": 0,
            "annotators": {},
        }
        for r in self.records():
            if r["status"] != "answered":
                out[r["status"]] += 1
                continue
            out["answered"] += 1
            out["skipped"] += r["skipped"]
            out["relabeled_examples"] += r["label_after"] != r["label_before"]
            out["relabeled_counter_examples"] += sum(
                after != before
                for before, after in zip(
                    r["counter_labels_before"], r["counter_labels_after"] or ()
                )
            )
            who = r["annotator"]
            out["annotators"][who] = out["annotators"].get(who, 0) + 1
        return out

    def to_csv(self, path_or_buf):
        """Write the audit log (:meth:`records`, every status) as CSV.

        Parameters
        ----------
        path_or_buf : str, path-like or file-like
            Where to write; a file-like object must be opened in text mode
            with ``newline=""``.
        """
        if (
            not hasattr(path_or_buf, "write")
            and self.path != ":memory:"
            and (
                os.path.exists(path_or_buf) and os.path.samefile(path_or_buf, self.path)
            )
        ):
            raise ValueError(
                f"{os.fspath(path_or_buf)} is the store itself: the "
                "audit log would overwrite it. Give another path."
            )
        rows = self.records()
        if hasattr(path_or_buf, "write"):
            self._write_csv(path_or_buf, rows)
        else:
            with open(path_or_buf, "w", newline="", encoding="utf-8") as fh:
                self._write_csv(fh, rows)

    @staticmethod
    def _write_csv(fh, rows):
        writer = csv.DictWriter(fh, fieldnames=_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {
                    k: "" if v is None else json.dumps(v) if k in _LIST_COLUMNS else v
                    for k, v in row.items()
                }
            )


def _single_as_lists(rec):
    """Fill the list columns of a row with at most one counter-example."""
    one = rec["counter_example_id"] is not None
    for col, single in (
        ("counter_example_ids", "counter_example_id"),
        ("scores", "score"),
        ("counter_labels_before", "counter_label_before"),
        ("counter_x_fingerprints", "counter_x_fingerprint"),
    ):
        rec[col] = [rec[single]] if one else []
    answered = rec["status"] != "pending"
    rec["counter_labels_after"] = (
        [rec["counter_label_after"]] if one and answered else [] if answered else None
    )


def _identity(path):
    """``(st_dev, st_ino)`` of the file at ``path``, or None (none, or memory)."""
    if path == ":memory:":
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def _check_beside(path):
    """Refuse a link where SQLite keeps a journal of the store.

    SQLite writes its journal (``-journal``, or ``-wal`` and ``-shm``) beside
    the store's real file; a link planted there would be written through.
    """
    real = os.path.realpath(path)
    for suffix in ("-journal", "-wal", "-shm"):
        beside = real + suffix
        if os.path.islink(beside):
            raise ValueError(
                f"{beside} is a link (to {os.readlink(beside)}) where SQLite keeps "
                f"the journal of the store {path}: the store is not opened, so "
                "that nothing is written through it. Remove the link."
            )


def _checksum(key, params):
    """The checksum of an answer given as :meth:`_answer_params` returns it."""
    label, counter, skipped, annotator, _, labels = params
    return _schema.answer_checksum(key, label, counter, labels, skipped, annotator)


def _answer(row):
    labels = _load(row["counter_labels_after"])
    return Answer(
        label=_load(row["label_after"]),
        counter_label=_load(row["counter_label_after"]),
        annotator=row["annotator"],
        skipped=bool(row["skipped"]),
        counter_labels=None if labels is None else tuple(labels),
    )


def _store_error(store, exc):
    """An SQLite error as an OracleError that names the store's file."""
    text = str(exc)
    if "readonly" in text or "read-only" in text:
        return OracleError(
            f"The store {store.path} cannot be written: it is read-only ({text})."
        )
    return OracleError(f"The store {store.path} failed: {text}.")
