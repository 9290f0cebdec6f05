"""A failed run leaves existing output untouched; a killed run's temp files are swept (finding G)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from file_factory import make_sink, sample, temp_files

from kcoro_stream.sinks import open_output
from kcoro_stream.sinks._output import sweep_stale_temps

REPO = Path(__file__).resolve().parents[2]
KS = [sys.executable, "-m", "kcoro_stream"]
PIPELINE = str(REPO / "pipelines" / "default.py")


async def test_g_abort_publishes_nothing_and_keeps_the_old_file(tmp_path: Path) -> None:
    out = tmp_path / "k.ndjson"
    out.write_text("good\n")
    sink = make_sink({"sink": "ndjson", "path": str(out)}, force=True)
    await sink.open()
    await sink.send([sample(0), sample(1)])
    sink.abort()  # type: ignore[attr-defined]
    await sink.aclose()
    assert out.read_text() == "good\n"
    assert temp_files(tmp_path) == []


def test_g_cli_run_that_fails_leaves_the_old_output_untouched(tmp_path: Path) -> None:
    out = tmp_path / "k.ndjson"
    out.write_text("good\n")
    r = subprocess.run(
        [
            *KS,
            "run",
            PIPELINE,
            "--mode",
            "bogus",
            "--no-log",
            "--no-tui",
            "--no-stdout",
            "--out",
            str(out),
            "--force",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2, r.stderr
    assert out.read_text() == "good\n"
    assert temp_files(tmp_path) == []


def test_g_temp_files_of_dead_processes_are_swept_live_ones_kept(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f".x.ndjson.zst.{dead.pid}.0badc0de.tmp"
    live = tmp_path / f".x.ndjson.zst.{os.getppid()}.0badc0de.tmp"
    other = tmp_path / f".y.ndjson.{dead.pid}.0badc0de.tmp"
    for p in (stale, live, other):
        p.write_bytes(b"partial")
    out = open_output(tmp_path / "x.ndjson.zst")
    out.close()
    assert not stale.exists() and live.exists() and other.exists()
    assert sweep_stale_temps(tmp_path, "y.ndjson") == [other.name]


def test_g_after_kill_9_the_next_run_into_the_directory_removes_the_temp(tmp_path: Path) -> None:
    """A --force replacement goes through a temp file; kill -9 leaves it, the next run sweeps it."""
    out = tmp_path / "x.ndjson.zst"
    out.write_bytes(b"")
    base = [*KS, "run", PIPELINE, "--no-log", "--no-tui", "--no-stdout", "--out", str(out), "--force"]
    mon = subprocess.Popen([*base, "-d", "30"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not temp_files(tmp_path):
            assert time.monotonic() < deadline and mon.poll() is None
            time.sleep(0.02)
    finally:
        mon.send_signal(signal.SIGKILL)
        mon.wait()
    [left] = temp_files(tmp_path)
    assert f".{mon.pid}." in left
    r = subprocess.run([*base, "-d", ".3"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert temp_files(tmp_path) == [] and out.exists()


async def test_g_abort_of_a_written_through_output_still_delivers_every_line(tmp_path: Path) -> None:
    """stdout (or a FIFO) cannot be taken back: abort keeps its lines flowing instead of cutting them."""
    import io

    stream = io.BytesIO()
    sink = make_sink({"sink": "stdout", "format": "ndjson"}, stdout=stream)
    await sink.open()
    await sink.send([sample(0), sample(1)])
    sink.abort()  # type: ignore[attr-defined]
    await sink.aclose()
    assert stream.getvalue().count(b"\n") == 2
