"""Store damage and misapplied answers: each case, what happened, the count.

A first session answers every question of a small CINCER run (true labels)
into a store. Then each case damages the store or changes the run and
resumes it, with an annotator that would answer differently (so a replayed
answer is told apart from a fresh one). A case *holds* when no answer is
applied to a question it was not given for, and a refusal is clear: it
names the store's file and comes before anyone is asked.

Usage::

    python benchmarks/store_damage.py            # the cases, and the count
"""

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import warnings

import numpy as np


def _data():
    from sklearn.datasets import make_classification

    from sklearn_cincer.datasets import make_label_noise

    X, y = make_classification(
        n_samples=150, n_features=6, n_informative=4, random_state=0
    )
    y_noisy, _ = make_label_noise(y, noise_rate=0.25, random_state=0)
    return X, y, y_noisy


def _cleaner(oracle, **kw):
    from sklearn.linear_model import LogisticRegression

    from sklearn_cincer import SkepticalCleaner

    params = dict(n_bootstrap=40, random_state=0, threshold=0.1)
    params.update(kw)
    return SkepticalCleaner(LogisticRegression(), oracle=oracle, **params)


class Recorder:
    """Answers the opposite of the truth and records what it was asked."""

    def __init__(self, y):
        self.y, self.asked = y, []

    def __call__(self, query):
        from sklearn_cincer.oracles import Answer

        self.asked.append(query)
        other = [c for c in query.classes if c != self.y[query.example_id]][0]
        return Answer(label=other.item(), counter_label=query.counter_label)


def _session(oracle, path, **kw):
    from sklearn_cincer.oracles import AnnotationSession

    try:
        return AnnotationSession(oracle, path, **kw)
    except TypeError:  # an older version without on_change
        return AnnotationSession(oracle, path)


def _first(path, X, y, y_noisy, **kw):
    from sklearn_cincer import SimulatedOracle

    session = _session(SimulatedOracle(y), path)
    cleaner = _cleaner(session, **kw).fit(X, y_noisy)
    if hasattr(session, "close"):
        session.close()
    return cleaner


def _misapplied(cleaner, X_asked, X_given, first, y):
    """Replayed answers, and those applied to another question than their own.

    The first session answered the truth ``y[id]``, the resumed one's
    annotator never does: an answer in ``cleaner.history_`` with the first
    run's ids and labels and label ``y[id]`` was replayed. It is misapplied
    when the examples behind those ids differ between the two runs' data, or
    the strategy does.
    """
    given = {
        (r.example_id, r.counter_example_id, r.label_before, r.counter_label_before)
        for r in first.history_
    }
    replayed = wrong = 0
    for r in cleaner.history_:
        key = (
            r.example_id,
            r.counter_example_id,
            r.label_before,
            r.counter_label_before,
        )
        if key not in given or r.label_after != y[r.example_id]:
            continue
        replayed += 1
        same_x = np.array_equal(X_asked[r.example_id], X_given[r.example_id])
        same_c = r.counter_example_id is None or np.array_equal(
            X_asked[r.counter_example_id], X_given[r.counter_example_id]
        )
        if not (same_x and same_c) or cleaner.counter_examples != "relabel":
            wrong += 1
    return replayed, wrong


def _resume(path, X, y, y_noisy, X_given, first, **kw):
    """Resume; returns (outcome text, held)."""
    on_change = kw.pop("on_change", None)
    oracle = Recorder(y)
    extra = {} if on_change is None else {"on_change": on_change}
    try:
        session = _session(oracle, path, **extra)
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            cleaner = _cleaner(session, **kw).fit(X, y_noisy)
    except Exception as exc:
        text = str(exc).splitlines()[0]
        clear = str(path) in str(exc) and not oracle.asked
        return f"refused ({type(exc).__name__}: {text[:110]})", clear
    replayed, wrong = _misapplied(cleaner, X, X_given, first, y)
    return (
        f"ran: {replayed} of {cleaner.n_queries_} answers replayed, "
        f"{wrong} onto another question; asked {len(oracle.asked)}"
    ), wrong == 0


HOLDER = textwrap.dedent("""
    import sys, time
    import numpy as np
    from sklearn_cincer.oracles import AnnotationSession, Answer, Query
    session = AnnotationSession(lambda q: Answer(label=0), sys.argv[1])
    session(Query(example_id=1, x=np.zeros(2), label=0, prediction=1, margin=0.7,
                  classes=np.array([0, 1])))
    print("holding", flush=True)
    time.sleep(600)
""")


