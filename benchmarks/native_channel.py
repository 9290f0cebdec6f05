"""Channel throughput of the reference runtime (issue 3): 1 producer, 1
consumer, 64-byte packets, 2 workers.

Baseline, measured in the same run: the buffered channel in copy mode.
Target: >= 20 M msgs/s buffered (capacity 16384) in pointer (zero-copy) mode.

Run: python benchmarks/native_channel.py [--quick]
"""

from __future__ import annotations

from native_common import QUICK, m, machine_note, median_of, table

SECS = "0.5" if QUICK else "1.5"
REPEAT = 1 if QUICK else 3


def main() -> None:
    print(
        f"native channel throughput, 1P/1C, 64 B, 2 workers, median of {REPEAT} x {SECS} s ({machine_note()})"
    )
    common = ["--no-ring", "--mode", "channel", "--workers", "2", "-k", "64", "-d", SECS]
    cases = [
        ("buffered 16384, copy (baseline)", ["-c", "16384"]),
        ("buffered 16384, pointer/zero-copy", ["-c", "16384", "--zero-copy"]),
        ("buffered 1024, copy", ["-c", "1024"]),
        ("rendezvous, copy", ["-c", "0"]),
        ("rendezvous, pointer/zero-copy", ["-c", "0", "--zero-copy"]),
    ]
    rows, base = [], None
    for name, extra in cases:
        v, _ = median_of(REPEAT, *common, *extra, key="msgs_per_s")
        base = base or v
        note = ""
        if "16384, pointer" in name:
            note = "target >= 20 M/s: " + ("met" if v >= 20e6 else "NOT met")
        rows.append([name, m(v) + "/s", f"{v * 64 / 1e9:.2f} GB/s", f"{v / base:.2f}x", note])
    table("messages/s", ["channel", "msgs/s", "payload", "vs copy", "note"], rows)


if __name__ == "__main__":
    main()
