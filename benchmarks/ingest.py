"""Ingest path benchmarks (issue 2): capacity, replay speed, end-to-end latency, log size.

Every table compares against a baseline measured in the same run:

* capacity: producer → ring → ingester → event log, events/s with zero loss,
  against the decode-only ceiling (msgspec decoding the same frames from memory);
* replay: `log cat` and the default pipeline over the recorded log, against
  reading the log's frames without decoding;
* latency: producer timestamp → NDJSON line read by a consumer of stdout, at
  10 ms sampling, with the event log on vs off;
* size: bytes per event, zstd event log vs NDJSON.gz of the same events.

Run: python benchmarks/ingest.py [--quick]
"""

from __future__ import annotations

import gzip
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trio

from kcoro_stream.eventlog import open_log
from kcoro_stream.events import decode_frame
from kcoro_stream.ingest import ChildProducer, Ingester, RingReader, monotonic_ns
from kcoro_stream.runloop import FrameRouter

QUICK = "--quick" in sys.argv
SYNTH = [sys.executable, "-m", "kcoro_stream.sources.synthetic"]
KS = [sys.executable, "-m", "kcoro_stream"]
WORKERS, CHANNELS = 64, 32  # ~100 events per frame, like a big runtime's tick


def table(title: str, header: list[str], rows: list[list[object]]) -> None:
    print(f"\n{title}")
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    for r in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(x).rjust(w) for x, w in zip(r, widths, strict=True)))


def fmt(x: float) -> str:
    return f"{x:,.0f}"


async def ingest_once(tmp: Path, rate: int, seconds: float) -> tuple[float, int, int, Path]:
    """Producer at `rate` ticks/s (0 = flat out) into ingester + log; returns (events/s, lost, events, run)."""
    from kcoro_stream.eventlog import LogWriter

    run = tmp / f"run-{rate}"
    ring = RingReader.create(tmp / f"ring-{rate}", data_size=32 << 20)
    log = LogWriter.create(run, f"bench-{rate}", fsync="never")
    flow = FrameRouter(None, [], log)
    frames = str(int(rate * seconds)) if rate else str(int(30000 * seconds))
    proc = await trio.lowlevel.open_process(
        [
            *SYNTH,
            "--ring",
            str(ring.path),
            "--rate",
            str(rate),
            "--frames",
            frames,
            "--workers",
            str(WORKERS),
            "--channels",
            str(CHANNELS),
        ]
    )
    t0 = time.perf_counter()
    outcome = await Ingester(ring, flow, producer=ChildProducer(proc)).run()
    dt = time.perf_counter() - t0
    await proc.wait()
    log.close()
    info = ring.info()
    ring.close()
    assert outcome.ok, outcome.message
    events, _ = decode_ceiling(run)
    return events / dt, info.frames_dropped, events, run


def decode_ceiling(run: Path) -> tuple[int, float]:
    """(events in the log, events/s of decoding them from memory)."""
    payloads = [bytes(f.payload) for f in open_log(run).frames()]
    n = 0
    t0 = time.perf_counter()
    for p in payloads:
        n += len(decode_frame(p))
    return n, n / (time.perf_counter() - t0)


def capacity(tmp: Path) -> Path:
    rows = []
    best_run = None
    best = 0.0
    seconds = 1.0 if QUICK else 2.0
    for rate in (5000, 10000, 20000, 30000, 40000, 0):
        eps, lost, events, run = trio.run(ingest_once, tmp, rate, seconds)
        _, ceiling = decode_ceiling(run)
        rows.append([rate or "max", fmt(events), fmt(eps), lost, fmt(ceiling), f"{eps / ceiling:.2f}"])
        if lost == 0 and eps > best:
            best, best_run = eps, run
    table(
        f"Ingest capacity: synthetic producer ({WORKERS} workers, {CHANNELS} channels per frame) → ring → ingester → log",
        ["ticks/s", "events", "events/s", "frames lost", "decode-only ev/s", "ratio"],
        rows,
    )
    print(f"sustained with zero loss: {fmt(best)} events/s (target ≥ 3,000,000)")
    assert best_run is not None
    return best_run


