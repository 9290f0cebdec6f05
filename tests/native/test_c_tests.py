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
def test_instrumented_runtime_example_emits_decodable_events(tmp_path: Path) -> None:
    """native/examples/instrument_runtime.c writes the same events through the header."""
    from kcoro_stream import events as ev

    from .conftest import Ring

    p = subprocess.run(
        ["make", "-C", str(NATIVE), "build/instrument_runtime"], capture_output=True, text=True, timeout=300
    )
    assert p.returncode == 0, p.stderr
    ring = Ring(tmp_path / "example.ring")
    run = subprocess.run(
        [str(NATIVE / "build" / "instrument_runtime"), "--ring", str(ring.path), "--duration", "0.2"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 0, run.stderr
    while ring.poll():
        pass
    assert ring.closed
    assert isinstance(ring.frames[0][0], ev.RunStarted)
    assert isinstance(ring.frames[-1][-1], ev.RunEnded)
    workers = [e for e in ring.frames[-2] if isinstance(e, ev.WorkerCounters)]
    assert len(workers) == 2 and sum(w.tasks_completed for w in workers) > 0
    ring.close()
