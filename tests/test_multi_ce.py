"""Several counter-examples per question (``n_counter_examples``)."""

import csv
import json
import pickle
import sqlite3

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from test_cleaner import SpyOracle, breast_stream, fitted_state
from threadpoolctl import threadpool_limits

from sklearn_cincer import CleaningSelector, SimulatedOracle, SkepticalCleaner
from sklearn_cincer.oracles import (
    AnnotationSession,
    AnnotationStore,
    Answer,
    CounterExample,
    OracleError,
    Query,
    check_answer,
    export_questions,
)
from sklearn_cincer.oracles import _store as _store_module
from sklearn_cincer.oracles._base import answer_labels, checked_answer
from sklearn_cincer.oracles._store import question_key
from sklearn_cincer.selectors import BaseSelector


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def data():
    X, y, y_noisy, _ = breast_stream(2, n=200, noise_rate=0.3)
    return X, y, y_noisy


def _cleaner(oracle, m, **kw):
    params = dict(n_bootstrap=100, random_state=0, threshold=0.1)
    params.update(kw)
    return SkepticalCleaner(
        LogisticRegression(), oracle=oracle, n_counter_examples=m, **params
    )


def _query(n=3, strategy="relabel"):
    shown = tuple(
        CounterExample(10 + k, np.full(2, float(k)), 1, score=3.0 - k) for k in range(n)
    )
    return Query(
        example_id=5,
        x=np.zeros(2),
        label=0,
        prediction=1,
        margin=0.7,
        classes=np.array([0, 1]),
        round=4,
        strategy=strategy,
        counter_examples=shown,
    )


class FirstFeature(BaseSelector):
    """Scores a candidate by its first feature: a known ranking."""

    def _fit(self, estimator, X, y):
        self.X_ = X

    def score(self, x, y, candidates=None):
        return self.X_[self._candidates(candidates), 0]


# ------------------------------------------------------------------ queries


def test_query_built_from_counter_examples_fills_the_single_fields():
    query = _query(3)
    assert (query.counter_example_id, query.counter_label, query.score) == (10, 1, 3.0)
    np.testing.assert_array_equal(query.counter_x, np.zeros(2))
    assert [ce.example_id for ce in query.counter_examples] == [10, 11, 12]
    # the single fields alone make one counter-example, as before
    single = Query(
        example_id=5,
        x=np.zeros(2),
        label=0,
        prediction=1,
        margin=0.7,
        classes=np.array([0, 1]),
        counter_example_id=3,
        counter_x=np.ones(2),
        counter_label=1,
        score=0.5,
    )
    assert single.counter_examples == (CounterExample(3, single.counter_x, 1, 0.5),)
    assert (
        Query(
            example_id=5,
            x=np.zeros(2),
            label=0,
            prediction=1,
            margin=0.7,
            classes=np.array([0, 1]),
        ).counter_examples
        == ()
    )


def test_query_refuses_counter_examples_that_disagree():
    with pytest.raises(ValueError, match="first of counter_examples is 10"):
        Query(
            example_id=5,
            x=np.zeros(2),
            label=0,
            prediction=1,
            margin=0.7,
            classes=np.array([0, 1]),
            counter_example_id=4,
            counter_examples=_query(2).counter_examples,
        )
    twice = (CounterExample(3, np.zeros(2), 1), CounterExample(3, np.zeros(2), 1))
    with pytest.raises(ValueError, match="twice"):
        Query(
            example_id=5,
            x=np.zeros(2),
            label=0,
            prediction=1,
            margin=0.7,
            classes=np.array([0, 1]),
            counter_examples=twice,
        )
    with pytest.raises(TypeError, match="CounterExample"):
        Query(
            example_id=5,
            x=np.zeros(2),
            label=0,
            prediction=1,
            margin=0.7,
            classes=np.array([0, 1]),
            counter_examples=((3, np.zeros(2), 1),),
        )


# ------------------------------------------------------------------ answers


def test_answer_labels_one_per_counter_example():
    query = _query(3)
    assert answer_labels(Answer(label=1), query) == (1, (1, 1, 1))
    assert answer_labels(Answer(label=1, counter_label=0), query) == (1, (0, 1, 1))
    assert answer_labels(
        Answer(label=0, counter_labels=(None, np.int64(0), 1.0)), query
    ) == (0, (1, 0, 1))
    # the single-counter-example view stays the first one's
    assert check_answer(Answer(label=1, counter_labels=[0, 0, 0]), query) == (1, 0)
    assert answer_labels(
        Answer(label=1, counter_label=0, counter_labels=(0, 1, 1)), query
    ) == (1, (0, 1, 1))


