"""A pipeline's own metric and event type through ``replay`` and ``validate`` (a real process, and the CLI in-process):
NDJSON (a ``meta`` line first), validate with no extra flag, the CSV column, no meta in ``-j``."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kcoro_stream.cli import cli
from kcoro_stream.validate import validate_file

ROOT = Path(__file__).resolve().parents[2]
OWN = Path(__file__).resolve().parent / "own_pipeline.py"
DUAL = ROOT / "bench_data" / "logs" / "dual-v1"
LEGACY = ROOT / "bench_data" / "legacy" / "channel_schema2.ndjson"


def ks(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KCORO_STREAM_")}
    env["XDG_CONFIG_HOME"] = str(cwd / ".xdg")
    return subprocess.run(
        [sys.executable, "-m", "kcoro_stream", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("own")
    r = ks(tmp, "replay", str(DUAL), str(OWN), "--sink", f"ndjson:{tmp / 'out.ndjson.zst'}",
           "--sink", f"csv:{tmp / 'out.csv'}", "-j", str(tmp / "legacy.ndjson"), "--no-stdout")  # fmt: skip
    assert r.returncode == 0, r.stderr
    return tmp


def lines(path: Path) -> list[dict]:
    import zstandard

    with zstandard.open(path, "rt") as f:
        return [json.loads(line) for line in f]


def test_ndjson_begins_with_the_meta_line_and_carries_metric_and_event(replayed: Path) -> None:
    out = lines(replayed / "out.ndjson.zst")
    meta = out[0]
    assert meta["type"] == "meta" and meta["pipeline"] == "own_pipeline"
    assert meta["metrics"] == [
        {"name": "cpu_time_per_task", "unit": "ns", "help": "CPU time per completed task",
         "higher_is_better": False, "version": 2}
    ]  # fmt: skip
    assert meta["events"][0]["fields"] == {"cpu_pct": "float", "cpu_time_per_task": "float | None"}
    assert [x["type"] for x in out].count("meta") == 1
    samples = [x for x in out if x["type"] == "sample"]
    assert all(set(s["declared"]) == {"cpu_time_per_task"} for s in samples)
    busy = [x for x in out if x["type"] == "busy_pool"]
    assert [(b["pool"], b["window"]) for b in busy] == [("tasks", 1), ("tasks", 2)]
    for b in busy:  # right after its Sample, with that Sample's declared value
        s = next(s for s in samples if s["pool"] == b["pool"] and s["window"] == b["window"])
        assert (
            b["cpu_time_per_task"]
            == s["declared"]["cpu_time_per_task"]
            == pytest.approx(s["resources"]["cpu_pct"] / 100 * 1e9 / s["tasks_per_s"])
        )


def test_validate_accepts_the_declared_types_with_no_flag(replayed: Path) -> None:
    r = CliRunner().invoke(cli, ["validate", str(replayed / "out.ndjson.zst")])
    assert r.exit_code == 0, r.output
    assert "busy_pool 2" in r.output and "meta 1" in r.output and ": ok:" in r.output


def test_without_its_meta_line_the_declared_lines_are_problems(replayed: Path) -> None:
    body = "".join(json.dumps(x) + "\n" for x in lines(replayed / "out.ndjson.zst")[1:])
    (replayed / "cut.ndjson").write_text(body)
    reasons = {p.reason for p in validate_file(replayed / "cut.ndjson").problems}
    assert any(r.startswith("unknown type 'busy_pool'") for r in reasons)
    assert "invalid sample: declared metric 'cpu_time_per_task' is not in the file's meta line" in reasons


def test_csv_has_the_declared_column(replayed: Path) -> None:
    with (replayed / "out.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows and list(rows[0])[-1] == "declared_cpu_time_per_task"
    by_window = {(r["pool"], r["window"]): r["declared_cpu_time_per_task"] for r in rows}
    assert by_window[("tasks", "0")] == ""  # no CPU figure in the first window
    assert float(by_window[("tasks", "1")]) > 0


def test_legacy_json_has_no_meta_line(replayed: Path) -> None:
    first = json.loads((replayed / "legacy.ndjson").read_text().splitlines()[0])
    assert "type" not in first or first["type"] != "meta"


def test_an_old_kcoro_mon_recording_replays_through_it(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["replay", str(LEGACY), str(OWN), "--out", str(tmp_path / "old.ndjson")])
    assert r.exit_code == 0, r.output
    out = [json.loads(x) for x in (tmp_path / "old.ndjson").read_text().splitlines()]
    assert out[0]["type"] == "meta"
    samples = [x for x in out if x["type"] == "sample"]
    # channel lines: no tasks, so no CPU per task (null); kcoro_mon's cpu was above 50 % in every line
    assert samples and all(s["declared"] == {"cpu_time_per_task": None} for s in samples)
    assert [x["type"] for x in out].count("busy_pool") == len(samples)
    assert validate_file(tmp_path / "old.ndjson").ok


def test_a_metric_that_raises_is_one_line_exit_2(tmp_path: Path) -> None:
    f = tmp_path / "bad.py"
    f.write_text(OWN.read_text().replace("return cpu * 1e9 / s.tasks_per_s", "return cpu / 0"))
    r = ks(tmp_path, "replay", str(DUAL), str(f), "--out", str(tmp_path / "x.ndjson"))
    assert r.returncode == 2
    err = r.stderr.strip().splitlines()
    assert (
        err[-1].startswith(f"kcoro-stream: {f}:")
        and "metric 'cpu_time_per_task' raised ZeroDivisionError" in err[-1]
    )
    assert "Traceback" not in r.stderr
