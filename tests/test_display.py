"""Display objects, drawn with matplotlib's Agg backend."""

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import minmax_scale
from threadpoolctl import threadpool_limits

from sklearn_cincer import (
    CleaningCurveDisplay,
    CounterExampleDisplay,
    LabelAuditor,
    LabelIssuesDisplay,
    SimulatedOracle,
    SkepticalCleaner,
    find_label_issues,
)
from sklearn_cincer.datasets import make_label_noise
from sklearn_cincer.oracles import Query

matplotlib = pytest.importorskip("matplotlib", reason="plots need the 'plot' extra")
matplotlib.use("Agg", force=True)
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(autouse=True)
def _close_and_one_thread():
    with threadpool_limits(1):
        yield
    plt.close("all")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X, y = X[:400] / 16.0, y[:400]
    y_noisy, noisy = make_label_noise(y, 0.2, random_state=0)
    return X, y, y_noisy, noisy


@pytest.fixture(scope="module")
def auditor(digits):
    X, y, y_noisy, _ = digits
    return LabelAuditor(
        LogisticRegression(max_iter=1000),
        budget=40,
        oracle=SimulatedOracle(y),
        random_state=0,
    ).fit(X, y_noisy)


def test_label_issues_display_from_auditor(digits, auditor):
    _, y, y_noisy, noisy = digits
    display = LabelIssuesDisplay.from_auditor(auditor, y_true=y)
    history = auditor.history_
    assert display.labels_inspected.tolist() == [r.labels_inspected for r in history]
    # the last point: errors among the inspected labels, and the noise removed
    fixed = int(((y_noisy != y) & (auditor.y_ == y)).sum())
    assert display.precision[-1] == pytest.approx(fixed / 40)
    assert display.noise_removed[-1] == pytest.approx(fixed / noisy.sum())
    np.testing.assert_allclose(display.line_.get_ydata(), display.precision)
    np.testing.assert_allclose(display.noise_line_.get_ydata(), display.noise_removed)
    assert display.ax_.get_xlabel() == "labels inspected"
    assert display.figure_ is display.ax_.figure
    # without the truth: a wrong label is one the person changed, no noise line
    blind = LabelIssuesDisplay.from_auditor(auditor)
    assert blind.noise_removed is None and blind.noise_line_ is None
    np.testing.assert_allclose(blind.precision, display.precision)


def test_label_issues_display_on_a_given_ax_and_static_rankings(digits, auditor):
    X, y, y_noisy, noisy = digits
    fig, ax = plt.subplots()
    ours = LabelIssuesDisplay.from_auditor(auditor, y_true=y, ax=ax)
    static = LabelIssuesDisplay.from_label_issues(
        find_label_issues(
            LogisticRegression(max_iter=1000), X, y_noisy, explain_issues=False
        ),
        y,
        budget=40,
        ax=ax,
    )
    assert ours.ax_ is static.ax_ is ax and len(ax.lines) == 4
    order = np.argsort(auditor.label_issues_["label_quality"].to_numpy())
    assert static.precision.shape == (40,) and static.labels_inspected[-1] == 40
    assert 0.5 < static.precision[-1] <= 1
    # cleanlab's table has the same column names
    cleanlab_rank = pytest.importorskip("cleanlab.rank", reason="benchmark extra")
    import pandas as pd

    table = pd.DataFrame(
        {
            "label_quality": cleanlab_rank.get_label_quality_scores(
                y_noisy, auditor.proba_
            ),
            "given_label": y_noisy,
        }
    )
    theirs = LabelIssuesDisplay.from_label_issues(
        table, y, budget=40, ax=ax, name="cleanlab"
    )
    assert theirs.line_.get_label() == "cleanlab: precision"
    assert order.shape == (400,)


def test_cleaning_curve_display_from_cleaner():
    X, y = load_breast_cancer(return_X_y=True)
    X, y = minmax_scale(X)[:300], y[:300]
    y_noisy, _ = make_label_noise(y, 0.2, random_state=1)
    test = slice(200, 300)
    cleaner = SkepticalCleaner(
        LogisticRegression(),
        n_bootstrap=100,
        oracle=SimulatedOracle(y[:200]),
        random_state=0,
    )
    display = CleaningCurveDisplay.from_cleaner(
        cleaner,
        X[:200],
        y_noisy[:200],
        X_test=X[test],
        y_test=y[test],
        y_true=y[:200],
        n_points=4,
    )
    assert display.rounds.tolist() == [0, 25, 50, 75, 100]
    assert np.all(np.diff(display.n_cleaned) >= 0) and display.n_cleaned[-1] > 0
    assert display.f1.shape == (5,) and display.f1[-1] >= display.f1[0]
    # chunks give the same rounds as one fit
    whole = SkepticalCleaner(
        LogisticRegression(),
        n_bootstrap=100,
        oracle=SimulatedOracle(y[:200]),
        random_state=0,
    ).fit(X[:200], y_noisy[:200])
    assert display.cleaner.history_ == whole.history_
    np.testing.assert_array_equal(display.line_.get_ydata(), display.n_cleaned)
    assert display.f1_ax_ is not display.ax_
    assert not hasattr(cleaner, "history_")  # the given cleaner is untouched
    # no test set, no truth: labels the oracle changed, no F1 axis
    bare = CleaningCurveDisplay.from_cleaner(
        cleaner, X[:200], y_noisy[:200], n_points=2
    )
    assert bare.f1 is None and bare.f1_ax_ is None
    assert bare.n_cleaned[-1] == (
        whole.n_relabeled_examples_ + whole.n_relabeled_counter_examples_
    )


