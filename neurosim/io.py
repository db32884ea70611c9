"""Atomic file writes: a file the project writes is either the old one or the new one, never a torn mix.

Write to a temporary file in the destination's folder, flush and fsync it, then
``os.replace`` it over the destination (atomic on POSIX and Windows). An exception,
a full disk or Ctrl-C during the write leaves the previous file intact.

The result looks as if the file had been written in place: a new file gets the
mode ``open()`` would give it (0o666 minus the umask), an existing file keeps its
mode, and a symlink keeps pointing where it did (its target is replaced).
"""
import contextlib
import os
import secrets


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """Context manager yielding a file object whose content replaces ``path`` on success.

    Parameters
    ----------
    path : str or os.PathLike
        Destination. Its folder must exist. A symlink (also a chain, or one whose
        target does not exist yet) is followed: the target is written and the
        link is kept.
    mode : {"wb", "w"}
        Binary or text.

    Yields
    ------
    file object
        Write to it; on normal exit it is fsynced and moved over ``path``; on any
        exception the temporary file is removed and ``path`` is untouched. The
        new file has the mode of the file it replaces, or 0o666 minus the umask.

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
    target = os.path.realpath(path) if os.path.islink(path) else os.path.abspath(path)
    folder = os.path.dirname(target)
    try:
        fd, tmp = _create_temp(target)
    except OSError as err:
        raise _naming(err, path) from None
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
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


def _create_temp(target):
    """(fd, name) of a new empty file beside ``target`` with the mode ``target`` will have.

    Created with ``os.open(..., 0o666)`` so the kernel applies the umask (no
    process-wide ``os.umask`` round trip, which would race with other threads);
    then, if ``target`` exists, given its permission bits (``mkstemp`` would make
    every file 0o600).
    """
    folder, base = os.path.split(target)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = os.path.join(folder, f".{base}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, flags, 0o666)
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(f"no free temporary name beside {target!r}")
    try:
        # Permission bits only: a write in place would clear setuid/setgid too.
        mode = os.stat(target).st_mode & 0o777
    except OSError:  # no file yet (or unreadable metadata): the umask default stands
        return fd, tmp
    # A file owned by someone else cannot be chmod-ed: the umask default then stands.
    with contextlib.suppress(OSError):
        os.chmod(fd if os.chmod in os.supports_fd else tmp, mode)
    return fd, tmp


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
