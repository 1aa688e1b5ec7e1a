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

from sklearn_cincer import SimulatedOracle
from sklearn_cincer.oracles import (
    AnnotationSession,
    AnnotationStore,
    Answer,
    OracleError,
    Query,
)

# the same fixtures (one BLAS thread, the data) and cleaner as test_store
import test_store  # noqa: E402
from test_store import CountingOracle as Counting  # noqa: E402
from test_store import _cleaner  # noqa: E402

_one_blas_thread, data = test_store._one_blas_thread, test_store.data  # fixtures


def _query(example_id=5, x=(0.0, 0.0), counter_x=(1.0, 1.0), **kw):
    params = dict(label=0, prediction=1, margin=0.7, classes=np.array([0, 1]),
                  counter_example_id=2, counter_label=1, score=3.5, round=4)
    params.update(kw)
    return Query(example_id=example_id, x=np.array(x), counter_x=np.array(counter_x),
                 **params)


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
    same = _query(x=np.array([0, 0], dtype=np.int32),
                  counter_x=np.array([1, 1], dtype=np.float32))
    assert store.find_answer(same) == Answer(label=1, counter_label=1)
    row = store.records()[0]
    assert len(row["x_fingerprint"]) == 64 and row["x_fingerprint"] != (
        row["counter_x_fingerprint"])


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
        _cleaner(AnnotationSession(later, path),
                 counter_examples="drop").fit(X, y_noisy)
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
        assert session(_query()) == Answer(label=1, counter_label=0,
                                           annotator="ana")
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
        tmp_path, monkeypatch, how):
    path = _read_only_store(tmp_path)
    if how == "detected":
        # as for a file without write permission (tests run as root, who may
        # write anything: the permission check is what is simulated)
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, **kw: (
            False if mode == os.W_OK and os.fspath(p) == str(path)
            else real_access(p, mode, **kw)))
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
    env = dict(os.environ, PYTHONPATH=os.getcwd(), OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1")
    holder = subprocess.Popen([sys.executable, "-c", _holder_script(), path],
                              stdout=subprocess.PIPE, text=True, env=env)
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