@pytest.mark.parametrize(
    "answer, match",
    [
        (Answer(label=1, counter_labels=(0, 1)), "shows 3 counter-example"),
        (Answer(label=1, counter_labels=(0, 1, 1, 0)), "shows 3 counter-example"),
        (Answer(label=1, counter_labels="011"), "give a tuple"),
        (Answer(label=1, counter_labels=(0, 7, 1)), "counter-example 11"),
        (Answer(label=1, counter_labels=(0, True, 1)), "counter-example 11"),
        (Answer(label=1, counter_label=1, counter_labels=(0, 1, 1)), "must agree"),
    ],
)
def test_bad_counter_labels_are_refused(answer, match):
    with pytest.raises(OracleError, match=match):
        answer_labels(answer, _query(3))


def test_checked_answer_fills_the_first_from_either_field():
    query = _query(2)
    assert checked_answer(Answer(label=1, counter_labels=(0.0, None)), query) == (
        Answer(label=1, counter_label=0, counter_labels=(0, None))
    )
    assert checked_answer(
        Answer(label=1, counter_label=0, counter_labels=(None, 0)), query
    ) == Answer(label=1, counter_label=0, counter_labels=(0, 0))
    assert checked_answer(Answer(label=1), query) == Answer(label=1)


def test_simulated_oracle_answers_each_counter_example_by_its_id():
    y_true = np.arange(20) % 2
    answer = SimulatedOracle(y_true)(_query(3))
    assert answer.counter_labels == (0, 1, 0) and answer.counter_label == 0
    # with errors, an example's answer does not depend on its place
    noisy = SimulatedOracle(y_true, error_rate=0.5, random_state=3)
    three = noisy(_query(3)).counter_labels
    for n in (1, 2):
        assert answer_labels(noisy(_query(n)), _query(n))[1] == three[:n]
    # one counter-example: the answer is as it always was
    assert SimulatedOracle(y_true)(_query(1)) == Answer(
        label=1, counter_label=0, annotator="simulated"
    )


# --------------------------------------------------------------- the loop


def test_the_top_m_of_the_ranking_are_shown_best_first(data):
    X, y, y_noisy = data
    spies = {}
    for m in (1, 3):
        spies[m] = SpyOracle(y)
        _cleaner(spies[m], m, selector=FirstFeature()).fit(X, y_noisy)
    query = spies[3].queries[0]
    # the first question is the same: nothing was answered before it
    assert query.example_id == spies[1].queries[0].example_id
    assert query.counter_example_id == spies[1].queries[0].counter_example_id
    assert len(query.counter_examples) == 3
    train = np.arange(100)
    prediction_labeled = train[y_noisy[:100] == query.prediction]
    best = prediction_labeled[np.argsort(-X[prediction_labeled, 0], kind="stable")]
    assert [ce.example_id for ce in query.counter_examples] == best[:3].tolist()
    for ce in query.counter_examples:
        assert ce.score == X[ce.example_id, 0]
        assert ce.label == query.prediction  # the paper's pertinence rule
        np.testing.assert_array_equal(ce.x, X[ce.example_id])


def test_fewer_candidates_than_m_show_fewer():
    X = np.r_[np.linspace(0, 1, 20), np.linspace(2, 3, 20), [0.1]][:, None]
    y_true = np.r_[np.zeros(20, int), np.ones(20, int), [0]]
    y_noisy = y_true.copy()
    y_noisy[-1] = 1
    y_noisy[:20] = np.r_[np.zeros(2, int), np.ones(18, int)]  # 2 candidates "0"
    y_noisy[20:] = 1
    spy = SpyOracle(y_true)
    X_all = np.r_[X[:40], [[0.05]]]
    cleaner = SkepticalCleaner(
        LogisticRegression(C=100),
        n_bootstrap=40,
        n_counter_examples=5,
        threshold=0.0,
        oracle=spy,
    ).fit(X_all, np.r_[y_noisy[:40], [1]])
    for query, record in zip(spy.queries, cleaner.history_):
        candidates = int(np.sum(cleaner.y_cleaned_[:40] == query.prediction)) + 5
        assert 1 <= len(query.counter_examples) <= min(5, candidates)
        assert len(record.counter_example_ids) == len(query.counter_examples)


