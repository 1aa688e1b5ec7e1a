"""A selector's state: a failed fit or update changes nothing; masks as candidates."""

import importlib.util

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from sklearn_cincer import (
    CleaningSelector,
    FullFisherSelector,
    InfluenceSelector,
    NearestNeighborSelector,
    PerceptualSelector,
    PracticalFisherSelector,
    RandomSelector,
    TopFisherSelector,
)
from sklearn_cincer.selectors._base import top_candidates

HAS_TORCH = all(importlib.util.find_spec(m) for m in ("torch", "skorch"))


def _torch_selector():
    if not HAS_TORCH:
        pytest.skip("TorchTopFisherSelector needs torch and skorch ('.[torch]')")
    from sklearn_cincer.nets import TorchTopFisherSelector

    return TorchTopFisherSelector()


MAKERS = {
    "top": TopFisherSelector,
    "top-cg": lambda: TopFisherSelector(solver="cg"),
    "top-kfac": lambda: TopFisherSelector(fisher="kfac"),
    "cleaning": CleaningSelector,
    "full": FullFisherSelector,
    "practical": PracticalFisherSelector,
    "influence": lambda: InfluenceSelector(depth=50, random_state=0),
    "nearest": NearestNeighborSelector,
    "random": lambda: RandomSelector(random_state=0),
    "perceptual": lambda: PerceptualSelector(n_neighbors=5),
    "torch": _torch_selector,
}


def _data(seed):
    X, y = make_classification(60, 4, n_informative=3, n_redundant=0, random_state=seed)
    X = StandardScaler().fit_transform(X)
    return LogisticRegression().fit(X, y), X, y


class _Broken(RuntimeError):
    pass


def _break_after_fit(monkeypatch, selector):
    """Make ``_fit`` fail after it has set its attributes (the worst moment)."""
    real = type(selector)._fit

    def failing(self, estimator, X, y):
        real(self, estimator, X, y)
        raise _Broken("fit failed at its end")

    monkeypatch.setattr(type(selector), "_fit", failing)


@pytest.mark.parametrize("name", MAKERS)
def test_a_failed_fit_leaves_a_new_selector_unfitted(name, monkeypatch):
    selector = MAKERS[name]()
    model, X, y = _data(0)
    _break_after_fit(monkeypatch, selector)
    with pytest.raises(_Broken):
        selector.fit(model, X, y)
    assert not [k for k in vars(selector) if k.endswith("_")], vars(selector)
    with pytest.raises(NotFittedError):
        check_is_fitted(selector)
    with pytest.raises(NotFittedError):
        selector.select(X[0], 1 - y[0])


@pytest.mark.parametrize("name", MAKERS)
def test_a_failed_refit_keeps_the_earlier_state(name, monkeypatch):
    selector = MAKERS[name]()
    model, X, y = _data(0)
    selector.fit(model, X, y)
    before = np.asarray(selector.score(X[0], 1 - y[0]), dtype=float)
    state = dict(vars(selector))
    other_model, X2, y2 = _data(1)
    _break_after_fit(monkeypatch, selector)
    with pytest.raises(_Broken):
        selector.fit(other_model, X2[:40], y2[:40])
    assert vars(selector).keys() == state.keys()
    assert all(vars(selector)[k] is v for k, v in state.items())
    assert selector.n_train_ == 60
    monkeypatch.undo()
    if name != "random":  # whose scores are draws
        np.testing.assert_array_equal(selector.score(X[0], 1 - y[0]), before)


def test_bad_inputs_leave_a_fitted_selector_as_it_was():
    # a real failure: features that overflow float64 once squared
    model, X, y = _data(0)
    for selector in (TopFisherSelector(), CleaningSelector()):
        selector.fit(model, X, y)
        row = selector.select(X[0], 1 - y[0])
        huge = X * 1e155
        with np.errstate(all="ignore"), pytest.raises(ValueError, match="Scale"):
            selector.fit(LogisticRegression().fit(huge, y), huge, y)
        with np.errstate(all="ignore"), pytest.raises(ValueError, match="Scale"):
            clone(selector).fit(LogisticRegression().fit(huge, y), huge, y)
        assert selector.n_train_ == 60
        assert selector.select(X[0], 1 - y[0]) == row


def test_a_failed_update_keeps_the_earlier_state(monkeypatch):
    model, X, y = _data(0)
    rows = np.arange(50)
    for make, hook in ((TopFisherSelector, "_refreshed"), (CleaningSelector, "_keep")):
        selector = make().fit(model, X[rows], y[rows])
        before = selector.score(X[0], 1 - y[0])
        state = dict(vars(selector))
        monkeypatch.setattr(type(selector), hook, _raise)
        with pytest.raises(_Broken):
            selector.update(model, X, y, np.arange(60))
        monkeypatch.undo()
        assert all(vars(selector)[k] is v for k, v in state.items())
        assert vars(selector).keys() == state.keys()
        np.testing.assert_array_equal(selector.score(X[0], 1 - y[0]), before)
        # and the update itself still works afterwards
        selector.update(model, X, y, np.arange(60))
        assert selector.n_train_ == 60


def _raise(*args, **kwargs):
    raise _Broken("update failed at its end")


# ------------------------------------------------------------ candidates


@pytest.mark.parametrize("name", MAKERS)
def test_a_boolean_mask_is_read_as_a_mask(name):
    model, X, y = _data(0)

    def fitted():  # afresh each time: RandomSelector's scores are seeded draws
        return MAKERS[name]().fit(model, X, y)

    mask = y == model.predict(X[:1])[0]
    rows = np.flatnonzero(mask)
    assert rows.size > 2
    x, label = X[0], 1 - model.predict(X[:1])[0]
    np.testing.assert_allclose(
        fitted().score(x, label, mask), fitted().score(x, label, rows)
    )
    row, _ = fitted().select(x, label, mask)
    assert mask[row] and row == fitted().select(x, label, rows)[0]


def test_a_mask_of_another_length_is_refused_not_read_as_rows_0_and_1():
    model, X, y = _data(0)
    selector = TopFisherSelector().fit(model, X, y)
    for mask in ([True, False], np.ones(61, dtype=bool), np.ones((6, 10), bool)):
        with pytest.raises(
            ValueError, match="boolean mask of shape .* 60 training rows"
        ):
            selector.select(X[0], 1 - y[0], mask)
    with pytest.raises(ValueError, match="boolean mask"):
        CleaningSelector().fit(model, X, y).leave_one_out_probability([True])


def test_candidates_that_are_not_whole_numbers_are_refused():
    model, X, y = _data(0)
    selector = NearestNeighborSelector().fit(model, X, y)
    assert selector.select(X[0], 0, [3.0, 5.0]) == selector.select(X[0], 0, [3, 5])
    for bad in ([1.5, 2.0], [np.nan], ["3"]):
        with pytest.raises(ValueError, match="candidates must be training rows"):
            selector.select(X[0], 0, bad)


def test_top_candidates_reads_a_mask_of_the_scored_rows():
    mask = np.array([False, True, False, True, True])
    rows, top = top_candidates(np.array([0.1, 0.9, 0.5]), mask, 2)
    assert rows.tolist() == [3, 4] and top.tolist() == [0.9, 0.5]
    with pytest.raises(ValueError, match="3 scores for 2 candidates"):
        top_candidates(np.array([0.1, 0.9, 0.5]), [True, True, False], 1)
