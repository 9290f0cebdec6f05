"""The ``csv`` sink: one row per ``Sample``, header once, fixed column order.

::

    batch ─► Samples only ─► row in COLUMNS order ─► reused bytearray ─► .csv / .csv.gz / .csv.zst

Columns (``COLUMNS``), fixed for a given events.py schema and derived from
the ``Sample`` struct, so every row of a file lines up with its one header:

1. every scalar field of ``Sample`` in declaration order (``schema, ts,
   ts_ns, run_id, mode, pool, window_ns, partial, tasks_per_s, …, span_ns,
   frames, lost_frames, workers, channels, inject_depth_mean, …``);
2. ``<field>_<sub>`` for every field of each Struct-typed field of
   ``Sample``, declaration order: ``smooth_<m>`` and ``ema_<m>`` for each
   smoothed metric (``events.Metrics``), then ``worker_totals_tasks_completed``,
   ``channel_deltas_sends``, ``channel_state_kind``, ``resources_cpu_pct``,
   ``legacy_cpu``, …; empty when the Struct is null.

3. ``<metric>_<q>`` (``LATENCY_COLUMNS``): the p50/p90/p99/p999 of the
   window's latency histogram (``HistogramSummary`` with scope ``window``) of
   the sample's pool (or of pool ``all``, e.g. ``tick_jitter_ns``) for each
   of ``LATENCY_METRICS``; empty when the window had no observations. A row
   is therefore written when the next window's sample arrives (or at close):
   its histograms follow the sample.

4. ``declared_<name>`` (after everything else): the metrics the run's
   pipeline declares (``SinkContext.declarations``, ``Sample.declared``), in
   declaration order; only in a run whose pipeline declares metrics.

Nothing is added while a file is being written. The keys of ``Sample.gauges``
(gauges the schema does not name) have no column: they are
counted per key in ``statistics().extra["unwritten_keys"]`` (use the NDJSON
sink for those). ``columns=`` picks a subset, in the order given.

Cells: null → empty, booleans → ``true``/``false``, floats in shortest
round-trip form; RFC 4180 quoting and CRLF row ends (a lone ``\r`` in a cell
is quoted too). Events other than ``Sample`` are ignored by design and counted
per type in ``statistics().extra["ignored"]`` (not drops: they were never
meant for this output).

Spec: ``csv:PATH[,level=N][,flush=S][,buffer=BYTES]``. Policy ``block``.
"""

from __future__ import annotations

import csv as _csv
import io
from collections.abc import Sequence
from typing import Annotated, Any, ClassVar, Final

import msgspec

from ..errors import UsageError
from ..events import DerivedEvent, HistogramSummary, Metrics, Sample
from ._base import Policy, SinkContext
from ._output import (
    DEFAULT_BUFFER_BYTES,
    DEFAULT_FLUSH_INTERVAL_S,
    BufferedSink,
    open_output,
    parse_path_arg,
)
from ._registry import register

_DICTS: Final = ("gauges", "declared")  # open-ended names: no fixed columns (declared: per run, below)
DECLARED_PREFIX: Final = "declared_"


def _struct_of(tp: Any) -> type[msgspec.Struct] | None:
    """The Struct class of a ``SomeStruct | None`` field type, else None."""
    for arg in getattr(tp, "__args__", ()):
        if isinstance(arg, type) and issubclass(arg, msgspec.Struct):
            return arg
    return None


_FIELDS: Final = msgspec.structs.fields(Sample)
NESTED: Final[tuple[tuple[str, type[msgspec.Struct]], ...]] = tuple(
    (f.name, cls) for f in _FIELDS if (cls := _struct_of(f.type)) is not None
)
SCALAR_FIELDS: Final[tuple[str, ...]] = tuple(
    f.name for f in _FIELDS if f.name not in _DICTS and _struct_of(f.type) is None
)
METRIC_FIELDS: Final[tuple[str, ...]] = Metrics.__struct_fields__  # smooth_<m>, ema_<m>
NESTED_COLUMNS: Final[tuple[str, ...]] = tuple(
    f"{name}_{sub}" for name, cls in NESTED for sub in cls.__struct_fields__
)
# The latency histograms the benchmark reports (HistogramSummary.metric) and the percentiles of
# each window's distribution that become columns: <metric>_<q>, after every Sample column.
LATENCY_METRICS: Final = ("chan_latency_ns", "task_start_latency_ns", "task_body_ns", "tick_jitter_ns")
QUANTILES: Final = ("p50", "p90", "p99", "p999")
LATENCY_COLUMNS: Final[tuple[str, ...]] = tuple(f"{m}_{q}" for m in LATENCY_METRICS for q in QUANTILES)
# smooth and ema are the first Struct fields, so their columns follow the scalars
COLUMNS: Final[tuple[str, ...]] = SCALAR_FIELDS + NESTED_COLUMNS + LATENCY_COLUMNS
_LATENCY: Final = frozenset(LATENCY_COLUMNS)
_NESTED_PLAN: Final[dict[str, tuple[int, str | None]]] = {
    f"{name}_{sub}": (Sample.__struct_fields__.index(name), sub)
    for name, cls in NESTED
    for sub in cls.__struct_fields__
}


class CsvConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """``path``: output file (suffix picks gzip/zstd) or ``-`` for stdout."""

    path: str
    columns: list[str] | None = None  # subset of COLUMNS, in this order
    level: int | None = None
    flush_interval_s: Annotated[float, msgspec.Meta(ge=0)] = DEFAULT_FLUSH_INTERVAL_S
    buffer_bytes: Annotated[int, msgspec.Meta(ge=1)] = DEFAULT_BUFFER_BYTES


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if v is True:
        return "true"
    if v is False:
        return "false"
    return v


