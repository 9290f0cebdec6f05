"""What the per-worker perf counters cost the benchmark (issue 18): throughput with
OsCounters (perf_event_open, one group read per worker per tick) against the same run
with --no-perf-counters, in interleaved A/B pairs (the order alternates within a pair,
so a load swing of the shared machine hits both sides alike). Both sides sample into
a ring that a thread drains and decodes (benchmarks/native_common.RingDrain), at the
default 10 ms interval; only the counters differ.

The ratio is the geometric mean of the per-pair ratios with a bootstrap 95 % interval
and a verdict from the exact sign-flip test, by the same statistics as ``kcoro-stream
compare`` on an A/B results directory (kcoro_stream.compare.verdict_for, paired). Target: a loss of at most 1 %.

Run: python benchmarks/perf_counters_cost.py [--quick] [--pin]
"""

from __future__ import annotations

import os
import sys
import tempfile

from native_common import QUICK, RingDrain, machine_note, run_summary, table

from kcoro_stream.compare import verdict_for

SECS = "0.5" if QUICK else "2"
PAIRS = 8 if QUICK else 12  # the exact paired test reaches p < 0.01 from 8 pairs (2/2^8)
PIN = ["--pin"] if "--pin" in sys.argv else []
THRESHOLD = 0.01  # the target: at most 1 % lost


def one(workload: list[str], key: str, counters: bool) -> float:
    path = os.path.join(tempfile.gettempdir(), f"kcs-perfcost-{os.getpid()}.ring")
    extra = [] if counters else ["--no-perf-counters"]
    with RingDrain(path):
        s = run_summary("--ring", path, *workload, *PIN, *extra, "-d", SECS)
    return float(s[key])


def main() -> None:
    print(
        f"perf counter cost, {PAIRS} interleaved pairs x {SECS} s ({machine_note()}{', pinned' if PIN else ''})"
    )
    rows = []
    for name, workload, key in [
        ("tasks, 2 workers", ["--mode", "tasks", "--workers", "2"], "tasks_per_s"),
        ("channel 1024, 2 workers", ["--mode", "channel", "--workers", "2"], "msgs_per_s"),
    ]:
        off: list[float] = []
        on: list[float] = []
        for i in range(PAIRS):
            first, second = (True, False) if i % 2 == 0 else (False, True)
            got = {first: one(workload, key, first), second: one(workload, key, second)}
            on.append(got[True])
            off.append(got[False])
        v = verdict_for(key, off, on, threshold=THRESHOLD, paired=True)
        assert v.ratio is not None and v.ci_low is not None and v.ci_high is not None
        rows.append(
            [
                name,
                f"{v.median_base:,.0f}",
                f"{v.median_new:,.0f}",
                f"{v.ratio:.4f}",
                f"[{v.ci_low:.4f}, {v.ci_high:.4f}]",
                f"{(1 - v.ratio) * 100:+.2f} %",
                v.verdict,
            ]
        )
    table(
        f"throughput with perf counters / without (paired, target: loss <= {THRESHOLD:.0%})",
        ["workload", "without (median)", "with (median)", "ratio", "95 % CI", "lost", "verdict"],
        rows,
    )


if __name__ == "__main__":
    main()
