"""Shared helpers for the native_*.py benchmarks (not a benchmark itself).

Runs ``python -m kcoro_stream.sources.bench ... --summary`` as a subprocess
and returns its one-line JSON summary; prints aligned tables.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

BENCH = [sys.executable, "-m", "kcoro_stream.sources.bench"]
QUICK = "--quick" in sys.argv


def run_summary(*args: str, timeout: float = 120.0) -> dict[str, Any]:
    p = subprocess.run([*BENCH, *args, "--summary"], capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise SystemExit(f"benchmark failed ({p.returncode}): {p.stderr.strip()}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def median_of(n: int, *args: str, key: str) -> tuple[float, list[float]]:
    vals = [float(run_summary(*args)[key]) for _ in range(n)]
    return statistics.median(vals), vals


def table(title: str, header: list[str], rows: Sequence[Sequence[object]]) -> None:
    print(f"\n{title}")
    lines = [[str(x) for x in header], *[[str(x) for x in r] for r in rows]]
    widths = [max(len(line[c]) for line in lines) for c in range(len(header))]
    lines.insert(1, ["-" * w for w in widths])
    for line in lines:
        print("  ".join(x.rjust(w) for x, w in zip(line, widths, strict=True)))


def machine_note() -> str:
    load = os.getloadavg()[0]
    return f"{os.cpu_count()} CPUs, load average {load:.2f} at start"


def m(x: float) -> str:
    return f"{x / 1e6:,.2f} M"


class RingDrain:
    """A ring created here and drained by a thread that decodes every frame
    (what the ingester does before its operators), so the benchmark pays the
    full observer cost: sampler thread, ring writes, a live reader."""

    def __init__(self, path: str, size: int = 8 << 20) -> None:
        import threading

        from kcoro_stream._native import ffi, lib

        self.ffi, self.lib = ffi, lib
        err = ffi.new("char[]", 512)
        self.r = lib.kcs_reader_create(path.encode(), size, 10_000_000, err, 512)
        if self.r == ffi.NULL:
            raise SystemExit(ffi.string(err).decode())
        self.path = path
        self.events: list[Any] = []
        self.frames = 0
        self.gaps = 0
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._stop = False

    def _loop(self) -> None:
        import time

        from kcoro_stream.events import decode_frame

        ffi, lib = self.ffi, self.lib
        cap = 1 << 22
        out = ffi.new("uint8_t[]", cap)
        off, ln = ffi.new("uint32_t[]", 4096), ffi.new("uint32_t[]", 4096)
        seq, ts = ffi.new("uint64_t[]", 4096), ffi.new("uint64_t[]", 4096)
        res = ffi.new("kcs_read_result *")
        buf = ffi.buffer(out, cap)
        while True:
            n = lib.kcs_reader_read(self.r, out, cap, off, ln, seq, ts, 4096, res)
            self.gaps += sum(res.losses[i].frames for i in range(res.nlosses))
            for i in range(n):
                self.events.extend(decode_frame(bytes(buf[off[i] : off[i] + ln[i]])))
            self.frames += n
            if res.closed or (self._stop and n == 0):
                break
            if n == 0:
                time.sleep(0.002)

    def __enter__(self) -> RingDrain:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop = True
        self._thread.join(timeout=10)
        self.lib.kcs_reader_close(self.r)
        os.unlink(self.path)
