"""How fast are the default analyses, and does their memory stay flat?

Question 1 — throughput: the default analyses (``ops.default_analyses``) over
synthetic batches shaped like the bundled sampler's frames (10 ms sampling,
2 workers, 1 channel: Tick, 2×WorkerCounters, ChannelCounters, Histogram,
Gauge = 6 raw events per frame), pushed through a hot reactivex Subject as the
pipeline runner does. Baseline, measured in the same run: a plain-Python loop
computing the same numbers (windowed counter differences, rates, ratios,
utilisation, per-frame monotonicity checks, histogram deltas and quantiles,
per-worker heat-map) with no reactivex and no output events. The default
analyses also build every output event (Sample, Kpi, HistogramSummary x4,
Heatmap per window), smooth, score outliers and track alert state, which the
baseline does not; the ratio is therefore a ceiling on reactive overhead. Also: the same
analyses fed from msgpack frame payloads (decode included), as in replay.

Question 2 — memory: tracemalloc current/peak while replaying one hour of
10 ms sampling (360 000 frames), generated lazily so only the operators'
memory is counted; it must stay flat (bounded), not grow with the run.

    python benchmarks/ops_throughput.py            # full: 60k-frame throughput, 1 h memory
    python benchmarks/ops_throughput.py --quick    # smaller, for a smoke run

Prints one table per question. Times are this process's CPU time
(``time.process_time``, best of N), so other load on the machine disturbs them
less than wall time would; the run is single-threaded (one core).
"""

from __future__ import annotations

import argparse
import gc
import math
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from operator import attrgetter, lt
from typing import Any

from reactivex.subject import Subject

from kcoro_stream import ops
from kcoro_stream.events import (
    ChannelCounters,
    Gauge,
    Histogram,
    RunStarted,
    Tick,
    WorkerCounters,
    decode_frame,
    encode_frame,
)

MS = 1_000_000
INTERVAL = 10 * MS
WORKERS = 2
WINDOW_MS = 250


def synthetic_frames(n: int, seed: int = 1) -> Iterator[list[Any]]:
    """RunStarted, then n frames of cumulative counters (xorshift, like synthetic_producer.c)."""
    x = seed * 0x9E3779B97F4A7C15 | 1

    def rnd() -> int:
        nonlocal x
        x ^= (x << 13) & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 7
        x ^= (x << 17) & 0xFFFFFFFFFFFFFFFF
        return x

    t0 = 1_000_000_000_000
    yield [
        RunStarted(t0, 0, run_id="bench", mode="tasks", config={"workers": WORKERS}, workers=WORKERS, host="bench",
                   pid=1, abi_major=1, abi_minor=0, build={}, wall_ns=1_700_000_000 * 10**9, interval_ns=INTERVAL)
    ]  # fmt: skip
    sub = [0] * WORKERS
    done = [0] * WORKERS
    hits = [0] * WORKERS
    probes = [0] * WORKERS
    succ = [0] * WORKERS
    busy = [0] * WORKERS
    sends = 0
    hist = [0] * 32
    hist_total = 0
    for tick in range(1, n + 1):
        now = t0 + tick * INTERVAL
        frame: list[Any] = [Tick(now, 0, seq=tick, target_ns=INTERVAL, actual_ns=INTERVAL + rnd() % 200_000 - 100_000,
                                 paused=False)]  # fmt: skip
        for w in range(WORKERS):
            k = 1000 + rnd() % 1000
            sub[w] += k
            done[w] = min(sub[w], done[w] + k - rnd() % 8)
            hits[w] += k * 9 // 10
            probes[w] += 10
            succ[w] += rnd() % 10
            busy[w] += INTERVAL * 8 // 10
            frame.append(
                WorkerCounters(now, 0, worker=w, pool=0, tasks_submitted=sub[w], tasks_completed=done[w],
                               fastpath_hits=hits[w], fastpath_misses=max(0, done[w] - hits[w]),
                               steal_probes=probes[w], steal_successes=succ[w], steal_failures=probes[w] - succ[w],
                               last_victim=(w + 1) % WORKERS, inject_pulls=tick, parks=tick // 2, unparks=tick // 2,
                               busy_ns=busy[w], idle_ns=tick * INTERVAL - busy[w], switches=done[w] * 2)
            )  # fmt: skip
        sends += 5000 + rnd() % 100
        frame.append(
            ChannelCounters(now, 0, channel=0, pool=0, kind=1, flags=0, capacity=1024, depth=rnd() % 1024,
                            elem_size=64, sends=sends, recvs=sends, bytes_sent=sends * 64, bytes_recv=sends * 64,
                            send_eagain=0, recv_eagain=0, send_epipe=0, recv_epipe=0, send_timeouts=0,
                            recv_timeouts=0, zc_sent=0, zc_recv=0, zc_aborted=0, rv_matches=0, rv_cancels=0)
        )  # fmt: skip
        # 64 latencies per tick spread over buckets 29..31 and 16..28 (200..2200 ns), cheaply
        r = rnd()
        for j in range(4):
            b = 28 + ((r >> (8 * j)) & 3)
            hist[b] += 16 if j else 15
            hist_total += 16 * ops.bucket_lower(b)
        hist[16 + r % 13] += 1
        hist_total += ops.bucket_lower(16 + r % 13)
        nb = 32
        while nb and hist[nb - 1] == 0:
            nb -= 1
        frame.append(Histogram(now, 0, metric="task_start_latency_ns", pool=0, scheme="log2x4", counts=hist[:nb],
                               total=hist_total))  # fmt: skip
        frame.append(Gauge(now, 0, name="inject_depth", pool=0, value=float(rnd() % 64)))
        yield frame


