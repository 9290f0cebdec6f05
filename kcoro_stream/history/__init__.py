"""Run history (contract 9): every recorded run's summary.json, queried with DuckDB; retention.

::

    runloop.run ─► RUN_DIR/summary.json            (_record: atomic, one JSON line; no DuckDB)
    RUNS_DIR… ─► _query.load_runs ─ DuckDB read_json_objects(file list) ─► [RunRow]   (a damaged file: one warning)
                   ├─ _series: runs grouped by host, mode and benchmark knobs ─► trends
                   ├─ _changes: level shifts per series (binary segmentation + permutation test)
                   ├─ _render: table · JSON
                   └─ _export: Parquet (DuckDB COPY of the same rows)
    RUNS_DIR ─► _prune: only recognizable run directories not in use; dry run unless told

DuckDB (and numpy, ruptures) are imported only inside the commands that query: a plain run never
loads them, and no process keeps a database open, so concurrent runs never collide.
"""

from ._commands import HistoryResult, export_parquet, history
from ._prune import PruneChoice, RunDir, choose_prunes, parse_age, prune
from ._record import SUMMARY_FORMAT, SUMMARY_NAME, SUMMARY_VERSION, RunRecord, iso_utc, write_summary

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
