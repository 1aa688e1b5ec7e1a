"""The speed benchmarks run, at small sizes: the real path, the GPU check's
dry run on the CPU, and the study of the approximations' agreement."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def scripts():
    sys.path.insert(0, str(BENCHMARKS))
    import bench_round
    import fisher_agreement

    yield bench_round, fisher_agreement
    sys.path.remove(str(BENCHMARKS))


def test_bench_round_times_the_real_path(scripts, capsys):
    bench_round, _ = scripts
    (row,) = bench_round.main(["--size", "3000,8,3", "--questions", "4"])
    assert row["questions"] == 4 and len(row["picks"]) == 4
    assert all(pick is not None for pick in row["picks"])
    assert 0 < row["next"] < row["first"] + 1 and row["gemm64"] > 0
    assert row["form"] == "exact/cholesky"
    out = capsys.readouterr().out
    assert "x gemm64" in out and "load average" in out


def test_bench_round_times_sklearns_estimators_inside_the_cleaner(scripts, capsys):
    bench_round, _ = scripts
    rows = bench_round.main(
        [
            "--size",
            "2000,8,3",
            "--questions",
            "4",
            "--estimator",
            "sgd",
            "--estimator",
            "logistic",
        ]
    )
    by = {r["estimator"]: r for r in rows}
    assert by["sgd"]["method"] == "partial_fit"
    assert by["logistic"]["method"] == "warm_start"
    for r in rows:
        assert r["questions"] >= 2 and r["gemm64"] > 0 and r["update"] > 0
        assert r["round"] >= max(r["question"], r["update"])
    assert "x gemm64" in capsys.readouterr().out


def test_bench_round_writes_the_estimators_table(scripts, tmp_path, capsys):
    bench_round, _ = scripts
    table = tmp_path / "estimators.txt"
    rows = bench_round.main(
        [
            "--size",
            "1500,8,3",
            "--size",
            "1000000,512,10",
            "--questions",
            "4",
            "--estimator",
            "skorch",
            "--estimator",
            "head",
            "--table",
            str(table),
        ]
    )
    by = {(r["estimator"], r["n"]): r for r in rows}
    assert by["skorch", 1500]["method"] == "partial_fit"
    for name in ("skorch", "head"):
        r = by[name, 1500]
        assert r["stopped"] is None and r["questions"] >= 2
        assert r["round"] >= max(r["question"], r["update"]) > 0
        # At a million rows of 512 float64 features the rows alone take
        # 3.8 GB, and the fit copies them: over the 6 GB limit, not run.
        assert by[name, 1_000_000]["skipped"].startswith("not run: needs at least")
    text = table.read_text()
    assert text.startswith(".. list-table::")
    assert text.count("   * - ") == 1 + 4  # the header and four cells
    assert "``SoftmaxHead`` (this script's custom head" in text
    assert "(``partial_fit``)" in text and "over the 6 GB limit" in text
    assert "--estimator skorch --estimator head" in text  # the command


def test_bench_round_stops_a_cell_at_its_time_limit(scripts):
    import signal

    bench_round, _ = scripts
    before = signal.getsignal(signal.SIGALRM)
    r = bench_round.run_estimator(2000, 8, 3, 3000, "head", seconds=4)
    assert r["stopped"] is not None and r["fit_total"] < 15
    assert r["questions"] < 3000
    if r["questions"] > 2:  # what it finished is reported
        assert 0 < r["question"] <= r["round"]
    assert signal.getsignal(signal.SIGALRM) is before


def test_refit_quality_counts_the_labels_cleaned():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import refit_quality
    finally:
        sys.path.remove(str(BENCHMARKS))
    rows = refit_quality.main(
        [
            "--data",
            "breast",
            "--estimator",
            "sgd",
            "--refit",
            "incremental",
            "--refit",
            "warm_start",
            "--seeds",
            "1",
        ]
    )
    # The warm start mode hides partial_fit from the cleaner, for this run only.
    assert [row["method"] for row in rows] == ["partial_fit", "warm_start"]
    for row in rows:
        assert 0 < row["cleaned"] <= row["noisy"] == 80
        assert row["questions"] > 0 and 0.5 < row["f1"] <= 1
    assert (
        rows[0]["cleaned"] != rows[1]["cleaned"] or rows[0]["f1"] != rows[1]["f1"]
    )  # two different updates
    from sklearn_cincer._refit import refit_method

    for name in ("fc", "lr_net"):
        assert (
            refit_method(refit_quality.ESTIMATORS[name](0), "incremental")
            == "partial_fit"
        )


def test_fisher_agreement_study_writes_its_tables(scripts, tmp_path):
    _, study = scripts
    study.main(
        [
            "--only",
            "synthetic",
            "--sizes",
            "2000,8,4",
            "--seeds",
            "1",
            "--queries",
            "6",
            "--output",
            str(tmp_path),
        ]
    )
    import pandas as pd

    frame = pd.read_csv(tmp_path / "agreement.csv")
    by = frame.set_index("variant")
    assert by.loc["float32", "top1"] == 1.0 and by.loc["cg", "top1"] == 1.0
    assert by.loc["auto", "form"] == "exact/cholesky"
    assert np.all((0 <= frame.top1) & (frame.top1 <= 1))
    for name in ("agreement.md", "agreement.png"):
        assert (tmp_path / name).is_file()


def test_gpu_check_dry_run_on_the_cpu():
    pytest.importorskip("skorch")
    command = [
        sys.executable,
        str(BENCHMARKS / "gpu_check.py"),
        "--device",
        "cpu",
        "--size",
        "1500,8,3",
        "--questions",
        "3",
        "--n",
        "2000",
        "--n-compare",
        "600",
        "--d",
        "16",
        "--estimator-size",
        "1200,8,3",
        "--estimator-questions",
        "3",
        "--time-limit",
        "240",
    ]
    out = subprocess.run(command, capture_output=True, text=True, timeout=400)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "real path check: PASS" in out.stdout and "ALL PASS" in out.stdout
    assert "same pick 1.00" in out.stdout
    assert "estimators check: PASS" in out.stdout
    for cell in (
        "logistic on cpu",
        "sgd on cpu",
        "mlp on cpu",
        "skorch on cpu",
        "skorch on cpu, TorchTopFisherSelector on cpu",
    ):
        assert f"  {cell}: " in out.stdout
