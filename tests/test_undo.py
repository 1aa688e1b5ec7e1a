"""An undo applies in the run where it is made; what an oracle does to its
query is never recorded; overlapping fits on one cleaner are refused."""

import io
import pickle
import threading

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from sklearn_cincer import SimulatedOracle, SkepticalCleaner
from sklearn_cincer.datasets import make_label_noise
from sklearn_cincer.oracles import (
    AnnotationSession,
    AnnotationStore,
    Answer,
    OracleError,
    TerminalOracle,
)


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(n_samples=120, n_features=5, random_state=1)
    y_noisy, _ = make_label_noise(y, noise_rate=0.25, random_state=1)
    return X, y, y_noisy


def _cleaner(oracle, **kw):
    params = dict(n_bootstrap=40, random_state=0, threshold=0.1)
    params.update(kw)
    return SkepticalCleaner(LogisticRegression(), oracle=oracle, **params)


def _keep(query, annotator="keeper"):
    """The answer that keeps every label the question shows."""
    labels = tuple(ce.label for ce in query.counter_examples)
    return Answer(
        label=query.label,
        counter_label=labels[0] if labels else None,
        counter_labels=labels if len(labels) > 1 else None,
        annotator=annotator,
    )


def _flip(query, classes):
    """The answer that changes every label the question shows."""
    other = {c: [d for d in classes if d != c][0] for c in classes}
    labels = tuple(other[ce.label] for ce in query.counter_examples)
    return Answer(
        label=other[query.label],
        counter_label=labels[0] if labels else None,
        counter_labels=labels if len(labels) > 1 else None,
        annotator="hasty",
    )


class UndoingOracle:
    """A person who keeps every label, except that question ``wrong`` is
    answered by flipping every label and revised (to keep them) while
    question ``wrong + 1`` is asked; ``at_end`` revises it when the fit says
    it has no more questions instead."""

    def __init__(self, wrong=1, at_end=False, revision=_keep):
        self.wrong, self.at_end, self.revision = wrong, at_end, revision
        self.listeners, self.n, self.revised = [], 0, None

    def add_revision_listener(self, listener):
        if listener not in self.listeners:  # a session adds its own at each call
            self.listeners.append(listener)

    def remove_revision_listener(self, listener):
        self.listeners.remove(listener)

    def _revise(self):
        query = self.revised
        if query is not None:
            self.revised = None
            for listener in list(self.listeners):
                listener(query, self.revision(query))

    def end_of_questions(self):
        if self.at_end:
            self._revise()

    def __call__(self, query):
        self.n += 1
        if self.n == self.wrong + 1 and not self.at_end:
            self._revise()
        if self.n == self.wrong:
            self.revised = query
            return _flip(query, query.classes.tolist())
        return _keep(query)


def _keep_everything(query):
    return _keep(query)


@pytest.mark.parametrize("strategy", ["relabel", "drop", "none"])
@pytest.mark.parametrize("m", [1, 2])
def test_a_revision_applies_in_the_run(data, strategy, m):
    X, _, y_noisy = data
    kw = dict(counter_examples=strategy, n_counter_examples=m)
    reference = _cleaner(_keep_everything, **kw).fit(X, y_noisy)
    cleaner = _cleaner(UndoingOracle(), **kw).fit(X, y_noisy)
    first = cleaner.history_[0]
    # the first question is asked before any answer: the same in both runs
    assert first.example_id == reference.history_[0].example_id
    assert first.label_after == first.label_before
    assert first.revised_round == cleaner.history_[1].round + 1
    assert first.annotator == "keeper" and not first.skipped
    assert cleaner.n_revised_ == 1
    # every label is the one given, as if the hasty answer never was
    np.testing.assert_array_equal(cleaner.y_cleaned_, y_noisy)
    np.testing.assert_array_equal(cleaner.y_, y_noisy[cleaner.ids_])
    assert len(cleaner.label_changes()) == (
        sum(len(r.counter_example_ids) for r in cleaner.history_ if r.dropped)
    )
    if strategy == "drop":
        # keeping the example's label drops every counter-example shown
        assert first.dropped and first.counter_labels_after == (None,) * len(
            first.counter_example_ids
        )
        assert not np.isin(first.counter_example_ids, cleaner.ids_).any()
    else:
        assert first.counter_labels_after == first.counter_labels_before
        assert not first.dropped
    # the model was refit on the restored labels: after the revision the run
    # is the keep-everything run (refit="scratch" starts from the same state)
    np.testing.assert_allclose(cleaner.predict_proba(X), reference.predict_proba(X))


