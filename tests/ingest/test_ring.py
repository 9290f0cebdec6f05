"""The ring reader against the real C producer (the scripted test producer, a real shm ring)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kcoro_stream._native import ffi, lib

from kcoro_stream.errors import RingError
from kcoro_stream.events import RunEnded, RunStarted, Tick, WorkerCounters, decode_frame
from kcoro_stream.ingest import RingReader

SYNTH = [sys.executable, "-m", "kcoro_stream.sources.synthetic"]


def layout() -> object:
    out = ffi.new("kcs_ring_layout *")
    lib.kcs_layout(out)
    return out


def produce(ring: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SYNTH, "--ring", str(ring), *args], capture_output=True, text=True, timeout=60)


def read_all(r: RingReader) -> tuple[list[int], list[list[object]], int]:
    seqs: list[int] = []
    frames: list[list[object]] = []
    gaps = 0
    while True:
        res = r.read()
        gaps += sum(loss.frames for loss in res.losses if loss.reason == "dropped")
        for i in range(len(res)):
            seqs.append(res.seqs[i])
            frames.append(decode_frame(res.payload(i)))
        if res.closed:
            return seqs, frames, gaps
        if not len(res):
            raise AssertionError("ring not closed and empty: producer did not finish")


def test_create_is_private_and_exclusive(tmp_path: Path) -> None:
    """A new ring file is mode 0600 and creating over an existing path fails."""
    path = tmp_path / "ring"
    with RingReader.create(path, data_size=1 << 12):
        assert (path.stat().st_mode & 0o777) == 0o600
        with pytest.raises(RingError, match="File exists"):
            RingReader.create(path, data_size=1 << 12)
    assert not path.exists()  # the creator removes it


def test_default_path_is_unguessable_shm() -> None:
    with RingReader.create(data_size=1 << 12) as a, RingReader.create(data_size=1 << 12) as b:
        assert a.path != b.path
        assert len(a.path.name) > 30


def test_frames_round_trip_with_wrap_and_pad(tmp_path: Path) -> None:
    """Many more frames than fit pass through a small ring when read concurrently; order kept."""
    path = tmp_path / "ring"
    r = RingReader.create(path, data_size=1 << 12)  # 4 KiB: frames wrap many times
    proc = subprocess.Popen(
        [
            *SYNTH,
            "--ring",
            str(path),
            "--frames",
            "300",
            "--interval-ms",
            "1",
            "--workers",
            "1",
            "--channels",
            "0",
        ]
    )
    seqs: list[int] = []
    events = []
    while True:
        res = r.read()
        seqs.extend(res.seqs)
        for i in range(len(res)):
            frame = decode_frame(res.payload(i))
            assert res.ts[i] == frame[0].ts_ns  # C peeks the first timestamp without decoding
            events.extend(frame)
        if res.closed:
            break
    assert proc.wait(timeout=30) == 0
    info = r.info()
    r.close()
    assert info.write_pos > info.data_size * 3  # it really wrapped
    assert seqs == list(range(len(seqs)))  # nothing lost, nothing reordered
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunEnded)
    ticks = [e.seq for e in events if isinstance(e, Tick)]
    assert ticks == list(range(1, 301))


def test_producer_never_blocks_and_counts_drops(tmp_path: Path) -> None:
    """With nobody reading, the producer finishes; dropped frames are counted and seen as a gap."""
    path = tmp_path / "ring"
    r = RingReader.create(path, data_size=1 << 12)
    assert produce(path, "--frames", "200", "--rate", "0").returncode == 0
    info = r.info()
    assert info.frames_dropped > 0
    assert info.frames_written + info.frames_dropped == info.next_seq
    seqs, _, gaps = read_all(r)
    assert len(seqs) == info.frames_written
    trailing = info.next_seq - 1 - seqs[-1]  # dropped after the last written frame: no gap to see
    assert gaps + trailing == info.frames_dropped  # every drop is visible as a sequence gap
    r.close()


def test_control_reaches_producer(tmp_path: Path) -> None:
    """A stop control record ends the producer's run; its ack is visible."""
    path = tmp_path / "ring"
    r = RingReader.create(path, data_size=1 << 16)
    proc = subprocess.Popen([*SYNTH, "--ring", str(path), "--interval-ms", "2"])
    seq = r.control(stop=True)
    events = []
    while True:
        res = r.read()
        events.extend(e for i in range(len(res)) for e in decode_frame(res.payload(i)))
        if res.closed:
            break
    assert proc.wait(timeout=30) == 0
    assert r.ctl_ack() == seq
    assert isinstance(events[-1], RunEnded) and events[-1].reason == "stopped"
    r.close()


def test_c_writer_bytes_decode_field_for_field(tmp_path: Path) -> None:
    """The C msgpack writer's WorkerCounters decode into the Struct with the values it computed."""
    path = tmp_path / "ring"
    r = RingReader.create(path, data_size=1 << 16)
    assert produce(path, "--frames", "3", "--workers", "2", "--rate", "0").returncode == 0
    _, frames, _ = read_all(r)
    r.close()
    start = frames[0][0]
    assert isinstance(start, RunStarted) and start.mode == "synthetic" and start.config["workers"] == 2
    wcs = [e for f in frames for e in f if isinstance(e, WorkerCounters)]
    assert [w.worker for w in wcs] == [0, 1] * 3
    for w in wcs:
        assert w.steal_successes + w.steal_failures == w.steal_probes
        assert w.fastpath_hits + w.fastpath_misses == w.tasks_completed
        assert w.tasks_completed <= w.tasks_submitted
        assert w.last_victim == (w.worker + 1) % 2
    # and re-encoding with msgspec gives back the exact bytes the C side wrote
    r2 = RingReader.create(tmp_path / "ring2", data_size=1 << 16)
    assert produce(r2.path, "--frames", "2", "--rate", "0").returncode == 0
    res = r2.read()
    for i in range(len(res)):
        payload = bytes(res.payload(i))
        events = decode_frame(payload)
        if not isinstance(events[0], RunStarted):  # maps may be ordered differently
            assert msgspec.msgpack.encode(events) == payload
    r2.close()


