"""Tests of sklearn_cincer.nets: the paper's networks, skorch glue, torch selectors."""

import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
skorch = pytest.importorskip("skorch")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer  # noqa: E402
from torch import nn  # noqa: E402

from sklearn_cincer import (  # noqa: E402
    SimulatedOracle,
    SkepticalCleaner,
    TopFisherSelector,
)
from sklearn_cincer._core.last_layer import last_layer_view  # noqa: E402
from sklearn_cincer.nets import (  # noqa: E402
    ConvNet,
    ConvNetClassifier,
    FCNet,
    FCNetClassifier,
    LogRegNetClassifier,
    skorch_view,
)


@pytest.fixture(autouse=True, scope="module")
def one_thread(torch_one_thread):
    """Every test of this module runs torch on one thread."""


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:160] / 16.0, y[:160]


def _weights(net):
    return [p.detach().clone() for p in net.module_.parameters()]


# ------------------------------------------------------------------ modules


def test_import_does_not_import_torch():
    code = "import sys, sklearn_cincer; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_core_reads_a_skorch_net_without_nets_imported_first():
    # The core never imports sklearn_cincer.nets' code; it imports the
    # package by name on meeting a skorch net, whose import registers the
    # adapters (sklearn_cincer._core.view_registry).
    code = """
import sys
import numpy as np, skorch, torch
from sklearn_cincer import FullFisherSelector, TopFisherSelector
X = np.random.RandomState(0).rand(30, 3).astype(np.float32)
y = (X[:, 0] > 0.5).astype(np.int64)
net = skorch.NeuralNetClassifier(
    torch.nn.Linear, module__in_features=3, module__out_features=2,
    criterion=torch.nn.CrossEntropyLoss, max_epochs=1, train_split=None,
    verbose=0).fit(X, y)
before = 'sklearn_cincer.nets' in sys.modules
TopFisherSelector().fit(net, X, y).score(X[0], y[0])
FullFisherSelector().fit(net, X, y).score(X[0], y[0])
print(before, 'sklearn_cincer.nets' in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True"]


def test_fcnet_architecture():
    net = FCNet(20, 4)
    linear = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [
        (20, 64),
        (64, 32),
        (32, 4),
    ]
    dropout = [m.p for m in net.modules() if isinstance(m, nn.Dropout)]
    assert dropout == [0.2, 0.2]
    assert net(torch.zeros(3, 20)).shape == (3, 4)


@pytest.mark.parametrize(
    "n_features, shape, flat",
    [(64, None, 64), (784, None, 64 * 11 * 11), (3 * 10 * 12, (3, 10, 12), 64 * 2 * 3)],
)
def test_convnet_accepts_the_input_size(n_features, shape, flat):
    net = ConvNet(n_features, 10, image_shape=shape)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size) for c in convs] == [
        (32, (3, 3)),
        (64, (3, 3)),
    ]
    dense = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert (dense[0].in_features, dense[0].out_features) == (flat, 64)
    assert net(torch.zeros(2, n_features)).shape == (2, 10)


def test_convnet_clear_errors():
    with pytest.raises(ValueError, match="at least 8x8"):
        ConvNet(36, 3)
    with pytest.raises(ValueError, match="image_shape"):
        ConvNet(50, 3)


# -------------------------------------------------------------- classifiers


def test_same_seed_same_initial_weights_and_fit(digits):
    X, y = digits
    a = FCNetClassifier(max_epochs=2, random_state=0).fit(X, y)
    b = clone(a).fit(X, y)
    for p, q in zip(_weights(a), _weights(b)):
        assert torch.equal(p, q)
    c = FCNetClassifier(max_epochs=2, random_state=1).fit(X, y)
    assert not torch.equal(_weights(a)[0], _weights(c)[0])
    # refitting (warm_start=False) restarts from the same initial weights
    a.fit(X, y)
    for p, q in zip(_weights(a), _weights(b)):
        assert torch.equal(p, q)


def test_seeding_leaves_global_rng_alone(digits):
    X, y = digits
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    FCNetClassifier(max_epochs=1, random_state=0).fit(X, y)
    assert torch.equal(torch.rand(3), expected)


def test_stops_at_training_accuracy(digits):
    X, y = digits
    net = FCNetClassifier(random_state=0).fit(X, y)
    accuracy = net.history[:, "train_acc"]
    assert accuracy[-1] >= 0.9
    assert all(a < 0.9 for a in accuracy[:-1])
    assert len(accuracy) < 100
    full = FCNetClassifier(target_accuracy=None, max_epochs=3, random_state=0)
    assert len(full.fit(X, y).history) == 3
    assert LogRegNetClassifier().target_accuracy == 0.7


def test_warm_start_continues_from_current_weights(digits):
    X, y = digits
    net = FCNetClassifier(max_epochs=3, random_state=0).fit(X, y)
    before = _weights(net)
    net.set_params(warm_start=True, max_epochs=1)
    net.fit(X, y)
    after = _weights(net)
    assert len(net.history) == 4  # one more epoch, not a fresh history
    # changed, but only by one epoch from where it was (not re-initialized)
    fresh = _weights(FCNetClassifier(max_epochs=0, random_state=0).fit(X, y))
    assert not torch.equal(before[0], after[0])
    assert (after[0] - before[0]).norm() < (after[0] - fresh[0]).norm()


def test_labels_any_values_and_partial_fit_classes(digits):
    X, y = digits
    names = np.array(
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    )
    net = LogRegNetClassifier(max_epochs=2, random_state=0).fit(X, names[y])
    assert list(net.classes_) == sorted(names)
    assert set(net.predict(X[:20])) <= set(names)
    assert net.predict_proba(X[:5]).shape == (5, 10)
    # partial_fit learns every class from `classes`, even absent from y
    net = FCNetClassifier(max_epochs=1, random_state=0)
    net.partial_fit(X[y < 5], y[y < 5], classes=np.arange(10))
    assert net.predict_proba(X[:3]).shape == (3, 10)
    net.partial_fit(X[y >= 5], y[y >= 5])  # later classes are known
    with pytest.raises(ValueError, match="no output for"):
        net.partial_fit(X[:3], np.array([0, 1, 11]))


def test_clone_and_params():
    net = ConvNetClassifier(device="cpu", module__dropout=0.3, random_state=3)
    params = clone(net).get_params()
    assert params["module__dropout"] == 0.3
    assert params["random_state"] == 3
    assert params["batch_size"] == 32 and params["max_epochs"] == 100
    assert params["optimizer"] is torch.optim.Adam and params["lr"] == 0.001
    assert params["train_split"] is None


# ------------------------------------------------------------- skorch view


class _SoftmaxNet(nn.Module):
    """A plain module ending in a softmax, as skorch's NLLLoss default expects."""

    def __init__(self, n_in=64, n_out=10):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_in, 16), nn.ReLU())
        self.head = nn.Linear(16, n_out)

    def forward(self, X):
        return torch.softmax(self.head(self.body(X)), dim=-1)


