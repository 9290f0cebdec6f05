"""The control socket: a Unix-domain stream server speaking newline-delimited JSON-RPC.

::

    socat - UNIX-CONNECT:runs/<id>/control.sock          one task per client
      {"jsonrpc":"2.0","id":1,"method":"status"}\\n  ──►  read a line (≤ max_line bytes)
      {"jsonrpc":"2.0","id":1,"result":{...}}\\n     ◄──  Dispatcher.handle_line

Isolation: each client is its own task, and every way a client can go wrong
ends at most that client — a line over ``max_line`` bytes (answered with a
parse error, then closed), a line not finished within ``line_timeout_s`` of
its first byte or a client silent for ``idle_timeout_s`` (told, then closed:
its slot is free again), a client that stops reading its answers
(``send_timeout_s``, then closed), a disconnect mid-request; garbage lines are
answered with a parse error and the connection stays open (the spec's way).
More than ``max_clients`` at once: the newcomer gets one ``server busy``
error line (its own code, -32002) and is closed; a slot is taken at accept,
so a burst of connections never gets more than ``max_clients`` served.

Permissions: the socket file is created 0600 (under a 0177 umask for the
``bind``, then checked) in a directory chosen by ``socket_path``; it is
removed when the run ends. A path longer than the kernel's ``sun_path``
limit is reached through ``/proc/self/fd/N/`` of its directory when the
caller allows it (the run directory's default socket), else refused in one
line (``--control PATH``).
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import tempfile
from pathlib import Path
from typing import Any

import msgspec
import trio

from ..errors import UsageError
from ._paths import reachable
from ._rpc import Dispatcher

MAX_LINE = 1 << 20  # 1 MiB: a request is a few hundred bytes; anything near this is garbage
MAX_CLIENTS = 128
SEND_TIMEOUT_S = 5.0
LINE_TIMEOUT_S = 10.0  # from a line's first byte to its newline
IDLE_TIMEOUT_S = 300.0  # a connection that sends nothing at all
ACCEPT_RETRY_S = 0.1
DRAIN_S, DRAIN_MAX = 1.0, 16 << 20  # closing after a huge line: discard at most this much, this long


class ControlStatistics(msgspec.Struct, frozen=True, kw_only=True):
    """What the control server did so far (``ControlServer.statistics()``)."""

    path: str
    clients: int
    connected: int
    refused: int
    requests: int
    errors: int
    closed_bad: int  # clients closed for a huge line or not reading their answers
    closed_slow: int  # clients closed for a line not finished in time, or silence
    batches_refused: int  # batches over MAX_BATCH requests
    answers_refused: int  # answers over MAX_ANSWER bytes (replaced by an error)


def private_dir(run_id: str) -> Path:
    """A new 0700 directory under $XDG_RUNTIME_DIR (else the temp directory) for a run without a log."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    if not base or not os.path.isdir(base) or not os.access(base, os.W_OK):
        base = tempfile.gettempdir()
    return Path(tempfile.mkdtemp(prefix=f"kcoro-stream-{run_id}-", dir=base))  # mkdtemp: mode 0700


def refuse_non_socket(path: Path) -> None:
    """A file, a directory or a symlink at ``path`` is never replaced by the socket."""
    if path.is_symlink() or (path.exists() and not stat.S_ISSOCK(path.lstat().st_mode)):
        raise UsageError(f"--control: {path} exists and is not a socket")


