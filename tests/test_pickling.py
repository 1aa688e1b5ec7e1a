"""Every supported fitted cleaner pickles and goes on exactly as before.

For each estimator kind the README lists (LogisticRegression,
SGDClassifier(log_loss), MLPClassifier, Pipelines ending in one, skorch nets:
PaperNetClassifier and a plain NeuralNetClassifier in a Pipeline as the docs
recommend) and each selector that keeps fitted state, a fitted cleaner is
saved with pickle and with joblib, loaded, and both copies stream the same
new rows: the history, labels and predictions must be identical.
"""

import pickle

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from sklearn_cincer import (
    FullFisherSelector,
    InfluenceSelector,
    NearestNeighborSelector,
    PracticalFisherSelector,
    RandomSelector,
    SimulatedOracle,
    SkepticalCleaner,
    TopFisherSelector,
)
from sklearn_cincer._core.last_layer import last_layer_view
from sklearn_cincer._core.parameter_views import parameter_view
from sklearn_cincer.selectors import PerceptualSelector

N_FIT, N_MORE = 52, 8

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def stream():
    X, y = load_iris(return_X_y=True)
    order = np.random.RandomState(0).permutation(y.shape[0])[: N_FIT + N_MORE]
    X, y = X[order], y[order]
    rng = np.random.RandomState(1)
    y_noisy = y.copy()
    flip = rng.choice(np.arange(40, y.shape[0]), 10, replace=False)
    y_noisy[flip] = (y_noisy[flip] + 1 + rng.randint(2, size=10)) % 3
    return X, y, y_noisy


def to_float32(X):
    """The docs' recipe for plain skorch nets: float32 inputs, module-level."""
    return np.asarray(X, dtype=np.float32)


def _skorch(kind):
    torch = pytest.importorskip("torch")
    skorch = pytest.importorskip("skorch")
    from sklearn_cincer.nets import FCNet, PaperNetClassifier

    if kind == "paper_net":
        return PaperNetClassifier(
            FCNet, module__hidden=(8,), max_epochs=3, random_state=0
        )
    net = skorch.NeuralNetClassifier(
        FCNet,
        module__n_features=4,
        module__n_classes=3,
        module__hidden=(8,),
        criterion=torch.nn.CrossEntropyLoss,
        max_epochs=3,
        train_split=None,
        classes=[0, 1, 2],
        verbose=0,
    )
    return make_pipeline(FunctionTransformer(to_float32), net)


ESTIMATORS = {
    "logistic": lambda: LogisticRegression(max_iter=500),
    "sgd": lambda: SGDClassifier(
        loss="log_loss", max_iter=20, tol=None, random_state=0
    ),
    "mlp": lambda: MLPClassifier((6,), max_iter=40, random_state=0),
    "pipeline_lr": lambda: make_pipeline(StandardScaler(), LogisticRegression()),
    "pipeline_mlp": lambda: make_pipeline(
        StandardScaler(), MLPClassifier((6,), max_iter=40, random_state=0)
    ),
    "paper_net": lambda: _skorch("paper_net"),
    "pipeline_skorch": lambda: _skorch("pipeline_skorch"),
}

SELECTORS = {
    "top_fisher": lambda: None,  # the default
    "full_fisher": lambda: FullFisherSelector(),
    "practical": lambda: PracticalFisherSelector(),
    # A short LiSSA: what is saved matters here, not the accuracy.
    "influence": lambda: InfluenceSelector(depth=10),
    "perceptual": lambda: PerceptualSelector(n_neighbors=5, space="features"),
    "nearest": lambda: NearestNeighborSelector(),
    "random": lambda: RandomSelector(),
}

NETS = ("paper_net", "pipeline_skorch")

# Every estimator kind with the default selector, every selector on the
# kind whose views nest (a Pipeline ending in an MLP), and on the nets the
# selectors that hold torch state: the whole loop, saved and continued.
CASES = (
    [(estimator, "top_fisher", "scratch") for estimator in ESTIMATORS]
    + [("pipeline_mlp", s, "scratch") for s in SELECTORS if s != "top_fisher"]
    + [(net, s, "scratch") for net in NETS for s in ("practical", "torch_top_fisher")]
    # Incremental refits keep training the saved model (warm_start: an
    # optimizer's state; partial_fit): the docs' recipe for networks.
    + [(e, "top_fisher", "incremental") for e in ("sgd", "mlp", "paper_net")]
)

