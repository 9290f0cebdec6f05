"""History over hostile summary files: each bad one skipped and named, the query goes on."""

from __future__ import annotations

import json
import os
from pathlib import Path

from history.test_history import fake_run, ks
from kcoro_stream.history import SUMMARY_NAME


def test_huge_pretty_deep_and_fifo_summaries_are_skipped_and_named(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    for i in range(3):
        fake_run(runs, i, 1e6 * (i + 1))
    pretty = fake_run(runs, 3, 4e6) / SUMMARY_NAME
    pretty.write_text(json.dumps(json.loads(pretty.read_text()), indent=2) + "\n")  # jq . > summary.json
    huge = fake_run(runs, 4, 1.0) / SUMMARY_NAME
    body = json.loads(huge.read_text())
    body["padding"] = "x" * (40 << 20)  # over DuckDB's 32 MiB object limit
    huge.write_text(json.dumps(body))
    deep = fake_run(runs, 5, 1.0) / SUMMARY_NAME
    deep.write_text("[" * 100_000 + "]" * 100_000)
    fifo = fake_run(runs, 6, 1.0) / SUMMARY_NAME
    fifo.unlink()
    os.mkfifo(fifo)
    r = ks(tmp_path, "history", "--json")
    assert "Traceback" not in r.stderr and r.returncode == 1, r.stderr
    values = [x["value"] for x in json.loads(r.stdout)["runs"]]
    assert values == [1e6, 2e6, 3e6, 4e6]  # the pretty-printed one is read
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 3, lines
    assert "20261101-000004-aaaaaa/summary.json" in lines[0] and "larger than" in lines[0]
    assert "20261101-000005-aaaaaa/summary.json" in lines[1] and "nested too deeply" in lines[1]
    assert "20261101-000006-aaaaaa/summary.json" in lines[2] and "not a regular file" in lines[2]


def test_a_metric_of_1e308_prints_sanely_and_changes_leak_no_warnings(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    for i, v in enumerate([1.0, 1e308, 1e308, 1.0, 1e308, 1.0, 1e308, 1e308]):
        fake_run(runs, i, v)
    r = ks(tmp_path, "history", "--changes")
    assert r.returncode == 0, r.stderr
    assert "Warning" not in r.stderr and "RuntimeWarning" not in r.stderr, r.stderr
    assert max(len(line) for line in r.stdout.splitlines()) < 200, r.stdout
