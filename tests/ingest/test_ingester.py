"""The trio ingester against a real child producer and a real shm ring."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import trio

from kcoro_stream.events import (
    INGEST_SEQ_BIT,
    ControlApplied,
    ProducerLost,
    RingLoss,
    RunEnded,
    RunStarted,
    decode_frame,
)
from kcoro_stream.ingest import ChildProducer, Ingester, RingReader

SYNTH = [sys.executable, "-m", "kcoro_stream.sources.synthetic"]


class Collect:
    """A FrameSink that decodes and keeps everything; optionally slow."""

    def __init__(self, drain_delay: float = 0.0) -> None:
        self.seqs: list[int] = []
        self.events: list[object] = []
        self.drain_delay = drain_delay
        self.records = 0

    def frame(self, payload: memoryview | bytes, seq: int, ts_ns: int, record: memoryview | None) -> None:
        self.seqs.append(seq)
        self.records += record is not None
        self.events.extend(decode_frame(payload))

    def emit(self, event: object) -> None:
        self.seqs.append(INGEST_SEQ_BIT | len(self.seqs))
        self.events.append(event)

    async def drain(self) -> None:
        if self.drain_delay:
            await trio.sleep(self.drain_delay)

    def of(self, cls: type) -> list:
        return [e for e in self.events if isinstance(e, cls)]


async def start(ring: RingReader, *args: str) -> trio.Process:
    return await trio.lowlevel.open_process([*SYNTH, "--ring", str(ring.path), *args])


async def test_ingests_a_whole_run_and_finishes(tmp_path: Path) -> None:
    ring = RingReader.create(tmp_path / "ring", data_size=1 << 16)
    proc = await start(ring, "--frames", "50", "--interval-ms", "1")
    sink = Collect()
    outcome = await Ingester(ring, sink, producer=ChildProducer(proc)).run()
    await proc.wait()
    ring.close()
    assert outcome.state == "finished" and outcome.ok
    assert sink.seqs == list(range(52))  # RunStarted + 50 ticks + RunEnded
    assert sink.records == 52  # ring frames carry their raw record for the log
    assert isinstance(sink.events[0], RunStarted) and isinstance(sink.events[-1], RunEnded)


async def test_drops_become_in_band_ring_loss(tmp_path: Path) -> None:
    """A tiny ring and a slow consumer: the producer drops, the gap arrives as RingLoss in order."""
    ring = RingReader.create(tmp_path / "ring", data_size=1 << 12)
    proc = await start(ring, "--frames", "400", "--rate", "0")
    sink = Collect(drain_delay=0.005)
    outcome = await Ingester(ring, sink, producer=ChildProducer(proc)).run()
    await proc.wait()
    info = ring.info()
    ring.close()
    assert outcome.ok
    losses = sink.of(RingLoss)
    assert losses, "expected drops with a 4 KiB ring"
    assert sum(x.frames for x in losses) == info.frames_dropped  # every dropped frame accounted
    assert sum(x.bytes for x in losses) == info.bytes_dropped
    ring_seqs = [s for s in sink.seqs if not s & INGEST_SEQ_BIT]
    assert len(ring_seqs) == info.frames_written
    # each RingLoss sits right before the first frame after its gap
    for i, s in enumerate(sink.seqs):
        if s & INGEST_SEQ_BIT and i + 1 < len(sink.seqs):
            nxt = sink.seqs[i + 1]
            if not nxt & INGEST_SEQ_BIT:
                assert any(x.seq_to == nxt for x in losses)


async def test_killed_producer_is_reported_lost_within_a_second(tmp_path: Path) -> None:
    ring = RingReader.create(tmp_path / "ring", data_size=1 << 16)
    proc = await start(ring, "--interval-ms", "5")
    sink = Collect()
    ing = Ingester(ring, sink, producer=ChildProducer(proc))
    async with trio.open_nursery() as n:
        result: list = []

        async def go() -> None:
            result.append(await ing.run())

        n.start_soon(go)
        while len(sink.seqs) < 5:
            await trio.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        t_kill = trio.current_time()
        with trio.fail_after(5):
            while not result:
                await trio.sleep(0.005)
        detected = trio.current_time() - t_kill
    ring.close()
    outcome = result[0]
    assert outcome.state == "lost" and not outcome.ok
    assert "killed by SIGKILL" in outcome.message
    assert detected < 1.0
    lost = sink.of(ProducerLost)
    assert len(lost) == 1 and lost[0].exit_status == -9


async def test_control_is_acknowledged_in_band(tmp_path: Path) -> None:
    ring = RingReader.create(tmp_path / "ring", data_size=1 << 16)
    proc = await start(ring, "--interval-ms", "2")
    sink = Collect()
    ing = Ingester(ring, sink, producer=ChildProducer(proc))
    async with trio.open_nursery() as n:
        n.start_soon(ing.run)
        while len(sink.seqs) < 3:
            await trio.sleep(0.005)
        ing.control(interval_ns=3_000_000, paused=True)
        with trio.fail_after(5):
            while not sink.of(ControlApplied):
                await trio.sleep(0.005)
        ing.request_stop()
    await proc.wait()
    ring.close()
    applied = sink.of(ControlApplied)
    assert applied[0].paused is True and applied[0].interval_ns == 3_000_000
    assert applied[-1].stop is True
    assert sink.of(RunEnded)[-1].reason == "stopped"


async def test_stop_escalates_to_sigterm_when_producer_ignores_control(tmp_path: Path) -> None:
    """A producer that never polls control is terminated after the grace period."""
    ring = RingReader.create(tmp_path / "ring", data_size=1 << 16)
    # `sleep` attaches to nothing: the ingester sees no frames and must use SIGTERM.
    proc = await trio.lowlevel.open_process(["sleep", "30"])

    async def term() -> None:
        proc.send_signal(signal.SIGTERM)

    ing = Ingester(ring, Collect(), producer=ChildProducer(proc), stop_grace_s=0.2, on_stop_timeout=term)
    ing.request_stop()
    with trio.fail_after(10):
        outcome = await ing.run()
    ring.close()
    assert outcome.state == "lost" and "SIGTERM" in outcome.message


def test_producer_ends_its_run_when_the_monitor_is_killed(tmp_path: Path) -> None:
    """kill -9 of the monitor: the orphaned producer notices (parent watch) and exits on its own.

    Runs longer than trio's idle worker-thread timeout (10 s) would matter only
    for PR_SET_PDEATHSIG, which is why the parent watch is used instead.
    """
    pipe = tmp_path / "p.py"
    pipe.write_text(
        "from kcoro_stream.pipeline import BenchSource, Pipeline\n"
        "pipeline = Pipeline(source=BenchSource(producer='synthetic'), sinks=[])\n"
    )
    mon = subprocess.Popen([sys.executable, "-m", "kcoro_stream", "run", str(pipe), "--no-log", "--no-tui"])
    child = None
    for _ in range(500):
        out = subprocess.run(["pgrep", "-P", str(mon.pid)], capture_output=True, text=True).stdout.split()
        if out:
            child = int(out[0])
            break
        trio.run(trio.sleep, 0.01)
    assert child is not None
    trio.run(trio.sleep, 0.5)
    mon.kill()
    mon.wait()
    for _ in range(300):  # the watch polls every 100 ms
        if not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]:
            break
        trio.run(trio.sleep, 0.01)
    else:
        os.kill(child, signal.SIGKILL)
        raise AssertionError("orphaned producer kept running after the monitor died")


def test_ring_file_is_gone_after_kill_9_of_the_monitor(tmp_path: Path) -> None:
    """The monitor unlinks the shm name once the producer attached: kill -9 leaves nothing behind."""
    pipe = tmp_path / "p.py"
    pipe.write_text(
        "from kcoro_stream.pipeline import BenchSource, Pipeline\n"
        "pipeline = Pipeline(source=BenchSource(producer='synthetic'), sinks=[])\n"
    )
    mon = subprocess.Popen([sys.executable, "-m", "kcoro_stream", "run", str(pipe), "--no-log", "--no-tui"])
    mine = f"kcoro-stream-{mon.pid}-*"
    try:
        seen = gone = False
        for _ in range(3000):  # the name appears when the ring is made, goes when the producer mapped it
            names = list(Path("/dev/shm").glob(mine))
            seen = seen or bool(names)
            if seen and not names:
                gone = True
                break
            trio.run(trio.sleep, 0.005)
        assert seen, "the ring never appeared under /dev/shm"
        assert gone, "the ring's name was not unlinked after the producer attached"
        assert mon.poll() is None  # still running: the name went while the run goes on
    finally:
        mon.kill()
        mon.wait()
    assert not list(Path("/dev/shm").glob(mine))


async def test_a_corrupt_frame_is_exactly_one_ring_loss(tmp_path: Path) -> None:
    """One CRC failure in a real ring: one RingLoss ("corrupt", its one sequence number), no second
    "dropped" loss for the same gap, and the reader's statistics say the same."""
    from kcoro_stream._native import ffi, lib

    ring = RingReader.create(tmp_path / "ring", data_size=1 << 16)
    done = subprocess.run([*SYNTH, "--ring", str(ring.path), "--frames", "6", "--rate", "0"], timeout=60)
    assert done.returncode == 0
    layout = ffi.new("kcs_ring_layout *")
    lib.kcs_layout(layout)
    first_len = int.from_bytes((tmp_path / "ring").read_bytes()[layout.header_size :][:4], "little")
    second = layout.header_size + 16 + ((first_len + 7) & ~7)  # frame 1's record
    with open(tmp_path / "ring", "r+b") as f:
        f.seek(second + 16 + 3)
        b = f.read(1)
        f.seek(second + 16 + 3)
        f.write(bytes([b[0] ^ 0x20]))
    sink = Collect()
    outcome = await Ingester(ring, sink).run()
    stats = ring.statistics()
    ring.close()
    assert outcome.ok
    losses = sink.of(RingLoss)
    assert [(x.reason, x.frames, x.seq_from, x.seq_to) for x in losses] == [("corrupt", 1, 1, 2)]
    j = next(j for j, seq in enumerate(sink.seqs) if seq & INGEST_SEQ_BIT)
    assert sink.seqs[j - 1 : j + 2] == [0, INGEST_SEQ_BIT | j, 2]  # in band, where the frame was
    assert (stats.corrupt_frames, stats.dropped_frames) == (1, 0)