# Every fitted selector on every estimator kind: saved and scored.
PAIRS = [(e, s) for e in ESTIMATORS for s in SELECTORS] + [
    (net, "torch_top_fisher") for net in NETS
]


def _selector(name):
    if name == "torch_top_fisher":
        pytest.importorskip("torch")
        from sklearn_cincer.nets import TorchTopFisherSelector

        return TorchTopFisherSelector()
    return SELECTORS[name]()


def _seed_torch():
    # Plain skorch nets draw initial weights from torch's global generator:
    # both copies start each call from the same state.
    try:
        import torch
    except ImportError:  # pragma: no cover - no torch extra
        return
    torch.manual_seed(0)


def _same(a, b):
    assert a.history_ == b.history_
    assert a.n_seen_ == b.n_seen_
    np.testing.assert_array_equal(a.ids_, b.ids_)
    np.testing.assert_array_equal(a.y_, b.y_)


@pytest.mark.parametrize("estimator,selector,refit", CASES)
def test_fitted_cleaner_pickles_and_continues_identically(
    stream, estimator, selector, refit, tmp_path, torch_one_thread_if_any
):
    X, y_true, y_noisy = stream
    cleaner = SkepticalCleaner(
        ESTIMATORS[estimator](),
        selector=_selector(selector),
        oracle=SimulatedOracle(y_true),
        threshold=0.0,
        n_bootstrap=40,
        refit=refit,
        random_state=0,
    )
    _seed_torch()
    cleaner.fit(X[:N_FIT], y_noisy[:N_FIT])
    assert cleaner.refit_method_ != "fit" or refit == "scratch"
    # The fitted state holds a fitted selector (and its view of the model).
    assert cleaner.n_queries_ > 0
    assert hasattr(cleaner.selector_, "n_train_")

    loaded = pickle.loads(pickle.dumps(cleaner))
    joblib.dump(cleaner, tmp_path / "cleaner.joblib")
    from_joblib = joblib.load(tmp_path / "cleaner.joblib")
    _same(loaded, cleaner)
    _same(from_joblib, cleaner)
    np.testing.assert_array_equal(loaded.predict(X), cleaner.predict(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), cleaner.predict_proba(X))

    for copy in (cleaner, loaded, from_joblib):
        _seed_torch()
        copy.partial_fit(X[N_FIT:], y_noisy[N_FIT:])
    assert cleaner.n_seen_ == N_FIT + N_MORE
    for copy in (loaded, from_joblib):
        _same(copy, cleaner)
        np.testing.assert_array_equal(copy.predict(X), cleaner.predict(X))
        np.testing.assert_array_equal(copy.predict_proba(X), cleaner.predict_proba(X))
    # And the selector of the loaded copy scores as the original's does.
    x, label = X[N_FIT], y_noisy[N_FIT]
    np.testing.assert_array_equal(
        loaded.selector_.score(x, label), cleaner.selector_.score(x, label)
    )


@pytest.fixture(scope="module")
def fitted_models(stream):
    X, y_true, _ = stream
    models = {}

    def get(name):
        if name not in models:
            _seed_torch()
            models[name] = ESTIMATORS[name]().fit(X, y_true)
        return models[name]

    return get


@pytest.mark.parametrize("estimator", list(ESTIMATORS))
def test_views_pickle_and_read_the_same_numbers(
    stream, fitted_models, estimator, torch_one_thread_if_any
):
    X, y_true, _ = stream
    model = fitted_models(estimator)
    view = last_layer_view(model)
    loaded = pickle.loads(pickle.dumps(view))
    np.testing.assert_array_equal(loaded.features(X), view.features(X))
    params = parameter_view(model)
    loaded = pickle.loads(pickle.dumps(params))
    v = np.linspace(-1, 1, params.n_params)
    np.testing.assert_array_equal(
        loaded.gradient_dot(X, y_true, v), params.gradient_dot(X, y_true, v)
    )


