"""``benchmarks/million_rows.py`` and the iterations of ``bench_round.py``, tiny."""

import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def scripts():
    sys.path.insert(0, str(BENCHMARKS))
    import bench_round
    import million_rows

    yield bench_round, million_rows
    sys.path.remove(str(BENCHMARKS))


def test_million_rows_times_and_compares_at_a_small_size(scripts, capsys):
    _, million_rows = scripts
    rows = million_rows.main(
        [
            "--time",
            "3000,8,3",
            "--questions",
            "4",
            "--agreement",
            "600,8,3",
            "--queries",
            "4",
        ]
    )
    timed = [r for r in rows if "next" in r]
    agreed = [r for r in rows if "top1" in r]
    assert [r["n"] for r in timed] == [3000, 3000]
    assert all(r["gemm64"] > 0 and r["next"] > 0 for r in timed)
    assert {(r["selector"], r["variant"]) for r in agreed} == {
        (s, v) for s in ("top_fisher", "cleaning") for v in ("kfac", "ekfac")
    }
    assert all(
        0 <= r["top1"] <= r["near_best"] <= 1 and r["queries"] > 0 for r in agreed
    )
    out = capsys.readouterr().out
    assert "x gemm64" in out and "top-1 agreement" in out and "peak RSS" in out


def test_bench_round_reports_iterations_and_reading_time(scripts, capsys):
    bench_round, _ = scripts
    (row,) = bench_round.main(
        [
            "--size",
            "30000,40,5",
            "--questions",
            "4",
            "--estimator",
            "logistic",
            "--read-seconds",
            "0.05",
        ]
    )
    # 30000 rows x 205^2: conjugate gradients, one solve per question
    assert row["read_seconds"] == 0.05
    assert len(row["cg_iterations"]) >= row["questions"] - 1
    assert all(0 <= k <= 10 for k in row["cg_iterations"])
    assert all(0 <= p < 10 for p in row["pauses"])
    out = capsys.readouterr().out
    assert "CG iterations per solve median" in out and "refresh paused in" in out
