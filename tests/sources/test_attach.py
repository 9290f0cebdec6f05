"""The attach source against real rings made by other processes: liveness, detaching, damaged headers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kcoro_stream._native import ffi, lib

from kcoro_stream.ingest import RingReader

NATIVE = Path(__file__).resolve().parents[2] / "native"
KS = [sys.executable, "-m", "kcoro_stream"]
SYNTH = [sys.executable, "-m", "kcoro_stream.sources.synthetic"]


@pytest.fixture(scope="module")
def instrument() -> Path:
    p = subprocess.run(
        ["make", "-C", str(NATIVE), "build/instrument_runtime"], capture_output=True, text=True
    )
    assert p.returncode == 0, p.stderr
    return NATIVE / "build" / "instrument_runtime"


def monitor(ring: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*KS, "attach", str(ring), "--no-tui", "--no-log", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_output(mon: subprocess.Popen[str], what: str = '"type":"sample"', timeout: float = 20) -> str:
    assert mon.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = mon.stdout.readline()
        if what in line:
            return line
    raise AssertionError(f"no {what} within {timeout} s")


def test_kill_9_of_a_producer_that_made_its_own_ring_is_seen(tmp_path: Path, instrument: Path) -> None:
    """The README flow: the runtime creates the ring, the monitor attaches, the runtime is killed."""
    ring = tmp_path / "r"
    prod = subprocess.Popen([str(instrument), "--ring", str(ring), "--duration", "30"])
    for _ in range(200):
        if ring.exists():
            break
        time.sleep(0.02)
    mon = monitor(ring)
    wait_for_output(mon)
    prod.kill()
    prod.wait()
    t = time.monotonic()
    _, err = mon.communicate(timeout=30)
    assert time.monotonic() - t < 3
    assert mon.returncode == 1
    lines = [ln for ln in err.splitlines() if ln.startswith("kcoro-stream:")]
    assert len(lines) == 1 and f"process {prod.pid} is gone" in lines[0]


def test_a_ring_whose_producer_never_comes_is_declared_lost(tmp_path: Path) -> None:
    """No pid in the ring and a heartbeat that never moves: lost after max(1 s, 5 intervals)."""
    ring = tmp_path / "r"
    RingReader.create(ring, data_size=1 << 16, interval_ns=10_000_000).close(unlink=False)
    t = time.monotonic()
    mon = monitor(ring)
    _, err = mon.communicate(timeout=30)
    assert 0.9 < time.monotonic() - t < 6
    assert mon.returncode == 1
    assert "heartbeat stalled" in err and err.count("kcoro-stream:") == 1


def test_ctrl_c_detaches_and_leaves_the_producer_running(tmp_path: Path) -> None:
    ring = tmp_path / "r"
    RingReader.create(ring, data_size=1 << 20).close(unlink=False)
    prod = subprocess.Popen([*SYNTH, "--ring", str(ring), "--interval-ms", "5", "--duration", "20"])
    try:
        mon = monitor(ring)
        wait_for_output(mon)
        mon.send_signal(signal.SIGINT)
        t = time.monotonic()
        out, err = mon.communicate(timeout=10)
        assert time.monotonic() - t < 1.5
        assert mon.returncode == 0, err
        assert '"type":"summary"' in out  # outputs finished as at any end of a run
        assert prod.poll() is None  # its run goes on
    finally:
        prod.kill()
        prod.wait()


def test_read_position_past_write_position_on_a_closed_ring_ends(tmp_path: Path) -> None:
    """A damaged header (read_pos > write_pos, CLOSED) is a corrupt loss and the end, not a hang."""
    ring = tmp_path / "r"
    RingReader.create(ring, data_size=1 << 16).close(unlink=False)
    layout = ffi.new("kcs_ring_layout *")
    lib.kcs_layout(layout)
    with open(ring, "r+b") as f:
        f.seek(layout.read_pos)
        f.write((4096).to_bytes(8, "little"))
        f.seek(layout.flags)
        f.write((1).to_bytes(4, "little"))
        f.seek(layout.producer_pid)
        f.write(os.getpid().to_bytes(4, "little"))
    mon = monitor(ring)
    out, err = mon.communicate(timeout=15)
    assert mon.returncode == 0, err
    assert '"corrupt_frames":1' in out  # the monitor's final account says what happened


def test_truncating_the_ring_under_attach_is_one_line_not_sigbus(tmp_path: Path) -> None:
    """Someone truncates the ring file: the monitor reports it in one line (exit 1), no SIGBUS."""
    ring = tmp_path / "r"
    RingReader.create(ring, data_size=1 << 20).close(unlink=False)
    prod = subprocess.Popen([*SYNTH, "--ring", str(ring), "--interval-ms", "5", "--duration", "20"])
    try:
        mon = monitor(ring)
        wait_for_output(mon)
        os.truncate(ring, 0)
        _, err = mon.communicate(timeout=15)
    finally:
        prod.kill()
        prod.wait()
    assert mon.returncode == 1, err
    lines = [ln for ln in err.splitlines() if ln.startswith("kcoro-stream:")]
    assert len(lines) == 1 and "truncated under the monitor" in lines[0], err