async def test_a_stop_is_kept_by_every_later_control_record(tmp_path: Path) -> None:
    """A pause (or interval, or knob) written after a stop, before the producer's next tick,
    used to replace the single-slot record with stop=0: the stop was lost."""
    ring = RingReader.create(tmp_path / "ring", data_size=1 << 16)
    sink = Collect()
    ing = Ingester(ring, sink, stop_grace_s=30)
    ing.control(interval_ns=500_000_000, paused=False)  # the producer's ticks are far apart
    ing.request_stop()
    ing.control(interval_ns=500_000_000, paused=True)  # e.g. the dashboard's pause key
    ing.control(paused=False, cmd=b"\x81\xa2id\x01")  # a knob command
    proc = await start(ring, "--interval-ms", "500", "--duration", "20")
    ing.producer = ChildProducer(proc)
    with trio.fail_after(10):  # without the stop: the producer's 20 s
        outcome = await ing.run()
    await proc.wait()
    ring.close()
    assert outcome.state == "stopped"
    assert sink.of(RunEnded)[-1].reason == "stopped"
    applied = sink.of(ControlApplied)
    assert applied and all(a.stop for a in applied) and applied[-1].paused is False


async def test_a_new_run_starts_with_a_fresh_control_area(tmp_path: Path) -> None:
    """Runs one after another in one process (a manifest): the first is stopped; the next
    one's control area starts at sequence 0 with nothing acknowledged, so no stale stop can
    reach it, and its producer runs to its own end."""
    reasons = []
    for i in range(2):
        ring = RingReader.create(data_size=1 << 16)  # the default, unguessable path, as runs use
        info = ring.info()
        assert (info.ctl_seq, info.ctl_ack) == (0, 0)
        proc = await start(ring, "--interval-ms", "5", "--duration", "1")
        sink = Collect()
        ing = Ingester(ring, sink, producer=ChildProducer(proc))
        async with trio.open_nursery() as n:
            n.start_soon(ing.run)
            if i == 0:
                while not sink.of(RunStarted):
                    await trio.sleep(0.005)
                ing.control(interval_ns=5_000_000, paused=True)
                ing.request_stop()
        await proc.wait()
        ring.close()
        reasons.append(sink.of(RunEnded)[-1].reason)
    assert reasons == ["stopped", "duration"]