class KeepThenRelabel(UndoingOracle):
    """Keeps the labels of question 1, then revises it to flip them all."""

    def __call__(self, query):
        self.n += 1
        if self.n == 2:
            self._revise()
        if self.n == 1:
            self.revised = query
        return _keep(query)


def test_a_revision_to_another_label_brings_dropped_examples_back(data):
    X, _, y_noisy = data
    oracle = KeepThenRelabel(revision=lambda q: _flip(q, q.classes.tolist()))
    cleaner = _cleaner(oracle, counter_examples="drop", n_counter_examples=2).fit(
        X, y_noisy
    )
    record = cleaner.history_[0]
    # the first answer kept the label and dropped the counter-examples; the
    # revision relabels the example, so they come back into the training set
    assert record.revised_round is not None and not record.dropped
    assert record.label_after == 1 - record.label_before
    assert record.annotator == "hasty"
    assert cleaner.y_cleaned_[record.example_id] == record.label_after
    for ce_id in record.counter_example_ids:  # back, unless a later question dropped it
        assert ce_id in cleaner.ids_ or any(
            r.dropped and ce_id in r.counter_example_ids for r in cleaner.history_[1:]
        )
    assert record.counter_labels_after == record.counter_labels_before
    changes = cleaner.label_changes()
    assert changes.iloc[0][["example_id", "change", "label_after"]].tolist() == [
        record.example_id,
        "relabeled",
        record.label_after,
    ]
    assert cleaner.n_dropped_ == sum(
        len(r.counter_example_ids) for r in cleaner.history_ if r.dropped
    )


def test_the_last_answer_of_a_fit_can_be_revised(data):
    X, _, y_noisy = data
    n = _cleaner(_keep_everything).fit(X, y_noisy).n_queries_
    cleaner = _cleaner(UndoingOracle(wrong=n, at_end=True)).fit(X, y_noisy)
    last = cleaner.history_[-1]
    # applied at the end of the call: the round after its last (80 streamed)
    assert last.revised_round == X.shape[0] - 40 + 1
    assert last.label_after == last.label_before
    np.testing.assert_array_equal(cleaner.y_cleaned_, y_noisy)


def test_partial_fit_applies_a_revision_of_the_previous_call(data):
    X, _, y_noisy = data
    n_first = _cleaner(_keep_everything).fit(X[:70], y_noisy[:70]).n_queries_
    # the last answer of the first call is wrong; revised in the second call,
    # while its first question is asked
    oracle = UndoingOracle(wrong=n_first, at_end=True)
    oracle.end_of_questions = lambda: None
    cleaner = _cleaner(oracle)
    cleaner.fit(X[:70], y_noisy[:70])
    wrong = cleaner.history_[n_first - 1]
    assert wrong.label_after != wrong.label_before and wrong.revised_round is None
    oracle.at_end, oracle.wrong = False, oracle.n
    cleaner.partial_fit(X[70:], y_noisy[70:])
    revised = cleaner.history_[n_first - 1]
    assert revised.example_id == wrong.example_id
    assert revised.label_after == revised.label_before
    assert revised.revised_round > 70 - 40
    np.testing.assert_array_equal(cleaner.y_cleaned_, y_noisy)


def test_a_revision_outside_the_classes_fails_the_fit_cleanly(data):
    X, _, y_noisy = data
    oracle = UndoingOracle(revision=lambda q: Answer(label=7))
    cleaner = _cleaner(oracle)
    with pytest.raises(OracleError, match="revised answer cannot be applied.*7"):
        cleaner.fit(X, y_noisy)
    assert not hasattr(cleaner, "history_")
    assert oracle.listeners == []  # the cleaner stopped listening


