"""The audit benchmark: LabelAuditor against cleanlab (a benchmark dependency)."""

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from sklearn_cincer._cli import main
from sklearn_cincer.benchmark import load_audit_data, run_audit_task, summarize_audit
from sklearn_cincer.benchmark._audit import audit_verdict, cleanlab_ranking

cleanlab = pytest.importorskip("cleanlab", reason="pip install 'cleanlab==2.9.*'")


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with threadpool_limits(1):
        yield


def test_cleanlab_ranking_puts_its_issues_first_then_the_rest_by_quality():
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    rng = np.random.RandomState(0)
    labels = rng.randint(3, size=200)
    proba = rng.dirichlet(np.ones(3), size=200)
    proba[np.arange(200), labels] += 1.0  # mostly agree with the labels
    proba /= proba.sum(axis=1, keepdims=True)
    proba[:15] = proba[:15, ::-1]  # a few that do not
    order = cleanlab_ranking(labels, proba)
    issues = find_label_issues(
        labels, proba, n_jobs=1, return_indices_ranked_by="self_confidence"
    )
    assert sorted(order.tolist()) == list(range(200))
    np.testing.assert_array_equal(order[: issues.size], issues)
    quality = get_label_quality_scores(labels, proba)
    assert np.all(np.diff(quality[order[issues.size :]]) >= 0)


def test_one_task_with_confusion_noise():
    data = load_audit_data("wine", 0)
    rows = pd.DataFrame(
        run_audit_task("wine", "confusion", 0, budgets=(0.1,), data=data)
    )
    assert set(rows["noise"]) == {"confusion"}
    assert (rows["n_noisy"] == round(0.2 * data[1].shape[0])).all()


def test_one_task_measures_both_at_equal_labels():
    data = load_audit_data("wine", 0)
    rows = pd.DataFrame(
        run_audit_task("wine", "pairwise", 0, budgets=(0.1, 0.2), data=data)
    )
    assert set(rows["method"]) == {"auditor", "cleanlab", "cleanlab_per_question"}
    n = data[1].shape[0]
    for budget in (0.1, 0.2):
        at = rows[rows["budget"] == budget].set_index("method")
        labels = int(round(budget * n))
        assert at.loc["cleanlab", "labels_inspected"] == labels
        assert at.loc["auditor", "labels_inspected"] <= labels
        assert (
            at.loc["cleanlab_per_question", "labels_inspected"]
            == (at.loc["auditor", "questions"])
        )
        # with a perfect annotator, every wrong label inspected is fixed
        for method in at.index:
            r = at.loc[method]
            assert r["errors_fixed"] == round(
                r["precision"] * r["labels_inspected"] / 100
            )
            assert r["noise_removed"] == pytest.approx(
                100 * r["errors_fixed"] / r["n_noisy"]
            )
            assert 0 < r["f1"] <= 100


def test_summary_pairs_seeds_and_the_verdict():
    rows = []
    for seed, (ours, theirs) in enumerate([(60.0, 50.0), (70.0, 50.0)]):
        for method, value in (
            ("auditor", ours),
            ("cleanlab", theirs),
            ("cleanlab_per_question", theirs - 5),
        ):
            rows.append(
                dict(
                    dataset="digits",
                    noise="pairwise",
                    seed=seed,
                    budget=0.2,
                    method=method,
                    noise_removed=value,
                    precision=value,
                    f1=90.0 + seed,
                    labels_inspected=20,
                    questions=18,
                )
            )
    frame = pd.DataFrame(rows)
    per_label = summarize_audit(frame).iloc[0]
    assert per_label["noise_removed_diff"] == 15.0
    assert per_label["noise_removed_diff_se"] == pytest.approx(5 / np.sqrt(2))
    assert per_label["auditor_f1"] == 90.5 and per_label["f1_diff"] == 0
    per_question = summarize_audit(frame, per="question").iloc[0]
    assert per_question["noise_removed_diff"] == 20.0
    verdict = audit_verdict(summarize_audit(frame))
    assert verdict == {
        "cells": 1,
        "cells_at_least_cleanlab": 1,
        "pairwise_mean_gain": 15.0,
        "worst_f1_diff": 0.0,
        "targets_met": True,
    }


