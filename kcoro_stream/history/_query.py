"""Reading run summaries with DuckDB: one query over the list of summary.json files, no database file.

::

    RUNS_DIR… ─find_summaries─► [RUNS_DIR/<run>/summary.json, …] (+ run directories without one)
       └─ open_runs ─► DuckDB (in memory) table ``runs``: one row per good summary, typed columns,
                        the chosen metric as ``value``, ``--where`` applied; damaged files named, skipped

Each summary is read by ``records.read_summary`` (typed, one reader) and
handed to DuckDB re-encoded on one line: a damaged file (not JSON, not a
summary, a field of the wrong type) is named in one warning with its reason,
and the query goes on over the others.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from .._extras import needs
from ..errors import UsageError
from ..records import SUMMARY_NAME, RecordError, read_summary

__all__ = ["Found", "Skipped", "count_rows", "find_summaries", "metric_names", "open_runs", "where_path"]

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_:]*$")
_TOP = ("run_id", "source", "mode", "state", "exit_code", "end_reason", "workers")
_FINGERPRINT = ("host", "git", "compiler", "flags", "cpu", "kernel")


@dataclass
class Skipped:
    file: Path
    reason: str


@dataclass
class Found:
    files: list[Path] = field(default_factory=list)
    without_summary: list[Path] = field(default_factory=list)  # run directories (log segments) but no summary


def _is_run_dir(d: Path) -> bool:
    try:
        return any(n.startswith("segment-") and n.endswith(".kcslog") for n in os.listdir(d))
    except OSError:
        return False


def find_summaries(dirs: list[Path]) -> Found:
    """Every ``summary.json`` in each directory (a run directory) or one level down (runs, results)."""
    found = Found()
    for d in dirs:
        if not d.is_dir():
            what = "not a directory" if d.exists() else "no such directory"
            raise UsageError(f"{d}: {what} (give a runs or results directory)")
        own = d / SUMMARY_NAME
        if own.is_file():
            found.files.append(own)
            continue
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError as err:
            raise UsageError(f"{d}: cannot list: {err.strerror}") from None
        for entry in entries:
            if not entry.is_dir():
                continue
            f = Path(entry.path) / SUMMARY_NAME
            if os.path.exists(f) and not os.path.isdir(f):  # a FIFO or device too: named when skipped
                found.files.append(f)
            elif _is_run_dir(Path(entry.path)):
                found.without_summary.append(Path(entry.path))
    return found


def where_path(key: str) -> str:
    """The JSON path of a ``--where`` key: a summary field, a fingerprint field, SECTION.KEY of the
    configuration, or any dotted path into summary.json."""
    from ..config import SECTIONS

    parts = key.split(".")
    if not all(_KEY.match(p) for p in parts):
        raise UsageError(f"--where {key}: a key is letters, digits and _ separated by dots")
    if len(parts) == 1 and parts[0] in _FINGERPRINT:
        return f"$.fingerprint.{parts[0]}"
    if len(parts) == 2 and parts[0] in SECTIONS:
        return f'$.config.config.{parts[0]}."{parts[1]}".value'
    return "$." + ".".join(f'"{p}"' for p in parts)


_COLUMNS = f"""
    file,
    regexp_replace(file, '/?{SUMMARY_NAME}$', '') AS dir,
    json->>'run_id' AS run_id,
    TRY_CAST(json->>'started' AS TIMESTAMPTZ) AS started,
    TRY_CAST(json->>'ended' AS TIMESTAMPTZ) AS ended,
    TRY_CAST(json->>'duration_s' AS DOUBLE) AS duration_s,
    json->>'source' AS source,
    json->>'mode' AS mode,
    TRY_CAST(json->>'workers' AS INTEGER) AS workers,
    json->>'state' AS state,
    TRY_CAST(json->>'exit_code' AS INTEGER) AS exit_code,
    json->>'end_reason' AS end_reason,
    json->'fingerprint'->>'host' AS host,
    json->'fingerprint'->>'git' AS git,
    json->'fingerprint'->>'compiler' AS compiler,
    json->'fingerprint'->>'flags' AS flags,
    json->'fingerprint'->>'cpu' AS cpu,
    json->'fingerprint'->>'kernel' AS kernel,
    CAST(json->'config'->'config'->'bench' AS VARCHAR) AS bench,
    TRY_CAST(json->'metrics' AS MAP(VARCHAR, DOUBLE)) AS metrics,
    CAST(json->'config' AS VARCHAR) AS config,
    CAST(json->'fingerprint' AS VARCHAR) AS fingerprint,
    CAST(json->'noise' AS VARCHAR) AS noise
