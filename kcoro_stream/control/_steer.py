"""The control methods of a live run: what ``ctl`` and the browser page may ask.

::

    Dispatcher ──► Steering.<method> ──┬─► RingController  (interval, pause, stop, knob command)
                                       │       └─► control area ─► producer ─► ack (ctl_ack)
                                       └─► FrameRouter.emit (Mark, RuleChanged: logged, derived)

    FrameRouter's decoded batches ──► Steering.observe = RunView.observe (_view.py:
    the run, its interval and pause state, knobs, rules in force)

Every change a method makes reaches the log as an event at the position it
took effect, so a replay of a steered run derives the same output: the
ingester logs ``ControlApplied`` for the producer's acknowledgements, the
producer logs ``KnobApplied`` and its ticks' new interval and pause flag, and
``mark`` / ``set_rule`` / ``remove_rule`` are ``Mark`` / ``RuleChanged``
events the analyses apply where they stand.

Control records are written one at a time (``_ctl_lock``): a knob command
waits for the producer's acknowledgement before the next record is written,
so two clients' commands never overwrite each other in the single-slot
control area (the ingester also repeats an unacknowledged command in any
record written meanwhile, and the producer applies a command id once).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

import msgspec
import trio

from ..config._resolve import parse_duration
from ..errors import UsageError
from ..events import CORO_STATES, Mark, RuleChanged
from ..ingest import monotonic_ns
from ..ops import KPI_DEFAULTS, channel_view, coroutine_view, kpi_thresholds, parse_rule
from ..sources import RingController, Source
from ..sources.launch import BENCH_INTERVAL_MS
from ._rpc import INVALID_PARAMS, TIMEOUT, UNAVAILABLE, Method, Param, RpcError
from ._view import RECORD_MARK, RunView, rule_dict

INTERVAL_MIN_MS, INTERVAL_MAX_MS = BENCH_INTERVAL_MS
ACK_POLL_S = 0.001
ACK_MAX_S = 20.0
MARK_NAME_MAX = 64
_DECIMAL = re.compile(r"-?[0-9]{1,19}")


class Steering:
    """The methods of one live run, bound to its source controller and its router."""

    def __init__(
        self,
        source: Source,
        emit: Callable[[Any], None],
        drain: Callable[[], Any],
        status: Callable[[], Any],
        run_id: str,
        *,
        server_statistics: Callable[[], Any] | None = None,
    ) -> None:
        self.source = source
        self._emit = emit
        self._drain = drain
        self._status = status
        self.run_id = run_id
        self.server_statistics = server_statistics
        self.started = time.monotonic()
        self._ctl_lock = trio.Lock()
        self._cmd_id = 0
        self._stopping = False
        self.view = RunView()  # what the stream has told us (``observe``)
        self.observe = self.view.observe
        self.methods: dict[str, Method] = {m.name: m for m in self._table()}

    # -- helpers ----------------------------------------------------------------------

    def _ring(self) -> RingController:
        ctl = self.source.controller
        if not isinstance(ctl, RingController) or ctl.ingester is None:
            raise RpcError(UNAVAILABLE, "no producer is running (the run is starting or ending)")
        return ctl

    def _ack_timeout_s(self) -> float:
        # at most ACK_MAX_S: under ctl's own 30 s, so a 60 s interval answers TIMEOUT in time
        return min(ACK_MAX_S, max(2.0, 5 * self.view.interval_ns / 1e9))

    async def _wait_ack(self, ctl: RingController, seq: int, what: str) -> None:
        with trio.move_on_after(self._ack_timeout_s()):
            while True:
                ing = ctl.ingester
                if ing is None:
                    raise RpcError(UNAVAILABLE, f"{what}: the producer ended before acknowledging")
                if ing.acknowledged(seq):
                    return
                await trio.sleep(ACK_POLL_S)
        raise RpcError(
            TIMEOUT, f"{what}: the producer did not acknowledge within {self._ack_timeout_s():g} s"
        )

    def _refuse_when_stopping(self, what: str) -> None:
        """After a stop (``stop``, Ctrl-C, SIGTERM) the run only ends: nothing more is applied."""
        if self._stopping or getattr(self.source.controller, "stop_requested", False):
            raise RpcError(UNAVAILABLE, f"{what}: the run is stopping")

    async def _record(self, what: str, write: Callable[[RingController], int]) -> int:
        """Write one control record (serialised with every other) and wait for its acknowledgement."""
        async with self._ctl_lock:
            self._refuse_when_stopping(what)  # also a request that waited for the lock
            ctl = self._ring()
            seq = write(ctl)
            await self._wait_ack(ctl, seq, what)
            return seq

    async def _log(self, what: str, event: Any) -> None:
        self._refuse_when_stopping(what)
        self._emit(event)
        await self._drain()

    # -- methods ----------------------------------------------------------------------

    async def status(self, p: dict[str, Any]) -> Any:
        start = self.view.start
        out: dict[str, Any] = {
            "run_id": start.run_id if start is not None else "",
            "monitor_run_id": self.run_id,
            "source": self.source.describe(),
            "mode": start.mode if start is not None else None,
            "interval_ms": self.view.interval_ns / 1e6 if self.view.interval_ns else None,
            "paused": self.view.paused,
            "uptime_s": round(time.monotonic() - self.started, 3),
            "knobs": dict(self.view.knobs),
            "statistics": _fields(self._status()),
        }
        if self.server_statistics is not None:
            out["control"] = msgspec.to_builtins(self.server_statistics())
        return out

    async def set_interval(self, p: dict[str, Any]) -> Any:
        value = p["interval"]
        try:
            secs = parse_duration(
                f"{value}ms" if isinstance(value, int | float) and not isinstance(value, bool) else value
            )
        except ValueError as e:
            raise RpcError(INVALID_PARAMS, f"set_interval: interval: {e}") from None
        ms = secs * 1000
        if not INTERVAL_MIN_MS <= ms <= INTERVAL_MAX_MS:
            raise RpcError(INVALID_PARAMS, f"set_interval: interval must be 1ms to 60s, got {value!r}")

        def write(ctl: RingController) -> int:
            ctl.set_interval_ms(ms)
            return ctl.last_seq

        seq = await self._record("set_interval", write)
        self.view.interval_ns = round(ms * 1e6)  # applied; the next ticks say so too
        return {"interval_ms": ms, "seq": seq}

    async def _pause(self, paused: bool) -> Any:
        def write(ctl: RingController) -> int:
            ctl.pause(paused)
            return ctl.last_seq

        seq = await self._record("pause" if paused else "resume", write)
        self.view.paused = paused  # applied; the next ticks say so too
        return {"paused": paused, "seq": seq}

    async def pause(self, p: dict[str, Any]) -> Any:
        return await self._pause(True)

    async def resume(self, p: dict[str, Any]) -> Any:
        return await self._pause(False)

    async def stop(self, p: dict[str, Any]) -> Any:
        self._stopping = True  # sticky: later methods that change the run answer UNAVAILABLE
        self.source.controller.stop()  # before the producer started too: it is told at once
        return {"stopping": True}

    async def mark(self, p: dict[str, Any]) -> Any:
        name, detail = p["name"], p.get("detail", "")
        if not isinstance(name, str) or not name.strip() or len(name) > MARK_NAME_MAX:
            raise RpcError(
                INVALID_PARAMS, f"mark: name must be a non-empty string of at most {MARK_NAME_MAX} characters"
            )
        if name == RECORD_MARK:
            raise RpcError(INVALID_PARAMS, f"mark: {RECORD_MARK!r} is reserved for the configuration record")
        if not isinstance(detail, str):
            detail = json.dumps(detail, sort_keys=True)
        ts = monotonic_ns()
        await self._log("mark", Mark(ts, 0, name=name, detail=detail))
        return {"name": name, "detail": detail, "ts_ns": ts}

    async def set_rule(self, p: dict[str, Any]) -> Any:
        if "kpi" in p:
            name = p["kpi"]
            extra = sorted(set(p) - {"kpi", "green", "yellow"})
            if extra:
                raise RpcError(INVALID_PARAMS, f"set_rule: with kpi, unexpected param {extra[0]!r}")
            if not isinstance(name, str):
                raise RpcError(
                    INVALID_PARAMS, f"set_rule: a KPI name must be a string, got {type(name).__name__}"
                )
            try:
                kpi_thresholds({name: {"green": p.get("green"), "yellow": p.get("yellow")}})
            except UsageError as e:
                raise RpcError(INVALID_PARAMS, f"set_rule: {e}") from None
            spec = {"green": float(p["green"]), "yellow": float(p["yellow"])}
            await self._log(
                "set_rule",
                RuleChanged(monotonic_ns(), 0, action="set", kind="kpi", name=name, spec=json.dumps(spec)),
            )
            return {"kpi": name, **spec}
        if "rule" not in p:
            raise RpcError(INVALID_PARAMS, "set_rule: missing param 'rule' (or 'kpi' with green and yellow)")
        extra = sorted(set(p) - {"rule"})
        if extra:
            raise RpcError(INVALID_PARAMS, f"set_rule: unknown param {extra[0]!r}")
        try:
            rule = parse_rule(p["rule"])
        except UsageError as e:
            raise RpcError(INVALID_PARAMS, f"set_rule: {e}") from None
        spec_d = rule_dict(rule)
        ev = RuleChanged(
            monotonic_ns(), 0, action="set", kind="alert", name=rule.name, spec=json.dumps(spec_d)
        )
        await self._log("set_rule", ev)
        return {"rule": spec_d}

    async def remove_rule(self, p: dict[str, Any]) -> Any:
        if "kpi" in p:
            name = p["kpi"]
            if not isinstance(name, str) or name not in KPI_DEFAULTS:
                raise RpcError(
                    INVALID_PARAMS, f"remove_rule: unknown KPI {name!r} (known: {', '.join(KPI_DEFAULTS)})"
                )
            await self._log(
                "remove_rule", RuleChanged(monotonic_ns(), 0, action="remove", kind="kpi", name=name, spec="")
            )
            _, _, g, y = KPI_DEFAULTS[name]
            return {"kpi": name, "green": g, "yellow": y, "default": True}
        name = p.get("name")
        extra = sorted(set(p) - {"name"})
        if extra or not isinstance(name, str):
            raise RpcError(INVALID_PARAMS, "remove_rule: expected name (an alert rule) or kpi")
        if name not in self.view.alert_rules:
            raise RpcError(INVALID_PARAMS, f"remove_rule: no alert rule {name!r} (see list_rules)")
        await self._log(
            "remove_rule", RuleChanged(monotonic_ns(), 0, action="remove", kind="alert", name=name, spec="")
        )
        return {"removed": name}

    async def list_rules(self, p: dict[str, Any]) -> Any:
        return {
            "alerts": list(self.view.alert_rules.values()),
            "kpi": {k: {"green": g, "yellow": y} for k, (g, y) in self.view.kpi.items()},
        }

    def _need_view(self, what: str) -> None:
        if not self.view.snapshots:
            raise RpcError(UNAVAILABLE, f"{what}: no coroutine snapshot yet (run with --coroutines)")

    async def coroutines(self, p: dict[str, Any]) -> Any:
        self._need_view("coroutines")
        top, state = p.get("top"), p.get("state")
        n = _integer(top) if top is not None else None
        if top is not None and (n is None or n < 1):
            raise RpcError(INVALID_PARAMS, f"coroutines: top must be an integer >= 1, got {top!r}")
        if state is not None and state not in CORO_STATES:
            raise RpcError(
                INVALID_PARAMS, f"coroutines: state must be one of {', '.join(CORO_STATES)}, got {state!r}"
            )
        run = self.view.start
        rows = [coroutine_view(c, run) for c in self.view.coroutines]
        if state is not None:
            rows = [r for r in rows if r.state == state]
        rows = rows[:n] if n is not None else rows
        return {"snapshot": len(self.view.coroutines), "coroutines": [_line(r) for r in rows]}

    async def channels(self, p: dict[str, Any]) -> Any:
        self._need_view("channels")
        run, cw = self.view.start, self.view.chan_waiters
        rows = [channel_view(cw[k], self.view.channels.get(k), run) for k in sorted(cw)]
        return {"channels": [_line(r) for r in rows]}

    async def set_knob(self, p: dict[str, Any]) -> Any:
        if not p:
            raise RpcError(INVALID_PARAMS, "set_knob: give one or more knob=value")
        if not self.view.knob_ranges:
            raise RpcError(UNAVAILABLE, "set_knob: this producer announced no live knobs")
        values: dict[str, int] = {}
        for name, v in p.items():
            lim = self.view.knob_ranges.get(name)
            if lim is None:
                raise RpcError(
                    INVALID_PARAMS,
                    f"set_knob: unknown knob {name!r} (knobs: {', '.join(self.view.knob_ranges)})",
                )
            n = _integer(v)
            if n is None or not lim[0] <= n <= lim[1]:
                raise RpcError(
                    INVALID_PARAMS, f"set_knob: {name} must be an integer in [{lim[0]}, {lim[1]}], got {v!r}"
                )
            values[name] = n
        self._cmd_id += 1
        cmd_id = self._cmd_id
        cmd = msgspec.msgpack.encode({"id": cmd_id, **values})

        def write(ctl: RingController) -> int:
            return ctl.command(cmd)

        seq = await self._record("set_knob", write)
        self.view.knobs.update(values)  # applied; its KnobApplied events say so too
        return {"cmd_id": cmd_id, "applied": values, "seq": seq}

    async def list_methods(self, p: dict[str, Any]) -> Any:
        return {
            "methods": [
                {
                    "name": m.name,
                    "doc": m.doc,
                    "params": [
                        {"name": x.name, "kind": x.kind, "required": x.required, "doc": x.doc}
                        for x in m.params
                    ],
                }
                for m in self.methods.values()
            ],
            "knobs": {
                k: {"min": lo, "max": hi, "value": self.view.knobs.get(k)}
                for k, (lo, hi) in self.view.knob_ranges.items()
            },
        }

    def _table(self) -> list[Method]:
        return [
            Method(
                "status",
                self.status,
                "run id, mode, interval, pause state, uptime, knobs, every stage's statistics",
            ),
            Method(
                "set_interval",
                self.set_interval,
                "change the sampling interval (acknowledged by the producer)",
                (Param("interval", "duration", doc="20ms, 1s, or a number of ms"),),
            ),
            Method("pause", self.pause, "pause the benchmark: no new work, counters stop (sampling goes on)"),
            Method("resume", self.resume, "resume a paused benchmark"),
            Method("stop", self.stop, "end the run cleanly (final counters, summary)"),
            Method(
                "mark",
                self.mark,
                "log a named Mark (a derived 'mark' line)",
                (Param("name", "string"), Param("detail", "any", required=False)),
            ),
            Method(
                "set_rule",
                self.set_rule,
                "add or replace an alert rule, or set a KPI's thresholds, from the next window on",
                (
                    Param(
                        "rule", "rule", required=False, doc="'name: metric OP value [for D] ...' or an object"
                    ),
                    Param("kpi", "string", required=False, doc="a KPI name (then green and yellow)"),
                    Param("green", "number", required=False),
                    Param("yellow", "number", required=False),
                ),
            ),
            Method(
                "remove_rule",
                self.remove_rule,
                "remove an alert rule, or put a KPI back to its default thresholds",
                (Param("name", "string", required=False), Param("kpi", "string", required=False)),
            ),
            Method("list_rules", self.list_rules, "the alert rules and KPI thresholds in force"),
            Method(
                "set_knob",
                self.set_knob,
                "change benchmark knobs while it runs (knob=value ...; 'methods' lists them)",
                extra_params=True,
            ),
            Method(
                "coroutines",
                self.coroutines,
                "the last coroutine snapshot (--coroutines): suspicious first, then busiest",
                (
                    Param("top", "number", required=False, doc="at most N coroutines"),
                    Param("state", "string", required=False, doc="runnable, running, parked or done"),
                ),
            ),
            Method(
                "channels", self.channels, "each channel's name, state and waiting coroutines (--coroutines)"
            ),
            Method("methods", self.list_methods, "these methods, their params, and the producer's knobs"),
        ]


def _line(view: Any) -> dict[str, Any]:
    """A derived line's fields, without the line envelope (type, schema, ts, run_id)."""
    d = msgspec.to_builtins(view)
    for k in ("type", "schema", "ts", "run_id"):
        d.pop(k, None)
    return d


def _fields(st: Any) -> dict[str, Any]:
    """A (possibly array-like) Struct as a JSON object with its field names."""
    return {f: msgspec.to_builtins(getattr(st, f)) for f in st.__struct_fields__}


def _integer(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str) and _DECIMAL.fullmatch(v):  # not int()'s "1_0", " 10 " or "١٠"
        return int(v)
    return None
