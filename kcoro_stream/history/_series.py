"""Runs as rows, grouped into series: the runs whose figures may be compared across time.

A series is one host, one mode and one set of benchmark knobs (those the run
set, plus the workers it used): ``tasks workers=2 batch=16 @ ci-box``. Runs
of another configuration are another series, so a change of knobs is never
taken for a level shift.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from ..records import headline_metric
from ._changes import ALPHA, Shift, level_shifts

__all__ = ["RunRow", "Series", "group_series", "read_rows"]


@dataclass
class RunRow:
    run_id: str | None
    dir: str
    started: datetime | None
    mode: str | None
    source: str | None
    state: str | None
    exit_code: int | None
    host: str | None
    git: str | None
    workers: int | None
    knobs: dict[str, Any]
    value: float | None
    metric: str | None = None  # the figure ``value`` is (``history`` without --metric: the run's headline)
    pool: str | None = None  # a dual run's pool (one row per pool)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.value is not None

    def to_builtins(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        # DuckDB's TIMESTAMP is naive; summary.json's times are UTC
        d["started"] = self.started.isoformat(timespec="milliseconds") + "Z" if self.started else None
        return d


def _knobs(bench_json: str | None) -> dict[str, Any]:
    try:
        bench = json.loads(bench_json) if bench_json else {}
    except ValueError:
        return {}
    out: dict[str, Any] = {}
    for k, item in sorted((bench or {}).items()):
        v = item.get("value") if isinstance(item, dict) else None
        if v is not None and v is not False and k != "workers":
            out[k] = v
    return out


def read_rows(con: Any, metric: str | None = "") -> list[RunRow]:
    """The runs as rows: ``value`` is ``metric`` (the caller's ``--metric``); with None, each run's
    headline by mode (``records.headline_metric``), a dual run one row per pool."""
    q = (
        "SELECT run_id, dir, timezone('UTC', started) AS started, mode, source, state, exit_code, host, git, "
        "workers, bench, value, metrics FROM runs"
    )
    rows = []
    for r in con.execute(q).fetchall():
        row = RunRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], _knobs(r[10]), r[11], metric)
        rows += [row] if metric is not None else _headline_rows(row, dict(r[12] or {}))
    return rows


def _headline_rows(row: RunRow, metrics: dict[str, float]) -> list[RunRow]:
    """``row`` with its mode's headline figure; a dual run as one row per pool (``POOL:NAME``)."""
    if row.mode != "dual":
        name = headline_metric(row.mode, row.mode or "")
        return [replace(row, metric=name, value=metrics.get(name) if name else None)]
    pools = sorted({k.split(":", 1)[0] for k in metrics if ":" in k}) or ["tasks", "channel"]
    out = []
    for pool in pools:
        name = headline_metric(row.mode, pool)
        if name is not None:
            out.append(replace(row, metric=name, pool=pool, value=metrics.get(f"{pool}:{name}")))
    return out or [replace(row, metric=None, value=None)]


@dataclass
class Series:
    host: str | None
    label: str
    runs: list[RunRow] = field(default_factory=list)
    shifts: list[Shift] = field(default_factory=list)

    @property
    def metric(self) -> str | None:
        """The figure the series lists (a series has one mode and pool, so one headline)."""
        return next((r.metric for r in self.runs if r.metric), None)

    @property
    def ok_runs(self) -> list[RunRow]:
        return [r for r in self.runs if r.ok]

    def trend(self) -> dict[str, float | int | None]:
        vals = [r.value for r in self.ok_runs if r.value is not None]
        if not vals:
            return {"ok_runs": 0, "first": None, "last": None, "median": None, "min": None, "max": None}
        return {
            "ok_runs": len(vals),
            "first": vals[0],
            "last": vals[-1],
            "median": statistics.median(vals),
            "min": min(vals),
            "max": max(vals),
        }

    def find_shifts(self, alpha: float = ALPHA) -> None:
        self.shifts = level_shifts([r.value for r in self.ok_runs if r.value is not None], alpha)


def _label(r: RunRow) -> str:
    parts = [r.mode or "?"]
    if r.pool is not None:
        parts.append(f"pool={r.pool}")
    if r.workers is not None:
        parts.append(f"workers={r.workers}")
    parts += [f"{k}={v}" for k, v in r.knobs.items()]
    return " ".join(parts)


def group_series(rows: list[RunRow]) -> list[Series]:
    """Rows (already in time order) by series, in order of each series' first run."""
    out: dict[tuple[str | None, str], Series] = {}
    for r in rows:
        key = (r.host, _label(r))
        out.setdefault(key, Series(r.host, key[1])).runs.append(r)
    return list(out.values())
