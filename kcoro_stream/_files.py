"""Files a reader sees whole or not at all (shared by every layer).

``create_new`` opens a file that is new and ours (never through a symlink);
``publish`` writes bytes beside the target and moves them into place, so a
reader (``jq``, DuckDB, a second monitor) sees the old file or the new one,
never half of one. Callers turn the ``OSError`` into their own one-line error
naming the path.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from .errors import UsageError

__all__ = ["FILE_MODE", "create_new", "publish", "read_text", "write_all"]

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
    OSError propagates.
    """
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


def read_text(path: Path, label: str, what: str) -> str:
    """``path``'s UTF-8 text, or a one-line UsageError naming ``label`` (and the line of a bad byte).

    ``what``: the kind of file, for "no such {what}" ("configuration file", "manifest")."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{label}: no such {what}") from None
    except OSError as e:
        raise UsageError(f"{label}: cannot read: {e.strerror or e}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise UsageError(f"{label}:{line}: not UTF-8 text") from None
