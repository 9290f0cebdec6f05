"""The ``log`` sink: alerts, anomalies and status as human-readable lines on stderr.

::

    batch ─► Alert / Anomaly / Status (the kinds in ``types``) ─► one line each ─► stderr

Line format (UTC time of the event, then the kind)::

    2026-11-23T23:59:01.250Z ALERT firing critical steal_collapse: steal success 2% (value=0.02 threshold=0.1)
    2026-11-23T23:59:01.250Z ALERT resolved warning inject_backlog: ... (value=3 threshold=100)
    2026-11-23T23:59:02.000Z ANOMALY tasks_per_s zscore value=1.2e+06 score=4.1 window=60
    2026-11-23T23:59:03.000Z ANOMALY tasks_per_s os_interference value=5.1e+04 score=-0.38 window=8: tasks/s −38 % ...
    2026-11-23T23:59:03.000Z STATUS producer_lost: child exited with status 1

A ``status`` line carries the monitor's account (ring losses, log bytes, each
sink's queue and drops). The run loop makes one Status a second; a line is
written when the state or the loss message changes (the first one too), the
others are counted in ``statistics().extra["status_unchanged"]``::

    2026-11-23T23:59:04.000Z STATUS running: ring lost 3 frames (3 dropped) · ring 1200 frames, lost 3 dropped / 0 corrupt / 0 undecodable · log 7.5 MiB (1.0 MiB on disk) · ndjson q 0/64

Spec: ``log[:KIND,KIND...]`` with kinds ``alert``, ``anomaly``, ``status``,
``summary`` (default: the first three). Other events are ignored by design and
counted per type in ``statistics().extra["ignored"]``. A failing stderr counts
the line as dropped (``stderr_error``) instead of raising. Policy ``block``:
lines are small, rare and written synchronously.

The ``format_*`` helpers are shared with the stdout sink's terminal mode.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Sequence
from typing import Any, ClassVar, Literal, TextIO

import msgspec

from ..errors import UsageError
from ..events import Alert, Anomaly, DerivedEvent, Status, Summary
from ._base import Policy, Sink, SinkContext
from ._registry import register

Kind = Literal["alert", "anomaly", "status", "summary"]
KINDS: tuple[str, ...] = ("alert", "anomaly", "status", "summary")

RED, YELLOW, GREEN, CYAN, BOLD, DIM, RESET = (
    "\x1b[31m",
    "\x1b[33m",
    "\x1b[32m",
    "\x1b[36m",
    "\x1b[1m",
    "\x1b[2m",
    "\x1b[0m",
)
_SEVERITY_COLOR = {"critical": RED, "warning": YELLOW, "info": CYAN}


def use_color(stream: Any, choice: str) -> bool:
    """``auto``: colour only on a terminal, and not when NO_COLOR is set or TERM=dumb."""
    if choice == "always":
        return True
    if choice == "never":
        return False
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def fmt_num(v: float | None) -> str:
    """Compact number: 1.23M, 45.6k, 0.123; ``-`` for null."""
    if v is None:
        return "-"
    if not math.isfinite(v):
        return str(v)
    a = abs(v)
    if a >= 1e9:
        return f"{v / 1e9:.2f}G"
    if a >= 1e6:
        return f"{v / 1e6:.2f}M"
    if a >= 1e4:
        return f"{v / 1e3:.1f}k"
    if a >= 100 or v == int(v):
        return f"{v:.0f}"
    return f"{v:.3g}"


def split_ts(ts: float) -> tuple[int, int] | None:
    """Wall seconds as (whole seconds, milliseconds); None if not a usable time."""
    if not math.isfinite(ts) or abs(ts) > 1e11:
        return None
    sec = math.floor(ts)
    ms = min(round((ts - sec) * 1000), 999)
    return sec, ms


def fmt_utc(ts: float) -> str:
    """Wall seconds as ISO-8601 UTC with milliseconds."""
    parts = split_ts(ts)
    if parts is None:
        return f"ts={ts}"
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(parts[0])) + f".{parts[1]:03d}Z"


def _paint(text: str, color: str | None) -> str:
    return f"{color}{text}{RESET}" if color else text


def format_alert(a: Alert, color: bool = False) -> str:
    head = f"ALERT {a.state} {a.severity} {a.rule}"
    c = (GREEN if a.state == "resolved" else _SEVERITY_COLOR.get(a.severity, RED)) if color else None
    detail = f"value={fmt_num(a.value)} threshold={fmt_num(a.threshold)}"
    if a.labels:
        detail += " " + " ".join(f"{k}={v}" for k, v in sorted(a.labels.items()))
    return f"{_paint(head, (BOLD + c) if c else None)}: {a.message} ({detail})"


def format_anomaly(a: Anomaly, color: bool = False) -> str:
    head = f"ANOMALY {a.metric}"
    cause = f": {a.message}" if a.message else ""  # os_interference: the cause in words
    return (
        f"{_paint(head, YELLOW if color else None)} {a.method} value={fmt_num(a.value)} "
        f"score={a.score:.3g} window={a.window}{cause}"
    )


def fmt_bytes(value: float | None) -> str:
    """``1.2 MiB``; binary units."""
    if value is None:
        return "–"
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if value >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value:.0f} B"


def account_parts(s: Status) -> list[str]:
    """The monitor's account in short phrases (log line, dashboard, stdout).

    ``ring 1000 frames, lost 2 dropped / 1 corrupt / 0 undecodable`` ·
    ``log 6.2 MiB (0.9 MiB on disk)`` · ``ndjson q 1/64`` ·
    ``websocket q 5/256, dropped 7 (slow_client 7), 1 client``
    """
    parts = []
    r = s.reader
    if r is not None:
        parts.append(
            f"ring {r.frames} frames, lost {r.dropped_frames} dropped / {r.corrupt_frames} corrupt"
            f" / {r.undecodable_frames} undecodable"
        )
    if s.log is not None:
        parts.append(f"log {fmt_bytes(s.log.frame_bytes)} ({fmt_bytes(s.log.disk_bytes)} on disk)")
    for sink in s.sinks:
        text = f"{sink.name} q {sink.queued}/{sink.queue_capacity}"
        if sink.dropped:
            reasons = ", ".join(f"{k} {v}" for k, v in sorted(sink.drop_reasons.items()) if v)
            text += f", dropped {sink.dropped}" + (f" ({reasons})" if reasons else "")
        if sink.clients:
            text += f", {len(sink.clients)} client{'s' if len(sink.clients) != 1 else ''}"
        parts.append(text)
    return parts


def format_status(s: Status, color: bool = False) -> str:
    text = f"STATUS {s.state}"
    line = _paint(text, DIM if color else None) + (f": {s.message}" if s.message else "")
    account = account_parts(s)
    return line + (" · " + " · ".join(account) if account else "")


def format_summary_line(s: Summary) -> str:
    peaks = " ".join(
        f"peak_{k}={fmt_num(v)}" for k, v in msgspec.structs.asdict(s.peak).items() if v is not None
    )
    head = f"SUMMARY {s.mode} samples={s.samples} duration_s={s.duration_s:.3f} losses={s.losses}"
    return f"{head} {peaks}".rstrip()


class LogConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Which derived events become log lines, and colour."""

    types: list[Kind] = msgspec.field(default_factory=lambda: ["alert", "anomaly", "status"])
    color: Literal["auto", "always", "never"] = "auto"


