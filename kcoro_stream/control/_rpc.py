"""JSON-RPC 2.0 over one JSON text per line: parse, validate, dispatch, answer.

::

    b'{"jsonrpc":"2.0","id":1,"method":"pause"}'  ──► Dispatcher.handle_line ──► b'{"jsonrpc":"2.0","id":1,"result":...}'
    b'[{...},{...}]'            (a batch)          ──►  one array of answers (notifications get none)
    b'{"jsonrpc":"2.0","method":"mark","params":["x"]}'  (no id: a notification) ──► None

The framing is small enough to own (no JSON-RPC library speaks trio's
streams and newline-delimited framing without a transport layer of its own):
this module knows the spec's shapes and error codes and nothing about
sockets, so the Unix socket server and the WebSocket page share it.

Errors (spec section 5.1; ``-32000`` and below are this server's):

=======  ================  =================================================
code     name              when
=======  ================  =================================================
-32700   parse error       not JSON, not UTF-8, a line over the length limit,
                           a number JSON cannot carry (NaN, Infinity, 1e400,
                           an integer of more than 4300 digits) anywhere
-32600   invalid request   not an object, no ``"jsonrpc": "2.0"``, a bad id
                           (also one that would not come back exactly as
                           sent, e.g. ``1e2`` or ``-0``), method or params
                           member, an empty batch
-32601   method not found  an unknown method
-32602   invalid params    a missing, unknown or ill-typed parameter; a value
                           the method refuses (the message names it); a
                           string with a lone surrogate (not Unicode)
-32603   internal error    a bug on our side (the message says what)
-32000   unavailable       the run cannot do it now (no producer, no knobs,
                           the run is stopping)
-32001   timeout           the producer did not acknowledge in time
-32002   server busy       every client slot is taken (the connection closes)
-32003   unauthorized      a method that steers the run, from the page without
                           the run's token (its file is the owner's alone)
=======  ================  =================================================

Batches are answered in order, one member after the other, so a batch that
pauses then sets an interval is applied in that order. A batch holds at most
``MAX_BATCH`` requests (else one -32600 answer), its members yield to other
clients between them, and an answer over ``MAX_ANSWER`` bytes is replaced by
a -32603 error: what one line can cost the server is bounded.

Answers are strict JSON: ids come back exactly as sent (or ``null``), and no
answer carries NaN or Infinity (``allow_nan=False`` everywhere).
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
UNAVAILABLE = -32000
TIMEOUT = -32001
BUSY = -32002
UNAUTHORIZED = -32003
MAX_BATCH = 100
MAX_ANSWER = 4 << 20  # bytes; a status is a few KiB, 'methods' about 3 KiB


class RpcError(Exception):
    """An error answer: ``code`` (see the table above) and a one-line message."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Param:
    """One parameter: its name, what it accepts (for ``methods``) and whether it is required."""

    name: str
    kind: str  # "string" | "duration" | "number" | "rule" | "any"
    required: bool = True
    doc: str = ""


@dataclass(frozen=True)
class Method:
    """A method: ``call(params)`` gets a dict of the declared names (positional params mapped in order).

    ``extra_params`` lets a method take named parameters it checks itself (``set_knob``).
    """

    name: str
    call: Callable[[dict[str, Any]], Awaitable[Any]]
    doc: str
    params: Sequence[Param] = field(default_factory=tuple)
    extra_params: bool = False


