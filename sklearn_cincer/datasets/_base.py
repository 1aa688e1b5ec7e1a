"""Where the data sets live, and how a missing file is fetched and checked.

Every file a loader needs is described by a :class:`RemoteFile`: its path
inside the data folder (``adult/adult.data``), the canonical address it is
downloaded from and the checksums it may have. A loader first looks for the
file in the data folder; only when it is absent and downloading is allowed is
it fetched, written to a temporary name, checked and then moved in place, so
a half-downloaded or corrupted file is never left behind.
"""

import hashlib
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

#: Environment variable naming the data folder.
DATA_ENV = "SKLEARN_CINCER_DATA"

_CHUNK = 1 << 20


class ChecksumError(OSError):
    """A downloaded file does not have the expected checksum.

    The loaders raise it instead of keeping a corrupt or tampered file.

    Examples
    --------
    >>> from sklearn_cincer.datasets import ChecksumError
    >>> issubclass(ChecksumError, OSError)
    True
    """


@dataclass(frozen=True)
class RemoteFile:
    """A data file: where it goes, where it comes from, what it must hash to.

    Parameters
    ----------
    path : str
        Path inside the data folder, with ``/`` separators.
    url : str or None
        Canonical address to download it from; None when the file cannot be
        downloaded (it is computed locally).
    sha256 : tuple of str
        Accepted SHA-256 hex digests (more than one when equivalent packings
        of the same content are known).
    md5 : tuple of str
        Accepted MD5 hex digests, used when no SHA-256 is known.
    """

    path: str
    url: str | None
    sha256: tuple = ()
    md5: tuple = ()


def get_data_home(data_home=None):
    """The folder the data sets are read from (and downloaded to).

    In order: the ``data_home`` argument, the ``SKLEARN_CINCER_DATA``
    environment variable, then ``~/sklearn_cincer_data``. The folder is not
    created here; a download creates it.

    Parameters
    ----------
    data_home : str or path-like, default=None
        An explicit folder.

    Returns
    -------
    data_home : pathlib.Path

    Examples
    --------
    >>> from sklearn_cincer.datasets import get_data_home
    >>> str(get_data_home("/tmp/my_data"))
    '/tmp/my_data'
    """
    if data_home is None:
        data_home = os.environ.get(DATA_ENV) or Path("~") / "sklearn_cincer_data"
    return Path(data_home).expanduser()


def file_checksums(path):
    """SHA-256 and MD5 hex digests of a file, read in chunks."""
    sha256, md5 = hashlib.sha256(), hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            sha256.update(chunk)
            md5.update(chunk)
    return sha256.hexdigest(), md5.hexdigest()


def _check(remote, path, source):
    sha256, md5 = file_checksums(path)
    if remote.sha256:
        ok, expected, got, kind = (
            sha256 in remote.sha256,
            remote.sha256,
            sha256,
            "SHA-256",
        )
    elif remote.md5:
        ok, expected, got, kind = md5 in remote.md5, remote.md5, md5, "MD5"
    else:  # pragma: no cover - every registered file has a checksum
        return
    if not ok:
        raise ChecksumError(
            f"The file downloaded from {source} for {remote.path} has {kind} "
            f"{got}, expected {' or '.join(expected)}. It was not kept: the "
            "server sent a different or corrupted file."
        )


def fetch_file(
    remote, data_home=None, *, download_if_missing=False, mirror=None, timeout=60
):
    """The local path of a data file, downloading it when allowed.

    Parameters
    ----------
    remote : RemoteFile
        The file.
    data_home : str or path-like, default=None
        See :func:`get_data_home`.
    download_if_missing : bool, default=False
        Download the file when it is not in the data folder. Otherwise a
        missing file raises ``FileNotFoundError``.
    mirror : str, default=None
        A base address to download from instead of the canonical one: the
        file is fetched from ``mirror + "/" + remote.path`` (the layout of the
        data folder). Its checksum is checked all the same.
    timeout : float, default=60
        Seconds to wait for the server.

    Returns
    -------
    path : pathlib.Path

    Raises
    ------
    FileNotFoundError
        When the file is absent and may not (or cannot) be downloaded.
    ChecksumError
        When the downloaded file has the wrong checksum; nothing is kept.

    Examples
    --------
    >>> from sklearn_cincer.datasets._base import RemoteFile, fetch_file
    >>> fetch_file(RemoteFile("nowhere/x.csv", None), "/nonexistent")
    Traceback (most recent call last):
    ...
    FileNotFoundError: ...
    """
    home = get_data_home(data_home)
    path = home / remote.path
    if path.is_file():
        return path
    if mirror is not None:
        url = mirror.rstrip("/") + "/" + remote.path
    else:
        url = remote.url
    if not download_if_missing or url is None:
        how = (
            "it cannot be downloaded"
            if url is None
            else f"pass download_if_missing=True to download it from {url}"
        )
        raise FileNotFoundError(
            f"{remote.path} is not in the data folder {home} (set by the "
            f"data_home argument or the {DATA_ENV} environment variable); {how}."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".part")
    try:
        with (
            os.fdopen(fd, "wb") as out,
            urllib.request.urlopen(url, timeout=timeout) as r,
        ):
            shutil.copyfileobj(r, out, _CHUNK)
        _check(remote, tmp, url)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
