"""``refit="incremental"``: Pipelines update their last step, and a fallback says so."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler, minmax_scale
from test_cleaner import breast_stream

from sklearn_cincer import NearestNeighborSelector, SimulatedOracle, SkepticalCleaner
from sklearn_cincer._refit import _REPLAY_ROWS


def _stream(seed=0, n=200):
    return breast_stream(seed, n=n)[:3]


class CountingScaler(StandardScaler):
    """A StandardScaler that counts its fits (class-level: clones share it)."""

    fits = 0

    def fit(self, X, y=None, sample_weight=None):
        type(self).fits += 1
        return super().fit(X, y, sample_weight)


def _no_fallback_warning(record):
    return not [w for w in record if "from scratch" in str(w.message)]


@pytest.mark.parametrize(
    "final, method",
    [
        (LogisticRegression(max_iter=1000), "warm_start"),
        (SGDClassifier(loss="log_loss", random_state=0), "partial_fit"),
        (GaussianNB(), "partial_fit"),
    ],
)
def test_pipeline_updates_its_last_step(final, method):
    X, y, y_noisy = _stream()
    CountingScaler.fits = 0
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        cleaner = SkepticalCleaner(
            make_pipeline(CountingScaler(), final),
            oracle=SimulatedOracle(y),
            refit="incremental",
            random_state=0,
            # GaussianNB has no last layer for the Fisher selectors to read
            selector=NearestNeighborSelector() if method == "partial_fit" else None,
        ).fit(X, y_noisy)
    assert cleaner.refit_method_ == method
    assert _no_fallback_warning(record)
    assert cleaner.n_queries_ > 0
    # The transformers were fit once, on the bootstrap set, and kept.
    assert CountingScaler.fits == 1
    scaler = cleaner.estimator_[0]
    np.testing.assert_allclose(scaler.mean_, X[:100].mean(axis=0))
    # The last step learned from the whole cleaned training set, scaled as
    # at the bootstrap: the pipeline predicts like it.
    Xt = scaler.transform(X)
    np.testing.assert_allclose(
        cleaner.predict_proba(X), cleaner.estimator_[-1].predict_proba(Xt)
    )


def test_pipeline_warm_start_equals_warm_starting_the_last_step_by_hand():
    X, y, y_noisy = _stream(1)
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    cleaner = SkepticalCleaner(
        pipe,
        oracle=SimulatedOracle(y),
        refit="incremental",
        random_state=0,
        counter_examples="none",
    ).fit(X, y_noisy)
    # Replay: the bootstrap pipeline, then the last step warm-started on each
    # round's training set (transformed by the bootstrap scaler).
    reference = clone(pipe).set_params(logisticregression__warm_start=True)
    reference.fit(X[:100], y_noisy[:100])
    labels = y_noisy.copy()
    for record in cleaner.history_:
        labels[record.example_id] = record.label_after
    scaler, model = reference[0], reference[-1]
    for t in range(100, 200):
        model.fit(scaler.transform(X[: t + 1]), labels[: t + 1])
    np.testing.assert_allclose(
        cleaner.estimator_[-1].coef_, model.coef_, rtol=1e-6, atol=1e-8
    )


def test_nested_pipeline_is_incremental_too():
    X, y, y_noisy = _stream(2)
    inner = Pipeline(
        [("scale", StandardScaler()), ("lr", LogisticRegression(max_iter=1000))]
    )
    outer = Pipeline([("id", "passthrough"), ("model", inner)])
    cleaner = SkepticalCleaner(
        outer, refit="incremental", oracle=SimulatedOracle(y)
    ).fit(X, y_noisy)
    assert cleaner.refit_method_ == "warm_start"
    assert cleaner.estimator_.get_params()["model__lr__warm_start"] is True


def test_falling_back_to_scratch_warns_once():
    X, y, y_noisy = _stream(3)
    for estimator in (
        KNeighborsClassifier(),
        make_pipeline(StandardScaler(), KNeighborsClassifier()),
    ):
        with pytest.warns(UserWarning, match="from scratch") as record:
            cleaner = SkepticalCleaner(
                estimator,
                refit="incremental",
                selector=NearestNeighborSelector(),
                oracle=SimulatedOracle(y),
            ).fit(X, y_noisy)
        assert cleaner.refit_method_ == "fit"
        messages = [str(w.message) for w in record if "from scratch" in str(w.message)]
        assert len(messages) == 1
        assert "KNeighborsClassifier" in messages[0]
        assert "warm_start" in messages[0] and "partial_fit" in messages[0]
    # "scratch" asked for scratch: nothing to warn about.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SkepticalCleaner(
            KNeighborsClassifier(),
            selector=NearestNeighborSelector(),
            oracle=SimulatedOracle(y),
        ).fit(X, y_noisy)


def test_rounds_refit_from_scratch_for_a_missing_class_are_counted_in_a_warning():
    # Iris sorted by label: the bootstrap holds classes 0 and 1 only, so
    # warm-starting is impossible until class 2 joins the training set.
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    X = minmax_scale(X)
    with pytest.warns(UserWarning, match=r"from scratch in \d+ of 50 rounds"):
        SkepticalCleaner(
            LogisticRegression(max_iter=500), refit="incremental", n_bootstrap=100
        ).fit(X, y)


def _expected_rows(t, relabeled, n_bootstrap=100):
    """Rows learned at round ``t``: the new one, the relabeled, the replay.

    The training set holds ``n_bootstrap + t - 1`` rows before the new one;
    the relabeled counter-examples among them are not replayed twice.
    """
    others = n_bootstrap + t - 1 - relabeled
    return min(_REPLAY_ROWS, others) + 1 + relabeled


class RowCountingSGD(SGDClassifier):
    """An SGDClassifier that records the rows each fit and partial_fit sees."""

    calls = None  # a list, set by each test (class-level: clones share it)

    def fit(self, X, y, **kwargs):
        super().fit(X, y, **kwargs)
        type(self).calls.append(("fit", X.shape[0], self.t_))
        return self

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        type(self).calls.append(("partial_fit", X.shape[0], np.asarray(y).copy()))
        return super().partial_fit(X, y, classes=classes, sample_weight=sample_weight)


def test_incremental_sgd_learns_only_the_rows_each_round_changed():
    X, y, y_noisy = _stream(4)
    RowCountingSGD.calls = []
    cleaner = SkepticalCleaner(
        RowCountingSGD(loss="log_loss", random_state=0),
        oracle=SimulatedOracle(y),
        refit="incremental",
        random_state=0,
    ).fit(X, y_noisy)
    assert cleaner.refit_method_ == "partial_fit"
    calls = RowCountingSGD.calls
    # One full fit, on the bootstrap set (it holds both classes); then one
    # partial_fit per round, never an epoch over the training set.
    assert calls[0][:2] == ("fit", 100)
    rounds = calls[1:]
    assert len(rounds) == 100 and all(c[0] == "partial_fit" for c in rounds)
    relabeled = {r.round: sum(r.relabeled_counter_examples) for r in cleaner.history_}
    assert sum(relabeled.values()) > 0  # the case below is exercised
    # The rows the round changed, after up to 128 earlier ones replayed.
    for t, call in enumerate(rounds, start=1):
        assert call[1] == _expected_rows(t, relabeled.get(t, 0))
    # A relabeled counter-example is learned with the oracle's label.
    record = next(r for r in cleaner.history_ if r.relabeled_counter_example)
    assert rounds[record.round - 1][2][-1] == record.counter_label_after
    # The model's count of rows learned grew by exactly those rows.
    assert cleaner.estimator_.t_ == calls[0][2] + sum(c[1] for c in rounds)


@pytest.mark.parametrize(
    "estimator, method",
    [
        (SGDClassifier(loss="log_loss"), "partial_fit"),
        (
            make_pipeline(StandardScaler(), SGDClassifier(loss="log_loss")),
            "partial_fit",
        ),
        # partial_fit refuses class_weight="balanced": a warm start does not.
        (SGDClassifier(loss="log_loss", class_weight="balanced"), "warm_start"),
        (LogisticRegression(), "warm_start"),
    ],
)
def test_refit_method_prefers_one_pass_over_the_changed_rows(estimator, method):
    from sklearn_cincer._refit import refit_method

    assert refit_method(estimator, "incremental") == method
    assert refit_method(estimator, "scratch") == "fit"


def test_mlp_updates_with_partial_fit_unless_its_solver_has_none():
    from sklearn.neural_network import MLPClassifier

    X, y, y_noisy = _stream(5)
    for solver, method in (("adam", "partial_fit"), ("lbfgs", "warm_start")):
        cleaner = SkepticalCleaner(
            MLPClassifier((8,), solver=solver, max_iter=300, random_state=0),
            oracle=SimulatedOracle(y),
            refit="incremental",
            random_state=0,
            counter_examples="none",
        ).fit(X[:130], y_noisy[:130])
        assert cleaner.refit_method_ == method
        assert cleaner.n_queries_ > 0
    # adam: the bootstrap fit's epochs, then one pass over one row (and the
    # replayed ones) per round (t_ counts the rows the solver has seen).
    mlp = MLPClassifier((8,), max_iter=50, random_state=0)
    bootstrap = clone(mlp).fit(X[:100], y_noisy[:100])
    cleaned = (
        SkepticalCleaner(
            mlp, refit="incremental", random_state=0, counter_examples="none"
        )
        .fit(X[:130], y_noisy[:130])
        .estimator_
    )
    assert cleaned.t_ == bootstrap.t_ + sum(_expected_rows(t, 0) for t in range(1, 31))


def test_partial_fit_bootstrap_without_every_class_declares_them_all():
    # Iris sorted by label: the bootstrap holds classes 0 and 1 only. A
    # full fit would fix two outputs, and partial_fit cannot add a class:
    # the bootstrap is one partial_fit told every class, and no round needs
    # a refit from scratch.
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    RowCountingSGD.calls = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "from scratch" warning
        cleaner = SkepticalCleaner(
            RowCountingSGD(loss="log_loss", random_state=0),
            refit="incremental",
            n_bootstrap=100,
            counter_examples="none",
        ).fit(minmax_scale(X), y)
    assert cleaner.refit_method_ == "partial_fit"
    assert RowCountingSGD.calls[0][:2] == ("partial_fit", 100)
    sizes = [c[1] for c in RowCountingSGD.calls[1:]]
    assert sizes == [_expected_rows(t, 0) for t in range(1, 51)]
    np.testing.assert_array_equal(cleaner.estimator_.classes_, [0, 1, 2])
    assert (cleaner.predict(minmax_scale(X)[100:]) == 2).mean() > 0.5


def test_rows_to_learn_replays_recent_rows_for_gradient_learners_only():
    from sklearn_cincer._refit import rows_to_learn

    train = np.arange(0, 600, 2)  # even ids are in the training set
    rows = rows_to_learn(SGDClassifier(), train, [598, 40])
    np.testing.assert_array_equal(rows, np.r_[np.arange(342, 598, 2), 598, 40])
    assert rows.shape[0] == _REPLAY_ROWS + 2
    assert len(set(rows.tolist())) == rows.shape[0]  # none replayed twice
    # naive Bayes accumulates counts: a replayed row would count twice.
    np.testing.assert_array_equal(rows_to_learn(GaussianNB(), train, [198]), [198])
    # fewer training rows than the replay
    np.testing.assert_array_equal(
        rows_to_learn(SGDClassifier(), train[:3], [4]), [0, 2, 4]
    )