async def test_a_hold_coalesces_wake_ups_and_loses_nothing(tmp_path: Path) -> None:
    """--max-delay: 100 frames a second, woken a few times a second; every frame delivered, in order."""
    ring = RingReader.create(tmp_path / "ring", data_size=1 << 16)
    proc = await start(ring, "--frames", "100", "--interval-ms", "10")
    sink = Collect()
    outcome = await Ingester(ring, sink, producer=ChildProducer(proc), max_delay_s=0.25).run()
    await proc.wait()
    info = ring.info()
    ring.close()
    assert outcome.ok and sink.seqs == list(range(102))
    assert info.wakeups <= 15, info  # ~1 s of frames: 4-5 holds of 250 ms (one wake-up per frame: ~100)


async def test_a_ring_filling_faster_than_the_hold_wakes_the_reader_early(tmp_path: Path) -> None:
    """5,000 frames a second into a 64 KiB ring fill it in well under the 250 ms hold: the watermark (a
    quarter of the ring unread) wakes the reader, so coalescing drops nothing."""
    ring = RingReader.create(tmp_path / "ring", data_size=1 << 16)
    proc = await start(ring, "--frames", "3000", "--rate", "5000")
    sink = Collect()
    outcome = await Ingester(ring, sink, producer=ChildProducer(proc), max_delay_s=0.25).run()
    await proc.wait()
    info = ring.info()
    ring.close()
    assert outcome.ok
    assert info.frames_dropped == 0 and not sink.of(RingLoss), info
    assert sink.seqs == list(range(3002))
    assert info.wakeups < 3000 / 4, info  # woken at the watermark, not per frame
