"""One writing process per store: an OS lock on a file beside it.

The lock is the operating system's (``flock`` on POSIX, ``msvcrt.locking``
on Windows), so the kernel drops it when the process dies, even by SIGKILL:
a crash never leaves a stale lock that blocks resuming. The file keeps the
holder's pid, host and start time for the "in use" message. Within one
process the lock is shared (counted), so copies of a session, as
scikit-learn's ``clone`` makes, work on one store.
"""

import datetime
import os
import socket
import threading

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt

_HELD = {}  # real path of the lock file -> [file descriptor, count]
_HELD_LOCK = threading.Lock()
_WINDOWS_BYTE = 4096  # the byte locked on Windows; the holder's note lies before


class InUseError(RuntimeError):
    """Another process holds the lock; the message says which."""


def _try_lock(fd):
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    else:
        os.lseek(fd, _WINDOWS_BYTE, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)


def _holder(fd):
    os.lseek(fd, 0, os.SEEK_SET)
    note = os.read(fd, 512).decode("utf-8", "replace").strip("\0\n ")
    return note or "another process"


def acquire(path):
    """Hold the lock of ``path`` (a store file) for this process.

    Raises
    ------
    InUseError
        When another process holds it.
    OSError
        When the lock file cannot be made (e.g. a read-only folder).
    """
    lock_path = os.path.realpath(path) + ".lock"
    with _HELD_LOCK:
        held = _HELD.get(lock_path)
        if held is None:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                _try_lock(fd)
            except OSError:
                holder = _holder(fd)
                os.close(fd)
                raise InUseError(holder) from None
            started = datetime.datetime.now().isoformat(timespec="seconds")
            note = f"process {os.getpid()} on {socket.gethostname()} since {started}"
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, note.encode().ljust(512 if fcntl is None else 0))
            if fcntl is not None:
                os.ftruncate(fd, len(note.encode()))
            held = _HELD[lock_path] = [fd, 0]
        held[1] += 1
    return lock_path


def release(lock_path):
    """Give back one hold taken by :func:`acquire`."""
    with _HELD_LOCK:
        held = _HELD.get(lock_path)
        if held is None:
            return
        held[1] -= 1
        if held[1] <= 0:
            del _HELD[lock_path]
            os.close(held[0])  # closing the descriptor drops the OS lock
