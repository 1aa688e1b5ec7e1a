"""The files of ``sklearn-cincer clean``: never an input overwritten, all or nothing.

Every output is written to a temporary file in its own folder and renamed
over its path (``os.replace``) only once every output of the run is written,
so a failure leaves the earlier files as they were and no temporary file
behind. Renaming replaces whatever is at the path: a symbolic link planted
there is replaced by the file, and the file it pointed to is left alone.
"""

import os
import tempfile
from pathlib import Path


class CommandError(Exception):
    """A mistake in the command's input: one line for the person, exit 1."""


def _same_file(a, b):
    """Whether paths ``a`` and ``b`` name one file (symbolic or hard links)."""
    try:
        if a.resolve() == b.resolve():
            return True
    except (OSError, RuntimeError):  # a link loop: compare by identity below
        pass
    try:
        return os.path.samefile(a, b)
    except OSError:  # one does not exist: not the same file
        return False


def check_paths(inputs, outputs):
    """Refuse an output that is an input, another output or a folder.

    Parameters
    ----------
    inputs : list of (str, Path)
        What the run reads, named for the message (``"DATA"``...).
    outputs : list of (str, Path)
        What it writes; the store, read and written, belongs to both.

    Raises
    ------
    CommandError
        An output that is an input (by resolved path or by file identity,
        so links do not get around it), two outputs at one path, or an
        output that is a folder, a device or a pipe. Nothing is written.
    """
    for k, (name, path) in enumerate(outputs):
        for j, (other_name, other) in enumerate(inputs + outputs[:k]):
            if other is not path and _same_file(path, other):
                why = " (an input is never overwritten)" if j < len(inputs) else ""
                raise CommandError(
                    f"{name} {path} is the same file as {other_name} {other}; "
                    f"name another file{why}."
                )
    for name, path in outputs:
        if path.is_dir():
            raise CommandError(f"{name} {path} is a folder; name a file in it.")
        if path.exists() and not path.is_file():
            # a device, a pipe (/dev/stdout...): renaming a file over it
            # would replace the system's entry, not write to it
            raise CommandError(f"{name} {path} is not a regular file; name a file.")


def check_folder(name, path):
    """Create the folder of ``path`` if needed and check a file can be made there.

    Raises
    ------
    CommandError
        When a folder above ``path`` is a file, or no file can be created in
        its folder (read-only, no permission).
    """
    folder = path.parent
    for above in [folder, *folder.parents]:
        if above.exists() and not above.is_dir():
            raise CommandError(
                f"cannot write {name} {path}: {above} is a file, not a folder."
            )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(
            dir=folder, prefix=f".{path.name}.", suffix=".tmp"
        )
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise CommandError(
            f"cannot write {name} {path}: {reason} (in the folder {folder})."
        ) from None


class OutputFiles:
    """Outputs written to temporary files, renamed into place together.

    Examples
    --------
    >>> import os, tempfile
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> outputs = OutputFiles()
    >>> outputs.temporary(folder / "a.csv").write_text("x\\n")
    2
    >>> len(os.listdir(folder))  # the temporary file, not a.csv yet
    1
    >>> outputs.commit()
    >>> os.listdir(folder)
    ['a.csv']
    """

    def __init__(self):
        self._pending = []

    def temporary(self, path):
        """A new empty file in the folder of ``path``, with its suffix.

        It has the permissions a new file at ``path`` would get (those of
        the file there, if any).
        """
        path = Path(path)
        handle, name = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{path.suffix}"
        )
        os.close(handle)
        self._pending.append((Path(name), path))
        os.chmod(name, _mode_for(path))
        return Path(name)

    def commit(self):
        """Rename every temporary file over its path."""
        for temporary, path in self._pending:
            os.replace(temporary, path)
        self._pending = []

    def discard(self):
        """Delete the temporary files; the paths keep what they held."""
        for temporary, _ in self._pending:
            try:
                temporary.unlink()
            except FileNotFoundError:
                pass
        self._pending = []


def _mode_for(path):
    try:
        if not path.is_symlink():
            return path.stat().st_mode & 0o777
    except OSError:
        pass
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