def cases(workdir):
    """Yield (name, outcome, held) for each case."""
    X, y, y_noisy = _data()
    base = os.path.join(workdir, "base.sqlite")
    first = _first(base, X, y, y_noisy)

    def fresh(name):
        path = os.path.join(workdir, name)
        shutil.copy(base, path)
        return path

    # the run changed
    X_row = X.copy()
    X_row[first.history_[0].example_id] += 0.5
    X_shift = np.r_[X[:60], X[61:], X[60:61]]  # one row moved: later ids shift
    y_shift = np.r_[y_noisy[:60], y_noisy[61:], y_noisy[60:61]]
    changes = [
        ("one asked-about row changed", dict(X=X_row)),
        ("a row moved (ids shift)", dict(X=X_shift, y_noisy=y_shift)),
        ("features rescaled x10", dict(X=X * 10)),
        ("counter_examples='drop' after 'relabel'", dict(counter_examples="drop")),
        ("another threshold", dict(threshold=0.3)),
        ("another random_state", dict(random_state=1)),
    ]
    for name, change in changes:
        for on_change in (None, "ask"):
            kw = dict(change)
            Xc = kw.pop("X", X)
            yc = kw.pop("y_noisy", y_noisy)
            if on_change:
                kw["on_change"] = on_change
            path = fresh(f"{len(name)}-{on_change}.sqlite")
            outcome, held = _resume(path, Xc, y, yc, X, first, **kw)
            label = name + (" (on_change='ask')" if on_change else "")
            yield label, outcome, held

    # the same run: everything replays, nothing asked
    path = fresh("same.sqlite")
    outcome, held = _resume(path, X, y, y_noisy, X, first)
    yield "the same run again", outcome, held and "replayed 0 " not in outcome

    # the file is damaged
    empty = os.path.join(workdir, "empty.sqlite")
    open(empty, "wb").close()
    yield ("a file of 0 bytes",) + _refused_clearly(empty, X, y, y_noisy)
    junk = os.path.join(workdir, "junk.sqlite")
    with open(junk, "wb") as fh:
        fh.write(os.urandom(8192))
    yield ("a file of random bytes",) + _refused_clearly(junk, X, y, y_noisy)
    half = fresh("half.sqlite")
    with open(half, "r+b") as fh:
        fh.truncate(os.path.getsize(half) // 2)
    yield ("the store cut in half",) + _refused_or_intact(half, X, y, y_noisy, first)
    other = os.path.join(workdir, "other.sqlite")
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.commit()
    conn.close()
    yield ("another application's database",) + _refused_clearly(other, X, y, y_noisy)

    # read-only: replays, refuses to record before asking
    from sklearn_cincer.oracles import AnnotationStore, OracleError

    ro = fresh("ro.sqlite")
    try:
        store = AnnotationStore(ro, read_only=True)
    except TypeError:
        os.chmod(ro, 0o444)
        store = AnnotationStore(ro)
    oracle = Recorder(y)
    try:
        cleaner = _cleaner(_session(oracle, store)).fit(X, y_noisy)
        yield (
            "a read-only store, the same run",
            f"ran: {cleaner.n_queries_} answers, asked {len(oracle.asked)}",
            not oracle.asked and cleaner.history_ == first.history_,
        )
    except Exception as exc:
        yield (
            "a read-only store, the same run",
            f"failed: {type(exc).__name__}: {str(exc)[:100]}",
            False,
        )
    oracle = Recorder(y)
    try:
        # other settings, so new questions come (on_change="ask": no refusal
        # for the change, the refusal must come from the read-only file): a
        # shorter bootstrap streams rows that were never asked about (another
        # threshold may happen to ask the same questions again)
        _cleaner(_session(oracle, store, on_change="ask"), n_bootstrap=30).fit(
            X, y_noisy
        )
        yield "a read-only store, new questions", "ran (wrote?)", False
    except (OracleError, ValueError) as exc:
        yield (
            "a read-only store, new questions",
            f"refused: {str(exc).splitlines()[0][:110]}",
            ro in str(exc) and not oracle.asked,
        )

    # two processes on one store, then the holder killed by SIGKILL
    path = fresh("busy.sqlite")
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, path], stdout=subprocess.PIPE, text=True, env=env
    )
    holder.stdout.readline()
    outcome, held = _resume(path, X, y, y_noisy, X, first)
    yield ("a second process on the store", outcome, held and "in use" in outcome)
    holder.kill()
    holder.wait()
    holder.stdout.close()
    outcome, held = _resume(path, X, y, y_noisy, X, first)
    yield "after the holder was killed (stale lock)", outcome, held and "ran" in outcome
    yield from _attacks(workdir, fresh, env, X, y, y_noisy, first)


