"""The command line and its demo (the README's first quick-start command)."""

import re

import pytest

from sklearn_cincer._cli import build_parser, main


def test_demo_compares_cincer_with_no_counter_examples(capsys):
    assert main(["demo", "--n-stream", "60", "--show", "3"]) == 0
    out = capsys.readouterr().out
    assert "CINCER asked" in out
    assert re.search(r"^questions asked\s+\d+\s+\d+$", out, re.M)
    cincer, none = map(
        int, re.search(r"^labels cleaned\s+(\d+)\s+(\d+)$", out, re.M).groups()
    )
    assert cincer >= none
    assert re.search(r"^test F1 \(weighted\)\s+0\.\d{3}\s+0\.\d{3}$", out, re.M)
    assert re.search(r"counter-examples relabeled\s+\d+\s+0$", out, re.M)


def test_demo_refuses_more_examples_than_exist():
    with pytest.raises(ValueError, match="too many"):
        main(["demo", "--n-stream", "1000"])


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "demo" in capsys.readouterr().out
    assert "demo" in build_parser().format_help()
