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
    rows = bench_round.main(["--size", "2000,8,3", "--questions", "4",
                             "--estimator", "sgd", "--estimator", "logistic"])
    by = {r["estimator"]: r for r in rows}
    assert by["sgd"]["method"] == "partial_fit"
    assert by["logistic"]["method"] == "warm_start"
    for r in rows:
        assert r["questions"] >= 2 and r["gemm64"] > 0 and r["update"] > 0
        assert r["round"] >= max(r["question"], r["update"])
    assert "x gemm64" in capsys.readouterr().out


def test_refit_quality_counts_the_labels_cleaned():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import refit_quality
    finally:
        sys.path.remove(str(BENCHMARKS))
    (row,) = refit_quality.main(["--data", "breast", "--estimator", "sgd",
                                 "--refit", "incremental", "--seeds", "1"])
    assert row["method"] == "partial_fit"
    assert 0 < row["cleaned"] <= row["noisy"] == 80
    assert row["questions"] > 0 and 0.5 < row["f1"] <= 1


def test_fisher_agreement_study_writes_its_tables(scripts, tmp_path):
    _, study = scripts
    study.main(["--only", "synthetic", "--sizes", "2000,8,4", "--seeds", "1",
                "--queries", "6", "--output", str(tmp_path)])
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
    command = [sys.executable, str(BENCHMARKS / "gpu_check.py"), "--device", "cpu",
               "--size", "1500,8,3", "--questions", "3", "--n", "2000",
               "--n-compare", "600", "--d", "16", "--time-limit", "240"]
    out = subprocess.run(command, capture_output=True, text=True, timeout=400)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "real path check: PASS" in out.stdout and "ALL PASS" in out.stdout
    assert "same pick 1.00" in out.stdout