# ------------------------------------------------------------------ bad input


def _fresh(tmp_path: Path) -> Path:
    path = tmp_path / "ring"
    RingReader.create(path, data_size=1 << 12).close(unlink=False)
    return path


def _poke(path: Path, offset: int, data: bytes) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def test_wrong_magic_is_refused(tmp_path: Path) -> None:
    path = _fresh(tmp_path)
    _poke(path, layout().magic, b"NOTARING")
    with pytest.raises(RingError, match=r"ring: bad ring magic"):
        RingReader.open(path)


def test_other_major_version_is_refused_newer_minor_accepted(tmp_path: Path) -> None:
    path = _fresh(tmp_path)
    _poke(path, layout().abi_minor, (7).to_bytes(2, "little"))
    RingReader.open(path).close()  # newer minor: fine
    _poke(path, layout().abi_major, (2).to_bytes(2, "little"))
    with pytest.raises(RingError, match=r"ABI 2\.7 is not supported"):
        RingReader.open(path)


def test_truncated_header_and_size_mismatch(tmp_path: Path) -> None:
    path = _fresh(tmp_path)
    os.truncate(path, 4096 + 100)
    with pytest.raises(RingError, match="does not match the file size"):
        RingReader.open(path)
    os.truncate(path, 100)
    with pytest.raises(RingError, match="truncated ring header"):
        RingReader.open(path)
    with pytest.raises(RingError, match="No such file"):
        RingReader.open(tmp_path / "missing")


def test_corrupt_frames_are_counted_not_returned(tmp_path: Path) -> None:
    """A payload byte flipped in the ring: that frame is rejected (CRC), the rest read, one loss."""
    path = tmp_path / "ring"
    r = RingReader.create(path, data_size=1 << 16)
    assert produce(path, "--frames", "5", "--rate", "0").returncode == 0
    _poke(path, layout().header_size + 16 + 20, b"\xff")  # inside the first frame's payload
    losses = []
    good = 0
    while True:
        res = r.read()
        losses += res.losses
        good += len(res)
        if res.closed:
            break
    losses += r.finish()
    written = r.info().frames_written
    stats = r.statistics()
    r.close()
    assert [(x.reason, x.frames, x.seq_from, x.seq_to) for x in losses] == [("corrupt", 1, 0, 1)]
    assert good == written - 1
    assert (stats.corrupt_frames, stats.dropped_frames, stats.frames) == (1, 0, written - 1)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flips=st.lists(st.tuples(st.integers(0, (1 << 12) - 1), st.integers(1, 255)), min_size=1, max_size=40))
def test_fuzz_ring_bytes_never_crash(
    tmp_path_factory: pytest.TempPathFactory, flips: list[tuple[int, int]]
) -> None:
    """Random corruption of the data area: no crash, and every frame returned passes its CRC."""
    tmp = tmp_path_factory.mktemp("fuzz")
    path = tmp / "ring"
    r = RingReader.create(path, data_size=1 << 12)
    assert produce(path, "--frames", "20", "--rate", "0").returncode == 0
    base = layout().header_size
    with open(path, "r+b") as f:
        for off, x in flips:
            f.seek(base + off)
            b = f.read(1)
            f.seek(base + off)
            f.write(bytes([b[0] ^ x]))
    for _ in range(100):
        res = r.read()
        for i in range(len(res)):
            rec = bytes(res.record(i))
            payload = bytes(res.payload(i))
            assert lib.kcs_crc32c_buf(0, payload, len(payload)) == int.from_bytes(rec[4:8], "little")
            try:
                decode_frame(payload)
            except (msgspec.DecodeError, msgspec.ValidationError):
                pass  # CRC-valid but foreign bytes: the FrameRouter reports these as undecodable
        if res.closed or not len(res):
            break
    r.close()


def exhaust_descriptors() -> list[int]:
    """Open /dev/null until the process has no descriptor left (the caller closes them)."""
    held: list[int] = []
    while True:
        try:
            held.append(os.open(os.devnull, os.O_RDONLY))
        except OSError:
            return held


async def test_out_of_descriptors_says_so_not_notifier_thread(tmp_path: Path) -> None:
    """At a low ``ulimit -n`` the run failed with "cannot start the ring notifier thread"."""
    import resource

    import trio

    path = tmp_path / "ring"
    ring = RingReader.create(path, data_size=1 << 16)
    proc = subprocess.Popen([*SYNTH, "--ring", str(path), "--interval-ms", "5", "--duration", "5"])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    held: list[int] = []
    try:
        while not ring.info().producer_pid:  # attached: it wakes readers
            await trio.sleep(0.01)
        resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + 8, hard))
        held = exhaust_descriptors()
        with pytest.raises(RingError, match="cannot start the ring notifier: too many open files"):
            for _ in range(100):
                await ring.wait(0.01)
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        proc.kill()
        proc.wait()
        ring.close()
