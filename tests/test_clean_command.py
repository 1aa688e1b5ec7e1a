"""``sklearn-cincer clean``, end to end: a CSV file in, a cleaned CSV file out."""

import csv
import io
import re

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

from sklearn_cincer import SimulatedOracle, SkepticalCleaner
from sklearn_cincer._cli import main
from sklearn_cincer.datasets import make_label_noise

pd = pytest.importorskip("pandas")

NAMES = np.array(["malignant", "benign"])  # breast cancer's targets 0 and 1


@pytest.fixture
def data_csv(tmp_path):
    """A table with an id column, a text column, a missing number, noisy labels."""
    X, y = load_breast_cancer(return_X_y=True)
    columns = load_breast_cancer().feature_names[:6]
    rows = np.random.RandomState(0).permutation(y.shape[0])[:170]
    X, y = X[rows, :6], y[rows]
    y_noisy, _ = make_label_noise(y, 0.2, random_state=0)
    frame = pd.DataFrame(X, columns=columns)
    frame.insert(0, "patient", [f"p{i:03d}" for i in range(170)])
    frame["size"] = np.where(X[:, 3] > np.median(X[:, 3]), "large", "small")
    frame.loc[3, "mean radius"] = np.nan
    frame["diagnosis"] = NAMES[y_noisy]
    path = tmp_path / "tumors.csv"
    frame.to_csv(path, index=False)
    return path, NAMES[y], NAMES[y_noisy]