def test_a_revision_of_a_question_never_asked_is_refused(data):
    from dataclasses import replace

    X, _, y_noisy = data
    oracle = UndoingOracle()
    # the revision names an example the cleaner never asked about, on a copy
    oracle.revision = lambda q: Answer(label=q.label)
    revise = oracle._revise

    def elsewhere():
        oracle.revised = replace(oracle.revised, example_id=10**6)
        revise()

    oracle._revise = elsewhere
    with pytest.raises(
        OracleError, match="example 1000000, which this cleaner never asked about"
    ):
        _cleaner(oracle, counter_examples="none").fit(X, y_noisy)


# ------------------------------------------------------------- the store


def test_a_resumed_run_retraces_the_live_one(tmp_path, data):
    X, _, y_noisy = data
    path = tmp_path / "s.sqlite"
    kw = dict(counter_examples="relabel", n_counter_examples=2)
    session = AnnotationSession(UndoingOracle(wrong=2), path)
    live = _cleaner(session, **kw).fit(X, y_noisy)
    assert live.n_revised_ == 1 and session.n_revisions_ == 1
    assert not session.needs_rerun_
    session.close()

    asked = []
    again = AnnotationSession(lambda q: asked.append(q) or _keep(q), path)
    rerun = _cleaner(again, **kw).fit(X, y_noisy)
    assert asked == [] and again.n_replayed_ == live.n_queries_
    assert rerun.history_ == live.history_
    np.testing.assert_array_equal(rerun.y_cleaned_, live.y_cleaned_)
    np.testing.assert_array_equal(rerun.ids_, live.ids_)
    # the store keeps both answers, and where the revision was applied
    store = AnnotationStore(path, read_only=True)
    rows = [
        r for r in store.records() if r["example_id"] == live.history_[1].example_id
    ]
    assert [r["status"] for r in rows] == ["revised", "answered"]
    assert rows[0]["annotator"] == "hasty" and rows[1]["annotator"] == "keeper"


def test_a_read_only_copy_of_an_old_store_still_replays(tmp_path, data):
    # a store written before revisions had a point lacks the table: opened
    # read-only it is not upgraded, and replays as it always did
    X, _, y_noisy = data
    path = tmp_path / "s.sqlite"
    session = AnnotationSession(UndoingOracle(), path)
    live = _cleaner(session).fit(X, y_noisy)
    session.close()
    import sqlite3

    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE revisions_applied")
    try:
        store = AnnotationStore(path, read_only=True)
        replayed = _cleaner(AnnotationSession(_keep_everything, store)).fit(X, y_noisy)
    finally:
        store.close()
    first = replayed.history_[0]
    assert first.label_after == live.history_[0].label_after  # the revision
    assert first.revised_round is None


# ----------------------------------------------- what the oracle may edit


class Vandal:
    """Writes into every field of its query, then answers."""

    def __init__(self, answer):
        self.answer = answer

    def __call__(self, query):
        query.classes[:] = -5
        query.x[:] = 1e9
        for ce in query.counter_examples:
            ce.x[:] = -1e9
        object.__setattr__(query, "example_id", 10**6)
        object.__setattr__(query, "label", -5)
        return self.answer(query)


def test_an_answer_is_checked_against_the_cleaners_classes(data):
    X, _, y_noisy = data
    cleaner = _cleaner(Vandal(lambda q: Answer(label=-5)))
    with pytest.raises(OracleError, match=r"-5 .*not one of the classes \[0, 1\]"):
        cleaner.fit(X, y_noisy)
    assert not hasattr(cleaner, "history_")


def test_the_auditor_checks_against_its_own_classes(data):
    from sklearn_cincer import LabelAuditor

    X, _, y_noisy = data
    auditor = LabelAuditor(
        LogisticRegression(),
        budget=4,
        random_state=0,
        oracle=Vandal(lambda q: Answer(label=-5)),
    )
    with pytest.raises(OracleError, match=r"-5 .*not one of the classes \[0, 1\]"):
        auditor.fit(X, y_noisy)
    assert not hasattr(auditor, "history_")


