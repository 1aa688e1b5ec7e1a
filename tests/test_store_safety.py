"""The store knows what it recorded: fingerprints, damage, read-only, in use.

Issue 13, item 3: a question is keyed by a fingerprint of each example's
features as well as ids and labels, and each run records a fingerprint of
its data and configuration; damaged, empty, read-only, old and busy stores
fail clearly, naming the file, before a person answers.
"""

import importlib.util
import os
import pickle
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

# the same fixtures (one BLAS thread, the data) and cleaner as test_store
import test_store  # noqa: E402
from test_store import CountingOracle as Counting  # noqa: E402
from test_store import _cleaner  # noqa: E402

from sklearn_cincer import SimulatedOracle
from sklearn_cincer.oracles import (
    AnnotationSession,
    AnnotationStore,
    Answer,
    OracleError,
    Query,
)

_one_blas_thread, data = test_store._one_blas_thread, test_store.data  # fixtures


def _query(example_id=5, x=(0.0, 0.0), counter_x=(1.0, 1.0), **kw):
    params = dict(
        label=0,
        prediction=1,
        margin=0.7,
        classes=np.array([0, 1]),
        counter_example_id=2,
        counter_label=1,
        score=3.5,
        round=4,
    )
    params.update(kw)
    return Query(
        example_id=example_id, x=np.array(x), counter_x=np.array(counter_x), **params
    )


def _first_session(path, X, y, y_noisy, **kw):
    session = AnnotationSession(SimulatedOracle(y), path)
    cleaner = _cleaner(session, **kw).fit(X, y_noisy)
    assert cleaner.n_queries_ > 5
    session.close()
    return cleaner


# ----------------------------------------------------------- question keys


def test_an_answer_is_not_replayed_onto_other_features(tmp_path):
    store = AnnotationStore(tmp_path / "s.sqlite")
    q = _query()
    store.record_answer(store.record_question(q), Answer(label=1))
    assert store.find_answer(q) == Answer(label=1, counter_label=1)
    # same ids and labels, another example behind the id: not the same question
    assert store.find_answer(_query(x=(0.0, 0.5))) is None
    assert store.find_answer(_query(counter_x=(1.0, 2.0))) is None
    assert store.find_answer(_query(x=(0.0, 0.0), strategy="drop")) is None
    # the same numbers in another dtype are the same example
    same = _query(
        x=np.array([0, 0], dtype=np.int32), counter_x=np.array([1, 1], dtype=np.float32)
    )
    assert store.find_answer(same) == Answer(label=1, counter_label=1)
    row = store.records()[0]
    assert (
        len(row["x_fingerprint"]) == 64
        and row["x_fingerprint"] != (row["counter_x_fingerprint"])
    )


def test_changed_data_is_refused_naming_what_differs(tmp_path, data):
    X, y, y_noisy = data
    path = tmp_path / "s.sqlite"
    first = _first_session(path, X, y, y_noisy)
    # one asked-about row changed (same id): the old answer must not apply
    X2 = X.copy()
    X2[first.history_[0].example_id] += 1.0
    later = Counting(SimulatedOracle(y))
    with pytest.raises(OracleError, match=r"(?s)s\.sqlite.*data") as info:
        _cleaner(AnnotationSession(later, path)).fit(X2, y_noisy)
    assert "X" in str(info.value) and later.calls == []
    # rescaled features: the same refusal
    with pytest.raises(OracleError, match="data"):
        _cleaner(AnnotationSession(later, path)).fit(X * 10, y_noisy)
    # another strategy: refused, naming the parameter and both values
    with pytest.raises(OracleError, match="counter_examples.*'relabel'.*'drop'"):
        _cleaner(AnnotationSession(later, path), counter_examples="drop").fit(
            X, y_noisy
        )
    with pytest.raises(OracleError, match="threshold"):
        _cleaner(AnnotationSession(later, path), threshold=0.3).fit(X, y_noisy)
    assert later.calls == []
    assert AnnotationStore(path).n_answered == first.n_queries_  # nothing touched


