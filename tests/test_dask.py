"""Dask: the Fisher passes on chunks where they live, and the grid on a cluster."""

import logging
import subprocess
import sys

import numpy as np
import pytest

from sklearn_cincer._core import fisher_math as _fisher

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")


@pytest.fixture(scope="module")
def client():
    """Two worker processes on this machine, one thread each."""
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def test_the_core_never_imports_dask():
    code = (
        "import sys, sklearn_cincer, sklearn_cincer.selectors; "
        "print(any(m.split('.')[0] in ('dask', 'distributed') "
        "for m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_fisher_passes_run_on_the_workers(client):
    """Chunks generated on the workers; the passes equal NumPy's on the rows."""
    n, d, k = 40_000, 6, 3
    X = da.random.RandomState(0).standard_normal((n, d), chunks=(10_000, d))
    X = client.persist(X)
    coef, intercept = np.random.RandomState(1).randn(k, d), np.zeros(k)
    P = client.persist(_fisher.outputs(X, coef, intercept, "softmax"))
    weights = da.from_array(
        np.random.RandomState(2).randint(0, 3, n) * 1.0, chunks=7_000
    )  # other chunks: realigned
    y = np.random.RandomState(3).randint(0, k, n)
    Xn, Pn, wn = X.compute(), P.compute(), weights.compute()
    with distributed.get_task_stream(client) as tasks:
        F = _fisher.fisher_matrix(X, P, "softmax", weights=weights)
    assert {t["worker"] for t in tasks.data} == set(client.scheduler_info()["workers"])
    np.testing.assert_allclose(F, _fisher.fisher_matrix(Xn, Pn, "softmax", weights=wn))
    np.testing.assert_allclose(_fisher.feature_moment(X), _fisher.feature_moment(Xn))
    np.testing.assert_allclose(
        _fisher.output_moment(P, "softmax"), _fisher.output_moment(Pn, "softmax")
    )
    V = np.random.RandomState(4).randn(k, d + 1)
    np.testing.assert_allclose(
        _fisher.fisher_vector_product(X, P, V, "softmax"),
        _fisher.fisher_vector_product(Xn, Pn, V, "softmax"),
    )
    # The scoring pass: a lazy Dask array, chunked as the candidates.
    R = _fisher.residuals(P, y, "softmax")
    scores = _fisher.kernel_scores(V, X, R)
    assert isinstance(scores, da.Array) and scores.chunks[0] == X.chunks[0]
    Rn = _fisher.residuals(Pn, y, "softmax")
    np.testing.assert_allclose(scores.compute(), _fisher.kernel_scores(V, Xn, Rn))
    # Labels that live on the workers too (never gathered on the client).
    y_on_workers = da.from_array(y, chunks=8_000)
    np.testing.assert_allclose(
        _fisher.residuals(P, y_on_workers, "softmax").compute(), Rn
    )


def test_benchmark_grid_runs_on_a_dask_cluster(client, tmp_path):
    from sklearn_cincer._cli import main

    argv = [
        "benchmark",
        "--dataset",
        "wine",
        "--model",
        "lr",
        "--selector",
        "nearest",
        "--repeats",
        "2",
        "--rounds",
        "3",
        "--n-jobs",
        "2",
        "--quiet",
    ]
    scheduler = client.scheduler.address
    with distributed.get_task_stream(client) as tasks:
        assert (
            main(argv + ["--output", str(tmp_path / "dask"), "--scheduler", scheduler])
            == 0
        )
    assert len(tasks.data) >= 2  # the repeats ran as tasks of the cluster
    assert main(argv + ["--output", str(tmp_path / "local")]) == 0
    import pandas as pd

    for r in range(2):
        run = "wine__lr__cincer__nearest__scratch"
        on_dask = pd.read_csv(tmp_path / "dask" / "runs" / run / f"trace_{r}.csv")
        local = pd.read_csv(tmp_path / "local" / "runs" / run / f"trace_{r}.csv")
        timing = ["seconds", "cpu_seconds", "eval_seconds"]
        pd.testing.assert_frame_equal(
            on_dask.drop(columns=timing), local.drop(columns=timing)
        )
