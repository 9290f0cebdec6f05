"""The native benchmark end to end: frames read back from the ring obey the
counter identities of contract 2 and the issue's "done when" list."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pytest
from kcoro_stream._native import ffi, lib

from kcoro_stream import events as ev

from .conftest import BENCH, SIGINT, Ring, Run, run_bench, wait_frames

QUICK = ["--workers", "2", "-d", "0.3"]


def by_worker(run: Run) -> dict[int, ev.WorkerCounters]:
    return {w.worker: w for w in run.final(ev.WorkerCounters)}


def assert_clean(run: Run) -> None:
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    assert run.gaps == 0
    assert isinstance(run.frames[0][0], ev.RunStarted)
    assert run.ended.reason in {"duration", "stopped", "signal"}


def assert_task_identities(run: Run) -> None:
    workers = run.final(ev.WorkerCounters)
    assert workers
    submitted = sum(w.tasks_submitted for w in workers)
    completed = sum(w.tasks_completed for w in workers)
    assert completed == submitted > 0  # after drain
    assert sum(w.fastpath_hits + w.fastpath_misses for w in workers) == completed
    for w in workers:
        assert w.steal_successes + w.steal_failures == w.steal_probes
    # busy + idle ≈ elapsed: the workers live from just after RunStarted to the final frame
    elapsed = workers[0].ts_ns - run.started.ts_ns
    for w in workers:
        assert 0.7 * elapsed <= w.busy_ns + w.idle_ns <= 1.1 * elapsed + 20_000_000, w


def assert_channel_identities(run: Run, size: int) -> ev.ChannelCounters:
    (ch,) = run.final(ev.ChannelCounters)
    assert ch.sends > 0
    assert ch.recvs == ch.sends
    assert ch.bytes_sent == ch.sends * size
    assert ch.bytes_recv == ch.recvs * size
    assert ch.elem_size == size
    assert ch.flags & ev.CHANNEL_FLAG_CLOSED
    return ch


def test_run_started_carries_config_and_build(bench) -> None:
    run = bench("--mode", "tasks", *QUICK, "--seed", "7")
    assert_clean(run)
    rs = run.started
    assert rs.mode == "tasks"
    assert rs.workers == 2
    assert rs.pid > 0 and rs.host
    assert (rs.abi_major, rs.abi_minor) == (1, 1)  # 1.1: wake-ups
    assert rs.interval_ns == 10_000_000
    for knob in (
        "mode",
        "workers",
        "producers",
        "consumers",
        "packets",
        "capacity",
        "packet_size",
        "spin",
        "duration_s",
        "interval_ms",
        "batch",
        "body_cost",
        "packet_cost",
        "zero_copy",
        "imbalanced",
        "seed",
        "adaptive",
        "adaptive_max_ms",
        "ring_size",
        "channel_kind",
        "latency_sample",
    ):
        assert knob in rs.config, knob
    assert rs.config["seed"] == 7
    assert rs.config["pools"] == ["tasks"]
    assert set(rs.build) >= {"compiler", "flags", "git", "cpu", "kernel"}
    assert all(isinstance(v, str) and v for v in rs.build.values())
    assert rs.wall_ns > 1_600_000_000 * 10**9


def test_tasks_counter_identities(bench) -> None:
    run = bench("--mode", "tasks", *QUICK)
    assert_clean(run)
    assert run.ended.reason == "duration"
    assert_task_identities(run)
    # cumulative counters never go backwards, and completed <= submitted in every frame
    last = 0
    for frame in run.frames:
        ws = [e for e in frame if isinstance(e, ev.WorkerCounters)]
        if ws:
            done = sum(w.tasks_completed for w in ws)
            assert done >= last
            assert done <= sum(w.tasks_submitted for w in ws)
            last = done


def test_every_frame_has_the_documented_events(bench) -> None:
    run = bench("--mode", "channel", *QUICK)
    assert_clean(run)
    samples = [f for f in run.frames if isinstance(f[0], ev.Tick)]
    assert len(samples) >= 10
    for frame in samples:
        kinds = [type(e).__name__ for e in frame]
        assert kinds[0] == "Tick"
        assert kinds.count("WorkerCounters") == 2
        assert kinds.count("OsThread") == 2
        assert kinds.count("OsCounters") == 2
        assert kinds.count("ChannelCounters") == 1
        hist = {e.metric for e in frame if isinstance(e, ev.Histogram)}
        assert hist == {"task_start_latency_ns", "chan_latency_ns", "task_body_ns"}
        gauges = {e.name for e in frame if isinstance(e, ev.Gauge)}
        assert gauges >= {
            "inject_depth",
            "live_coroutines",
            "ready_coroutines",
            "process_cpu_ns",
            "rss_bytes",
        }
    ticks = run.of(ev.Tick)
    assert [t.seq for t in ticks] == sorted(t.seq for t in ticks)
    assert all(t.target_ns == 10_000_000 and not t.paused for t in ticks)
    chan_hist = next(h for h in run.final(ev.Histogram) if h.metric == "chan_latency_ns")
    assert (
        chan_hist.scheme == "log2x4"
        and chan_hist.counts
        and chan_hist.counts[-1] != 0
        and chan_hist.total > 0
    )
    osw = run.final(ev.OsThread)
    assert all(o.tid > 0 and o.run_ns > 0 and o.cpu >= 0 for o in osw)
    rss = next(g for g in run.final(ev.Gauge) if g.name == "rss_bytes")
    assert rss.value > 1 << 20


@pytest.mark.parametrize(
    ("extra", "size", "kind"),
    [
        ([], 64, ev.CHANNEL_BUFFERED),
        (["-c", "0"], 64, ev.CHANNEL_RENDEZVOUS),
        (["-P", "3", "-C", "2", "-k", "200", "-c", "16"], 200, ev.CHANNEL_BUFFERED),
    ],
)
def test_channel_counter_identities(bench, extra: list[str], size: int, kind: int) -> None:
    run = bench("--mode", "channel", *QUICK, *extra)
    assert_clean(run)
    ch = assert_channel_identities(run, size)
    assert ch.kind == kind
    if kind == ev.CHANNEL_RENDEZVOUS:
        assert ch.rv_matches > 0 and ch.capacity == 0
    assert ch.zc_sent == ch.zc_recv == 0
    assert_task_identities(run)


@pytest.mark.parametrize("capacity", ["16384", "0"])
def test_zero_copy_counts_equal_sends(bench, capacity: str) -> None:
    run = bench("--mode", "channel", *QUICK, "--zero-copy", "-c", capacity)
    assert_clean(run)
    ch = assert_channel_identities(run, 64)
    assert ch.flags & ev.CHANNEL_FLAG_PTR
    assert ch.zc_sent == ch.sends
    assert ch.zc_recv == ch.recvs


def test_imbalanced_tasks_are_stolen(bench) -> None:
    run = bench("--mode", "tasks", *QUICK, "--imbalanced", "--body-cost", "20000")
    assert_clean(run)
    w = by_worker(run)
    assert w[1].steal_successes > 0  # all submissions come from worker 0
    assert w[1].last_victim == 0
    assert w[0].tasks_submitted > w[1].tasks_submitted
    assert_task_identities(run)


def test_balanced_awaited_tasks_hit_the_fast_path(bench) -> None:
    run = bench("--mode", "tasks", *QUICK, "--batch", "1")
    assert_clean(run)
    ws = run.final(ev.WorkerCounters)
    hits = sum(w.fastpath_hits for w in ws)
    misses = sum(w.fastpath_misses for w in ws)
    assert hits / (hits + misses) > 0.9


def test_mixed_moves_tasks_and_channel(bench) -> None:
    run = bench("--mode", "mixed", *QUICK, "-c", "64", "-C", "2")
    assert_clean(run)
    assert_task_identities(run)
    ch = assert_channel_identities(run, 64)
    tasks = sum(w.tasks_completed for w in run.final(ev.WorkerCounters))
    assert tasks > ch.recvs > 0  # every task sent one packet (+ generators and consumers)


def test_dual_reports_two_pools_side_by_side(bench) -> None:
    run = bench("--mode", "dual", *QUICK)
    assert_clean(run)
    assert run.started.config["pools"] == ["channel", "tasks"]
    ws = run.final(ev.WorkerCounters)
    assert sorted((w.pool, w.worker) for w in ws) == [(0, 0), (0, 1), (1, 2), (1, 3)]
    assert all(w.tasks_completed > 0 for w in ws if w.pool == 1)
    (ch,) = run.final(ev.ChannelCounters)
    assert ch.pool == 0
    pools = {(g.name, g.pool) for g in run.final(ev.Gauge)}
    assert {("pool_cpu_ns", 0), ("pool_cpu_ns", 1), ("live_coroutines", 1)} <= pools
    assert len(run.final(ev.OsThread)) == 4
    assert_task_identities(run)


def test_control_interval_pause_and_stop(tmp_path: Path) -> None:
    seen: dict[str, int] = {}

    def steer(ring: Ring, proc: subprocess.Popen[str]) -> None:
        wait_frames(ring, 5)
        ring.control(interval_ns=20_000_000)
        deadline = time.monotonic() + 10
        while not any(isinstance(e, ev.Tick) and e.target_ns == 20_000_000 for f in ring.frames for e in f):
            assert time.monotonic() < deadline
            ring.poll()
            time.sleep(0.01)
        ring.control(paused=True)
        deadline = time.monotonic() + 10
        while not any(isinstance(e, ev.Tick) and e.paused for f in ring.frames for e in f):
            assert time.monotonic() < deadline
            ring.poll()
            time.sleep(0.01)
        seen["paused_at"] = len(ring.frames)
        time.sleep(0.3)
        ring.poll()
        seen["while_paused"] = len(ring.frames) - seen["paused_at"]
        ring.control(stop=True)

    run = run_bench(tmp_path, "--mode", "tasks", "--workers", "2", "-d", "0", during=steer)
    assert_clean(run)
    assert run.ended.reason == "stopped"
    assert seen["while_paused"] >= 5  # a real pause: the workload stops, sampling goes on
    # after the batch in flight, the paused frames show counters standing still
    paused = [f for f in run.frames if any(isinstance(e, ev.Tick) and e.paused for e in f)]
    done = [sum(e.tasks_completed for e in f if isinstance(e, ev.WorkerCounters)) for f in paused[3:]]
    assert len(done) >= 2 and len(set(done)) == 1
    assert_task_identities(run)


def test_knob_command_is_applied_once_and_logged(tmp_path: Path) -> None:
    """A knob command in the control blob: applied at the next tick, answered by KnobApplied,
    and not applied again when the record is rewritten with the same id."""

    def steer(ring: Ring, proc: subprocess.Popen[str]) -> None:
        wait_frames(ring, 3)
        cmd = msgspec.msgpack.encode({"id": 1, "batch": 2, "body_cost": 10})
        lib_control(ring, cmd)
        deadline = time.monotonic() + 10
        while not any(isinstance(e, ev.KnobApplied) for f in ring.frames for e in f):
            assert time.monotonic() < deadline
            ring.poll()
            time.sleep(0.01)
        lib_control(ring, cmd)  # the same id again (a pause written meanwhile repeats it)
        lib_control(ring, msgspec.msgpack.encode({"id": 2, "nope": 1}))  # refused: unknown knob
        wait_frames(ring, len(ring.frames) + 5)
        ring.control(stop=True)

    run = run_bench(tmp_path, "--mode", "tasks", "--workers", "2", "-d", "0", during=steer)
    assert_clean(run)
    knobs = [e for f in run.frames for e in f if isinstance(e, ev.KnobApplied)]
    assert [(k.cmd_id, k.name, k.value, k.previous) for k in knobs] == [
        (1, "batch", 2, 64),
        (1, "body_cost", 10, 0),
    ]
    assert run.started.config["knobs"]["batch"] == [1, 65536]


def lib_control(ring: Ring, cmd: bytes) -> None:
    """A control record carrying a command blob (what the monitor's set_knob writes)."""
    lib.kcs_reader_control(ring.r, 0, 0, 0, ffi.from_buffer(cmd), len(cmd))


def test_adaptive_interval_widens_when_stable_and_narrows_on_change(bench) -> None:
    """Slow tasks (~50 ms each, awaited one by one): most 2 ms ticks see no
    completion (a stable rate of 0), a completion is a jump."""
    run = bench(
        "--mode", "tasks", "--workers", "2", "--batch", "1", "--body-cost", "50000000", "-d", "0.8",
        "--interval-ms", "2", "--adaptive", "--adaptive-max-ms", "16",
    )  # fmt: skip
    assert_clean(run)
    targets = [t.target_ns for t in run.of(ev.Tick)]
    assert targets[0] == 2_000_000
    assert max(targets) == 16_000_000  # widened step by step up to the bound
    widest = targets.index(16_000_000)
    assert 2_000_000 in targets[widest:]  # and narrowed again when the rate jumped
    assert set(targets) <= {2_000_000, 4_000_000, 8_000_000, 16_000_000}


def test_sigint_ends_the_run_cleanly(tmp_path: Path) -> None:
    def interrupt(ring: Ring, proc: subprocess.Popen[str]) -> None:
        wait_frames(ring, 3)
        proc.send_signal(SIGINT)

    run = run_bench(tmp_path, "--mode", "channel", "--workers", "2", "-d", "0", during=interrupt)
    assert_clean(run)
    assert run.ended.reason == "signal"
    assert_channel_identities(run, 64)


def test_full_ring_drops_frames_and_never_blocks(tmp_path: Path) -> None:
    """Nobody reads a 4 KiB ring: frames are dropped and counted, the run ends on time."""
    ring = Ring(tmp_path / "tiny.ring", size=4096)
    t0 = time.monotonic()
    p = subprocess.run(
        [*BENCH, "--ring", str(ring.path), "--mode", "dual", "--workers", "2", "-d", "0.3"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert p.returncode == 0, p.stderr
    assert time.monotonic() - t0 < 10
    info = ffi.new("kcs_ring_info *")
    lib.kcs_reader_info(ring.r, info)
    assert info.frames_dropped > 0 and info.bytes_dropped > 0
    assert info.flags & 1  # closed all the same
    ring.poll()
    assert isinstance(ring.frames[0][0], ev.RunStarted)  # what fitted is intact (CRC-checked, decoded)
    ring.close()


def test_orphaned_benchmark_ends_its_run(tmp_path: Path) -> None:
    """The monitor that launched us dies: the parent watch SIGTERMs us from a
    Python thread (not the one blocking signals) and the run still ends cleanly."""
    ring = Ring(tmp_path / "orphan.ring")
    bench = [*BENCH, "--ring", str(ring.path), "--mode", "tasks", "--workers", "2", "-d", "0"]
    launcher = (
        "import os, subprocess, sys, time\n"
        "env = dict(os.environ, KCORO_STREAM_PARENT_PID=str(os.getpid()))\n"
        f"p = subprocess.Popen({bench!r}, env=env)\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(0.5)\n"
        "os._exit(0)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", launcher], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    int(parent.stdout.readline())
    parent.wait(timeout=30)
    deadline = time.monotonic() + 15
    while not ring.closed:
        assert time.monotonic() < deadline, "the orphan did not end its run"
        if ring.poll() == 0:
            time.sleep(0.02)
    ring.close()
    last = ring.frames[-1][-1]
    assert isinstance(last, ev.RunEnded) and last.reason == "signal"


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--mode", "bogus"], "--mode"),
        (["-m", "nope"], "--mode"),
        (["-P", "0"], "--producers"),
        (["--consumers", "-3"], "--consumers"),
        (["-N", "0"], "--packets"),
        (["--workers", "0"], "--workers"),
        (["--channel-kind", "buffered", "-c", "0"], "--capacity"),
        (["-k", "abc"], "--packet-size"),
        (["-d", "-1"], "--duration"),
        (["--interval-ms", "0"], "--interval-ms"),
        (["--ring-size", "5000"], "--ring-size"),
        (["--frobnicate"], "--frobnicate"),
        (["--batch"], "--batch"),
        (["--mode", "tasks", "--packet-cost", "5"], "--packet-cost"),  # no producers to burn it
        (["--packet-cost", "100000001"], "--packet-cost"),
    ],
)
def test_bad_flags_print_one_line_and_exit_2(args: list[str], flag: str) -> None:
    p = subprocess.run([*BENCH, "--no-ring", *args], capture_output=True, text=True, timeout=30)
    assert p.returncode == 2
    lines = p.stderr.splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith(f"kcoro-bench: {flag}: "), lines[0]
    assert "Traceback" not in p.stderr and p.stdout == ""


def test_unwritable_ring_path_exits_2(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    bad = "/proc/kcoro-stream-no-such/ring" if os.geteuid() == 0 else str(ro / "ring")
    if os.geteuid() != 0:
        ro.chmod(0o500)
    p = subprocess.run([*BENCH, "--ring", bad, "-d", "0.1"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 2
    assert len(p.stderr.splitlines()) == 1
    assert p.stderr.startswith("kcoro-bench: --ring: ")


def test_in_process_entry_point_returns_exit_code() -> None:
    from kcoro_stream.sources import bench

    assert bench.main(["--no-ring", "--mode", "tasks", "--workers", "2", "-d", "0.1"]) == 0
    assert bench.main(["--no-ring", "--mode", "nope"]) == 2


def test_module_runs_as_a_program() -> None:
    p = subprocess.run(
        [sys.executable, "-m", "kcoro_stream.sources.bench", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert p.returncode == 0 and "--zero-copy" in p.stdout
