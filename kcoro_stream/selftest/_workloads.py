"""The scripted workloads: what each one is told to do, so its counts are known in advance.

Each :class:`Workload` is a launch source config (the bundled benchmark or the
synthetic producer, with the bounded-work flags of docs/native.md) plus its
:class:`Truth` — the totals the runtime must end with, derived from the flags
alone. Scheduling counters (steals, fast-path hits, parks) are not in the
truth: they vary by nature and are checked by identities instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..histo import bucket_lower, bucket_of, bucket_width
from ..sources.launch import LaunchConfig

__all__ = ["GROWTH", "Truth", "Workload", "body_ns_for", "workloads"]

WORKERS = 2  # the machine the self-test must pass on has two cores


@dataclass(frozen=True)
class Truth:
    """Totals fixed by the workload's flags (None: not part of this workload)."""

    tasks_completed: int | None = None  # every coroutine: task bodies + the workload's roots
    task_bodies: int | None = None  # task_body_ns histogram count
    body_ns: int | None = None  # each body's scripted duration
    messages: int | None = None  # sends == recvs
    bytes: int | None = None  # bytes sent == bytes received
    growth_ticks: tuple[int, int] | None = None  # inject-queue growth during ticks [from, until)
    pause_ms: int | None = None  # one scripted sampler pause this long (no frames, counters run on)


@dataclass(frozen=True)
class Workload:
    name: str
    source: LaunchConfig
    truth: Truth
    repeat: int = 1  # run again with the same seed: the totals must not move
    imbalanced: bool = False
    notes: list[str] = field(default_factory=list)


# The paused run: the sampler stops writing frames from 50 ms to 150 ms into the run;
# 2 x 10 000 bodies of 33 us on two workers take at least 330 ms, so it resumes.
PAUSE = (50, 100)

# The synthetic growth run: steady ticks, then GROWTH items per tick, then drained.
GROWTH = 200


def body_ns_for(target_ns: int) -> int:
    """A body duration just above the lower bound of ``target_ns``'s bucket.

    A body spins until at least its duration has passed, so measured
    durations sit a little above it; starting near the bucket's floor leaves
    the whole bucket width (1/4 of the value) as room for that overrun.
    """
    b = bucket_of(target_ns)
    return bucket_lower(b) + bucket_width(b) // 64


def workloads(seed: int, quick: bool) -> list[Workload]:
    """The self-test's runs, smallest first. ``quick`` shrinks the counts, not the checks."""
    tasks = 10_000 if quick else 60_000
    body = body_ns_for(40_000)
    messages = 8_000_000 if quick else 40_000_000
    packet = 64
    producers = consumers = 2
    ticks = 300 if quick else 600
    growth = (ticks // 3, 2 * ticks // 3)

    def flags(**kw: object) -> list[str]:
        return [a for k, v in kw.items() for a in (f"--{k.replace('_', '-')}", str(v))]

    def bench(mode: str, *extra: str, **kw: object) -> LaunchConfig:
        args = flags(seed=seed, **kw) + list(extra)
        return LaunchConfig(producer="bench", mode=mode, interval_ms=5, workers=WORKERS, args=args)

    return [
        Workload(
            "tasks",
            bench("tasks", tasks=tasks, body_ns=body),
            Truth(tasks_completed=tasks + WORKERS, task_bodies=tasks, body_ns=body),
            repeat=2,
        ),
        Workload(
            "paused",
            bench("tasks", tasks=tasks * 2, body_ns=body, pause_at_ms=PAUSE[0], pause_ms=PAUSE[1]),
            Truth(tasks_completed=tasks * 2 + WORKERS, task_bodies=tasks * 2, pause_ms=PAUSE[1]),
        ),
        Workload(
            "imbalanced",
            bench("tasks", "--imbalanced", tasks=tasks // 2, body_ns=body),
            Truth(tasks_completed=tasks // 2 + WORKERS, task_bodies=tasks // 2),
            imbalanced=True,
        ),
        Workload(
            "channel",
            bench("channel", messages=messages, packet_size=packet, producers=producers, consumers=consumers),
            Truth(tasks_completed=producers + consumers, messages=messages, bytes=messages * packet),
            repeat=1 if quick else 2,
        ),
        Workload(
            "rendezvous",
            bench(
                "channel",
                messages=messages // 20,
                capacity=0,
                packet_size=packet,
                producers=producers,
                consumers=consumers,
            ),
            Truth(
                tasks_completed=producers + consumers, messages=messages // 20, bytes=messages // 20 * packet
            ),
        ),
        Workload(
            "growth",
            LaunchConfig(
                producer="synthetic",
                interval_ms=5,
                args=flags(
                    seed=seed,
                    workers=WORKERS,
                    frames=ticks,
                    inject_growth=GROWTH,
                    growth_from=growth[0],
                    growth_until=growth[1],
                ),
            ),
            Truth(growth_ticks=growth),
        ),
    ]