# ------------------------------------------------------------------ baseline

_W = ("tasks_submitted", "tasks_completed", "fastpath_hits", "fastpath_misses", "steal_probes", "steal_successes",
      "steal_failures", "inject_pulls", "parks", "unparks", "busy_ns", "idle_ns", "switches")  # fmt: skip
_C = ("sends", "recvs", "bytes_sent", "bytes_recv", "send_eagain", "recv_eagain", "send_epipe", "recv_epipe",
      "send_timeouts", "recv_timeouts", "zc_sent", "zc_recv", "zc_aborted", "rv_matches", "rv_cancels")  # fmt: skip
_gw = attrgetter(*_W)
_gc = attrgetter(*_C)


def plain_loop(batches: list[list[Any]]) -> list[dict[str, Any]]:
    """The same numbers as the default analyses, hand-written: one loop, dicts out."""
    width = WINDOW_MS * MS
    out: list[dict[str, Any]] = []
    origin = None
    end = None
    base_ts = 0
    last_ts = 0
    base_w: dict[int, WorkerCounters] = {}
    base_c: dict[int, ChannelCounters] = {}
    base_h: dict[tuple[str, int], Histogram] = {}
    last_w: dict[int, WorkerCounters] = {}
    last_c: dict[int, ChannelCounters] = {}
    last_h: dict[tuple[str, int], Histogram] = {}
    gauges: list[float] = []
    depths: list[int] = []
    jitter: list[int] = []
    violations = 0

    def close() -> None:
        nonlocal base_ts
        span = last_ts - base_ts
        d = dict.fromkeys(_W, 0)
        utils = []
        for wid, cur in last_w.items():
            b = base_w.get(wid)
            for name in _W:
                d[name] += getattr(cur, name) - (getattr(b, name) if b is not None else 0)
            busy = cur.busy_ns - (b.busy_ns if b else 0)
            idle = cur.idle_ns - (b.idle_ns if b else 0)
            utils.append(busy / (busy + idle) if busy + idle else None)
        msgs = sum(c.recvs - (base_c[k].recvs if k in base_c else 0) for k, c in last_c.items())
        nbytes = sum(c.bytes_recv - (base_c[k].bytes_recv if k in base_c else 0) for k, c in last_c.items())
        row: dict[str, Any] = {
            "tasks_per_s": d["tasks_completed"] * 1e9 / span,
            "fastpath_ratio": d["fastpath_hits"] / ((d["fastpath_hits"] + d["fastpath_misses"]) or 1),
            "steal_ratio": d["steal_successes"] / (d["steal_probes"] or 1),
            "msgs_per_s": msgs * 1e9 / span,
            "gbps": nbytes * 8 / span,
            "utilisation": d["busy_ns"] / ((d["busy_ns"] + d["idle_ns"]) or 1),
            "inject_depth": gauges[-1] if gauges else None,
            "inject_depth_mean": sum(gauges) / len(gauges) if gauges else None,
            "channel_depth_mean": sum(depths) / len(depths) if depths else None,
        }
        xs = [u for u in utils if u is not None]
        mean = sum(xs) / len(xs) if xs else 0
        row["imbalance"] = statistics.pstdev(xs) / mean if mean else None
        for key, h in last_h.items():
            b = base_h.get(key)
            counts = list(h.counts)
            if b is not None:
                for i, c in enumerate(b.counts):
                    counts[i] -= c
            row[key[0]] = [ops.quantile(counts, q) for q in (0.5, 0.9, 0.99, 0.999)]
            row[key[0] + "_cum"] = [ops.quantile(h.counts, q) for q in (0.5, 0.9, 0.99, 0.999)]
        row["jitter_p99"] = sorted(jitter)[math.ceil(0.99 * len(jitter)) - 1] if jitter else None
        out.append(row)
        base_w.clear()
        base_w.update(last_w)
        base_c.clear()
        base_c.update(last_c)
        base_h.clear()
        base_h.update(last_h)
        base_ts = last_ts
        gauges.clear()
        depths.clear()
        jitter.clear()

    for batch in batches:
        ts = batch[0].ts_ns
        if type(batch[0]) is RunStarted:
            origin = base_ts = ts
            end = origin + width
            continue
        if end is not None and ts >= end:
            close()
            end = origin + ((ts - origin) // width + 1) * width
        last_ts = ts
        for ev in batch:
            t = type(ev)
            if t is WorkerCounters:
                prev = last_w.get(ev.worker)
                if prev is not None and any(map(lt, _gw(ev), _gw(prev))):
                    violations += 1
                last_w[ev.worker] = ev
            elif t is ChannelCounters:
                prevc = last_c.get(ev.channel)
                if prevc is not None and any(map(lt, _gc(ev), _gc(prevc))):
                    violations += 1
                last_c[ev.channel] = ev
                depths.append(ev.depth)
            elif t is Tick:
                jitter.append(abs(ev.actual_ns - ev.target_ns))
            elif t is Histogram:
                last_h[(ev.metric, ev.pool)] = ev
            elif t is Gauge:
                gauges.append(ev.value)
    close()
    assert violations == 0
    return out


# ------------------------------------------------------------------ runners


def run_operator(op: Callable[[Any], Any], batches: Any) -> int:
    subject: Subject[list[Any]] = Subject()
    out: list[Any] = []
    errors: list[Exception] = []
    op(subject).subscribe(out.append, errors.append)
    push = subject.on_next
    for b in batches:
        push(b)
    subject.on_completed()
    if errors:
        raise errors[0]
    return len(out)


def run_payloads(op: Callable[[Any], Any], payloads: list[bytes]) -> int:
    return run_operator(op, (decode_frame(p) for p in payloads))


def best_of(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best = math.inf
    result = None
    for _ in range(repeat):
        gc.collect()
        t = time.process_time()  # CPU time of this process: robust to other load on the machine
        result = fn()
        best = min(best, time.process_time() - t)
    return best, result


def throughput(frames: int, repeat: int) -> None:
    batches = list(synthetic_frames(frames))
    payloads = [encode_frame(b) for b in batches]
    events = sum(len(b) for b in batches)
    rows = []
    t_base, _ = best_of(lambda: plain_loop(batches), repeat)
    rows.append(("plain-Python loop (baseline)", t_base, None))
    t, n = best_of(lambda: run_operator(ops.default_analyses(window_ms=WINDOW_MS), batches), repeat)
    rows.append((f"default_analyses ({n} derived)", t, None))
    t_w, n = best_of(
        lambda: run_operator(ops.default_analyses(window_ms=WINDOW_MS, monotonic="window"), batches), repeat
    )
    rows.append(("default_analyses(monotonic='window')", t_w, None))
    t_rates, n = best_of(lambda: run_operator(ops.rates(window_ms=WINDOW_MS), batches), repeat)
    rows.append((f"ops.rates only ({n} samples)", t_rates, None))
    t_dec, _ = best_of(lambda: [decode_frame(p) for p in payloads], repeat)
    rows.append(("decode_frame only", t_dec, None))
    t_rep, n = best_of(lambda: run_payloads(ops.default_analyses(window_ms=WINDOW_MS), payloads), repeat)
    rows.append(("decode + default_analyses", t_rep, None))
    print(f"\nThroughput: {frames} frames x {events / frames:.0f} raw events ({events} events), "
          f"{WORKERS} workers, 1 channel, {WINDOW_MS} ms windows, best of {repeat}")  # fmt: skip
    print(f"{'pipeline':<42} {'seconds':>9} {'M events/s':>11} {'vs baseline':>12}")
    for name, secs, _ in rows:
        print(f"{name:<42} {secs:>9.3f} {events / secs / 1e6:>11.2f} {t_base / secs:>11.2f}x")
    for name, secs, _ in rows[1:3]:
        rate = events / secs
        print(
            f"target >= 1.00 M raw events/s: {name}: {'MET' if rate >= 1e6 else 'NOT MET'} ({rate / 1e6:.2f} M/s)"
        )


def memory(frames: int, checkpoints: int) -> None:
    op = ops.default_analyses(window_ms=WINDOW_MS)
    subject: Subject[list[Any]] = Subject()
    count = 0

    def sink(_: Any) -> None:  # count, don't keep: a sink writes and forgets
        nonlocal count
        count += 1

    op(subject).subscribe(sink)
    step = frames // checkpoints
    print(
        f"\nMemory: {frames} frames ({frames * INTERVAL / 1e9 / 60:.0f} min of 10 ms sampling), tracemalloc"
    )
    print(f"{'frames':>9} {'event time':>11} {'current KiB':>12} {'peak KiB':>10} {'derived':>9}")
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    peaks = []
    for i, batch in enumerate(synthetic_frames(frames), start=0):
        subject.on_next(batch)
        if i and i % step == 0:
            cur, peak = tracemalloc.get_traced_memory()
            peaks.append(peak - base)
            print(f"{i:>9} {i * INTERVAL / 1e9 / 60:>9.1f} m {(cur - base) / 1024:>12.1f} "
                  f"{(peak - base) / 1024:>10.1f} {count:>9}")  # fmt: skip
            tracemalloc.reset_peak()
    subject.on_completed()
    cur, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{'end':>9} {'':>11} {(cur - base) / 1024:>12.1f} {(peak - base) / 1024:>10.1f} {count:>9}")
    half = len(peaks) // 2
    if half:
        early, late = max(peaks[:half]), max(peaks[half:])
        print(
            f"flat: peak in 2nd half / 1st half = {late / early:.2f} ({'FLAT' if late <= early * 1.1 else 'GROWS'})"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer frames (smoke run)")
    ap.add_argument("--frames", type=int, default=None, help="frames for the throughput table")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--memory-frames", type=int, default=None, help="frames for the memory table (default 360000)"
    )
    args = ap.parse_args(argv)
    frames = args.frames or (6_000 if args.quick else 60_000)
    mem_frames = args.memory_frames or (36_000 if args.quick else 360_000)
    throughput(frames, 1 if args.quick else args.repeat)
    memory(mem_frames, 6)
    return 0


if __name__ == "__main__":
    sys.exit(main())
