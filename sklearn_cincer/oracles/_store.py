"""A durable record of a labeling session: SQLite store and resuming wrapper."""

import csv
import datetime
import json
import os
import sqlite3
import threading

from ._base import Answer, OracleError, checked_answer, plain

_COLUMNS = (
    "question_id", "run_id", "status", "round", "example_id",
    "counter_example_id", "strategy", "label_before", "counter_label_before",
    "prediction", "margin", "score", "label_after", "counter_label_after",
    "skipped", "annotator", "asked_at", "answered_at", "revises",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS questions (
    question_id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER,
    status TEXT NOT NULL CHECK (status IN ('pending', 'answered', 'revised')),
    round INTEGER,
    example_id INTEGER NOT NULL,
    counter_example_id INTEGER,
    strategy TEXT,
    label_before TEXT,
    counter_label_before TEXT,
    prediction TEXT,
    margin REAL,
    score REAL,
    label_after TEXT,
    counter_label_after TEXT,
    skipped INTEGER NOT NULL DEFAULT 0,
    annotator TEXT,
    asked_at TEXT NOT NULL,
    answered_at TEXT,
    revises INTEGER REFERENCES questions (question_id),
    qkey TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS one_live_row_per_question
    ON questions (qkey) WHERE status IN ('pending', 'answered');
"""


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(
        timespec="milliseconds")



def _question_params(run_id, query, key):
    """The columns of a question, from ``run_id`` to ``qkey``, as stored."""
    return (
        run_id, int(query.round), int(query.example_id),
        None if query.counter_example_id is None else int(query.counter_example_id),
        query.strategy, _dump(query.label), _dump(query.counter_label),
        _dump(query.prediction), float(query.margin),
        None if query.score is None else float(query.score),
        _now(), key,
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
    """What makes two queries the same question: the pair and their labels."""
    return json.dumps([
        int(query.example_id),
        None if query.counter_example_id is None else int(query.counter_example_id),
        plain(query.label),
        plain(query.counter_label),
    ])


class AnnotationStore:
    """Every question asked and every answer given, in a SQLite file.

    Each write is its own committed transaction, made as it happens: a
    question is written before the person sees it (status ``"pending"``) and
    its answer as soon as it is given (``"answered"``). A revised answer (the
    "undo" of the human oracles) marks the earlier one ``"revised"`` and adds
    a new row that points to it (``revises``), so the audit log keeps both. At
    most one live row (pending or answered) exists per question: that is
    enforced by a unique index, so no answer can be recorded twice.

    The store is safe to use from several threads of one process; the SQLite
    file survives the process being killed at any moment (SQLite's journal
    rolls back a half-written transaction).

    Parameters
    ----------
    path : str or path-like
        The SQLite file; created when missing, reopened (and added to) when
        it exists. ``":memory:"`` keeps a store in memory only.

    Attributes
    ----------
    path : str
        The file.

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

    def __init__(self, path):
        self.path = os.fspath(path)
        self._lock = threading.RLock()
        self._conn = None
        self._connect()

    def _connect(self):
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                               check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA synchronous = FULL")
        conn.executescript(_SCHEMA)
        self._conn = conn

    def __getstate__(self):
        if self.path == ":memory:":
            raise TypeError("An in-memory AnnotationStore cannot be pickled; "
                            "give it a file path.")
        return {"path": self.path}

    def __setstate__(self, state):
        self.path = state["path"]
        self._lock = threading.RLock()
        self._conn = None
        self._connect()

    def __repr__(self):
        return f"AnnotationStore({self.path!r})"

    def close(self):
        """Close the connection (a closed store reopens on the next use)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _execute(self, sql, params=()):
        with self._lock:
            if self._conn is None:
                self._connect()
            return self._conn.execute(sql, params)

    def _transaction(self, statements):
        """Run ``[(sql, params), ...]`` atomically; the last cursor is returned."""
        with self._lock:
            if self._conn is None:
                self._connect()
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                cur = None
                for sql, params in statements:
                    cur = conn.execute(sql, params)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return cur

    # ------------------------------------------------------------ writing

    def start_run(self):
        """Note that a (re)run of the session started; returns its id."""
        cur = self._execute("INSERT INTO runs (started_at) VALUES (?)", (_now(),))
        return cur.lastrowid

    def record_question(self, query, run_id=None):
        """Write a question before it is shown; returns its ``question_id``.

        A question already pending (asked, never answered: the process died
        while the person was looking at it) keeps its row.
        """
        key = question_key(query)
        with self._lock:
            row = self._execute(
                "SELECT question_id FROM questions WHERE qkey = ? AND status = "
                "'pending'", (key,)).fetchone()
            if row is not None:
                return row["question_id"]
            cur = self._execute(
                "INSERT INTO questions (run_id, status, round, example_id, "
                "counter_example_id, strategy, label_before, counter_label_before, "
                "prediction, margin, score, asked_at, qkey) VALUES "
                "(?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                _question_params(run_id, query, key))
            return cur.lastrowid

    def record_answer(self, question_id, answer):
        """Write the answer to a pending question."""
        cur = self._execute(
            "UPDATE questions SET status = 'answered', label_after = ?, "
            "counter_label_after = COALESCE(?, counter_label_before), skipped = ?, "
            "annotator = ?, answered_at = ? "
            "WHERE question_id = ? AND status = 'pending'",
            self._answer_params(answer) + (question_id,))
        if cur.rowcount != 1:
            raise OracleError(
                f"Question {question_id} is not pending in {self!r}: it was "
                "answered already or never asked."
            )

    @staticmethod
    def _answer_params(answer, counter_default=None):
        counter = answer.counter_label
        if counter is None:
            counter = counter_default
        return (_dump(answer.label), None if counter is None else _dump(counter),
                int(bool(getattr(answer, "skipped", False))), answer.annotator,
                _now())

    def record_revision(self, query, answer, run_id=None):
        """Replace the answer to ``query`` by ``answer`` (an "undo").

        The earlier answer stays in the log with status ``"revised"``; the new
        one is the one :meth:`find_answer` returns from now on. Returns the new
        row's ``question_id``.
        """
        key = question_key(query)
        with self._lock:
            old = self._execute(
                "SELECT question_id FROM questions WHERE qkey = ? AND status IN "
                "('pending', 'answered')", (key,)).fetchone()
            statements = []
            revises = None
            if old is not None:
                revises = old["question_id"]
                statements.append((
                    "UPDATE questions SET status = 'revised' WHERE question_id = ?",
                    (revises,)))
            statements.append((
                "INSERT INTO questions (run_id, status, round, example_id, "
                "counter_example_id, strategy, label_before, counter_label_before, "
                "prediction, margin, score, asked_at, qkey, revises, label_after, "
                "counter_label_after, skipped, annotator, answered_at) VALUES "
                "(?, 'answered', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                _question_params(run_id, query, key) + (revises,)
                + self._answer_params(answer, query.counter_label)))
            return self._transaction(statements).lastrowid

    # ------------------------------------------------------------ reading

    def find_answer(self, query):
        """The recorded answer to this question, or None.

        The same question means the same example and counter-example with the
        same current labels.
        """
        row = self._execute(
            "SELECT label_after, counter_label_after, annotator, skipped FROM "
            "questions WHERE qkey = ? AND status = 'answered'",
            (question_key(query),)).fetchone()
        if row is None:
            return None
        return Answer(label=_load(row["label_after"]),
                      counter_label=_load(row["counter_label_after"]),
                      annotator=row["annotator"], skipped=bool(row["skipped"]))

    def records(self, status=None):
        """Every row, oldest first, as dicts (``pandas.DataFrame(...)`` works).

        Parameters
        ----------
        status : {"pending", "answered", "revised"} or None
            Keep only rows with this status.
        """
        sql = f"SELECT {', '.join(_COLUMNS)} FROM questions"
        params = ()
        if status is not None:
            sql += " WHERE status = ?"
            params = (status,)
        out = []
        for row in self._execute(sql + " ORDER BY question_id", params).fetchall():
            rec = dict(row)
            for col in ("label_before", "counter_label_before", "prediction",
                        "label_after", "counter_label_after"):
                rec[col] = _load(rec[col])
            rec["skipped"] = bool(rec["skipped"])
            out.append(rec)
        return out

    @property
    def n_answered(self):
        """Number of questions with a live answer."""
        return self._execute(
            "SELECT COUNT(*) FROM questions WHERE status = 'answered'").fetchone()[0]

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
        out = {"answered": 0, "skipped": 0, "relabeled_examples": 0,
               "relabeled_counter_examples": 0, "revised": 0, "pending": 0,
               "annotators": {}}
        for r in self.records():
            if r["status"] != "answered":
                out[r["status"]] += 1
                continue
            out["answered"] += 1
            out["skipped"] += r["skipped"]
            out["relabeled_examples"] += r["label_after"] != r["label_before"]
            out["relabeled_counter_examples"] += (
                r["counter_example_id"] is not None
                and r["counter_label_after"] != r["counter_label_before"])
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
            writer.writerow({k: "" if v is None else v for k, v in row.items()})


class AnnotationSession:
    """An oracle that records every answer in a store and replays them on resume.

    Wrap the oracle that answers (a person behind a
    :class:`~sklearn_cincer.oracles.BrowserOracle` or
    :class:`~sklearn_cincer.oracles.TerminalOracle`, or any callable) and
    give the wrapper to :class:`~sklearn_cincer.SkepticalCleaner` as its
    ``oracle``. For each query it first looks in the store: a question
    already answered (the same example and counter-example, with the same
    current labels) gets its recorded answer back without asking again.
    Otherwise the question is written to the store, asked, and its answer is
    written as soon as it comes.

    **Resuming.** The cleaner is deterministic given its data, parameters and
    ``random_state``, and its answers. After a crash (or a deliberate stop),
    run the same ``fit`` again with a session on the same store: it replays
    the recorded answers, in order, so the cleaner retraces the same rounds
    and reaches the first unanswered question, where the person takes over.
    Every recorded answer is applied exactly once in the new run; nothing
    answered is asked again.

    **Undo.** When the wrapped oracle lets the person revise the last answer
    (both human oracles do), the revision is written to the store at once,
    replacing the earlier answer. The running cleaner has already applied
    the earlier answer and moved on; it cannot take it back. The revision
    takes effect when the session is run again: :attr:`n_revisions_` counts
    them, and :attr:`needs_rerun_` says whether the current fit used an answer
    that was later revised.

    Parameters
    ----------
    oracle : callable
        ``oracle(query) -> Answer``: who answers the questions not in the
        store.
    store : AnnotationStore, str or path-like
        The store, or the path of its SQLite file.

    Attributes
    ----------
    n_replayed_ : int
        Questions answered from the store since this object was made.
    n_asked_ : int
        Questions passed on to ``oracle``.
    n_revisions_ : int
        Revisions (undos) recorded.
    needs_rerun_ : bool
        True when a revision was recorded after its question was answered in
        this run.

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
    >>> again.n_asked_, again.n_replayed_ == first.n_queries_
    (0, True)
    >>> bool((second.y_ == first.y_).all())
    True
    """

    def __init__(self, oracle, store):
        if not callable(oracle):
            raise TypeError(
                f"oracle must be a callable oracle(query) -> Answer, got "
                f"{type(oracle).__name__}."
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
        self.n_replayed_ = 0
        self.n_asked_ = 0
        self.n_revisions_ = 0
        self.needs_rerun_ = False
        self._run_id = None
        self._answered_keys = set()

    def __repr__(self):
        return f"AnnotationSession(oracle={self.oracle!r}, store={self.store!r})"

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_answered_keys"] = set()
        return state

    def _listen(self):
        register = getattr(self.oracle, "add_revision_listener", None)
        if register is not None:
            register(self._on_revision)

    def _on_revision(self, query, answer):
        self.store.record_revision(query, answer, run_id=self._run_id)
        self.n_revisions_ += 1
        if question_key(query) in self._answered_keys:
            self.needs_rerun_ = True

    def __call__(self, query):
        if self._run_id is None:
            self._run_id = self.store.start_run()
        self._listen()
        key = question_key(query)
        stored = self.store.find_answer(query)
        if stored is not None:
            self.n_replayed_ += 1
            self._answered_keys.add(key)
            return stored
        question_id = self.store.record_question(query, run_id=self._run_id)
        self.n_asked_ += 1
        answer = self.oracle(query)
        try:
            answer = checked_answer(answer, query)  # the class values themselves
        except OracleError:
            return answer  # the cleaner raises the same error; nothing recorded
        self.store.record_answer(question_id, answer)
        self._answered_keys.add(key)
        return answer