def _fill(path, truth):
    """A team that knows the truth answers a batch file; rows by file line."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["answer"] = truth[int(row["row"]) - 2]
        # every counter-example: counter_row, then counter_row_2... (several)
        for column in [c for c in row if c.startswith("counter_row")]:
            if row[column]:
                answer = column.replace("counter_row", "counter_answer")
                row[answer] = truth[int(row[column]) - 2]
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _args(path, output, *more):
    return ["clean", str(path), "--label", "diagnosis", "--output", str(output),
            "--ignore", "patient", *more]


@pytest.mark.parametrize("m", [1, 2])
def test_offline_batches_end_to_end_equal_an_interactive_run(data_csv, tmp_path,
                                                             capsys, m):
    path, truth, noisy = data_csv
    several = ["--n-counter-examples", str(m)] if m > 1 else []
    output = tmp_path / "cleaned.csv"
    batches = []
    for number in range(1, 30):
        batch = tmp_path / f"batch{number}.csv"
        answers = ["--answers", *map(str, batches)] if batches else []
        code = main(_args(path, output, "--oracle", "none", "--questions",
                          str(batch), *answers, *several))
        out = capsys.readouterr().out
        assert code == 0
        if not batch.exists():
            assert "unanswered" not in out
            break
        assert re.search(r"\d+ questions are unanswered: wrote them to", out)
        _fill(batch, truth)
        batches.append(batch)
    else:
        pytest.fail("the batches did not converge")
    assert len(batches) > 1

    cleaned = pd.read_csv(output)
    original = pd.read_csv(path)
    assert list(cleaned.columns) == list(original.columns)
    pd.testing.assert_frame_equal(cleaned.drop(columns="diagnosis"),
                                  original.drop(columns="diagnosis"))
    assert (cleaned["diagnosis"] != noisy).sum() > 0
    assert (cleaned["diagnosis"] != truth).sum() < (noisy != truth).sum()

    # The same answers given interactively, in Python, clean the same labels.
    from sklearn_cincer._clean import Table, default_model

    table = Table(original, "diagnosis", ignore=["patient"], seed=0)
    interactive = SkepticalCleaner(
        default_model(table), oracle=SimulatedOracle(truth[table.order]),
        refit="incremental", random_state=0, n_counter_examples=m,
        n_bootstrap=85,  # the command's default for 170 rows: half
    ).fit(table.X, table.y)
    np.testing.assert_array_equal(
        cleaned["diagnosis"].to_numpy(),
        table.cleaned_frame(interactive.y_cleaned_)["diagnosis"].to_numpy(),
    )
    changes = pd.read_csv(tmp_path / "cleaned.changes.csv")
    assert len(changes) == (interactive.n_relabeled_examples_
                            + interactive.n_relabeled_counter_examples_)
    for row in changes.itertuples():
        assert truth[row.line - 2] == row.label_after
        assert noisy[row.line - 2] == row.label_before or row.role == "counter-example"


def test_terminal_through_stdin_stops_and_resumes(data_csv, tmp_path, monkeypatch,
                                                  capsys):
    path, truth, noisy = data_csv
    # Exact class names, two lines per question (the example, then the
    # counter-example); the same sequence for every run.
    lines = [NAMES[(i // 3) % 2] for i in range(400)]

    def clean(output, text):
        monkeypatch.setattr("sys.stdin", io.StringIO(text))
        code = main(_args(path, output, "--oracle", "terminal", "--annotator",
                          "ana"))
        return code, capsys.readouterr()

    whole = tmp_path / "whole" / "cleaned.csv"
    code, _ = clean(whole, "\n".join(lines) + "\n")
    assert code == 0
    store = whole.with_suffix(".answers.sqlite")
    assert store.exists()

    part = tmp_path / "part" / "cleaned.csv"
    code, captured = clean(part, "\n".join(lines[:4]) + "\n")  # two questions
    assert code == 1
    assert "run the same command again" in captured.err
    assert not part.exists()
    code, captured = clean(part, "\n".join(lines[4:]) + "\n")
    assert code == 0
    assert "2 answers came from" in captured.out
    pd.testing.assert_frame_equal(pd.read_csv(part), pd.read_csv(whole))
    changes = pd.read_csv(part.with_suffix(".changes.csv"))
    assert set(changes["annotator"]) == {"ana"}


def test_clear_errors(data_csv, tmp_path, capsys):
    path, _, _ = data_csv
    out = tmp_path / "c.csv"
    assert main(["clean", str(path), "--label", "nope", "--output", str(out)]) == 1
    assert "no column 'nope'" in capsys.readouterr().err
    assert main(_args(path, out, "--oracle", "none", "--answers", "b.csv",
                      "--questions", "b.csv")) == 1
    assert "overwrite" in capsys.readouterr().err
    assert main(["clean", str(tmp_path / "missing.csv"), "--label", "y",
                 "--output", str(out)]) == 1
    assert "missing.csv" in capsys.readouterr().err


def test_row_view_shows_the_files_row_escaped_for_the_browser():
    from sklearn_cincer._clean import RowView, Table

    frame = pd.DataFrame({"note": ["<b>bold</b>", "plain", "x", "y"],
                          "size": [1.0, None, 3.0, 4.0],
                          "label": ["a", "b", "a", "b"]})
    table = Table(frame, "label", shuffle=False)
    assert table.X[1, 1] == 3.0  # the median of 1, 3 and 4
    html_view = RowView(table, as_html=True)(table.X[0], 0)
    assert "&lt;b&gt;bold&lt;/b&gt;" in html_view and "<b>" not in html_view
    assert "line 2 of the file" in html_view
    text_view = RowView(table, as_html=False)(table.X[1], 1)
    assert text_view.splitlines() == ["line 3 of the file", "note: plain", "size: "]


def test_terminal_undo_applies_in_the_same_run(data_csv, tmp_path, monkeypatch,
                                               capsys):
    path, truth, noisy = data_csv
    # the first question does not depend on any answer: read it from a batch
    batch = tmp_path / "batch.csv"
    assert main(_args(path, tmp_path / "none.csv", "--oracle", "none",
                      "--questions", str(batch))) == 0
    first = pd.read_csv(batch).iloc[0]
    assert not pd.isna(first["counter_row"])  # two prompts: example, counter
    line = int(first["row"])
    right = truth[line - 2]
    wrong = NAMES[NAMES != right][0]
    lines = [wrong, "",  # question 1: a wrong label, the counter-example kept
             "u", right, "",  # at question 2: undo, question 1 answered rightly
             ] + [""] * 400  # every other label kept; Enter finishes
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    output = tmp_path / "cleaned.csv"
    assert main(_args(path, output, "--oracle", "terminal", "--annotator",
                      "ana")) == 0
    out = capsys.readouterr().out
    assert "The cleaner applies it before it goes on." in out
    assert "1 answer revised by an undo, applied in this run." in out
    cleaned = pd.read_csv(output)
    assert cleaned["diagnosis"][line - 2] == right
    changes = pd.read_csv(output.with_suffix(".changes.csv"))
    mine = changes[changes["line"] == line]
    assert mine["label_after"].tolist() == ([] if right == noisy[line - 2]
                                            else [right])
    # every other row keeps its label: nothing else was changed
    others = np.arange(len(noisy)) != line - 2
    np.testing.assert_array_equal(cleaned["diagnosis"][others], noisy[others])
