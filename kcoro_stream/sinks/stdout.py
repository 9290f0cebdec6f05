"""The ``stdout`` sink: NDJSON when piped, one readable line per sample on a terminal.

::

    batch ─┬─ stdout is not a TTY ─► NDJSON lines (every event), flushed per batch ─► `| jq`
           └─ stdout is a TTY ─────► "12:00:01.250 tasks 1.23M tasks/s fast 97.1% steal 12.0% …"
                                     alerts highlighted, anomalies marked, summary at the end

Spec: ``stdout[:auto|ndjson|human][,legacy][,color=auto|always|never]``;
``legacy`` writes NDJSON with the old ``kcoro_mon`` names even on a terminal
(like ``kcoro_mon -j -``; events without a legacy form are dropped under
``no_legacy_form``). The process's
stdout unless the pipeline gives ``ctx.stdout``. Writes run in a worker
thread, so a slow reader stalls this sink (policy ``block``), never the
event loop.

A closed reader (``| head``) ends output quietly: the rest is counted under
``broken_pipe``, the process's stdout is pointed at /dev/null so the
interpreter does not complain at exit, and (``stop_on_broken_pipe``, the
default) the run is asked to stop through ``ctx.controller``, as a Unix
filter would be stopped by SIGPIPE.

Terminal mode shows Sample, Alert, Anomaly and Summary events; Histogram,
Heatmap, Kpi and Status are ignored there (counted per type in
``statistics().extra["ignored"]``; the dashboard and the log sink show them).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import msgspec

from ..errors import UsageError
from ..events import Alert, Anomaly, DerivedEvent, Sample, Summary
from ._base import Policy, SinkContext
from ._output import BufferedSink, StreamOutput, binary_stream, encode_lines, encode_meta
from ._registry import register
from .log import BOLD, DIM, RESET, YELLOW, fmt_num, format_alert, format_anomaly, split_ts, use_color
from .ndjson import LegacyFn, load_to_legacy


class StdoutConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """``format``: auto (NDJSON unless stdout is a terminal), ndjson or human."""

    format: Literal["auto", "ndjson", "human"] = "auto"
    color: Literal["auto", "always", "never"] = "auto"
    stop_on_broken_pipe: bool = True
    legacy: bool = False  # NDJSON with old kcoro_mon names (kcoro_mon -j -); implies ndjson


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:.1f}%"


def format_sample(s: Sample, color: bool = False) -> str:
    """One compact line: time, mode, rates, ratios, partial marker."""
    when = split_ts(s.ts)
    clock = "--:--:--.---" if when is None else time.strftime("%H:%M:%S", time.localtime(when[0]))
    if when is not None:
        clock += f".{when[1]:03d}"
    parts = [clock, f"{s.mode:<7}"]
    if s.pool != "all":
        parts.append(f"[{s.pool}]")
    if s.tasks_per_s is not None:
        parts.append(f"{fmt_num(s.tasks_per_s):>7} tasks/s")
    if s.msgs_per_s is not None:
        parts.append(f"{fmt_num(s.msgs_per_s):>7} msgs/s")
    if s.gbps is not None:
        parts.append(f"{s.gbps:.2f} Gbps")
    if s.fastpath_ratio is not None:
        parts.append(f"fast {_pct(s.fastpath_ratio)}")
    if s.steal_ratio is not None:
        parts.append(f"steal {_pct(s.steal_ratio)}")
    if s.utilisation is not None:
        parts.append(f"util {_pct(s.utilisation)}")
    if s.channel_depth is not None:
        parts.append(f"depth {fmt_num(s.channel_depth)}")
    if s.partial:
        parts.append(f"{YELLOW}partial{RESET}" if color else "partial")
    return "  ".join(parts)


def format_summary(s: Summary, color: bool = False) -> str:
    """A short block for the end of a run (the old monitor's summary line, readable)."""
    title = f"summary: {s.mode}, {s.samples} samples, {s.duration_s:.2f} s, {s.losses} losses"
    lines = [f"{BOLD}{title}{RESET}" if color else title]
    for label, values in (("peak", s.peak), ("avg", s.avg), ("ema", s.ema)):
        shown = [f"{k} {fmt_num(v)}" for k, v in msgspec.structs.asdict(values).items() if v is not None]
        if shown:
            lines.append(f"  {label:<6}" + "  ".join(shown))
    totals = [
        f"{k} {v}"
        for counts in (s.worker_totals, s.channel_totals)
        if counts is not None
        for k, v in msgspec.structs.asdict(counts).items()
        if v is not None
    ]
    if s.mismatch_msgs is not None:
        totals.append(f"mismatch_msgs {s.mismatch_msgs}")
    if totals:
        lines.append("  totals " + "  ".join(totals))
    return "\n".join(lines)


@register
class StdoutSink(BufferedSink):
    name: ClassVar[str] = "stdout"
    Config: ClassVar[type[msgspec.Struct]] = StdoutConfig
    policy: ClassVar[Policy] = "block"
    summary: ClassVar[str] = "NDJSON to stdout when piped; a readable line per sample on a terminal"

    config: StdoutConfig

    def __init__(self, config: msgspec.Struct, ctx: SinkContext) -> None:
        super().__init__(config, ctx)
        self.human = False
        self._color = False
        self._ignored: dict[str, int] = {}
        self._summaries: list[Summary] = []
        self._samples = 0
        self._alerts = 0
        self._stop_requested = False
        self._to_legacy: LegacyFn | None = None
        self._legacy_encoder = msgspec.json.Encoder()

    @staticmethod
    def parse_arg(arg: str) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        for part in (p.strip() for p in arg.split(",")):
            key, eq, value = part.partition("=")
            if not eq and key in ("auto", "ndjson", "human"):
                fields["format"] = key
            elif not eq and key == "legacy":
                fields["legacy"] = True
            elif eq and key in ("format", "color") and value:
                fields[key] = value  # checked by the Config's Literal types
            else:
                raise UsageError(
                    f"sink 'stdout': bad option {part!r} (use auto|ndjson|human, legacy, color=auto|always|never)"
                )
        return fields

    async def open(self) -> None:
        text = self.ctx.stdout if self.ctx.stdout is not None else sys.stdout
        if hasattr(text, "flush"):
            text.flush()  # anything printed before us comes first
        fmt = "ndjson" if self.config.legacy else self.config.format
        if self.config.legacy:
            self._to_legacy = load_to_legacy()
        if fmt == "auto":
            try:
                fmt = "human" if text.isatty() else "ndjson"
            except (AttributeError, ValueError, OSError):
                fmt = "ndjson"
        self.human = fmt == "human"
        self._color = self.human and use_color(text, self.config.color)
        # flush per batch: a reader sees each batch at once
        out = self._attach_output(StreamOutput(binary_stream(text)), flush_interval_s=0.0)
        if not self.human:
            encode_meta(self.ctx, out.buf, self._to_legacy is not None)

    async def send(self, batch: Sequence[DerivedEvent]) -> None:
        out = self._out
        assert out is not None, "send() before open()"
        self._received += len(batch)
        if out.broken:
            self.count_drop("broken_pipe", len(batch))
            return
        if self.human:
            shown = self._render(batch, out.buf)
        else:
            shown = encode_lines(batch, out.buf, self._to_legacy, self._legacy_encoder, self.count_drop)
        out.add(shown)
        if shown:
            await out.maybe_flush(force=True)
        if out.broken:
            self._on_broken_pipe()

    def _render(self, batch: Sequence[DerivedEvent], buf: bytearray) -> int:
        lines = []
        for event in batch:
            t = type(event)
            if t is Sample:
                self._samples += 1
                lines.append(format_sample(event, self._color))  # type: ignore[arg-type]
            elif t is Alert:
                self._alerts += 1
                lines.append(format_alert(event, self._color))  # type: ignore[arg-type]
            elif t is Anomaly:
                lines.append(format_anomaly(event, self._color))  # type: ignore[arg-type]
            elif t is Summary:
                self._summaries.append(event)  # type: ignore[arg-type]  # printed at the end
            else:
                tag = str(event.__struct_config__.tag)
                self._ignored[tag] = self._ignored.get(tag, 0) + 1
        if lines:
            buf.extend(("\n".join(lines) + "\n").encode())
        return len(lines)

    def _on_broken_pipe(self) -> None:
        ctl = self.ctx.controller
        if self.config.stop_on_broken_pipe and ctl is not None and not self._stop_requested:
            self._stop_requested = True
            ctl.stop()

    async def aclose(self) -> None:
        out = self._out
        if out is None:
            return
        if self.human and not out.broken:
            blocks = [format_summary(s, self._color) for s in self._summaries]
            tally = f"{self._samples} samples, {self._alerts} alerts shown"
            if self._drops:
                tally += ", dropped " + ", ".join(f"{k} {v}" for k, v in sorted(self._drops.items()))
            blocks.append(f"{DIM}{tally}{RESET}" if self._color else tally)
            out.buf.extend(("\n".join(blocks) + "\n").encode())
            out.add(len(self._summaries))
        elif self._summaries:
            self.count_drop("broken_pipe", len(self._summaries))
        out.close()
        if out.broken:
            self._on_broken_pipe()

    def own_statistics(self) -> dict[str, Any]:
        mode = "human" if self.human else "legacy" if self._to_legacy is not None else "ndjson"
        return {"mode": mode, "ignored": dict(self._ignored)}
