"""The command line and its demo (the README's first quick-start command)."""

import re

import pytest

from sklearn_cincer._cli import build_parser, main


def test_demo_compares_cincer_with_no_counter_examples(capsys):
    assert main(["demo", "--n-stream", "60", "--show", "3", "--seeds", "2"]) == 0
    out = capsys.readouterr().out
    assert "CINCER asked" in out
    number = r"(\d+\.\d) ± (\d+\.\d)"
    assert re.search(rf"^questions asked\s+{number}\s+{number}$", out, re.M)
    cincer, _, none, _ = map(
        float, re.search(rf"^labels cleaned\s+{number}\s+{number}$", out, re.M).groups()
    )
    assert cincer >= none
    assert re.search(
        r"^test F1 \(weighted\)\s+0\.\d{3} ± 0\.\d{3}\s+0\.\d{3} ± "
        r"0\.\d{3}$",
        out,
        re.M,
    )
    assert re.search(
        rf"counter-examples relabeled\s+{number}\s+0\.0 ± 0\.0$", out, re.M
    )
    # An honest verdict on both counts, backed by the seeds.
    assert re.search(
        r"^What the counter-examples bought: [+-]\d+\.\d labels "
        r"cleaned per seed \(more in \d of 2 seeds\)",
        out,
        re.M,
    )
    assert re.search(
        r"^Test F1: CINCER minus No CE is [+-]0\.\d{3} ± 0\.\d{3}", out, re.M
    )


def test_demo_shows_progress_per_seed_run_and_tenth_of_the_stream(capsys):
    assert main(["demo", "--n-stream", "20", "--seeds", "2", "--show", "0"]) == 0
    out = capsys.readouterr().out
    assert re.findall(r"^Seed (\d):", out, re.M)[:2] == ["0", "1"]
    runs = re.findall(
        r"^  (CINCER|No CE)\s+streaming: 10% 20% 30% 40% 50% 60% 70% "
        r"80% 90% 100%  done in \d+\.\d s",
        out,
        re.M,
    )
    assert runs == ["CINCER", "No CE"] * 2


def test_demo_refuses_more_examples_than_exist():
    with pytest.raises(ValueError, match="too many"):
        main(["demo", "--n-stream", "1000"])


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "demo" in capsys.readouterr().out
    assert "demo" in build_parser().format_help()