def test_every_counter_example_is_answered_and_recorded(data):
    X, y, y_noisy = data
    spy = SpyOracle(y)
    cleaner = _cleaner(spy, 3).fit(X, y_noisy)
    assert cleaner.n_queries_ > 3
    n_relabeled = 0
    for query, record in zip(spy.queries, cleaner.history_):
        ids = tuple(ce.example_id for ce in query.counter_examples)
        assert record.counter_example_ids == ids and len(ids) == 3
        assert record.counter_example_id == ids[0]
        assert record.scores == tuple(ce.score for ce in query.counter_examples)
        assert record.counter_labels_before == tuple(
            ce.label for ce in query.counter_examples
        )
        assert record.counter_labels_after == tuple(y[list(ids)])
        assert record.counter_label_after == y[ids[0]]
        n_relabeled += sum(record.relabeled_counter_examples)
    assert cleaner.n_relabeled_counter_examples_ == n_relabeled > 0
    # every relabel is in the table, and the table rebuilds y_cleaned_
    changes = cleaner.label_changes()
    assert (changes["role"] == "counter-example").sum() == n_relabeled
    rebuilt = y_noisy.copy()
    for _, row in changes.iterrows():
        assert rebuilt[row["example_id"]] == row["label_before"]
        rebuilt[row["example_id"]] = row["label_after"]
    np.testing.assert_array_equal(rebuilt, cleaner.y_cleaned_)


def test_more_counter_examples_clean_more_labels(data):
    X, y, y_noisy = data
    wrong = [
        int(np.sum(_cleaner(SimulatedOracle(y), m).fit(X, y_noisy).y_cleaned_ != y))
        for m in (1, 3)
    ]
    assert wrong[1] < wrong[0]


def test_drop_removes_every_counter_example_shown(data):
    X, y, y_noisy = data
    spy = SpyOracle(y)
    cleaner = _cleaner(spy, 2, counter_examples="drop").fit(X, y_noisy)
    dropped = [r for r in cleaner.history_ if r.dropped]
    kept = [r for r in cleaner.history_ if not r.dropped]
    assert dropped and kept
    for record in dropped:  # the oracle kept the example's label
        assert record.label_after == record.label_before
        assert record.counter_labels_after == (None, None)
        assert not set(record.counter_example_ids) & set(cleaner.ids_)
    for record in kept:
        assert record.label_after != record.label_before
        assert record.counter_labels_after == record.counter_labels_before
    assert cleaner.n_dropped_ == 2 * len(dropped)
    changes = cleaner.label_changes()
    assert (changes["change"] == "dropped").sum() == 2 * len(dropped)
    # drop never relabels a counter-example
    assert cleaner.n_relabeled_counter_examples_ == 0


def test_none_ignores_n_counter_examples(data):
    X, y, y_noisy = data
    one, three = (
        _cleaner(SimulatedOracle(y), m, counter_examples="none").fit(X, y_noisy)
        for m in (1, 3)
    )
    assert one.history_ == three.history_
    assert all(r.counter_example_ids == () for r in three.history_)


def test_oracle_none_records_every_counter_example(data):
    X, y, y_noisy = data
    cleaner = _cleaner(None, 2).fit(X, y_noisy)
    record = cleaner.history_[0]
    assert not record.answered and len(record.counter_example_ids) == 2
    assert record.counter_labels_after == record.counter_labels_before
    np.testing.assert_array_equal(cleaner.y_cleaned_, y_noisy)


@pytest.mark.parametrize(
    "bad",
    [
        lambda q: Answer(label=q.label, counter_labels=(q.counter_label,)),
        lambda q: Answer(label=q.label, counter_labels=(None, "nine")),
        lambda q: Answer(
            label=q.label, counter_label=q.prediction, counter_labels=(q.label, None)
        ),
    ],
)
def test_a_bad_answer_leaves_the_cleaner_as_it_was(data, bad):
    X, y, y_noisy = data
    cleaner = _cleaner(SimulatedOracle(y), 2).fit(X[:150], y_noisy[:150])
    before = fitted_state(cleaner)
    cleaner.oracle = bad
    with pytest.raises(OracleError):
        cleaner.partial_fit(X[150:], y_noisy[150:])
    assert fitted_state(cleaner) == before


