"""Data sets of the paper and label noise.

Loaders return a :class:`sklearn.utils.Bunch` with ``X_train``, ``y_train``,
``X_test``, ``y_test``, ``target_names`` and ``DESCR`` (and images where there
are images), preprocessed as in the paper. Data files are read from the folder
given by ``data_home`` or the ``SKLEARN_CINCER_DATA`` environment variable and
downloaded (checksum checked) only when ``download_if_missing=True``.
"""

from ._base import DATA_ENV, ChecksumError, fetch_file, get_data_home
from ._loaders import (
    LOADERS,
    embed_20newsgroups,
    load_20newsgroups,
    load_adult,
    load_breast_cancer,
    load_dataset,
    load_digits,
    load_fashion_mnist,
    load_mnist,
    load_wine,
)
from ._noise import NOISE_KINDS, make_label_noise

__all__ = [
    "DATA_ENV",
    "LOADERS",
    "NOISE_KINDS",
    "ChecksumError",
    "embed_20newsgroups",
    "fetch_file",
    "get_data_home",
    "load_20newsgroups",
    "load_adult",
    "load_breast_cancer",
    "load_dataset",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "load_wine",
    "make_label_noise",
]