def test_nothing_the_oracle_does_to_its_query_is_recorded(tmp_path, data):
    X, y, y_noisy = data
    truth = SimulatedOracle(y)
    reference = _cleaner(truth).fit(X, y_noisy)

    def answer(query):  # the truth, by the id the vandal overwrote
        return Answer(label=int(y[asked[-1]]), annotator="simulated")

    asked = []

    def record_then_vandalize(query):
        asked.append(query.example_id)
        return Vandal(answer)(query)

    X_before = X.copy()
    session = AnnotationSession(record_then_vandalize, tmp_path / "s.sqlite")
    cleaner = _cleaner(session).fit(X, y_noisy)
    np.testing.assert_array_equal(X, X_before)
    assert [r.example_id for r in cleaner.history_] == asked
    assert {r.label_before for r in cleaner.history_} <= {0, 1}
    expected = reference.history_
    assert [(r.example_id, r.label_after) for r in cleaner.history_][:3] == [
        (r.example_id, r.label_after) for r in expected
    ][:3]
    stored = session.store.records()
    assert {r["label_after"] for r in stored} <= {0, 1}
    assert {r["label_before"] for r in stored} <= {0, 1}
    assert [r["example_id"] for r in stored] == asked


def test_a_session_checks_against_the_question_it_was_asked(tmp_path):
    from sklearn_cincer.oracles import Query

    query = Query(
        example_id=7,
        x=np.zeros(2),
        label=0,
        prediction=1,
        margin=0.6,
        classes=np.array([0, 1]),
    )
    session = AnnotationSession(
        Vandal(lambda q: Answer(label=-5)), tmp_path / "s.sqlite"
    )
    assert session(query) == Answer(label=-5)  # unchecked: the cleaner refuses it
    assert query.classes.tolist() == [0, 1] and query.example_id == 7
    records = session.store.records()
    assert [(r["example_id"], r["status"]) for r in records] == [(7, "pending")]


# ------------------------------------------------------------ threads


class SlowOracle:
    """Keeps every label; once ``hold`` is set, blocks until released."""

    def __init__(self):
        self.hold = False
        self.asking = threading.Event()
        self.release = threading.Event()

    def __call__(self, query):
        if self.hold:
            self.asking.set()
            assert self.release.wait(60)
        return _keep(query)


@pytest.mark.parametrize("second", ["fit", "partial_fit"])
def test_a_second_call_while_one_runs_is_refused(data, second):
    X, _, y_noisy = data
    oracle = SlowOracle()
    cleaner = _cleaner(oracle).fit(X[:60], y_noisy[:60])
    oracle.hold = True
    outcome = {}

    def first():
        try:
            with threadpool_limits(1):
                cleaner.partial_fit(X[60:], y_noisy[60:])
            outcome["first"] = "done"
        except BaseException as exc:  # reported by the test
            outcome["first"] = exc

    thread = threading.Thread(target=first)
    thread.start()
    assert oracle.asking.wait(60)  # the first call waits for its answer
    before = (cleaner.n_seen_, list(cleaner.history_))
    with pytest.raises(RuntimeError, match="already running fit or partial_fit"):
        getattr(cleaner, second)(X[60:90], y_noisy[60:90])
    assert (cleaner.n_seen_, cleaner.history_) == before  # the refusal changed nothing
    oracle.release.set()
    thread.join(60)
    assert outcome["first"] == "done"
    # the first call's rows and answers are all there
    assert cleaner.n_seen_ == X.shape[0] and cleaner.n_queries_ > len(before[1])
    # and the cleaner is free again: it streams more rows, clones, pickles
    cleaner.partial_fit(X[:5], y_noisy[:5])
    assert cleaner.n_seen_ == X.shape[0] + 5
    oracle.asking = oracle.release = None  # events neither copy nor pickle
    assert not hasattr(clone(cleaner), "history_")
    assert pickle.loads(pickle.dumps(cleaner)).n_seen_ == cleaner.n_seen_


# ------------------------------------------------------------ terminal


def _first_question(X, y_noisy, **kw):
    seen = []
    _cleaner(lambda q: seen.append(q) or _keep(q), **kw).fit(X, y_noisy)
    return seen[0]