@pytest.mark.parametrize("m", [0, -1, 1.5, "2"])
def test_n_counter_examples_is_validated_before_anything(data, m):
    X, y, y_noisy = data
    cleaner = SkepticalCleaner(LogisticRegression(), n_counter_examples=m)
    with pytest.raises((ValueError, TypeError), match="n_counter_examples"):
        cleaner.fit(X, y_noisy)
    assert not hasattr(cleaner, "history_")


def test_old_pickled_record_gets_its_counter_example_tuples(data):
    X, y, y_noisy = data
    record = _cleaner(SimulatedOracle(y), 1).fit(X, y_noisy).history_[0]
    state = {
        k: v
        for k, v in vars(record).items()
        if k
        not in (
            "counter_example_ids",
            "scores",
            "counter_labels_before",
            "counter_labels_after",
        )
    }
    old = object.__new__(type(record))
    old.__setstate__(state)
    assert old == record and old.counter_example_ids == (record.counter_example_id,)
    assert pickle.loads(pickle.dumps(record)) == record


# ------------------------------------------------------------------ store


def test_store_key_of_one_counter_example_is_unchanged():
    from sklearn_cincer.oracles._fingerprint import array_fingerprint

    query = _query(1)
    assert question_key(query) == json.dumps(
        [
            5,
            10,
            0,
            1,
            "relabel",
            array_fingerprint(query.x),
            array_fingerprint(query.counter_x),
        ]
    )
    # each further counter-example's id, label and features are in the key
    keys = {question_key(_query(2))}
    moved = _query(2)
    other = (
        moved.counter_examples[0],
        CounterExample(11, np.full(2, 9.0), 1, score=2.0),
    )
    keys.add(question_key(Query(**{**vars(moved), "counter_examples": other})))
    relabeled = (moved.counter_examples[0], CounterExample(11, np.ones(2), 0))
    keys.add(question_key(Query(**{**vars(moved), "counter_examples": relabeled})))
    assert len(keys) == 3 and question_key(_query(1)) not in keys


def test_store_records_and_replays_every_counter_example(tmp_path):
    store = AnnotationStore(tmp_path / "s.sqlite")
    query = _query(3)
    qid = store.record_question(query)
    store.record_answer(
        qid,
        checked_answer(
            Answer(label=1, counter_labels=(None, 0, None), annotator="ana"), query
        ),
    )
    assert store.find_answer(query) == Answer(
        label=1, counter_label=1, counter_labels=(1, 0, 1), annotator="ana"
    )
    (row,) = store.records()
    assert row["counter_example_ids"] == [10, 11, 12]
    assert row["scores"] == [3.0, 2.0, 1.0]
    assert row["counter_labels_before"] == [1, 1, 1]
    assert row["counter_labels_after"] == [1, 0, 1]
    assert len(set(row["counter_x_fingerprints"])) == 3
    assert store.summary()["relabeled_counter_examples"] == 1
    # one counter-example: its row is as before, the lists derived from it
    single = _query(1)
    store.record_answer(store.record_question(single), Answer(label=0))
    raw = (
        sqlite3.connect(tmp_path / "s.sqlite")
        .execute(
            "SELECT counter_example_ids, counter_labels_after FROM questions "
            "WHERE question_id = 2"
        )
        .fetchone()
    )
    assert raw == (None, None)
    assert store.records()[1]["counter_labels_after"] == [1]
    # a revision (undo) keeps every label too
    store.record_revision(query, Answer(label=0, counter_labels=(0, None, 0)))
    assert store.find_answer(query).counter_labels == (0, 1, 0)
    store.close()


def test_session_replays_several_counter_examples(tmp_path, data):
    X, y, y_noisy = data
    store = tmp_path / "s.sqlite"
    session = AnnotationSession(SimulatedOracle(y), store)
    first = _cleaner(session, 2).fit(X, y_noisy)
    session.close()
    assert session.n_asked_ == first.n_queries_ > 0
    replay = AnnotationSession(SpyOracle(y), store)
    second = _cleaner(replay, 2).fit(X, y_noisy)
    replay.close()
    assert replay.n_asked_ == 0 and replay.n_replayed_ == first.n_queries_
    assert second.history_ == first.history_
    np.testing.assert_array_equal(second.y_cleaned_, first.y_cleaned_)
    rows = AnnotationStore(store, read_only=True).records()
    assert all(len(r["counter_example_ids"]) == 2 for r in rows)


