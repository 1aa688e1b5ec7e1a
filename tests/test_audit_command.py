"""``sklearn-cincer audit``, end to end: LabelAuditor on a CSV file."""

import csv
import io
import re

import numpy as np
import pytest

# the clean command's messy file (BOM, CRLF, NA, quoted line breaks, escape
# sequences) and its scripted stdin: the two commands read and stop alike
from test_clean_command import _messy, _StopsAfter, assert_one_line_each
from test_clean_command import _noisy_labels as _noisy

from sklearn_cincer import LabelAuditor, SimulatedOracle
from sklearn_cincer._cli import main

pd = pytest.importorskip("pandas")


def _truth(n=60):
    return ["a" if i % 2 else "b" for i in range(n)]


@pytest.fixture
def messy(tmp_path):
    data, lines = _messy(_noisy())
    path = tmp_path / "messy.csv"
    path.write_bytes(data)
    return path, lines


def _argv(path, out, *more):
    return [
        "audit",
        str(path),
        "--label",
        "y",
        "--output",
        str(out),
        "--ignore",
        "count",
        *more,
    ]


def _python_auditor(path, oracle, **params):
    """The auditor the command runs, built in Python on the same table."""
    from sklearn_cincer._cli.clean import Table, default_model
    from sklearn_cincer._cli.csv_text import CsvText

    text = CsvText(path.read_bytes(), ",")
    frame = pd.read_csv(io.StringIO(text.text))
    table = Table(frame, "y", ignore=["count"], shuffle=False, text=text)
    auditor = LabelAuditor(
        default_model(table), oracle=oracle, random_state=0, **params
    ).fit(table.X, table.y)
    return table, auditor


def test_terminal_answers_change_the_labels_byte_exactly_and_rank_the_issues(
    messy, tmp_path, capsys, monkeypatch
):
    path, lines = messy
    out = tmp_path / "cleaned.csv"
    monkeypatch.setattr("sys.stdin", io.StringIO("a\n" * 400))
    assert main(_argv(path, out, "--budget", "12")) == 0
    shown = capsys.readouterr().out
    changes = pd.read_csv(tmp_path / "cleaned.changes.csv")
    assert len(changes) > 0 and set(changes["label_after"]) == {"a"}
    by_line = dict(zip(changes["line"], changes["label_after"]))
    cleaned = [by_line.get(line, label) for line, label in zip(lines, _noisy())]
    assert out.read_bytes() == _messy(cleaned)[0]  # every other byte as read
    # the same answers given in Python clean the same labels
    table, auditor = _python_auditor(path, SimulatedOracle(np.full(60, "a")), budget=12)
    assert cleaned == list(auditor.y_)
    # the person reads rows by their line, in the note too
    assert not re.search("example #", shown, re.I)
    assert re.search(r"Line \d+'s own label", shown)  # capitals kept
    named = re.findall(r"cross-validated without line (\d+)", shown)
    assert named and all(int(n) in lines for n in named)
    assert "\x1b" not in shown

    # the issues table: LabelAuditor.label_issues_ in rank order, rows by line
    issues = pd.read_csv(tmp_path / "cleaned.issues.csv", keep_default_na=False)
    expected = auditor.label_issues_.sort_values("label_quality", kind="stable")
    assert len(issues) == 60
    assert list(issues["rank"]) == list(range(1, 61))
    assert list(issues["line"]) == [lines[i] for i in expected.index]
    np.testing.assert_allclose(issues["label_quality"], expected["label_quality"])
    for column in ("given_label", "predicted_label", "cleaned_label"):
        assert list(issues[column]) == list(expected[column]), column
    for column in ("is_label_issue", "inspected"):
        assert list(issues[column]) == list(expected[column]), column
    assert sum(issues["inspected"]) == auditor.n_inspected_ > 0
    ce_lines = [str(lines[c]) if c >= 0 else "" for c in expected["counter_example"]]
    assert list(issues["counter_example_line"].astype(str)) == ce_lines
    # the cleaned file agrees with the table, line by line
    for row in issues.itertuples():
        assert cleaned[lines.index(row.line)] == row.cleaned_label


