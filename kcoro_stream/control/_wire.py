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
    # the WebSocket only the page's own controls, nothing that ends or reshapes the run.
    page = Dispatcher({name: steering.methods[name] for name in PAGE_METHODS})
    sinks.control = page.handle_line
    return server
