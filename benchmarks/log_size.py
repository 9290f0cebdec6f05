"""Event log: bytes per event and append/replay throughput.

Question: what does the zstd-block event log cost on disk against NDJSON.gz of
the same events, and how fast do append and replay run against plain file
write/read of the same frame bytes (the baseline, measured in the same run)?

Frames are realistic sampler ticks: 1 Tick + 2 WorkerCounters + 1 ChannelCounters
+ 1 Histogram + 1 Gauge, counters cumulative with noisy increments.

    python benchmarks/log_size.py [--frames 50000] [--level 3]
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import random
import shutil
import struct
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import zstandard
from kcoro_stream._native import lib

from kcoro_stream.eventlog import LogWriter, cat_ndjson, open_log
from kcoro_stream.events import (
    ChannelCounters,
    Gauge,
    Histogram,
    Tick,
    WorkerCounters,
    decode_frame,
    encode_frame,
)

EVENTS_PER_FRAME = 6
T0 = 5_000_000_000_000
INTERVAL = 10_000_000


def make_payloads(n: int, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    w = [
        dict.fromkeys(
            ("sub", "done", "hit", "miss", "probe", "ok", "fail", "inj", "park", "busy", "idle", "sw"), 0
        )
        for _ in range(2)
    ]
    ch = dict.fromkeys(("sends", "recvs", "eagain_s", "eagain_r"), 0)
    hist = [0] * 24
    total = 0
    ts = T0
    out = []
    for i in range(n):
        actual = INTERVAL + rng.randint(-40_000, 90_000)
        ts += actual
        workers = []
        for k, c in enumerate(w):
            done = rng.randint(80_000, 120_000)
            c["sub"] += done + rng.randint(0, 50)
            c["done"] += done
            c["hit"] += int(done * rng.uniform(0.7, 0.9))
            c["miss"] = c["done"] - c["hit"]
            probes = rng.randint(100, 900)
            ok = rng.randint(0, probes)
            c["probe"] += probes
            c["ok"] += ok
            c["fail"] += probes - ok
            c["inj"] += rng.randint(0, 40)
            parks = rng.randint(0, 5)
            c["park"] += parks
            busy = rng.randint(8_000_000, 10_000_000)
            c["busy"] += busy
            c["idle"] += actual - busy
            c["sw"] += done * 2 + rng.randint(0, 99)
            workers.append(
                WorkerCounters(
                    ts, 0, worker=k, pool=0, tasks_submitted=c["sub"], tasks_completed=c["done"],
                    fastpath_hits=c["hit"], fastpath_misses=c["miss"], steal_probes=c["probe"],
                    steal_successes=c["ok"], steal_failures=c["fail"], last_victim=1 - k,
                    inject_pulls=c["inj"], parks=c["park"], unparks=c["park"], busy_ns=c["busy"],
                    idle_ns=c["idle"], switches=c["sw"],
                )
            )  # fmt: skip
        msgs = rng.randint(200_000, 300_000)
        ch["sends"] += msgs
        ch["recvs"] += msgs - rng.randint(0, 64)
        ch["eagain_s"] += rng.randint(0, 300)
        ch["eagain_r"] += rng.randint(0, 300)
        chan = ChannelCounters(
            ts, 0, channel=0, pool=0, kind=1, flags=0, capacity=64, depth=rng.randint(0, 64), elem_size=64,
            sends=ch["sends"], recvs=ch["recvs"], bytes_sent=ch["sends"] * 64, bytes_recv=ch["recvs"] * 64,
            send_eagain=ch["eagain_s"], recv_eagain=ch["eagain_r"], send_epipe=0, recv_epipe=0,
            send_timeouts=0, recv_timeouts=0, zc_sent=0, zc_recv=0, zc_aborted=0, rv_matches=0, rv_cancels=0,
        )  # fmt: skip
        for _ in range(200):
            b = min(23, max(0, int(rng.gauss(9, 2.5))))
            hist[b] += 1
            total += 1 << b
        last = max(i for i, c in enumerate(hist) if c) + 1 if any(hist) else 0
        h = Histogram(
            ts, 0, metric="task_start_latency_ns", pool=0, scheme="log2x4", counts=hist[:last], total=total
        )
        g = Gauge(ts, 0, name="inject_depth", pool=0, value=float(rng.randint(0, 30)))
        tick = Tick(ts, 0, seq=i, target_ns=INTERVAL, actual_ns=actual, paused=False)
        out.append(encode_frame([tick, *workers, chan, h, g]))
    return out


def record(payload: bytes, seq: int) -> bytes:
    crc = lib.kcs_crc32c_buf(0, payload, len(payload))
    return struct.pack("<IIQ", len(payload), crc, seq) + payload + bytes((-len(payload)) & 7)


def best_of(n: int, fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(n):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def dir_bytes(d: Path) -> int:
    return sum(p.stat().st_size for p in d.iterdir())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=50_000)
    ap.add_argument("--level", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    n = args.frames
    events = n * EVENTS_PER_FRAME
    payloads = make_payloads(n)
    records = [record(p, i) for i, p in enumerate(payloads)]
    tss = [T0 + (i + 1) * INTERVAL for i in range(n)]
    raw = b"".join(records)
    tmp = Path(tempfile.mkdtemp(prefix="kcs-logbench-"))
    try:
        # ------------------------------------------------------------ size
        sizes: list[tuple[str, int]] = [("raw frames (ring bytes)", len(raw))]
        for level in sorted({1, args.level, 9}):
            d = tmp / f"size-{level}"
            with LogWriter.create(d, "bench", fsync="never", level=level) as w:
                for i, r in enumerate(records):
                    w.append_record(r, i, tss[i])
                    if i % 100 == 99:  # 1 s of 10 ms ticks per block, as the ingester flushes
                        w.flush()
            sizes.append((f"event log, zstd -{level}, 1 s blocks", dir_bytes(d)))
        buf = io.BytesIO()
        assert cat_ndjson(tmp / f"size-{args.level}", buf) == events
        nd = buf.getvalue()
        sizes.append(("NDJSON (log cat)", len(nd)))
        sizes.append(("NDJSON.gz (gzip -6)", len(gzip.compress(nd, 6))))
        sizes.append(("NDJSON.zst (zstd -3)", len(zstandard.ZstdCompressor(level=3).compress(nd))))
        gz = dict(sizes)["NDJSON.gz (gzip -6)"]
        print(f"\nLog size: {n} frames, {events} events ({EVENTS_PER_FRAME} per frame)\n")
        print(f"{'format':<36}{'bytes':>12}{'B/event':>10}{'vs NDJSON.gz':>14}")
        for name, size in sizes:
            print(f"{name:<36}{size:>12}{size / events:>10.1f}{size / gz:>13.2f}x")

        # ------------------------------------------------------ throughput
        def raw_write() -> None:
            p = tmp / "raw.bin"
            with open(p, "wb") as f:
                for r in records:
                    f.write(r)
            os.unlink(p)

        k = [0]

        def log_append() -> None:
            k[0] += 1
            d = tmp / f"append-{k[0]}"
            with LogWriter.create(d, "bench", fsync="never", level=args.level) as w:
                for i, r in enumerate(records):
                    w.append_record(r, i, tss[i])
                    if i % 100 == 99:
                        w.flush()
            shutil.rmtree(d)

        rawfile = tmp / "replay.bin"
        rawfile.write_bytes(raw)
        logdir = tmp / f"size-{args.level}"
        unpack = struct.Struct("<IIQ").unpack_from

        def raw_read() -> None:
            data = rawfile.read_bytes()
            pos = 0
            while pos < len(data):
                ln, _crc, _seq = unpack(data, pos)
                _ = data[pos + 16 : pos + 16 + ln]
                pos += 16 + ((ln + 7) & ~7)

        def log_replay() -> None:
            for _ in open_log(logdir).frames():
                pass

        def raw_read_decode() -> None:
            data = rawfile.read_bytes()
            mv = memoryview(data)
            pos = 0
            while pos < len(data):
                ln, _crc, _seq = unpack(data, pos)
                decode_frame(mv[pos + 16 : pos + 16 + ln])
                pos += 16 + ((ln + 7) & ~7)

        def log_replay_decode() -> None:
            for f in open_log(logdir).frames():
                decode_frame(f.payload)

        def log_cat() -> None:
            cat_ndjson(logdir, io.BytesIO())

        r = args.repeat
        base_decode = best_of(r, raw_read_decode)
        rows = [
            ("append", "raw file write (buffered)", best_of(r, raw_write), "log append + 1 s flushes"),
            ("", "", 0.0, "", best_of(r, log_append)),
            ("replay frames", "raw read + frame walk", best_of(r, raw_read), "log frames()"),
            ("", "", 0.0, "", best_of(r, log_replay)),
            ("replay + decode", "raw read + decode_frame", base_decode, "log frames() + decode"),
            ("", "", 0.0, "", best_of(r, log_replay_decode)),
            ("log cat", "raw read + decode_frame", base_decode, "cat_ndjson (NDJSON out)"),
            ("", "", 0.0, "", best_of(r, log_cat)),
        ]
        rows = [(*a[:4], b[4]) for a, b in zip(rows[::2], rows[1::2], strict=True)]
        print(f"\nThroughput: best of {r}, {n} frames, {len(raw) / 1e6:.1f} MB of frames, fsync=never\n")
        print(f"{'path':<17}{'baseline':<28}{'frames/s':>11}{'events/s':>12}   "
              f"{'event log':<26}{'frames/s':>11}{'events/s':>12}{'log/base':>10}")  # fmt: skip
        for what, bname, bt, lname, lt in rows:
            print(
                f"{what:<17}{bname:<28}{n / bt:>11,.0f}{events / bt:>12,.0f}   "
                f"{lname:<26}{n / lt:>11,.0f}{events / lt:>12,.0f}{bt / lt:>9.2f}x"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