class Dispatcher:
    """Answers JSON-RPC lines with a table of methods; never raises for bad input."""

    def __init__(
        self, methods: Mapping[str, Method], *, guarded: frozenset[str] = frozenset(), guard_hint: str = ""
    ) -> None:
        self.methods = methods
        self.guarded = guarded  # methods only an ``authorized`` line may call
        self.guard_hint = guard_hint  # where the token is, for the error message
        self.requests = 0
        self.errors = 0
        self.batches_refused = 0  # over MAX_BATCH requests
        self.answers_refused = 0  # over MAX_ANSWER bytes

    async def handle_line(self, line: bytes | str, *, authorized: bool = True) -> bytes | None:
        """One line in; the answer line (without newline), or None when nothing is owed.

        ``authorized=False``: the ``guarded`` methods answer UNAUTHORIZED."""
        inexact: set[float] = set()  # numbers whose JSON text would not come back as written
        try:
            text = line.decode("utf-8") if isinstance(line, bytes) else line
            message = _strict_loads(text, inexact)
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            return self._encode(self._error(None, PARSE_ERROR, f"parse error: {_first_line(e)}"))
        if isinstance(message, list):
            if not message:
                return self._encode(self._error(None, INVALID_REQUEST, "invalid request: empty batch"))
            if len(message) > MAX_BATCH:
                self.batches_refused += 1
                return self._encode(
                    self._error(
                        None,
                        INVALID_REQUEST,
                        f"invalid request: a batch of {len(message)} requests (at most {MAX_BATCH})",
                    )
                )
            import trio  # here, not at the top: ``ctl`` imports this module and starts fast without trio

            answers = []
            for m in message:
                await trio.lowlevel.checkpoint()  # other clients are served between members
                a = await self._one(m, inexact, authorized)
                if a is not None:
                    answers.append(a)
            return self._bounded(self._encode(answers)) if answers else None
        answer = await self._one(message, inexact, authorized)
        return None if answer is None else self._bounded(self._encode(answer))

    def _bounded(self, line: bytes) -> bytes:
        if len(line) <= MAX_ANSWER:
            return line
        self.answers_refused += 1
        return self._encode(
            self._error(None, INTERNAL_ERROR, f"the answer of {len(line)} bytes exceeds {MAX_ANSWER} bytes")
        )

    def parse_error(self, message: str) -> bytes:
        """The answer to input that is not a request at all (e.g. a line over the limit)."""
        return self._encode(self._error(None, PARSE_ERROR, message))

    def busy(self, message: str) -> bytes:
        """The one line a client beyond the server's limit gets before it is closed."""
        return self._encode(self._error(None, BUSY, message))

    async def _one(
        self, req: Any, inexact: set[float] | frozenset[float] = frozenset(), authorized: bool = True
    ) -> dict[str, Any] | None:
        self.requests += 1
        if not isinstance(req, dict):
            return self._error(None, INVALID_REQUEST, "invalid request: expected an object")
        rid = req.get("id")
        if "id" in req and not (rid is None or isinstance(rid, str) or _is_number(rid)):
            return self._error(None, INVALID_REQUEST, "invalid request: id must be a string, number or null")
        if _is_number(rid) and rid in inexact:
            return self._error(
                None,
                INVALID_REQUEST,
                "invalid request: this id would not come back exactly (use an integer or a string)",
            )
        if req.get("jsonrpc") != "2.0":
            return self._error(rid, INVALID_REQUEST, 'invalid request: "jsonrpc" must be "2.0"')
        name = req.get("method")
        if not isinstance(name, str):
            return self._error(rid, INVALID_REQUEST, 'invalid request: "method" must be a string')
        if "params" in req and not isinstance(req["params"], list | dict):
            return self._error(
                rid, INVALID_REQUEST, 'invalid request: "params" must be an array or an object'
            )
        unknown = sorted(set(req) - {"jsonrpc", "id", "method", "params"})
        if unknown:
            return self._error(rid, INVALID_REQUEST, f"invalid request: unknown member {unknown[0]!r}")
        notification = "id" not in req
        try:
            method = self.methods.get(name)
            if method is None:
                raise RpcError(METHOD_NOT_FOUND, f"method not found: {name!r} (see 'methods')")
            if name in self.guarded and not authorized:
                raise RpcError(UNAUTHORIZED, f"{name}: steering needs the run's token{self.guard_hint}")
            params = req.get("params", {})
            _refuse_surrogates(name, params)
            result = await method.call(_bind(method, params))
        except RpcError as e:
            return None if notification else self._error(rid, e.code, e.message)
        except Exception as e:  # a bug must not take the server (or other clients) down
            return (
                None if notification else self._error(rid, INTERNAL_ERROR, f"{name}: {type(e).__name__}: {e}")
            )
        return None if notification else {"jsonrpc": "2.0", "id": rid, "result": result}

    def _error(self, rid: Any, code: int, message: str) -> dict[str, Any]:
        self.errors += 1
        return {"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message}}

    def _encode(self, obj: Any) -> bytes:
        try:
            return json.dumps(obj, separators=(",", ":"), allow_nan=False, default=str).encode()
        except (ValueError, TypeError, RecursionError) as e:  # a result JSON cannot carry (nan, a cycle)
            rid = obj.get("id") if isinstance(obj, dict) else None
            if not (rid is None or isinstance(rid, str) or (_is_number(rid) and math.isfinite(rid))):
                rid = None
            self.errors += 1
            err = {"code": INTERNAL_ERROR, "message": f"the answer cannot be encoded: {_first_line(e)}"}
            return json.dumps(
                {"jsonrpc": "2.0", "id": rid, "error": err},
                separators=(",", ":"),
                allow_nan=False,
                default=str,
            ).encode()


def _bind(method: Method, params: list[Any] | dict[str, Any]) -> dict[str, Any]:
    """Positional or named params → a dict of declared names; -32602 naming the problem."""
    names = [p.name for p in method.params]
    where = f"{method.name}"
    if isinstance(params, list):
        if len(params) > len(names):
            raise RpcError(
                INVALID_PARAMS, f"{where}: takes at most {len(names)} positional params, got {len(params)}"
            )
        bound = dict(zip(names, params, strict=False))
    else:
        bound = dict(params)
        extra = sorted(set(bound) - set(names))
        if extra and not method.extra_params:
            raise RpcError(INVALID_PARAMS, f"{where}: unknown param {extra[0]!r}")
    for p in method.params:
        if p.required and p.name not in bound:
            raise RpcError(INVALID_PARAMS, f"{where}: missing param {p.name!r}")
    return bound


def _strict_loads(text: str, inexact: set[float]) -> Any:
    """``json.loads`` without Python's extensions: NaN, Infinity and numbers that overflow
    to infinity are errors (ValueError), as JSON has no such values; a number whose text
    does not come back unchanged (``1e2`` → ``100.0``, ``-0`` → ``0``) goes into ``inexact``."""

    def constant(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    def number(text: str) -> float:
        x = float(text)
        if not math.isfinite(x):
            raise ValueError(f"number {text[:40]} is out of range")
        if repr(x) != text:
            inexact.add(x)
        return x

    def integer(text: str) -> int:
        n = int(text)  # more than sys.get_int_max_str_digits() digits: ValueError
        if str(n) != text:
            inexact.add(n)
        return n

    return json.loads(text, parse_constant=constant, parse_float=number, parse_int=integer)


def _refuse_surrogates(method: str, params: Any) -> None:
    """A string holding a lone surrogate is not Unicode: it cannot be logged or shown (-32602)."""
    stack = [params]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                raise RpcError(
                    INVALID_PARAMS, f"{method}: a string holds a lone surrogate (not valid Unicode)"
                ) from None
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _first_line(e: BaseException) -> str:
    return str(e).splitlines()[0][:200] if str(e) else type(e).__name__