def _fill(path, lines, truth):
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["answer"] = truth[lines.index(int(row["row"]))]
        if row["counter_row"]:
            row["counter_answer"] = truth[lines.index(int(row["counter_row"]))]
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def test_exported_questions_answered_offline_are_applied(messy, tmp_path, capsys):
    path, lines = messy
    out, questions = tmp_path / "cleaned.csv", tmp_path / "q.csv"
    argv = _argv(path, out, "--oracle", "none", "--budget", "10")
    assert main(argv + ["--questions", str(questions)]) == 0
    assert "questions are unanswered: wrote them to" in capsys.readouterr().out
    assert out.read_bytes() == path.read_bytes()  # nothing answered yet
    assert not out.with_suffix(".answers.sqlite").exists()  # none: only read
    n = _fill(questions, lines, _truth())
    assert n > 0

    assert main(argv + ["--answers", str(questions)]) == 0
    said = capsys.readouterr().out
    assert re.search(r"[1-9]\d* answers came from the --answers files", said)
    changes = pd.read_csv(tmp_path / "cleaned.changes.csv")
    assert len(changes) > 0
    for row in changes.itertuples():
        assert row.label_after == _truth()[lines.index(row.line)]
    cleaned = pd.read_csv(out)["y"]
    wrong_before = sum(a != b for a, b in zip(_noisy(), _truth()))
    assert (cleaned != _truth()).sum() < wrong_before
    issues = pd.read_csv(tmp_path / "cleaned.issues.csv")
    assert set(issues.loc[issues["inspected"], "line"]) >= set(changes["line"])


@pytest.mark.parametrize("budget,labels", [("10%", 6), ("4", 4), ("100%", None)])
def test_budget_as_a_percentage_or_a_count(messy, tmp_path, capsys, budget, labels):
    path, _ = messy
    out, questions = tmp_path / "cleaned.csv", tmp_path / "q.csv"
    assert (
        main(
            _argv(
                path,
                out,
                "--oracle",
                "none",
                "--budget",
                budget,
                "--questions",
                str(questions),
            )
        )
        == 0
    )
    said = capsys.readouterr().out
    spent = int(re.search(r"questions \((\d+) labels of the budget\)", said).group(1))
    if labels is None:  # every suspicious label, fewer than the rows
        assert 0 < spent < 60
        assert "until no suspicious label" not in said
    else:
        assert spent == labels
        assert f"up to {labels} labels" in said
    # a question costs one label, two when its counter-example is offered
    assert 0 < len(pd.read_csv(questions)) <= spent


