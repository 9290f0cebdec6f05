"""The bundled benchmark's knobs, written down once.

Its modes, its worker limit and the range of every integer knob live here; the
``run`` options (``commands/_options.py``), the configuration's ``[bench]``
section (``config/_schema.py``) and the launch source's checks
(``sources/launch.py``) are built from this table, and the C parser
(``native/bench/cli.c``) is checked against it (tests/test_cli.py,
tests/test_layout.py). Imports nothing, so the command line can use it before
any library is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FLAG_KNOBS", "INT_KNOBS", "MAX_WORKERS", "MODES", "IntKnob", "int_knob"]

MODES = ("channel", "tasks", "mixed", "dual")
MAX_WORKERS = 64  # KCR_MAX_WORKERS in native/runtime/kcr.h


@dataclass(frozen=True)
class IntKnob:
    """An integer knob: its ``[bench]`` key, its ``run`` flags (the longest is the C parser's), range."""

    name: str
    flags: tuple[str, ...]
    lo: int
    hi: int
    help: str
    power_of_two: bool = False


INT_KNOBS: tuple[IntKnob, ...] = (
    IntKnob("producers", ("-P", "--producers"), 1, 1024, "(channel) producer coroutines [1]."),
    IntKnob("consumers", ("-C", "--consumers"), 1, 1024, "(channel, mixed) consumer coroutines [1]."),
    IntKnob(
        "packets", ("-N", "--packets"), 1, 1_000_000_000, "(channel) packets per producer per cycle [1024]."
    ),
    IntKnob(
        "capacity", ("-c", "--capacity"), 0, 1 << 24, "(channel) channel capacity, 0 = rendezvous [1024]."
    ),
    IntKnob("packet_size", ("-k", "--packet-size"), 1, 65536, "(channel) bytes per packet [64]."),
    IntKnob(
        "spin", ("-s", "--spin"), 0, 1_000_000, "(channel) buffer polls before a blocked op suspends [64]."
    ),
    IntKnob("batch", ("--batch",), 1, 65536, "(tasks, mixed) tasks submitted per wait [64]."),
    IntKnob("body_cost", ("--body-cost",), 0, 100_000_000, "Work units per task body [0]."),
    IntKnob(
        "packet_cost",
        ("--packet-cost",),
        0,
        100_000_000,
        "(channel, dual) work units a producer burns before each send [0].",
    ),
    IntKnob(
        "body_ns",
        ("--body-ns",),
        1,
        1_000_000_000,
        "(tasks, mixed, dual) each task body spins N ns of thread CPU time (task_body_ns) [off].",
    ),
    IntKnob(
        "latency_sample",
        ("--latency-sample",),
        1,
        1024,
        "Time one task start / message in N (a power of two) [8].",
        power_of_two=True,
    ),
    IntKnob("seed", ("--seed",), 0, (1 << 63) - 1, "Seed for a repeatable run [1]."),
    IntKnob(
        "coroutines_top",
        ("--coroutines-top",),
        1,
        100_000,
        "(--coroutines) each snapshot: the K coroutines with most busy time, plus the suspicious [16].",
    ),
    IntKnob(
        "coroutines_every",
        ("--coroutines-every",),
        1,
        100_000,
        "(--coroutines) a coroutine snapshot every T sampler ticks [10].",
    ),
    IntKnob(
        "coroutines_sample",
        ("--coroutines-sample",),
        1,
        1024,
        "(--coroutines) time one resume in N per worker (a power of two) [8].",
        power_of_two=True,
    ),
    IntKnob(
        "hog_ms",
        ("--hog-ms",),
        1,
        60_000,
        "(tasks, channel) a coroutine named hog spins MS ms without yielding, again and again [off].",
    ),
)
# On/off knobs: (run flag, help); the [bench] key is the flag in snake case.
FLAG_KNOBS: tuple[tuple[str, str], ...] = (
    ("--zero-copy", "(channel) pointer (zero-copy) channel mode."),
    ("--imbalanced", "(tasks) all task submissions from worker 0."),
    ("--adaptive", "Widen the sampling interval while counters are stable."),
    ("--pin", "Pin worker k to the k-th allowed CPU (recorded in RunStarted; panes show the CPU)."),
    ("--no-perf-counters", "No perf_event_open counters per worker thread (OsCounters)."),
    ("--coroutines", "The coroutine view: per-coroutine and per-channel snapshots, lint.* alerts."),
    ("--stuck", "(tasks, channel) a coroutine named stuck waits on a channel nobody sends to."),
)


def int_knob(name: str) -> IntKnob:
    """The integer knob whose ``[bench]`` key is ``name``."""
    return next(k for k in INT_KNOBS if k.name == name)
