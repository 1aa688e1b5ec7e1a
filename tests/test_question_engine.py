"""The question engine the cleaner and the auditor share (sklearn_cincer._questions).

Both ask through it, so both get several counter-examples and tell their
oracle when a fit starts (an AnnotationSession then checks the run).
"""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from sklearn_cincer import LabelAuditor, SimulatedOracle, SkepticalCleaner, _questions
from sklearn_cincer.datasets import make_label_noise
from sklearn_cincer.oracles import (
    AnnotationSession,
    AnnotationStore,
    Answer,
    OracleError,
)


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def digits():
    """400 digits (pixels in [0, 1]) with 20% pair-flip noise."""
    X, y = load_digits(return_X_y=True)
    X, y = X[:400] / 16.0, y[:400]
    y_noisy, _ = make_label_noise(y, 0.2, kind="pairwise", random_state=0)
    return X, y, y_noisy


def lr():
    return LogisticRegression(max_iter=500)


class FlipEverything:
    """Answers every label with another class, and scribbles on its query."""

    def __init__(self):
        self.queries = []

    def __call__(self, query):
        self.queries.append(query)
        classes = list(query.classes)

        def other(label):
            return classes[(classes.index(label) + 1) % len(classes)]

        counter = tuple(other(ce.label) for ce in query.counter_examples)
        answer = Answer(
            label=other(query.label),
            counter_label=counter[0] if counter else None,
            counter_labels=counter if len(counter) > 1 else None,
        )
        # a mutating oracle: nothing it does to its copy may be recorded
        query.x[:] = -1
        query.classes[:] = -1
        for ce in query.counter_examples:
            ce.x[:] = -1
        return answer


def test_the_auditor_shows_several_counter_examples(digits):
    X, y_true, y_noisy = digits
    kw = dict(budget=40, refit_every=10, random_state=0, explain_issues=False, cv=3)
    one = LabelAuditor(lr(), oracle=SimulatedOracle(y_true), **kw).fit(X, y_noisy)
    oracle = FlipEverything()
    three = LabelAuditor(lr(), oracle=oracle, n_counter_examples=3, **kw).fit(
        X, y_noisy
    )
    assert three.n_queries_ > 0
    several = 0
    for query, record in zip(oracle.queries, three.history_):
        ids = record.counter_example_ids
        assert len(ids) <= 3 and len(set(ids)) == len(ids)
        several += len(ids) > 1
        assert [ce.example_id for ce in query.counter_examples] == list(ids)
        # best first, as the selector ranks them
        assert list(record.scores) == sorted(record.scores, reverse=True)
        # every counter-example is labeled as the model predicted
        assert set(record.counter_labels_before) <= {record.prediction}
        offered = query.strategy == "relabel"
        assert offered == record.counter_offered
        for before, after in zip(
            record.counter_labels_before, record.counter_labels_after
        ):
            if not offered:  # "explain": the answer's counter labels ignored
                assert after == before
        # the budget counts the example and each counter-example offered
        n_changed = sum(record.relabeled_counter_examples)
        assert n_changed <= len(ids) and (n_changed == 0 or offered)
    assert several > 0
    # the first counter-example of three is the one counter-example of one
    # (same ranking, taken further), on the first question at least
    assert three.history_[0].counter_example_id == one.history_[0].counter_example_id
    # the oracle's scribbles on its copies reached nothing the auditor keeps
    assert np.isin(three.y_, three.classes_).all()
    np.testing.assert_array_equal(three.classes_, np.unique(y_noisy))
    assert all(
        isinstance(label, int) and label >= 0
        for record in three.history_
        for label in record.counter_labels_after
    )


def test_several_offers_spend_one_label_each(digits):
    X, y_true, y_noisy = digits
    auditor = LabelAuditor(
        lr(),
        oracle=SimulatedOracle(y_true),
        budget=60,
        n_counter_examples=4,
        counter_threshold=0.0,
        cv=3,
        random_state=0,
        explain_issues=False,
    ).fit(X, y_noisy)
    spent = 0
    n_offers = 0
    for record in auditor.history_:
        step = record.labels_inspected - spent
        spent = record.labels_inspected
        offers = step - 1
        assert 0 <= offers <= len(record.counter_example_ids)
        assert (offers > 0) == record.counter_offered
        n_offers += offers
    assert spent == auditor.n_inspected_ <= 60
    assert n_offers > 1  # more than one counter-example offered somewhere
    assert auditor.n_relabeled_counter_examples_ <= n_offers
    with pytest.raises(ValueError, match="n_counter_examples"):
        LabelAuditor(lr(), n_counter_examples=0).fit(X, y_noisy)