def test_terminal_wrong_answer_undo_right_answer(data):
    X, _, y_noisy = data
    first = _first_question(X, y_noisy)
    wrong = 1 - first.label
    lines = [
        str(wrong),
        "",  # question 1: a wrong label, the counter-example kept
        "u",
        str(first.label),
        "",  # question 2: undo, question 1 again
    ] + [""] * 300  # then keep every label; Enter finishes
    out = io.StringIO()
    oracle = TerminalOracle(
        annotator="ana", stdin=io.StringIO("\n".join(lines)), stdout=out
    )
    cleaner = _cleaner(oracle).fit(X, y_noisy)
    record = cleaner.history_[0]
    assert record.example_id == first.example_id
    assert record.label_after == first.label and record.revised_round is not None
    np.testing.assert_array_equal(cleaner.y_cleaned_, y_noisy)
    np.testing.assert_array_equal(cleaner.y_, y_noisy[cleaner.ids_])
    assert len(cleaner.label_changes()) == 0
    text = out.getvalue()
    assert "The cleaner applies it before it goes on." in text
    assert "No more questions in this fit" in text


def test_terminal_u_at_a_counter_example_goes_back_one_label():
    from sklearn_cincer.oracles import Query

    query = Query(
        example_id=42,
        x=np.zeros(2),
        label="ham",
        prediction="spam",
        margin=0.6,
        classes=np.array(["eggs", "ham", "spam"]),
        counter_example_id=7,
        counter_x=np.ones(2),
        counter_label="spam",
    )
    # the example typed as eggs, u at the counter-example's prompt, then spam
    out = io.StringIO()
    oracle = TerminalOracle(
        annotator="ana", stdin=io.StringIO("eggs\nu\nspam\n\n"), stdout=out
    )
    assert oracle(query) == Answer("spam", "spam", "ana")
    assert "Back to #42." in out.getvalue()
    assert oracle.revisions_ == []


def test_terminal_revises_the_last_answer_at_the_end_of_a_fit(data):
    X, _, y_noisy = data
    seen = []
    _cleaner(lambda q: seen.append(q) or _keep(q)).fit(X, y_noisy)
    last = seen[-1]
    lines = ["", ""] * (len(seen) - 1) + [
        str(1 - last.label),
        "",  # the last question, answered wrongly
        "u",
        str(last.label),
        "",  # at the last prompt: revised
        "",
    ]  # Enter finishes
    out = io.StringIO()
    oracle = TerminalOracle(
        annotator="ana", stdin=io.StringIO("\n".join(lines)), stdout=out
    )
    cleaner = _cleaner(oracle).fit(X, y_noisy)
    assert cleaner.history_[-1].example_id == last.example_id
    assert cleaner.history_[-1].revised_round is not None
    np.testing.assert_array_equal(cleaner.y_cleaned_, y_noisy)


def test_a_revision_to_a_skip_keeps_the_labels_the_question_showed(data):
    X, _, y_noisy = data

    def skip(query):
        return Answer(
            label=query.label,
            counter_label=query.counter_label,
            annotator="skipper",
            skipped=True,
        )

    cleaner = _cleaner(UndoingOracle(revision=skip), counter_examples="drop").fit(
        X, y_noisy
    )
    record = cleaner.history_[0]
    assert record.skipped and record.annotator == "skipper"
    assert record.label_after == record.label_before and not record.dropped
    assert record.revised_round is not None
    np.testing.assert_array_equal(cleaner.y_cleaned_, y_noisy)


def test_a_revision_leaves_a_label_that_a_later_answer_changed():
    from types import SimpleNamespace

    stream = SimpleNamespace(classes=np.array([0, 1, 2]), labels=np.array([1, 2]))
    # example 0: question 1 set it to 1, nothing changed it since: revised to 0
    assert SkepticalCleaner._relabel(stream, 0, 1, 0) == [0]
    # example 1: question 1 set it to 1, a later question to 2: the later stays
    assert SkepticalCleaner._relabel(stream, 1, 1, 0) == []
    np.testing.assert_array_equal(stream.labels, [0, 2])
