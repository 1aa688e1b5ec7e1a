"""``sklearn-cincer clean``, end to end: a CSV file in, a cleaned CSV file out."""

import contextlib
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
    return [
        "clean",
        str(path),
        "--label",
        "diagnosis",
        "--output",
        str(output),
        "--ignore",
        "patient",
        *more,
    ]


@pytest.mark.parametrize("m", [1, 2])
def test_offline_batches_end_to_end_equal_an_interactive_run(
    data_csv, tmp_path, capsys, m
):
    path, truth, noisy = data_csv
    several = ["--n-counter-examples", str(m)] if m > 1 else []
    output = tmp_path / "cleaned.csv"
    batches = []
    for number in range(1, 30):
        batch = tmp_path / f"batch{number}.csv"
        answers = ["--answers", *map(str, batches)] if batches else []
        code = main(
            _args(
                path,
                output,
                "--oracle",
                "none",
                "--questions",
                str(batch),
                *answers,
                *several,
            )
        )
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
    pd.testing.assert_frame_equal(
        cleaned.drop(columns="diagnosis"), original.drop(columns="diagnosis")
    )
    assert (cleaned["diagnosis"] != noisy).sum() > 0
    assert (cleaned["diagnosis"] != truth).sum() < (noisy != truth).sum()

    # The same answers given interactively, in Python, clean the same labels.
    from sklearn_cincer._cli.clean import Table, default_model

    table = Table(original, "diagnosis", ignore=["patient"], seed=0)
    interactive = SkepticalCleaner(
        default_model(table),
        oracle=SimulatedOracle(truth[table.order]),
        refit="incremental",
        random_state=0,
        n_counter_examples=m,
        n_bootstrap=85,  # the command's default for 170 rows: half
    ).fit(table.X, table.y)
    np.testing.assert_array_equal(
        cleaned["diagnosis"].to_numpy(),
        table.cleaned_frame(interactive.y_cleaned_)["diagnosis"].to_numpy(),
    )
    changes = pd.read_csv(tmp_path / "cleaned.changes.csv")
    assert len(changes) == (
        interactive.n_relabeled_examples_ + interactive.n_relabeled_counter_examples_
    )
    for row in changes.itertuples():
        assert truth[row.line - 2] == row.label_after
        assert noisy[row.line - 2] == row.label_before or row.role == "counter-example"