def test_on_change_ask_replays_only_the_same_questions(tmp_path, data):
    X, y, y_noisy = data
    path = tmp_path / "s.sqlite"
    first = _first_session(path, X, y, y_noisy)
    # rescaled features: every question is about other numbers, none replays
    scaled = AnnotationSession(Counting(SimulatedOracle(y)), path, on_change="ask")
    again = _cleaner(scaled).fit(X * 10, y_noisy)
    assert scaled.n_replayed_ == 0 and scaled.n_asked_ == again.n_queries_
    # "drop" after "relabel": no answer given under "relabel" is replayed
    drop = AnnotationSession(Counting(SimulatedOracle(y)), path, on_change="ask")
    _cleaner(drop, counter_examples="drop").fit(X, y_noisy)
    assert drop.n_replayed_ == 0
    # one row changed: its question is asked again, the rest still replays
    X2 = X.copy()
    changed = first.history_[-1].example_id
    X2[changed] += 1e-9
    oracle = Counting(SimulatedOracle(y))
    session = AnnotationSession(oracle, path, on_change="ask")
    _cleaner(session).fit(X2, y_noisy)
    assert changed in [q.example_id for q in oracle.calls]
    assert session.n_replayed_ == first.n_queries_ - 1
    with pytest.raises(ValueError, match="on_change"):
        _cleaner(AnnotationSession(oracle, path, on_change="maybe")).fit(X, y_noisy)


def test_same_run_resumes_and_announces_the_replay(tmp_path, data, capsys):
    X, y, y_noisy = data
    path = tmp_path / "s.sqlite"
    first = _first_session(path, X, y, y_noisy)
    assert "Resumed" not in capsys.readouterr().out  # nothing was replayed
    session = AnnotationSession(Counting(SimulatedOracle(y)), path)
    second = _cleaner(session).fit(X, y_noisy)
    assert second.history_ == first.history_
    out = capsys.readouterr().out
    assert out.count("Resumed") == 1
    assert f"replayed {first.n_queries_} answers from {path}" in out


def test_partial_fit_checks_the_parameters_not_the_new_rows(tmp_path, data):
    X, y, y_noisy = data
    path = tmp_path / "s.sqlite"
    session = AnnotationSession(SimulatedOracle(y), path)
    cleaner = _cleaner(session).fit(X[:60], y_noisy[:60])
    cleaner.partial_fit(X[60:], y_noisy[60:])  # new rows: not a change
    session.close()
    other = AnnotationSession(SimulatedOracle(y), path)
    resumed = _cleaner(other).fit(X[:60], y_noisy[:60])
    resumed.partial_fit(X[60:], y_noisy[60:])
    assert other.n_asked_ == 0 and resumed.history_ == cleaner.history_


# ------------------------------------------------------------- bad files


def test_an_empty_file_is_not_silently_a_new_store(tmp_path):
    path = tmp_path / "empty.sqlite"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.sqlite.*0 bytes"):
        AnnotationStore(path)
    assert path.stat().st_size == 0  # left as it was


def test_a_file_that_is_no_store_is_refused_naming_it(tmp_path):
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(ValueError, match=r"junk\.sqlite.*not an SQLite"):
        AnnotationStore(junk)
    other = tmp_path / "other.sqlite"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(ValueError, match=r"other\.sqlite.*not an annotation store"):
        AnnotationStore(other)
    conn = sqlite3.connect(other)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert tables == {"invoices"}  # nothing added to someone else's database


def _legacy_store(path):
    """A store as the previous version wrote it: keys of ids and labels only."""
    conn = sqlite3.connect(path)
    conn.executescript("""
    CREATE TABLE runs (run_id INTEGER PRIMARY KEY AUTOINCREMENT,
                       started_at TEXT NOT NULL);
    CREATE TABLE questions (
        question_id INTEGER PRIMARY KEY AUTOINCREMENT, run_id INTEGER,
        status TEXT NOT NULL CHECK (status IN ('pending', 'answered', 'revised')),
        round INTEGER, example_id INTEGER NOT NULL, counter_example_id INTEGER,
        strategy TEXT, label_before TEXT, counter_label_before TEXT,
        prediction TEXT, margin REAL, score REAL, label_after TEXT,
        counter_label_after TEXT, skipped INTEGER NOT NULL DEFAULT 0,
        annotator TEXT, asked_at TEXT NOT NULL, answered_at TEXT,
        revises INTEGER REFERENCES questions (question_id), qkey TEXT NOT NULL);
    CREATE UNIQUE INDEX one_live_row_per_question
        ON questions (qkey) WHERE status IN ('pending', 'answered');
    INSERT INTO questions (run_id, status, round, example_id, counter_example_id,
        strategy, label_before, counter_label_before, prediction, margin,
        label_after, counter_label_after, annotator, asked_at, answered_at, qkey)
        VALUES (1, 'answered', 4, 5, 2, 'relabel', '0', '1', '1', 0.7, '1', '0',
                'ana', '2024-01-01T00:00:00', '2024-01-01T00:00:01', '[5, 2, 0, 1]');
    """)
    conn.commit()
    conn.close()


