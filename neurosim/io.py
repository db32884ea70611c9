"""Atomic file writes: a file the project writes is either the old one or the new one, never a torn mix.

Write to a temporary file in the destination's folder, flush and fsync it, then
``os.replace`` it over the destination (atomic on POSIX and Windows). An exception,
a full disk or Ctrl-C during the write leaves the previous file intact.
"""
import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """Context manager yielding a file object whose content replaces ``path`` on success.

    Parameters
    ----------
    path : str or os.PathLike
        Destination. Its folder must exist.
    mode : {"wb", "w"}
        Binary or text.

    Yields
    ------
    file object
        Write to it; on normal exit it is fsynced and moved over ``path``; on any
        exception the temporary file is removed and ``path`` is untouched.

    Raises
    ------
    OSError
        The same subclass the OS raised (PermissionError, FileNotFoundError, ...)
        with ``filename`` set to ``path``: messages name the destination, never the
        temporary file.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode must be 'wb' or 'w', got {mode!r}")
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    except OSError as err:
        raise _naming(err, path) from None
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if err.filename in (None, tmp):  # the write itself failed (full disk, ...): name the destination
            raise _naming(err, path) from None
        raise
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)


def _naming(err, path):
    """The same kind of OSError, naming ``path`` (what the user asked to write)."""
    if err.errno is None:
        return OSError(f"cannot write {path!r}: {err}")
    return type(err)(err.errno, err.strerror, path)


def _fsync_dir(folder):
    """Make the rename itself durable where the OS allows it (POSIX)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
