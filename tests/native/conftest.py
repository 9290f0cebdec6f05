"""Helpers for the native benchmark tests: make a ring, run the benchmark
against it (as the ingester does: ``python -m kcoro_stream.sources.bench``),
read every frame back through the C reader and decode it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from kcoro_stream._native import ffi, lib

from kcoro_stream import events as ev

RING_BYTES = 4 << 20
BENCH = [sys.executable, "-m", "kcoro_stream.sources.bench"]


@dataclass
class Run:
    """A finished benchmark run: its exit status and every decoded frame."""

    returncode: int
    stdout: str
    stderr: str
    frames: list[list[ev.RawEvent]] = field(default_factory=list)
    gaps: int = 0

    @property
    def events(self) -> list[ev.RawEvent]:
        return [e for f in self.frames for e in f]

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]

    @property
    def started(self) -> ev.RunStarted:
        first = self.frames[0][0]
        assert isinstance(first, ev.RunStarted)
        return first

    @property
    def ended(self) -> ev.RunEnded:
        last = self.frames[-1][-1]
        assert isinstance(last, ev.RunEnded)
        return last

    def final(self, kind: type) -> list:
        """Events of `kind` in the last sample frame (written after the drain)."""
        for frame in reversed(self.frames):
            found = [e for e in frame if isinstance(e, kind)]
            if found:
                return found
        return []


class Ring:
    """A ring created by the test (the ingester's role) and its reader."""

    def __init__(self, path: Path, size: int = RING_BYTES, interval_ns: int = 10_000_000) -> None:
        err = ffi.new("char[]", 512)
        self.path = path
        self.r = lib.kcs_reader_create(str(path).encode(), size, interval_ns, err, 512)
        assert self.r != ffi.NULL, ffi.string(err).decode()
        self.cap = 1 << 22
        self.out = ffi.new("uint8_t[]", self.cap)
        self.off = ffi.new("uint32_t[]", 4096)
        self.len = ffi.new("uint32_t[]", 4096)
        self.seq = ffi.new("uint64_t[]", 4096)
        self.ts = ffi.new("uint64_t[]", 4096)
        self.res = ffi.new("kcs_read_result *")
        self.frames: list[list[ev.RawEvent]] = []
        self.gaps = 0
        self.closed = False

    def poll(self) -> int:
        n = lib.kcs_reader_read(
            self.r, self.out, self.cap, self.off, self.len, self.seq, self.ts, 4096, self.res
        )
        assert n >= 0
        for i in range(self.res.nlosses):
            loss = self.res.losses[i]
            assert loss.reason == lib.KCS_LOSS_DROPPED, "a corrupt frame from the benchmark"
            self.gaps += loss.frames
        buf = ffi.buffer(self.out, self.cap)
        for i in range(n):
            payload = bytes(buf[self.off[i] : self.off[i] + self.len[i]])
            self.frames.append(ev.decode_frame(payload))
        if self.res.closed:
            self.closed = True
        return n

    def control(self, interval_ns: int = 0, paused: bool = False, stop: bool = False) -> int:
        return int(lib.kcs_reader_control(self.r, interval_ns, int(paused), int(stop), ffi.NULL, 0))

    def close(self) -> None:
        lib.kcs_reader_close(self.r)


def run_bench(
    tmp_path: Path,
    *args: str,
    timeout: float = 30.0,
    during: Callable[[Ring, subprocess.Popen[str]], None] | None = None,
) -> Run:
    """Run the benchmark on a fresh ring; `during` may steer it while it runs."""
    ring = Ring(tmp_path / "bench.ring")
    proc = subprocess.Popen(
        [*BENCH, "--ring", str(ring.path), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        if during is not None:
            during(ring, proc)
        out, err = proc.communicate(timeout=timeout)
    except BaseException:
        proc.kill()
        proc.communicate()
        raise
    deadline = time.monotonic() + 5
    while not ring.closed and time.monotonic() < deadline:
        if ring.poll() == 0:
            time.sleep(0.01)
    ring.close()
    return Run(proc.returncode, out, err, ring.frames, ring.gaps)


def wait_frames(ring: Ring, n: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while len(ring.frames) < n:
        assert time.monotonic() < deadline, f"only {len(ring.frames)} frames"
        if ring.poll() == 0:
            time.sleep(0.005)


@pytest.fixture
def bench(tmp_path: Path) -> Callable[..., Run]:
    def _run(*args: str, **kw: object) -> Run:
        return run_bench(tmp_path, *args, **kw)  # type: ignore[arg-type]

    return _run


SIGINT = signal.SIGINT
