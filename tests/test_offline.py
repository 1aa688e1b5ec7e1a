"""Offline batches: export the questions, answer them in a file, import them."""

import csv
import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from test_cleaner import breast_stream

from sklearn_cincer import SimulatedOracle, SkepticalCleaner
from sklearn_cincer.oracles import (
    OfflineAnswers,
    OracleError,
    export_questions,
    read_answers,
)

KEYS = (
    "round",
    "example_id",
    "counter_example_id",
    "label_before",
    "label_after",
    "counter_label_before",
    "counter_label_after",
    "dropped",
    "counter_example_ids",
    "counter_labels_after",
)


@pytest.fixture(scope="module")
def data():
    X, y, y_noisy, _ = breast_stream(1, n=180)
    # String labels: the CSV round trip must give them back as classes.
    names = np.array(["benign", "malignant"])
    return X, names[y], names[y_noisy]


def _cleaner(oracle, strategy="relabel", m=1):
    return SkepticalCleaner(
        LogisticRegression(),
        oracle=oracle,
        random_state=0,
        counter_examples=strategy,
        n_counter_examples=m,
    )


def _team_answers(path, y_true):
    """A team that knows the truth fills in a batch file (CSV or JSON)."""
    if path.suffix == ".json":
        rows = json.loads(path.read_text())
    else:
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle))
    for row in rows:
        row["answer"] = str(y_true[int(row["example_id"])])
        # every counter-example: counter_example_id, then _2, _3... (several)
        for column in [c for c in row if c.startswith("counter_example_id")]:
            if row[column] not in ("", None):
                answer = column.replace("counter_example_id", "counter_answer")
                row[answer] = str(y_true[int(row[column])])
        row["annotator"] = "team"
    if path.suffix == ".json":
        path.write_text(json.dumps(rows))
    else:
        with open(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


@pytest.mark.parametrize(
    "suffix, strategy, m",
    [
        (".csv", "relabel", 1),
        (".json", "drop", 1),
        # several counter-examples per question: a column group each
        (".csv", "relabel", 2),
        (".json", "relabel", 3),
        (".csv", "drop", 2),
    ],
)
def test_batches_until_nothing_is_left_equal_the_interactive_run(
    tmp_path, data, suffix, strategy, m
):
    X, y, y_noisy = data
    interactive = _cleaner(SimulatedOracle(y), strategy, m).fit(X, y_noisy)

    first = _cleaner(None, strategy, m).fit(X, y_noisy)
    batches = [tmp_path / f"batch1{suffix}"]
    assert export_questions(first.history_, batches[0]) == first.n_queries_ > 0
    for number in range(2, 40):
        _team_answers(batches[-1], y)
        oracle = OfflineAnswers(batches)
        cleaner = _cleaner(oracle, strategy, m).fit(X, y_noisy)
        if not oracle.unanswered_:
            break
        batches.append(tmp_path / f"batch{number}{suffix}")
        export_questions(oracle.unanswered_, batches[-1])
    else:
        pytest.fail("the batches did not converge")

    np.testing.assert_array_equal(cleaner.y_cleaned_, interactive.y_cleaned_)
    np.testing.assert_array_equal(cleaner.ids_, interactive.ids_)
    assert [tuple(getattr(r, k) for k in KEYS) for r in cleaner.history_] == [
        tuple(getattr(r, k) for k in KEYS) for r in interactive.history_
    ]
    assert {r.annotator for r in cleaner.history_} == {"team"}
    assert isinstance(cleaner.y_cleaned_[0], str)
    # More than one batch was needed: answers changed the later questions.
    assert len(batches) > 1
    assert {len(r.counter_example_ids) for r in cleaner.history_} == {m}
    if m > 1:
        assert all(len(row["counter_answers"]) == m for row in read_answers(batches[0]))


def test_first_batch_alone_cleans_what_it_answers(tmp_path, data):
    X, y, y_noisy = data
    first = _cleaner(None).fit(X, y_noisy)
    path = tmp_path / "batch1.csv"
    export_questions(first.history_, path, rows=[f"line{i + 2}" for i in range(180)])
    _team_answers(path, y)
    oracle = OfflineAnswers(path)
    cleaner = _cleaner(oracle).fit(X, y_noisy)
    assert oracle.n_answered_ > 0
    assert oracle.n_answered_ + len(oracle.unanswered_) == cleaner.n_queries_
    # Every answer used is the team's; the others kept the labels.
    for record in cleaner.history_:
        if record.annotator == "team":
            assert record.label_after == y[record.example_id]
            assert record.counter_label_after == y[record.counter_example_id]
        else:
            assert record.skipped and record.label_after == record.label_before
    with open(path, newline="") as handle:
        first_row = next(csv.DictReader(handle))
    assert first_row["row"] == f"line{int(first_row['example_id']) + 2}"


def test_fallback_answers_what_the_files_do_not(tmp_path, data):
    X, y, y_noisy = data
    asked = []

    def person(query):
        asked.append(query.example_id)
        return SimulatedOracle(y)(query)

    path = tmp_path / "empty.csv"
    export_questions([], path)
    oracle = OfflineAnswers(path, fallback=person)
    cleaner = _cleaner(oracle).fit(X, y_noisy)
    assert asked == [r.example_id for r in cleaner.history_]
    assert oracle.unanswered_ == []


def test_read_answers_skips_empty_answers_and_checks_columns(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text(
        "example_id,counter_example_id,label,counter_label,answer\n5,,a,,b\n6,2,a,b,\n"
    )
    assert read_answers(path) == [
        {
            "example_id": 5,
            "counter_example_id": None,
            "label": "a",
            "counter_label": None,
            "answer": "b",
            "counter_answer": None,
            "annotator": None,
        }
    ]
    bad = tmp_path / "bad.csv"
    bad.write_text("id,label\n1,a\n")
    with pytest.raises(ValueError, match="lacks the column"):
        read_answers(bad)
    with pytest.raises(ValueError, match=".csv or .json"):
        export_questions([], tmp_path / "q.xlsx")


def test_an_answer_outside_the_classes_is_a_clear_error(tmp_path, data):
    X, y, y_noisy = data
    first = _cleaner(None).fit(X, y_noisy)
    path = tmp_path / "batch1.csv"
    export_questions(first.history_[:1], path)
    rows = list(csv.DictReader(open(path, newline="")))
    rows[0]["answer"] = "benign?"
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    cleaner = _cleaner(OfflineAnswers(path))
    with pytest.raises(OracleError, match="'benign\\?'.*not one of the classes"):
        cleaner.fit(X, y_noisy)