def test_counter_example_display_views(digits, auditor):
    X, *_ = digits
    image = CounterExampleDisplay.from_auditor(auditor, X, image_shape=(8, 8))
    issues = auditor.label_issues_
    row = int(image.caption.split()[0][1:])
    assert issues.loc[row, "counter_example"] >= 0
    np.testing.assert_array_equal(image.x, X[row])
    np.testing.assert_array_equal(
        image.counter_x, X[issues.loc[row, "counter_example"]]
    )
    assert image.image_.get_array().shape == (8, 18)
    assert image.bars_ is None
    # tabular: the features that differ most, as bars
    table = CounterExampleDisplay.from_auditor(auditor, X, example_id=row, n_features=5)
    assert len(table.bars_) == 2 and len(table.bars_[0]) == 5
    diff = np.abs(X[row] - table.counter_x)
    assert table.bars_[0][0].get_width() == X[row][np.argmax(diff)]
    with pytest.raises(ValueError, match="no counter-example"):
        clean = int(np.flatnonzero(issues["counter_example"].to_numpy() < 0)[0])
        CounterExampleDisplay.from_auditor(auditor, X, example_id=clean)


def test_counter_example_display_from_query_and_cleaner(digits):
    X, y, y_noisy, _ = digits
    query = Query(
        example_id=3,
        x=X[3],
        label=1,
        prediction=7,
        margin=0.5,
        classes=np.arange(10),
        counter_example_id=9,
        counter_x=X[9],
        counter_label=7,
        score=2.0,
    )
    display = CounterExampleDisplay.from_query(query, image_shape=(8, 8))
    assert display.caption == "#3 labeled 1, predicted 7"
    assert display.counter_caption == "#9 labeled 7, score 2"
    with pytest.raises(ValueError, match="no counter-example"):
        CounterExampleDisplay.from_query(
            Query(
                example_id=3,
                x=X[3],
                label=1,
                prediction=7,
                margin=0.5,
                classes=np.arange(10),
            )
        )
    cleaner = SkepticalCleaner(
        LogisticRegression(max_iter=500), n_bootstrap=340, random_state=0
    ).fit(X, y_noisy)
    first = next(r for r in cleaner.history_ if r.counter_example_id is not None)
    shown = CounterExampleDisplay.from_cleaner(cleaner, X, image_shape=(8, 8))
    assert shown.caption.startswith(f"#{first.example_id} labeled")
    with pytest.raises(ValueError, match="about example 0"):
        CounterExampleDisplay.from_cleaner(cleaner, X, example_id=0)


def test_plots_need_matplotlib(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("no matplotlib here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    display = LabelIssuesDisplay(np.array([1]), np.array([1.0]))
    with pytest.raises(ImportError, match=r"sklearn-cincer\[plot\]"):
        display.plot()


def test_two_cleaning_curves_on_one_axes_share_one_legend_and_one_f1_axis():
    fig, ax = plt.subplots()
    rounds = np.array([0, 10, 20])
    first = CleaningCurveDisplay(
        rounds, np.array([0, 3, 5]), name="CINCER", f1=np.array([0.80, 0.85, 0.90])
    ).plot(ax=ax)
    second = CleaningCurveDisplay(
        rounds, np.array([0, 1, 2]), name="No CE", f1=np.array([0.80, 0.82, 0.84])
    ).plot(ax=ax)
    third = CleaningCurveDisplay(rounds, np.array([0, 0, 1]), name="bare").plot(ax=ax)
    assert len(fig.axes) == 2  # ax and one twin: one F1 scale, not stacked twins
    assert first.f1_ax_ is second.f1_ax_ is third.f1_ax_
    legends = [a.get_legend() for a in fig.axes if a.get_legend() is not None]
    assert len(legends) == 1
    entries = [t.get_text() for t in legends[0].get_texts()]
    assert sorted(entries) == sorted(
        [
            "CINCER: labels cleaned",
            "No CE: labels cleaned",
            "bare: labels cleaned",
            "CINCER: test F1",
            "No CE: test F1",
        ]
    )