def test_terminal_through_stdin_stops_and_resumes(
    data_csv, tmp_path, monkeypatch, capsys
):
    path, truth, noisy = data_csv
    # Exact class names, two lines per question (the example, then the
    # counter-example); the same sequence for every run.
    lines = [NAMES[(i // 3) % 2] for i in range(400)]

    def clean(output, text):
        monkeypatch.setattr("sys.stdin", io.StringIO(text))
        code = main(_args(path, output, "--oracle", "terminal", "--annotator", "ana"))
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
    # Ctrl-D keeps what was done: the two answers' labels, in both files
    assert re.search(
        r"^Stopped after 2 answers; wrote .*cleaned\.csv with the "
        r"(\d+) labels they changed",
        captured.err,
        re.M,
    )
    partial = pd.read_csv(part)
    partial_changes = pd.read_csv(part.with_suffix(".changes.csv"))
    assert set(partial_changes["round"]).issubset(range(1, 200))
    assert len(partial_changes) == (partial["diagnosis"] != noisy).sum() > 0
    for row in partial_changes.itertuples():
        assert partial["diagnosis"][row.line - 2] == row.label_after
    code, captured = clean(part, "\n".join(lines[4:]) + "\n")
    assert code == 0
    assert "2 answers came from" in captured.out
    pd.testing.assert_frame_equal(pd.read_csv(part), pd.read_csv(whole))
    changes = pd.read_csv(part.with_suffix(".changes.csv"))
    assert set(changes["annotator"]) == {"ana"}


def test_row_view_shows_the_files_row_escaped_for_the_browser():
    from sklearn_cincer._cli.clean import RowView, Table, row_name

    frame = pd.DataFrame(
        {
            "note": ["<b>bold</b>", "plain", "x", "y"],
            "size": [1.0, None, 3.0, 4.0],
            "label": ["a", "b", "a", "b"],
        }
    )
    table = Table(frame, "label", shuffle=False)
    assert table.X[1, 1] == 3.0  # the median of 1, 3 and 4
    html_view = RowView(table, as_html=True)(table.X[0], 0)
    assert "&lt;b&gt;bold&lt;/b&gt;" in html_view and "<b>" not in html_view
    # the row is named by the oracle (example_name), once: not in the view too
    assert "line" not in html_view and row_name(table, 0) == "line 2"
    text_view = RowView(table, as_html=False)(table.X[1], 1)
    assert text_view.splitlines() == ["note: plain", "size: missing"]


# ------------------------------------------------------------ bad input


def _small(tmp_path, name="small.csv", n=40, text=None):
    """A small learnable table: x decides the label, two labels flipped."""
    if text is None:
        rows = ["x,color,y"]
        for i in range(n):
            label = "a" if i % 2 else "b"
            if i in (7, 12):
                label = "b" if label == "a" else "a"
            rows.append(
                f"{(i % 2) * 2 + i / 100:.2f},{'red' if i % 3 else 'blue'},{label}"
            )
        text = "\n".join(rows) + "\n"
    path = tmp_path / name
    path.write_text(text)
    return path


def _bad_cases(tmp_path):
    """``(argv, exit status, words of the one line)`` of bad invocations."""
    import os

    data = _small(tmp_path)
    out = tmp_path / "out.csv"
    one_class = _small(tmp_path, "one.csv", text="x,y\n1,a\n2,a\n3,a\n")
    header = _small(tmp_path, "header.csv", text="x,y\n")
    empty = _small(tmp_path, "empty.csv", text="")
    semicolons = _small(tmp_path, "semi.csv", text="x;y\n1;a\n2;b\n")
    unclosed = _small(tmp_path, "unclosed.csv", text='x,y\n1,"a\n2,b\n')
    ragged = _small(tmp_path, "ragged.csv", text="x,y\n1,a\n2,b,c,d\n3,a\n")
    no_values = _small(tmp_path, "novalues.csv", text="x,z,y\n1,,a\n2,,b\n")
    no_labels = _small(tmp_path, "nolabels.csv", text="x,y\n1,\n2,\n")
    folder = tmp_path / "folder"
    folder.mkdir()
    afile = tmp_path / "afile"
    afile.write_text("not a folder\n")
    link = tmp_path / "link.csv"
    link.symlink_to(data)
    hard = tmp_path / "hard.csv"
    os.link(data, hard)
    batch = tmp_path / "batch.csv"
    batch.write_text("example_id,label\n1,a\n")  # no 'answer' column
    other_app = tmp_path / "notes.txt"
    other_app.write_text("somebody's notes\n")
    base = ["clean", str(data), "--label", "y", "--oracle", "none"]
    with_out = base + ["--output", str(out)]
    cases = [
        (
            ["clean", str(one_class), "--label", "y", "--output", str(out)],
            1,
            "one class",
        ),
        (
            ["clean", str(header), "--label", "y", "--output", str(out)],
            1,
            "header but no row",
        ),
        (["clean", str(empty), "--label", "y", "--output", str(out)], 1, "empty"),
        (
            ["clean", str(semicolons), "--label", "y", "--output", str(out)],
            1,
            "--sep ';'",
        ),
        (["clean", str(unclosed), "--label", "y", "--output", str(out)], 1, "quotes"),
        (["clean", str(ragged), "--label", "y", "--output", str(out)], 1, "--sep"),
        (
            ["clean", str(no_values), "--label", "y", "--output", str(out)],
            1,
            "--ignore z",
        ),
        (
            ["clean", str(no_labels), "--label", "y", "--output", str(out)],
            1,
            "empty in every row",
        ),
        (
            [
                "clean",
                str(tmp_path / "missing.csv"),
                "--label",
                "y",
                "--output",
                str(out),
            ],
            1,
            "missing.csv: no such file",
        ),
        (
            ["clean", str(folder), "--label", "y", "--output", str(out)],
            1,
            "is a folder",
        ),
        (with_out + ["--threshold", "5"], 2, "--threshold"),
        (with_out + ["--n-bootstrap", "0"], 2, "--n-bootstrap"),
        (with_out + ["--model", "forest"], 2, "--model"),
        (with_out[:-2], 2, "--output"),
        (base + ["--output", str(folder)], 1, "is a folder"),
        (base + ["--output", "/dev/null"], 1, "not a regular file"),
        (
            ["clean", "/dev/null", "--label", "y", "--output", str(out)],
            1,
            "not a regular file",
        ),
        (base + ["--output", str(afile / "out.csv")], 1, "is a file, not a folder"),
        (base + ["--output", str(data)], 1, "same file as DATA"),
        (base + ["--output", str(link)], 1, "same file as DATA"),
        (base + ["--output", str(hard)], 1, "same file as DATA"),
        (with_out + ["--changes", str(data)], 1, "same file as DATA"),
        (with_out + ["--changes", str(out)], 1, "same file as --output"),
        (with_out + ["--questions", str(data)], 1, "same file as DATA"),
        (with_out + ["--questions", str(tmp_path / "q.txt")], 1, ".csv or .json"),
        (
            with_out + ["--store", str(data), "--oracle", "terminal"],
            1,
            "same file as DATA",
        ),
        (with_out + ["--store", str(data)], 1, "not an SQLite database"),
        (
            with_out + ["--store", str(afile), "--oracle", "terminal"],
            1,
            "not an SQLite database",
        ),
        (with_out + ["--store", str(out)], 1, "same file as --store"),
        (with_out + ["--answers", str(tmp_path / "b.csv")], 1, "b.csv: no such file"),
        (
            with_out + ["--answers", str(batch), "--questions", str(batch)],
            1,
            "same file as --answers",
        ),
        (with_out + ["--answers", str(batch)], 1, "'answer'"),
        (with_out + ["--label", "nope"], 1, "no column 'nope'"),
        (with_out + ["--ignore", "nope"], 1, "lacks"),
        (with_out + ["--ignore", "y"], 1, "label column"),
        (with_out + ["--ignore", "x", "color"], 1, "no feature column"),
        (with_out + ["--sep", "ab"], 1, "one character"),
        (with_out + ["--store", str(other_app)], 1, "notes.txt"),
    ]
    return cases, [other_app]


def assert_one_line_each(cases, folder, capsys, command="clean"):
    """Each ``(argv, status, words)`` exits with ``status`` and one error line
    holding ``words`` (argparse's usage aside), and writes nothing in
    ``folder``."""
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    for argv, status, words in cases:
        try:
            code = main(argv)
        except SystemExit as exit_:  # argparse's own errors
            code = exit_.code
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert code == status, (argv, captured.err)
        assert len(lines) == 1 or status == 2, (argv, captured.err)
        assert words in lines[-1], (argv, lines[-1])
        assert status == 2 or lines[-1].startswith(f"sklearn-cincer {command}: ")
        assert "Traceback" not in captured.err
        after = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
        assert after == before, argv  # no file written, none changed


def test_every_bad_invocation_gives_one_line_and_writes_nothing(tmp_path, capsys):
    cases, untouched = _bad_cases(tmp_path)
    assert_one_line_each(cases, tmp_path, capsys)
    assert untouched[0].read_text() == "somebody's notes\n"


def test_the_console_script_prints_no_traceback(tmp_path):
    import subprocess

    header = _small(tmp_path, "header.csv", text="x,y\n")
    done = subprocess.run(  # noqa: PLW1510  (the status is asserted)
        [
            "sklearn-cincer",
            "clean",
            str(header),
            "--label",
            "y",
            "--output",
            str(tmp_path / "out.csv"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        (f"sklearn-cincer clean: error: {header}: The file has a header but no row.")
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["header.csv"]


def test_id_like_columns_are_flagged_before_the_run(data_csv, tmp_path, capsys):
    path, _, _ = data_csv
    out = tmp_path / "c.csv"
    argv = [
        "clean",
        str(path),
        "--label",
        "diagnosis",
        "--output",
        str(out),
        "--oracle",
        "none",
        "--n-bootstrap",
        "160",
    ]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "column 'patient' holds a different value in every row" in err
    assert "pass --ignore patient" in err
    assert main(argv + ["--ignore", "patient"]) == 0
    assert "warning" not in capsys.readouterr().err


@pytest.mark.parametrize("model", ["sgd", "mlp"])
def test_model_option_picks_the_classifier(tmp_path, capsys, model):
    from sklearn.linear_model import SGDClassifier
    from sklearn.neural_network import MLPClassifier

    from sklearn_cincer._cli.clean import Table, default_model

    data = _small(tmp_path, n=60)
    out = tmp_path / "out.csv"
    assert (
        main(
            [
                "clean",
                str(data),
                "--label",
                "y",
                "--output",
                str(out),
                "--oracle",
                "none",
                "--model",
                model,
            ]
        )
        == 0
    )
    assert out.read_bytes() == data.read_bytes()  # nobody answered
    table = Table(pd.read_csv(data), "y")
    kind = {"sgd": SGDClassifier, "mlp": MLPClassifier}[model]
    assert isinstance(default_model(table, model=model)[-1], kind)


# ------------------------------------------------------- the file as read


def _messy(labels):
    """A file's bytes: BOM, CRLF, NA, integers in a float column, quoted
    fields with commas, quotes and line breaks, escape sequences; returns
    ``(bytes, line of each row)``."""
    rows, lines, line = ["x,count,note,y,where"], [], 2
    for i, label in enumerate(labels):
        count = "NA" if i % 7 == 3 else (str(180 + i) if i % 2 else f"{i}.5")
        note = (
            '"line one\r\nline two, with a comma"'
            if i % 5 == 0
            else '"say ""hi"""'
            if i % 5 == 1
            else "\x1b[2J\x1b]0;title\x07"
            if i % 5 == 2
            else "plain"
        )
        x = _x(i)
        rows.append(f"{x:.1f},{count},{note},{label},{'w' if i % 2 else 'v'}")
        lines.append(line)
        line += 1 + note.count("\n")
    text = "\r\n".join(rows) + "\r\n"
    return b"\xef\xbb\xbf" + text.encode("utf-8"), lines


def _x(i):
    """The feature of row ``i``: its side says the true label ('a' if odd)."""
    return (1 if i % 2 else -1) * (1 + (i % 4) / 10)


def _noisy_labels(n=60):
    labels = ["a" if i % 2 else "b" for i in range(n)]
    for i in (33, 35, 40, 44, 47, 52, 55, 58):
        labels[i] = "b" if labels[i] == "a" else "a"
    return labels


def _answer_a(monkeypatch, n_lines):
    """The person answers 'a' to everything, then the input ends."""
    monkeypatch.setattr("sys.stdin", io.StringIO("a\n" * n_lines))


def test_cleaned_file_keeps_every_byte_but_the_changed_labels(
    tmp_path, capsys, monkeypatch
):
    labels = _noisy_labels()
    data, lines = _messy(labels)
    path = tmp_path / "messy.csv"
    path.write_bytes(data)
    out = tmp_path / "cleaned.csv"
    _answer_a(monkeypatch, 400)
    assert (
        main(
            [
                "clean",
                str(path),
                "--label",
                "y",
                "--output",
                str(out),
                "--n-bootstrap",
                "30",
                "--threshold",
                "0.1",
                "--no-shuffle",
            ]
        )
        == 0
    )
    shown = capsys.readouterr().out
    changes = pd.read_csv(tmp_path / "cleaned.changes.csv")
    assert len(changes) > 0 and set(changes["label_after"]) == {"a"}
    # the file as written with the labels the changes table gives
    by_line = dict(zip(changes["line"], changes["label_after"]))
    cleaned = [by_line.get(line, label) for line, label in zip(lines, labels)]
    assert out.read_bytes() == _messy(cleaned)[0]
    assert out.read_bytes() != data

    # "line N" shown to the person is the row's line in the file: the row
    # shown under it has that row's note and 'where'
    views = re.findall(r"--- line (\d+):\n((?:.*\n){4})", shown)
    assert len(views) >= 2
    for line, view in views:
        i = lines.index(int(line))
        assert f"where: {'w' if i % 2 else 'v'}" in view
        assert f"x: {_x(i):.1f}" in view
    # escape sequences in the data reach the terminal inert
    assert "\x1b" not in shown and "\x07" not in shown
    assert "\\x1b[2J\\x1b]0;title\\x07" in shown


def test_output_symlink_is_replaced_not_followed(tmp_path, capsys):
    data = _small(tmp_path)
    victim = tmp_path / "somebody_elses.txt"
    victim.write_text("keep me\n")
    out = tmp_path / "out.csv"
    out.symlink_to(victim)
    assert (
        main(
            [
                "clean",
                str(data),
                "--label",
                "y",
                "--output",
                str(out),
                "--oracle",
                "none",
            ]
        )
        == 0
    )
    assert victim.read_text() == "keep me\n"
    assert not out.is_symlink() and out.read_bytes() == data.read_bytes()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_failed_late_write_changes_no_earlier_output(tmp_path, capsys, monkeypatch):
    data = _small(tmp_path, n=60)
    out, changes = tmp_path / "out.csv", tmp_path / "out.changes.csv"
    out.write_text("earlier output\n")
    changes.write_text("earlier changes\n")
    questions = tmp_path / "q.csv"

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("sklearn_cincer._cli.clean._add_csv_values", full_disk)
    code = main(
        [
            "clean",
            str(data),
            "--label",
            "y",
            "--output",
            str(out),
            "--oracle",
            "none",
            "--questions",
            str(questions),
            "--threshold",
            "0",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert err.strip().splitlines()[-1] == (
        "sklearn-cincer clean: error: writing the outputs failed ([Errno 28] No "
        "space left on device); no output was changed."
    )
    assert "Traceback" not in err
    assert out.read_text() == "earlier output\n"
    assert changes.read_text() == "earlier changes\n"
    assert not questions.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "out.changes.csv",
        "out.csv",
        "small.csv",
    ]


# ------------------------------------------------------ stop, keep, resume


class _StopsAfter:
    """stdin whose reading raises ``stop`` after ``n`` lines of 'a'."""

    def __init__(self, n, stop):
        self.n, self.stop = n, stop

    def readline(self):
        if self.n == 0:
            raise self.stop
        self.n -= 1
        return "a\n"

    def isatty(self):
        return False


@pytest.mark.parametrize("stop,status", [(KeyboardInterrupt, 130), (EOFError, 1)])
def test_ctrl_c_and_ctrl_d_keep_the_answers_given(
    tmp_path, capsys, monkeypatch, stop, status
):
    path = tmp_path / "messy.csv"
    path.write_bytes(_messy(_noisy_labels())[0])
    out = tmp_path / "cleaned.csv"
    argv = [
        "clean",
        str(path),
        "--label",
        "y",
        "--output",
        str(out),
        "--n-bootstrap",
        "30",
        "--threshold",
        "0.1",
        "--no-shuffle",
        "--counter-examples",
        "none",
    ]
    monkeypatch.setattr("sys.stdin", _StopsAfter(3, stop()))
    assert main(argv) == status
    err = capsys.readouterr().err
    assert re.search(
        r"^Stopped after 3 answers; wrote .*cleaned\.csv with the "
        r"(\d+) labels they changed",
        err,
        re.M,
    ), err
    partial = pd.read_csv(out)["y"]
    changes = pd.read_csv(tmp_path / "cleaned.changes.csv")
    assert len(changes) == (partial != pd.read_csv(path)["y"]).sum() > 0

    # the store has them: the whole run replays them and asks the rest
    _answer_a(monkeypatch, 400)
    assert main(argv) == 0
    assert "3 answers came from" in capsys.readouterr().out
    whole = pd.read_csv(out)["y"]
    assert (whole[partial != pd.read_csv(path)["y"]] == "a").all()


def test_oracle_none_applies_the_stores_answers(tmp_path, capsys, monkeypatch):
    path = tmp_path / "messy.csv"
    path.write_bytes(_messy(_noisy_labels())[0])
    out = tmp_path / "cleaned.csv"
    argv = [
        "clean",
        str(path),
        "--label",
        "y",
        "--output",
        str(out),
        "--n-bootstrap",
        "30",
        "--threshold",
        "0.1",
        "--no-shuffle",
    ]
    monkeypatch.setattr("sys.stdin", _StopsAfter(4, EOFError()))
    assert main(argv) == 1  # two questions answered (example, counter-example)
    capsys.readouterr()
    partial = out.read_bytes()
    store = out.with_suffix(".answers.sqlite")
    store_bytes = store.read_bytes()
    questions = tmp_path / "batch.json"
    assert main(argv + ["--oracle", "none", "--questions", str(questions)]) == 0
    said = capsys.readouterr().out
    assert "2 answers came from the store" in said
    assert out.read_bytes() == partial  # the same answers, applied
    assert store.read_bytes() == store_bytes  # only read

    # the team gets each row's values, as in the file
    import json

    lines = _messy(_noisy_labels())[1]
    records = json.loads(questions.read_text())
    assert records
    for record in records:
        i = lines.index(int(record["row"]))
        assert record["example: where"] == ("w" if i % 2 else "v")
        assert record["example: count"] == (
            "NA" if i % 7 == 3 else str(180 + i) if i % 2 else f"{i}.5"
        )
        k = lines.index(int(record["counter_row"]))
        assert record["counter-example: where"] == ("w" if k % 2 else "v")
        assert "example: y" not in record  # the label has its own column


def test_exported_csv_questions_carry_the_rows(data_csv, tmp_path, capsys):
    path, _, _ = data_csv
    batch = tmp_path / "batch1.csv"
    assert (
        main(
            _args(
                path,
                tmp_path / "c.csv",
                "--oracle",
                "none",
                "--questions",
                str(batch),
                "--n-counter-examples",
                "2",
            )
        )
        == 0
    )
    with open(batch, newline="") as handle:
        rows = list(csv.DictReader(handle))
    original = pd.read_csv(path, dtype=str)
    columns = list(rows[0])
    # the team's columns stay last
    assert columns[-4:] == ["answer", "counter_answer", "counter_answer_2", "annotator"]
    assert columns.index("example: patient") < columns.index("answer")
    for row in rows:
        assert row["example: patient"] == original["patient"][int(row["row"]) - 2]
        assert (
            row["counter-example 2: patient"]
            == original["patient"][int(row["counter_row_2"]) - 2]
        )


@contextlib.contextmanager
def _read_only(folder):
    """``folder`` made read-only, also for root (immutable, with chattr)."""
    import os
    import subprocess

    folder.chmod(0o500)
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    if (
        root
        and subprocess.run(
            ["chattr", "+i", str(folder)], check=False, capture_output=True
        ).returncode
        != 0
    ):
        folder.chmod(0o700)
        pytest.skip("root writes in read-only folders, and chattr failed here")
    try:
        yield
    finally:
        if root:
            subprocess.run(["chattr", "-i", str(folder)], check=False)
        folder.chmod(0o700)


def test_an_output_in_a_read_only_folder_is_one_line(tmp_path, capsys):
    data = _small(tmp_path)
    folder = tmp_path / "locked"
    folder.mkdir()
    with _read_only(folder):
        code = main(
            [
                "clean",
                str(data),
                "--label",
                "y",
                "--oracle",
                "none",
                "--output",
                str(folder / "out.csv"),
            ]
        )
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot write --output" in err[0]
    assert list(folder.iterdir()) == []


def test_exported_values_cannot_run_as_spreadsheet_formulas(tmp_path, capsys):
    rows = ["x,color,y"] + [
        f"{(i % 2) * 2 + i / 100:.2f},{'=HYPERLINK(1)' if i % 3 else '-1'},"
        f"{'a' if (i % 2) ^ (i in (30, 33)) else 'b'}"
        for i in range(40)
    ]
    data = _small(tmp_path, text="\n".join(rows) + "\n")
    batch = tmp_path / "q.csv"
    assert (
        main(
            [
                "clean",
                str(data),
                "--label",
                "y",
                "--output",
                str(tmp_path / "out.csv"),
                "--oracle",
                "none",
                "--questions",
                str(batch),
                "--threshold",
                "0",
                "--no-shuffle",
            ]
        )
        == 0
    )
    with open(batch, newline="") as handle:
        cells = {row["example: color"] for row in csv.DictReader(handle)}
    assert cells and cells <= {"'=HYPERLINK(1)", "-1"}


def test_class_names_with_escape_sequences_reach_the_terminal_inert(
    tmp_path, capsys, monkeypatch
):
    evil = "\x1b]0;pwned\x07\x1b[2Ja"
    rows = ["x,y"] + [
        f"{(i % 2) * 2 + i / 100:.2f},{evil if (i % 2) ^ (i in (30, 33, 36)) else 'b'}"
        for i in range(40)
    ]
    data = _small(tmp_path, text="\n".join(rows) + "\n")
    monkeypatch.setattr("sys.stdin", io.StringIO("\n" * 200))  # keep every label
    assert (
        main(
            [
                "clean",
                str(data),
                "--label",
                "y",
                "--output",
                str(tmp_path / "out.csv"),
                "--no-shuffle",
                "--n-bootstrap",
                "20",
                "--threshold",
                "0",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "Classes:" in out  # a question was shown
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b]0;pwned\\x07\\x1b[2Ja" in out
    assert (tmp_path / "out.csv").read_bytes() == data.read_bytes()


@pytest.mark.parametrize(
    "data,lines",
    [
        (b"x,y\r1,a\r2,b\r", [2, 3]),  # old Mac line endings
        (b"x,y\n\n1,a\n\n2,b", [3, 5]),  # blank lines, no last break
        (b'x,y\n"1\n\n1",a\n2,b\n', [2, 5]),  # a blank line inside quotes
        (b"x,y\n\xe9t\xe9,a\n2,b\n", [2, 3]),  # latin-1, not UTF-8
        (b'\xef\xbb\xbfx;y\r\n"1;0";"a"\r\n2;b\r\n', [2, 3]),  # BOM, ';', quoted
    ],
)
def test_records_and_lines_match_pandas_and_round_trip(tmp_path, data, lines):
    import types

    from sklearn_cincer._cli.clean import read_table

    path = tmp_path / "f.csv"
    path.write_bytes(data)
    sep = ";" if b";" in data else ","
    args = types.SimpleNamespace(
        data=path, sep=sep, label="y", ignore=[], no_shuffle=True, seed=0
    )
    table = read_table(args)
    assert table.line([0, 1]).tolist() == lines
    assert table.cleaned_bytes(table.y) == data
    flipped = table.cleaned_bytes(np.array(["b", "a"]))
    encoding = "latin-1" if b"\xe9" in data else "utf-8-sig"
    back = pd.read_csv(io.StringIO(flipped.decode(encoding)), sep=sep)
    front = pd.read_csv(io.StringIO(data.decode(encoding)), sep=sep)
    assert back["y"].tolist() == ["b", "a"]
    pd.testing.assert_series_equal(back["x"], front["x"])
    assert flipped.startswith(data[:3]) and flipped.count(b"\r") == data.count(b"\r")


def test_a_missing_dependency_is_named_before_any_work(tmp_path, capsys, monkeypatch):
    data = _small(tmp_path)
    monkeypatch.setitem(__import__("sys").modules, "bottle", None)
    assert (
        main(
            [
                "clean",
                str(data),
                "--label",
                "y",
                "--oracle",
                "none",
                "--output",
                str(tmp_path / "out" / "c.csv"),
            ]
        )
        == 1
    )
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [
        "sklearn-cincer clean: error: bottle is missing: pip install bottle (or "
        "reinstall sklearn-cincer with its dependencies)."
    ]
    assert captured.out == "" and not (tmp_path / "out").exists()


def test_ctrl_c_at_a_real_terminal_writes_the_answers_given(tmp_path):
    tmux = pytest.importorskip("test_terminal_tmux")  # skips without tmux
    if tmux.TMUX is None:
        pytest.skip("tmux is not installed (apt-get install tmux)")
    path = tmp_path / "messy.csv"
    path.write_bytes(_messy(_noisy_labels())[0])
    out = tmp_path / "cleaned.csv"
    script = (
        "import sys\nfrom sklearn_cincer._cli import main\n"
        f"sys.exit(main(['clean', {str(path)!r}, '--label', 'y', '--output', "
        f"{str(out)!r}, '--n-bootstrap', '30', '--threshold', '0.1', "
        "'--no-shuffle', '--counter-examples', 'none']))\n"
    )
    pane = tmux.Pane(tmp_path, script)
    try:
        for k in (1, 2):
            pane.wait_for("Label for line ", count=k)
            pane.type("a")
        pane.wait_for("Label for line ", count=3)
        pane.send("C-c")
        screen = pane.wait_for("EXIT=")
    finally:
        pane.close()
    assert "EXIT=130" in screen
    assert "Stopped after 2 answers; wrote" in screen
    assert "Traceback" not in screen
    changes = pd.read_csv(tmp_path / "cleaned.changes.csv")
    assert set(changes["label_after"]) <= {"a"}
    assert (pd.read_csv(out)["y"] != pd.read_csv(path)["y"]).sum() == len(changes)


def test_the_person_reads_each_row_by_its_line_and_a_stop_once(
    data_csv, tmp_path, monkeypatch, capsys
):
    path, _, noisy = data_csv
    lines = [NAMES[(i // 3) % 2] for i in range(4)]  # two questions, then EOF
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    output = tmp_path / "cleaned.csv"
    assert main(_args(path, output, "--oracle", "terminal")) == 1
    captured = capsys.readouterr()
    # one name per row, its line in the file: never "#106" beside "line 268"
    asked = re.findall(r"Label for line (\d+) - Enter keeps '(\w+)'", captured.out)
    assert len(asked) == 5 and not re.search(r"#\d", captured.out)
    for line, shown in asked[::2]:  # each suspicious row, streamed once
        assert noisy[int(line) - 2] == shown  # the label on that line of the file
    assert "round" not in captured.out
    assert re.search(r"Question 2 \u00b7 \d+ of \d+ examples seen", captured.out)
    # the stop is said once, on stderr, at the question it stopped
    said = (captured.out + captured.err).lower()
    assert said.count("stopped at question") == 1
    assert "stopped at question 3 (end of input)" in captured.err


def test_ctrl_c_outside_a_question_says_so(data_csv, tmp_path, monkeypatch, capsys):
    path, _, _ = data_csv

    def interrupted(self, X, y):
        raise KeyboardInterrupt  # Ctrl-C while the model learns

    monkeypatch.setattr(SkepticalCleaner, "fit", interrupted)
    assert main(_args(path, tmp_path / "cleaned.csv", "--oracle", "terminal")) == 130
    err = capsys.readouterr().err
    assert "Ctrl-C" in err and "()" not in err
    assert "before any answer; nothing written" in err


def test_terminal_undo_applies_in_the_same_run(data_csv, tmp_path, monkeypatch, capsys):
    path, truth, noisy = data_csv
    # the first question does not depend on any answer: read it from a batch
    batch = tmp_path / "batch.csv"
    assert (
        main(
            _args(
                path,
                tmp_path / "none.csv",
                "--oracle",
                "none",
                "--questions",
                str(batch),
            )
        )
        == 0
    )
    first = pd.read_csv(batch).iloc[0]
    assert not pd.isna(first["counter_row"])  # two prompts: example, counter
    line = int(first["row"])
    right = truth[line - 2]
    wrong = NAMES[NAMES != right][0]
    lines = [
        wrong,
        "",  # question 1: a wrong label, the counter-example kept
        "u",
        right,
        "",  # at question 2: undo, question 1 answered rightly
    ] + [""] * 400  # every other label kept; Enter finishes
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    output = tmp_path / "cleaned.csv"
    assert main(_args(path, output, "--oracle", "terminal", "--annotator", "ana")) == 0
    out = capsys.readouterr().out
    assert "The cleaner applies it before it goes on." in out
    assert "1 answer revised by an undo, applied in this run." in out
    # the undo names the rows as every other line does: by their line
    revising = [x[x.index("Revising") :] for x in out.splitlines() if "Revising" in x]
    assert len(revising) == 1 and "#" not in revising[0]
    assert revising[0].startswith(f"Revising your answer about line {line} ")
    cleaned = pd.read_csv(output)
    assert cleaned["diagnosis"][line - 2] == right
    changes = pd.read_csv(output.with_suffix(".changes.csv"))
    mine = changes[changes["line"] == line]
    assert mine["label_after"].tolist() == ([] if right == noisy[line - 2] else [right])
    # every other row keeps its label: nothing else was changed
    others = np.arange(len(noisy)) != line - 2
    np.testing.assert_array_equal(cleaned["diagnosis"][others], noisy[others])


def test_a_stop_after_an_undo_writes_the_revised_label(
    data_csv, tmp_path, monkeypatch, capsys
):
    path, truth, noisy = data_csv
    batch = tmp_path / "batch.csv"
    assert (
        main(
            _args(
                path,
                tmp_path / "none.csv",
                "--oracle",
                "none",
                "--questions",
                str(batch),
            )
        )
        == 0
    )
    first = pd.read_csv(batch).iloc[0]
    line = int(first["row"])
    right = truth[line - 2]
    wrong = NAMES[NAMES != right][0]
    # question 1 wrongly, undo at question 2, question 1 rightly, then Ctrl-D
    lines = [wrong, "", "u", right, ""]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    output = tmp_path / "cleaned.csv"
    assert main(_args(path, output, "--oracle", "terminal")) == 1
    assert "Stopped after 1 answers; wrote" in capsys.readouterr().err
    cleaned = pd.read_csv(output)
    assert cleaned["diagnosis"][line - 2] == right
    others = np.arange(len(noisy)) != line - 2
    np.testing.assert_array_equal(cleaned["diagnosis"][others], noisy[others])
