"""SkepticalCleaner(refit_every=...): blocks ask the same questions as row by row."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import sklearn_cincer
from sklearn_cincer import SimulatedOracle, SkepticalCleaner
from sklearn_cincer._cli import main
from sklearn_cincer.datasets import make_label_noise

CALLS = []  # rows of each predict_proba call, and fits (clones copy parameters)


class CountingLR(LogisticRegression):
    """LogisticRegression that notes its fits and the rows it scores per call."""

    def fit(self, X, y, sample_weight=None):
        CALLS.append("fit")
        return super().fit(X, y, sample_weight)

    def predict_proba(self, X):
        CALLS.append(len(X))
        return super().predict_proba(X)


class RowByRowLR(CountingLR):
    """The same model, scoring every row by a call of its own."""

    def predict_proba(self, X):
        return np.vstack(
            [CountingLR.predict_proba(self, X[i : i + 1]) for i in range(len(X))]
        )


@pytest.fixture(scope="module")
def stream():
    rng = np.random.RandomState(0)
    y = rng.randint(3, size=700)
    X = rng.randn(700, 4) + 2.0 * np.eye(3, 4)[y]
    y_noisy, _ = make_label_noise(y, 0.15, random_state=0)
    return X, y, y_noisy


def _questions(cleaner):
    return [
        (
            r.example_id,
            r.counter_example_ids,
            r.prediction,
            r.label_after,
            r.counter_labels_after,
        )
        for r in cleaner.history_
    ]


def _fit(model, X, y, **params):
    CALLS.clear()
    cleaner = SkepticalCleaner(model, n_bootstrap=50, random_state=0, **params).fit(
        X, y
    )
    scored = [c for c in CALLS if c != "fit"]
    return cleaner, scored, CALLS.count("fit")


@pytest.mark.parametrize("refit_every", [25, 0.05])
@pytest.mark.parametrize("answers", [False, True])
def test_block_scoring_asks_the_same_questions_as_row_by_row(
    stream, refit_every, answers
):
    X, y, y_noisy = stream
    params = dict(
        refit_every=refit_every, oracle=SimulatedOracle(y) if answers else None
    )
    blocks, block_calls, _ = _fit(CountingLR(), X, y_noisy, **params)
    rows, row_calls, _ = _fit(RowByRowLR(), X, y_noisy, **params)
    assert len(blocks.history_) > 20
    assert _questions(blocks) == _questions(rows)
    np.testing.assert_allclose(
        [r.margin for r in blocks.history_],
        [r.margin for r in rows.history_],
        rtol=0,
        atol=1e-12,
    )
    np.testing.assert_array_equal(blocks.y_cleaned_, rows.y_cleaned_)
    # the mechanism: whole blocks in one call, not one row per call
    assert max(block_calls) > 10 and max(row_calls) == 1
    if answers:  # corrections were made, and each one ended its block
        assert blocks.n_relabeled_examples_ > 0


def test_refit_every_one_is_a_refit_per_row(stream):
    X, _, y_noisy = stream
    cleaner, _, n_fits = _fit(CountingLR(), X, y_noisy, counter_examples="none")
    assert n_fits == 1 + (700 - 50)  # the bootstrap, then one per round
    assert cleaner.n_seen_ == 700


@pytest.mark.parametrize("refit_every, most", [(50, 1 + 13), (0.1, 1 + 30)])
def test_refit_every_spaces_the_updates(stream, refit_every, most):
    X, _, y_noisy = stream
    cleaner, _, n_fits = _fit(
        CountingLR(), X, y_noisy, refit_every=refit_every, counter_examples="none"
    )
    assert 1 < n_fits <= most
    assert cleaner.n_seen_ == 700 and cleaner.ids_.shape[0] == 700


def test_an_answer_that_changes_a_label_updates_at_once(stream):
    X, y, y_noisy = stream
    cleaner, _, n_fits = _fit(
        CountingLR(),
        X,
        y_noisy,
        refit_every=1000,
        oracle=SimulatedOracle(y),
        counter_examples="none",
    )
    # one block of 650 rows would be one update; each correction adds one
    assert cleaner.n_relabeled_examples_ > 5
    assert n_fits == 1 + cleaner.n_relabeled_examples_ + 1


@pytest.mark.parametrize("bad", [0, 1.0, 1.5, -0.1, "often"])
def test_bad_refit_every_is_refused(stream, bad):
    X, _, y_noisy = stream
    with pytest.raises(ValueError, match="refit_every"):
        SkepticalCleaner(LogisticRegression(), refit_every=bad).fit(X, y_noisy)


def test_clean_command_spaces_updates_only_without_a_person(tmp_path, monkeypatch):
    seen = []

    class Spy(SkepticalCleaner):
        def fit(self, X, y):
            seen.append(self.refit_every)
            return super().fit(X, y)

    monkeypatch.setattr(sklearn_cincer, "SkepticalCleaner", Spy)
    import pandas as pd

    rng = np.random.RandomState(0)
    y = rng.randint(2, size=300)
    data = tmp_path / "data.csv"
    pd.DataFrame({"a": rng.randn(300) + 2 * y, "y": y}).to_csv(data, index=False)
    assert (
        main(
            [
                "clean",
                str(data),
                "--label",
                "y",
                "--oracle",
                "none",
                "--output",
                str(tmp_path / "out.csv"),
            ]
        )
        == 0
    )
    assert seen == [0.01]


def test_run_fingerprint_leaves_the_default_out():
    from sklearn_cincer.oracles._fingerprint import run_fingerprint

    X, y = np.arange(20.0)[:, None], np.r_[np.zeros(10), np.ones(10)]
    default = run_fingerprint(SkepticalCleaner(LogisticRegression()), X, y)
    spaced = run_fingerprint(
        SkepticalCleaner(LogisticRegression(), refit_every=0.01), X, y
    )
    # a store written before refit_every existed still matches the default
    assert "refit_every" not in default["params"]
    assert spaced["params"]["refit_every"] == 0.01
