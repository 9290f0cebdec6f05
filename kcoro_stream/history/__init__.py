"""Run history (contract 9): every recorded run's summary.json, queried with DuckDB; retention.

::

    runloop.run ─► RUN_DIR/summary.json            (_record: atomic, one JSON line; no DuckDB)
    RUNS_DIR… ─► _query.find_summaries ─► _query.open_runs: DuckDB read_json_objects(file list)
                   │                                               (a damaged file: one warning)
                   ├─ _series.read_rows ─► [RunRow]; group_series: by host, mode and knobs ─► trends
                   ├─ _changes.level_shifts: per series (binary segmentation + permutation test)
                   ├─ _render: table · JSON
                   └─ _commands.export_parquet: Parquet (DuckDB COPY of the same rows)
    RUNS_DIR ─► _prune: only recognizable run directories not in use; dry run unless told

DuckDB (and numpy, ruptures) are imported only inside the commands that query: a plain run never
loads them, and no process keeps a database open, so concurrent runs never collide.
"""

from typing import Any

from ..records import SUMMARY_FORMAT, SUMMARY_NAME, SUMMARY_VERSION
from ._record import RunRecord, iso_utc, write_summary

# The run loop imports this package for ``_record`` on every run; the commands load on first use.
_LAZY = {
    "HistoryResult": "_commands",
    "export_parquet": "_commands",
    "history": "_commands",
    "PruneChoice": "_prune",
    "RunDir": "_prune",
    "choose_prunes": "_prune",
    "parse_age": "_prune",
    "prune": "_prune",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "SUMMARY_FORMAT",
    "SUMMARY_NAME",
    "SUMMARY_VERSION",
    "HistoryResult",
    "PruneChoice",
    "RunDir",
    "RunRecord",
    "choose_prunes",
    "export_parquet",
    "history",
    "iso_utc",
    "parse_age",
    "prune",
    "write_summary",
]
