"""The coroutine view's cost (issue 30): throughput with ``--coroutines`` against without, and bytes
per snapshot at 10 and 10,000 live coroutines.

1. Throughput, tasks and channel mode: interleaved A/B pairs (A = sampler + ring + a reader
   decoding every frame, B = the same with ``--coroutines``), so slow drift of a shared machine
   hits both sides alike. The ratio B/A of each pair, its median and a bootstrap 95 % confidence
   interval (10,000 resamples of the pairs). Target: a cost <= 2 %.
2. Bytes per coroutine snapshot in the log: real runs recorded by ``kcoro-stream run --log``; each
   snapshot frame (CoroutineState x entries + ChannelWaiters x channels) measured as written,
   against the live coroutines at that moment (the ``live_coroutines`` gauge). 10 live: channel
   mode, 5 producers + 5 consumers. ~10,000 live: mixed mode with batches of 10,000 tasks on a
   64-slot channel — most of them queued, not yet started, so not tracked (``entries`` shows how
   many the view held; with -c 1 the mixed workload does not finish its stop, with or without the
   view); and 2,048 tracked ones (channel mode, 1024 producers and 1024 consumers, all in the
   snapshot with top 10000).; with the default
   ``--coroutines-top`` (16: the snapshot is bounded) and with ``--coroutines-top 10000`` (all).
   The baseline row is a snapshot's fixed part: the ChannelWaiters alone.

Run: python benchmarks/coroutines_cost.py [--quick]
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from native_common import QUICK, RingDrain, machine_note, run_summary, table

from kcoro_stream.eventlog import open_log
from kcoro_stream.events import ChannelWaiters, CoroutineState, Gauge, decode_frame, encode_frame

SECS = "0.5" if QUICK else "2"
PAIRS = 2 if QUICK else 10
RESAMPLES = 200 if QUICK else 10_000
LOG_SECS = "1" if QUICK else "3"


def observed(workload: list[str], key: str, *extra: str) -> float:
    path = os.path.join(tempfile.gettempdir(), f"kcs-coroview-{os.getpid()}.ring")
    with RingDrain(path):
        s = run_summary("--ring", path, *workload, *extra, "-d", SECS)
    return float(s[key])


def bootstrap_ci(ratios: list[float], rng: random.Random) -> tuple[float, float]:
    meds = sorted(statistics.median(rng.choices(ratios, k=len(ratios))) for _ in range(RESAMPLES))
    return meds[int(0.025 * len(meds))], meds[int(0.975 * len(meds)) - 1]


def throughput() -> None:
    rng = random.Random(1)
    rows = []
    for name, workload, key in [
        ("tasks, 2 workers", ["--mode", "tasks", "--workers", "2"], "tasks_per_s"),
        ("channel, 2 workers", ["--mode", "channel", "--workers", "2"], "msgs_per_s"),
    ]:
        base, view, ratios = [], [], []
        for k in range(PAIRS):
            pair = [("a", ()), ("b", ("--coroutines",))]
            if k % 2:  # alternate which side goes first
                pair.reverse()
            got = {side: observed(workload, key, *extra) for side, extra in pair}
            base.append(got["a"])
            view.append(got["b"])
            ratios.append(got["b"] / got["a"])
        lo, hi = bootstrap_ci(ratios, rng)
        med = statistics.median(ratios)
        cost = (1 - med) * 100
        rows.append(
            [
                name,
                f"{statistics.median(base) / 1e6:,.2f} M/s",
                f"{statistics.median(view) / 1e6:,.2f} M/s",
                f"{med:.3f}x",
                f"[{lo:.3f}, {hi:.3f}]",
                f"{cost:+.2f} %",
                "target <= 2 %: " + ("met" if cost <= 2 else "NOT met"),
            ]
        )
    table(
        f"throughput, {PAIRS} interleaved A/B pairs x {SECS} s (ratio = B/A per pair; median, bootstrap 95 % CI)",
        ["workload", "A: view off (baseline)", "B: --coroutines", "ratio", "95 % CI", "cost", "note"],
        rows,
    )


def snapshots(log: Path) -> list[tuple[int, int, int, float]]:
    """(frame bytes, CoroutineState entries, ChannelWaiters bytes, live coroutines) per snapshot."""
    out = []
    live = 0.0
    for frame in open_log(log).frames(None, None):
        evs = decode_frame(frame.payload)
        for e in evs:
            if type(e) is Gauge and e.name == "live_coroutines":
                live = e.value
        coros = [e for e in evs if type(e) is CoroutineState]
        chans = [e for e in evs if type(e) is ChannelWaiters]
        if coros or chans:
            out.append((len(frame.payload), len(coros), len(encode_frame(chans)), live))
    return out


def snapshot_bytes() -> None:
    rows = []
    cases = [
        ("10 live (channel -P 5 -C 5)", ["-m", "channel", "-P", "5", "-C", "5"]),
        ("~10,000 live, top 16", ["-m", "mixed", "--batch", "10000", "-c", "64", "-C", "1"]),
        (
            "~10,000 live, top 10000",
            ["-m", "mixed", "--batch", "10000", "-c", "64", "-C", "1", "--coroutines-top", "10000"],
        ),
        (
            "2,048 tracked (channel -P 1024 -C 1024), top 10000",
            ["-m", "channel", "-P", "1024", "-C", "1024", "--coroutines-top", "10000"],
        ),
    ]
    with tempfile.TemporaryDirectory(prefix="kcs-coroview-") as tmp:
        for name, args in cases:
            log = Path(tmp) / name.split()[0].replace(",", "")
            log = log.with_name(f"{log.name}-{len(rows)}")
            p = subprocess.run(
                [sys.executable, "-m", "kcoro_stream", "run", "--workers", "2", "-d", LOG_SECS,
                 "--coroutines", *args, "--no-tui", "--no-stdout", "--log", str(log)],
                capture_output=True, text=True, timeout=300,
            )  # fmt: skip
            if p.returncode != 0:
                raise SystemExit(f"{name}: the run failed ({p.returncode}): {p.stderr.strip()}")
            snaps = snapshots(log)
            if not snaps:
                raise SystemExit(f"{name}: no snapshot in the log")
            size = statistics.median(s[0] for s in snaps)
            entries = statistics.median(s[1] for s in snaps)
            fixed = statistics.median(s[2] for s in snaps)
            live = statistics.median(s[3] for s in snaps)
            per = (size - fixed) / entries if entries else float("nan")
            rows.append(
                [name, f"{live:,.0f}", f"{entries:,.0f}", f"{size:,.0f} B", f"{fixed:,.0f} B", f"{per:,.1f} B",
                 f"{size / fixed:,.1f}x"]
            )  # fmt: skip
    table(
        f"bytes per coroutine snapshot in the log ({LOG_SECS} s runs; medians over the snapshots)",
        ["run", "live coroutines", "entries", "snapshot", "baseline: channels only", "per entry", "ratio"],
        rows,
    )


def main() -> None:
    print(f"the coroutine view's cost ({machine_note()})")
    throughput()
    snapshot_bytes()


if __name__ == "__main__":
    main()
