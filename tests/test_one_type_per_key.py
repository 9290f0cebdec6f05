"""One type per JSON key across line types (schema 5): DuckDB reads a run's NDJSON without casts, and
schema-4 lines (per-worker arrays under the plain names) still validate."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import msgspec

from kcoro_stream.events import DERIVED_TYPES
from kcoro_stream.validate import validate_file

KS = [sys.executable, "-m", "kcoro_stream"]


def test_every_key_has_one_kind_of_value_across_line_types() -> None:
    kinds: dict[str, set[bool]] = {}
    for t in DERIVED_TYPES:
        for f in msgspec.structs.fields(t):
            kinds.setdefault(f.encode_name, set()).add("list[" in str(f.type))
    assert {k: v for k, v in kinds.items() if len(v) > 1} == {}


def test_duckdb_avg_fastpath_ratio_over_a_run_without_casts(tmp_path: Path) -> None:
    out = tmp_path / "run.ndjson"
    r = subprocess.run(
        [*KS, "run", "--mode", "tasks", "--no-log", "-H", "-d", "1.2", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert {"sample", "heatmap", "os"} <= {x["type"] for x in lines}
    samples = [
        x["fastpath_ratio"] for x in lines if x["type"] == "sample" and x["fastpath_ratio"] is not None
    ]
    con = duckdb.connect()
    (avg,) = con.execute(
        "SELECT avg(fastpath_ratio) FROM read_json_auto(?) WHERE type = 'sample'", [str(out)]
    ).fetchone()
    assert abs(avg - sum(samples) / len(samples)) < 1e-9
    (workers,) = con.execute(
        "SELECT max(workers) FROM read_json_auto(?) WHERE type = 'sample'", [str(out)]
    ).fetchone()
    assert workers >= 1


def test_schema_4_heatmap_and_os_lines_still_validate(tmp_path: Path) -> None:
    old = tmp_path / "old.ndjson"
    heat = {
        "type": "heatmap", "schema": 4, "ts": 1.0, "ts_ns": 1, "run_id": "r", "pool": "tasks",
        "window_ns": 250_000_000, "workers": [0, 1], "utilisation": [0.5, None],
        "steals_succeeded": [1, 0], "steals_failed": [0, 0], "fastpath_ratio": [0.9, None], "imbalance": 0.1,
    }  # fmt: skip
    old.write_text(json.dumps(heat) + "\n" + json.dumps({**heat, "schema": 5}) + "\n")
    report = validate_file(old)
    assert report.types == {"heatmap": 1}
    assert len(report.problems) == 1 and report.problems[0].line == 2
