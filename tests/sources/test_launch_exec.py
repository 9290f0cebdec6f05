"""The launch source with any program (``run --exec``): the example runtime end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NATIVE = ROOT / "native"
KS = [sys.executable, "-m", "kcoro_stream"]


@pytest.fixture(scope="module")
def instrument() -> Path:
    """native/build/instrument_runtime, built by the native Makefile."""
    p = subprocess.run(
        ["make", "-C", str(NATIVE), "build/instrument_runtime"], capture_output=True, text=True, timeout=300
    )
    assert p.returncode == 0, p.stderr
    return NATIVE / "build" / "instrument_runtime"


def ks(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KS, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd)


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(ln) for ln in path.read_text().splitlines()]


def test_exec_runs_records_derives_and_replays_like_the_benchmark(tmp_path: Path, instrument: Path) -> None:
    """--exec launches the example runtime on a new ring ('{ring}'); live and replay agree byte for byte."""
    live, again = tmp_path / "live.ndjson", tmp_path / "replay.ndjson"
    r = ks(
        "run", "--no-tui", "--no-stdout", "--log", "run", "--out", str(live),
        "--exec", "--", str(instrument), "--ring", "{ring}", "--duration", "1.5",
        cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    out = lines(live)
    samples = [x for x in out if x["type"] == "sample"]
    assert len(samples) >= 4
    assert all(isinstance(s["tasks_per_s"], float) and s["tasks_per_s"] > 0 for s in samples[:-1])
    statuses = [x for x in out if x["type"] == "status"]
    assert statuses and statuses[-1]["state"] == "finished"
    assert statuses[-1]["reader"]["dropped_frames"] == 0 and statuses[-1]["reader"]["frames"] > 100
    assert [x["type"] for x in out].count("summary") == 1
    info = ks("log", "info", "run", cwd=tmp_path)
    assert info.returncode == 0 and "problems   0" in info.stdout, info.stdout
    rp = ks("replay", "run", "--no-tui", "--no-stdout", "--out", str(again), cwd=tmp_path)
    assert rp.returncode == 0, rp.stderr
    assert again.read_bytes() == live.read_bytes()
    assert not [p for p in Path("/dev/shm").glob(f"kcoro-stream-{os.getpid()}-*")]


def test_exec_gets_the_ring_in_the_environment(tmp_path: Path, instrument: Path) -> None:
    """$KCORO_STREAM_RING names the ring for programs that take no path argument."""
    out = tmp_path / "o.ndjson"
    script = f'exec {instrument} --ring "$KCORO_STREAM_RING" --duration 0.5'
    r = ks("run", "--no-tui", "--no-log", "--no-stdout", "--out", str(out), "--exec", "--", "sh", "-c", script,
           cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert any(x["type"] == "sample" for x in lines(out))


def test_duration_is_enforced_through_the_control_area(tmp_path: Path, instrument: Path) -> None:
    """-d for a program that would run 30 s: the monitor sends a stop record, the program ends its run."""
    r = ks("run", "-d", "0.6", "--no-tui", "--log", "run", "--no-stdout",
           "--exec", "--", str(instrument), "--ring", "{ring}", "--duration", "30", cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    cat = ks("log", "cat", "run", cwd=tmp_path)
    ended = [json.loads(ln) for ln in cat.stdout.splitlines() if '"run_ended"' in ln]
    assert len(ended) == 1 and ended[0]["reason"] == "stopped"


def test_a_failing_program_fails_the_run_with_its_last_words(tmp_path: Path) -> None:
    r = ks("run", "--no-tui", "--no-log", "--exec", "--", "sh", "-c", "echo boom >&2; exit 3", cwd=tmp_path)
    assert r.returncode == 1
    err = [ln for ln in r.stderr.splitlines() if ln.startswith("kcoro-stream:")]
    assert len(err) == 1 and "status 3" in err[0] and "boom" in err[0]


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["--exec", "--", "/nonexistent/prog"], "cannot start /nonexistent/prog"),
        (["--exec"], "give the program after --"),
        (["--", "ls"], "add --exec"),
    ],
)
def test_exec_usage_errors_are_one_line(tmp_path: Path, args: list[str], expect: str) -> None:
    r = ks("run", "--no-tui", "--no-log", *args, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    err = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(err) == 1 and expect in err[0], r.stderr


def test_a_stopped_child_gets_a_warning_and_ctrl_c_still_ends_the_run(tmp_path: Path) -> None:
    """SIGSTOP of the benchmark: one warning line, not a silent wait; Ctrl-C then escalates to a kill."""
    import signal
    import time

    mon = subprocess.Popen(
        [*KS, "run", "-m", "tasks", "--interval", "20ms", "--no-tui", "--no-log", "--stdout"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert mon.stdout is not None
    assert '"type":' in mon.stdout.readline()  # the run is under way: its benchmark child is up
    found = subprocess.run(
        ["pgrep", "-P", str(mon.pid), "-f", "kcoro_stream.sources.bench"], capture_output=True, text=True
    ).stdout.split()
    assert len(found) == 1, found
    child = int(found[0])
    os.kill(child, signal.SIGSTOP)
    assert mon.stderr is not None
    t = time.monotonic()
    line = mon.stderr.readline()
    assert "warning: producer" in line and "heartbeat" in line, line
    assert time.monotonic() - t < 3
    mon.send_signal(signal.SIGINT)
    _, err = mon.communicate(timeout=20)  # (stdout is drained here too)
    assert mon.returncode == 1  # the producer never ended its run: it was killed
    assert err.count("kcoro-stream:") == 1 and "SIGKILL" in err, err
