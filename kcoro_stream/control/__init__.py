"""Live control of a run: JSON-RPC 2.0 on a private Unix socket (and the browser page).

A command layer like ``config/`` and ``manifest/``: ``runloop.run`` starts
the server for every live run (``open_control``); ``kcoro-stream ctl`` is the
client (``call``). Methods, errors and the recording rules: docs/control.md.

The client's names are imported at once; the server's (trio, the analyses)
on first use, so ``ctl`` starts fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._client import build_params, call, socket_for, wait_ready
from ._paths import SOCKET_NAME, SUN_PATH_MAX, reachable
from ._rpc import (
    BUSY,
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    MAX_BATCH,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    TIMEOUT,
    UNAUTHORIZED,
    UNAVAILABLE,
    Dispatcher,
    Method,
    Param,
    RpcError,
)

_LAZY = {
    "MAX_LINE": "._server",
    "ControlServer": "._server",
    "ControlStatistics": "._server",
    "private_dir": "._server",
    "Steering": "._steer",
    "check_control_path": "._wire",
    "open_control": "._wire",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)


__all__ = [
    "BUSY",
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "MAX_BATCH",
    "MAX_LINE",
    "METHOD_NOT_FOUND",
    "PARSE_ERROR",
    "SOCKET_NAME",
    "SUN_PATH_MAX",
    "TIMEOUT",
    "UNAUTHORIZED",
    "UNAVAILABLE",
    "ControlServer",
    "ControlStatistics",
    "Dispatcher",
    "Method",
    "Param",
    "RpcError",
    "Steering",
    "build_params",
    "call",
    "check_control_path",
    "open_control",
    "private_dir",
    "reachable",
    "socket_for",
    "wait_ready",
]