def test_the_command_writes_tables_and_resumes(tmp_path, capsys):
    argv = [
        "audit-benchmark",
        "--datasets",
        "wine",
        "--noise",
        "uniform",
        "--budgets",
        "0.1",
        "--repeats",
        "2",
        "--output",
        str(tmp_path),
        "--no-figures",
        "--quiet",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "## Per label: at equal labels inspected" in out
    assert "## Per question: at equal questions" in out
    assert "| wine | uniform | 10% |" in out
    summary = (tmp_path / "summary.md").read_text()
    assert summary.strip() == out.strip()
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert runs == ["wine__uniform__0.csv", "wine__uniform__1.csv"]
    # run again (with the progress line): nothing is recomputed, same tables
    assert main(argv[:-1]) == 0
    again = capsys.readouterr()
    assert "2 task(s) already done, 0 to run" in again.out
    assert (tmp_path / "summary.md").read_text() == summary


def test_the_command_reports_missing_data(tmp_path, capsys):
    argv = [
        "audit-benchmark",
        "--datasets",
        "adult",
        "--repeats",
        "1",
        "--data-home",
        str(tmp_path),
        "--output",
        str(tmp_path / "out"),
        "--quiet",
        "--no-figures",
    ]
    assert main(argv) == 1
    assert "audit-benchmark: error" in capsys.readouterr().err


def test_the_command_compares_selectors_on_the_same_cells(tmp_path, capsys):
    argv = [
        "audit-benchmark",
        "--datasets",
        "wine",
        "--noise",
        "confusion",
        "--budgets",
        "0.1",
        "--repeats",
        "1",
        "--output",
        str(tmp_path),
        "--no-figures",
        "--quiet",
        "--selector",
        "cleaning",
        "top_fisher",
    ]
    assert main(argv) == 0
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert runs == ["wine__confusion__0.csv", "wine__confusion__0__cleaning.csv"]
    rows = pd.concat([pd.read_csv(tmp_path / "runs" / name) for name in runs])
    assert set(rows["selector"]) == {"cleaning", "top_fisher"}
    # cleanlab's ranking is the same on the same noisy copy, whatever selector
    cleanlab = rows[rows["method"] == "cleanlab"]
    assert cleanlab["noise_removed"].nunique() == 1
    compared = pd.read_csv(tmp_path / "selectors.csv")
    for name in ("cleaning", "top_fisher"):
        mine = rows[(rows["method"] == "auditor") & (rows["selector"] == name)]
        assert compared.loc[0, name] == pytest.approx(mine["noise_removed"].mean())
        assert compared.loc[0, f"{name}_questions"] == mine["questions"].mean()
    assert compared.loc[0, "cleanlab"] == pytest.approx(
        cleanlab["noise_removed"].iloc[0]
    )
    text = (tmp_path / "selectors.md").read_text()
    assert "auditor, cleaning" in text and "auditor, top_fisher" in text
    summary = (tmp_path / "summary.md").read_text()
    assert "(auditor with cleaning)" in summary
    assert "(auditor with top_fisher)" in summary


def test_results_written_before_the_selector_column_read_as_top_fisher(tmp_path):
    from sklearn_cincer.benchmark import run_audit_benchmark

    folder = tmp_path / "runs"
    folder.mkdir()
    rows = pd.DataFrame(run_audit_task("wine", "uniform", 0, budgets=(0.1,)))
    rows.drop(columns="selector").to_csv(folder / "wine__uniform__0.csv", index=False)
    frame = run_audit_benchmark(
        datasets=["wine"],
        noises=["uniform"],
        budgets=[0.1],
        n_repeats=1,
        output_dir=tmp_path,
        verbose=0,
    )
    assert set(frame["selector"]) == {"top_fisher"}
    pd.testing.assert_series_equal(
        frame["noise_removed"].reset_index(drop=True),
        rows.sort_values("method")["noise_removed"].reset_index(drop=True),
    )
