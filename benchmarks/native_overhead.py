"""Observer overhead (issue 3): the same workload with the sampler + ring +
a live reader decoding every frame, against the ring disabled (--no-ring: no
sampler thread at all), alternated in one run. Target: <= 1 % lost throughput.
A middle column (sampler + ring, nobody reading; the ring holds the whole run)
separates the producer's cost from the reader's: on a 2-core machine whose
cores the workers saturate, any CPU the reader uses is taken from them.

Run: python benchmarks/native_overhead.py [--quick]
"""

from __future__ import annotations

import os
import statistics
import tempfile

from native_common import QUICK, RingDrain, machine_note, run_summary, table

SECS = "0.5" if QUICK else "1.5"
ROUNDS = 2 if QUICK else 5


def observed(workload: list[str], key: str) -> float:
    path = os.path.join(tempfile.gettempdir(), f"kcs-overhead-{os.getpid()}.ring")
    with RingDrain(path):
        s = run_summary("--ring", path, *workload, "-d", SECS)
    return float(s[key])


def unread(workload: list[str], key: str) -> float:
    path = os.path.join(tempfile.gettempdir(), f"kcs-overhead-unread-{os.getpid()}.ring")
    try:
        s = run_summary("--ring", path, "--ring-size", str(64 << 20), *workload, "-d", SECS)
    finally:
        os.unlink(path)
    return float(s[key])


def main() -> None:
    print(f"observer overhead, {ROUNDS} alternating rounds x {SECS} s, median ({machine_note()})")
    rows = []
    for name, workload, key in [
        ("tasks, 2 workers", ["--mode", "tasks", "--workers", "2"], "tasks_per_s"),
        (
            "channel 16384 zero-copy, 2 workers",
            ["--mode", "channel", "--workers", "2", "-c", "16384", "--zero-copy"],
            "msgs_per_s",
        ),
    ]:
        off, mid, on = [], [], []
        for _ in range(ROUNDS):
            off.append(float(run_summary("--no-ring", *workload, "-d", SECS)[key]))
            mid.append(unread(workload, key))
            on.append(observed(workload, key))
        a, b = statistics.median(off), statistics.median(on)
        c = statistics.median(mid)
        lost = (a - b) / a * 100
        rows.append(
            [
                name,
                f"{a / 1e6:,.2f} M/s",
                f"{c / 1e6:,.2f} M/s ({(a - c) / a * 100:+.1f} %)",
                f"{b / 1e6:,.2f} M/s",
                f"{b / a:.3f}x",
                f"{lost:+.2f} %",
                "target <= 1 %: " + ("met" if lost <= 1 else "NOT met"),
            ]
        )
    table(
        "throughput with and without the observer",
        [
            "workload",
            "ring off (baseline)",
            "sampler+ring, unread (lost)",
            "sampler+ring+reader",
            "ratio",
            "lost",
            "note",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
