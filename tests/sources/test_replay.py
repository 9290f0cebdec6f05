"""The replay source over logs recorded by earlier versions (bench_data/logs, recorded before the
one-run-loop redesign: no MonitorStatus events) and over a fresh recording."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

RUNS = Path(__file__).resolve().parents[2] / "bench_data" / "logs"
KS = [sys.executable, "-m", "kcoro_stream"]


def ks(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KS, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("run", ["dual-v1", "synthetic-v1"])
def test_logs_recorded_before_the_redesign_still_replay(run: str) -> None:
    info = ks("log", "info", str(RUNS / run))
    assert info.returncode == 0 and "problems   0" in info.stdout, info.stdout
    r = ks("replay", str(RUNS / run), "--no-tui")
    assert r.returncode == 0, r.stderr
    out = [json.loads(ln) for ln in r.stdout.splitlines()]
    types = {x["type"] for x in out}
    assert {"sample", "summary"} <= types and "status" not in types  # nothing the live run did not log
    samples = [x for x in out if x["type"] == "sample"]
    if run == "dual-v1":
        assert {s["pool"] for s in samples} == {"channel", "tasks"}
        assert any(s["msgs_per_s"] for s in samples) and any(s["tasks_per_s"] for s in samples)
    else:
        assert any(s["tasks_per_s"] for s in samples)


def test_replay_window_and_bad_bounds(tmp_path: Path) -> None:
    """--from/--to select a time range; a reversed or non-finite range is a one-line usage error."""
    run = str(RUNS / "synthetic-v1")
    whole = ks("replay", run, "--no-tui").stdout.count('"type":"sample"')
    part = ks("replay", run, "--no-tui", "--from", "0.3s", "--to", "0.7s").stdout.count('"type":"sample"')
    assert 0 < part < whole
    for args in (["--from", "2s", "--to", "1s"], ["--from", "nan"], ["--to", "1e400"]):
        r = ks("replay", run, "--no-tui", *args)
        err = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert r.returncode == 2 and len(err) == 1, (args, r.stderr)


@pytest.mark.parametrize("speed", ["nan", "0", "-1x", "1e9x", "fast"])
def test_bad_speeds_are_usage_errors(speed: str) -> None:
    r = ks("replay", str(RUNS / "synthetic-v1"), "--no-tui", "--speed", speed)
    err = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2 and len(err) == 1 and "--speed" in err[0], r.stderr


def test_ctrl_c_ends_the_slowest_replay_at_once() -> None:
    """--speed 0.05x paces a 1 s recording for 20 s; the first Ctrl-C ends the pacing sleep and the run (exit 0)."""
    import select
    import signal
    import time

    p = subprocess.Popen(
        [*KS, "replay", str(RUNS / "synthetic-v1"), "--no-tui", "--speed", "0.05x"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # The first NDJSON line: playback (and its signal watch, started before the first frame) has begun.
    assert p.stdout is not None
    ready, _, _ = select.select([p.stdout], [], [], 30)
    assert ready and p.stdout.readline().startswith("{"), "no output from the replay within 30 s"
    p.send_signal(signal.SIGINT)
    t = time.monotonic()
    _, err = p.communicate(timeout=10)
    assert time.monotonic() - t < 1.0
    assert p.returncode == 0, err