def _attacks(workdir, fresh, env, X, y, y_noisy, first):
    """Issue 18: links, another application's tables, a changed answer."""
    # a second process through another name (a hard link) of a busy store
    path = fresh("busy2.sqlite")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, path], stdout=subprocess.PIPE, text=True, env=env
    )
    holder.stdout.readline()
    alias = os.path.join(workdir, "alias.sqlite")
    os.link(path, alias)
    outcome, held = _resume(alias, X, y, y_noisy, X, first)
    yield (
        "a second process through a hard link",
        outcome,
        held and "in use" in outcome,
    )
    holder.kill()
    holder.wait()
    holder.stdout.close()
    # a symbolic link planted where the lock file once was
    victim = os.path.join(workdir, "victim.txt")
    with open(victim, "wb") as fh:
        fh.write(b"someone else's file\n" * 100)
    path = fresh("linked.sqlite")
    os.symlink(victim, path + ".lock")
    outcome, held = _resume(path, X, y, y_noisy, X, first)
    with open(victim, "rb") as fh:
        intact = fh.read() == b"someone else's file\n" * 100
    yield (
        f"a link at the lock path (target {'intact' if intact else 'WRITTEN'})",
        outcome,
        held and intact,
    )
    # another application's database with tables named like a store's
    theirs = os.path.join(workdir, "theirs.sqlite")
    conn = sqlite3.connect(theirs)
    conn.executescript(
        "CREATE TABLE runs (run_id INTEGER PRIMARY KEY, km REAL);"
        "CREATE TABLE questions (question_id INTEGER PRIMARY KEY, text TEXT);"
        "INSERT INTO runs VALUES (1, 12.5);"
    )
    conn.commit()
    conn.close()
    yield ("another application's tables named runs and questions",) + _refused_clearly(
        theirs, X, y, y_noisy
    )
    # one byte of a stored label_after flipped
    path = fresh("flipped.sqlite")
    conn = sqlite3.connect(path)
    conn.execute(
        "UPDATE questions SET label_after = CASE label_after WHEN '0' "
        "THEN '1' ELSE '0' END WHERE question_id = (SELECT "
        "MIN(question_id) FROM questions WHERE status = 'answered')"
    )
    conn.commit()
    conn.close()
    oracle = Recorder(y)
    name = "one byte of a stored label_after flipped"
    try:
        _cleaner(_session(oracle, path)).fit(X, y_noisy)
    except Exception as exc:
        text = str(exc)
        yield (
            name,
            f"refused ({type(exc).__name__}: ..."
            f"{text[text.find('has a damaged') :][:90]})",
            path in text and "damaged answer" in text and not oracle.asked,
        )
    else:  # running on replays the other label: only a refusal holds
        yield name, "ran: the changed answer was replayed", False


def _refused_clearly(path, X, y, y_noisy):
    """A file that is no store: refused naming it, left as it was."""
    before = open(path, "rb").read()
    oracle = Recorder(y)
    try:
        _cleaner(_session(oracle, path)).fit(X, y_noisy)
    except Exception as exc:
        after = open(path, "rb").read()
        return (
            f"refused ({type(exc).__name__}: {str(exc)[:100]})",
            path in str(exc) and not oracle.asked and before == after,
        )
    return f"ran: a new store in its place, asked {len(oracle.asked)}", False


def _refused_or_intact(path, X, y, y_noisy, first):
    oracle = Recorder(y)
    try:
        cleaner = _cleaner(_session(oracle, path)).fit(X, y_noisy)
    except Exception as exc:
        return (
            f"refused ({type(exc).__name__}: {str(exc)[:100]})",
            path in str(exc) and not oracle.asked,
        )
    replayed, wrong = _misapplied(cleaner, X, X, first, y)
    return (f"ran: {replayed} replayed, {wrong} onto another question"), wrong == 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    held = total = 0
    with tempfile.TemporaryDirectory() as workdir:
        for name, outcome, ok in cases(workdir):
            total += 1
            held += bool(ok)
            print(f"{'held' if ok else 'FAILED':6}  {name}: {outcome}", flush=True)
    print(f"{held} of {total} store cases held.")
    return 0 if held == total else 1


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.exit(main())
