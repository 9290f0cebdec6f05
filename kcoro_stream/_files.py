"""Files a reader sees whole or not at all (shared by every layer).

``create_new`` opens a file that is new and ours (never through a symlink);
``publish`` writes bytes beside the target and moves them into place, so a
reader (``jq``, DuckDB, a second monitor) sees the old file or the new one,
never half of one. Callers turn the ``OSError`` into their own one-line error
naming the path.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from pathlib import Path
from typing import BinaryIO, Final

from .errors import UsageError

__all__ = [
    "FILE_MODE",
    "MAX_JSON_BYTES",
    "LockHeld",
    "create_new",
    "lock_exclusive",
    "lock_holder",
    "publish",
    "read_head",
    "read_regular",
    "read_text",
    "write_all",
]

MAX_JSON_BYTES: Final = 64 << 20  # index.json, a baseline, summary.json: ours are KiB to a few MiB
FILE_MODE: Final = 0o640  # segments, indexes, summaries, the lock file (umask can only narrow it)


def create_new(path: Path, mode: int = FILE_MODE) -> int:
    """Create ``path`` for writing: never through a symlink, never an existing file.

    A leftover of our own (a ``.tmp`` from a crashed writer, or anything
    planted under that name) is unlinked first; unlinking a symlink removes
    the link, never its target. O_EXCL|O_NOFOLLOW then guarantees the file
    is new and ours.
    """
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def publish(path: Path, data: bytes, *, replace: bool = True, fsync: bool = True, mode: int = 0o666) -> None:
    """Write ``data`` to ``path`` atomically (a temporary file beside it, then a rename).

    ``mode`` is narrowed by the umask as for any new file (an export is the
    user's file); files inside a run directory pass FILE_MODE.

    ``replace=False`` never replaces an existing ``path``, even one that appears
    while we write (the file is linked into place, which fails with
    FileExistsError, instead of renamed). ``fsync``: the data is on disk before
    the name points at it. On any error the temporary file is gone and the
    OSError propagates. A FIFO, device or socket at ``path`` is never replaced
    by a file (OSError EINVAL, before anything is written).
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        pass
    else:
        if (
            stat.S_ISFIFO(st.st_mode)
            or stat.S_ISCHR(st.st_mode)
            or stat.S_ISBLK(st.st_mode)
            or stat.S_ISSOCK(st.st_mode)
        ):
            raise OSError(errno.EINVAL, "a FIFO, device or socket, not replaced by a file", str(path))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = create_new(tmp, mode)
        try:
            write_all(fd, data)
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
            os.unlink(tmp)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def read_regular(path: Path, limit: int | None = None) -> bytes:
    """The bytes of a regular file, never waiting: a FIFO, socket or device is OSError EINVAL.

    The file is opened non-blocking (opening a FIFO must not wait for a
    writer) and checked with fstat before a byte is read. With ``limit``, a
    longer file is OSError EFBIG (read no further than ``limit + 1`` bytes).
    """
    with _open_regular(path) as f:
        data = f.read() if limit is None else f.read(limit + 1)
    if limit is not None and len(data) > limit:
        raise OSError(errno.EFBIG, f"larger than {limit} bytes", str(path))
    return data


def read_head(path: Path, n: int) -> bytes:
    """The first ``n`` bytes of a regular file (a magic number), never waiting on a FIFO or device."""
    with _open_regular(path) as f:
        return f.read(n)


def _open_regular(path: Path) -> BinaryIO:
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_text(path: Path, label: str, what: str) -> str:
    """``path``'s UTF-8 text, or a one-line UsageError naming ``label`` (and the line of a bad byte).

    ``what``: the kind of file, for "no such {what}" ("configuration file", "manifest")."""
    try:
        data = read_regular(path)
    except FileNotFoundError:
        raise UsageError(f"{label}: no such {what}") from None
    except OSError as e:
        raise UsageError(f"{label}: cannot read: {e.strerror or e}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise UsageError(f"{label}:{line}: not UTF-8 text") from None


class LockHeld(Exception):
    """``lock_exclusive``: another process holds the lock; ``holder`` is the pid it wrote ("?" if none)."""

    def __init__(self, holder: str) -> None:
        super().__init__(holder)
        self.holder = holder


def lock_exclusive(path: Path) -> int:
    """Take ``path``'s flock (exclusive, non-blocking) and write our pid into it; the descriptor holds it.

    Closing the descriptor releases the lock, and so does the process ending
    (kill -9 included). The file is opened without following a symlink and
    without waiting on a FIFO, and must be a regular file (OSError EINVAL if
    not). Raises LockHeld with the holder's pid when another process holds it.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, FILE_MODE)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockHeld(os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except BaseException:
        os.close(fd)
        raise
    return fd


def lock_holder(path: Path) -> str | None:
    """The pid (as written, "?" if none) of the process holding ``path``'s flock; None when nobody does.

    Never waits: a FIFO or device under that name is opened non-blocking and
    counts as not held (it is no lock of ours); so does a missing file or a
    symlink (never followed).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
        return None
    finally:
        os.close(fd)
