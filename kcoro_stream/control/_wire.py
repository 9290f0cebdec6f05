"""Put a live run's control server together (called by ``runloop.run``).

::

    runloop.run ──► check_control_path(opts.control)        before anything is created
               └──► open_control(nursery, ...) ─► Steering (methods) ─► Dispatcher ─► ControlServer
                                                   ▲ observes the router's decoded batches
                    sinks.control = the page's subset (PAGE_METHODS) over its WebSocket

Where the socket goes: ``--control PATH``; else ``control.sock`` in the run
directory; else (``--no-log``) a private 0700 directory under
``$XDG_RUNTIME_DIR`` (or the temp directory) named after the run id
(``kcoro-stream-<run id>-*``), its path printed on stderr when that is a
terminal.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import secrets
import stat
import sys
from pathlib import Path
from typing import Any

import trio

from ..errors import UsageError
from ..sinks import SinkContext
from ._paths import SOCKET_NAME, reachable
from ._rpc import Dispatcher
from ._server import ControlServer, private_dir, refuse_non_socket
from ._steer import Steering

PAGE_METHODS = ("status", "methods", "pause", "resume", "set_interval")
PAGE_GUARDED = frozenset({"pause", "resume", "set_interval"})  # these need the run's token
TOKEN_SUFFIX = ".token"


def check_control_path(path: Path | None) -> None:
    """Refuse a ``--control`` path that cannot work, before the run creates anything."""
    if path is None:
        return
    with reachable(path, allow_long=False):
        pass
    if not path.parent.is_dir():
        raise UsageError(f"--control: directory {path.parent} does not exist")
    refuse_non_socket(path)


async def open_control(
    nursery: trio.Nursery,
    *,
    source: Any,
    router: Any,
    account: Any,
    run_id: str,
    path: Path | None,
    run_dir: Path | None,
    sinks: SinkContext,
) -> ControlServer:
    """Bind the socket, start serving in ``nursery``; the caller cancels it when the run ends."""
    remove_dir = False
    allow_long = False
    if path is None and run_dir is not None:
        path, allow_long = run_dir / SOCKET_NAME, True
    elif path is None:
        path, remove_dir, allow_long = private_dir(run_id) / SOCKET_NAME, True, True
    holder: list[ControlServer] = []
    steering = Steering(
        source,
        router.emit,
        router.drain,
        lambda: account.status("running"),
        run_id,
        server_statistics=lambda: holder[0].statistics(),
    )
    router.subject.subscribe(on_next=steering.observe)
    dispatcher = Dispatcher(steering.methods)
    server = ControlServer(path, dispatcher, allow_long=allow_long, remove_dir=remove_dir)
    holder.append(server)
    try:
        server.open()
    except BaseException:
        if remove_dir:
            path.parent.rmdir()
        raise
    if remove_dir and sys.stderr.isatty():  # piped stderr stays the run's one-line error channel
        print(f"kcoro-stream: control socket: {path}", file=sys.stderr, flush=True)
    await nursery.start(server.serve)
    # The page's WebSocket is a TCP port any local user can reach (behind Host/Origin checks
    # that stop web pages, not local programs), while the socket is its owner's alone: over
    # the WebSocket only the page's own controls, nothing that ends or reshapes the run, and
    # those that steer it only with the run's token, in a file beside the socket that only
    # its owner can read (the page takes it from its URL: http://HOST:PORT/#token=...).
    token_path = path.with_name(path.name + TOKEN_SUFFIX)
    token = write_token(token_path)
    server.companions.append(token_path)
    page = Dispatcher(
        {name: steering.methods[name] for name in PAGE_METHODS},
        guarded=PAGE_GUARDED,
        guard_hint=f" (open the page as http://HOST:PORT/#token=TOKEN, TOKEN from {token_path})",
    )

    async def page_control(line: bytes, presented: str) -> bytes | None:
        ok = hmac.compare_digest(presented.encode("utf-8", "replace"), token.encode())
        return await page.handle_line(line, authorized=ok)

    sinks.control = page_control
    return server


def write_token(path: Path) -> str:
    """A new random token in a new file at ``path``, mode 0600 (never through a symlink,
    never over an existing file: a leftover of a crashed run is replaced only if it is a
    regular file of ours)."""
    token = secrets.token_urlsafe(24)
    with contextlib.suppress(FileNotFoundError):
        st = path.lstat()
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid():
            raise UsageError(f"--control: {path} exists and is not a token file of ours")
        path.unlink()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as e:
        raise UsageError(f"--control: cannot create {path}: {e.strerror or e}") from None
    try:
        os.write(fd, token.encode() + b"\n")
    finally:
        os.close(fd)
    return token
