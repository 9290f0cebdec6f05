"""Finding the blocks of one segment: from its index sidecar, or by scanning.

::

    segment file ──► header (128 B) ──► index sidecar valid? ── yes ──► block refs
                                              │ no
                                              ▼
                         scan block headers from offset 128; on a bad header
                         resync at the next verifiable block (corrupt_block) or,
                         with none left, cut the rest as a torn tail

Reading a block re-verifies everything (header, data CRC, sizes, every frame's
CRC), so a stale or forged index can cost a block, never return wrong data.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import msgspec
import zstandard

from kcoro_stream._native import ffi, lib
from kcoro_stream.eventlog._format import (
    BLOCK_HEADER_SIZE,
    BLOCK_MAGIC,
    FRAME_HEADER,
    FRAME_HEADER_SIZE,
    FRAME_MAX_PAYLOAD,
    FRAME_PAD,
    SEGMENT_HEADER_SIZE,
    SEGMENT_MAGIC,
    SegmentHeader,
    crc32c,
    decode_block_header,
    decode_segment_header,
    decode_timestamps,
)
from kcoro_stream.eventlog._types import LogFrame, LogProblem

INDEX_MAGIC: Final = b"KCSLIDX1"
_INDEX_VERSION: Final = 1
_RESYNC_CHUNK: Final = 1 << 20


class BlockRef(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """Where a block is and what its (CRC-checked) header said."""

    offset: int
    clen: int
    data_crc: int
    raw_len: int
    frames: int
    first_seq: int
    last_seq: int
    ts_min: int
    ts_max: int


class _IndexBody(msgspec.Struct, array_like=True, frozen=True, gc=False):
    version: int
    segment_bytes: int  # size of the segment file the index describes
    header_crc: int  # crc32c of the segment's 128-byte header
    run_id: str
    first_ts_ns: int
    blocks: list[BlockRef]


_index_encoder: Final = msgspec.msgpack.Encoder()
_index_decoder: Final = msgspec.msgpack.Decoder(_IndexBody)


def encode_index(
    segment_bytes: int, header: bytes, run_id: str, first_ts_ns: int, blocks: list[BlockRef]
) -> bytes:
    """The sidecar: magic · u32 body length · msgpack body · u32 crc32c(body)."""
    body = _index_encoder.encode(
        _IndexBody(_INDEX_VERSION, segment_bytes, crc32c(header), run_id, first_ts_ns, blocks)
    )
    return INDEX_MAGIC + struct.pack("<I", len(body)) + body + struct.pack("<I", crc32c(body))


def open_regular(path: Path) -> int:
    """Open ``path`` read-only if it is a regular file; never blocks on a FIFO.

    O_NONBLOCK makes opening a FIFO return at once; the fstat of the opened
    descriptor (not of the name, which may change meanwhile) decides. Raises
    OSError, with ``strerror`` "not a regular file" for anything else.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _index_limit(segment_bytes: int) -> int:
    """The largest index a segment of this size can have (a ref per 64-byte block header)."""
    return 4096 + (segment_bytes // BLOCK_HEADER_SIZE + 1) * 96


def _load_index(path: Path, segment_bytes: int, header: bytes) -> list[BlockRef] | None:
    """Blocks from a sidecar that matches this exact segment file, else None.

    Only a regular file no larger than the segment could need is read: a FIFO
    or a link to /dev/zero under the index's name is ignored (and scanned past).
    """
    try:
        fd = open_regular(path)
    except OSError:
        return None
    try:
        limit = _index_limit(segment_bytes)
        if os.fstat(fd).st_size > limit:
            return None
        data = os.pread(fd, limit + 1, 0)
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(data) > limit:
        return None
    if len(data) < 16 or data[:8] != INDEX_MAGIC:
        return None
    (n,) = struct.unpack_from("<I", data, 8)
    if len(data) != 16 + n:
        return None
    body = data[12 : 12 + n]
    if crc32c(body) != struct.unpack_from("<I", data, 12 + n)[0]:
        return None
    try:
        idx = _index_decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if (
        idx.version != _INDEX_VERSION
        or idx.segment_bytes != segment_bytes
        or idx.header_crc != crc32c(header)
    ):
        return None
    end = SEGMENT_HEADER_SIZE
    for b in idx.blocks:  # in order, disjoint and inside the file, or not trusted at all
        if b.offset < end or b.clen < 0:
            return None
        end = b.offset + BLOCK_HEADER_SIZE + b.clen
    if end > segment_bytes:
        return None
    return list(idx.blocks)


class SegmentScan:
    """What opening one segment found: its header, its blocks, its problems."""

    def __init__(self, path: Path, number: int) -> None:
        self.path = path
        self.number = number
        self.size = 0
        self.header: SegmentHeader | None = None
        self.header_bytes = b""
        self.usable = False  # our magic and version: blocks can be read
        self.foreign = False  # another file format entirely
        self.indexed = False
        self.blocks: list[BlockRef] = []
        self.problems: list[LogProblem] = []
        self.torn_at: int | None = None  # offset of a torn tail, if any

    @property
    def name(self) -> str:
        return self.path.name

    def problem(self, offset: int, kind: str, message: str) -> LogProblem:
        p = LogProblem(self.name, offset, kind, message)  # type: ignore[arg-type]
        self.problems.append(p)
        return p


def scan_segment(path: Path, number: int, index_path: Path) -> SegmentScan:
    """Open one segment file and list its blocks; never raises on bad bytes."""
    s = SegmentScan(path, number)
    try:
        fd = open_regular(path)
    except OSError as e:
        why = e.strerror or str(e)
        s.foreign = why == "not a regular file"
        s.problem(0, "bad_header", why if s.foreign else f"cannot open: {why}")
        return s
    try:
        s.size = os.fstat(fd).st_size
        head = os.pread(fd, SEGMENT_HEADER_SIZE, 0)
        s.header_bytes = head
        hdr = decode_segment_header(head)
        if isinstance(hdr, str):
            s.foreign = head[: len(SEGMENT_MAGIC)] != SEGMENT_MAGIC[: len(head)] or not head
            s.problem(0, "bad_header", hdr)
            return s
        s.usable = True
        s.header = hdr
        if not hdr.crc_ok:
            s.problem(0, "bad_header", "segment header CRC mismatch (run id and first timestamp unreliable)")
        blocks = _load_index(index_path, s.size, head)
        if blocks is not None:
            s.blocks = blocks
            s.indexed = True
            return s
        _scan_blocks(fd, s)
    except OSError as e:
        s.problem(0, "bad_header", f"read error: {e.strerror}")
    finally:
        os.close(fd)
    return s


def _scan_blocks(fd: int, s: SegmentScan) -> None:
    off = SEGMENT_HEADER_SIZE
    size = s.size
    # Bytes resync may CRC for candidate blocks. Without a bound, a file of
    # CRC-valid forged headers each claiming a 64 MiB body costs hours.
    budget = [4 * size + (64 << 20)]
    torn: tuple[int, str] | None = None
    while off < size:
        h = decode_block_header(os.pread(fd, BLOCK_HEADER_SIZE, off))
        if not isinstance(h, str) and off + BLOCK_HEADER_SIZE + h.clen > size:
            h = f"block of {h.clen} compressed bytes runs past the end of the file"
        if isinstance(h, str):
            nxt = _resync(fd, off + 1, size, budget)
            if nxt is None:
                torn = (off, h)
                break
            s.problem(off, "corrupt_block", f"{h}; skipped {nxt - off} bytes to the next block")
            off = nxt
            continue
        s.blocks.append(
            BlockRef(
                off, h.clen, h.data_crc, h.raw_len, h.frames, h.first_seq, h.last_seq, h.ts_min, h.ts_max
            )
        )
        off += BLOCK_HEADER_SIZE + h.clen
    # A crash leaves the last block short (caught above) or, after a power loss
    # or a torn write with junk after it, the right length with wrong bytes:
    # the last whole block's data CRC decides where the tail starts.
    if s.blocks:
        last = s.blocks[-1]
        if crc32c(os.pread(fd, last.clen, last.offset + BLOCK_HEADER_SIZE)) != last.data_crc:
            s.blocks.pop()
            torn = (last.offset, "last block data CRC mismatch")
    if torn is not None:
        at, why = torn
        s.problem(at, "torn_tail", f"{why}; {size - at} bytes to the end of the file ignored")
        s.torn_at = at


def _resync(fd: int, start: int, size: int, budget: list[int]) -> int | None:
    """Offset of the next block whose header and data both verify, or None.

    ``budget[0]`` is what is left of the bytes candidates may cost to verify;
    when it runs out the rest of the file counts as unreadable (None).
    """
    pos = start
    while pos + BLOCK_HEADER_SIZE <= size:
        chunk = os.pread(fd, min(_RESYNC_CHUNK, size - pos), pos)
        if len(chunk) < len(BLOCK_MAGIC):
            return None
        i = chunk.find(BLOCK_MAGIC)
        while i != -1:
            cand = pos + i
            if cand + BLOCK_HEADER_SIZE > size:
                return None
            h = decode_block_header(os.pread(fd, BLOCK_HEADER_SIZE, cand))
            if not isinstance(h, str) and cand + BLOCK_HEADER_SIZE + h.clen <= size:
                budget[0] -= h.clen
                if budget[0] < 0:
                    return None
                if crc32c(os.pread(fd, h.clen, cand + BLOCK_HEADER_SIZE)) == h.data_crc:
                    return cand
            i = chunk.find(BLOCK_MAGIC, i + 1)
        pos += max(1, len(chunk) - len(BLOCK_MAGIC) + 1)
    return None


_dctx: Final = zstandard.ZstdDecompressor()


def read_block(fd: int, name: str, ref: BlockRef, problems: list[LogProblem]) -> Iterator[LogFrame]:
    """Every verified frame of one block, lazily; damage goes to ``problems``.

    The block is read, checked and inflated now; frames are cut as the caller
    iterates (a 2 KB block of zeros can hold 2.8 million empty frames: a list
    of them would take ~800 MB). Problems found while cutting are appended
    to ``problems`` by the time the iterator is exhausted.
    """
    hb = os.pread(fd, BLOCK_HEADER_SIZE, ref.offset)
    h = decode_block_header(hb)
    if isinstance(h, str):
        problems.append(LogProblem(name, ref.offset, "corrupt_block", h))
        return iter(())
    if (h.clen, h.data_crc, h.raw_len, h.frames) != (ref.clen, ref.data_crc, ref.raw_len, ref.frames):
        problems.append(LogProblem(name, ref.offset, "corrupt_block", "block header differs from the index"))
        return iter(())
    data = os.pread(fd, h.clen, ref.offset + BLOCK_HEADER_SIZE)
    if len(data) != h.clen or crc32c(data) != h.data_crc:
        problems.append(LogProblem(name, ref.offset, "corrupt_block", "block data CRC mismatch"))
        return iter(())
    # python-zstandard ignores max_output_size when the frame states its own
    # content size: a 33 KB frame of zeros claiming 1 GiB would be inflated in
    # full. So the stated size must equal the block's raw size (our writer
    # always states it), and an unstated one is bounded by max_output_size.
    try:
        stated = zstandard.frame_content_size(data)
    except zstandard.ZstdError as e:
        problems.append(LogProblem(name, ref.offset, "corrupt_block", f"zstd: {e}"))
        return iter(())
    if stated not in (-1, h.raw_len):
        problems.append(
            LogProblem(
                name,
                ref.offset,
                "corrupt_block",
                f"zstd frame inflates past the block: says {stated} bytes, block header says {h.raw_len}",
            )
        )
        return iter(())
    try:
        raw = _dctx.decompress(data, max_output_size=h.raw_len)
    except zstandard.ZstdError as e:
        problems.append(LogProblem(name, ref.offset, "corrupt_block", f"zstd: {e}"))
        return iter(())
    if len(raw) != h.raw_len:
        problems.append(
            LogProblem(
                name, ref.offset, "corrupt_block", f"inflated to {len(raw)} bytes, header says {h.raw_len}"
            )
        )
        return iter(())
    return split_frames(raw, h.frames, name, ref.offset, problems)


def split_frames(
    raw: bytes, nframes: int, name: str, offset: int, problems: list[LogProblem]
) -> Iterator[LogFrame]:
    """Cut a decompressed block into frames as they are asked for, verifying each frame's CRC."""
    end = len(raw) - 8 * nframes
    ts = decode_timestamps(memoryview(raw)[end:]) if end >= 0 else None
    if ts is None:
        problems.append(LogProblem(name, offset, "corrupt_block", "bad timestamp table"))
        return
    mv = memoryview(raw)
    base = ffi.from_buffer(raw)
    crc = lib.kcs_crc32c_buf
    unpack = FRAME_HEADER.unpack_from
    pos = 0
    bad = 0
    for i, t in enumerate(ts):
        if pos + FRAME_HEADER_SIZE > end:
            problems.append(
                LogProblem(name, offset, "corrupt_block", f"frame {i} of {nframes} runs past the block")
            )
            return
        ln, fcrc, seq = unpack(raw, pos)
        nxt = pos + FRAME_HEADER_SIZE + ((ln + 7) & ~7)
        if ln & FRAME_PAD or ln > FRAME_MAX_PAYLOAD or nxt > end:
            problems.append(LogProblem(name, offset, "corrupt_block", f"frame {i} has a bad length {ln}"))
            return
        start = pos + FRAME_HEADER_SIZE
        if crc(0, base + start, ln) != fcrc:
            bad += 1
        else:
            yield LogFrame(seq, t, mv[start : start + ln])
        pos = nxt
    if bad:
        problems.append(
            LogProblem(name, offset, "corrupt_block", f"{bad} frame(s) with a bad payload CRC skipped")
        )
    if pos != end:
        problems.append(
            LogProblem(name, offset, "corrupt_block", f"{end - pos} stray bytes after the frames")
        )