def test_session_refuses_another_n_counter_examples(tmp_path, data):
    X, y, y_noisy = data
    store = tmp_path / "s.sqlite"
    session = AnnotationSession(SimulatedOracle(y), store)
    _cleaner(session, 1).fit(X, y_noisy)
    session.close()
    # m=1 leaves the fingerprint as it was before the parameter existed
    fingerprint = AnnotationStore(store, read_only=True).last_fingerprint()
    assert "n_counter_examples" not in fingerprint["params"]
    again = AnnotationSession(SimulatedOracle(y), store)
    with pytest.raises(OracleError, match="n_counter_examples: None in the store, 2"):
        _cleaner(again, 2).fit(X, y_noisy)
    again.close()


def _version_2_store(path, query, answer):
    """A store as the previous release wrote it (schema 2)."""
    from sklearn_cincer.oracles import _store

    conn = sqlite3.connect(path)
    schema = _store._SCHEMA
    for column in _store._LIST_COLUMNS:
        schema = schema.replace(f",\n    {column} TEXT", "")
    assert "counter_labels_after" not in schema
    conn.executescript(schema)
    conn.execute("PRAGMA user_version = 2")
    conn.execute(
        "INSERT INTO questions (status, round, example_id, counter_example_id, "
        "strategy, label_before, counter_label_before, prediction, margin, score, "
        "label_after, counter_label_after, annotator, asked_at, answered_at, qkey, "
        "x_fingerprint, counter_x_fingerprint) VALUES ('answered', 4, 5, 10, "
        "'relabel', '0', '1', '1', 0.7, 3.0, ?, ?, 'ana', 't', 't', ?, ?, ?)",
        (
            json.dumps(answer.label),
            json.dumps(answer.counter_label),
            question_key(query),
        )
        + tuple(json.loads(question_key(query))[5:]),
    )
    conn.commit()
    conn.close()


def test_a_version_2_store_replays_and_is_upgraded(tmp_path):
    path = tmp_path / "v2.sqlite"
    query = _query(1)
    _version_2_store(path, query, Answer(label=1, counter_label=0))
    # read-only: replays without the new columns, and leaves the file be
    reader = AnnotationStore(path, read_only=True)
    assert reader.find_answer(query) == Answer(
        label=1, counter_label=0, annotator="ana"
    )
    assert reader.records()[0]["counter_labels_after"] == [0]
    reader.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 2
    with pytest.warns(UserWarning, match="checksum: its answer was given one"):
        store = AnnotationStore(path)  # writable: upgraded in place
    version = sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0]
    assert version == _store_module._SCHEMA_VERSION > 3
    assert store.find_answer(query) == Answer(label=1, counter_label=0, annotator="ana")
    qid = store.record_question(_query(2))
    store.record_answer(qid, Answer(label=1, counter_labels=(0, 0)))
    assert store.find_answer(_query(2)).counter_labels == (0, 0)
    store.close()


# ----------------------------------------------------------------- offline


def test_export_has_columns_for_each_counter_example(tmp_path, data):
    X, y, y_noisy = data
    cleaner = _cleaner(None, 3).fit(X, y_noisy)
    path = tmp_path / "batch.csv"
    export_questions(cleaner.history_, path, rows=[f"r{i}" for i in range(200)])
    header = path.read_text().splitlines()[0].split(",")
    assert header[header.index("score") + 1 : header.index("answer")] == [
        "counter_example_id_2",
        "counter_row_2",
        "counter_label_2",
        "score_2",
        "counter_example_id_3",
        "counter_row_3",
        "counter_label_3",
        "score_3",
    ]
    assert header[header.index("answer") :] == [
        "answer",
        "counter_answer",
        "counter_answer_2",
        "counter_answer_3",
        "annotator",
    ]
    record = cleaner.history_[0]
    with open(path) as handle:
        first = next(csv.DictReader(handle))
    assert first["counter_row_3"] == f"r{record.counter_example_ids[2]}"
    assert float(first["score_2"]) == record.scores[1]


def test_default_selector_is_the_cleaning_selector():
    # the measurements of docs/user_guide/several_ce.rst ran with the default
    cleaner = SkepticalCleaner(LogisticRegression()).fit(
        np.r_[np.zeros((5, 1)), np.ones((5, 1))], np.r_[np.zeros(5), np.ones(5)]
    )
    assert isinstance(cleaner.selector_, CleaningSelector)
