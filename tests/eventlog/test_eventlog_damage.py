"""Damaged logs: torn tails, corrupt blocks, fuzzed bytes. Never a wrong frame, never a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from eventlog_factory import frame_payload, ts_of, write_log
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kcoro_stream.errors import LogError
from kcoro_stream.eventlog import LogWriter, open_log, repair
from kcoro_stream.eventlog._format import SEGMENT_HEADER_SIZE, encode_segment_header

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def block_offsets(run_dir: Path, segment: int = 0) -> list[int]:
    return [b.offset for b in open_log(run_dir)._scans[segment].blocks]


def only_segment(run_dir: Path) -> Path:
    (seg,) = run_dir.glob("segment-*.kcslog")
    return seg


def flip(path: Path, offset: int, mask: int = 0xFF) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= mask
    path.write_bytes(bytes(data))


def read_everything(run_dir: Path) -> tuple[list[tuple[int, int, bytes]], list]:
    """Open, read all frames and the info; the only exception allowed is LogError."""
    reader = open_log(run_dir)
    frames = [(f.seq, f.ts_ns, bytes(f.payload)) for f in reader.frames()]
    assert [(f.seq, f.ts_ns, bytes(f.payload)) for f in reader.frames(ts_of(3), ts_of(50))] == [
        f for f in frames if ts_of(3) <= f[1] < ts_of(50)
    ]
    info = reader.info()
    assert info.frames == len(frames)
    return frames, reader.problems


@pytest.fixture(scope="module")
def four_blocks(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    run = tmp_path_factory.mktemp("pristine") / "run"
    written = write_log(run, 40, per_block=10)
    return run, written


@given(cut=st.integers(min_value=0, max_value=1 << 30), with_garbage=st.booleans())
@SETTINGS
def test_torn_tail_anywhere_in_the_last_block(
    tmp_path: Path, four_blocks: tuple[Path, list], cut: int, with_garbage: bool
) -> None:
    """A cut inside the last block loses that block only, is reported, and repair removes it."""
    pristine, written = four_blocks
    run = tmp_path / "run"
    shutil.rmtree(run, ignore_errors=True)  # tmp_path is shared by all examples
    shutil.copytree(pristine, run)
    (run / "segment-000001.kcsidx").unlink()  # a crashed writer never wrote one
    seg = only_segment(run)
    last = block_offsets(run)[-1]
    size = seg.stat().st_size
    at = last + cut % (size - last)
    data = seg.read_bytes()[:at]
    if with_garbage:
        data += bytes(range(7)) * 3  # a torn write can also leave junk behind
    seg.write_bytes(data)
    frames, problems = read_everything(run)
    assert frames == written[:30]
    if at == last and not with_garbage:
        assert problems == []
    else:
        assert [(p.file, p.offset, p.kind) for p in problems] == [(seg.name, last, "torn_tail")]
    repaired = repair(run)
    assert [p.kind for p in repaired] == [p.kind for p in problems]
    assert seg.stat().st_size == last
    frames2, problems2 = read_everything(run)
    assert frames2 == written[:30] and problems2 == []


def test_torn_tail_at_every_byte_of_the_last_block(tmp_path: Path, four_blocks: tuple[Path, list]) -> None:
    """Exhaustive companion of the property test: every single cut offset."""
    pristine, written = four_blocks
    run = tmp_path / "run"
    shutil.copytree(pristine, run)
    (run / "segment-000001.kcsidx").unlink()
    seg = only_segment(run)
    whole = seg.read_bytes()
    last = block_offsets(run)[-1]
    junk = bytes(range(40))  # a torn write can leave junk that makes the length look right
    for at in range(last, len(whole)):
        for tail in (b"", junk):
            seg.write_bytes(whole[:at] + tail)
            frames, problems = read_everything(run)
            assert frames == written[:30], at
            assert [p.kind for p in problems] == ([] if at == last and not tail else ["torn_tail"]), at
            assert all(p.offset == last for p in problems)


@pytest.mark.parametrize("keep_index", [True, False])
@pytest.mark.parametrize("where", ["data", "header_magic", "header_length"])
def test_corrupt_middle_block_is_reported_and_skipped(
    tmp_path: Path, four_blocks: tuple[Path, list], keep_index: bool, where: str
) -> None:
    pristine, written = four_blocks
    run = tmp_path / "run"
    shutil.copytree(pristine, run)
    if not keep_index:
        (run / "segment-000001.kcsidx").unlink()
    seg = only_segment(run)
    offsets = block_offsets(run)
    bad = offsets[1]
    flip(seg, {"data": bad + 64 + 20, "header_magic": bad, "header_length": bad + 5}[where])
    frames, problems = read_everything(run)
    assert frames == written[:10] + written[20:]
    assert [(p.file, p.offset, p.kind) for p in problems] == [(seg.name, bad, "corrupt_block")]
    assert str(problems[0]).startswith(f"{seg.name}:{bad}: corrupt_block")
    assert repair(run) == problems
    assert seg.stat().st_size == (pristine / seg.name).stat().st_size  # repair never cuts a middle block


def test_corrupt_blocks_across_segments(tmp_path: Path) -> None:
    """Damage in one segment does not stop the next one from reading."""
    run = tmp_path / "run"
    written = write_log(run, 400, per_block=20, segment_bytes=8 << 10)
    segs = sorted(run.glob("*.kcslog"))
    assert len(segs) >= 3
    offsets = [b.offset for b in open_log(run)._scans[1].blocks]
    first_block = open_log(run)._scans[1].blocks[0]
    flip(segs[1], offsets[0] + 70)
    frames, problems = read_everything(run)
    lost = set(range(first_block.first_seq, first_block.last_seq + 1))
    assert frames == [w for w in written if w[0] not in lost]
    assert [(p.file, p.offset) for p in problems] == [(segs[1].name, offsets[0])]
    assert open_log(run).info().seq_gaps == 1


def test_bad_segment_header_crc_keeps_the_blocks(tmp_path: Path) -> None:
    run = tmp_path / "run"
    written = write_log(run, 30, per_block=10)
    flip(only_segment(run), 40)  # inside the run id
    frames, problems = read_everything(run)
    assert frames == written
    assert [(p.offset, p.kind) for p in problems] == [(0, "bad_header")]


def test_not_a_log_at_all(tmp_path: Path) -> None:
    with pytest.raises(LogError, match="no such run directory"):
        open_log(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(LogError, match="not a directory"):
        open_log(tmp_path / "file")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(LogError, match="no log segments"):
        open_log(empty)
    (empty / "segment-000001.kcslog").write_bytes(b"PK\x03\x04" + bytes(300))
    with pytest.raises(LogError, match="not a kcoro-stream log"):
        open_log(empty)
    newer = tmp_path / "newer"
    newer.mkdir()
    header = bytearray(encode_segment_header(1, 0, 0, "r"))
    header[8] = 2  # format version 2
    (newer / "segment-000001.kcslog").write_bytes(bytes(header))
    with pytest.raises(LogError, match="version 2"):
        open_log(newer)


def test_one_foreign_segment_among_good_ones_is_reported(tmp_path: Path) -> None:
    run = tmp_path / "run"
    written = write_log(run, 200, per_block=20, segment_bytes=8 << 10)
    (run / "segment-000099.kcslog").write_bytes(b"garbage")
    frames, problems = read_everything(run)
    assert frames == written
    assert [(p.file, p.kind) for p in problems] == [("segment-000099.kcslog", "bad_header")]


def test_undecodable_payload_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    run = tmp_path / "run"
    with LogWriter.create(run, "p") as w:
        w.append_payload(frame_payload(0), 0, ts_of(0))
        w.append_payload(b"\xc1not msgpack", 1, ts_of(1))
    info = open_log(run).info()
    assert info.frames == 2 and info.events == 6
    assert [p.kind for p in info.problems] == ["bad_payload"]


def test_repair_removes_leftover_tmp_files(tmp_path: Path) -> None:
    run = tmp_path / "run"
    write_log(run, 5)
    (run / "segment-000002.kcslog.tmp").write_bytes(b"half a header")
    assert repair(run) == []
    assert not list(run.glob("*.tmp"))


@given(data=st.binary(max_size=3000), with_header=st.booleans())
@SETTINGS
def test_fuzz_arbitrary_segment_bytes(tmp_path: Path, data: bytes, with_header: bool) -> None:
    """Arbitrary bytes as a segment: LogError or problems, nothing else."""
    run = tmp_path / "fuzz"
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir()
    prefix = encode_segment_header(1, 0, 0, "fuzz") if with_header else b""
    (run / "segment-000001.kcslog").write_bytes(prefix + data)
    try:
        frames, _problems = read_everything(run)
    except LogError:
        assert not with_header
        return
    assert frames == []  # random bytes never pass three CRCs
    repair(run)
    read_everything(run)


@given(
    flips=st.lists(
        st.tuples(st.integers(min_value=0), st.integers(min_value=1, max_value=255)), min_size=1, max_size=8
    ),
    in_index=st.booleans(),
)
@SETTINGS
def test_fuzz_bit_flips_never_yield_a_wrong_frame(
    tmp_path: Path, four_blocks: tuple[Path, list], flips: list[tuple[int, int]], in_index: bool
) -> None:
    """Random corruption of a real log: every returned frame is one that was written."""
    pristine, written = four_blocks
    run = tmp_path / "flips"
    shutil.rmtree(run, ignore_errors=True)
    shutil.copytree(pristine, run)
    target = run / ("segment-000001.kcsidx" if in_index else "segment-000001.kcslog")
    data = bytearray(target.read_bytes())
    for pos, mask in flips:
        data[pos % len(data)] ^= mask
    target.write_bytes(bytes(data))
    try:
        frames, problems = read_everything(run)
    except LogError:
        assert not in_index and any(pos % len(data) < 12 for pos, _ in flips)  # magic, version, header size
        return
    assert set(frames) <= set(written)
    assert [f[0] for f in frames] == sorted(f[0] for f in frames)
    if in_index:
        assert frames == written  # the index only ever costs a scan
    elif len(frames) < len(written):
        assert problems
    repair(run)
    frames2, _ = read_everything(run)
    assert set(frames2) <= set(written)


@given(cut=st.integers(min_value=0, max_value=SEGMENT_HEADER_SIZE - 1))
@SETTINGS
def test_truncated_segment_header(tmp_path: Path, four_blocks: tuple[Path, list], cut: int) -> None:
    pristine, _ = four_blocks
    run = tmp_path / "hdr"
    shutil.rmtree(run, ignore_errors=True)
    shutil.copytree(pristine, run)
    seg = only_segment(run)
    seg.write_bytes(seg.read_bytes()[:cut])
    try:
        read_everything(run)
    except LogError as e:
        assert "segment" in str(e) or "log" in str(e)


def test_segment_name_that_is_not_a_file(tmp_path: Path) -> None:
    run = tmp_path / "run"
    written = write_log(run, 20)
    (run / "segment-000002.kcslog").mkdir()
    frames, problems = read_everything(run)
    assert frames == written
    assert [(p.file, p.kind) for p in problems] == [("segment-000002.kcslog", "bad_header")]