class _EndsInBody(_SoftmaxNet):
    """The linear layer registered last is not the output layer."""

    def __init__(self):
        super().__init__()
        self.extra = nn.Linear(16, 16)  # registered last, unused

    def forward(self, X):
        return torch.softmax(self.head(self.extra(self.body(X))), dim=-1)


def _float32(A):
    return np.asarray(A, dtype=np.float32)


def _plain_skorch(module, X, y, **kwargs):
    net = skorch.NeuralNetClassifier(
        module, max_epochs=3, train_split=None, verbose=0, **kwargs
    )
    to32 = FunctionTransformer(_float32)
    torch.manual_seed(0)
    return make_pipeline(to32, net).fit(X, y)


def test_view_features_are_the_last_layer_input(digits):
    X, y = digits
    net = FCNetClassifier(max_epochs=2, random_state=0).fit(X, y)
    view = last_layer_view(net)
    module = net.module_.eval()
    with torch.no_grad():
        H = module.hidden(torch.as_tensor(X, dtype=torch.float32)).double().numpy()
    np.testing.assert_allclose(view.features(X), H, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(view.coef, module.output.weight.detach().numpy())
    np.testing.assert_allclose(view.outputs(H), net.predict_proba(X), atol=1e-5)


def test_plain_skorch_softmax_module_in_pipeline(digits):
    X, y = digits
    pipe = _plain_skorch(_SoftmaxNet, X, y)
    view = last_layer_view(pipe)
    H = view.features(X)
    np.testing.assert_allclose(view.outputs(H), pipe.predict_proba(X), atol=1e-5)
    selector = TopFisherSelector().fit(pipe, X, y)
    assert selector.score(X[0], y[0]).shape == (X.shape[0],)


def test_wrong_last_layer_is_a_clear_error_and_can_be_named(digits):
    X, y = digits
    pipe = _plain_skorch(_EndsInBody, X, y)
    with pytest.raises(TypeError, match="cincer_last_layer"):
        last_layer_view(pipe).features(X)
    pipe[-1].module_.cincer_last_layer = "head"
    view = last_layer_view(pipe)
    np.testing.assert_allclose(
        view.outputs(view.features(X)), pipe.predict_proba(X), atol=1e-5
    )


def test_no_linear_layer_is_a_clear_error():
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(2, 2))

        def forward(self, X):
            return torch.softmax(X @ self.w, dim=-1)

    X = np.random.RandomState(0).rand(12, 2).astype(np.float32)
    y = np.arange(12) % 2
    net = skorch.NeuralNetClassifier(Odd, max_epochs=1, train_split=None).fit(X, y)
    with pytest.raises(TypeError, match="no torch.nn.Linear layer.*cincer_last_layer"):
        skorch_view(net)


