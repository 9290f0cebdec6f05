"""LogWriter and LogReader on healthy logs: round trip, flushing, rolling, seeking."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
from eventlog_factory import INTERVAL, frame_payload, read_all, ts_of, write_log
from kcoro_stream._native import lib

import kcoro_stream.eventlog as eventlog
from kcoro_stream.errors import LogError
from kcoro_stream.eventlog import LogWriter, open_log
from kcoro_stream.events import INGEST_SEQ_BIT, RingLoss, decode_frame, encode_frame


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def ring_record(payload: bytes, seq: int) -> bytes:
    """A frame exactly as the C producer lays it out in the ring."""
    crc = lib.kcs_crc32c_buf(0, payload, len(payload))
    return struct.pack("<IIQ", len(payload), crc, seq) + payload + bytes((-len(payload)) & 7)


def segments(run_dir: Path) -> list[Path]:
    return sorted(run_dir.glob("segment-*.kcslog"))


def test_all_is_complete() -> None:
    """__all__ lists exactly the public names the package exposes."""
    public = {n for n in vars(eventlog) if not n.startswith("_")}
    assert set(eventlog.__all__) == public
    for name in eventlog.__all__:
        assert getattr(eventlog, name) is not None


def test_round_trip_payloads_and_records(tmp_path: Path) -> None:
    """Frames come back with the same seq, ts and payload, records byte for byte."""
    run = tmp_path / "run"
    expect = []
    with LogWriter.create(run, "rt") as w:
        for i in range(300):
            p = frame_payload(i)
            if i % 2:
                w.append_record(memoryview(ring_record(p, i)), i, ts_of(i))
            else:
                w.append_payload(p, i, ts_of(i))
            expect.append((i, ts_of(i), p))
        loss = encode_frame(
            [RingLoss(ts_of(300), 0, frames=2, bytes=64, seq_from=300, seq_to=302, reason="dropped")]
        )
        w.append_payload(loss, INGEST_SEQ_BIT | 1, ts_of(300))
        expect.append((INGEST_SEQ_BIT | 1, ts_of(300), loss))
    got = read_all(run)
    assert got == expect
    assert decode_frame(got[5][2]) == decode_frame(frame_payload(5))
    st = w.statistics()
    assert st.frames == 301
    assert st.frame_bytes == sum(16 + ((len(p) + 7) & ~7) for _, _, p in expect)
    assert st.disk_bytes == sum(p.stat().st_size for p in segments(run))
    assert st.disk_bytes < st.frame_bytes / 2  # zstd earns its place on counter frames
    assert st.segments == 1 and st.blocks >= 1 and st.pending_frames == 0


def test_stored_records_are_the_ring_frames(tmp_path: Path) -> None:
    """append_payload builds the same frame bytes the ring would have held."""
    run = tmp_path / "run"
    p = frame_payload(3) + b"xyz"  # odd length: needs padding
    with LogWriter.create(run, "rt") as w:
        w.append_payload(p, 7, 1)
        w.append_record(ring_record(p, 8), 8, 2)
    frames = list(open_log(run).frames())
    assert [ring_record(bytes(f.payload), f.seq) for f in frames] == [ring_record(p, 7), ring_record(p, 8)]


@pytest.mark.parametrize(
    ("record", "seq"),
    [
        (b"short", 0),
        (struct.pack("<IIQ", 100, 0, 1) + bytes(8), 1),  # length says more than given
        (struct.pack("<IIQ", 0x80000008, 0, 1) + bytes(8), 1),  # a pad frame
        (struct.pack("<IIQ", 8, 0, 5) + bytes(8), 6),  # seq mismatch
    ],
)
def test_append_record_rejects_malformed_records(tmp_path: Path, record: bytes, seq: int) -> None:
    with LogWriter.create(tmp_path / "run", "x") as w, pytest.raises(ValueError):
        w.append_record(record, seq, 0)


def test_create_refuses_a_directory_with_a_log(tmp_path: Path) -> None:
    write_log(tmp_path / "run", 3)
    with pytest.raises(LogError, match="already holds a log"):
        LogWriter.create(tmp_path / "run", "again")


@pytest.mark.parametrize(
    "kwargs",
    [{"fsync": "sometimes"}, {"segment_bytes": 10}, {"flush_interval_s": -1.0}],
)
def test_create_refuses_bad_settings(tmp_path: Path, kwargs: dict) -> None:
    with pytest.raises(LogError):
        LogWriter.create(tmp_path / "run", "x", **kwargs)


def test_create_refuses_overlong_run_id(tmp_path: Path) -> None:
    with pytest.raises(LogError, match="longer than"):
        LogWriter.create(tmp_path / "run", "r" * 91)


def test_flush_interval_bounds_how_long_frames_stay_in_memory(tmp_path: Path) -> None:
    """Nothing is written before the interval; at the interval one block is."""
    clock = FakeClock()
    run = tmp_path / "run"
    w = LogWriter.create(run, "fl", flush_interval_s=1.0, clock=clock)
    w.append_payload(frame_payload(0), 0, ts_of(0))
    clock.now = 0.5
    w.append_payload(frame_payload(1), 1, ts_of(1))
    assert not w.flush_if_due()
    assert w.statistics().blocks == 0 and not segments(run)
    clock.now = 1.0
    assert w.flush_if_due()
    assert w.statistics().blocks == 1 and w.statistics().flushes == 1
    assert [s for s, _, _ in read_all(run)] == [0, 1]  # readable while the writer is open
    assert not w.flush_if_due()  # nothing pending
    clock.now = 5.0
    w.append_payload(frame_payload(2), 2, ts_of(2))  # interval counts from the oldest pending frame
    assert w.statistics().blocks == 1
    clock.now = 5.9
    w.append_payload(frame_payload(3), 3, ts_of(3))
    assert w.statistics().blocks == 1
    clock.now = 6.0
    w.append_payload(frame_payload(4), 4, ts_of(4))  # an append that finds the interval due flushes
    assert w.statistics().blocks == 2
    assert [s for s, _, _ in read_all(run)] == [0, 1, 2, 3, 4]
    w.close()


def test_zero_interval_writes_every_frame_immediately(tmp_path: Path) -> None:
    run = tmp_path / "run"
    w = LogWriter.create(run, "z", flush_interval_s=0.0, clock=FakeClock())
    for i in range(3):
        w.append_payload(frame_payload(i), i, ts_of(i))
        assert [s for s, _, _ in read_all(run)] == list(range(i + 1))
    w.close()


def test_full_block_is_written_before_the_interval(tmp_path: Path) -> None:
    run = tmp_path / "run"
    w = LogWriter.create(run, "b", block_bytes=4096, clock=FakeClock())
    for i in range(100):
        w.append_payload(frame_payload(i), i, ts_of(i))
    st = w.statistics()
    assert st.blocks >= 5 and st.flushes == 0
    assert len(read_all(run)) == 100 - st.pending_frames
    w.close()
    assert len(read_all(run)) == 100


def test_close_flushes_and_is_idempotent(tmp_path: Path) -> None:
    run = tmp_path / "run"
    w = LogWriter.create(run, "c", clock=FakeClock())
    w.append_payload(frame_payload(0), 0, ts_of(0))
    w.close()
    w.close()
    assert [s for s, _, _ in read_all(run)] == [0]
    with pytest.raises(LogError, match="closed"):
        w.append_payload(b"\x90", 1, 0)


def test_segments_roll_at_the_size_bound(tmp_path: Path) -> None:
    """Segments stay under segment_bytes, each closed one has an index, order holds."""
    run = tmp_path / "run"
    written = write_log(run, 2000, per_block=40, segment_bytes=16 << 10)
    segs = segments(run)
    assert len(segs) >= 4
    assert all(p.stat().st_size <= 16 << 10 for p in segs)
    assert all(p.with_suffix(".kcsidx").exists() for p in segs)
    assert read_all(run) == written
    info = open_log(run).info()
    assert [s.number for s in info.segments] == list(range(1, len(segs) + 1))
    assert all(s.indexed for s in info.segments)
    assert info.segments[0].first_seq == 0 and info.segments[-1].last_seq == 1999
    for a, b in zip(info.segments, info.segments[1:], strict=False):
        assert a.last_seq is not None and b.first_seq == a.last_seq + 1
    assert info.seq_gaps == 0 and info.frames == 2000 and info.problems == []


def test_missing_index_is_rebuilt_by_scanning(tmp_path: Path) -> None:
    run = tmp_path / "run"
    written = write_log(run, 600, per_block=25, segment_bytes=16 << 10)
    for idx in run.glob("*.kcsidx"):
        idx.unlink()
    reader = open_log(run)
    assert [(f.seq, f.ts_ns, bytes(f.payload)) for f in reader.frames()] == written
    assert not any(s.indexed for s in reader.info().segments) and reader.problems == []


def test_damaged_index_is_ignored(tmp_path: Path) -> None:
    run = tmp_path / "run"
    written = write_log(run, 300, per_block=25)
    idx = next(run.glob("*.kcsidx"))
    data = bytearray(idx.read_bytes())
    data[20] ^= 0xFF
    idx.write_bytes(bytes(data))
    assert read_all(run) == written
    assert not open_log(run).info().segments[0].indexed


def test_seek_by_time_reads_only_the_blocks_it_needs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """frames(from, to) returns exactly the window and skips other blocks by their ranges."""
    from kcoro_stream.eventlog import _reader

    run = tmp_path / "run"
    write_log(run, 1000, per_block=50, segment_bytes=32 << 10)
    calls = []
    real = _reader.read_block

    def counting(fd, name, ref, problems):  # type: ignore[no-untyped-def]
        calls.append(ref.offset)
        return real(fd, name, ref, problems)

    monkeypatch.setattr(_reader, "read_block", counting)
    lo, hi = ts_of(420), ts_of(480)
    got = [f.seq for f in open_log(run).frames(lo, hi)]
    assert got == list(range(420, 480))
    assert len(calls) <= 3  # 60 frames span at most 3 blocks of 50 (one more if a segment cut falls there)
    calls.clear()
    assert [f.seq for f in open_log(run).frames(from_ts_ns=ts_of(990))] == list(range(990, 1000))
    assert len(calls) == 1
    assert [f.seq for f in open_log(run).frames(to_ts_ns=ts_of(3))] == [0, 1, 2]
    assert list(open_log(run).frames(ts_of(2000))) == []
    assert open_log(run).time_range() == (ts_of(0), ts_of(999))


def test_out_of_order_timestamps_are_still_found_by_seek(tmp_path: Path) -> None:
    """Block ranges are min/max, so a late ingester frame is not skipped."""
    run = tmp_path / "run"
    with LogWriter.create(run, "o") as w:
        for i in range(10):
            w.append_payload(frame_payload(i), i, ts_of(i))
        w.append_payload(b"\x90", INGEST_SEQ_BIT, ts_of(2) + INTERVAL // 2)
    got = [f.seq for f in open_log(run).frames(ts_of(2) + 1, ts_of(3))]
    assert got == [INGEST_SEQ_BIT]


@pytest.mark.parametrize(("policy", "min_syncs"), [("never", 0), ("flush", 3), ("always", 4)])
def test_fsync_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, policy: str, min_syncs: int) -> None:
    syncs = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (syncs.append(fd), real(fd)))
    run = tmp_path / "run"
    w = LogWriter.create(run, "f", fsync=policy, block_bytes=2048, clock=FakeClock())  # type: ignore[arg-type]
    for i in range(20):
        w.append_payload(frame_payload(i), i, ts_of(i))
    blocks_before_flush = w.statistics().blocks
    w.flush()
    w.close()
    if policy == "never":
        assert syncs == []
    else:
        assert len(syncs) >= min_syncs
    if policy == "always":
        assert len(syncs) >= blocks_before_flush + 3
    assert len(read_all(run)) == 20


def test_failed_write_leaves_no_half_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write error (disk full) raises LogError, cuts the half block, keeps frames pending."""
    from kcoro_stream.eventlog import _writer

    run = tmp_path / "run"
    w = LogWriter.create(run, "full", clock=FakeClock())
    w.append_payload(frame_payload(0), 0, ts_of(0))
    w.flush()
    w.append_payload(frame_payload(1), 1, ts_of(1))
    real = os.write

    def half_then_enospc(fd: int, data: bytes) -> int:
        monkeypatch.setattr(_writer.os, "write", failing)
        return real(fd, bytes(data)[:10])

    def failing(fd: int, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_writer.os, "write", half_then_enospc)
    with pytest.raises(LogError, match="No space left"):
        w.flush()
    monkeypatch.setattr(_writer.os, "write", real)
    assert open_log(run).problems == []
    w.flush()  # the pending frame is written on the retry
    w.close()
    assert [s for s, _, _ in read_all(run)] == [0, 1]


def test_full_blocks_are_fsynced_within_the_interval(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """fsync="flush": a block written because it was full is synced by the next due flush_if_due."""
    clock = FakeClock()
    syncs: list[int] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (syncs.append(fd), real(fd)))
    w = LogWriter.create(tmp_path / "run", "s", block_bytes=1024, clock=clock)
    for i in range(4):
        w.append_payload(frame_payload(i), i, ts_of(i))
    assert w.statistics().blocks == 1 and w.statistics().pending_frames == 0
    syncs.clear()
    clock.now = 0.5
    assert not w.flush_if_due() and syncs == []
    clock.now = 1.0
    assert not w.flush_if_due()  # no block to write, but the full one gets its fsync
    assert len(syncs) == 1
    w.flush_if_due()
    assert len(syncs) == 1  # and only once
    w.close()
