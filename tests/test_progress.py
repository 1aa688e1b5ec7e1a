"""Progress of long loops: tqdm when installed and asked for, plain lines otherwise."""

import importlib
import sys

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import sklearn_cincer._progress as progress_module
from sklearn_cincer import SimulatedOracle, SkepticalCleaner
from sklearn_cincer._progress import progress


@pytest.fixture
def no_tqdm(monkeypatch):
    monkeypatch.setattr(progress_module, "_tqdm_class", lambda: None)


def test_silent_at_verbose_zero(capsys):
    assert list(progress(range(3), desc="x")) == [0, 1, 2]
    with progress(total=5, desc="x") as bar:
        bar.update(2, queries=1)
    assert bar.n == 2
    assert capsys.readouterr() == ("", "")


def test_plain_lines_every_tenth_or_every_step(no_tqdm, capsys):
    for _ in progress(range(50), desc="loop", verbose=1):
        pass
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "[loop] 5/50" and lines[-1] == "[loop] 50/50"
    assert len(lines) == 10
    with progress(total=3, desc="fit", verbose=2) as bar:
        for q in range(3):
            bar.update(queries=q)
    assert capsys.readouterr().out.splitlines() == [
        "[fit] 1/3: queries 0",
        "[fit] 2/3: queries 1",
        "[fit] 3/3: queries 2",
    ]
    # unknown total: a line per step
    with progress(desc="open", verbose=1) as bar:
        bar.update()
        bar.write("a message")
    assert capsys.readouterr().out.splitlines() == ["[open] 1", "a message"]


def test_tqdm_bar_on_stderr(capsys):
    pytest.importorskip("tqdm")
    for _ in progress(range(4), desc="bar", verbose=1, unit="fold"):
        pass
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "bar" in captured.err and "4/4" in captured.err and "fold" in captured.err


def test_tqdm_is_not_imported_at_module_load():
    saved = {
        name: mod
        for name, mod in sys.modules.items()
        if name == "tqdm" or name.startswith("tqdm.")
    }
    for name in saved:
        del sys.modules[name]
    try:
        importlib.reload(progress_module)
        assert "tqdm" not in sys.modules
        list(progress_module.progress(range(2), verbose=0))
        assert "tqdm" not in sys.modules  # silent: nothing imported
    finally:
        sys.modules.update(saved)
        importlib.reload(progress_module)


def test_cleaner_fit_shows_its_rounds(no_tqdm, capsys):
    X = np.r_[np.linspace(0, 1, 30), np.linspace(2, 3, 30)][:, None]
    y = np.r_[np.zeros(30, int), np.ones(30, int)]
    order = np.random.RandomState(0).permutation(60)
    X, y = X[order], y[order]
    SkepticalCleaner(
        LogisticRegression(), n_bootstrap=20, verbose=1, oracle=SimulatedOracle(y)
    ).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 10
    assert lines[-1].startswith("[SkepticalCleaner] 40/40: queries ")
    assert lines[-1].endswith("train 60")
    # one streamed example (partial_fit, as the benchmark does): no bar
    cleaner = SkepticalCleaner(LogisticRegression(), n_bootstrap=20, verbose=1)
    cleaner.fit(X[:20], y[:20]).partial_fit(X[20:21], y[20:21])
    assert capsys.readouterr().out == ""
