"""What ``history``, ``history export`` and ``runs prune`` do, for the CLI (which only parses flags)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import SinkError, UsageError
from ._changes import ALPHA
from ._query import Skipped, count_rows, find_summaries, metric_names, open_runs
from ._render import to_json, to_table
from ._series import group_series, read_rows

__all__ = ["HistoryResult", "export_parquet", "history"]


@dataclass
class HistoryResult:
    text: str
    skipped: list[Skipped] = field(default_factory=list)
    without_summary: list[Path] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """1 when a summary could not be read (the others are listed), else 0."""
        return 1 if self.skipped else 0


def history(
    dirs: list[Path],
    metric: str | None,
    where: list[str],
    *,
    changes: bool = False,
    as_json: bool = False,
    alpha: float = ALPHA,
    last: int | None = None,
    add_metrics: Callable[[list[Path]], Mapping[str, Mapping[str, float]]] | None = None,
) -> HistoryResult:
    """The runs by series; ``changes``: level shifts significant at ``alpha``; ``last``: the table
    lists each series' last runs only (trends, shifts and the JSON keep every run). ``metric``
    None: each run's headline by mode (``records.headline_metric``), a dual run's per pool.
    ``add_metrics``: summary.json files → metrics to join to theirs (``replays.pipeline_metrics``)."""
    found = find_summaries(dirs)
    added = add_metrics(found.files) if add_metrics is not None else None
    con, skipped = open_runs(found.files, metric, where, added)
    try:
        rows = read_rows(con, metric)
        if metric is not None:
            _require_metric(con, metric, rows)
    finally:
        con.close()
    series = group_series(rows)
    if changes:
        for s in series:
            s.find_shifts(alpha)
    text = to_json(series, metric, changes, skipped) if as_json else to_table(series, metric, changes, last)
    return HistoryResult(text, skipped, found.without_summary)


def _require_metric(con: Any, metric: str, rows: list[Any]) -> None:
    """A metric no listed run has is a usage error (exit 2), not a column of nulls."""
    if rows and all(r.value is None for r in rows):
        known = metric_names(con)
        raise UsageError(f"--metric {metric}: no listed run has it (they have: {', '.join(known) or 'none'})")


def export_parquet(
    dirs: list[Path], to: Path, metric: str, where: list[str], *, force: bool = False
) -> HistoryResult:
    """Every listed run as one Parquet row (written to a temporary name beside ``to``, then renamed)."""
    if to.exists() and not force:
        raise SinkError(f"{to}: exists (add --force to replace it)")
    if to.is_dir():
        raise SinkError(f"{to}: is a directory")
    found = find_summaries(dirs)
    con, skipped = open_runs(found.files, metric, where)
    tmp = to.with_name(f".{to.name}.tmp")
    try:
        _require_metric(con, metric, read_rows(con))
        n = count_rows(con, "SELECT count(*) FROM runs", [])
        try:
            con.execute(f"COPY runs TO '{_sql_str(tmp)}' (FORMAT parquet)")
            os.replace(tmp, to)
        except Exception as e:  # duckdb.IOException and OSError: the path, not the data
            with suppress(OSError):
                tmp.unlink()
            raise SinkError(f"{to}: cannot write: {_first_line(e)}") from None
    finally:
        con.close()
    return HistoryResult(f"{to}: {n} run(s)", skipped, found.without_summary)


def _sql_str(p: Path) -> str:
    return str(p).replace("'", "''")


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]
