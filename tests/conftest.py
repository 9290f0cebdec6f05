"""Shared test hygiene: a test that fails halfway never leaves its processes running.

Many tests start real monitors, benchmarks and producers. When an assertion
fails before a test reaps them, they would keep a core busy for the rest of
the suite (and skew every timing after it). After each test, every child
process of this pytest process that is still alive is killed; the bundled
producers end by themselves when their monitor dies (their parent watch).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


def _children(pid: int) -> list[int]:
    """Children of ``pid``, whichever of its threads started them."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


@pytest.fixture(autouse=True)
def _no_leftover_processes() -> Iterator[None]:
    yield
    for child in _children(os.getpid()):
        try:
            os.kill(child, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _read_until_closed(master: int) -> bytes:
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed its side of the terminal
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


@pytest.fixture
def read_pty() -> Callable[[int], bytes]:
    """``read_pty(master)``: everything children wrote to a pseudo-terminal, until they closed it."""
    return _read_until_closed


@dataclass(frozen=True)
class CiResults:
    """``manifest run profiles/ci.yaml`` once per session: its results directory and what the call took."""

    out: Path
    seconds: float
    result: subprocess.CompletedProcess[str]


@pytest.fixture(scope="session")
def ci_results(tmp_path_factory: pytest.TempPathFactory) -> CiResults:
    """The shipped CI profile, run for real once (28 runs of 2 s, about a minute).

    tests/test_manifest.py checks the call and its results; the README tour (tests/test_readme.py)
    starts from a copy, so its own ``manifest run profiles/ci.yaml`` is the documented second call
    (it skips what finished ok) instead of a second minute of the same runs.
    """
    root = Path(__file__).resolve().parent.parent
    tmp = tmp_path_factory.mktemp("ci-profile")
    out = tmp / "ci"
    t0 = time.monotonic()
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "kcoro_stream",
            "manifest",
            "run",
            str(root / "profiles/ci.yaml"),
            "--out-dir",
            str(out),
        ],
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return CiResults(out, time.monotonic() - t0, r)
