"""The OS view of the workers in the recording: OsCounters (perf_event_open) per worker,
pinning (--pin), and RunStarted.capabilities saying what could not be opened."""

from __future__ import annotations

import os
from pathlib import Path

from kcoro_stream import events as ev

from .conftest import Ring, run_bench, wait_frames

SOFTWARE = ["context_switches", "cpu_migrations", "page_faults"]
HARDWARE = ["cycles", "instructions", "cache_misses"]
SW_BITS = ev.OS_COUNTER_CONTEXT_SWITCHES | ev.OS_COUNTER_CPU_MIGRATIONS | ev.OS_COUNTER_PAGE_FAULTS
# A PMU the kernel exposes to perf (absent in this VM: the hardware counters are the fallback path).
HAS_PMU = (
    Path("/sys/bus/event_source/devices/cpu").exists()
    or Path("/sys/bus/event_source/devices/cpu_core").exists()
)


def _allowed() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def test_pinned_workers_record_perf_counters_and_capabilities(tmp_path: Path) -> None:
    """--pin: worker k on the k-th allowed CPU (checked on the live threads); every sample frame
    has one OsCounters per worker, cumulative; what could not be opened is listed once."""
    affinity: dict[int, set[int]] = {}

    def during(ring: Ring, proc: object) -> None:
        wait_frames(ring, 5)
        for frame in ring.frames:
            for e in frame:
                if isinstance(e, ev.OsCounters) and e.worker not in affinity:
                    affinity[e.worker] = os.sched_getaffinity(e.tid)

    run = run_bench(tmp_path, "--mode", "tasks", "--workers", "2", "--pin", "-d", "0.5", during=during)
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""  # a counter that cannot be opened is no error
    cpus = _allowed()
    want = [cpus[k % len(cpus)] for k in range(2)]
    caps = run.started.capabilities
    assert run.started.config["pin"] is True and run.started.config["perf_counters"] is True
    assert caps["pinned_cpus"] == want
    assert affinity == {0: {want[0]}, 1: {want[1]}}
    assert set(SOFTWARE) <= set(caps["os_counters"])
    unavailable = caps["os_counters_unavailable"]
    assert set(caps["os_counters"]) | set(unavailable) == set(SOFTWARE + HARDWARE)
    assert not set(caps["os_counters"]) & set(unavailable)
    if not HAS_PMU:
        assert set(unavailable) == set(HARDWARE)
        assert all(isinstance(why, str) and why for why in unavailable.values())
    samples = [f for f in run.frames if any(isinstance(e, ev.WorkerCounters) for e in f)]
    assert samples
    for frame in samples:
        assert sorted(e.worker for e in frame if isinstance(e, ev.OsCounters)) == [0, 1]
    last: dict[int, ev.OsCounters] = {}
    for c in run.of(ev.OsCounters):
        prev = last.get(c.worker)
        if prev is not None:
            assert c.context_switches >= prev.context_switches and c.page_faults >= prev.page_faults
            assert c.cpu_migrations >= prev.cpu_migrations
        last[c.worker] = c
    for k, c in sorted(last.items()):
        assert c.pinned_cpu == want[k] and c.counters & SW_BITS == SW_BITS
        assert c.context_switches > 0  # a worker that parks and is preempted switches
        if not HAS_PMU:
            assert c.cycles == c.instructions == c.cache_misses == 0
    # pinned: the OS saw each worker only on its CPU
    assert {o.worker: o.cpu for o in run.final(ev.OsThread)} == {0: want[0], 1: want[1]}


def test_without_pin_or_perf_counters(tmp_path: Path) -> None:
    """--no-perf-counters: no OsCounters, the capabilities say they are off; without --pin nothing is pinned."""
    run = run_bench(tmp_path, "--mode", "tasks", "--workers", "2", "--no-perf-counters", "-d", "0.3")
    assert run.returncode == 0, run.stderr
    caps = run.started.capabilities
    assert caps["os_counters"] == [] and caps["pinned_cpus"] == []
    assert set(caps["os_counters_unavailable"]) == set(SOFTWARE + HARDWARE)
    assert "--no-perf-counters" in caps["os_counters_unavailable"]["context_switches"]
    assert run.started.config["pin"] is False
    assert run.of(ev.OsCounters) == []
    assert len(run.final(ev.OsThread)) == 2  # schedstat is read either way