@pytest.mark.parametrize("budget", ["0", "0%", "150%", "-3", "ten", "0.5"])
def test_a_bad_budget_is_one_line(messy, tmp_path, capsys, budget):
    path, _ = messy
    with pytest.raises(SystemExit) as exit_:
        main(_argv(path, tmp_path / "out.csv", "--budget", budget))
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "--budget" in err.strip().splitlines()[-1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["messy.csv"]


@pytest.mark.parametrize("stop,status", [(EOFError, 1), (KeyboardInterrupt, 130)])
def test_a_stop_writes_the_answers_so_far_and_a_rerun_resumes(
    messy, tmp_path, capsys, monkeypatch, stop, status
):
    path, lines = messy
    out = tmp_path / "cleaned.csv"
    argv = _argv(path, out, "--budget", "12")
    monkeypatch.setattr("sys.stdin", _StopsAfter(3, stop()))
    assert main(argv) == status
    err = capsys.readouterr().err
    found = re.search(
        r"^Stopped after (\d+) answers; wrote .*cleaned\.csv with "
        r"the (\d+) labels they changed",
        err,
        re.M,
    )
    assert found, err
    n_answers = int(found.group(1))
    partial = pd.read_csv(out)["y"]
    given = pd.read_csv(path)["y"]
    changes = pd.read_csv(tmp_path / "cleaned.changes.csv")
    assert len(changes) == (partial != given).sum() == int(found.group(2)) > 0
    issues = pd.read_csv(tmp_path / "cleaned.issues.csv")
    assert len(issues) == 60 and list(issues["rank"]) == list(range(1, 61))
    assert set(changes["line"]) <= set(issues.loc[issues["inspected"], "line"])
    for row in issues.itertuples():
        assert row.given_label == given[lines.index(row.line)]
        assert row.cleaned_label == partial[lines.index(row.line)]

    # the store kept them: the whole run asks nothing already answered
    monkeypatch.setattr("sys.stdin", io.StringIO("a\n" * 400))
    assert main(argv) == 0
    said = capsys.readouterr().out
    assert re.search(
        rf"{n_answers} answers came from .*answers\.sqlite, \d+ "
        "were asked now",
        said,
    ), said
    whole = tmp_path / "whole" / "cleaned.csv"
    monkeypatch.setattr("sys.stdin", io.StringIO("a\n" * 400))
    assert main(_argv(path, whole, "--budget", "12")) == 0
    assert out.read_bytes() == whole.read_bytes()
    assert (tmp_path / "cleaned.issues.csv").read_bytes() == whole.with_suffix(
        ".issues.csv"
    ).read_bytes()


def test_a_rerun_after_the_end_asks_nothing(messy, tmp_path, capsys, monkeypatch):
    path, _ = messy
    out = tmp_path / "cleaned.csv"
    monkeypatch.setattr("sys.stdin", io.StringIO("a\n" * 400))
    assert main(_argv(path, out, "--budget", "8")) == 0
    first = out.read_bytes()
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", _StopsAfter(0, EOFError()))  # nobody types
    assert main(_argv(path, out, "--budget", "8")) == 0
    assert re.search(r"answers came from .*, 0 were asked now", capsys.readouterr().out)
    assert out.read_bytes() == first


# ------------------------------------------------------------ bad input


def _bad_cases(tmp_path, data):
    import os

    out = tmp_path / "out.csv"
    link = tmp_path / "link.csv"
    link.symlink_to(data)
    hard = tmp_path / "hard.csv"
    os.link(data, hard)
    one_class = tmp_path / "one.csv"
    one_class.write_text("x,y\n1,a\n2,a\n3,a\n")
    few = tmp_path / "few.csv"
    few.write_text("x,y\n1,a\n2,b\n3,a\n4,b\n")
    notes = tmp_path / "notes.txt"
    notes.write_text("somebody's notes\n")
    base = ["audit", str(data), "--label", "y", "--oracle", "none"]
    with_out = base + ["--output", str(out)]
    return [
        (base + ["--output", str(data)], 1, "same file as DATA"),
        (base + ["--output", str(link)], 1, "same file as DATA"),
        (base + ["--output", str(hard)], 1, "same file as DATA"),
        (with_out + ["--issues", str(data)], 1, "same file as DATA"),
        (with_out + ["--issues", str(out)], 1, "same file as --output"),
        (
            with_out
            + [
                "--changes",
                str(tmp_path / "c.csv"),
                "--issues",
                str(tmp_path / "c.csv"),
            ],
            1,
            "same file as --changes",
        ),
        (with_out + ["--store", str(data)], 1, "not an SQLite database"),
        (with_out + ["--store", str(notes)], 1, "notes.txt"),
        (
            with_out + ["--store", str(data), "--oracle", "terminal"],
            1,
            "same file as DATA",
        ),
        (with_out + ["--questions", str(tmp_path / "q.txt")], 1, ".csv or .json"),
        (with_out + ["--label", "nope"], 1, "no column 'nope'"),
        (with_out + ["--cv", "1"], 2, "--cv"),
        (
            ["audit", str(few), "--label", "y", "--output", str(out), "--cv", "5"],
            1,
            "--cv 5",
        ),
        (
            ["audit", str(one_class), "--label", "y", "--output", str(out)],
            1,
            "one class",
        ),
        (
            [
                "audit",
                str(tmp_path / "missing.csv"),
                "--label",
                "y",
                "--output",
                str(out),
            ],
            1,
            "no such file",
        ),
        (with_out[:-2], 2, "--output"),
    ]


def test_every_bad_invocation_gives_one_line_and_writes_nothing(
    messy, tmp_path, capsys
):
    data, _ = messy
    assert_one_line_each(_bad_cases(tmp_path, data), tmp_path, capsys, "audit")


def test_an_issues_symlink_is_replaced_not_followed(messy, tmp_path, capsys):
    data, _ = messy
    victim = tmp_path / "somebody_elses.txt"
    victim.write_text("keep me\n")
    out = tmp_path / "out.csv"
    out.with_suffix(".issues.csv").symlink_to(victim)
    assert (
        main(
            [
                "audit",
                str(data),
                "--label",
                "y",
                "--output",
                str(out),
                "--oracle",
                "none",
                "--budget",
                "3",
            ]
        )
        == 0
    )
    assert victim.read_text() == "keep me\n"
    issues = out.with_suffix(".issues.csv")
    assert not issues.is_symlink() and len(pd.read_csv(issues)) == 60
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_the_help_says_that_a_revision_waits_for_a_rerun(capsys):
    with pytest.raises(SystemExit):
        main(["audit", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "applied when the same command runs again" in out


def _n_answered(path):
    import contextlib

    from sklearn_cincer.oracles import AnnotationStore

    with contextlib.closing(AnnotationStore(path, read_only=True)) as store:
        return store.n_answered


def test_a_store_of_other_settings_or_of_clean_is_refused(
    messy, tmp_path, capsys, monkeypatch
):
    path, _ = messy
    out = tmp_path / "cleaned.csv"
    store = out.with_suffix(".answers.sqlite")
    monkeypatch.setattr("sys.stdin", _StopsAfter(2, EOFError()))
    assert main(_argv(path, out, "--budget", "8")) == 1
    capsys.readouterr()
    kept = {
        p: p.read_bytes() for p in tmp_path.iterdir() if p.is_file() and p != store
    }  # the store: its answers, below
    n_answered = _n_answered(store)
    # another --cv ranks otherwise: its questions are not the store's
    monkeypatch.setattr("sys.stdin", io.StringIO("a\n" * 50))
    assert main(_argv(path, out, "--budget", "8", "--cv", "3")) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cv: 5 in the store, 3 now" in err[0]
    assert {p: p.read_bytes() for p in kept} == kept
    assert _n_answered(store) == n_answered > 0
    # the clean command's store (same default name) is not an audit's
    other = tmp_path / "other"
    monkeypatch.setattr("sys.stdin", _StopsAfter(2, EOFError()))
    main(
        [
            "clean",
            str(path),
            "--label",
            "y",
            "--output",
            str(other / "c.csv"),
            "--ignore",
            "count",
            "--n-bootstrap",
            "30",
        ]
    )
    capsys.readouterr()
    assert (other / "c.answers.sqlite").exists()
    monkeypatch.setattr("sys.stdin", io.StringIO("a\n" * 50))
    assert main(_argv(path, other / "c.csv", "--budget", "8")) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "command: None in the store, 'audit' now" in err[0]
    # a larger budget goes on from the store's answers
    monkeypatch.setattr("sys.stdin", io.StringIO("a\n" * 50))
    assert main(_argv(path, out, "--budget", "12")) == 0
    assert re.search(
        r"[1-9] answers came from .*, \d+ were asked now", capsys.readouterr().out
    )
    assert store.exists()


def test_oracle_none_applies_the_stores_answers_without_writing_it(
    messy, tmp_path, capsys, monkeypatch
):
    path, _ = messy
    out = tmp_path / "cleaned.csv"
    monkeypatch.setattr("sys.stdin", _StopsAfter(3, EOFError()))
    assert main(_argv(path, out, "--budget", "8")) == 1
    capsys.readouterr()
    partial = out.read_bytes()
    store = out.with_suffix(".answers.sqlite")
    before = store.read_bytes()
    again = tmp_path / "again.csv"
    assert (
        main(
            _argv(
                path, again, "--oracle", "none", "--budget", "8", "--store", str(store)
            )
        )
        == 0
    )
    assert store.read_bytes() == before  # only read
    # the answers given before the stop are applied, nothing more
    assert again.read_bytes() == partial


def test_an_undo_is_stored_and_applied_by_the_rerun(
    messy, tmp_path, capsys, monkeypatch
):
    path, lines = messy
    out = tmp_path / "cleaned.csv"
    argv = _argv(path, out, "--budget", "1")  # one question, no offer
    # 'a', then at the end of the questions u (undo) and 'b' instead
    monkeypatch.setattr("sys.stdin", io.StringIO("a\nu\nb\n\n"))
    assert main(argv) == 0
    said = capsys.readouterr().out
    line = int(re.search(r"Label for line (\d+)", said).group(1))
    assert "No running fit applies it now" in said
    assert "run the same command again to apply it" in said
    assert pd.read_csv(out)["y"][lines.index(line)] == "a"  # as answered

    monkeypatch.setattr("sys.stdin", _StopsAfter(0, EOFError()))  # nobody types
    assert main(argv) == 0
    assert "0 were asked now" in capsys.readouterr().out
    assert pd.read_csv(out)["y"][lines.index(line)] == "b"  # the revision
    issues = pd.read_csv(out.with_suffix(".issues.csv"))
    assert issues.set_index("line").loc[line, "cleaned_label"] == "b"


def test_the_browser_page_asks_and_its_answers_are_written(
    messy, tmp_path, capsys, monkeypatch
):
    import json
    import threading

    pytest.importorskip("bottle")
    from test_oracles_browser_http import request

    import sklearn_cincer.oracles as oracles

    started = []

    class Page(oracles.BrowserOracle):  # the command's page, not opened
        def __init__(self, **kwargs):
            super().__init__(**{**kwargs, "open_browser": False})
            started.append(self)

    monkeypatch.setattr(oracles, "BrowserOracle", Page)
    path, lines = messy
    out = tmp_path / "cleaned.csv"
    done = []
    run = threading.Thread(
        target=lambda: done.append(
            main(_argv(path, out, "--oracle", "browser", "--budget", "3"))
        )
    )
    run.start()
    n_answers, shown = 0, []
    while run.is_alive():
        page = started[0] if started else None
        url = getattr(page, "url", None)
        if url is None:
            run.join(0.05)
            continue
        try:
            state = request(page, "GET", "state")[2]
            if state["status"] == "question":
                # class 0 is 'a'; the counter-example's too, where offered
                status = request(
                    page,
                    "POST",
                    "answer",
                    body={"qid": state["qid"], "label": 0, "counter_label": 0},
                )[0]
                assert status == 200
                n_answers += 1
                shown.append(json.dumps(state))
        except OSError:  # the run ended and closed the page meanwhile
            pass
        run.join(0.05)
    assert done == [0] and n_answers >= 1
    # the page names rows by their line, its notes too
    assert shown and all("line " in page for page in shown)
    assert not any(re.search("example #", page, re.I) for page in shown)
    changes = pd.read_csv(tmp_path / "cleaned.changes.csv")
    assert set(changes["label_after"]) <= {"a"}
    issues = pd.read_csv(out.with_suffix(".issues.csv"))
    assert issues["inspected"].sum() >= n_answers
    cleaned = pd.read_csv(out)["y"]
    assert (cleaned != pd.read_csv(path)["y"]).sum() == len(changes)


def test_the_ranking_after_a_stop_keeps_a_class_the_answers_emptied(tmp_path):
    from types import SimpleNamespace

    from sklearn_cincer._cli.audit import _issues_so_far
    from sklearn_cincer._cli.clean import read_table

    rows = ["x,y"] + [f"{i % 2 * 2 + i / 100:.2f},{'ab'[i % 2]}" for i in range(40)]
    rows += ["5.0,c", "5.1,c"]  # a class of two rows, relabeled by the answers
    path = tmp_path / "three.csv"
    path.write_text("\n".join(rows) + "\n")
    args = SimpleNamespace(
        data=str(path),
        sep=",",
        label="y",
        ignore=[],
        no_shuffle=True,
        seed=0,
        cv=2,
        model="logistic",
        budget=None,
        refit_every=10,
        threshold=0.0,
    )
    table = read_table(args)
    y_cleaned = table.y.astype(object)
    y_cleaned[-2:] = "b"
    issues = _issues_so_far(args, table, SimpleNamespace(answers=[]), y_cleaned)
    assert list(issues["given_label"][-2:]) == ["c", "c"]
    assert list(issues["cleaned_label"][-2:]) == ["b", "b"]
    quality = issues["label_quality"].to_numpy()
    # no model of the ranking knows 'c' any more: the given label is doubted
    assert np.isfinite(quality).all() and (quality[-2:] < 0.5).all()


def test_offline_batches_converge_to_the_interactive_audit(messy, tmp_path, capsys):
    path, lines = messy
    out = tmp_path / "cleaned.csv"
    batches = []
    for number in range(1, 20):
        batch = tmp_path / f"batch{number}.csv"
        answers = ["--answers", *map(str, batches)] if batches else []
        assert (
            main(
                _argv(
                    path,
                    out,
                    "--oracle",
                    "none",
                    "--budget",
                    "16",
                    "--refit-every",
                    "4",
                    "--questions",
                    str(batch),
                    *answers,
                )
            )
            == 0
        )
        capsys.readouterr()
        if not batch.exists():
            break
        _fill(batch, lines, _truth())
        batches.append(batch)
    else:
        pytest.fail("the batches did not converge")
    assert batches  # nobody answered the first run
    # the same answers given at once, in Python: the same labels and ranking
    _, auditor = _python_auditor(
        path, SimulatedOracle(np.array(_truth())), budget=16, refit_every=4
    )
    assert list(pd.read_csv(out)["y"]) == list(auditor.y_)
    issues = pd.read_csv(out.with_suffix(".issues.csv"))
    expected = auditor.label_issues_.sort_values("label_quality", kind="stable")
    assert list(issues["line"]) == [lines[i] for i in expected.index]
    assert issues["inspected"].sum() == auditor.n_inspected_


def test_ctrl_c_after_the_last_question_writes_the_whole_audit(
    messy, tmp_path, capsys, monkeypatch
):
    path, _ = messy
    out = tmp_path / "cleaned.csv"
    argv = _argv(path, out, "--budget", "1")
    monkeypatch.setattr("sys.stdin", _StopsAfter(1, KeyboardInterrupt()))
    assert main(argv) == 0  # one answer, then Ctrl-C at "Enter finishes"
    said = capsys.readouterr().out
    assert "No more questions" in said and "Wrote " in said
    issues = pd.read_csv(out.with_suffix(".issues.csv"))
    assert issues["inspected"].sum() == 1
