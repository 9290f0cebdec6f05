"""Hostile log bytes: undecodable payloads, zstd bombs, special files (findings B and D)."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
import zstandard
from eventlog_factory import frame_payload, ts_of

from kcoro_stream.eventlog import LogWriter, cat_ndjson, info_text, open_log, repair
from kcoro_stream.eventlog._format import (
    BLOCK_HEADER_SIZE,
    SEGMENT_HEADER_SIZE,
    encode_block_header,
    encode_segment_header,
    index_name,
    segment_name,
)
from kcoro_stream.events import Mark, decode_frame, encode_frame

REPO = Path(__file__).resolve().parents[2]
KS = [sys.executable, "-m", "kcoro_stream"]


def ks(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KS, *args], capture_output=True, text=True, timeout=timeout)


def bad_utf8_payload() -> bytes:
    good = encode_frame([Mark(ts_of(1), 0, name="phase-xx", detail="d")])
    return good.replace(b"phase-xx", b"\xff\xfe\xfd-xxxxx")


def write_with_bad_frame(run_dir: Path) -> None:
    with LogWriter.create(run_dir, "hostile") as w:
        w.append_payload(frame_payload(0), 0, ts_of(0))
        w.append_payload(bad_utf8_payload(), 1, ts_of(1))
        w.append_payload(frame_payload(2), 2, ts_of(2))


def test_b_decode_frame_raises_decode_error_for_invalid_utf8() -> None:
    with pytest.raises(msgspec.DecodeError, match="UnicodeDecodeError"):
        decode_frame(bad_utf8_payload())


def test_b_log_reader_reports_an_undecodable_frame_with_its_place(tmp_path: Path) -> None:
    write_with_bad_frame(tmp_path / "run")
    info = open_log(tmp_path / "run").info()
    assert info.frames == 3
    [p] = info.problems
    assert (p.file, p.kind) == (segment_name(1), "bad_payload")
    assert p.offset == SEGMENT_HEADER_SIZE and "frame seq 1 does not decode" in p.message
    found: list[object] = []
    with open(os.devnull, "wb") as sink:
        n = cat_ndjson(tmp_path / "run", sink, on_problem=found.append)
    assert n == 2 * len(decode_frame(frame_payload(0))) and [str(x) for x in found] == [str(p)]


def test_b_log_commands_and_replay_survive_an_undecodable_frame(tmp_path: Path) -> None:
    run = tmp_path / "run"
    write_with_bad_frame(run)
    for args, code in (
        (("log", "info", str(run)), 0),
        (("log", "cat", str(run)), 0),
        (("log", "repair", str(run)), 0),
        (("replay", str(run), "--no-tui", "--no-stdout"), 0),
    ):
        r = ks(*args)
        assert "Traceback" not in r.stderr, (args, r.stderr)
        assert r.returncode == code, (args, r.returncode, r.stderr)
    assert "bad_payload" in ks("log", "info", str(run)).stdout
    cat = ks("log", "cat", str(run))
    assert f"{segment_name(1)}:{SEGMENT_HEADER_SIZE}: bad_payload" in cat.stderr


# ---------------------------------------------------------------- D: bombs


def forged_segment(run_dir: Path, compressed: bytes, raw_len: int, frames: int = 1) -> Path:
    """A segment whose single block carries ``compressed`` with correct CRCs."""
    run_dir.mkdir(parents=True, exist_ok=True)
    seg = run_dir / segment_name(1)
    header = encode_segment_header(1, ts_of(0), 0, "bomb")
    block = encode_block_header(compressed, raw_len, frames, 0, 0, ts_of(0), ts_of(0))
    seg.write_bytes(header + block + compressed)
    return seg


def test_d_a_zero_bomb_is_refused_without_inflating_it(tmp_path: Path) -> None:
    """A zstd frame that states its own (1 GiB) content size is not trusted past raw_len."""
    bomb = zstandard.ZstdCompressor(level=19, write_content_size=True).compress(bytes(1 << 30))
    assert len(bomb) < 64 << 10
    forged_segment(tmp_path / "run", bomb, raw_len=4096)
    reader = open_log(tmp_path / "run")
    assert list(reader.frames()) == []
    assert any(p.kind == "corrupt_block" and "inflates past" in p.message for p in reader.problems)


def test_d_a_frame_claiming_64_gib_is_a_problem_not_a_memory_error(tmp_path: Path) -> None:
    """A hand-made zstd header claiming 64 GiB of content (216-byte segment in the report)."""
    small = zstandard.ZstdCompressor(write_content_size=False).compress(b"x" * 32)
    # frame header descriptor: FCS field 8 bytes, single segment; content size 64 GiB
    fhd = 0b11100000
    claim = struct.pack("<Q", 64 << 30)
    liar = small[:4] + bytes([fhd]) + claim + small[6:]
    forged_segment(tmp_path / "run", liar, raw_len=64)
    text = info_text(tmp_path / "run")
    assert "corrupt_block" in text


def test_d_an_index_fifo_or_device_is_ignored_not_read(tmp_path: Path) -> None:
    run = tmp_path / "run"
    with LogWriter.create(run, "r") as w:
        w.append_payload(frame_payload(0), 0, ts_of(0))
    idx = run / index_name(1)
    idx.unlink()
    os.mkfifo(idx)
    r = ks("log", "info", str(run), timeout=20)  # a hang would time out
    assert r.returncode == 0 and "frames     1" in r.stdout, r.stderr
    idx.unlink()
    idx.symlink_to("/dev/zero")
    r = ks("log", "info", str(run), timeout=20)
    assert r.returncode == 0 and "frames     1" in r.stdout, r.stderr


def test_d_a_segment_that_is_a_fifo_is_a_problem_not_a_hang(tmp_path: Path) -> None:
    run = tmp_path / "run"
    with LogWriter.create(run, "r") as w:
        w.append_payload(frame_payload(0), 0, ts_of(0))
    os.mkfifo(run / segment_name(2))
    r = ks("log", "info", str(run), timeout=20)
    assert r.returncode == 0, r.stderr
    assert "not a regular file" in r.stdout


def test_d_block_positions_past_the_file_are_a_torn_tail(tmp_path: Path) -> None:
    run = tmp_path / "run"
    seg = forged_segment(run, b"\x00" * 16, raw_len=64)
    data = seg.read_bytes()
    seg.write_bytes(data[: SEGMENT_HEADER_SIZE + BLOCK_HEADER_SIZE + 4])
    reader = open_log(run)
    assert [p.kind for p in reader.problems] == ["torn_tail"]
    repair(run)


def test_d_millions_of_empty_frames_in_a_tiny_block_are_read_lazily(tmp_path: Path) -> None:
    """A block of zeros is valid empty frames (24 bytes each; 2.8 million in the 64 MiB a block
    may hold, ~800 MB as a list): memory stays ~ the inflated block. 4 MiB keeps the test fast."""
    import tracemalloc

    raw_len = (4 << 20) // 24 * 24
    cobj = zstandard.ZstdCompressor(level=3).compressobj(size=raw_len)
    chunk = bytes(1 << 20)
    comp = b"".join(cobj.compress(chunk[: min(1 << 20, raw_len - i)]) for i in range(0, raw_len, 1 << 20))
    comp += cobj.flush()
    run = tmp_path / "run"
    forged_segment(run, comp, raw_len=raw_len, frames=raw_len // 24)
    tracemalloc.start()
    try:
        n = sum(1 for _ in open_log(run).frames())
        found: list[object] = []
        with open(os.devnull, "wb") as sink:
            cat_ndjson(run, sink, on_problem=found.append)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n == raw_len // 24
    assert peak < 2 * raw_len  # the inflated block and little else
    assert len(found) == 101 and "more frames that do not decode" in str(found[-1])


def test_d_resync_over_forged_headers_has_a_bounded_cost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """20,000 CRC-valid headers each claiming the rest of the file (with a wrong data CRC)
    behind a broken first block: resync verifies candidates only up to a byte budget
    (4 x file size + 64 MiB) instead of ~13 GB, and the rest of the file is a torn tail."""
    from kcoro_stream.eventlog._format import _BLOCK_HEADER, BLOCK_MAGIC, crc32c

    n = 20_000
    size = SEGMENT_HEADER_SIZE + 64 + n * BLOCK_HEADER_SIZE
    body = bytearray(b"XXXX" + bytes(60))  # a broken first block header
    for i in range(n):
        off = SEGMENT_HEADER_SIZE + 64 + i * BLOCK_HEADER_SIZE
        clen = size - off - BLOCK_HEADER_SIZE
        raw = min(clen * 4 + 64, 64 << 20)
        h = _BLOCK_HEADER.pack(BLOCK_MAGIC, clen, 1, raw, 1, 0, 0, 0, 0, 0, 0, 0)
        body += h[:-4] + struct.pack("<I", crc32c(h[:-4]))
    run = tmp_path / "run"
    run.mkdir()
    (run / segment_name(1)).write_bytes(encode_segment_header(1, ts_of(0), 0, "forged") + bytes(body))
    from kcoro_stream.eventlog import _segment

    verified = [0]

    def counting_crc(data: bytes) -> int:
        verified[0] += len(data)
        return crc32c(data)

    monkeypatch.setattr(_segment, "crc32c", counting_crc)
    reader = open_log(run)
    assert [(p.kind, p.offset) for p in reader.problems] == [("torn_tail", SEGMENT_HEADER_SIZE)]
    assert verified[0] <= 5 * size + (64 << 20)  # unbounded: ~n * size / 2 = 13 GB
