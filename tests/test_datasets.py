"""Loaders of the paper's data sets: real files, preprocessing, downloads."""

import functools
import hashlib
import http.server
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from sklearn_cincer.datasets import (
    DATA_ENV,
    ChecksumError,
    _files,
    fetch_file,
    get_data_home,
    load_20newsgroups,
    load_adult,
    load_breast_cancer,
    load_dataset,
    load_digits,
    load_fashion_mnist,
    load_mnist,
    load_wine,
)
from sklearn_cincer.datasets._base import RemoteFile


def _shared_data():
    env = os.environ.get(DATA_ENV)
    if env and Path(env, "adult").is_dir():
        return Path(env)
    path = Path(__file__).resolve().parents[2] / "shared" / "data"
    return path if path.is_dir() else None


SHARED = _shared_data()
needs_data = pytest.mark.skipif(
    SHARED is None,
    reason="the real data files are not here: set SKLEARN_CINCER_DATA to the "
    "shared data folder (../shared/data next to the repository)",
)


# ------------------------------------------------------------- data home


def test_data_home_argument_env_default(monkeypatch, tmp_path):
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "env"))
    assert get_data_home(tmp_path / "arg") == tmp_path / "arg"
    assert get_data_home() == tmp_path / "env"
    monkeypatch.delenv(DATA_ENV)
    assert get_data_home() == Path("~/sklearn_cincer_data").expanduser()


def test_missing_file_without_download_says_how(tmp_path):
    with pytest.raises(FileNotFoundError, match="download_if_missing=True"):
        load_adult(data_home=tmp_path)
    assert not any(tmp_path.iterdir())  # nothing created


# ------------------------------------------------- loaders without files


def test_breast_cancer_split_and_scaling():
    a = load_breast_cancer(random_state=0)
    b = load_breast_cancer(random_state=0)
    c = load_breast_cancer(random_state=1)
    assert a.X_train.shape == (455, 30) and a.X_test.shape == (114, 30)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert not np.array_equal(a.y_test, c.y_test)
    np.testing.assert_allclose(a.X_train.min(axis=0), 0)
    np.testing.assert_allclose(a.X_train.max(axis=0), 1)
    assert set(np.unique(a.y_train)) == {0, 1}
    assert np.bincount(np.concatenate([a.y_train, a.y_test])).tolist() == [212, 357]


def test_digits_and_wine():
    d = load_digits()
    assert d.images_train.shape == (1437, 8, 8)
    np.testing.assert_array_equal(d.images_train.reshape(1437, -1), d.X_train)
    assert d.X_train.max() == 1.0 and d.X_train.min() == 0.0
    w = load_wine(random_state=3)
    assert w.X_train.shape == (142, 13) and list(np.unique(w.y_train)) == [0, 1, 2]
    assert load_dataset("wine", random_state=3).y_test.tolist() == w.y_test.tolist()


def test_unknown_dataset():
    with pytest.raises(ValueError, match="Unknown data set 'cifar'"):
        load_dataset("cifar")


# ------------------------------------------------------ real files


@needs_data
def test_adult_real_files():
    data = load_adult(data_home=SHARED, random_state=0)
    n = data.X_train.shape[0] + data.X_test.shape[0]
    assert n == 45222  # rows without "?"
    assert data.X_test.shape[0] == pytest.approx(0.2 * n, abs=1)
    assert data.X_train.shape[1] == len(data.feature_names)
    numeric = data.X_train[:, :6]
    np.testing.assert_allclose(numeric.min(axis=0), 0)
    np.testing.assert_allclose(numeric.max(axis=0), 1)
    # Each of the eight categorical attributes is one-hot: exactly one 1 each.
    onehot = data.X_train[:, 6:]
    assert set(np.unique(onehot)) == {0.0, 1.0}
    np.testing.assert_array_equal(onehot.sum(axis=1), 8)
    # ~24.8% of the rows without "?" earn more than $50K.
    assert np.mean(np.concatenate([data.y_train, data.y_test])) == pytest.approx(
        11208 / 45222, abs=1e-9
    )
    assert "age" in data.feature_names and "sex=Female" in data.feature_names


@needs_data
def test_adult_keep_missing():
    data = load_adult(data_home=SHARED, drop_missing=False)
    assert data.X_train.shape[0] + data.X_test.shape[0] == 48842
    assert "workclass=?" in data.feature_names


@needs_data
def test_mnist_5k_and_official_test():
    data = load_mnist(data_home=SHARED)
    assert data.X_train.shape == (5000, 784) and data.X_test.shape == (10000, 784)
    assert data.X_train.dtype == np.float32
    assert np.bincount(data.y_train).tolist() == [500] * 10
    assert np.bincount(data.y_test).tolist() == [
        980,
        1135,
        1032,
        1010,
        982,
        892,
        958,
        1028,
        974,
        1009,
    ]
    assert data.X_train.min() == 0 and data.X_train.max() == 1
    assert data.images_test.shape == (10000, 28, 28)
    # Digits are centred: the border pixels are background.
    assert data.images_train[:, 0, :].max() == 0


@needs_data
def test_mnist_full_training_set_is_missing_here():
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.gz"):
        load_mnist(data_home=SHARED, training_set="full")
    with pytest.raises(ValueError, match="training_set"):
        load_mnist(data_home=SHARED, training_set="10k")


@needs_data
def test_fashion_mnist():
    data = load_fashion_mnist(data_home=SHARED)
    assert data.X_train.shape == (60000, 784) and data.X_test.shape == (10000, 784)
    assert np.bincount(data.y_test).tolist() == [1000] * 10
    assert data.target_names[9] == "Ankle boot"
    assert 0 <= data.X_test.min() and data.X_test.max() == 1


