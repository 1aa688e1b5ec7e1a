"""skorch networks as a newcomer sets them up: a plain net in the docs' Pipeline
recipe (incremental refits), a float64 mistake, and thread counts."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
skorch = pytest.importorskip("skorch")

from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer  # noqa: E402
from test_cleaner import breast_stream  # noqa: E402

from sklearn_cincer import SimulatedOracle, SkepticalCleaner  # noqa: E402
from sklearn_cincer.nets import FCNet, FCNetClassifier  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def one_thread(torch_one_thread):
    """Every test of this module runs torch on one thread."""


@pytest.fixture(scope="module")
def breast():
    return breast_stream(0, n=130)[:3]


def to_float32(X):
    return np.asarray(X, dtype=np.float32)


def _net(**kwargs):
    return skorch.NeuralNetClassifier(
        FCNet,
        module__n_features=30,
        module__n_classes=2,
        criterion=torch.nn.CrossEntropyLoss,
        train_split=None,
        max_epochs=3,
        verbose=0,
        **kwargs,
    )


def test_docs_plain_skorch_recipe_refits_incrementally(breast):
    X, y, y_noisy = breast
    torch.manual_seed(0)
    recipe = make_pipeline(FunctionTransformer(to_float32), _net(classes=[0, 1]))
    cleaner = SkepticalCleaner(
        recipe,
        oracle=SimulatedOracle(y),
        threshold=0.0,
        refit="incremental",
        random_state=0,
    )
    cleaner.fit(X, y_noisy)
    assert cleaner.refit_method_ == "partial_fit"
    net = cleaner.estimator_[-1]
    # One module, trained on: bootstrap epochs then 3 more per round.
    assert len(net.history) == 3 * (1 + 30)
    assert cleaner.n_queries_ > 0


def test_float64_rows_into_a_plain_skorch_net_is_a_clear_error(breast):
    X, y, y_noisy = breast
    cleaner = SkepticalCleaner(_net(), oracle=SimulatedOracle(y))
    with pytest.raises(
        TypeError,
        match="float64.*FunctionTransformer"
        r"\(to_float32\).*PaperNetClassifier",
    ):
        cleaner.fit(X, y_noisy)
    assert not hasattr(cleaner, "estimator_")


def test_same_seed_same_history_whatever_the_ambient_torch_threads(breast):
    """With the default n_threads=1 the run does not depend on how many
    threads torch had before the fit."""
    X, y, y_noisy = breast
    histories = []
    for ambient in (2, 1):
        torch.set_num_threads(ambient)
        try:
            cleaner = SkepticalCleaner(
                FCNetClassifier(random_state=0, max_epochs=5),
                oracle=SimulatedOracle(y),
                threshold=0.0,
                refit="incremental",
                random_state=0,
            ).fit(X[:115], y_noisy[:115])
        finally:
            torch.set_num_threads(1)
        histories.append(cleaner.history_)
    assert histories[0] and histories[0] == histories[1]