def bind_unix(path: Path, *, allow_long: bool) -> socket.socket:
    """A listening socket at ``path``, mode 0600; refuses to replace anything but a stale socket."""
    refuse_non_socket(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        with reachable(path, allow_long=allow_long) as addr:
            if path.exists():
                _unlink_if_stale(addr, path)
            old = os.umask(0o177)
            try:
                sock.bind(addr)
            finally:
                os.umask(old)
            os.chmod(addr, 0o600)
        sock.listen(64)
    except OSError as e:
        sock.close()
        raise UsageError(f"--control: cannot listen on {path}: {e.strerror or e}") from None
    except BaseException:
        sock.close()
        raise
    return sock


def _unlink_if_stale(addr: str, path: Path) -> None:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        probe.connect(addr)
    except OSError:
        os.unlink(addr)  # nobody listens: a crashed run's leftover
        return
    finally:
        probe.close()
    raise UsageError(f"--control: {path} is in use by another run")


class ControlServer:
    """Serve ``dispatcher`` on a Unix socket until cancelled; the socket is removed at the end."""

    def __init__(
        self,
        path: Path,
        dispatcher: Dispatcher,
        *,
        allow_long: bool = False,
        remove_dir: bool = False,
        max_line: int = MAX_LINE,
        max_clients: int = MAX_CLIENTS,
        send_timeout_s: float = SEND_TIMEOUT_S,
        line_timeout_s: float = LINE_TIMEOUT_S,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
    ) -> None:
        self.path = path
        self.dispatcher = dispatcher
        self.allow_long = allow_long
        self.remove_dir = remove_dir  # a private directory made for this run
        self.max_line = max_line
        self.max_clients = max_clients
        self.send_timeout_s = send_timeout_s
        self.line_timeout_s = line_timeout_s
        self.idle_timeout_s = idle_timeout_s
        self._sock: socket.socket | None = None
        self.companions: list[Path] = []  # files removed with the socket (the page's token)
        self._clients = self._connected = self._refused = self._closed_bad = self._closed_slow = 0

    def open(self) -> None:
        """Bind now (before the run starts, so a bad path fails first)."""
        self._sock = bind_unix(self.path, allow_long=self.allow_long)

    def statistics(self) -> ControlStatistics:
        return ControlStatistics(
            path=str(self.path),
            clients=self._clients,
            connected=self._connected,
            refused=self._refused,
            requests=self.dispatcher.requests,
            errors=self.dispatcher.errors,
            closed_bad=self._closed_bad,
            closed_slow=self._closed_slow,
            batches_refused=self.dispatcher.batches_refused,
            answers_refused=self.dispatcher.answers_refused,
        )

    async def serve(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        if self._sock is None:
            self.open()
        assert self._sock is not None
        listener = trio.SocketListener(trio.socket.from_stdlib_socket(self._sock))
        try:
            async with trio.open_nursery() as nursery:
                task_status.started()
                while True:
                    try:
                        stream = await listener.accept()
                    except OSError:  # out of descriptors or memory: the run goes on, retry soon
                        self._refused += 1
                        await trio.sleep(ACCEPT_RETRY_S)
                        continue
                    if self._clients >= self.max_clients:
                        self._refused += 1
                        nursery.start_soon(self._refuse, stream)
                        continue
                    self._clients += 1  # the slot is taken now, not when the task first runs
                    self._connected += 1
                    nursery.start_soon(self._client, stream)
        finally:
            with trio.CancelScope(shield=True):
                await listener.aclose()
            self.remove()

    def remove(self) -> None:
        """Unlink the socket, its companion files (and the private directory made for it)."""
        with contextlib.suppress(OSError), reachable(self.path, allow_long=True) as addr:
            os.unlink(addr)
        for extra in self.companions:
            with contextlib.suppress(OSError), reachable(extra, allow_long=True) as addr:
                os.unlink(addr)
        if self.remove_dir:
            with contextlib.suppress(OSError):
                self.path.parent.rmdir()

    async def _refuse(self, stream: trio.SocketStream) -> None:
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            line = self.dispatcher.busy(f"server busy: {self.max_clients} clients connected, try again")
            await self._close_with(stream, line)
        with trio.CancelScope(shield=True):
            await stream.aclose()

    async def _client(self, stream: trio.SocketStream) -> None:
        buf = bytearray()
        line_started = 0.0  # when the unfinished line in buf began
        try:
            while True:
                nl = buf.find(b"\n")
                if nl < 0:
                    if len(buf) > self.max_line:
                        self._closed_bad += 1
                        await self._close_with(
                            stream, self.dispatcher.parse_error(f"line longer than {self.max_line} bytes")
                        )
                        return
                    if buf.strip():
                        line_started = line_started or trio.current_time()
                        wait, why = line_started + self.line_timeout_s - trio.current_time(), "line"
                    else:
                        line_started, wait, why = 0.0, self.idle_timeout_s, "idle"
                    data = None
                    with trio.move_on_after(max(0.0, wait)):
                        data = await stream.receive_some(65536)
                    if data is None:
                        self._closed_slow += 1
                        message = (
                            f"line not finished within {self.line_timeout_s:g} s"
                            if why == "line"
                            else f"nothing received for {self.idle_timeout_s:g} s"
                        )
                        await self._close_with(stream, self.dispatcher.parse_error(message))
                        return
                    if not data:
                        return  # disconnected (a half-written request is simply dropped)
                    buf += data
                    continue
                line = bytes(buf[:nl]).strip()
                del buf[: nl + 1]
                line_started = trio.current_time() if buf.strip() else 0.0
                if not line:
                    continue
                if len(line) > self.max_line:
                    self._closed_bad += 1
                    await self._close_with(
                        stream, self.dispatcher.parse_error(f"line longer than {self.max_line} bytes")
                    )
                    return
                answer = await self.dispatcher.handle_line(line)
                if answer is not None and not await self._send(stream, answer):
                    self._closed_bad += 1
                    return
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            return  # this client's connection broke: only its task ends
        except Exception:  # a bug while serving one client must not end the run: close that client
            self._closed_bad += 1
            return
        finally:
            self._clients -= 1
            with trio.CancelScope(shield=True):
                await stream.aclose()

    async def _close_with(self, stream: trio.SocketStream, line: bytes) -> None:
        """Send a last line, then close politely: stop sending and discard what the client
        still sends for a moment, so the kernel does not reset the connection over unread
        bytes before the client has read the answer (``ctl`` sends its request first)."""
        if not await self._send(stream, line):
            return
        await stream.send_eof()
        with trio.move_on_after(DRAIN_S):
            discarded = 0
            while discarded < DRAIN_MAX:
                data = await stream.receive_some(65536)
                if not data:
                    break
                discarded += len(data)

    async def _send(self, stream: trio.SocketStream, line: bytes) -> bool:
        """Send one line; False when the client did not take it within ``send_timeout_s``."""
        with trio.move_on_after(self.send_timeout_s):
            await stream.send_all(line + b"\n")
            return True
        return False
