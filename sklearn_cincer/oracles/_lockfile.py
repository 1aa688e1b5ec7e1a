"""One writing process per store: an OS lock on the store's file itself.

The lock is the operating system's, taken on the database file (``flock``
on POSIX, which does not meet SQLite's own ``fcntl`` locks; on Windows
``msvcrt.locking`` of a byte of SQLite's lock page, which holds no data),
so that:

- the kernel drops it when the process dies, even by SIGKILL: a crash never
  leaves a stale lock that blocks resuming;
- every name of the file (a symbolic or hard link, another path to the same
  folder) meets the same lock, since it belongs to the file, not to a name;
- no file but the store is ever opened for it: nothing planted beside the
  store (a link at a lock path) can be written through.

Within one process the lock is shared (counted), so copies of a session, as
scikit-learn's ``clone`` makes, work on one store.
"""

import os
import threading

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt

_HELD = {}  # (st_dev, st_ino) of a store file -> [file descriptor, count]
_HELD_LOCK = threading.Lock()
# On Windows the lock is mandatory: a byte of the page SQLite keeps free
# for its own locks (it starts at 1 GiB; its first 512 bytes are SQLite's).
_WINDOWS_BYTE = 0x40000000 + 0x300


class InUseError(RuntimeError):
    """Another process holds the lock."""


def _try_lock(fd):
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    else:
        os.lseek(fd, _WINDOWS_BYTE, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)


def acquire(path):
    """Hold the store file at ``path`` for this process; returns its identity.

    Raises
    ------
    InUseError
        When another process holds it.
    OSError
        When the file cannot be opened.
    """
    flags = os.O_RDONLY if fcntl is not None else os.O_RDWR | os.O_BINARY
    fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    stat = os.fstat(fd)
    key = (stat.st_dev, stat.st_ino)
    with _HELD_LOCK:
        held = _HELD.get(key)
        if held is not None:
            os.close(fd)
        else:
            try:
                _try_lock(fd)
            except OSError:
                os.close(fd)
                raise InUseError(path) from None
            held = _HELD[key] = [fd, 0]
        held[1] += 1
    return key


def release(key):
    """Give back one hold taken by :func:`acquire`."""
    with _HELD_LOCK:
        held = _HELD.get(key)
        if held is None:
            return
        held[1] -= 1
        if held[1] <= 0:
            del _HELD[key]
            os.close(held[0])  # closing the descriptor drops the OS lock