@pytest.mark.parametrize("estimator,selector", PAIRS)
def test_fitted_selector_pickles_and_scores_the_same(
    stream, fitted_models, estimator, selector, torch_one_thread_if_any
):
    X, y_true, _ = stream
    model = fitted_models(estimator)
    fitted = _selector(selector) or TopFisherSelector()
    fitted.set_params(
        **{k: 0 for k in fitted.get_params() if k.endswith("random_state")}
    ).fit(model, X[:-1], y_true[:-1])
    loaded = pickle.loads(pickle.dumps(fitted))
    x, label = X[-1], (y_true[-1] + 1) % 3
    np.testing.assert_array_equal(loaded.score(x, label), fitted.score(x, label))
    assert loaded.select(x, label) == fitted.select(x, label)


class _FailsAt:
    """Answers from true labels, then raises at the n-th question."""

    def __init__(self, y_true, n):
        self.inner = SimulatedOracle(y_true)
        self.n = n
        self.calls = 0

    def __call__(self, query):
        self.calls += 1
        if self.calls >= self.n:
            raise ConnectionError("annotator gone")
        return self.inner(query)


def _fitted_state(cleaner):
    params = cleaner.get_params(deep=False)
    return pickle.dumps({k: v for k, v in vars(cleaner).items() if k not in params})


@pytest.mark.parametrize(
    "estimator", ["mlp", "pipeline_mlp", "paper_net", "pipeline_skorch"]
)
def test_a_failed_call_leaves_the_pickled_state_byte_identical(
    stream, estimator, torch_one_thread_if_any
):
    # Possible to check now that every cleaner pickles: the models that
    # failed to pickle before are the ones whose state was never compared.
    from sklearn_cincer.oracles import OracleError

    X, y_true, y_noisy = stream
    cleaner = SkepticalCleaner(
        ESTIMATORS[estimator](),
        oracle=SimulatedOracle(y_true),
        threshold=0.0,
        n_bootstrap=40,
        random_state=0,
    )
    _seed_torch()
    cleaner.fit(X[:N_FIT], y_noisy[:N_FIT])
    before = _fitted_state(cleaner)
    cleaner.set_params(oracle=_FailsAt(y_true, 2))
    flipped = (y_true[N_FIT:] + 1) % 3  # every label wrong: questions come
    with pytest.raises(OracleError, match="annotator gone"):
        cleaner.partial_fit(X[N_FIT:], flipped)
    assert _fitted_state(cleaner) == before


@pytest.mark.parametrize("gone", ["deleted", "moved"])
def test_a_cleaner_whose_store_is_gone_still_loads_and_says_so(tmp_path, stream, gone):
    # issue 18: loading failed when the session's store had been removed
    from sklearn_cincer.oracles import AnnotationSession, AnnotationStore, OracleError

    X, y_true, y_noisy = stream
    path = tmp_path / "answers.sqlite"
    session = AnnotationSession(SimulatedOracle(y_true), path)
    cleaner = SkepticalCleaner(
        LogisticRegression(max_iter=500),
        oracle=session,
        n_bootstrap=20,
        threshold=0.0,
        random_state=0,
    )
    cleaner.fit(X[:N_FIT], y_noisy[:N_FIT])
    assert cleaner.n_queries_ > 0
    blob = pickle.dumps(cleaner)
    session.close()
    if gone == "deleted":
        path.unlink()
    else:
        path.rename(tmp_path / "elsewhere.sqlite")
    loaded = pickle.loads(blob)
    np.testing.assert_array_equal(loaded.predict(X), cleaner.predict(X))
    assert loaded.history_ == cleaner.history_
    # using the session says the store is missing, naming it, and makes none
    for call in (
        lambda: loaded.partial_fit(X[N_FIT:], y_noisy[N_FIT:]),
        lambda: loaded.fit(X[:N_FIT], y_noisy[:N_FIT]),
    ):
        with pytest.raises(OracleError, match=rf"store {path} is missing"):
            call()
        assert not path.exists()
    np.testing.assert_array_equal(loaded.predict(X), cleaner.predict(X))
    if gone == "moved":
        # given the store where it is now, the session replays every answer
        loaded.oracle.store = AnnotationStore(tmp_path / "elsewhere.sqlite")
        again = loaded.fit(X[:N_FIT], y_noisy[:N_FIT])
        assert loaded.oracle.n_replayed_ == cleaner.n_queries_
        assert again.history_ == cleaner.history_
