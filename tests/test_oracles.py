import numpy as np
import pytest

from sklearn_cincer import SimulatedOracle
from sklearn_cincer.oracles import Answer, OracleError, Query, check_answer


def make_query(example_id=3, counter_example_id=1, classes=(0, 1, 2)):
    return Query(
        example_id=example_id, x=np.zeros(2), label=0, prediction=1, margin=0.5,
        classes=np.array(classes), counter_example_id=counter_example_id,
        counter_x=None if counter_example_id is None else np.ones(2),
        counter_label=None if counter_example_id is None else 1,
    )


def test_perfect_oracle_answers_true_labels_by_id():
    oracle = SimulatedOracle([2, 0, 1, 1])
    answer = oracle(make_query(example_id=3, counter_example_id=0))
    assert answer == Answer(label=1, counter_label=2, annotator="simulated")
    assert oracle(make_query(example_id=2, counter_example_id=None)).counter_label is None


def test_error_rate_one_is_always_wrong_and_within_classes():
    oracle = SimulatedOracle(np.zeros(50, dtype=int), error_rate=1.0, random_state=0)
    labels = [oracle(make_query(example_id=i)).label for i in range(50)]
    assert set(labels) <= {1, 2} and len(set(labels)) == 2


def test_errors_are_reproducible_per_example():
    y = np.zeros(400, dtype=int)
    a = SimulatedOracle(y, error_rate=0.3, random_state=1)
    b = SimulatedOracle(y, error_rate=0.3, random_state=1)
    ids = list(range(400))
    answers_a = [a(make_query(example_id=i)).label for i in ids]
    answers_b = [b(make_query(example_id=i)).label for i in reversed(ids)][::-1]
    assert answers_a == answers_b  # order of questions does not matter
    wrong = np.mean(np.array(answers_a) != 0)
    assert 0.22 < wrong < 0.38


def test_oracle_refuses_unknown_ids_and_bad_rates():
    with pytest.raises(IndexError, match="stream ids 0 to 2"):
        SimulatedOracle([0, 1, 1])(make_query(example_id=5))
    with pytest.raises(ValueError, match="error_rate"):
        SimulatedOracle([0, 1, 1], error_rate=2)(make_query(example_id=1))


def test_check_answer():
    query = make_query()
    assert check_answer(Answer(label=2), query) == (2, 1)  # counter label kept
    assert check_answer(Answer(label=2, counter_label=0), query) == (2, 0)
    with pytest.raises(OracleError, match="label 5 for example 3"):
        check_answer(Answer(label=5), query)
    with pytest.raises(OracleError, match="must return an Answer"):
        check_answer((1, 2), query)
    no_counter = make_query(counter_example_id=None)
    assert check_answer(Answer(label=1, counter_label=9), no_counter) == (1, None)
