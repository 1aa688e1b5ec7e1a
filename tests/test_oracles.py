import numpy as np
import pytest

from sklearn_cincer import SimulatedOracle
from sklearn_cincer.oracles import Answer, OracleError, Query, check_answer


def make_query(example_id=3, counter_example_id=1, classes=(0, 1, 2)):
    return Query(
        example_id=example_id,
        x=np.zeros(2),
        label=0,
        prediction=1,
        margin=0.5,
        classes=np.array(classes),
        counter_example_id=counter_example_id,
        counter_x=None if counter_example_id is None else np.ones(2),
        counter_label=None if counter_example_id is None else 1,
    )


def test_perfect_oracle_answers_true_labels_by_id():
    oracle = SimulatedOracle([2, 0, 1, 1])
    answer = oracle(make_query(example_id=3, counter_example_id=0))
    assert answer == Answer(label=1, counter_label=2, annotator="simulated")
    assert (
        oracle(make_query(example_id=2, counter_example_id=None)).counter_label is None
    )


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


# ------------------------------------------------------ strict answers (13.5)


@pytest.mark.parametrize(
    "bad",
    [
        [0, 1],
        np.array([1]),
        [[1]],
        (1,),
        np.array([[2]]),
        {1},
        None,
        "1",
        1.5,
        float("nan"),
    ],
)
def test_check_answer_refuses_what_is_not_one_class(bad):
    query = make_query(example_id=11)
    with pytest.raises(OracleError, match="example 11"):
        check_answer(Answer(label=bad), query)
    if bad is not None:  # None keeps the counter-example's label
        with pytest.raises(OracleError, match="counter-example 1"):
            check_answer(Answer(label=0, counter_label=bad), query)


@pytest.mark.parametrize("answer", [True, False, np.bool_(True)])
def test_check_answer_refuses_a_bool_for_integer_classes(answer):
    # True == 1 in Python: a bool for integer classes is a typing mistake
    # (``label=query.label == 1``), never taken for a class.
    with pytest.raises(OracleError, match="(True|False).*example 3.*bool"):
        check_answer(Answer(label=answer), make_query())
    with pytest.raises(OracleError, match="(True|False).*counter-example 1.*bool"):
        check_answer(Answer(label=0, counter_label=answer), make_query())


def test_check_answer_returns_the_class_value_itself():
    query = make_query()
    for given in (2, 2.0, np.int64(2), np.float32(2.0), np.array(2), np.uint8(2)):
        label, counter = check_answer(Answer(label=given, counter_label=given), query)
        assert type(label) is int and label == 2, given
        assert type(counter) is int and counter == 2, given
    strings = make_query(classes=("cat", "dog"))
    label, _ = check_answer(Answer(label=np.str_("dog")), strings)
    assert type(label) is str and label == "dog"
    bools = make_query(classes=(False, True))
    assert check_answer(Answer(label=np.bool_(True)), bools)[0] is True
    with pytest.raises(OracleError, match="example 3"):
        check_answer(Answer(label=1), bools)  # and no int for bool classes
    floats = make_query(classes=(0.5, 1.5))
    label, _ = check_answer(Answer(label=np.float64(1.5)), floats)
    assert type(label) is float and label == 1.5


def test_check_answer_refuses_a_skip_that_is_not_a_bool():
    with pytest.raises(OracleError, match="skipped.*example 3"):
        check_answer(Answer(label=0, skipped="false"), make_query())
    assert check_answer(Answer(label=0, skipped=np.bool_(True)), make_query()) == (0, 1)


def test_errors_show_plain_values():
    query = make_query(classes=np.array([0, 1, 2]))
    for answer in (
        Answer(label=np.int64(7)),
        Answer(label=0, counter_label=np.int64(7)),
    ):
        with pytest.raises(OracleError) as error:
            check_answer(answer, query)
        assert "np." not in str(error.value) and "[0, 1, 2]" in str(error.value)


def test_simulated_oracle_across_partial_fit():
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sklearn_cincer import SkepticalCleaner
    from sklearn_cincer.datasets import make_label_noise

    X, y_true = load_breast_cancer(return_X_y=True)
    y, _ = make_label_noise(y_true, 0.3, random_state=0)

    def cleaner(oracle):
        return SkepticalCleaner(
            make_pipeline(StandardScaler(), LogisticRegression()),
            oracle=oracle,
            n_bootstrap=100,
            random_state=0,
            verbose=0,
        ).fit(X[:300], y[:300])

    # the true labels of fit's rows only: asked about a later id, it says how
    short = cleaner(SimulatedOracle(y_true[:300]))
    before = list(short.history_)
    with pytest.raises(OracleError, match=r"ids 0 to 299.*np\.concatenate"):
        short.partial_fit(X[300:], y[300:])
    assert short.history_ == before and short.n_seen_ == 300
    # fit's rows followed by the later rows: partial_fit's questions answered
    whole = cleaner(SimulatedOracle(y_true)).partial_fit(X[300:], y[300:])
    later = [r for r in whole.history_ if r.example_id >= 300]
    assert later and all(r.label_after == y_true[r.example_id] for r in later)
