"""Coroutine context switch (issue 3): the assembly switch against the
ucontext fallback (swapcontext), both measured in this run as a ping-pong
between a thread and one coroutine. Target: <= 40 ns per switch.

Run: python benchmarks/native_switch.py [--quick]
"""

from __future__ import annotations

import statistics

from kcoro_stream._bench import lib  # cffi, built by setup.py
from native_common import QUICK, machine_note, table

ITERS = 2_000_000 if QUICK else 10_000_000


def main() -> None:
    print(f"coroutine switch, {ITERS:,} round trips x 5, median ({machine_note()})")
    asm = statistics.median(lib.kcs_bench_switch_ns(ITERS, 0) for _ in range(5))
    uc = statistics.median(lib.kcs_bench_switch_ns(ITERS // 10, 1) for _ in range(5))
    table(
        "ns per switch",
        ["implementation", "ns/switch", "vs ucontext", "note"],
        [
            ["ucontext swapcontext (baseline)", f"{uc:.1f}", "1.00x", "saves the signal mask: a syscall"],
            [
                "assembly (this build)",
                f"{asm:.1f}",
                f"{uc / asm:.1f}x faster",
                "target <= 40 ns: " + ("met" if asm <= 40 else "NOT met"),
            ],
        ],
    )


if __name__ == "__main__":
    main()
