"""What a user takes home: the cleaned labels of every row, the cleaned data set,
and the table of what changed."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from test_cleaner import breast_stream

from sklearn_cincer import SimulatedOracle, SkepticalCleaner

pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def data():
    return breast_stream(0, n=220)[:3]


@pytest.fixture(scope="module", params=["relabel", "drop"])
def cleaner(request, data):
    X, y, y_noisy = data
    return SkepticalCleaner(
        LogisticRegression(),
        oracle=SimulatedOracle(y),
        random_state=0,
        counter_examples=request.param,
    ).fit(X[:200], y_noisy[:200])


def test_y_cleaned_is_the_current_label_of_every_row(cleaner, data):
    X, y, y_noisy = data
    assert cleaner.y_cleaned_.shape == (cleaner.n_seen_,) == (200,)
    np.testing.assert_array_equal(cleaner.y_cleaned_[cleaner.ids_], cleaner.y_)
    expected = y_noisy[:200].copy()
    for r in cleaner.history_:
        expected[r.example_id] = r.label_after
        if r.relabeled_counter_example:
            expected[r.counter_example_id] = r.counter_label_after
    np.testing.assert_array_equal(cleaner.y_cleaned_, expected)
    assert (cleaner.y_cleaned_ != y_noisy[:200]).sum() > 0
    if cleaner.counter_examples == "drop":
        # A dropped row keeps its label in y_cleaned_ but leaves ids_.
        dropped = [r.counter_example_id for r in cleaner.history_ if r.dropped]
        assert dropped and not np.isin(dropped, cleaner.ids_).any()


def test_y_cleaned_grows_with_partial_fit(data):
    X, y, y_noisy = data
    cleaner = SkepticalCleaner(
        LogisticRegression(), oracle=SimulatedOracle(y), random_state=0
    ).fit(X[:200], y_noisy[:200])
    cleaner.partial_fit(X[200:], y_noisy[200:])
    assert cleaner.y_cleaned_.shape == (220,)
    np.testing.assert_array_equal(cleaner.y_cleaned_[cleaner.ids_], cleaner.y_)


def test_cleaned_dataset_keeps_a_dataframes_index_and_columns(cleaner, data):
    X, y, y_noisy = data
    frame = pd.DataFrame(
        X[:200],
        columns=[f"f{i}" for i in range(X.shape[1])],
        index=[f"row{i}" for i in range(200)],
    )
    with pytest.raises(KeyError):
        frame[cleaner.ids_]  # what the docs used to say
    X_clean, y_clean = cleaner.cleaned_dataset(frame)
    assert isinstance(X_clean, pd.DataFrame) and isinstance(y_clean, pd.Series)
    assert list(X_clean.columns) == list(frame.columns)
    assert list(X_clean.index) == [f"row{i}" for i in cleaner.ids_]
    assert y_clean.index.equals(X_clean.index)
    np.testing.assert_array_equal(y_clean.to_numpy(), cleaner.y_)
    X_arr, y_arr = cleaner.cleaned_dataset(X[:200])
    np.testing.assert_array_equal(X_arr, X[cleaner.ids_])
    np.testing.assert_array_equal(y_arr, cleaner.y_)


def test_cleaned_dataset_refuses_rows_that_are_not_the_stream(cleaner, data):
    X = data[0]
    with pytest.raises(ValueError, match="200 rows.*150"):
        cleaner.cleaned_dataset(X[:150])


def test_label_changes_lists_every_change_and_replays_to_y_cleaned(cleaner, data):
    X, y, y_noisy = data
    table = cleaner.label_changes()
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns) == [
        "round",
        "example_id",
        "role",
        "change",
        "label_before",
        "label_after",
        "annotator",
    ]
    assert len(table) == (
        cleaner.n_relabeled_examples_
        + cleaner.n_relabeled_counter_examples_
        + cleaner.n_dropped_
    )
    assert table["round"].is_monotonic_increasing
    replayed = y_noisy[:200].copy()
    for row in table.itertuples():
        if row.change == "relabeled":
            assert replayed[row.example_id] == row.label_before
            replayed[row.example_id] = row.label_after
    np.testing.assert_array_equal(replayed, cleaner.y_cleaned_)
    dropped = table[table["change"] == "dropped"]
    assert (dropped["role"] == "counter-example").all()
    assert len(dropped) == cleaner.n_dropped_


def test_label_changes_without_pandas(cleaner, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas fails
    rows = cleaner.label_changes()
    assert isinstance(rows, list) and rows and isinstance(rows[0], dict)
    assert set(rows[0]) == {
        "round",
        "example_id",
        "role",
        "change",
        "label_before",
        "label_after",
        "annotator",
    }


def test_silent_stream_warns_with_the_largest_margin(data):
    X, y, y_noisy = data
    with pytest.warns(
        UserWarning,
        match=r"no question in 100 rounds.*largest "
        r"margin.*0\.\d\d.*threshold 1",
    ):
        cleaner = SkepticalCleaner(LogisticRegression(), threshold=1.0).fit(
            X[:200], y_noisy[:200]
        )
    assert cleaner.n_queries_ == 0
