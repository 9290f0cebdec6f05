"""The write side of run history: every recorded run leaves ``summary.json`` in its run directory.

::

    runloop.run ── RunRecord (what the run loop already saw: config Mark, RunStarted, RunEnded,
                   │           last Summary per pool, last cumulative histogram per pool and metric,
                   │           the figures compare reads: _figures.RunFigures over every derived event)
                   └─ write_summary(run_dir) ─► RUN_DIR/summary.json  (one JSON line; tmp + fsync + rename)

One JSON object on one line, so DuckDB can read thousands of them as
newline-delimited JSON and skip (and name) a damaged one instead of failing
the whole query. Nothing here imports DuckDB: a plain run stays light.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from .._files import FILE_MODE, publish
from ..errors import LogError
from ..events import HistogramSummary, RunEnded, RunStarted, Summary
from ..records import SUMMARY_FORMAT, SUMMARY_NAME, SUMMARY_VERSION, RunSummary

__all__ = [
    "RunRecord",
    "iso_utc",
    "write_summary",
]

QUANTILES = ("p50", "p90", "p99", "p999")


def iso_utc(t: float) -> str:
    """Wall time as ISO 8601 UTC with milliseconds (``2026-11-30T10:15:00.123Z``)."""
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class RunRecord:
    """What a run leaves in its summary, filled by the run loop as the run goes."""

    run_id: str
    source: str
    run_dir: Path | None = None  # where a live run is recorded (its summary.json goes there)
    started_wall: float = field(default_factory=time.time)
    marks: list[Any] = field(default_factory=list)
    started: RunStarted | None = None
    ended: RunEnded | None = None
    summaries: list[Summary] = field(default_factory=list)
    histograms: list[HistogramSummary] = field(default_factory=list)
    figures: dict[str, float] | None = None  # history/_figures.py (None: nothing was derived)
    state: str = "finished"  # the source's outcome: finished stopped lost failed; or interrupted, error
    exit_code: int = 0
    message: str = ""

    def config(self) -> dict[str, Any] | None:
        """The body of the run's ``config`` Mark (effective configuration with origins), if it logged one."""
        from ..config._apply import recorded_in  # not the package: a plain run needs no resolver

        return recorded_in(self.marks)

    def mode(self) -> str | None:
        if self.started is not None:
            return self.started.mode
        cfg = (self.config() or {}).get("config") or {}
        value = (cfg.get("run") or {}).get("mode") or {}
        return value.get("value") if isinstance(value, dict) else None

    def metrics(self) -> dict[str, float]:
        """Flat figures for queries: each Summary's averages (with a pipeline's declared metrics'
        averages, ``Summary.declared_figures``) and each latency's percentiles.

        One pool: plain names (``tasks_per_s``, ``task_start_latency_ns_p99``). Several pools
        (dual): ``POOL:NAME`` for every value, and the plain name when only one pool has it.
        """
        per_pool: dict[str, dict[str, float]] = {}
        for s in self.summaries:
            for name, v in msgspec.structs.asdict(s.avg).items():
                if isinstance(v, int | float):
                    per_pool.setdefault(s.pool, {})[name] = float(v)
            for f in s.declared_figures or ():  # a pipeline's own metrics (kcoro_stream.analysis)
                if f.avg is not None:
                    per_pool.setdefault(s.pool, {})[f.name] = f.avg
        for h in self.histograms:
            for q in QUANTILES:
                v = getattr(h, q)
                if v is not None:
                    per_pool.setdefault(h.pool, {})[f"{h.metric}_{q}"] = float(v)
        if len(per_pool) <= 1:
            return next(iter(per_pool.values()), {})
        out: dict[str, float] = {}
        owners: dict[str, list[str]] = {}
        for pool, values in per_pool.items():
            for name, v in values.items():
                out[f"{pool}:{name}"] = v
                owners.setdefault(name, []).append(pool)
        for name, pools in owners.items():
            if len(pools) == 1:
                out[name] = per_pool[pools[0]][name]
        return out

    def to_summary(self, ended_wall: float) -> RunSummary:
        from ._noise import noise_fingerprint, run_fingerprint

        config = self.config()
        return RunSummary(
            format=SUMMARY_FORMAT,
            version=SUMMARY_VERSION,
            run_id=self.run_id,
            producer_run_id=self.started.run_id if self.started is not None else None,
            started=iso_utc(self.started_wall),
            ended=iso_utc(ended_wall),
            duration_s=round(ended_wall - self.started_wall, 3),
            source=self.source,
            mode=self.mode(),
            workers=self.started.workers if self.started is not None else None,
            state=self.state,
            exit_code=self.exit_code,
            end_reason=self.ended.reason if self.ended is not None else None,
            message=self.message,
            config=config,
            manifest=(config or {}).get("manifest"),
            fingerprint=run_fingerprint(self.started),
            noise=noise_fingerprint(),
            metrics=dict(self.metrics()),
            summaries=[msgspec.to_builtins(s) for s in self.summaries],
            figures=dict(self.figures) if self.figures is not None else None,
        )


def write_summary(run_dir: Path, record: RunRecord) -> Path:
    """Write ``run_dir/summary.json`` atomically: readers see no file or a whole one, never half."""
    path = run_dir / SUMMARY_NAME
    data = msgspec.json.encode(record.to_summary(time.time())) + b"\n"  # NaN/inf → null: valid JSON
    try:
        publish(path, data, mode=FILE_MODE)  # private like the rest of the run directory
    except OSError as e:
        raise LogError(f"{path}: cannot write the run summary: {e.strerror or e}") from None
    return path
