"""Socket paths: the default name, and reaching a path longer than ``sun_path`` allows.

Kept apart from the server so ``kcoro-stream ctl`` (the client) imports
nothing heavy: no trio, no analyses.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from ..errors import UsageError

SOCKET_NAME = "control.sock"
SUN_PATH_MAX = 107  # sizeof(sun_path) - 1 on Linux


@contextlib.contextmanager
def reachable(path: Path, *, allow_long: bool, flag: str = "--control") -> Iterator[str]:
    """The address to bind/connect ``path`` by: the path itself, or ``/proc/self/fd/N/name``
    when it is too long and ``allow_long``; a UsageError naming ``flag`` otherwise."""
    raw = os.fsencode(path)
    if len(raw) <= SUN_PATH_MAX:
        yield str(path)
        return
    if not allow_long:
        raise UsageError(
            f"{flag}: {path} is {len(raw)} bytes; a Unix socket path may have at most {SUN_PATH_MAX} "
            "(choose a shorter path)"
        )
    fd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        short = f"/proc/self/fd/{fd}/{path.name}"
        if len(os.fsencode(short)) > SUN_PATH_MAX:
            raise UsageError(f"{flag}: the socket name {path.name!r} is too long")
        yield short
    finally:
        os.close(fd)
