"""Tests of the two trainings of the paper's networks: the text's and the code's."""

import json

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
skorch = pytest.importorskip("skorch")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from skorch.callbacks import EpochTimer  # noqa: E402

from sklearn_cincer import SimulatedOracle, SkepticalCleaner  # noqa: E402
from sklearn_cincer._cli import main  # noqa: E402
from sklearn_cincer.benchmark import (  # noqa: E402
    RunSpec,
    compare_with_paper,
    make_model,
    run_experiment,
)
from sklearn_cincer.benchmark._commands import add_parser  # noqa: E402
from sklearn_cincer.benchmark._registry import TRAININGS  # noqa: E402
from sklearn_cincer.benchmark._reproduce import collect_traces, grid_specs  # noqa: E402
from sklearn_cincer.nets import TRAININGS as NET_TRAININGS  # noqa: E402
from sklearn_cincer.nets import (  # noqa: E402
    FCNet,
    FCNetClassifier,
    LogRegNetClassifier,
    keras_initialize,
)


@pytest.fixture(autouse=True, scope="module")
def one_thread(torch_one_thread):
    """Every test of this module runs torch on one thread."""


@pytest.fixture(scope="module")
def easy():
    """Digits 0 and 1: a net passes 60% training accuracy in an epoch or two."""
    X, y = load_digits(n_class=2, return_X_y=True)
    return X[:120] / 16, y[:120]


def _first_epoch_at(net, threshold):
    accuracies = net.history[:, "train_acc"]
    return next(i for i, a in enumerate(accuracies) if a >= threshold)


def test_code_trains_every_epoch_whatever_the_accuracy(easy):
    X, y = easy
    net = FCNetClassifier(
        training="code", target_accuracy=0.6, max_epochs=25, random_state=0
    ).fit(X, y)
    assert len(net.history) == 25
    # the threshold was passed long before the last epoch: the text would stop
    assert _first_epoch_at(net, 0.6) < 24


def test_text_stops_at_the_threshold(easy):
    X, y = easy
    net = FCNetClassifier(
        training="text", target_accuracy=0.6, max_epochs=25, random_state=0
    ).fit(X, y)
    assert len(net.history) < 25
    assert _first_epoch_at(net, 0.6) == len(net.history) - 1


def test_logistic_regression_code_ignores_its_70_percent(easy):
    X, y = easy
    net = LogRegNetClassifier(training="code", max_epochs=15, random_state=0)
    net.fit(X, y)
    assert len(net.history) == 15
    assert max(net.history[:, "train_acc"]) >= 0.7


def test_code_starts_from_keras_initialisation(easy):
    X, y = easy
    code = FCNetClassifier(training="code", max_epochs=0, random_state=0).fit(X, y)
    text = FCNetClassifier(training="text", max_epochs=0, random_state=0).fit(X, y)
    layers = [m for m in code.module_.modules() if isinstance(m, torch.nn.Linear)]
    assert len(layers) == 3
    for layer in layers:
        fan_out, fan_in = layer.weight.shape
        bound = np.sqrt(6 / (fan_in + fan_out))
        weight = layer.weight.detach().numpy()
        assert np.all(layer.bias.detach().numpy() == 0)
        assert np.abs(weight).max() <= bound
        # Glorot's range, not torch's narrower 1 / sqrt(fan_in)
        assert np.abs(weight).max() > 1 / np.sqrt(fan_in)
    assert np.any(text.module_.output.bias.detach().numpy() != 0)
    # seeded: two nets with the same seed start from the same weights
    again = FCNetClassifier(training="code", max_epochs=0, random_state=0).fit(X, y)
    assert torch.equal(again.module_.output.weight, code.module_.output.weight)


def test_keras_initialize_leaves_other_layers_alone():
    module = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    module[1].weight.data.fill_(2.0)
    keras_initialize(module)
    assert torch.all(module[1].weight == 2.0)
    assert torch.all(module[0].bias == 0)


def test_code_uses_keras_adam_epsilon_unless_given(easy):
    X, y = easy
    code = FCNetClassifier(training="code", max_epochs=1, random_state=0).fit(X, y)
    text = FCNetClassifier(training="text", max_epochs=1, random_state=0).fit(X, y)
    own = FCNetClassifier(
        training="code", max_epochs=1, random_state=0, optimizer__eps=1e-3
    ).fit(X, y)
    assert code.optimizer_.defaults["eps"] == 1e-7
    assert text.optimizer_.defaults["eps"] == 1e-8
    assert own.optimizer_.defaults["eps"] == 1e-3
    assert code.optimizer_.defaults["lr"] == text.optimizer_.defaults["lr"] == 1e-3
    assert code.optimizer_.defaults["fused"] and not text.optimizer_.defaults["fused"]
    # a user's choice of Adam's implementation is kept, not contradicted
    foreach = FCNetClassifier(
        training="code", max_epochs=1, random_state=0, optimizer__foreach=True
    ).fit(X, y)
    assert foreach.optimizer_.defaults["foreach"]
    assert not foreach.optimizer_.defaults["fused"]
    assert code.batch_size == text.batch_size == 32


