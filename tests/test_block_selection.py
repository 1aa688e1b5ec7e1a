"""Questions of one block scored together: the picks of one-at-a-time scoring."""

import copy

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from sklearn_cincer import (
    CleaningSelector,
    SimulatedOracle,
    SkepticalCleaner,
    TopFisherSelector,
)
from sklearn_cincer.datasets import make_label_noise
from sklearn_cincer.selectors import _batch, _cleaning
from sklearn_cincer.selectors import _top_fisher as _fisher_selectors
from sklearn_cincer.selectors._base import top_candidates


@pytest.fixture(scope="module")
def tied():
    """Three classes, 15% flipped labels, every row twice (exact ties)."""
    rng = np.random.RandomState(0)
    y = rng.randint(3, size=300)
    X = rng.randn(300, 4) + 1.5 * np.eye(3, 4)[y]
    y_noisy, _ = make_label_noise(y, 0.15, random_state=0)
    X, y, y_noisy = (np.concatenate([a, a]) for a in (X, y, y_noisy))
    return X, y, y_noisy


def _one_at_a_time(selector, X, y, candidates, n):
    return [
        top_candidates(
            np.asarray(selector.score(x, label, candidates)), candidates, n, "s"
        )
        for x, label in zip(X, y)
    ]


def _assert_same(batched, single):
    for got, want in zip(batched, single, strict=True):
        assert got is not None
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_allclose(got[1], want[1], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    "make",
    [
        lambda: TopFisherSelector(),
        lambda: CleaningSelector(),  # every supporter scored
        lambda: CleaningSelector(shortlist=7),  # the shortlist cuts the pass short
    ],
)
@pytest.mark.parametrize("n", [1, 2])
@pytest.mark.parametrize("candidates", ["predicted", "all"])
def test_select_many_picks_as_one_at_a_time(tied, make, n, candidates):
    X, _, y_noisy = tied
    model = LogisticRegression().fit(X, y_noisy)
    selector = make().fit(model, X, y_noisy)
    wrong = np.flatnonzero(model.predict(X) != y_noisy)[:40]
    for prediction in range(3):
        asked = wrong[model.predict(X[wrong]) == prediction]
        rows = (
            np.flatnonzero(y_noisy == prediction)
            if candidates == "predicted"
            else np.arange(X.shape[0])
        )
        single = _one_at_a_time(selector, X[asked], y_noisy[asked], rows, n)
        batched = selector.select_many(X[asked], y_noisy[asked], rows, n=n)
        _assert_same(batched, single)
    # the data hold ties: a duplicated row scores as its twin
    scores = (
        TopFisherSelector().fit(model, X, y_noisy).score(X[wrong[0]], y_noisy[wrong[0]])
    )
    np.testing.assert_array_equal(scores[:300], scores[300:])


def test_select_many_over_many_blocks_of_candidates(tied, monkeypatch):
    X, _, y_noisy = tied
    monkeypatch.setattr(_batch, "_BLOCK_ENTRIES", 64)  # blocks of 256 rows
    monkeypatch.setattr(_cleaning, "_HEAD_ROWS", 50)  # then the rest, sorted
    model = LogisticRegression().fit(X, y_noisy)
    wrong = np.flatnonzero(model.predict(X) != y_noisy)[:30]
    rows = np.arange(X.shape[0])
    blocks = []
    real = _batch._SupportScan._block
    monkeypatch.setattr(
        _batch._SupportScan,
        "_block",
        lambda self, p, c: blocks.append(len(p)) or real(self, p, c),
    )
    selectors = (
        TopFisherSelector(),
        CleaningSelector(shortlist=None),
        CleaningSelector(shortlist=120),
    )
    for selector in selectors:
        selector.fit(model, X, y_noisy)
        single = _one_at_a_time(selector, X[wrong], y_noisy[wrong], rows, 2)
        if selector.get_params().get("shortlist", 0) is None:
            selector.shortlist = 2000  # more than the candidates: every supporter
        _assert_same(selector.select_many(X[wrong], y_noisy[wrong], rows, n=2), single)
    assert len(blocks) >= 3 * 3 and max(blocks) == 256


def test_select_many_rescores_near_ties_one_at_a_time(tied, monkeypatch):
    """With a huge rounding bound every candidate is a contender: same picks."""
    X, _, y_noisy = tied
    model = LogisticRegression().fit(X, y_noisy)
    wrong = np.flatnonzero(model.predict(X) != y_noisy)[:10]
    for selector in (TopFisherSelector(), CleaningSelector()):
        selector.fit(model, X, y_noisy)
        single = _one_at_a_time(
            selector, X[wrong], y_noisy[wrong], np.arange(X.shape[0]), 2
        )
        real = _batch._SupportScan.__init__

        def loose(self, *args, **kwargs):
            real(self, *args, **kwargs)
            self.bound = 1e6  # no sign and no rank is trusted to the product

        monkeypatch.setattr(_batch._SupportScan, "__init__", loose)
        _assert_same(selector.select_many(X[wrong], y_noisy[wrong], n=2), single)
        monkeypatch.setattr(_batch._SupportScan, "__init__", real)


def test_select_many_leaves_what_it_cannot_rank_to_one_at_a_time(tied):
    X, _, y_noisy = tied
    model = LogisticRegression().fit(X, y_noisy)
    for selector in (CleaningSelector(), TopFisherSelector()):
        selector.fit(model, X, y_noisy)
        odd = np.vstack(
            [np.full(X.shape[1], np.nan), np.full(X.shape[1], 1e300), X[:1]]
        )
        picks = selector.select_many(odd, y_noisy[:3], n=1)
        # NaN: one at a time raises the error that says why, for that one alone
        assert picks[0] is None
        with pytest.raises(ValueError, match="NaN or infinite"):
            selector.select(odd[0], y_noisy[0])
        for x, label, pick in zip(odd[1:], y_noisy[1:3], picks[1:]):
            assert (int(pick[0][0]), float(pick[1][0])) == selector.select(x, label)