"""


MAX_SUMMARY_BYTES = 16 << 20  # ours are a few KiB


def _read_summaries(
    files: list[Path], added: Mapping[str, Mapping[str, float]] | None = None
) -> tuple[dict[str, str], dict[str, str]]:
    """({file: its typed record re-encoded on one line}, {file: why it was not read}) for ``files``;
    ``added``: metrics computed for a file's run since (``history --pipeline``), joined to its own."""
    texts: dict[str, str] = {}
    unread: dict[str, str] = {}
    for f in files:
        try:
            rec = read_summary(f, MAX_SUMMARY_BYTES)
            more = (added or {}).get(str(f))
            if more:
                rec = msgspec.structs.replace(rec, metrics={**more, **rec.metrics})
            texts[str(f)] = msgspec.json.encode(rec).decode()
        except RecordError as e:
            unread[str(f)] = e.reason
    return texts, unread


def open_runs(
    files: list[Path],
    metric: str | None,
    where: list[str],
    added: Mapping[str, Mapping[str, float]] | None = None,
) -> tuple[Any, list[Skipped]]:
    """An in-memory DuckDB connection holding table ``runs`` (ordered by start) and the skipped files.

    ``value`` is ``metric`` of each run (None: null, the caller picks each run's headline)."""
    with needs("history", "history"):
        import duckdb

    if metric is not None and not _KEY.match(metric):
        raise UsageError(f"--metric {metric}: a metric name is letters, digits, _ and :")
    con = duckdb.connect(":memory:")
    con.execute("SET enable_progress_bar = false")  # stdout is ours (the table, or JSON)
    con.execute("SET TimeZone = 'UTC'")  # started/ended are UTC instants (Parquet: isAdjustedToUTC)
    names = [str(f) for f in files]
    con.execute("CREATE TABLE listed AS SELECT unnest(?::VARCHAR[]) AS file", [names])
    # Read here, not by DuckDB: one oversized, pretty-printed, deeply nested or FIFO summary.json
    # is skipped and named instead of failing the whole query (DuckDB's object size limit).
    texts, unread = _read_summaries(files, added)
    con.execute("CREATE TABLE raw(file VARCHAR, json JSON)")
    if texts:
        con.execute(
            "INSERT INTO raw SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[])::JSON",
            [list(texts), list(texts.values())],
        )
    con.execute(
        """CREATE TABLE checked AS
           SELECT l.file, count(r.file) AS n, any_value(r.json) AS json
           FROM listed l LEFT JOIN raw r USING (file) GROUP BY l.file""",
    )
    good = "n = 1"  # records.read_summary checked each file (format, version, every field)
    skipped = [
        Skipped(Path(f), unread.get(f) or f"{n} JSON values, expected one")
        for f, n in con.execute(f"SELECT file, n FROM checked WHERE NOT ({good}) ORDER BY file").fetchall()
    ]
    conds, params = [good], []
    for w in where:
        key, eq, value = w.partition("=")
        if not eq or not key:
            raise UsageError(f"--where {w}: expected KEY=VALUE (e.g. mode=tasks, bench.workers=2)")
        path = where_path(key)
        seen = count_rows(
            con,
            f"SELECT count(*) FROM checked WHERE {good} AND json_extract(json, ?) IS NOT NULL "
            "AND json_type(json_extract(json, ?)) <> 'NULL'",
            [path, path],
        )
        if not seen and count_rows(con, f"SELECT count(*) FROM checked WHERE {good}", []):
            raise UsageError(
                f"--where {key}: no run has this key (try mode, state, source, host, git, workers, "
                "SECTION.KEY of the configuration like bench.workers, or a path like manifest.step)"
            )
        conds.append("json_extract_string(json, ?) = ?")
        params += [path, value]
    value = "TRY_CAST(json_extract(json, ?) AS DOUBLE)" if metric is not None else "CAST(NULL AS DOUBLE)"
    con.execute(
        f"""CREATE TABLE runs AS
            SELECT {_COLUMNS}, {value} AS value
            FROM checked WHERE {" AND ".join(conds)}
            ORDER BY started NULLS LAST, run_id""",
        [f'$.metrics."{metric}"', *params] if metric is not None else params,
    )
    return con, skipped


def count_rows(con: Any, sql: str, params: list[Any]) -> int:
    row = con.execute(sql, params).fetchone()
    return int(row[0]) if row else 0


def metric_names(con: Any) -> list[str]:
    """Every metric some listed run has (for the error on an unknown ``--metric``)."""
    rows = con.execute("SELECT DISTINCT unnest(map_keys(metrics)) AS k FROM runs ORDER BY k").fetchall()
    return [r[0] for r in rows]