@pytest.mark.parametrize("training", ["text", "code"])
def test_lean_epoch_learns_what_skorch_loop_learns(easy, training):
    X, y = easy
    lean = FCNetClassifier(training=training, max_epochs=12, random_state=0)
    # a user callback sends the fit through skorch's own loop
    slow = clone(lean).set_params(callbacks=[("timer", EpochTimer())])
    lean.fit(X, y)
    slow.fit(X, y)
    assert len(lean.history) == len(slow.history)
    np.testing.assert_allclose(
        lean.history[:, "train_loss"], slow.history[:, "train_loss"], rtol=1e-6
    )
    assert lean.history[:, "train_acc"] == slow.history[:, "train_acc"]
    assert lean.history[-1, "train_batch_count"] == 4  # 120 rows, batches of 32
    np.testing.assert_allclose(
        lean.predict_proba(X), slow.predict_proba(X), rtol=1e-5, atol=1e-6
    )


def test_subclass_with_its_own_batch_hook_keeps_skorch_loop(easy):
    X, y = easy

    class Counting(FCNetClassifier):
        def on_batch_end(self, net, **kwargs):
            self.seen_batches_ = getattr(self, "seen_batches_", 0) + 1

    net = Counting(training="code", max_epochs=3, random_state=0).fit(X, y)
    assert net.seen_batches_ == 3 * 4


@pytest.mark.parametrize("bad", ["paper", "Code", None, 1, ["code"]])
def test_bad_training_fails_before_any_change(easy, bad):
    X, y = easy
    net = FCNetClassifier(training="code", max_epochs=2, random_state=0).fit(X, y)
    before = net.predict_proba(X)
    n_epochs = len(net.history)
    net.set_params(training=bad)
    for call in (
        lambda: net.fit(X[:50], y[:50]),
        lambda: net.partial_fit(X[:50], y[:50]),
    ):
        with pytest.raises(ValueError, match="training must be one of"):
            call()
    assert len(net.history) == n_epochs
    np.testing.assert_array_equal(net.predict_proba(X), before)
    with pytest.raises(ValueError, match="training must be one of"):
        FCNetClassifier(training=bad).fit(X, y)


def test_training_is_a_parameter_that_clones(easy):
    net = FCNetClassifier(training="code")
    assert net.get_params()["training"] == "code"
    assert clone(net).training == "code"
    assert FCNetClassifier().training == "text"


def test_cleaner_refits_code_nets_for_every_epoch(easy):
    X, y = easy
    net = FCNetClassifier(training="code", max_epochs=6, random_state=0)
    cleaner = SkepticalCleaner(
        net, oracle=SimulatedOracle(y), n_bootstrap=60, random_state=0
    )
    cleaner.partial_fit(X[:60], y[:60], classes=[0, 1])
    for t in range(60, 64):
        cleaner.partial_fit(X[t : t + 1], y[t : t + 1])
    assert len(cleaner.estimator_.history) == 6


# ------------------------------------------------------------ benchmark


def test_benchmark_trainings_are_the_nets():
    assert tuple(TRAININGS) == tuple(NET_TRAININGS)


def test_make_model_passes_the_training():
    assert make_model("fc", training="code").training == "code"
    assert make_model("cnn", training="text").training == "text"
    assert make_model("lr_net").training == "text"  # the network's own default
    with pytest.raises(ValueError, match="has no training option"):
        make_model("lr", training="code")
    with pytest.raises(ValueError, match="Unknown training"):
        make_model("fc", training="keras")


def test_runspec_default_is_code_and_names_it():
    spec = RunSpec("breast", "fc")
    assert spec.training == "code"
    assert spec.name.endswith("__scratch__code")
    assert RunSpec("breast", "fc", training="text").name.endswith("__scratch__text")
    assert RunSpec(
        "breast", "fc", noise_kind="pairwise", training="text"
    ).name.endswith("__text__pairwise")
    lr = RunSpec("breast", "lr", training="text")  # LR has no training
    assert lr.training is None and lr.name == "breast__lr__cincer__cleaning__scratch"


@pytest.mark.parametrize("bad", ["keras", 3, None])
def test_runspec_rejects_bad_training(bad):
    with pytest.raises(ValueError, match="training"):
        RunSpec("breast", "fc", training=bad)
    if bad is not None:  # a bad value fails for LR as well
        with pytest.raises(ValueError, match="Unknown training"):
            RunSpec("breast", "lr", training=bad)


def test_grid_specs_cross_trainings_once_for_lr():
    specs = grid_specs(
        [("mnist", "lr"), ("breast", "fc")],
        questions=("q1",),
        authors_ranking=False,
        trainings=("code", "text"),
    )
    names = [s.name for s in specs]
    assert len(names) == len(set(names))
    assert sum(n.startswith("mnist__lr__") for n in names) == 3
    assert sum(n.startswith("breast__fc__") for n in names) == 6


