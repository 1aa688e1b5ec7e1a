"""Missing values: shown as "missing"; a row with none is never a counter-example."""

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from threadpoolctl import threadpool_limits

from sklearn_cincer import (
    PracticalFisherSelector,
    RandomSelector,
    SimulatedOracle,
    SkepticalCleaner,
    TopFisherSelector,
)
from sklearn_cincer.datasets import make_label_noise
from sklearn_cincer.oracles import Answer, CounterExample, Query, TerminalOracle
from sklearn_cincer.oracles._render import Renderer, fmt


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with threadpool_limits(1):
        yield


def _blank_stream():
    """A stream whose training rows are blank one in three, labeled as the truth."""
    X, y = make_classification(n_samples=120, n_features=4, random_state=0)
    y_noisy, _ = make_label_noise(y, 0.3, random_state=0)
    X[2:50:3] = np.nan  # blank rows among the bootstrap set
    X[60, 1] = np.nan  # one value missing: still a row to show
    return X, y, y_noisy


@pytest.mark.parametrize(
    "selector",
    [
        None,
        TopFisherSelector(),
        PracticalFisherSelector(),
        RandomSelector(random_state=0),
    ],
)
def test_a_blank_row_is_never_offered_as_a_counter_example(selector):
    X, y, y_noisy = _blank_stream()
    blank = set(np.flatnonzero(np.isnan(X).all(axis=1)).tolist())
    assert len(blank) == 16
    shown = []

    def oracle(query):
        shown.extend(ce.example_id for ce in query.counter_examples)
        return SimulatedOracle(y)(query)

    options = {} if selector is None else {"selector": selector}
    cleaner = SkepticalCleaner(
        make_pipeline(SimpleImputer(), LogisticRegression()),
        oracle=oracle,
        n_bootstrap=50,
        random_state=0,
        candidates="all",
        n_counter_examples=3,
        **options,
    ).fit(X, y_noisy)
    assert cleaner.n_queries_ >= 5 and len(shown) >= 15
    assert not blank & set(shown)
    # the blank rows still train the model: only the counter-examples skip them
    assert cleaner.y_cleaned_.shape == y.shape


def test_a_random_pick_would_take_blank_rows_without_the_filter(monkeypatch):
    # The test above means something: among 34 rows, 16 blank, three random
    # picks per question land on a blank one at once.
    from sklearn_cincer import _cleaner

    X, y, y_noisy = _blank_stream()
    monkeypatch.setattr(
        _cleaner._Stream,
        "blank_rows",
        lambda self: np.zeros(self.X.shape[0], dtype=bool),
    )
    shown = []

    def oracle(query):
        shown.extend(ce.example_id for ce in query.counter_examples)
        return SimulatedOracle(y)(query)

    SkepticalCleaner(
        make_pipeline(SimpleImputer(), LogisticRegression()),
        oracle=oracle,
        selector=RandomSelector(random_state=0),
        n_bootstrap=50,
        random_state=0,
        candidates="all",
        n_counter_examples=3,
    ).fit(X, y_noisy)
    assert set(np.flatnonzero(np.isnan(X).all(axis=1))) & set(shown)


def test_nan_is_refused_when_the_estimator_does_not_take_it():
    X, _, y_noisy = _blank_stream()
    with pytest.raises(ValueError, match="NaN"):
        SkepticalCleaner(LogisticRegression(), n_bootstrap=50).fit(X, y_noisy)


def test_when_every_candidate_is_blank_no_counter_example_is_shown():
    X, y = make_classification(n_samples=120, n_features=4, random_state=0)
    y_noisy, _ = make_label_noise(y, 0.3, random_state=0)
    X[:60][y_noisy[:60] == 0] = np.nan  # the first rows labeled 0 are blank
    blank = np.isnan(X).all(axis=1)
    asked = []

    def keep(query):  # keeps every label: the candidates are known in advance
        asked.append(query)
        return Answer(query.label, query.counter_label)

    SkepticalCleaner(
        make_pipeline(SimpleImputer(), LogisticRegression()),
        oracle=keep,
        n_bootstrap=50,
        random_state=0,
        threshold=0.0,
    ).fit(X, y_noisy)
    empty = 0
    for query in asked:
        # the candidates: earlier rows labeled as predicted, with a value
        earlier = np.arange(query.example_id)
        candidates = set(
            earlier[(y_noisy[earlier] == query.prediction) & ~blank[earlier]].tolist()
        )
        shown = {ce.example_id for ce in query.counter_examples}
        assert shown <= candidates
        assert bool(shown) == bool(candidates)  # none rather than a blank one
        empty += not shown
    assert empty >= 3  # questions whose only candidates were blank
    assert len(asked) > empty  # and later ones, once a row with values came


def test_missing_values_read_missing_never_nan():
    import pandas as pd

    assert [fmt(v) for v in (np.nan, None, pd.NA, np.float64("nan"), 1.5, "a")] == [
        "missing",
        "missing",
        "missing",
        "missing",
        "1.5",
        "a",
    ]
    # a whole number reads whole; others keep four digits
    assert [fmt(v) for v in (77516.0, np.float64(-3.0), 1e12, 0.000123456)] == [
        "77516",
        "-3",
        "1e+12",
        "0.0001235",
    ]
    query = Query(
        example_id=4,
        x=np.array([np.nan, 2.0, np.nan]),
        label=0,
        prediction=1,
        margin=0.5,
        classes=np.array([0, 1]),
        feature_names=np.array(["age", "income", "height"]),
        counter_examples=(CounterExample(9, np.array([30.0, 2.0, np.nan]), 1, 0.4),),
    )
    renderer = Renderer(n_highlight=3)
    example, (counter,) = renderer.html_views(query)
    assert "nan" not in (example + counter).lower()
    assert example.count(">missing<") == 2 and counter.count(">missing<") == 1
    # missing on both sides is no difference; on one, unknown: never highlighted
    _, hot, _ = renderer.feature_order(query)
    assert hot == set()
    text = renderer.text_views(query)[0]
    assert "nan" not in text.lower() and text.count("missing") == 3


def test_the_terminal_shows_missing_values_as_missing():
    import io

    query = Query(
        example_id=4,
        x=np.array([np.nan, 2.0]),
        label="a",
        prediction="b",
        margin=0.5,
        classes=np.array(["a", "b"]),
        counter_example_id=9,
        counter_x=np.array([1.0, np.nan]),
        counter_label="b",
    )
    oracle = TerminalOracle(
        annotator="ana", stdin=io.StringIO("\n\n"), stdout=io.StringIO()
    )
    oracle(query)
    out = oracle.stdout.getvalue()
    assert "nan" not in out.lower() and out.count("missing") == 2