@needs_data
def test_20newsgroups_embeddings_pca():
    data = load_20newsgroups(data_home=SHARED, random_state=0)
    assert data.X_train.shape == (11314, 100) and data.X_test.shape == (7532, 100)
    assert len(data.target_names) == 20 and data.target_names[0] == "alt.atheism"
    assert np.bincount(data.y_train).min() >= 377
    # PCA is fit on train: centred there, components ordered by variance.
    np.testing.assert_allclose(data.X_train.mean(axis=0), 0, atol=1e-6)
    var = data.X_train.var(axis=0)
    assert np.all(np.diff(var) <= 1e-9)
    raw = load_20newsgroups(data_home=SHARED, n_components=None)
    assert raw.X_train.shape == (11314, 384)
    np.testing.assert_allclose(np.linalg.norm(raw.X_train, axis=1), 1, atol=1e-4)
    assert data.ids_train[0].startswith("alt.atheism/")


def test_20newsgroups_missing_embeddings_explains(tmp_path):
    with pytest.raises(FileNotFoundError, match="compute_embeddings=True"):
        load_20newsgroups(data_home=tmp_path)


# ----------------------------------------------------------- downloads


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    """Serve a folder on 127.0.0.1 from a thread; stops by itself after the test."""
    served = {}

    def start(folder):
        handler = functools.partial(_Quiet, directory=str(folder))
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        httpd.timeout = 5
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        # Bounded: the server stops by itself after a minute whatever happens.
        timer = threading.Timer(60, httpd.shutdown)
        timer.daemon = True
        timer.start()
        served["httpd"], served["thread"], served["timer"] = httpd, thread, timer
        return f"http://127.0.0.1:{httpd.server_address[1]}"

    yield start
    if "httpd" in served:
        served["timer"].cancel()
        served["httpd"].shutdown()
        served["httpd"].server_close()
        served["thread"].join(timeout=10)


@needs_data
def test_download_from_mirror_checks_and_loads(server, tmp_path):
    mirror = server(SHARED)
    home = tmp_path / "home"
    data = load_adult(data_home=home, download_if_missing=True, mirror=mirror)
    for name in ("adult.data", "adult.test"):
        assert (home / "adult" / name).read_bytes() == (
            SHARED / "adult" / name
        ).read_bytes()
    assert not list((home / "adult").glob("*.part"))
    reference = load_adult(data_home=SHARED)
    np.testing.assert_array_equal(data.X_train, reference.X_train)
    # A second load reads the local copy: no server needed any more.
    load_adult(data_home=home)


@needs_data
def test_download_mnist_from_mirror(server, tmp_path):
    mirror = server(SHARED)
    data = load_mnist(data_home=tmp_path, download_if_missing=True, mirror=mirror)
    assert data.X_train.shape == (5000, 784)
    assert sorted(p.name for p in (tmp_path / "mnist").iterdir()) == [
        "mnist_5k.csv.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ]


def test_checksum_mismatch_keeps_nothing(server, tmp_path):
    served = tmp_path / "served"
    (served / "adult").mkdir(parents=True)
    (served / "adult" / "adult.data").write_bytes(b"39, State-gov, tampered\n")
    mirror = server(served)
    home = tmp_path / "home"
    with pytest.raises(ChecksumError, match="SHA-256"):
        fetch_file(_files.ADULT_DATA, home, download_if_missing=True, mirror=mirror)
    assert not (home / "adult" / "adult.data").exists()
    assert list((home / "adult").iterdir()) == []


def test_md5_checked_when_no_sha256(server, tmp_path):
    payload = b"some bytes"
    served = tmp_path / "served"
    served.mkdir()
    (served / "f.bin").write_bytes(payload)
    mirror = server(served)
    good = RemoteFile("f.bin", None, md5=(hashlib.md5(payload).hexdigest(),))
    path = fetch_file(good, tmp_path / "a", download_if_missing=True, mirror=mirror)
    assert path.read_bytes() == payload
    bad = RemoteFile("f.bin", None, md5=("0" * 32,))
    with pytest.raises(ChecksumError, match="MD5"):
        fetch_file(bad, tmp_path / "b", download_if_missing=True, mirror=mirror)


def test_file_without_source_cannot_download(tmp_path):
    with pytest.raises(FileNotFoundError, match="cannot be downloaded"):
        fetch_file(_files.NEWSGROUPS_EMBEDDINGS, tmp_path, download_if_missing=True)


def test_missing_on_server_is_an_error(server, tmp_path):
    (tmp_path / "empty").mkdir()
    mirror = server(tmp_path / "empty")
    with pytest.raises(OSError):
        fetch_file(
            _files.ADULT_TEST, tmp_path / "h", download_if_missing=True, mirror=mirror
        )
    assert not (tmp_path / "h" / "adult" / "adult.test").exists()


@needs_data
def test_shared_checksums_match_registry():
    from sklearn_cincer.datasets._base import file_checksums

    for remote in (
        _files.ADULT_DATA,
        _files.MNIST_5K,
        _files.FASHION_TEST_LABELS,
        _files.NEWSGROUPS_ARCHIVE,
    ):
        sha256, _ = file_checksums(SHARED / remote.path)
        assert sha256 in remote.sha256


def test_registry_is_consistent():
    remotes = [v for v in vars(_files).values() if isinstance(v, RemoteFile)]
    assert len(remotes) >= 12
    for remote in remotes:
        assert remote.sha256 or remote.md5 or remote.url is None
        assert all(len(h) == 64 for h in remote.sha256)
        assert all(len(h) == 32 for h in remote.md5)
