"""find_label_issues(labels, pred_probs=...), health_summary and label spellings."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from sklearn_cincer import LabelAuditor, find_label_issues, health_summary
from sklearn_cincer._cli import main
from sklearn_cincer._spellings import spelling_variants
from sklearn_cincer.datasets import make_label_noise

pd = pytest.importorskip("pandas")

COLUMNS = ["is_label_issue", "label_quality", "given_label", "predicted_label"]


@pytest.fixture(scope="module")
def noisy():
    rng = np.random.RandomState(0)
    y = rng.randint(3, size=150)
    X = rng.randn(150, 4) + 2.5 * np.eye(3, 4)[y]
    y_noisy, flipped = make_label_noise(y, 0.15, random_state=0)
    return X, y_noisy, flipped


def lr():
    return LogisticRegression(max_iter=1000)


def test_pred_probs_path_equals_estimator_path(noisy):
    X, y, _ = noisy
    proba = LabelAuditor(lr(), explain_issues=False, random_state=0).fit(X, y).proba_
    with_model = find_label_issues(lr(), X, y, explain_issues=False, random_state=0)
    for table in (
        find_label_issues(y, pred_probs=proba),
        find_label_issues(labels=y, pred_probs=proba),
    ):
        pd.testing.assert_frame_equal(table[COLUMNS], with_model[COLUMNS])
        assert (table["counter_example"] == -1).all()
        assert not table["inspected"].any()
        assert (table["cleaned_label"] == y).all()
    assert with_model["is_label_issue"].sum() > 0


def test_pred_probs_threshold_and_string_labels(noisy):
    X, y, _ = noisy
    names = np.array(["ant", "bee", "cat"])
    proba = LabelAuditor(lr(), explain_issues=False, random_state=0).fit(X, y).proba_
    table = find_label_issues(names[y], pred_probs=proba, threshold=0.5)
    margins = proba.max(axis=1) - proba[np.arange(len(y)), y]
    assert table["is_label_issue"].tolist() == (margins >= 0.5).tolist()
    assert set(table["predicted_label"]) <= set(names)


def test_integer_labels_may_miss_a_class():
    proba = np.array([[0.7, 0.1, 0.2], [0.1, 0.1, 0.8], [0.6, 0.2, 0.2]])
    table = find_label_issues(np.array([0, 2, 2]), pred_probs=proba)
    assert table["is_label_issue"].tolist() == [False, False, True]
    assert table["predicted_label"].tolist() == [0, 2, 0]


@pytest.mark.parametrize(
    "pred_probs, match",
    [
        (
            np.full((3, 2), 0.5)[:2],
            r"shape \(n_samples, n_classes\) = \(3, n_classes\)",
        ),
        (np.array([[0.5, 0.6], [0.5, 0.5], [1.0, 0.0]]), "must sum to 1; 1 rows"),
        (np.array([[np.nan, 1.0], [0.5, 0.5], [1.0, 0.0]]), "NaN or infinite"),
        (np.array([[2.0, -1.0], [0.5, 0.5], [1.0, 0.0]]), r"must lie in \[0, 1\]"),
        (np.ones((3, 1)), "at least two columns"),
        (np.full((3, 4), 0.25), "has 4 columns but labels hold 2 classes"),
        ([["a", "b"]] * 3, "must hold numbers"),
    ],
)
def test_bad_pred_probs_get_one_clear_error(pred_probs, match):
    with pytest.raises(ValueError, match=match):
        find_label_issues(np.array(["x", "y", "y"]), pred_probs=pred_probs)


def test_labels_of_mixed_types_get_one_clear_error():
    with pytest.raises(ValueError, match="labels mix types"):
        find_label_issues(
            np.array(["a", None, "b"], dtype=object), pred_probs=np.full((3, 2), 0.5)
        )


def test_forms_are_not_mixed(noisy):
    X, y, _ = noisy
    proba = np.full((len(y), 3), 1 / 3)
    with pytest.raises(ValueError, match="X and y have no use with pred_probs"):
        find_label_issues(lr(), X, y, pred_probs=proba)
    with pytest.raises(ValueError, match="pass the labels"):
        find_label_issues(lr(), pred_probs=proba)
    with pytest.raises(ValueError, match="given twice"):
        find_label_issues(y, labels=y, pred_probs=proba)
    with pytest.raises(ValueError, match="labels= goes with pred_probs="):
        find_label_issues(labels=y)
    with pytest.raises(ValueError, match=r"takes \(estimator, X, y\)"):
        find_label_issues(lr(), X)


def _known_noisy_set():
    """30 rows, 10 per true class; probabilities 0.8 on the true class.

    Three 'a' rows are labeled 'b' and one 'b' row 'c'.
    """
    truth = np.repeat(np.array(["a", "b", "c"]), 10)
    given = truth.copy()
    given[[0, 1, 2]] = "b"
    given[10] = "c"
    proba = np.full((30, 3), 0.1)
    proba[np.arange(30), np.searchsorted(["a", "b", "c"], truth)] = 0.8
    return given, proba


def test_health_summary_counts_a_known_noisy_set():
    given, proba = _known_noisy_set()
    summary = health_summary(given, proba)
    assert summary.n_examples == 30 and summary.n_label_issues == 4
    assert summary.overall_label_quality == pytest.approx(1 - 4 / 30)
    by_class = {c["class"]: c for c in summary.classes}
    assert {k: (c["n_examples"], c["n_label_issues"]) for k, c in by_class.items()} == {
        "a": (7, 0),
        "b": (12, 3),
        "c": (11, 1),
    }
    assert summary.classes[0]["class"] == "b"  # worst first
    assert by_class["b"]["issue_rate"] == pytest.approx(3 / 12)
    assert summary.confused == [
        {"given": "b", "predicted": "a", "n_examples": 3},
        {"given": "c", "predicted": "b", "n_examples": 1},
    ]
    assert summary.spellings == []
    text = str(summary)
    assert "Label issues: 4 of 30 examples" in text and "'b' and 'a': 3" in text


def test_health_summary_names_spellings():
    given, proba = _known_noisy_set()
    given = given.astype(object)
    given[[20, 21]] = "C "  # of class 'c' for the eye, a class of its own here
    proba = np.c_[np.zeros(30), proba]  # columns: 'C ', 'a', 'b', 'c'
    summary = health_summary(given, proba)
    assert summary.spellings == [{"c": 9, "C ": 2}]
    assert "'c' (9 rows), 'C ' (2 rows)" in str(summary)


def test_spelling_variants():
    labels = [
        "Adelie",
        "Adelie ",
        " adelie",
        "Ade lie",
        "Adelia",
        "Gentoo",
        "Gentoo",
        "gentoo",
        3,
        None,
        float("nan"),
        "",
        "  ",
    ]
    assert spelling_variants(labels) == [
        {"Adelie": 1, " adelie": 1, "Ade lie": 1, "Adelie ": 1},
        {"Gentoo": 2, "gentoo": 1},
    ]
    assert spelling_variants(["a", "b", 1, 2]) == []
    assert spelling_variants([]) == []


def test_clean_command_reports_spellings_before_the_run(tmp_path, capsys):
    rng = np.random.RandomState(0)
    y = rng.randint(2, size=60)
    frame = pd.DataFrame(
        {"size": rng.randn(60) + 2 * y, "kind": np.array(["Adelie", "Gentoo"])[y]}
    )
    frame.loc[[5, 7], "kind"] = "Adelie "
    data = tmp_path / "penguins.csv"
    frame.to_csv(data, index=False)
    code = main(
        [
            "clean",
            str(data),
            "--label",
            "kind",
            "--oracle",
            "none",
            "--output",
            str(tmp_path / "out.csv"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    n_adelie = int((frame["kind"] == "Adelie").sum())
    line = (
        "Labels that differ only in case or spaces: 'Adelie' ("
        f"{n_adelie} rows), 'Adelie ' (2 rows)"
    )
    assert line in out
    assert out.index(line) < out.index("train the model")
