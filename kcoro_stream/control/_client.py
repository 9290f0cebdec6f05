"""``kcoro-stream ctl``: one JSON-RPC call to a live run's control socket.

::

    ctl RUN_DIR|SOCKET METHOD [VALUE | key=value ...]
        └─ RUN_DIR/control.sock ─► {"jsonrpc":"2.0","id":1,"method":M,"params":P}\\n ─► result JSON on stdout

``key=value`` values are JSON when they parse as JSON (``batch=1`` is a
number, ``rule='{"metric": ...}'`` an object), else strings; a lone VALUE is
the method's first parameter (``ctl RUN set_interval 20ms``, ``ctl RUN mark
phase-2``). ``--wait 10s`` first waits for a run started in the background
to listen and its producer to start. Exit codes: 0 a result, 1 an error
answer or no live run at that path, 2 usage.
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ControlError, UsageError
from ._paths import SOCKET_NAME, reachable

CALL_TIMEOUT_S = 30.0
_NAMED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
WAIT_POLL_S = 0.05


def socket_for(target: Path) -> Path:
    """RUN_DIR → RUN_DIR/control.sock; a socket path as is."""
    if target.is_dir():
        return target / SOCKET_NAME
    return target


def build_params(args: Sequence[str]) -> list[Any] | dict[str, Any]:
    """``VALUE ...`` (positional) or ``key=value ...`` (named), not both; UsageError otherwise."""
    named = [a for a in args if _NAMED.match(a)]  # 'x: m < 1 severity=info' is one VALUE
    if named and len(named) != len(args):
        raise UsageError("ctl: give either one VALUE or key=value pairs, not both")
    if not named:
        return list(args)
    out: dict[str, Any] = {}
    for a in named:
        key, value = a.split("=", 1)
        if key in out:
            raise UsageError(f"ctl: parameter {key!r} given twice")
        out[key] = _value(value)
    return out


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def call(
    target: Path, method: str, params: list[Any] | dict[str, Any], *, timeout_s: float = CALL_TIMEOUT_S
) -> Any:
    """One request; the result, or ControlError with the server's message (or why no one answered)."""
    path = socket_for(target)
    request = {"jsonrpc": "2.0", "id": 1, "method": method}
    if params:
        request["params"] = params
    line = json.dumps(request).encode() + b"\n"
    try:
        with reachable(path, allow_long=True) as addr, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout_s)
            s.connect(addr)
            try:
                s.sendall(line)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered before reading it all ("server busy"): read why
            answer = _read_line(s)
    except FileNotFoundError:
        raise ControlError(
            f"ctl: {path}: no control socket (the run ended, or ran with --no-control)"
        ) from None
    except ConnectionRefusedError:
        raise ControlError(f"ctl: {path}: nobody listens (the run ended)") from None
    except TimeoutError:
        raise ControlError(f"ctl: {path}: no answer within {timeout_s:g} s") from None
    except OSError as e:
        raise ControlError(f"ctl: {path}: {e.strerror or e}") from None
    try:
        reply = json.loads(answer)
    except ValueError:
        raise ControlError(f"ctl: {path}: the answer is not JSON: {answer[:80]!r}") from None
    if not isinstance(reply, dict):
        raise ControlError(f"ctl: {path}: unexpected answer {answer[:80]!r}")
    if "error" in reply:
        err = reply["error"]
        message = str(err.get("message"))
        where = "ctl" if message.startswith(f"{method}:") else f"ctl {method}"  # no "set_knob: set_knob:"
        raise ControlError(f"{where}: {message} ({err.get('code')})")
    return reply.get("result")


def wait_ready(target: Path, wait_s: float) -> None:
    """Wait up to ``wait_s`` for a run to listen at ``target`` and its producer to have started
    (for scripts that start a run in the background, then steer it)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            if call(target, "status", [], timeout_s=max(0.5, deadline - time.monotonic())).get("run_id"):
                return
        except ControlError as e:
            if time.monotonic() >= deadline:
                raise ControlError(f"{e} (waited {wait_s:g} s)") from None
        if time.monotonic() >= deadline:
            raise ControlError(
                f"ctl: {socket_for(target)}: the run's producer did not start within {wait_s:g} s"
            )
        time.sleep(WAIT_POLL_S)


def _read_line(s: socket.socket) -> bytes:
    buf = bytearray()
    while b"\n" not in buf:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            raise ControlError("ctl: the run closed the connection without answering")
        buf += chunk
    return bytes(buf[: buf.index(b"\n")])