def test_a_store_of_the_previous_version_opens_and_replays(tmp_path):
    path = tmp_path / "old.sqlite"
    _legacy_store(path)
    oracle = Counting(lambda q: Answer(label=0))
    session = AnnotationSession(oracle, path)
    with pytest.warns(UserWarning, match=rf"(?s){path}.*without fingerprints"):
        assert session(_query()) == Answer(label=1, counter_label=0, annotator="ana")
    assert oracle.calls == [] and session.n_replayed_ == 1
    # from now on the answer carries the fingerprints of what was replayed
    store = AnnotationStore(path)
    (row,) = store.records()
    assert row["x_fingerprint"] is not None and row["status"] == "answered"
    assert store.find_answer(_query()) == Answer(1, 0, "ana")
    assert store.find_answer(_query(x=(3.0, 3.0))) is None


def _read_only_store(tmp_path):
    path = tmp_path / "ro.sqlite"
    store = AnnotationStore(path)
    store.record_answer(store.record_question(_query()), Answer(label=1))
    store.close()
    return path


@pytest.mark.parametrize("how", ["detected", "asked"])
def test_a_read_only_store_replays_and_refuses_new_answers_before_asking(
    tmp_path, monkeypatch, how
):
    path = _read_only_store(tmp_path)
    if how == "detected":
        # as for a file without write permission (tests run as root, who may
        # write anything: the permission check is what is simulated)
        real_access = os.access
        monkeypatch.setattr(
            os,
            "access",
            lambda p, mode, **kw: (
                False
                if mode == os.W_OK and os.fspath(p) == str(path)
                else real_access(p, mode, **kw)
            ),
        )
        store = AnnotationStore(path)
    else:
        store = AnnotationStore(path, read_only=True)
    assert store.read_only
    before = path.read_bytes()
    asked = []
    session = AnnotationSession(lambda q: asked.append(q) or Answer(label=0), store)
    assert session(_query()) == Answer(label=1, counter_label=1)  # replayed
    with pytest.raises(OracleError, match=rf"(?s){path}.*read-only") as info:
        session(_query(example_id=6))
    assert "example 6" in str(info.value)
    assert asked == []  # refused before the person was asked
    assert path.read_bytes() == before
    assert not os.path.exists(f"{path}.lock")


# ------------------------------------------------------- two processes


def _holder_script():
    """The script of benchmarks/store_damage.py that holds a store and sleeps."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "store_damage.py"
    spec = importlib.util.spec_from_file_location("store_damage", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.HOLDER


def test_two_processes_on_one_store_get_a_clear_in_use_error(tmp_path, data):
    X, y, y_noisy = data
    path = str(tmp_path / "s.sqlite")
    env = dict(
        os.environ,
        PYTHONPATH=os.getcwd(),
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", _holder_script(), path],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        oracle = Counting(SimulatedOracle(y))
        with pytest.raises(OracleError, match=rf"(?s){path}.*in use.*{holder.pid}"):
            _cleaner(AnnotationSession(oracle, path)).fit(X, y_noisy)
        assert oracle.calls == []  # refused at the start, nobody was asked
        # reading the store from here is fine while it is in use
        assert AnnotationStore(path).n_answered == 1
    finally:
        holder.kill()  # SIGKILL: no chance to clean up
        holder.wait()
        holder.stdout.close()
    # the lock of a killed process does not block resuming
    session = AnnotationSession(SimulatedOracle(y), path)
    cleaner = _cleaner(session).fit(X, y_noisy)
    assert session.n_asked_ == cleaner.n_queries_


def test_one_process_may_share_a_store_between_sessions(tmp_path, data):
    X, y, y_noisy = data
    path = tmp_path / "s.sqlite"
    session = AnnotationSession(SimulatedOracle(y), path)
    first = _cleaner(session).fit(X, y_noisy)
    clone = pickle.loads(pickle.dumps(session))  # e.g. sklearn's clone
    asked = clone.n_asked_
    again = _cleaner(clone).fit(X, y_noisy)  # the original still holds the store
    assert clone.n_asked_ == asked and again.history_ == first.history_


def test_a_dropped_session_gives_back_the_store(tmp_path):
    import gc

    from sklearn_cincer.oracles import _lockfile

    path = tmp_path / "s.sqlite"
    session = AnnotationSession(lambda q: Answer(label=0), path)
    session(_query())
    identity = (path.stat().st_dev, path.stat().st_ino)  # the file's own
    assert identity in _lockfile._HELD
    del session
    gc.collect()
    assert identity not in _lockfile._HELD


# ------------------------------------------- links and foreign files (issue 18)


def _files_beside(path):
    """The names in the store's folder that start with its name."""
    return sorted(
        p.name
        for p in Path(path).parent.iterdir()
        if p.name.startswith(Path(path).name)
    )