def replay(run: Path, tmp: Path) -> None:
    reader = open_log(run)
    t0 = time.perf_counter()
    frames = sum(1 for _ in reader.frames())
    t_read = time.perf_counter() - t0
    events = open_log(run).info().frames and sum(len(decode_frame(f.payload)) for f in open_log(run).frames())
    t0 = time.perf_counter()
    subprocess.run([*KS, "log", "cat", str(run)], stdout=subprocess.DEVNULL, check=True)
    t_cat = time.perf_counter() - t0
    t0 = time.perf_counter()
    subprocess.run(
        [
            *KS,
            "replay",
            str(run),
            "pipelines/default.py",
            "--no-tui",
            "--no-stdout",
            "--out",
            str(tmp / "replay.ndjson"),
            "--force",
        ],
        check=True,
    )
    t_pipe = time.perf_counter() - t0
    table(
        f"Replay of the recorded log ({fmt(frames)} frames, {fmt(events)} events; process start-up included)",
        ["what", "seconds", "events/s", "vs raw frame read"],
        [
            ["read frames (baseline)", f"{t_read:.2f}", fmt(events / t_read), "1.00"],
            ["kcoro-stream log cat", f"{t_cat:.2f}", fmt(events / t_cat), f"{t_read / t_cat:.2f}"],
            ["replay default pipeline", f"{t_pipe:.2f}", fmt(events / t_pipe), f"{t_read / t_pipe:.2f}"],
        ],
    )


LATENCY_PIPELINE = """
from reactivex import operators as rx
from kcoro_stream.events import Status, Tick
from kcoro_stream.pipeline import BenchSource, Pipeline

def per_tick(src):
    return src.pipe(
        rx.filter(lambda b: bool(b) and isinstance(b[0], Tick)),
        rx.map(lambda b: Status(ts=0.0, ts_ns=b[0].ts_ns, state="tick")),
    )

pipeline = Pipeline(source=BenchSource(producer="synthetic", interval_ms=10), derive=per_tick, sinks=["stdout"])
"""


def latency(tmp: Path) -> None:
    pipe = tmp / "latency.py"
    pipe.write_text(LATENCY_PIPELINE)
    rows = []
    results = {}
    for label, extra in (
        ("no event log (baseline)", ["--no-log"]),
        ("with event log", ["--log", str(tmp / "lat")]),
    ):
        proc = subprocess.Popen(
            [*KS, "run", str(pipe), "--duration", "3" if QUICK else "6", "--no-tui", *extra],
            stdout=subprocess.PIPE,
        )
        lat = []
        assert proc.stdout is not None
        for line in proc.stdout:
            now = monotonic_ns()
            lat.append((now - json.loads(line)["ts_ns"]) / 1e6)
        proc.wait()
        lat = sorted(lat[10:])  # skip start-up
        p50 = statistics.median(lat)
        p99 = lat[int(len(lat) * 0.99) - 1]
        results[label] = (p50, p99)
        rows.append([label, len(lat), f"{p50:.3f}", f"{p99:.3f}", f"{max(lat):.3f}"])
    base = results["no event log (baseline)"][1]
    for r in rows:
        r.append(f"{float(r[3]) / base:.2f}")
    table(
        "End-to-end latency at 10 ms sampling: producer timestamp → NDJSON line read from stdout (ms)",
        ["variant", "lines", "p50", "p99", "max", "p99 ratio"],
        rows,
    )
    print("target: p99 ≤ 5 ms")


def size(run: Path, tmp: Path) -> None:
    on_disk = sum(p.stat().st_size for p in run.glob("segment-*"))
    nd = tmp / "events.ndjson.gz"
    with gzip.open(nd, "wb") as f:
        subprocess.run([*KS, "log", "cat", str(run)], stdout=f, check=True)  # type: ignore[arg-type]
    events = sum(len(decode_frame(fr.payload)) for fr in open_log(run).frames())
    table(
        "Log size (same events)",
        ["format", "bytes", "bytes/event", "ratio"],
        [
            ["NDJSON.gz (baseline)", fmt(nd.stat().st_size), f"{nd.stat().st_size / events:.2f}", "1.00"],
            [
                "event log (zstd blocks)",
                fmt(on_disk),
                f"{on_disk / events:.2f}",
                f"{on_disk / nd.stat().st_size:.2f}",
            ],
        ],
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        run = capacity(tmp)
        replay(run, tmp)
        size(run, tmp)
        latency(tmp)


if __name__ == "__main__":
    main()
