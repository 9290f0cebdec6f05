"""SIGHUP (a closed terminal or SSH session) ends every command like SIGTERM and Ctrl-C do: cleanly."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KS = [sys.executable, "-m", "kcoro_stream"]
SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]


def _wait_for_segment(run: Path, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not any(run.glob("segment-*")):
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "no segment in time"
        time.sleep(0.02)
    time.sleep(0.3)  # the run loop is under way (its signal watch is installed before the first frame)


def _start_run(tmp_path: Path, **popen: object) -> subprocess.Popen[str]:
    """A 60 s tasks run writing o.ndjson and the log run/ under ``tmp_path``, once it is recording."""
    argv = [
        *KS,
        "run",
        "--mode",
        "tasks",
        "--workers",
        "1",
        "--duration",
        "60s",
        "--no-tui",
        "--out",
        "o.ndjson",
    ]
    mon = subprocess.Popen(
        [*argv, "--log", "run"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        **popen,  # type: ignore[call-overload]
    )  # fmt: skip
    _wait_for_segment(tmp_path / "run", mon)
    return mon


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_a_live_run_ends_cleanly_on_the_signal(tmp_path: Path, sig: signal.Signals) -> None:
    """summary.json written, --out published (no temporary file left), control.sock removed, exit 0."""
    out, run = tmp_path / "o.ndjson", tmp_path / "run"
    mon = _start_run(tmp_path)
    assert (run / "control.sock").exists()
    t = time.monotonic()
    mon.send_signal(sig)
    _, err = mon.communicate(timeout=30)
    assert time.monotonic() - t < 5
    assert mon.returncode == 0, err
    assert "Traceback" not in err
    summary = json.loads((run / "summary.json").read_text())
    assert summary["end_reason"] in ("stopped", "signal", "interrupted"), summary["end_reason"]
    assert '"type":"summary"' in out.read_text()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    assert not (run / "control.sock").exists()


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_a_replay_ends_at_once_on_the_signal(sig: signal.Signals) -> None:
    p = subprocess.Popen(
        [*KS, "replay", str(ROOT / "bench_data" / "logs" / "synthetic-v1"), "--no-tui", "--speed", "0.05x"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert p.stdout is not None
    ready, _, _ = select.select([p.stdout], [], [], 30)
    assert ready and p.stdout.readline().startswith("{")
    p.send_signal(sig)
    _, err = p.communicate(timeout=10)
    assert p.returncode == 0, err


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_a_manifest_run_ends_the_current_run_and_keeps_the_index(tmp_path: Path, sig: signal.Signals) -> None:
    m = tmp_path / "m.yaml"
    m.write_text(
        "defaults: {mode: tasks, duration: 60s, bench: {workers: 1}}\nsteps:\n  - {name: a, repeats: 2}\n"
    )
    out = tmp_path / "res"
    p = subprocess.Popen(
        [*KS, "manifest", "run", str(m), "--out-dir", str(out)],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    _wait_for_segment(out / "a-r1", p)
    p.send_signal(sig)
    _, err = p.communicate(timeout=30)
    assert p.returncode == 130, err
    runs = json.loads((out / "index.json").read_text())["runs"]
    assert [x["state"] for x in runs] == ["interrupted"]
    assert (out / "a-r1" / "summary.json").exists()
    assert not (out / "a-r1" / "control.sock").exists()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGHUP], ids=lambda s: s.name)
def test_the_signal_to_the_whole_process_group_ends_the_run_cleanly(
    tmp_path: Path, sig: signal.Signals
) -> None:
    """A closed terminal sends SIGHUP to the foreground group, the producer included: it ends its run
    cleanly too (RunEnded "signal"), not killed by the signal, and the monitor exits 0."""
    out, run = tmp_path / "o.ndjson", tmp_path / "run"
    mon = _start_run(tmp_path, start_new_session=True)
    os.killpg(mon.pid, sig)
    _, err = mon.communicate(timeout=30)
    assert mon.returncode == 0, err
    summary = json.loads((run / "summary.json").read_text())
    assert summary["end_reason"] == "signal", summary["end_reason"]
    assert '"type":"summary"' in out.read_text()


def test_sighup_under_nohup_is_ignored(tmp_path: Path) -> None:
    """nohup: SIGHUP stays ignored by the monitor and the producer; the run ends by its duration."""
    run = tmp_path / "run"
    mon = subprocess.Popen(
        [*KS, "run", "--mode", "tasks", "--workers", "1", "--duration", "3s", "--no-tui", "--log", str(run)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),
    )  # fmt: skip
    _wait_for_segment(run, mon)
    os.killpg(mon.pid, signal.SIGHUP)
    _, err = mon.communicate(timeout=60)
    assert mon.returncode == 0, err
    assert json.loads((run / "summary.json").read_text())["end_reason"] == "duration"


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_a_command_outside_a_run_loop_ends_like_ctrl_c(tmp_path: Path, sig: signal.Signals) -> None:
    """`ctl --wait` waiting for a run that never comes: the signal ends it as Ctrl-C does (one line, 130)."""
    p = subprocess.Popen(
        [*KS, "ctl", "--wait", "60s", str(tmp_path / "no-run-yet"), "status"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(2.0)  # imported and waiting
    assert p.poll() is None
    p.send_signal(sig)
    _, err = p.communicate(timeout=10)
    assert p.returncode == 130, err
    assert err.strip() == "kcoro-stream: interrupted", err