def test_both_ask_through_the_one_place(digits, monkeypatch):
    X, y_true, y_noisy = digits
    handed = []
    original = _questions.hand_over

    def spy(oracle, query, asker, **kw):
        handed.append(asker)
        return original(oracle, query, asker, **kw)

    monkeypatch.setattr(_questions, "hand_over", spy)
    cleaner = SkepticalCleaner(
        lr(),
        n_bootstrap=100,
        refit_every=20,
        oracle=SimulatedOracle(y_true),
        random_state=0,
    ).fit(X, y_noisy)
    auditor = LabelAuditor(
        lr(),
        oracle=SimulatedOracle(y_true),
        budget=10,
        cv=3,
        random_state=0,
        explain_issues=False,
    ).fit(X, y_noisy)
    assert handed.count("cleaner") == cleaner.n_queries_ > 0
    assert handed.count("auditor") == auditor.n_queries_ > 0


def test_a_session_refuses_an_audit_resumed_with_other_data(digits, tmp_path):
    X, y_true, y_noisy = digits
    kw = dict(budget=10, cv=3, random_state=0, explain_issues=False)
    store = AnnotationStore(tmp_path / "audit.sqlite")
    session = AnnotationSession(SimulatedOracle(y_true), store)
    LabelAuditor(lr(), oracle=session, **kw).fit(X, y_noisy)
    session.close()
    n_answered = store.n_answered
    assert n_answered > 0

    other = X.copy()
    other[5, 3] += 0.5
    again = AnnotationSession(SimulatedOracle(y_true), store)
    auditor = LabelAuditor(lr(), oracle=again, **kw)
    with pytest.raises(OracleError, match="other data or settings"):
        auditor.fit(other, y_noisy)
    assert not hasattr(auditor, "history_")  # refused before any question
    assert again.n_asked_ == 0 and store.n_answered == n_answered
    # another setting that decides the questions is refused too
    with pytest.raises(OracleError, match="threshold"):
        LabelAuditor(lr(), oracle=again, threshold=0.3, **kw).fit(X, y_noisy)
    # the same data with a larger budget goes on from the answers given
    more = LabelAuditor(lr(), oracle=again, **{**kw, "budget": 20}).fit(X, y_noisy)
    assert again.n_replayed_ == n_answered
    assert more.n_inspected_ > 10
    again.close()


def test_a_session_refuses_a_cleaners_store_for_an_audit(digits, tmp_path):
    X, y_true, y_noisy = digits
    store = AnnotationStore(tmp_path / "run.sqlite")
    session = AnnotationSession(SimulatedOracle(y_true), store)
    SkepticalCleaner(
        lr(), n_bootstrap=100, refit_every=50, oracle=session, random_state=0
    ).fit(X, y_noisy)
    session.close()
    again = AnnotationSession(SimulatedOracle(y_true), store)
    with pytest.raises(OracleError, match="other data or settings"):
        LabelAuditor(lr(), oracle=again, budget=5, cv=3).fit(X, y_noisy)
    again.close()


def test_read_answer_keeps_what_is_not_offered():
    from sklearn_cincer.oracles import CounterExample, Query

    query = Query(
        example_id=7,
        x=np.zeros(2),
        label=0,
        prediction=1,
        margin=0.5,
        classes=np.array([0, 1]),
        counter_examples=(
            CounterExample(3, np.zeros(2), 1),
            CounterExample(4, np.ones(2), 1),
        ),
    )
    answer = Answer(label=1, counter_labels=(0, 0))
    outcome = _questions.read_answer(answer, query, [False, True])
    assert (outcome.label, outcome.counter_labels) == (1, (1, 0))
    skipped = Answer(label=1, counter_labels=(0, 0), skipped=True)
    outcome = _questions.read_answer(skipped, query, [True, True])
    assert (outcome.label, outcome.counter_labels, outcome.skipped) == (0, (1, 1), True)
    labels = np.array([0, 0, 0, 1, 1, 0, 0, 0])
    changed = _questions.apply_answer(
        labels,
        query.classes,
        query,
        _questions.read_answer(answer, query, [True, False]),
    )
    assert changed == [3] and labels.tolist() == [0, 0, 0, 0, 1, 0, 0, 1]
    with pytest.raises(OracleError, match="not one of the classes"):
        _questions.read_answer(Answer(label=5), query, [True, True])
