"""benchmarks/stream_or_audit.py: the three ways at equal labels inspected."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def script():
    sys.path.insert(0, str(BENCHMARKS))
    import stream_or_audit

    yield stream_or_audit
    sys.path.remove(str(BENCHMARKS))


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with threadpool_limits(1):
        yield


def test_replaying_a_stream_gives_the_cleaned_labels(script):
    from sklearn_cincer import SimulatedOracle, SkepticalCleaner
    from sklearn_cincer.benchmark import make_model
    from sklearn_cincer.datasets import make_label_noise

    X, y = script.load("wine", 0)
    y_noisy, _ = make_label_noise(y, 0.2, random_state=0)
    cleaner = SkepticalCleaner(
        make_model("lr", random_state=0),
        oracle=SimulatedOracle(y),
        threshold=0.2,
        n_bootstrap=71,
        refit="incremental",
        random_state=0,
    ).fit(X, y_noisy)
    history = cleaner.history_
    assert history
    total = sum(script.labels_per_question(r) for r in history)
    labels, spent, asked = script.replay(history, y_noisy, total)
    assert (spent, asked) == (total, len(history))
    np.testing.assert_array_equal(labels, cleaner.y_cleaned_)
    # a smaller budget stops before the question that would pass it
    labels, spent, asked = script.replay(history, y_noisy, total - 1)
    assert spent <= total - 1 and asked < len(history)
    assert spent + script.labels_per_question(history[asked]) > total - 1


def test_a_task_measures_the_three_ways_at_equal_labels(script):
    X, y = script.load("wine", 0)
    rows = pd.DataFrame(
        script.run_task("wine", "pairwise", 0, budgets=(0.1, 0.2), data=(X, y))
    )
    assert set(rows["method"]) == set(script.METHODS)
    for budget, at in rows.groupby("budget"):
        at = at.set_index("method")
        assert (at["labels_inspected"] <= at["labels_budget"]).all()
        # every method gets the labels the stream asked, at most the budget
        assert at["labels_budget"].nunique() == 1
        assert at.loc["stream", "labels_budget"] <= round(budget * len(y))
        # a perfect annotator: each error fixed is one label inspected
        assert (at["errors_fixed"] <= at["labels_inspected"]).all()
        assert (at["errors_fixed"] <= at["n_noisy"]).all()
        np.testing.assert_allclose(
            at["noise_removed"], 100 * at["errors_fixed"] / at["n_noisy"]
        )


def test_the_report_is_written_from_the_tasks_done(script, tmp_path, capsys):
    script.run(["wine"], ["uniform"], [0], (0.1,), tmp_path)
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["wine__uniform__0.csv"]
    summary = script.report(tmp_path)
    assert (tmp_path / "stream_or_audit.png").stat().st_size > 0
    text = (tmp_path / "summary.rst").read_text()
    assert '"wine", "uniform", "10%"' in text
    rows = pd.read_csv(tmp_path / "runs" / "wine__uniform__0.csv")
    for method, value in zip(rows["method"], rows["noise_removed"]):
        got = summary.loc[summary["method"] == method, "noise_removed"]
        assert float(got.iloc[0]) == pytest.approx(value)
    # resumed: the finished task is not run again (its file is kept as is)
    before = (tmp_path / "runs" / "wine__uniform__0.csv").stat().st_mtime_ns
    script.run(["wine"], ["uniform"], [0], (0.1,), tmp_path)
    assert (tmp_path / "runs" / "wine__uniform__0.csv").stat().st_mtime_ns == before
    assert "cells won" in capsys.readouterr().out
