"""Run history: summary.json from real runs, the DuckDB listing, level shifts, Parquet export, prune."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pytest

from kcoro_stream.events import Metrics, RunEnded, RunStarted, Summary
from kcoro_stream.history import SUMMARY_NAME, RunRecord, write_summary

KS = [sys.executable, "-m", "kcoro_stream"]


def ks(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KCORO_STREAM_")}
    env["XDG_CONFIG_HOME"] = str(cwd / ".xdg")
    return subprocess.run([*KS, *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env)


def fake_run(
    runs: Path, i: int, value: float, *, git: str = "v1", mode: str = "tasks", host: str = "box"
) -> Path:
    """A run directory whose summary.json is written by the real writer (no log: a synthetic series)."""
    run_id = f"20261101-{i:06d}-aaaaaa"
    d = runs / run_id
    d.mkdir(parents=True)
    rec = RunRecord(run_id, "launch", started_wall=1_790_000_000.0 + 60 * i)
    rec.started = RunStarted(
        0, 0, run_id, mode, {}, 2, host, 1, 1, 1, {"git": git, "flags": "-O2"}, 0, 10_000_000
    )
    rec.ended = RunEnded(0, 0, "duration", 0)
    avg = Metrics(tasks_per_s=value)
    rec.summaries = [
        Summary(ts=0.0, ts_ns=0, mode=mode, samples=10, duration_s=2.0, peak=avg, avg=avg, ema=avg)
    ]
    write_summary(d, rec)
    return d


def history_json(tmp: Path, *args: str) -> dict:
    r = ks(tmp, "history", *args, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_real_plain_runs_and_a_manifest_step_each_write_a_summary_and_history_lists_them(
    tmp_path: Path,
) -> None:
    for i in range(2):
        r = ks(tmp_path, "run", "--producer", "synthetic", "-d", "0.4", "--no-tui", "--out", f"o{i}.ndjson")
        assert r.returncode == 0, r.stderr
    (tmp_path / "m.yaml").write_text("steps:\n  - {name: s, mode: tasks, duration: 300ms}\n")
    r = ks(tmp_path, "manifest", "run", "m.yaml", "--out-dir", "results")
    assert r.returncode == 0, r.stderr
    summaries = sorted((tmp_path / "runs").glob(f"*/{SUMMARY_NAME}")) + sorted(
        (tmp_path / "results").glob(f"*/{SUMMARY_NAME}")
    )
    assert len(summaries) == 3
    body = json.loads(summaries[-1].read_text())
    assert body["state"] == "finished" and body["exit_code"] == 0 and body["end_reason"] == "duration"
    assert body["config"]["manifest"]["step"] == "s"  # the config Mark the run logged, as logged
    assert body["fingerprint"]["git"] and body["noise"]["cpus"] == os.cpu_count()
    assert body["metrics"]["tasks_per_s"] > 0 and "task_start_latency_ns_p99" in body["metrics"]
    assert summaries[-1].read_text().count("\n") == 1  # one JSON line
    listed = history_json(tmp_path, "runs", "results")
    assert sorted(r["run_id"] for r in listed["runs"]) == sorted(
        json.loads(s.read_text())["run_id"] for s in summaries
    )
    only = history_json(tmp_path, "runs", "results", "--where", "manifest.step=s")
    assert [r["run_id"] for r in only["runs"]] == [body["run_id"]]
    assert history_json(tmp_path, "results", "--where", "mode=tasks")["runs"][0]["value"] > 0
    # the id a dashboard, /metrics or remote-write shows finds the run's summary
    seen = json.loads((tmp_path / "o1.ndjson").read_text().splitlines()[0])["run_id"]
    (found,) = history_json(tmp_path, "runs", "--where", f"producer_run_id={seen}")["runs"]
    assert (
        json.loads((tmp_path / "runs" / found["run_id"] / SUMMARY_NAME).read_text())["producer_run_id"]
        == seen
    )


def test_a_failed_run_leaves_a_summary_saying_so(tmp_path: Path) -> None:
    r = ks(tmp_path, "run", "--exec", "--no-tui", "--no-stdout", "-d", "2", "--", "/bin/false")
    assert r.returncode == 1
    (summary,) = (tmp_path / "runs").glob(f"*/{SUMMARY_NAME}")
    body = json.loads(summary.read_text())
    assert (
        body["exit_code"] == 1 and body["state"] == "lost" and "exit" in body["message"]
    )  # the source says how


def test_changes_finds_a_planted_level_shift_at_the_right_run(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    runs = tmp_path / "runs"
    for i in range(24):
        level = 10e6 if i < 14 else 8.5e6  # a 15 % drop from the 15th run on
        fake_run(runs, i, level * (1 + 0.03 * rng.normal()), git=f"v1-{i}-g{i:07x}")
    out = history_json(tmp_path, "--changes")
    (series,) = out["series"]
    (shift,) = series["shifts"]
    assert shift["run_id"] == "20261101-000014-aaaaaa" and shift["git"] == "v1-14-g000000e"
    assert shift["before"] == pytest.approx(10e6, rel=0.03) and shift["after"] == pytest.approx(
        8.5e6, rel=0.03
    )
    assert shift["change"] == pytest.approx(-0.15, abs=0.03)
    text = ks(tmp_path, "history", "--changes").stdout
    assert "level shift at run 20261101-000014-aaaaaa" in text and "git v1-14-g000000e" in text


def test_changes_finds_nothing_in_a_flat_noisy_series(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    for i in range(40):
        noise = rng.standard_t(3) * 0.03  # heavy-tailed, like a shared machine
        fake_run(tmp_path / "runs", i, 10e6 * (1 + noise))
    (series,) = history_json(tmp_path, "--changes")["series"]
    assert series["shifts"] == [] and series["ok_runs"] == 40
    assert "no level shift" in ks(tmp_path, "history", "--changes").stdout


def test_series_are_kept_apart_by_mode_and_host(tmp_path: Path) -> None:
    for i in range(6):
        fake_run(tmp_path / "runs", i, 1e6, mode="tasks" if i % 2 else "channel", host="a" if i < 3 else "b")
    out = history_json(tmp_path)
    assert sorted((s["label"], s["host"]) for s in out["series"]) == [
        ("channel workers=2", "a"),
        ("channel workers=2", "b"),
        ("tasks workers=2", "a"),
        ("tasks workers=2", "b"),
    ]


def test_a_corrupt_summary_among_good_ones_is_one_warning_and_the_others_list(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    for i in range(3):
        fake_run(runs, i, 1e6 + i)
    bad = fake_run(runs, 3, 1.0) / SUMMARY_NAME
    bad.write_text(bad.read_text()[:40])  # torn
    (fake_run(runs, 4, 1.0) / SUMMARY_NAME).write_text('{"format": "something-else"}\n')
    (fake_run(runs, 5, 1.0) / SUMMARY_NAME).write_text('{"run_id": "no format"}\n')
    r = ks(tmp_path, "history", "--json")
    assert r.returncode == 1
    assert [x["value"] for x in json.loads(r.stdout)["runs"]] == [1e6, 1e6 + 1, 1e6 + 2]
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 3
    assert f"runs/{bad.parent.name}/summary.json: damaged JSON; skipped" in lines[0]
    assert "20261101-000004-aaaaaa/summary.json: not a run summary" in lines[1]
    assert "20261101-000005-aaaaaa/summary.json: not a run summary" in lines[2]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["history", "nosuch"], "nosuch: no such directory"),
        (["history", "runs", "--where", "mode"], "--where mode: expected KEY=VALUE"),
        (["history", "runs", "--where", "nokey=1"], "--where nokey: no run has this key"),
        (
            ["history", "runs", "--metric", "nope"],
            "--metric nope: no listed run has it (they have: tasks_per_s)",
        ),
        (["history", "runs", "--metric", "a'b"], "--metric a'b: a metric name is"),
        (
            ["history", "export", "runs", "--metric", "nope", "--parquet", "h.parquet"],
            "--metric nope: no listed run has it (they have: tasks_per_s)",
        ),
        (["runs", "prune", "runs"], "give --keep N or --older-than AGE"),
        (["runs", "prune", "runs", "--older-than", "soon"], "--older-than: expected an age like 30d"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    fake_run(tmp_path / "runs", 0, 1e6)
    r = ks(tmp_path, *args)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and message in r.stderr


def test_parquet_export_reads_back_in_duckdb_with_the_same_rows(tmp_path: Path) -> None:
    for i in range(5):
        fake_run(tmp_path / "runs", i, 1e6 * (i + 1), git=f"g{i}")
    r = ks(tmp_path, "history", "export", "--parquet", "h.parquet")
    assert r.returncode == 0, r.stderr
    listed = history_json(tmp_path)["runs"]
    back = duckdb.connect().execute(
        "SELECT run_id, git, value, metrics['tasks_per_s'], mode, state FROM read_parquet(?) ORDER BY started",
        [str(tmp_path / "h.parquet")],
    )
    assert back.fetchall() == [
        (x["run_id"], x["git"], x["value"], x["value"], x["mode"], x["state"]) for x in listed
    ]
    again = ks(tmp_path, "history", "export", "--parquet", "h.parquet")
    assert again.returncode == 1 and "h.parquet: exists (add --force" in again.stderr


def test_parquet_times_are_utc_instants(tmp_path: Path) -> None:
    """started/ended carry isAdjustedToUTC=true, so pyarrow and pandas read zone-aware UTC times."""
    fake_run(tmp_path / "runs", 0, 1e6)
    r = ks(tmp_path, "history", "export", "--parquet", "h.parquet")
    assert r.returncode == 0, r.stderr
    path = str(tmp_path / "h.parquet")
    con = duckdb.connect()
    schema = dict(
        con.execute(
            "SELECT name, logical_type FROM parquet_schema(?) WHERE name IN ('started', 'ended')", [path]
        ).fetchall()
    )
    assert len(schema) == 2 and all("isAdjustedToUTC=1" in t for t in schema.values()), schema
    con.execute("SET TimeZone = 'America/New_York'")  # a reader elsewhere still gets the same instant
    (started,) = con.execute("SELECT epoch(started) FROM read_parquet(?)", [path]).fetchone()
    listed = history_json(tmp_path)["runs"][0]["started"]
    assert started == datetime.fromisoformat(listed.replace("Z", "+00:00")).timestamp()


def test_an_unwritable_export_path_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    fake_run(tmp_path / "runs", 0, 1e6)
    (tmp_path / "file").write_text("x")
    r = ks(tmp_path, "history", "export", "--parquet", "file/h.parquet")
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "file/h.parquet: cannot write" in r.stderr
    assert (tmp_path / "file").read_text() == "x"


def test_prune_is_a_dry_run_by_default_and_touches_only_run_directories(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    made = [fake_run(runs, i, 1e6) for i in range(5)]
    (runs / "notes").mkdir()
    (runs / "notes" / "keep.txt").write_text("mine")
    (runs / "link").symlink_to(made[0])
    dry = ks(tmp_path, "runs", "prune", "--keep", "2")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == [f"would delete runs/{d.name}" for d in reversed(made[:3])]
    assert all(d.exists() for d in made)
    done = ks(tmp_path, "runs", "prune", "--keep", "2", "--yes")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in runs.iterdir()) == sorted(["link", "notes", made[3].name, made[4].name])
    assert (runs / "notes" / "keep.txt").read_text() == "mine"


def test_prune_older_than_keeps_recent_runs_and_runs_being_recorded(tmp_path: Path) -> None:
    import fcntl

    runs = tmp_path / "runs"
    old, recording = fake_run(runs, 0, 1e6), fake_run(runs, 1, 1e6)  # both started in 2026-09
    fresh = runs / "fresh"
    fresh.mkdir()
    body = json.loads((old / SUMMARY_NAME).read_text())
    body["started"] = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    (fresh / SUMMARY_NAME).write_text(json.dumps(body) + "\n")
    fd = os.open(recording / "writer.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        r = ks(tmp_path, "runs", "prune", "--older-than", "30d", "--yes")
    finally:
        os.close(fd)
    assert r.returncode == 0, r.stderr
    assert not old.exists() and recording.exists() and fresh.exists()
    assert f"in use (recording), kept: runs/{recording.name}" in r.stderr


def test_a_plain_run_does_not_import_duckdb(tmp_path: Path) -> None:
    probe = (
        "import atexit, json, sys\n"
        "atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.stderr))\n"
        "sys.argv = ['kcoro-stream', *sys.argv[1:]]\n"
        "from kcoro_stream.cli import main\n"
        "main()\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", probe, "run", "--producer", "synthetic", "-d", "0.3", "--no-tui", "--no-stdout"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    mods = {m.split(".")[0] for m in json.loads(r.stderr.strip().splitlines()[-1])}
    assert "trio" in mods and not mods & {"duckdb", "ruptures", "numpy"}
    assert list((tmp_path / "runs").glob(f"*/{SUMMARY_NAME}"))  # and it wrote its summary


def test_an_attach_run_writes_its_summary_too(tmp_path: Path) -> None:
    from kcoro_stream.ingest import RingReader

    ring = tmp_path / "r"
    RingReader.create(ring, data_size=1 << 20).close(unlink=False)
    prod = subprocess.Popen(
        [sys.executable, "-m", "kcoro_stream.sources.synthetic", "--ring", str(ring), "--interval-ms", "5", "--duration", "1"]
    )  # fmt: skip
    try:
        r = ks(tmp_path, "attach", str(ring), "--no-tui", "--no-stdout", "--log", "att")
    finally:
        prod.kill()
        prod.wait()
    assert r.returncode == 0, r.stderr
    body = json.loads((tmp_path / "att" / SUMMARY_NAME).read_text())
    assert body["source"] == "attach" and body["exit_code"] == 0 and body["metrics"]["tasks_per_s"] > 0
    assert history_json(tmp_path, "att")["runs"][0]["run_id"] == body["run_id"]


def test_a_run_directory_without_summary_is_noted_once_and_the_rest_list(tmp_path: Path) -> None:
    fake_run(tmp_path / "runs", 0, 1e6)
    killed = tmp_path / "runs" / "killed"
    killed.mkdir()
    (killed / "segment-000001.kcslog").write_bytes(b"KCSLOGv\x01" + bytes(120))
    r = ks(tmp_path, "history", "--json")
    assert r.returncode == 0 and len(json.loads(r.stdout)["runs"]) == 1
    assert r.stderr.count("\n") == 1 and "1 run directory has no summary.json" in r.stderr


def test_p_value_and_last_shape_the_listing(tmp_path: Path) -> None:
    """--p-value below the test's smallest p (1/200) keeps no shift; --last N lists N runs per series
    while the trend still covers them all; bad values are usage errors."""
    rng = np.random.default_rng(7)
    for i in range(24):
        level = 10e6 if i < 14 else 8.5e6
        fake_run(tmp_path / "runs", i, level * (1 + 0.03 * rng.normal()))
    (series,) = history_json(tmp_path, "--changes", "--p-value", "0.004")["series"]
    assert series["shifts"] == []
    (series,) = history_json(tmp_path, "--changes", "--p-value", "0.01")["series"]
    assert len(series["shifts"]) == 1
    r = ks(tmp_path, "history", "--last", "3")
    rows = [ln for ln in r.stdout.splitlines() if ln.startswith("  2026-")]
    assert r.returncode == 0 and len(rows) == 3 and "… 21 earlier run(s) (--last 3)" in r.stdout
    assert rows[-1].split()[2] == "20261101-000023-aaaaaa" and "over 24 ok run(s)" in r.stdout
    for bad in (["--p-value", "0"], ["--p-value", "1.5"], ["--last", "0"]):
        r = ks(tmp_path, "history", *bad)
        assert r.returncode == 2 and bad[0] in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_history_help_lists_the_options_of_a_bare_history() -> None:
    from click.testing import CliRunner

    from kcoro_stream.cli import cli

    r = CliRunner().invoke(cli, ["history", "--help"])
    assert r.exit_code == 0
    for option in ("--metric", "--where", "--changes", "--p-value", "--last", "--json"):
        assert option in r.output, option


def test_without_metric_each_run_lists_its_modes_headline(tmp_path: Path) -> None:
    """Real channel, tasks and dual runs: channel lists msgs/s, tasks tasks/s, dual one series per
    pool with that pool's own (compare's gated metric); an explicit --metric still lists that figure."""
    for mode in ("channel", "tasks", "dual"):
        r = ks(tmp_path, "run", "-m", mode, "-d", "0.6", "--no-tui", "--no-stdout")
        assert r.returncode == 0, r.stderr
    summaries = {
        (b := json.loads(p.read_text()))["mode"]: b["metrics"]
        for p in (tmp_path / "runs").glob(f"*/{SUMMARY_NAME}")
    }
    out = history_json(tmp_path)
    assert out["metric"] is None
    by_label = {s["label"].split(" workers=")[0]: s for s in out["series"]}
    assert set(by_label) == {"channel", "tasks", "dual pool=channel", "dual pool=tasks"}
    want = {
        "channel": ("msgs_per_s", summaries["channel"]["msgs_per_s"]),
        "tasks": ("tasks_per_s", summaries["tasks"]["tasks_per_s"]),
        "dual pool=channel": ("msgs_per_s", summaries["dual"]["channel:msgs_per_s"]),
        "dual pool=tasks": ("tasks_per_s", summaries["dual"]["tasks:tasks_per_s"]),
    }
    for label, (metric, value) in want.items():
        s = by_label[label]
        (run,) = [r for r in out["runs"] if r["series"] == s["label"]]
        assert (s["metric"], run["metric"], run["value"], s["last"]) == (metric, metric, value, value)
        assert value > 0
    # the table: every run has a value, each series names its figure
    r = ks(tmp_path, "history")
    assert r.returncode == 0, r.stderr
    heads = [line for line in r.stdout.splitlines() if " @ " in line]
    assert len(heads) == 4 and all(h.endswith(("msgs_per_s)", "tasks_per_s)")) for h in heads)
    assert "channel workers=" in r.stdout and "run(s), msgs_per_s)" in r.stdout
    rows = [line for line in r.stdout.splitlines() if line.startswith("  20")]
    assert len(rows) == 4 and not [line for line in rows if line.split()[-1] == "-"]
    # an explicit --metric lists that figure for every run (channel runs have no tasks/s)
    explicit = history_json(tmp_path, "--metric", "tasks_per_s")
    assert explicit["metric"] == "tasks_per_s" and len(explicit["series"]) == 3
    values = {r["mode"]: r["value"] for r in explicit["runs"]}
    assert values["channel"] is None and values["tasks"] == summaries["tasks"]["tasks_per_s"]
