"""The C tests (deque, inject queue, context switch, scheduler, channels, ring
writer) run from the project's test command too."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

NATIVE = Path(__file__).resolve().parents[2] / "native"


@pytest.mark.skipif(shutil.which("make") is None or shutil.which("cc") is None, reason="needs make and cc")
def test_make_test_passes() -> None:
    try:
        p = subprocess.run(["make", "-C", str(NATIVE), "test"], capture_output=True, text=True, timeout=280)
    except subprocess.TimeoutExpired as e:  # name what hung (each program is bounded too: TEST_TIMEOUT)
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else e.stdout or ""
        pytest.fail(f"make -C native test did not finish in 280 s; last output:\n{out[-4000:]}")
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-4000:]
    assert "all C tests passed (release)" in p.stdout


@pytest.mark.skipif(shutil.which("make") is None or shutil.which("cc") is None, reason="needs make and cc")
@pytest.mark.parametrize(("example", "workers"), [("minimal_producer", 1), ("instrument_runtime", 2)])
def test_an_example_emits_decodable_events(tmp_path: Path, example: str, workers: int) -> None:
    """native/examples/*.c write the same events through the headers: RunStarted
    first (kcs_run.h fills pid, ABI, clocks, build and a run id), one frame per
    tick with work counted, RunEnded last."""
    from kcoro_stream import events as ev

    from .conftest import Ring

    p = subprocess.run(
        ["make", "-C", str(NATIVE), f"build/{example}"], capture_output=True, text=True, timeout=300
    )
    assert p.returncode == 0, p.stderr
    ring = Ring(tmp_path / "example.ring")
    run = subprocess.Popen(
        [str(NATIVE / "build" / example), "--ring", str(ring.path), "--duration", "0.3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _, err = run.communicate(timeout=30)
    assert run.returncode == 0, err
    while ring.poll():
        pass
    assert ring.closed
    started = ring.frames[0][0]
    assert isinstance(started, ev.RunStarted)
    assert started.pid == run.pid and started.workers == workers and started.mode == "tasks"
    assert started.run_id.startswith("tasks-") and started.run_id.endswith(f"-{run.pid}")
    assert (started.abi_major, started.abi_minor) == (1, 1) and started.build["compiler"]
    ended = ring.frames[-1][-1]
    assert isinstance(ended, ev.RunEnded) and ended.reason == "duration"
    last = [e for f in ring.frames[:-1] for e in f]
    counters = [e for e in last if isinstance(e, ev.WorkerCounters)][-workers:]
    assert len(counters) == workers and sum(w.tasks_completed for w in counters) > 0
    assert any(isinstance(e, ev.Histogram) and e.total > 0 for e in last)
    ring.close()


@pytest.mark.skipif(shutil.which("make") is None or shutil.which("cc") is None, reason="needs make and cc")
def test_minimal_producer_finds_its_ring_or_says_why_in_one_line(tmp_path: Path) -> None:
    """kcs_run_attach: --ring PATH, else $KCORO_STREAM_RING (what run --exec sets), else one line and exit 2."""
    import os

    from kcoro_stream import events as ev

    from .conftest import Ring

    p = subprocess.run(
        ["make", "-C", str(NATIVE), "build/minimal_producer"], capture_output=True, text=True, timeout=300
    )
    assert p.returncode == 0, p.stderr
    exe = str(NATIVE / "build" / "minimal_producer")
    env = {k: v for k, v in os.environ.items() if k != "KCORO_STREAM_RING"}
    missing = subprocess.run([exe], capture_output=True, text=True, timeout=30, env=env)
    assert missing.returncode == 2
    assert missing.stderr == "minimal_producer: --ring PATH is required (or $KCORO_STREAM_RING)\n"
    bad = subprocess.run(
        [exe, "--ring", str(tmp_path / "none")], capture_output=True, text=True, timeout=30, env=env
    )
    assert bad.returncode == 2
    assert bad.stderr == f"minimal_producer: {tmp_path / 'none'}: No such file or directory\n"
    ring = Ring(tmp_path / "env.ring")
    env["KCORO_STREAM_RING"] = str(ring.path)
    ok = subprocess.run([exe, "--duration", "0.1"], capture_output=True, text=True, timeout=30, env=env)
    assert ok.returncode == 0, ok.stderr
    while ring.poll():
        pass
    assert ring.closed and isinstance(ring.frames[0][0], ev.RunStarted)
    ring.close()
