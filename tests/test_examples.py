"""Run every gallery example (``examples/plot_*.py``).

The docs can then be built in CI without executing the gallery
(``SKLEARN_CINCER_DOCS_GALLERY=0``) while every example is still known to run.
Each example runs in-process with matplotlib's Agg backend, in a temporary
working directory, and its figures are closed afterwards.
"""

import importlib.util
import runpy
import time
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("plot_*.py"))
NEEDS_TORCH = {"plot_skorch_cnn.py"}


def test_there_are_examples():
    assert len(EXAMPLES) >= 7, [p.name for p in EXAMPLES]


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs(path, tmp_path, monkeypatch, capsys):
    if path.name in NEEDS_TORCH and (
        importlib.util.find_spec("torch") is None
        or importlib.util.find_spec("skorch") is None
    ):
        pytest.skip(f"{path.name} needs torch and skorch (pip install '.[torch]')")
    matplotlib = pytest.importorskip(
        "matplotlib", reason="the examples draw with matplotlib ('.[plot]')"
    )
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    start = time.perf_counter()
    try:
        runpy.run_path(str(path), run_name="__main__")
    finally:
        plt.close("all")
    seconds = time.perf_counter() - start
    out = capsys.readouterr().out
    assert out.strip(), f"{path.name} printed nothing"
    # Not an assertion on speed (the machine may be busy), but on record:
    print(f"{path.name}: {seconds:.1f} s")


def test_examples_have_a_title_and_a_description():
    for path in EXAMPLES:
        text = path.read_text()
        assert text.startswith('"""\n='), f"{path.name}: no sphinx-gallery title"
        doc = text.split('"""')[1]
        lines = [line for line in doc.splitlines() if line.strip()]
        over, title, under = lines[:3]
        assert over == under and set(over) == {"="}, path.name
        assert len(over) >= len(title), (
            f"{path.name}: the title's over- and underline are shorter than it"
        )
