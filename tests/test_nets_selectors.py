"""Torch selector paths: Top Fisher on a device and the torch ParameterView."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
skorch = pytest.importorskip("skorch")

from sklearn.datasets import load_digits  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from sklearn_cincer import (  # noqa: E402
    FullFisherSelector,
    InfluenceSelector,
    PracticalFisherSelector,
    TopFisherSelector,
)
from sklearn_cincer._core import fisher_math as _fisher  # noqa: E402
from sklearn_cincer._core.parameter_views import parameter_view  # noqa: E402
from sklearn_cincer.nets import (  # noqa: E402
    FCNetClassifier,
    TorchTopFisherSelector,
    skorch_parameter_view,
    skorch_view,
)
from sklearn_cincer.nets import _parameters as torch_parameters  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def one_thread(torch_one_thread):
    """Every test of this module runs torch on one thread."""


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(n_class=4, return_X_y=True)
    return X[:80] / 16.0, y[:80]


@pytest.fixture(scope="module")
def small_net(data):
    """A tiny FC net (64 -> 5 -> 4 -> 4 classes) with a few epochs."""
    X, y = data
    net = FCNetClassifier(module__hidden=(5, 4), max_epochs=5, random_state=0)
    return net.fit(X, y)


def _loop_gradients(net, X, y):
    """Per-example gradients of log P(y|x) by a plain autograd loop."""
    module = net.module_.eval()
    params = [p for p in module.parameters() if p.requires_grad]
    index = np.searchsorted(net.classes_, y)
    rows = []
    for x, a in zip(X, index):
        out = module(torch.as_tensor(x[None], dtype=torch.float32))
        logp = torch.log_softmax(out, dim=1)[0, a]
        grads = torch.autograd.grad(logp, params)
        rows.append(torch.cat([g.reshape(-1) for g in grads]).double().numpy())
    return np.stack(rows)


# ---------------------------------------------------------------- Top Fisher


def test_torch_top_fisher_equals_numpy_on_a_net(data, small_net):
    X, y = data
    torch_sel = TorchTopFisherSelector(device="cpu").fit(small_net, X, y)
    numpy_sel = TopFisherSelector().fit(small_net, X, y)
    for t in (0, 7, 33):
        candidates = np.flatnonzero(y == (y[t] + 1) % 4)
        expected = numpy_sel.score(X[t], y[t], candidates)
        got = torch_sel.score(X[t], y[t], candidates)
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-12)
        assert torch_sel.select(X[t], y[t], candidates) == pytest.approx(
            numpy_sel.select(X[t], y[t], candidates), rel=1e-6
        )


@pytest.mark.parametrize("n_classes", [2, 3])
def test_torch_top_fisher_equals_numpy_on_logistic_regression(n_classes):
    X, y = load_digits(n_class=n_classes, return_X_y=True)
    X, y = X[:90] / 16.0, y[:90]
    model = LogisticRegression(max_iter=500).fit(X, y)
    got = TorchTopFisherSelector().fit(model, X, y).score(X[3], 1)
    expected = TopFisherSelector().fit(model, X, y).score(X[3], 1)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-12)


def test_torch_top_fisher_in_the_cleaner(data):
    from sklearn_cincer import SkepticalCleaner

    X, y = data
    cleaner = SkepticalCleaner(
        FCNetClassifier(max_epochs=3),
        selector=TorchTopFisherSelector(),
        n_bootstrap=50,
        threshold=0.0,
        random_state=0,
    ).fit(X[:56], y[:56])
    assert all(r.counter_example_id is not None for r in cleaner.history_)


# ----------------------------------------------------------- ParameterView


def test_per_example_gradients_equal_an_autograd_loop(data, small_net):
    X, y = data
    view = parameter_view(small_net, needs="test")
    assert view.n_params == 64 * 5 + 5 + 5 * 4 + 4 + 4 * 4 + 4
    G = np.concatenate(list(view.gradients(X[:20], y[:20], batch_size=7)))
    np.testing.assert_allclose(
        G, _loop_gradients(small_net, X[:20], y[:20]), rtol=1e-4, atol=1e-6
    )
    v = np.random.RandomState(0).randn(view.n_params)
    np.testing.assert_allclose(
        view.gradient_dot(X[:20], y[:20], v, batch_size=6), G @ v, rtol=1e-9, atol=1e-10
    )


def test_last_layer_block_matches_the_numpy_math(data, small_net):
    """The torch all-parameter gradient restricted to the last layer is g = r h~^T."""
    X, y = data
    view = parameter_view(small_net)
    (G,) = view.gradients(X[:10], y[:10], batch_size=10)
    last = skorch_view(small_net)
    H = last.features(X[:10])
    expected = _fisher.gradients(H, last.outputs(H), last.encode(y[:10]), last.link)
    # parameters are ordered as named_parameters(): output.weight, output.bias last
    k, d = last.coef.shape
    weight, bias = G[:, -(k * d + k) : -k], G[:, -k:]
    got = np.concatenate([weight.reshape(10, k, d), bias[:, :, None]], axis=2)
    got = got.reshape(10, -1)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


def _flat_loss_hessian(net, X, y, weight_decay=0.0):
    module = net.module_.eval().double()
    try:
        names = [n for n, p in module.named_parameters()]
        shapes = [p.shape for p in module.parameters()]
        theta = torch.cat([p.detach().reshape(-1) for p in module.parameters()])
        Xt = torch.as_tensor(X, dtype=torch.float64)
        yt = torch.as_tensor(np.searchsorted(net.classes_, y))

        def loss(flat):
            params, start = {}, 0
            for name, shape in zip(names, shapes):
                size = int(np.prod(shape))
                params[name] = flat[start : start + size].reshape(shape)
                start += size
            out = torch.func.functional_call(module, params, (Xt,))
            return torch.nn.functional.cross_entropy(out, yt) + 0.5 * weight_decay * (
                flat @ flat
            )

        return torch.autograd.functional.hessian(loss, theta).numpy()
    finally:
        module.float()


def test_hvp_equals_the_exact_hessian(data, small_net):
    X, y = data
    view = skorch_parameter_view(small_net)
    H = _flat_loss_hessian(small_net, X, y)
    v = np.random.RandomState(1).randn(view.n_params)
    np.testing.assert_allclose(view.hvp(X, y, v), H @ v, rtol=1e-6, atol=1e-9)
    # batched over rows: the same mean
    np.testing.assert_allclose(
        view.hvp(X, y, v, batch_size=17), H @ v, rtol=1e-6, atol=1e-9
    )


def test_hvp_includes_weight_decay(data):
    X, y = data
    net = FCNetClassifier(
        module__hidden=(3,), max_epochs=2, random_state=0, optimizer__weight_decay=0.1
    ).fit(X[:30], y[:30])
    view = skorch_parameter_view(net)
    H = _flat_loss_hessian(net, X[:30], y[:30], weight_decay=0.1)
    v = np.random.RandomState(2).randn(view.n_params)
    np.testing.assert_allclose(view.hvp(X[:30], y[:30], v), H @ v, rtol=1e-6, atol=1e-9)


def test_fisher_equals_the_expectation_over_labels(data, small_net):
    X, y = data
    view = skorch_parameter_view(small_net)
    P = view.predict_proba(X[:15])
    np.testing.assert_allclose(P, small_net.predict_proba(X[:15]), atol=1e-5)
    F = np.zeros((view.n_params, view.n_params))
    for a, label in enumerate(view.classes):
        G = _loop_gradients(small_net, X[:15], np.full(15, label))
        F += (G * P[:, a : a + 1]).T @ G
    F /= 15
    np.testing.assert_allclose(
        view.fisher(X[:15], batch_size=4), F, rtol=1e-4, atol=1e-7
    )


def test_full_fisher_refuses_what_does_not_fit(small_net, monkeypatch):
    view = skorch_parameter_view(small_net)
    monkeypatch.setattr(torch_parameters, "_free_bytes", lambda device: 1000)
    with pytest.raises(MemoryError, match=r"369 x 369 matrix that needs 1\.0 MiB"):
        view.fisher(np.zeros((3, 64)))


def test_null_space_is_ignored_by_the_model(data, small_net):
    X, y = data
    view = skorch_parameter_view(small_net)
    N = view.null_space()
    assert N.shape == (view.n_params, 4 + 1)
    np.testing.assert_allclose(N.T @ N, np.eye(5), atol=1e-12)
    (G,) = view.gradients(X[:10], y[:10])
    np.testing.assert_allclose(G @ N, 0, atol=1e-6)
    np.testing.assert_allclose(view.hvp(X, y, N[:, 0]), 0, atol=1e-8)


def test_all_parameter_selectors_run_on_skorch_nets(data, small_net):
    X, y = data
    candidates = np.flatnonzero(y == 2)
    practical = PracticalFisherSelector().fit(small_net, X, y)
    G = _loop_gradients(small_net, X, y)
    g_t = _loop_gradients(small_net, X[:1], np.array([1]))[0]
    np.testing.assert_allclose(
        practical.score(X[0], 1, candidates), -G[candidates] @ g_t, rtol=1e-4, atol=1e-7
    )
    for selector in (FullFisherSelector(), InfluenceSelector(depth=20, random_state=0)):
        scores = selector.fit(small_net, X, y).score(X[0], 1, candidates)
        assert scores.shape == candidates.shape
        assert np.all(np.isfinite(scores))


class _OneLogit(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU())
        self.out = torch.nn.Linear(6, 1)

    def forward(self, X):
        return self.out(self.body(X))


def test_binary_net_with_one_logit():
    """skorch's NeuralNetBinaryClassifier: the logistic link, probabilities checked."""
    rng = np.random.RandomState(0)
    X = rng.rand(40, 4).astype(np.float32)
    y = (X[:, 0] > 0.5).astype(np.float32)
    torch.manual_seed(0)
    net = skorch.NeuralNetBinaryClassifier(
        _OneLogit, max_epochs=5, train_split=None, lr=0.1
    ).fit(X, y)
    view = skorch_view(net)
    assert view.link == "logistic"
    np.testing.assert_allclose(
        view.outputs(view.features(X))[:, 0], net.predict_proba(X)[:, 1], atol=1e-6
    )
    got = TorchTopFisherSelector().fit(net, X, y).score(X[0], 1.0)
    expected = TopFisherSelector().fit(net, X, y).score(X[0], 1.0)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-12)
    params = skorch_parameter_view(net)
    np.testing.assert_allclose(params.predict_proba(X), net.predict_proba(X), atol=1e-6)
    assert params.null_space().shape == (params.n_params, 0)
