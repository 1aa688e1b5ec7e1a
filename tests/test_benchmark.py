"""The experiment runner, the authors' ranking, figures, tables and the CLI."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from sklearn_cincer import NearestNeighborSelector, TopFisherSelector
from sklearn_cincer._core import fisher_math as _fisher
from sklearn_cincer._core.last_layer import last_layer_view
from sklearn_cincer.benchmark import (
    AuthorsTopFisherSelector,
    RunSpec,
    _registry,
    _runner,
    compare_with_paper,
    load_paper_results,
    make_model,
    make_selector,
    make_stream,
    precision_at_k,
    run_cleaning,
    run_experiment,
    run_precision,
    run_precision_experiment,
)
from sklearn_cincer.datasets import load_breast_cancer, load_wine

pd = pytest.importorskip("pandas")

PAPER_CSV = (
    Path(__file__).resolve().parents[2] / "shared" / "reference" / "paper_results.csv"
)


@pytest.fixture(autouse=True)
def _one_blas_thread():
    # Tiny problems: BLAS threads only contend with each other on a busy machine.
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def wine():
    return load_wine(random_state=0)


# ---------------------------------------------------------------- streams


def test_stream_is_reproducible_and_noisy_as_asked():
    X, y = np.arange(2000.0).reshape(1000, 2), np.arange(1000) % 4
    a = make_stream(X, y, n_bootstrap=100, n_rounds=100, random_state=3)
    b = make_stream(X, y, n_bootstrap=100, n_rounds=100, random_state=3)
    c = make_stream(X, y, n_bootstrap=100, n_rounds=100, random_state=4)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y_noisy, b.y_noisy)
    assert not np.array_equal(a.indices, c.indices)
    assert len(set(a.indices)) == 200  # without replacement
    np.testing.assert_array_equal(a.X, X[a.indices])
    np.testing.assert_array_equal(a.y_true, y[a.indices])
    np.testing.assert_array_equal(a.is_noisy, a.y_noisy != a.y_true)
    # 20% of the pool is corrupted, so about 40 of the 200 drawn examples.
    assert 20 <= a.is_noisy.sum() <= 60


def test_stream_with_confusion_noise_flips_to_confused_classes(wine):
    a = make_stream(
        wine.X_train,
        wine.y_train,
        n_bootstrap=40,
        n_rounds=20,
        noise_kind="confusion",
        random_state=0,
    )
    b = make_stream(
        wine.X_train,
        wine.y_train,
        n_bootstrap=40,
        n_rounds=20,
        noise_kind="confusion",
        random_state=0,
    )
    np.testing.assert_array_equal(a.y_noisy, b.y_noisy)
    np.testing.assert_array_equal(a.is_noisy, a.y_noisy != a.y_true)
    assert a.is_noisy.any()


def test_run_spec_noise_kind_names_its_run():
    assert RunSpec("wine", "lr").name == "wine__lr__cincer__cleaning__scratch"
    assert RunSpec("wine", "lr", noise_kind="confusion").name == (
        "wine__lr__cincer__cleaning__scratch__confusion"
    )
    with pytest.raises(ValueError, match="noise_kind"):
        RunSpec("wine", "lr", noise_kind="gaussian")


def test_stream_too_long():
    with pytest.raises(ValueError, match="fewer than n_bootstrap"):
        make_stream(np.zeros((10, 2)), np.arange(10) % 2, n_bootstrap=8, n_rounds=5)


# --------------------------------------------------------------- cleaning


def test_counters_are_consistent(wine):
    s = make_stream(
        wine.X_train, wine.y_train, n_bootstrap=40, n_rounds=40, random_state=1
    )
    trace, cleaner = run_cleaning(
        s,
        wine.X_test,
        wine.y_test,
        model=LogisticRegression(max_iter=500),
        selector=NearestNeighborSelector(),
        strategy="cincer",
        random_state=0,
    )
    t = pd.DataFrame(trace)
    assert t["round"].tolist() == list(range(41))
    assert (t["n_cleaned"] == t["n_cleaned_ex"] + t["n_cleaned_ce"]).all()
    assert t["n_queried"].is_monotonic_increasing
    assert t["n_queried"].iloc[-1] == cleaner.n_queries_ > 0
    noisy_boot = int(s.is_noisy[:40].sum())
    # With a perfect oracle and no drops, every noisy label seen is either
    # still in the training set or was cleaned.
    np.testing.assert_array_equal(
        t["n_noisy_train"], noisy_boot + t["n_mistakes_seen"] - t["n_cleaned"]
    )
    assert t["n_mistakes_seen"].iloc[-1] == s.is_noisy[40:].sum()
    assert (t["n_train"] == 40 + t["round"]).all()
    assert t["f1"].between(0, 1).all()


def test_no_ce_and_drop_ce_never_clean_counter_examples(wine):
    s = make_stream(
        wine.X_train, wine.y_train, n_bootstrap=40, n_rounds=30, random_state=2
    )
    for strategy in ("no_ce", "drop_ce"):
        trace, cleaner = run_cleaning(
            s,
            wine.X_test,
            wine.y_test,
            model=LogisticRegression(max_iter=500),
            selector=NearestNeighborSelector(),
            strategy=strategy,
            random_state=0,
        )
        last = trace[-1]
        assert last["n_cleaned_ce"] == 0
        assert last["n_cleaned"] == last["n_cleaned_ex"]
        if strategy == "no_ce":
            assert last["n_noisy_ce"] == 0 and last["n_dropped"] == 0
        else:
            assert last["n_train"] == 40 + 30 - last["n_dropped"]


def test_competitors_see_the_same_stream(wine):
    kw = dict(n_repeats=2, data=wine, verbose=0, random_state=5)
    a = run_experiment(
        RunSpec("wine", "lr", "cincer", "nearest", n_bootstrap=40, n_rounds=10), **kw
    )
    b = run_experiment(
        RunSpec("wine", "lr", "no_ce", n_bootstrap=40, n_rounds=10), **kw
    )
    np.testing.assert_array_equal(a["n_mistakes_seen"], b["n_mistakes_seen"])
    # Same bootstrap set and the same model seed: the same round-0 model.
    np.testing.assert_array_equal(a[a["round"] == 0]["f1"], b[b["round"] == 0]["f1"])
    assert b["selector"].iloc[0] == "none"
    # The two repeats have different streams.
    r0, r1 = (a[a["repeat"] == r]["n_mistakes_seen"].to_numpy() for r in (0, 1))
    assert not np.array_equal(r0, r1) or a["f1"].iloc[0] != a["f1"].iloc[11]


def test_resumes_finished_repeats(wine, tmp_path, monkeypatch):
    spec = RunSpec("wine", "lr", "cincer", "nearest", n_bootstrap=40, n_rounds=5)
    first = run_experiment(spec, n_repeats=2, data=wine, output_dir=tmp_path, verbose=0)
    folder = tmp_path / spec.name
    assert sorted(p.name for p in folder.iterdir()) == [
        "config.json",
        "queries_0.csv",
        "queries_1.csv",
        "trace_0.csv",
        "trace_1.csv",
    ]
    (folder / "trace_1.csv").unlink()
    ran = []
    real = _runner._one_repeat

    def spy(spec, repeat, *args):
        ran.append(repeat)
        return real(spec, repeat, *args)

    monkeypatch.setattr(_runner, "_one_repeat", spy)
    again = run_experiment(spec, n_repeats=3, data=wine, output_dir=tmp_path, verbose=0)
    assert ran == [1, 2]
    cols = ["repeat", "round", "f1", "n_cleaned", "n_queried"]
    pd.testing.assert_frame_equal(
        first[cols].reset_index(drop=True),
        again[again["repeat"] < 2][cols].reset_index(drop=True),
        check_dtype=False,
    )


def test_parallel_repeats_match_serial(wine):
    spec = RunSpec("wine", "lr", "cincer", "top_fisher", n_bootstrap=40, n_rounds=4)
    serial = run_experiment(spec, n_repeats=2, data=wine, verbose=0, n_jobs=1)
    parallel = run_experiment(spec, n_repeats=2, data=wine, verbose=0, n_jobs=2)
    cols = ["repeat", "round", "f1", "n_cleaned", "n_queried"]
    pd.testing.assert_frame_equal(serial[cols], parallel[cols])


def test_queries_are_saved_with_truth(wine, tmp_path):
    spec = RunSpec("wine", "lr", "cincer", "nearest", n_bootstrap=40, n_rounds=20)
    traces = run_experiment(
        spec, n_repeats=1, data=wine, output_dir=tmp_path, verbose=0
    )
    queries = pd.read_csv(tmp_path / spec.name / "queries_0.csv")
    assert len(queries) == traces["n_queried"].iloc[-1]
    relabeled = queries["label_after"] != queries["label_before"]
    assert queries.loc[relabeled, "example_noisy"].all()


# -------------------------------------------------------------------- Q2


def test_precision_at_k():
    assert precision_at_k([3, 2, 1], [False, True, True], ks=(1, 2, 3, 5)) == {
        1: 0.0,
        2: 0.5,
        3: 2 / 3,
        5: 2 / 3,
    }


def test_run_precision_same_queries_for_all_selectors():
    data = load_breast_cancer(random_state=0)
    s = make_stream(
        data.X_train, data.y_train, n_bootstrap=60, n_rounds=80, random_state=0
    )
    rows = pd.DataFrame(
        run_precision(
            s,
            model=LogisticRegression(max_iter=500),
            selectors={
                "top_fisher": TopFisherSelector(),
                "nearest": NearestNeighborSelector(),
            },
        )
    )
    by = {name: g["round"].tolist() for name, g in rows.groupby("selector")}
    assert by["top_fisher"] == by["nearest"] and len(by["nearest"]) > 0
    assert (rows["n_noisy_candidates"] <= rows["n_candidates"]).all()
    # Only bootstrap examples can be noisy: the incoming ones are clean.
    assert rows["n_noisy_candidates"].max() <= s.is_noisy[:60].sum()
    assert rows[["pr_at_5", "pr_at_10"]].stack().between(0, 1).all()


# ------------------------------------------------- the authors' ranking


def _brute_force_authors(model, X, y, x, y_t, rows, candidates):
    view = last_layer_view(model)
    H = np.vstack([X, x[None]])
    P = view.outputs(H)
    # The two-logit softmax of a binary model, explicitly.
    if view.link == "logistic":
        P = np.hstack([1 - P, P])
    c = P.shape[1]
    Ht = np.hstack([H, np.ones((H.shape[0], 1))])
    F = np.zeros((c * Ht.shape[1],) * 2)
    for i in rows:
        for label in range(c):
            g = ((np.eye(c)[label] - P[i])[:, None] * Ht[i][None]).ravel()
            F += P[i, label] * np.outer(g, g)
    F /= len(rows)
    Fp = np.linalg.pinv(F, rcond=1e-15, hermitian=True)

    def grad(i, label):
        return ((np.eye(c)[label] - P[i])[:, None] * Ht[i][None]).ravel()

    g_t = grad(len(X), y_t)
    return np.array([g_t @ Fp @ grad(k, y[k]) for k in candidates])


@pytest.mark.parametrize("binary", [False, True])
def test_authors_selector_matches_brute_force(binary):
    X, y = load_iris(return_X_y=True)
    if binary:
        X, y = X[50:], y[50:] - 1
    model = LogisticRegression(max_iter=1000).fit(X, y)
    selector = AuthorsTopFisherSelector(precision="float64", random_state=7)
    selector.fit(model, X, y)
    x_t, y_t = X[10] + 0.1, int(y[-1])
    candidates = np.flatnonzero(y != y_t)[:20]
    rows = np.random.RandomState(7).permutation(len(X) + 1)[:30]
    expected = _brute_force_authors(model, X, y, x_t, y_t, rows, candidates)
    got = selector.score(x_t, y_t, candidates)
    np.testing.assert_allclose(
        got, expected, rtol=1e-6, atol=1e-8 * np.abs(expected).max()
    )


def test_authors_sign_is_opposite_of_eq14():
    # With the Fisher of the same examples and no damping, the authors'
    # score is exactly minus Eq. 14's.
    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=1000).fit(X, y)
    ours = TopFisherSelector(damping=1e-10).fit(model, X, y)
    theirs = AuthorsTopFisherSelector(
        n_samples=10**6, precision="float64", random_state=0
    ).fit(model, X, y)
    # Make the authors' sample exactly the training set plus an exact copy
    # of a training row as the query (its weight is negligible after /n).
    view = last_layer_view(model)
    H = view.features(X)
    F = _fisher.fisher_matrix(H, view.outputs(H), view.link)
    candidates = np.flatnonzero(y == 2)
    x_t, y_t = X[60], 1
    g = _fisher.gradients(H[60:61], view.outputs(H[60:61]), np.array([1]), view.link)
    V = np.linalg.pinv(F, hermitian=True) @ g.ravel()
    R = _fisher.residuals(view.outputs(H), y, view.link)
    eq14 = _fisher.kernel_scores(V.reshape(3, -1), H[candidates], R[candidates])
    np.testing.assert_allclose(
        ours.score(x_t, y_t, candidates),
        eq14,
        rtol=1e-3,
        atol=1e-6 * np.abs(eq14).max(),
    )
    authors = theirs.score(x_t, y_t, candidates)
    assert np.corrcoef(authors, eq14)[0, 1] < -0.99


@pytest.mark.parametrize("binary", [False, True])
def test_authors_svd_solver_matches_pinv(binary):
    X, y = load_iris(return_X_y=True)
    if binary:
        X, y = X[50:], y[50:] - 1
    model = LogisticRegression(max_iter=1000).fit(X, y)
    kw = dict(precision="float64", rcond=1e-10, random_state=3)
    a = AuthorsTopFisherSelector(solver="pinv", **kw).fit(model, X, y)
    b = AuthorsTopFisherSelector(solver="svd", **kw).fit(model, X, y)
    cand = np.arange(len(y))
    sa, sb = a.score(X[5], y[0], cand), b.score(X[5], y[0], cand)
    np.testing.assert_allclose(sb, sa, rtol=1e-6, atol=1e-9 * np.abs(sa).max())


@pytest.mark.parametrize("n_samples, expected", [(30, "pinv"), (2, "svd")])
def test_authors_auto_solver_uses_svd_only_for_a_rank_deficient_estimate(
    monkeypatch, n_samples, expected
):
    # iris: 3 x (4 + 1) = 15 parameters; 30 samples x 3 labels give 90 rows
    # (pinv), 2 samples give 6 rows (F is rank deficient: svd)
    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=1000).fit(X, y)
    calls = []
    real_pinv = np.linalg.pinv
    monkeypatch.setattr(
        np.linalg, "pinv", lambda *a, **k: calls.append(1) or real_pinv(*a, **k)
    )
    kw = dict(n_samples=n_samples, precision="float64", random_state=3)
    auto = AuthorsTopFisherSelector(**kw).fit(model, X, y)
    cand = np.arange(len(y))
    got = auto.score(X[5], 1, cand)
    assert bool(calls) == (expected == "pinv")
    monkeypatch.setattr(np.linalg, "pinv", real_pinv)
    same = AuthorsTopFisherSelector(solver=expected, **kw).fit(model, X, y)
    np.testing.assert_array_equal(got, same.score(X[5], 1, cand))


def test_authors_selector_resamples_each_query():
    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=1000).fit(X, y)
    sel = AuthorsTopFisherSelector(
        n_samples=5, precision="float64", random_state=0
    ).fit(model, X, y)
    a = sel.score(X[0], 0, np.arange(50, 60))
    b = sel.score(X[0], 0, np.arange(50, 60))
    assert not np.allclose(a, b)


# ------------------------------------------------------------ registry


def test_registry_resolves_lazily():
    assert make_model("lr", random_state=3).random_state == 3
    assert type(make_selector("nearest")).__name__ == "NearestNeighborSelector"
    assert type(make_selector("authors_top_fisher")) is AuthorsTopFisherSelector
    with pytest.raises(ValueError, match="Unknown model"):
        make_model("svm")
    with pytest.raises(ValueError, match="Unknown selector"):
        make_selector("oracle")
    with pytest.raises(ValueError, match="Unknown strategy"):
        RunSpec("wine", "lr", "magic")


def test_unavailable_model_says_what_is_missing(monkeypatch):
    monkeypatch.setitem(
        _registry.MODELS, "fc", ("sklearn_cincer.nets_missing", "FCNetClassifier", {})
    )
    with pytest.raises(ImportError, match="torch extra"):
        make_model("fc")


def test_importing_benchmark_loads_no_heavy_module():
    # Whatever the core package loads, the benchmark and datasets add none of
    # torch, matplotlib, pandas.
    code = (
        "import sys; heavy = ('torch', 'matplotlib', 'pandas'); "
        "import sklearn_cincer; before = {m for m in heavy if m in sys.modules}; "
        "import sklearn_cincer.benchmark, sklearn_cincer.benchmark._commands, "
        "sklearn_cincer.datasets; "
        "print(sorted({m for m in heavy if m in sys.modules} - before))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


# -------------------------------------------------------- paper table


@pytest.mark.skipif(not PAPER_CSV.is_file(), reason="paper_results.csv not here")
def test_compare_with_paper_finds_the_rows():
    paper = load_paper_results(PAPER_CSV)
    rows = []
    for strategy, selector in (
        ("cincer", "top_fisher"),
        ("no_ce", "none"),
        ("drop_ce", "top_fisher"),
        ("cincer", "nearest"),
    ):
        for r in (0, 1):
            rows.append(
                {
                    "dataset": "breast",
                    "model": "fc",
                    "strategy": strategy,
                    "selector": selector,
                    "refit": "scratch",
                    "repeat": r,
                    "round": 100,
                    "n_cleaned": 20 + r,
                    "n_queried": 21,
                    "f1": 0.9,
                    "seconds": 1.0,
                }
            )
    table = compare_with_paper(pd.DataFrame(rows), paper).set_index("paper_method")
    assert table.loc["cincer_top_fisher", "paper_n_cleaned"] == pytest.approx(27.8)
    assert table.loc["no_ce", "paper_n_cleaned"] == pytest.approx(16.6)
    assert table.loc["drop_ce", "paper_f1"] == pytest.approx(0.901, abs=1e-3)
    assert table.loc["nn_1", "paper_n_cleaned"] == pytest.approx(18.6)
    assert table.loc["nn_1", "ours_n_cleaned"] == 20.5
    assert table.loc["nn_1", "ours_n_cleaned_se"] == pytest.approx(0.5 / np.sqrt(2))


# ------------------------------------------------------------------ CLI


def test_cli_benchmark_and_report(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from sklearn_cincer._cli import main

    out = tmp_path / "out"
    status = main(
        [
            "benchmark",
            "--dataset",
            "wine",
            "--model",
            "lr",
            "--strategy",
            "cincer",
            "no_ce",
            "--selector",
            "nearest",
            "--repeats",
            "2",
            "--rounds",
            "4",
            "--bootstrap",
            "40",
            "--output",
            str(out),
            "--figures",
            "--quiet",
        ]
    )
    assert status == 0
    printed = capsys.readouterr().out
    assert "1-NN" in printed and "No CE" in printed
    runs = sorted(p.name for p in (out / "runs").iterdir())
    assert runs == [
        "wine__lr__cincer__nearest__scratch",
        "wine__lr__no_ce__none__scratch",
    ]
    assert (out / "comparison.md").is_file()
    assert list((out / "figures").glob("q1__wine__lr__scratch.png"))


def test_cli_benchmark_noise_kind(tmp_path, capsys):
    from sklearn_cincer._cli import main

    out = tmp_path / "out"
    status = main(
        [
            "benchmark",
            "--dataset",
            "wine",
            "--model",
            "lr",
            "--strategy",
            "no_ce",
            "--repeats",
            "1",
            "--rounds",
            "3",
            "--bootstrap",
            "40",
            "--noise-kind",
            "confusion",
            "--output",
            str(out),
            "--quiet",
        ]
    )
    assert status == 0
    runs = sorted(p.name for p in (out / "runs").iterdir())
    assert runs == ["wine__lr__no_ce__none__scratch__confusion"]
    with pytest.raises(SystemExit, match="uniform noise only"):
        main(
            [
                "benchmark",
                "--dataset",
                "wine",
                "--model",
                "lr",
                "--q2",
                "--noise-kind",
                "pairwise",
                "--output",
                str(out),
                "--quiet",
            ]
        )


def test_eval_every_measures_only_some_rounds_and_keeps_the_rest(wine):
    kw = dict(n_repeats=1, data=wine, verbose=0)
    every = run_experiment(
        RunSpec("wine", "lr", "cincer", "nearest", n_bootstrap=40, n_rounds=7), **kw
    )
    sparse = run_experiment(
        RunSpec(
            "wine", "lr", "cincer", "nearest", n_bootstrap=40, n_rounds=7, eval_every=3
        ),
        **kw,
    )
    measured = sparse["f1"].notna().to_numpy()
    # rounds 0, 3, 6 and always the last one (7)
    np.testing.assert_array_equal(np.flatnonzero(measured), [0, 3, 6, 7])
    # measuring less often changes nothing else
    np.testing.assert_allclose(sparse["f1"][measured], every["f1"][measured])
    np.testing.assert_array_equal(sparse["n_cleaned"], every["n_cleaned"])


@pytest.mark.parametrize("bad", [0, -2, 1.5, True])
def test_eval_every_must_be_a_positive_integer(bad):
    with pytest.raises(ValueError, match="eval_every"):
        RunSpec("wine", "lr", eval_every=bad)


def test_selector_params_name_their_own_run():
    plain = RunSpec("wine", "lr", "cincer", "top_fisher")
    damped = RunSpec(
        "wine", "lr", "cincer", "top_fisher", selector_params={"damping": 0.5}
    )
    assert plain.name != damped.name
    assert "top_fisher(damping=0.5)" in damped.name
    # no_ce asks no selector, so parameters cannot split its results
    assert (
        RunSpec("wine", "lr", "no_ce", selector_params={"damping": 0.5}).name
        == RunSpec("wine", "lr", "no_ce").name
    )


@pytest.mark.parametrize(
    "params, match",
    [({"dampin": 1.0}, "unexpected keyword"), ({"damping": -1.0}, "damping")],
)
def test_bad_selector_params_fail_before_any_work(params, match):
    with pytest.raises(ValueError, match=match):
        RunSpec("wine", "lr", "cincer", "top_fisher", selector_params=params)


def test_cli_selector_param_and_eval_every(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from sklearn_cincer._cli import main

    out = tmp_path / "out"
    status = main(
        [
            "benchmark",
            "--dataset",
            "wine",
            "--model",
            "lr",
            "--selector",
            "top_fisher",
            "--selector-param",
            "damping=0.5",
            "--repeats",
            "1",
            "--rounds",
            "5",
            "--bootstrap",
            "40",
            "--eval-every",
            "2",
            "--output",
            str(out),
            "--figures",
            "--quiet",
        ]
    )
    assert status == 0
    assert "CINCER (Top Fisher; damping=0.5)" in capsys.readouterr().out
    (run,) = (out / "runs").iterdir()
    assert run.name == "wine__lr__cincer__top_fisher(damping=0.5)__scratch"
    trace = pd.read_csv(run / "trace_0.csv")
    assert trace["f1"].notna().tolist() == [True, False, True, False, True, True]
    assert (out / "figures" / "variants__wine__lr__scratch.png").is_file()
    assert (
        main(
            [
                "benchmark",
                "--dataset",
                "wine",
                "--model",
                "lr",
                "--selector-param",
                "dampin=1",
                "--output",
                str(out),
            ]
        )
        == 1
    )
    assert "dampin" in capsys.readouterr().err


def test_cli_reproduce_default_pairs_are_parsed():
    # argparse does not apply ``type`` to list defaults: they must already be
    # (dataset, model) tuples, or the grid fails to unpack them
    import argparse

    from sklearn_cincer.benchmark._commands import add_parser
    from sklearn_cincer.benchmark._runner import PAPER_PAIRS, Q2_PAIRS

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["reproduce"])
    assert [tuple(p) for p in args.pairs] == list(PAPER_PAIRS)
    assert [tuple(p) for p in args.q2_pairs] == list(Q2_PAIRS)
    given = parser.parse_args(["reproduce", "--pairs", "breast:fc"])
    assert given.pairs == [("breast", "fc")]


def test_precision_selector_params_reach_the_selector(wine):
    # 60 clean incoming examples give a few queries (9 with this seed)
    kw = dict(n_repeats=1, n_rounds=60, n_bootstrap=40, data=wine, verbose=0)
    with pytest.raises(TypeError, match="bogus"):  # before any work
        run_precision_experiment(
            "wine", "lr", ["nearest"], selector_params={"nearest": {"bogus": 1}}, **kw
        )
    # wine/LR has 3 x 14 = 42 parameters: a cap of 10 must refuse it
    with pytest.raises(ValueError, match="max_params"):
        run_precision_experiment(
            "wine",
            "lr",
            ["full_fisher"],
            selector_params={"full_fisher": {"max_params": 10}},
            **kw,
        )
    ok = run_precision_experiment(
        "wine",
        "lr",
        ["full_fisher"],
        selector_params={"full_fisher": {"max_params": 42}},
        **kw,
    )
    assert len(ok) > 0 and set(ok["selector"]) == {"full_fisher"}


def test_cli_q2(tmp_path, capsys):
    from sklearn_cincer._cli import main

    status = main(
        [
            "benchmark",
            "--dataset",
            "breast",
            "--model",
            "lr",
            "--q2",
            "--selector",
            "top_fisher",
            "nearest",
            "--repeats",
            "1",
            "--rounds",
            "30",
            "--output",
            str(tmp_path),
            "--quiet",
        ]
    )
    assert status == 0
    assert "top_fisher" in capsys.readouterr().out
    assert (tmp_path / "runs" / "breast__lr__precision" / "precision_0.csv").is_file()


def test_cli_reports_missing_data(tmp_path, capsys):
    from sklearn_cincer._cli import main

    status = main(
        [
            "benchmark",
            "--dataset",
            "adult",
            "--model",
            "lr",
            "--data-home",
            str(tmp_path),
            "--output",
            str(tmp_path),
            "--repeats",
            "1",
            "--quiet",
        ]
    )
    assert status == 1
    assert "download_if_missing" in capsys.readouterr().err


def test_reproduce_small_grid(tmp_path):
    pytest.importorskip("matplotlib")
    from sklearn_cincer.benchmark._reproduce import reproduce

    table = reproduce(
        tmp_path,
        pairs=[("digits", "lr")],
        questions=("q1",),
        q2_pairs=(),
        n_repeats=1,
        n_rounds=3,
        authors_ranking=False,
        verbose=0,
    )
    assert set(table["competitor"]) == {"CINCER (cleaning)", "Drop CE", "No CE"}
    assert (tmp_path / "figures" / "q1__digits__lr__scratch.png").is_file()
    assert (tmp_path / "figures" / "fig1__digits__lr.png").is_file()
    assert (tmp_path / "comparison.md").read_text().startswith("| dataset")
    # the counter-example columns: cleaned, and the fraction shown mislabeled
    row = table.set_index("competitor").loc["CINCER (cleaning)"]
    assert 0 <= row["ours_ce_mislabeled"] <= 1
    assert np.isnan(table.set_index("competitor").loc["No CE", "ours_ce_mislabeled"])
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert summary[["dataset", "model", "refit"]].values.tolist() == [
        ["digits", "lr", "scratch"]
    ]
    # the verdict is computed from the table, not written by hand
    cleaned = table.set_index("competitor")["ours_n_cleaned"]
    assert bool(summary["ahead_of_baselines"].iloc[0]) == (
        cleaned["CINCER (cleaning)"] > max(cleaned["Drop CE"], cleaned["No CE"])
    )
    assert (
        summary["cincer_cleaned"]
        .iloc[0]
        .startswith(f"{cleaned['CINCER (cleaning)']:.1f} ± ")
    )