def test_view_reads_features_in_batches_not_per_example(digits):
    X, y = digits
    net = FCNetClassifier(max_epochs=1, random_state=0).fit(X, y)
    calls = []
    handle = net.module_.register_forward_hook(lambda *a: calls.append(1))
    try:
        skorch_view(net).features(X)
    finally:
        handle.remove()
    assert len(calls) == 1


# ------------------------------------------------------------------ cleaner


@pytest.mark.parametrize("refit", ["scratch", "incremental"])
def test_cleaner_with_fc_net(digits, refit):
    X, y_true = digits
    X, y_true = X[:70], y_true[:70]
    rng = np.random.RandomState(0)
    y = y_true.copy()
    flip = rng.choice(70, 14, replace=False)
    y[flip] = (y[flip] + 1 + rng.randint(9, size=14)) % 10
    net = FCNetClassifier(max_epochs=5)
    cleaner = SkepticalCleaner(
        net,
        oracle=SimulatedOracle(y_true),
        n_bootstrap=60,
        refit=refit,
        threshold=0.0,
        random_state=0,
    ).fit(X, y)
    assert cleaner.refit_method_ == ("fit" if refit == "scratch" else "partial_fit")
    assert cleaner.n_queries_ > 0
    assert cleaner.predict(X[:5]).shape == (5,)
    assert cleaner.n_relabeled_examples_ + cleaner.n_relabeled_counter_examples_ > 0
    # same seed, same queries
    again = clone(cleaner).fit(X, y)
    assert [r.counter_example_id for r in again.history_] == [
        r.counter_example_id for r in cleaner.history_
    ]


def test_cleaner_with_cnn_on_digit_images(digits):
    X, y = digits
    cleaner = SkepticalCleaner(
        ConvNetClassifier(max_epochs=2),
        n_bootstrap=40,
        threshold=0.0,
        random_state=0,
    ).fit(X[:44], y[:44])
    assert cleaner.estimator_.module_.image_shape == (1, 8, 8)
    assert cleaner.n_seen_ == 44


def test_incremental_refit_keeps_training_the_same_module(digits):
    X, y = digits
    cleaner = SkepticalCleaner(
        FCNetClassifier(max_epochs=5),
        n_bootstrap=60,
        refit="incremental",
        random_state=0,
    ).fit(X[:60], y[:60])
    n_epochs = len(cleaner.estimator_.history)
    cleaner.partial_fit(X[60:62], y[60:62])
    assert len(cleaner.estimator_.history) > n_epochs  # the history goes on