@pytest.mark.parametrize("link", ["symbolic", "hard"])
def test_a_link_planted_at_the_old_lock_path_is_never_written(tmp_path, link):
    # the store once kept its lock in STORE.lock: a link planted there made a
    # session truncate and overwrite the file it points to
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"someone else's file\n" * 50)
    path = tmp_path / "s.sqlite"
    if link == "symbolic":
        os.symlink(victim, f"{path}.lock")
    else:
        os.link(victim, f"{path}.lock")
    session = AnnotationSession(lambda q: Answer(label=1), path)
    assert session(_query()).label == 1
    session.close()
    assert victim.read_bytes() == b"someone else's file\n" * 50
    assert AnnotationStore(path).n_answered == 1


def _hold_in_another_process(path):
    env = dict(
        os.environ,
        PYTHONPATH=os.getcwd(),
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", _holder_script(), str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert holder.stdout.readline().strip() == "holding"
    return holder


@pytest.mark.parametrize("link", ["symbolic", "hard"])
def test_two_names_of_one_store_still_exclude_each_other(tmp_path, link):
    path = tmp_path / "s.sqlite"
    other = tmp_path / "other-name.sqlite"
    holder = _hold_in_another_process(path)
    try:
        (os.symlink if link == "symbolic" else os.link)(path, other)
        asked = []
        session = AnnotationSession(lambda q: asked.append(q) or Answer(label=0), other)
        with pytest.raises(OracleError, match=rf"(?s){other}.*in use.*{holder.pid}"):
            session(_query(example_id=7))
        assert asked == []
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    # the holder is gone: the other name may write now
    session = AnnotationSession(lambda q: Answer(label=0), other)
    session(_query(example_id=7))
    session.close()
    assert AnnotationStore(path).n_answered == 2  # one file, both answers


def _foreign_database(path, journal_mode="delete", application_id=0):
    """Another application's database that has tables named like a store's."""
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA journal_mode = {journal_mode}")
    conn.execute(f"PRAGMA application_id = {application_id}")
    conn.executescript("""
        CREATE TABLE runs (run_id INTEGER PRIMARY KEY, started_at TEXT NOT NULL,
                           athlete TEXT, km REAL);
        CREATE TABLE questions (question_id INTEGER PRIMARY KEY, text TEXT,
                                qkey TEXT);
        INSERT INTO runs VALUES (1, '2024-05-01', 'ana', 12.5);
        INSERT INTO questions VALUES (1, 'Why?', 'k');
        PRAGMA user_version = 7;
    """)
    conn.commit()
    conn.close()


@pytest.mark.parametrize(
    "kind",
    [
        "runs and questions",
        "WAL mode",
        "other application id",
        "exact schema, extra table",
        "no tables",
    ],
)
def test_another_applications_database_is_refused_untouched(tmp_path, kind):
    from sklearn_cincer.oracles import _store

    path = tmp_path / "theirs.db"
    if kind == "runs and questions":
        _foreign_database(path)
    elif kind == "WAL mode":
        _foreign_database(path, journal_mode="wal")
    elif kind == "no tables":
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA user_version = 1")  # a file, with no table yet
        conn.close()
    else:
        # a store's exact tables, under another application's id, or beside
        # a table of its own: not ours either
        conn = sqlite3.connect(path)
        conn.executescript(_store._SCHEMA)
        if kind == "other application id":
            conn.execute("PRAGMA application_id = 1234")
        else:
            conn.execute("CREATE TABLE invoices (id INTEGER)")
        conn.execute("PRAGMA user_version = 3")
        conn.commit()
        conn.close()
    before, names = path.read_bytes(), _files_beside(path)
    for read_only in (None, True):
        with pytest.raises(ValueError, match=rf"{path}.*not an annotation store"):
            AnnotationStore(path, read_only=read_only)
    with pytest.raises(ValueError, match="left as it was"):
        AnnotationSession(lambda q: Answer(label=0), path)
    assert path.read_bytes() == before  # byte for byte
    assert _files_beside(path) == names  # no -journal, -wal or -shm made


def test_a_dangling_link_does_not_become_a_store(tmp_path):
    target = tmp_path / "elsewhere" / "made.sqlite"
    (tmp_path / "elsewhere").mkdir()
    path = tmp_path / "s.sqlite"
    os.symlink(target, path)
    with pytest.raises(ValueError, match=rf"{path} is a link to {target}"):
        AnnotationStore(path)
    assert not target.exists()


def test_a_store_through_a_link_to_it_is_the_same_store(tmp_path):
    path = tmp_path / "s.sqlite"
    store = AnnotationStore(path)
    store.record_answer(store.record_question(_query()), Answer(label=1))
    store.close()
    os.symlink(path, tmp_path / "link.sqlite")
    assert AnnotationStore(tmp_path / "link.sqlite").find_answer(_query()) == (
        Answer(label=1, counter_label=1)
    )


def _marker(path):
    from sklearn_cincer.oracles import _schema

    conn = sqlite3.connect(path)
    try:
        app = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        info = (
            dict(conn.execute(f"SELECT key, value FROM {_schema.INFO_TABLE}"))
            if app
            else {}
        )
    finally:
        conn.close()
    return app == _schema.APPLICATION_ID, version, info.get("format")


def test_a_new_store_carries_its_marker(tmp_path):
    path = tmp_path / "s.sqlite"
    AnnotationStore(path).close()
    from sklearn_cincer.oracles import _store

    assert _marker(path) == (
        True,
        _store._SCHEMA_VERSION,
        "sklearn-cincer annotation store",
    )


def test_an_earlier_store_read_only_is_left_as_it_was_then_upgraded(tmp_path):
    path = tmp_path / "old.sqlite"
    _legacy_store(path)
    before = path.read_bytes()
    reader = AnnotationStore(path, read_only=True)
    assert reader.records()[0]["label_after"] == 1
    reader.close()
    assert path.read_bytes() == before and _marker(path)[0] is False
    with pytest.warns(UserWarning, match=rf"{path}.*checksum: its answer was given"):
        store = AnnotationStore(path)
    store.close()
    assert _marker(path)[0] is True
    # the upgraded answer replays (by ids and labels, as the first schema did)
    session = AnnotationSession(lambda q: Answer(label=0), path)
    with pytest.warns(UserWarning, match="without fingerprints"):
        assert session(_query()).label == 1
    assert session.n_replayed_ == 1


def test_a_version_3_store_is_upgraded_and_replays(tmp_path):
    from sklearn_cincer.oracles import _store
    from sklearn_cincer.oracles._store import question_key

    path = tmp_path / "v3.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(_store._SCHEMA)
    conn.execute("PRAGMA user_version = 3")
    key = question_key(_query())
    conn.execute(
        "INSERT INTO questions (status, example_id, counter_example_id, "
        "label_before, counter_label_before, label_after, counter_label_after, "
        "annotator, asked_at, qkey, x_fingerprint) VALUES ('answered', 5, 2, '0', "
        "'1', '1', '0', 'ana', 't', ?, 'f')",
        (key,),
    )
    conn.commit()
    conn.close()
    with pytest.warns(UserWarning, match="checksum"):
        store = AnnotationStore(path)
    assert store.find_answer(_query()) == Answer(
        label=1, counter_label=0, annotator="ana"
    )
    assert _marker(path)[:2] == (True, _store._SCHEMA_VERSION)


# ------------------------------------------------------ checksums (issue 18)


def _tamper(path, sql, params=()):
    conn = sqlite3.connect(path)
    conn.execute(sql, params)
    conn.commit()
    conn.close()


@pytest.mark.parametrize(
    "column, value",
    [
        ("label_after", "0"),
        ("counter_label_after", "0"),
        ("skipped", 1),
        ("annotator", "mallory"),
        ("checksum", None),
    ],
)
def test_a_changed_answer_is_refused_not_replayed(tmp_path, column, value):
    path = tmp_path / "s.sqlite"
    store = AnnotationStore(path)
    qid = store.record_question(_query())
    store.record_answer(qid, Answer(label=1, annotator="ana"))
    store.close()
    _tamper(path, f"UPDATE questions SET {column} = ?", (value,))
    asked = []
    session = AnnotationSession(lambda q: asked.append(q) or Answer(label=1), path)
    with pytest.raises(
        OracleError,
        match=rf"(?s){path}.*damaged answer to "
        rf"question {qid} \(about example 5\).*checksum",
    ):
        session(_query())
    assert asked == [] and session.n_replayed_ == 0  # never a silent replay


def test_one_flipped_byte_in_the_file_is_found(tmp_path):
    path = tmp_path / "s.sqlite"
    store = AnnotationStore(path)
    store.record_answer(
        store.record_question(
            _query(label="cat", counter_label="cat", classes=("cat", "cow"))
        ),
        Answer(label="cow"),
    )
    store.close()
    data = bytearray(path.read_bytes())
    where = data.index(b'"cow"')  # label_after, as the file holds it
    data[where + 3] = ord("t")  # "cow" -> "cot": one byte
    path.write_bytes(bytes(data))
    with pytest.raises(OracleError, match="damaged answer to question 1"):
        AnnotationStore(path).find_answer(
            _query(label="cat", counter_label="cat", classes=("cat", "cow"))
        )


def test_a_revision_and_an_adopted_answer_carry_checksums(tmp_path):
    path = tmp_path / "s.sqlite"
    store = AnnotationStore(path)
    store.record_answer(store.record_question(_query()), Answer(label=1))
    new = store.record_revision(_query(), Answer(label=0, counter_label=0))
    assert store.find_answer(_query()) == Answer(label=0, counter_label=0)
    _tamper(
        path, "UPDATE questions SET label_after = '1' WHERE question_id = ?", (new,)
    )
    with pytest.raises(OracleError, match=f"question {new}"):
        store.find_answer(_query())
    # a first-schema row: tampered before it is adopted, it is refused too
    old = tmp_path / "old.sqlite"
    _legacy_store(old)
    with pytest.warns(UserWarning, match="checksum"):
        AnnotationStore(old).close()
    _tamper(old, "UPDATE questions SET label_after = '0'")
    session = AnnotationSession(lambda q: Answer(label=1), old)
    with pytest.raises(OracleError, match="damaged answer to question 1"):
        session(_query())


def test_a_link_where_sqlite_keeps_its_journal_is_refused(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"keep me\n")
    path = tmp_path / "s.sqlite"
    AnnotationStore(path).close()
    os.symlink(victim, f"{path}-journal")
    with pytest.raises(ValueError, match=rf"{path}-journal is a link.*Remove"):
        AnnotationStore(path)
    assert victim.read_bytes() == b"keep me\n"


def test_the_audit_log_never_overwrites_its_store(tmp_path):
    path = tmp_path / "s.sqlite"
    store = AnnotationStore(path)
    store.record_answer(store.record_question(_query()), Answer(label=1))
    before = path.read_bytes()
    os.link(path, tmp_path / "same.sqlite")
    for target in (path, tmp_path / "same.sqlite"):
        with pytest.raises(ValueError, match="is the store itself"):
            store.to_csv(target)
    assert path.read_bytes() == before and store.n_answered == 1


def test_the_command_refuses_a_foreign_store_in_one_line(tmp_path, capsys):
    from sklearn_cincer._cli import main

    data = tmp_path / "data.csv"
    rows = ["a,b,label"] + [f"{i % 7},{i % 3},{i % 2}" for i in range(40)]
    data.write_text("\n".join(rows) + "\n")
    theirs = tmp_path / "theirs.db"
    _foreign_database(theirs)
    before = theirs.read_bytes()
    out = tmp_path / "out.csv"
    code = main(
        [
            "clean",
            str(data),
            "--label",
            "label",
            "--oracle",
            "terminal",
            "--store",
            str(theirs),
            "--output",
            str(out),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1
    assert f"error: {theirs} is an SQLite database but not an annotation" in err
    assert theirs.read_bytes() == before and not out.exists()


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_an_answer_is_not_saved_into_a_store_removed_while_asking(tmp_path, how):
    path = tmp_path / "s.sqlite"

    def oracle(query):  # the store goes away while the person looks
        os.replace(path, tmp_path / "moved.sqlite")
        if how == "replaced":
            AnnotationStore(path).close()  # another, empty store at its path
        return Answer(label=1)

    session = AnnotationSession(oracle, path)
    with pytest.raises(OracleError, match=rf"{path} was deleted, moved or replaced"):
        session(_query())
    # the question was recorded, its answer was refused, not lost in a ghost
    (row,) = AnnotationStore(tmp_path / "moved.sqlite").records()
    assert row["status"] == "pending"
