"""One label issues vocabulary for the cleaner and the auditor."""

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import minmax_scale
from threadpoolctl import threadpool_limits

from sklearn_cincer import SimulatedOracle, SkepticalCleaner
from sklearn_cincer._issues import ISSUE_COLUMNS, label_quality
from sklearn_cincer.datasets import make_label_noise
from sklearn_cincer.oracles import Answer


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def stream():
    X, y = load_breast_cancer(return_X_y=True)
    order = np.random.RandomState(0).permutation(y.shape[0])[:250]
    X, y = minmax_scale(X)[order], y[order]
    y_noisy, noisy = make_label_noise(y, 0.2, random_state=0)
    return X, y, y_noisy, noisy


def test_cleaner_label_issues_are_its_questions(stream):
    X, y, y_noisy, noisy = stream
    cleaner = SkepticalCleaner(
        LogisticRegression(), n_bootstrap=100, oracle=SimulatedOracle(y), random_state=0
    )
    cleaner.fit(X, y_noisy)
    table = cleaner.label_issues_
    history = cleaner.history_
    assert list(table.columns) == list(ISSUE_COLUMNS)
    assert table.index.name == "example_id"
    assert table.index.tolist() == [r.example_id for r in history]
    assert table["inspected"].all()
    # the oracle's verdict: a label is an issue when the answer changed it
    np.testing.assert_array_equal(
        table["is_label_issue"], [r.relabeled_example for r in history]
    )
    np.testing.assert_array_equal(table["is_label_issue"], noisy[table.index])
    np.testing.assert_array_equal(table["given_label"], y_noisy[table.index])
    np.testing.assert_array_equal(table["cleaned_label"], y[table.index])
    np.testing.assert_array_equal(
        table["predicted_label"], [r.prediction for r in history]
    )
    np.testing.assert_array_equal(
        table["counter_example"], [r.counter_example_id for r in history]
    )
    np.testing.assert_allclose(
        table["counter_example_score"], [r.score for r in history]
    )
    # the quality is cleanlab's normalized margin of the round's model: the
    # margin was at least the threshold, so the quality at most (1 - 0.2) / 2
    np.testing.assert_allclose(
        table["label_quality"], [(1 - r.margin) / 2 for r in history]
    )
    assert (table["label_quality"] <= 0.4 + 1e-12).all()


def test_quality_formula_agrees_with_the_margin():
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    labels = np.array([1, 1])
    margin = proba.max(axis=1) - proba[np.arange(2), labels]
    np.testing.assert_allclose(label_quality(proba, labels), (1 - margin) / 2)


def test_unanswered_and_skipped_questions_are_flagged_not_inspected(stream):
    X, _, y_noisy, _ = stream
    silent = SkepticalCleaner(LogisticRegression(), n_bootstrap=100).fit(X, y_noisy)
    table = silent.label_issues_
    assert len(table) == silent.n_queries_ > 0
    assert table["is_label_issue"].all() and not table["inspected"].any()
    assert (table["cleaned_label"] == table["given_label"]).all()

    def skip(query):
        return Answer(query.label, query.counter_label, skipped=True)

    skipped = SkepticalCleaner(LogisticRegression(), n_bootstrap=100, oracle=skip).fit(
        X, y_noisy
    )
    assert skipped.label_issues_["is_label_issue"].all()
    assert not skipped.label_issues_["inspected"].any()


def test_no_counter_example_and_unfitted(stream):
    X, y, y_noisy, _ = stream
    cleaner = SkepticalCleaner(
        LogisticRegression(),
        n_bootstrap=100,
        counter_examples="none",
        oracle=SimulatedOracle(y),
    )
    assert not hasattr(cleaner, "label_issues_")
    with pytest.raises(NotFittedError):
        cleaner.label_issues_
    table = cleaner.fit(X, y_noisy).label_issues_
    assert (table["counter_example"] == -1).all()
    assert table["counter_example_score"].isna().all()


def test_counter_example_score_is_the_selectors_score_in_both_tables(stream):
    # One definition (docs/user_guide/audit.rst): the score that the selector
    # which picked the counter-example gave it, on the selector's own scale.
    from sklearn_cincer import CleaningSelector, LabelAuditor, TopFisherSelector

    X, y, y_noisy, _ = stream

    def scores(table):
        values = np.asarray(table["counter_example_score"], dtype=float)
        return values[np.isfinite(values)]

    def cleaner(selector=None):
        return (
            SkepticalCleaner(
                LogisticRegression(),
                n_bootstrap=100,
                selector=selector,
                oracle=SimulatedOracle(y),
                random_state=0,
            )
            .fit(X, y_noisy)
            .label_issues_
        )

    def auditor(selector=None):
        return LabelAuditor(
            LogisticRegression(),
            selector=selector,
            oracle=SimulatedOracle(y),
            budget=10,
            random_state=0,
        ).fit(X, y_noisy)

    # the same selector: the same scale in both tables (a probability here)
    audited = auditor(CleaningSelector())
    for table in (cleaner(), cleaner(CleaningSelector()), audited.label_issues_):
        assert scores(table).size and np.all((scores(table) > 0) & (scores(table) <= 1))
    asked = audited.label_issues_.loc[[r.example_id for r in audited.history_]]
    np.testing.assert_allclose(
        asked["counter_example_score"], [r.score for r in audited.history_]
    )
    # both defaults are the cleaning selector: one meaning, one scale
    default = scores(auditor().label_issues_)
    np.testing.assert_allclose(default, scores(audited.label_issues_))
    # Top Fisher asked for: Eq. 14's support, not a probability
    fisher = scores(auditor(TopFisherSelector()).label_issues_)
    assert np.all(fisher > 0) and fisher.max() > 1
