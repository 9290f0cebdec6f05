"""Task throughput of the reference runtime (issue 3): no-op task bodies.

Baseline, measured in the same run: the same workload on 1 worker. Target:
>= 10 M tasks/s with 2 workers.

Run: python benchmarks/native_tasks.py [--quick]
"""

from __future__ import annotations

from native_common import QUICK, m, machine_note, median_of, table

SECS = "0.5" if QUICK else "1.5"
REPEAT = 1 if QUICK else 3


def main() -> None:
    print(f"native task throughput, no-op body, median of {REPEAT} x {SECS} s ({machine_note()})")
    cases = [
        ("1 worker, batch 64 (baseline)", ["--workers", "1"]),
        ("2 workers, batch 64", ["--workers", "2"]),
        ("2 workers, batch 256", ["--workers", "2", "--batch", "256"]),
        ("2 workers, batch 1 (spawn+await)", ["--workers", "2", "--batch", "1"]),
        ("2 workers, imbalanced", ["--workers", "2", "--imbalanced"]),
    ]
    rows, base = [], None
    for name, extra in cases:
        v, _ = median_of(REPEAT, "--no-ring", "--mode", "tasks", "-d", SECS, *extra, key="tasks_per_s")
        base = base or v
        target = (
            "target >= 10 M/s: " + ("met" if v >= 10e6 else "NOT met")
            if name.startswith("2 workers, batch 64")
            else ""
        )
        rows.append([name, m(v) + "/s", f"{v / base:.2f}x", target])
    table("tasks/s", ["case", "tasks/s", "vs 1 worker", "note"], rows)


if __name__ == "__main__":
    main()