def test_run_experiment_writes_cpu_seconds_and_runs_chosen_repeats(tmp_path):
    spec = RunSpec(
        "wine",
        "lr_net",
        "cincer",
        "nearest",
        n_bootstrap=40,
        n_rounds=2,
        training="code",
        model_params={"max_epochs": 3},
    )
    frame = run_experiment(
        spec, n_repeats=3, repeats=[1], output_dir=tmp_path, verbose=0
    )
    assert frame["repeat"].unique().tolist() == [1]
    folder = tmp_path / spec.name
    assert sorted(p.name for p in folder.glob("trace_*.csv")) == ["trace_1.csv"]
    trace = pd.read_csv(folder / "trace_1.csv")
    assert (trace["cpu_seconds"] > 0).all()
    assert json.loads((folder / "config.json").read_text())["training"] == "code"
    with pytest.raises(ValueError, match="repeats must lie"):
        run_experiment(
            spec, n_repeats=2, repeats=[2], output_dir=tmp_path / "x", verbose=0
        )
    assert not (tmp_path / "x").exists()


def test_cli_training_reaches_the_runs(tmp_path, capsys):
    out = tmp_path / "bench"
    status = main(
        [
            "benchmark",
            "--dataset",
            "wine",
            "--model",
            "lr_net",
            "--selector",
            "nearest",
            "--training",
            "text",
            "code",
            "--rounds",
            "2",
            "--repeats",
            "1",
            "--bootstrap",
            "40",
            "--output",
            str(out),
            "--quiet",
        ]
    )
    assert status == 0
    runs = sorted(p.name for p in (out / "runs").iterdir())
    assert runs == [
        "wine__lr_net__cincer__nearest__scratch__code",
        "wine__lr_net__cincer__nearest__scratch__text",
    ]
    printed = capsys.readouterr().out
    assert "text training" in printed


def test_cli_rejects_a_bad_training(capsys):
    import argparse

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["reproduce"])
    assert args.training == ["code"]
    with pytest.raises(SystemExit):
        parser.parse_args(
            ["benchmark", "--dataset", "wine", "--model", "fc", "--training", "keras"]
        )
    assert "invalid choice: 'keras'" in capsys.readouterr().err


def _trace(dataset, model, f1):
    return pd.DataFrame(
        {
            "repeat": [0, 0],
            "round": [0, 1],
            "f1": [f1 - 0.1, f1],
            "n_cleaned": [0, 1],
            "n_queried": [0, 1],
            "seconds": [0.1, 0.1],
        }
    )


def test_old_folders_read_as_text_and_rows_stay_apart(tmp_path):
    runs = tmp_path / "runs"
    for name, config, f1 in [
        ("breast__fc__no_ce__none__scratch", {}, 0.8),  # before the option
        ("breast__fc__no_ce__none__scratch__code", {"training": "code"}, 0.9),
        ("breast__lr__no_ce__none__scratch", {}, 0.7),
    ]:
        model = name.split("__")[1]
        folder = runs / name
        folder.mkdir(parents=True)
        config.update(
            dataset="breast",
            model=model,
            strategy="no_ce",
            selector="none",
            refit="scratch",
        )
        (folder / "config.json").write_text(json.dumps(config))
        _trace("breast", model, f1).to_csv(folder / "trace_0.csv", index=False)
    traces = collect_traces(tmp_path)
    seen = {
        (m, t if isinstance(t, str) else None)
        for m, t in zip(traces["model"], traces["training"])
    }
    assert seen == {("fc", "text"), ("fc", "code"), ("lr", None)}
    table = compare_with_paper(traces, paper=None)
    assert len(table) == 3
    fc = table[table["model"] == "fc"].set_index("training")
    assert fc.loc["code", "ours_f1"] == pytest.approx(0.9)
    assert fc.loc["text", "ours_f1"] == pytest.approx(0.8)
    assert fc.loc["text", "competitor"] == "No CE [text training]"
    assert fc.loc["code", "competitor"] == "No CE"


def test_fcnet_module_is_untouched_by_text(easy):
    torch.manual_seed(0)
    a = FCNet(4, 3)
    torch.manual_seed(0)
    b = keras_initialize(FCNet(4, 3))
    assert not torch.equal(a.output.bias, b.output.bias)


def test_reproduce_runs_each_training_on_its_own_row(tmp_path):
    from sklearn_cincer.benchmark._reproduce import reproduce

    table = reproduce(
        tmp_path,
        pairs=[("wine", "lr_net"), ("wine", "lr")],
        questions=("q1",),
        trainings=("code", "text"),
        n_repeats=1,
        n_rounds=2,
        authors_ranking=False,
        figures=False,
        verbose=0,
    )
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert "wine__lr_net__no_ce__none__scratch__code" in runs
    assert "wine__lr_net__no_ce__none__scratch__text" in runs
    assert "wine__lr__no_ce__none__scratch" in runs  # once: LR has no training
    nets = table[table["model"] == "lr_net"]
    assert sorted(nets["training"].unique()) == ["code", "text"]
    assert len(nets) == 2 * len(table[table["model"] == "lr"])
