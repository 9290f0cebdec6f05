"""The cffi reader module (kcoro_stream/_build_ring.py → kcoro_stream._native)
exposes the ring's wake-ups: kcs_reader_wait is woken by a producer in another
process (the futex is shared, not private) and kcs_reader_info carries the
account the monitor's statistics need."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from kcoro_stream._native import ffi, lib

LONG_NS = 10_000_000_000  # a wait that must be woken long before this


def _create(path: Path) -> object:
    err = ffi.new("char[]", 512)
    r = lib.kcs_reader_create(str(path).encode(), 1 << 20, 10_000_000, err, 512)
    assert r != ffi.NULL, ffi.string(err).decode()
    return r


def _info(r: object) -> object:
    info = ffi.new("kcs_ring_info *")
    lib.kcs_reader_info(r, info)
    return info


def _drain(r: object) -> tuple[int, bool]:
    out = ffi.new("uint8_t[]", 1 << 20)
    off, ln = ffi.new("uint32_t[]", 256), ffi.new("uint32_t[]", 256)
    seq, ts = ffi.new("uint64_t[]", 256), ffi.new("uint64_t[]", 256)
    res = ffi.new("kcs_read_result *")
    n = lib.kcs_reader_read(r, out, 1 << 20, off, ln, seq, ts, 256, res)
    assert n >= 0
    return n, bool(res.closed)


def test_wait_is_woken_by_a_producer_process(tmp_path: Path) -> None:
    """Every wait ends with data or the close, none by its 10 s timeout."""
    r = _create(tmp_path / "wake.ring")
    info = _info(r)
    assert info.abi_minor >= 1 and info.producer_wakes == 0  # nobody attached yet
    argv = ["--ring", str(tmp_path / "wake.ring"), "--frames", "4", "--interval-ms", "150"]
    child = subprocess.Popen([sys.executable, "-m", "kcoro_stream.sources.synthetic", *argv])
    try:
        frames, closed = 0, False
        while not closed:
            if _info(r).producer_wakes:
                assert lib.kcs_reader_wait(r, LONG_NS) == 1  # woken, never timed out
            else:  # the child has not attached yet: a plain sleep, so keep it short
                lib.kcs_reader_wait(r, 20_000_000)
            n, closed = _drain(r)
            frames += n
            assert n or closed or child.poll() is None, "the producer exited without closing"
        assert child.wait(timeout=30) == 0
    finally:
        child.kill()
    info = _info(r)
    assert frames == 6  # RunStarted, 4 ticks, RunEnded
    assert info.producer_abi_minor >= 1 and info.producer_wakes == 1
    assert info.wakeups >= 1  # a tick 150 ms later woke a blocked reader
    assert info.waits >= info.wakeups
    lib.kcs_reader_close(r)


def test_wait_releases_the_gil_and_wake_ends_it(tmp_path: Path) -> None:
    """A thread blocked in kcs_reader_wait does not stall Python; kcs_reader_wake ends it."""
    r = _create(tmp_path / "gil.ring")
    # a 1.1 producer announces itself on attach; emulate that through the layout offset
    layout = ffi.new("kcs_ring_layout *")
    lib.kcs_layout(layout)
    result: list[int] = []
    t = threading.Thread(target=lambda: result.append(lib.kcs_reader_wait(r, LONG_NS)))
    with open(tmp_path / "gil.ring", "r+b") as f:
        f.seek(layout.producer_abi_minor)
        f.write((1).to_bytes(4, "little"))
        f.flush()
    t0 = time.monotonic()
    t.start()
    while _info(r).waits == 0:  # Python keeps running while the wait blocks
        time.sleep(0.001)
    lib.kcs_reader_wake(r)
    t.join(timeout=5)
    assert not t.is_alive() and result == [0]
    assert time.monotonic() - t0 < 5
    assert _info(r).wait_timeouts == 1  # ended with nothing new
    lib.kcs_reader_close(r)