@register
class CsvSink(BufferedSink):
    name: ClassVar[str] = "csv"
    Config: ClassVar[type[msgspec.Struct]] = CsvConfig
    policy: ClassVar[Policy] = "block"
    summary: ClassVar[str] = "one CSV row per sample, header once, fixed columns (.gz/.zst by suffix)"

    config: CsvConfig

    def __init__(self, config: msgspec.Struct, ctx: SinkContext) -> None:
        super().__init__(config, ctx)
        self._ignored: dict[str, int] = {}
        self._unwritten: dict[str, int] = {}
        self._text = io.StringIO()
        self._writer = _csv.writer(self._text)  # RFC 4180: CRLF rows, so a lone \r in a cell is quoted
        self.columns: tuple[str, ...] = self._pick_columns()
        self._plan_ = self._plan()
        # the window being assembled: its samples and their latency cells, until the next window
        self._held: list[tuple[Sample, dict[str, float | None]]] = []

    def _pick_columns(self) -> tuple[str, ...]:
        wanted = self.config.columns
        meta = self.ctx.declarations
        known = COLUMNS + tuple(DECLARED_PREFIX + m.name for m in (meta.metrics if meta is not None else ()))
        if wanted is None:
            return known
        unknown = [c for c in wanted if c not in known]
        if unknown:
            raise UsageError(f"csv: unknown column(s) {', '.join(unknown)} (known: {', '.join(known)})")
        if not wanted:
            raise UsageError("csv: columns is empty")
        return tuple(wanted)

    @staticmethod
    def parse_arg(arg: str) -> dict[str, Any]:
        fields = parse_path_arg(arg, sink="csv", ints=("level", "buffer"), floats=("flush",))
        if "flush" in fields:
            fields["flush_interval_s"] = fields.pop("flush")
        if "buffer" in fields:
            fields["buffer_bytes"] = fields.pop("buffer")
        return fields

    async def open(self) -> None:
        output = open_output(
            self.config.path, force=self.ctx.force, stdout=self.ctx.stdout, level=self.config.level
        )
        out = self._attach_output(
            output, buffer_bytes=self.config.buffer_bytes, flush_interval_s=self.config.flush_interval_s
        )
        self._writer.writerow(self.columns)
        self._drain_text()
        out.add(0)

    def _drain_text(self) -> None:
        assert self._out is not None
        self._out.buf.extend(self._text.getvalue().encode())
        self._text.seek(0)
        self._text.truncate()

    def _plan(self) -> list[tuple[int, str | None]]:
        """Per column: (index into astuple(Sample), None) for a scalar, (index, field) inside a Struct,
        (-1, column) for a latency percentile, (-2, metric) for a declared metric."""
        index = {f.name: i for i, f in enumerate(msgspec.structs.fields(Sample))}
        return [
            _NESTED_PLAN[col]
            if col in _NESTED_PLAN
            else (-1, col)
            if col in _LATENCY
            else (-2, col.removeprefix(DECLARED_PREFIX))
            if col not in index
            else (index[col], None)
            for col in self.columns
        ]

    def _count_unwritten(self, gauges: dict[str, float]) -> None:
        for k in gauges:
            key = "gauges_" + k
            self._unwritten[key] = self._unwritten.get(key, 0) + 1

    def row(self, s: Sample, latency: dict[str, float | None] | None = None) -> list[Any]:
        """The cells of ``s`` (and its window's latency percentiles) in this sink's column order."""
        if s.gauges:
            self._count_unwritten(s.gauges)
        values = msgspec.structs.astuple(s)
        lat = latency or {}
        own = s.declared or {}
        return [
            _cell(own.get(sub or ""))
            if i == -2
            else _cell(lat.get(sub or ""))
            if i < 0
            else _cell(values[i])
            if sub is None
            else _cell(getattr(values[i], sub, None))
            for i, sub in self._plan_
        ]

    def _hold(self, s: Sample) -> int:
        """Keep ``s`` until its window's histograms have passed; write the previous window. Rows written."""
        done = self._release() if self._held and self._held[0][0].ts_ns != s.ts_ns else 0
        self._held.append((s, {}))
        return done

    def _percentiles(self, h: HistogramSummary) -> None:
        if h.scope != "window" or h.metric not in LATENCY_METRICS:
            return
        for s, lat in self._held:
            if s.ts_ns == h.ts_ns and h.pool in (s.pool, "all"):
                for q in QUANTILES:
                    lat[f"{h.metric}_{q}"] = getattr(h, q)

    def _release(self) -> int:
        for s, lat in self._held:
            self._writer.writerow(self.row(s, lat))
        n = len(self._held)
        self._held.clear()
        return n

    async def send(self, batch: Sequence[DerivedEvent]) -> None:
        out = self._out
        assert out is not None, "send() before open()"
        self._received += len(batch)
        rows = 0
        for event in batch:
            if type(event) is Sample:
                if out.broken or out.failed:
                    self.count_drop("broken_pipe" if out.broken else "output_error")
                    continue
                rows += self._hold(event)
                continue
            if type(event) is HistogramSummary:
                self._percentiles(event)
            t = str(event.__struct_config__.tag)
            self._ignored[t] = self._ignored.get(t, 0) + 1
        if rows:
            self._drain_text()
            out.add(rows)
        await out.maybe_flush()

    async def aclose(self) -> None:
        out = self._out
        if out is not None and self._held and not (out.broken or out.failed):
            rows = self._release()
            self._drain_text()
            out.add(rows)
        await super().aclose()

    def own_statistics(self) -> dict[str, Any]:
        return {
            "columns": len(self.columns),
            "ignored": dict(self._ignored),
            "unwritten_keys": dict(self._unwritten),
        }
