"""``refit="incremental"`` with skorch nets: the round's rows, a few epochs."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
skorch = pytest.importorskip("skorch")

from sklearn.datasets import load_digits  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer  # noqa: E402
from skorch.callbacks import Callback  # noqa: E402

from sklearn_cincer import SimulatedOracle, SkepticalCleaner  # noqa: E402
from sklearn_cincer._refit import _NET_EPOCHS, _REPLAY_ROWS  # noqa: E402
from sklearn_cincer._refit import partial_fit as refit_partial_fit  # noqa: E402
from sklearn_cincer.nets import FCNet, FCNetClassifier  # noqa: E402

#: What each training call of a net saw: [rows given, epochs, samples].
CALLS = []


class CountTraining(Callback):
    """Records the rows, epochs and training samples of every fit."""

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        CALLS.append([len(X), 0, 0])

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if training:
            CALLS[-1][2] += len(batch[1])

    def on_epoch_begin(self, net, **kwargs):
        # (at the end, the stop at a target accuracy may come first)
        CALLS[-1][1] += 1


@pytest.fixture(autouse=True, scope="module")
def one_thread(torch_one_thread):
    """Every test of this module runs torch on one thread."""


@pytest.fixture(scope="module")
def noisy_digits():
    X, y = load_digits(return_X_y=True)
    X, y = X[:460] / 16.0, y[:460]
    rng = np.random.RandomState(0)
    y_noisy = y.copy()
    flip = rng.choice(460, 90, replace=False)
    y_noisy[flip] = (y[flip] + 1 + rng.randint(9, size=90)) % 10
    return X, y, y_noisy


def _clean(X, y, y_noisy, **net_params):
    CALLS.clear()
    net = FCNetClassifier(
        random_state=0, callbacks=[("count", CountTraining())], **net_params
    )
    return SkepticalCleaner(
        net,
        oracle=SimulatedOracle(y),
        n_bootstrap=400,
        refit="incremental",
        threshold=0.0,
        random_state=0,
    ).fit(X, y_noisy)


def test_incremental_net_learns_the_rounds_rows_for_a_few_epochs(noisy_digits):
    X, y, y_noisy = noisy_digits
    cleaner = _clean(X, y, y_noisy, max_epochs=40, target_accuracy=None)
    assert cleaner.refit_method_ == "partial_fit"
    bootstrap, rounds = CALLS[0], CALLS[1:]
    assert bootstrap == [400, 40, 400 * 40]  # the bootstrap set, fully
    assert len(rounds) == 60
    relabeled = {r.round: sum(r.relabeled_counter_examples) for r in cleaner.history_}
    assert sum(relabeled.values()) > 0
    for t, (rows, epochs, samples) in enumerate(rounds, start=1):
        # The new row, the relabeled ones, the replay: never the training
        # set (400 + t rows), never max_epochs of anything.
        assert rows == min(
            _REPLAY_ROWS, 399 + t - relabeled.get(t, 0)
        ) + 1 + relabeled.get(t, 0)
        assert epochs == _NET_EPOCHS < 40
        assert samples == epochs * rows
    # One module trained on throughout: its history counts every epoch.
    assert len(cleaner.estimator_.history) == 40 + 60 * _NET_EPOCHS


def test_incremental_net_keeps_stopping_at_its_target_accuracy(noisy_digits):
    X, y, y_noisy = noisy_digits
    _clean(X, y, y_noisy, max_epochs=40, target_accuracy=0.7)
    epochs = [e for _, e, _ in CALLS]
    assert epochs[0] < 40  # the bootstrap fit stopped at 70%
    assert len(epochs) == 61 and max(epochs[1:]) <= _NET_EPOCHS
    # Trained to 70% on the bootstrap set, it meets the target on most
    # rounds' rows within the first epoch, and stops there.
    assert sum(e == 1 for e in epochs[1:]) > 30


def test_max_epochs_below_the_bound_is_kept(noisy_digits):
    X, y, y_noisy = noisy_digits
    _clean(X[:430], y[:430], y_noisy[:430], max_epochs=2, target_accuracy=None)
    assert [e for _, e, _ in CALLS[1:]] == [2] * 30


def to_float32(X):
    return np.asarray(X, dtype=np.float32)


def test_a_plain_net_keeps_its_classes_when_a_round_lacks_some(noisy_digits):
    # skorch's NeuralNetClassifier infers classes_ from every y it is given.
    X, y, _ = noisy_digits
    net = skorch.NeuralNetClassifier(
        FCNet,
        module__n_features=64,
        module__n_classes=10,
        max_epochs=2,
        criterion=torch.nn.CrossEntropyLoss,
        train_split=None,
        verbose=0,
    )
    model = make_pipeline(FunctionTransformer(to_float32), net).fit(X, y)
    before = [p.detach().clone() for p in net.module_.parameters()]
    refit_partial_fit(model, X[y == 3][:5], y[y == 3][:5])
    np.testing.assert_array_equal(net.classes_, np.arange(10))
    assert len(net.history) == 2 + 2  # min(max_epochs, the bound) epochs
    assert any(not torch.equal(a, b) for a, b in zip(before, net.module_.parameters()))