class _OneAtATime(CleaningSelector):
    """The same selector without select_many: the cleaner scores one by one."""

    select_many = None


class _TopOneAtATime(TopFisherSelector):
    select_many = None


def _history(cleaner):
    return [
        (
            r.example_id,
            r.counter_example_ids,
            r.label_after,
            r.counter_labels_after,
            r.dropped,
        )
        for r in cleaner.history_
    ]


@pytest.mark.parametrize("kind", ["cleaning", "top"])
@pytest.mark.parametrize("strategy", ["relabel", "drop"])
@pytest.mark.parametrize("n", [1, 2])
@pytest.mark.parametrize("candidates", ["predicted", "all"])
@pytest.mark.parametrize("answers", [False, True])
def test_cleaner_asks_as_one_at_a_time(tied, kind, strategy, n, candidates, answers):
    X, y, y_noisy = tied
    batched_cls, single_cls = (
        (CleaningSelector, _OneAtATime)
        if kind == "cleaning"
        else (TopFisherSelector, _TopOneAtATime)
    )
    runs = []
    for selector in (batched_cls(), single_cls()):
        runs.append(
            SkepticalCleaner(
                LogisticRegression(),
                selector=selector,
                refit_every=0.2,
                n_bootstrap=60,
                counter_examples=strategy,
                n_counter_examples=n,
                candidates=candidates,
                random_state=0,
                oracle=SimulatedOracle(y) if answers else None,
            ).fit(X, y_noisy)
        )
    batched, single = runs
    assert len(batched.history_) > 20
    assert _history(batched) == _history(single)
    np.testing.assert_allclose(
        [r.scores for r in batched.history_],
        [r.scores for r in single.history_],
        rtol=1e-9,
        atol=1e-12,
    )
    np.testing.assert_array_equal(batched.y_cleaned_, single.y_cleaned_)
    if answers:  # answers changed labels, and each ended its block
        assert batched.n_relabeled_examples_ > 0


def test_a_block_cut_short_scores_few_questions_in_vain(tied, monkeypatch):
    X, y, y_noisy = tied
    scored = []
    real = CleaningSelector.select_many

    def counting(self, X, y, candidates=None, n=1):
        scored.append(len(y))
        return real(self, X, y, candidates, n)

    monkeypatch.setattr(CleaningSelector, "select_many", counting)
    cleaner = SkepticalCleaner(
        LogisticRegression(),
        refit_every=0.5,
        n_bootstrap=60,
        random_state=0,
        oracle=SimulatedOracle(y),
    ).fit(X, y_noisy)
    asked = len(cleaner.history_)
    assert cleaner.n_relabeled_examples_ > 5  # blocks were cut short
    # each batch is at most twice the last of its block, the first 8 a group
    assert asked <= sum(scored) <= 2 * asked + 8 * 3 * cleaner.n_relabeled_examples_


class _Reversed(TopFisherSelector):
    """A subclass that ranks otherwise: select_many must not ignore it."""

    def score(self, x, y, candidates=None):
        return -super().score(x, y, candidates)


def test_a_subclass_that_scores_otherwise_is_scored_one_at_a_time(tied):
    X, _, y_noisy = tied
    model = LogisticRegression().fit(X, y_noisy)
    selector = _Reversed().fit(model, X, y_noisy)
    assert selector.select_many(X[:3], y_noisy[:3]) == [None, None, None]
    cleaning = CleaningSelector().fit(model, X, y_noisy)
    cleaning.fisher_ = copy.copy(cleaning.fisher_)
    cleaning.fisher_.__class__ = _Reversed
    assert cleaning.select_many(X[:3], y_noisy[:3]) == [None, None, None]


@pytest.mark.parametrize("n", [1, 2])
def test_select_many_on_float32_features(tied, monkeypatch, n):
    """Large sets keep float32 features: one-at-a-time scoring rounds coarser."""
    X, _, y_noisy = tied
    monkeypatch.setattr(_fisher_selectors, "_FLOAT32_ENTRIES", 16)
    model = LogisticRegression().fit(X, y_noisy)
    wrong = np.flatnonzero(model.predict(X) != y_noisy)[:40]
    rows = np.arange(X.shape[0])
    for selector in (
        TopFisherSelector(),
        CleaningSelector(),
        CleaningSelector(shortlist=7),
    ):
        selector.fit(model, X, y_noisy)
        fisher = (
            selector.fisher_ if isinstance(selector, CleaningSelector) else selector
        )
        assert getattr(fisher._state["H"], "array", fisher._state["H"]).dtype == (
            np.float32
        )
        single = _one_at_a_time(selector, X[wrong], y_noisy[wrong], rows, n)
        _assert_same(selector.select_many(X[wrong], y_noisy[wrong], rows, n=n), single)


@pytest.mark.parametrize("n", [1, 2])
def test_cleaner_on_float32_features_asks_as_one_at_a_time(tied, monkeypatch, n):
    X, _, y_noisy = tied
    monkeypatch.setattr(_fisher_selectors, "_FLOAT32_ENTRIES", 16)
    runs = [
        SkepticalCleaner(
            LogisticRegression(),
            selector=selector,
            refit_every=0.2,
            n_bootstrap=60,
            n_counter_examples=n,
            random_state=0,
        ).fit(X, y_noisy)
        for selector in (CleaningSelector(), _OneAtATime())
    ]
    assert len(runs[0].history_) > 20
    assert _history(runs[0]) == _history(runs[1])
    assert [r.scores for r in runs[0].history_] == [r.scores for r in runs[1].history_]
