"""``replay PATH… [PIPELINE] --jobs N``: several runs in parallel, one output in sorted run order that
matches the single replays line for line; --out-dir; what several runs refuse."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kcoro_stream.cli import cli
from kcoro_stream.replays import runs_of

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / "bench_data" / "logs"
EFF = str(ROOT / "pipelines" / "efficiency.py")


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five recorded runs (copies of the shipped recordings), named so their order is not the copy order."""
    d = tmp_path_factory.mktemp("runs")
    for name, src in (
        ("r3", "dual-v1"),
        ("r1", "synthetic-v1"),
        ("r5", "dual-v1"),
        ("r2", "dual-v1"),
        ("r4", "synthetic-v1"),
    ):
        shutil.copytree(LOGS / src, d / name)
    (d / "notes.txt").write_text("not a run")
    return d


def single(run: Path, out: Path) -> list[bytes]:
    r = CliRunner().invoke(cli, ["replay", str(run), EFF, "--out", str(out)])
    assert r.exit_code == 0, r.output
    return out.read_bytes().splitlines(keepends=True)


def test_runs_of_a_runs_directory_are_its_run_directories_sorted(runs_dir: Path) -> None:
    assert [r.name for r in runs_of([runs_dir])] == ["r1", "r2", "r3", "r4", "r5"]


def test_jobs_2_matches_the_single_replays_line_for_line(runs_dir: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KCORO_STREAM_")}
    r = subprocess.run(
        [sys.executable, "-m", "kcoro_stream", "replay", str(runs_dir), EFF, "--jobs", "2", "--out", str(tmp_path / "all.ndjson")],
        capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "5 runs through" in r.stderr and "2 at once" in r.stderr
    expected: list[bytes] = []
    for i, run in enumerate(runs_of([runs_dir])):
        lines = single(run, tmp_path / f"{run.name}.ndjson")
        assert lines[0].startswith(b'{"type":"meta"')
        expected += lines if i == 0 else lines[1:]  # the meta line once
    got = (tmp_path / "all.ndjson").read_bytes().splitlines(keepends=True)
    assert got == expected
    ids = [json.loads(x).get("run_id") for x in got[1:]]
    assert len({i for i in ids if i}) == 2  # dual-v1's and synthetic-v1's own run ids, kept


def test_out_dir_writes_one_file_per_run(runs_dir: Path, tmp_path: Path) -> None:
    r = CliRunner().invoke(
        cli,
        [
            "replay",
            str(runs_dir / "r1"),
            str(runs_dir / "r2"),
            EFF,
            "--jobs",
            "2",
            "--out-dir",
            str(tmp_path / "d"),
        ],
    )
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["r1.ndjson", "r2.ndjson"]
    assert (tmp_path / "d" / "r2.ndjson").read_bytes() == b"".join(
        single(runs_dir / "r2", tmp_path / "one.ndjson")
    )


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--speed", "1x"], "--speed: one run at a time"),
        (["--tui"], "--tui: one run at a time"),
        (["--out", "x.csv"], "with several runs the output is NDJSON"),
        (["--csv", "x.csv"], "--csv: with several runs, give one --out FILE"),
        (["--jobs", "0"], "--jobs: expected at least 1, got 0"),
    ],
)
def test_what_several_runs_refuse_is_one_line_exit_2(runs_dir: Path, flags: list[str], message: str) -> None:
    r = CliRunner().invoke(cli, ["replay", str(runs_dir), EFF, *flags])
    assert r.exit_code == 2
    assert r.output.strip().splitlines()[-1].startswith("kcoro-stream: ") and message in r.output


def test_a_run_that_fails_is_named_and_nothing_is_written(runs_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "old.ndjson"
    bad.write_text('{"schema":2,"ts":1.0,"mode":"tasks"}\n')  # kcoro_mon line without its rate
    r = CliRunner().invoke(
        cli,
        ["replay", str(runs_dir / "r1"), str(bad), EFF, "--jobs", "2", "--out", str(tmp_path / "o.ndjson")],
    )
    assert r.exit_code != 0
    assert (
        f"kcoro-stream: {bad}:1: missing field 'tasks_sec'" in r.output and ".kcoro-replay-" not in r.output
    )
    assert not (tmp_path / "o.ndjson").exists()