@register
class LogSink(Sink):
    name: ClassVar[str] = "log"
    Config: ClassVar[type[msgspec.Struct]] = LogConfig
    policy: ClassVar[Policy] = "block"
    summary: ClassVar[str] = "alerts, anomalies and status as readable lines on stderr"

    config: LogConfig

    def __init__(self, config: msgspec.Struct, ctx: SinkContext) -> None:
        super().__init__(config, ctx)
        self._wanted = frozenset(self.config.types)
        self._ignored: dict[str, int] = {}
        self._color = False
        self._last_status: tuple[str, str] | None = None  # (state, message) last written
        self._status_unchanged = 0

    @staticmethod
    def parse_arg(arg: str) -> dict[str, Any]:
        kinds = [k.strip() for k in arg.split(",") if k.strip()]
        bad = [k for k in kinds if k not in KINDS]
        if bad or not kinds:
            raise UsageError(
                f"sink 'log': unknown kind(s) {', '.join(bad) or repr(arg)} (known: {', '.join(KINDS)})"
            )
        return {"types": kinds}

    @property
    def stream(self) -> TextIO:
        return sys.stderr  # looked up on each use: tests and the CLI may replace it

    async def open(self) -> None:
        self._color = use_color(self.stream, self.config.color)

    def format(self, event: DerivedEvent) -> str | None:
        """The log line for ``event``; None when this sink does not show it, "" for a Status with nothing new."""
        t = type(event)
        if t is Alert and "alert" in self._wanted:
            body = format_alert(event, self._color)  # type: ignore[arg-type]
        elif t is Anomaly and "anomaly" in self._wanted:
            body = format_anomaly(event, self._color)  # type: ignore[arg-type]
        elif isinstance(event, Status) and "status" in self._wanted:
            key = (event.state, event.message)
            if key == self._last_status:
                self._status_unchanged += 1
                return ""  # nothing new: the periodic account is not repeated
            self._last_status = key
            body = format_status(event, self._color)
        elif t is Summary and "summary" in self._wanted:
            body = format_summary_line(event)  # type: ignore[arg-type]
        else:
            return None
        return f"{fmt_utc(event.ts)} {body}\n"

    async def send(self, batch: Sequence[DerivedEvent]) -> None:
        self._received += len(batch)
        lines = []
        for event in batch:
            line = self.format(event)
            if line == "":
                continue
            if line is None:
                tag = str(event.__struct_config__.tag)
                self._ignored[tag] = self._ignored.get(tag, 0) + 1
            else:
                lines.append(line)
        if not lines:
            return
        try:
            stream = self.stream
            stream.write("".join(lines))
            stream.flush()
        except (OSError, ValueError):  # closed or broken stderr: count, never raise
            self.count_drop("stderr_error", len(lines))
            return
        self._written += len(lines)

    def extra_statistics(self) -> dict[str, Any]:
        return {"ignored": dict(self._ignored), "status_unchanged": self._status_unchanged}
