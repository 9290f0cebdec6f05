"""The on-disk format of the event log, byte by byte (see docs/eventlog.md).

A run directory holds segment files ``segment-NNNNNN.kcslog`` and, for every
cleanly closed segment, an index sidecar ``segment-NNNNNN.kcsidx``::

    segment file
    ├── segment header      128 bytes, written once (tmp file + rename)
    ├── block               64-byte block header · zstd frame
    ├── block               ...
    └── ...                 (append-only; a crash can leave a torn last block)

    block payload (after zstd decompression, ``raw_len`` bytes)
    ├── frames              ring frames stored unchanged, back to back:
    │                       u32 len · u32 crc32c(payload) · u64 seq · payload · pad to 8
    └── timestamps          ``frame_count`` × i64: ts_ns of frame 0, then deltas

Everything is little-endian. Every header carries its own CRC32C, every block
the CRC32C of its compressed bytes, every frame the CRC32C of its payload, so a
reader can tell a damaged byte from data at each level.
"""

from __future__ import annotations

import re
import struct
import sys
from array import array
from collections.abc import Iterable, Iterator
from itertools import accumulate, pairwise
from typing import Final

from kcoro_stream._native import ffi, lib

# ------------------------------------------------------------------ segment

SEGMENT_MAGIC: Final = b"KCSLOGv\x01"
FORMAT_VERSION: Final = 1
SEGMENT_HEADER_SIZE: Final = 128
RUN_ID_MAX: Final = 90
# magic, version, header size, segment number, first ts, created wall ns,
# run id length, run id bytes, crc32c of the 124 bytes before it
_SEGMENT_HEADER: Final = struct.Struct("<8sHHIqqH90sI")
assert _SEGMENT_HEADER.size == SEGMENT_HEADER_SIZE

SEGMENT_SUFFIX: Final = ".kcslog"
INDEX_SUFFIX: Final = ".kcsidx"
_SEGMENT_NAME: Final = re.compile(r"^segment-(\d{6,})\.kcslog$")

# -------------------------------------------------------------------- block

BLOCK_MAGIC: Final = b"KCSB"
BLOCK_HEADER_SIZE: Final = 64
# magic, compressed len, crc32c(compressed), raw len, frame count, flags,
# first seq, last seq, ts min, ts max, reserved, crc32c of the 60 bytes before it
_BLOCK_HEADER: Final = struct.Struct("<4sIIIIIQQqqII")
assert _BLOCK_HEADER.size == BLOCK_HEADER_SIZE
MAX_BLOCK_RAW: Final = 64 << 20  # a reader refuses to inflate more than this per block
# ZSTD_compressBound(MAX_BLOCK_RAW) is raw + raw/256 + a little; anything larger is forged.
MAX_BLOCK_COMPRESSED: Final = MAX_BLOCK_RAW + (MAX_BLOCK_RAW >> 7) + 4096

# -------------------------------------------------------------------- frame

FRAME_HEADER: Final = struct.Struct("<IIQ")  # len, crc32c(payload), seq
FRAME_HEADER_SIZE: Final = 16
FRAME_PAD: Final = 0x80000000
FRAME_MAX_PAYLOAD: Final = 1 << 24
U64_MAX: Final = (1 << 64) - 1
I64_MIN: Final = -(1 << 63)
I64_MAX: Final = (1 << 63) - 1


def crc32c(data: bytes | bytearray | memoryview) -> int:
    """CRC32C (Castagnoli) of ``data``, computed by the native library."""
    if type(data) is bytes:
        return int(lib.kcs_crc32c_buf(0, data, len(data)))
    return int(lib.kcs_crc32c_buf(0, ffi.from_buffer(data), len(data)))


def align8(n: int) -> int:
    return (n + 7) & ~7


def segment_name(number: int) -> str:
    return f"segment-{number:06d}{SEGMENT_SUFFIX}"


def index_name(number: int) -> str:
    return f"segment-{number:06d}{INDEX_SUFFIX}"


def parse_segment_name(name: str) -> int | None:
    m = _SEGMENT_NAME.match(name)
    return int(m.group(1)) if m else None


class SegmentHeader:
    """The decoded 128-byte segment header."""

    __slots__ = ("crc_ok", "created_wall_ns", "first_ts_ns", "number", "run_id", "version")

    def __init__(
        self, version: int, number: int, first_ts_ns: int, created_wall_ns: int, run_id: str, crc_ok: bool
    ) -> None:
        self.version = version
        self.number = number
        self.first_ts_ns = first_ts_ns
        self.created_wall_ns = created_wall_ns
        self.run_id = run_id
        self.crc_ok = crc_ok


def encode_segment_header(number: int, first_ts_ns: int, created_wall_ns: int, run_id: str) -> bytes:
    rid = run_id.encode()
    body = _SEGMENT_HEADER.pack(
        SEGMENT_MAGIC,
        FORMAT_VERSION,
        SEGMENT_HEADER_SIZE,
        number,
        first_ts_ns,
        created_wall_ns,
        len(rid),
        rid,
        0,
    )
    return body[:-4] + struct.pack("<I", crc32c(body[:-4]))


def decode_segment_header(data: bytes) -> SegmentHeader | str:
    """Decode a segment header, or return why it cannot be used.

    A header with the right magic and version but a bad CRC still decodes
    (``crc_ok`` False): its blocks are self-describing and stay readable.
    """
    if len(data) < SEGMENT_HEADER_SIZE:
        return f"segment header truncated ({len(data)} of {SEGMENT_HEADER_SIZE} bytes)"
    magic, version, hsize, number, first_ts, wall, rid_len, rid, crc = _SEGMENT_HEADER.unpack_from(data)
    if magic != SEGMENT_MAGIC:
        return f"not a kcoro-stream log segment (magic {magic!r})"
    if version != FORMAT_VERSION or hsize != SEGMENT_HEADER_SIZE:
        return f"segment format version {version} (header size {hsize}) is not supported (this reader: 1)"
    crc_ok = crc32c(data[: SEGMENT_HEADER_SIZE - 4]) == crc
    run_id = rid[: min(rid_len, RUN_ID_MAX)].decode("utf-8", "replace")
    return SegmentHeader(version, number, first_ts, wall, run_id, crc_ok)


class BlockHeader:
    """The decoded 64-byte block header (already CRC-checked)."""

    __slots__ = ("clen", "data_crc", "first_seq", "frames", "last_seq", "raw_len", "ts_max", "ts_min")

    def __init__(
        self,
        clen: int,
        data_crc: int,
        raw_len: int,
        frames: int,
        first_seq: int,
        last_seq: int,
        ts_min: int,
        ts_max: int,
    ) -> None:
        self.clen = clen
        self.data_crc = data_crc
        self.raw_len = raw_len
        self.frames = frames
        self.first_seq = first_seq
        self.last_seq = last_seq
        self.ts_min = ts_min
        self.ts_max = ts_max


def encode_block_header(
    compressed: bytes, raw_len: int, frames: int, first_seq: int, last_seq: int, ts_min: int, ts_max: int
) -> bytes:
    body = _BLOCK_HEADER.pack(
        BLOCK_MAGIC,
        len(compressed),
        crc32c(compressed),
        raw_len,
        frames,
        0,
        first_seq,
        last_seq,
        ts_min,
        ts_max,
        0,
        0,
    )
    return body[:-4] + struct.pack("<I", crc32c(body[:-4]))


def decode_block_header(data: bytes | memoryview) -> BlockHeader | str:
    """Decode and sanity-check a block header, or return why it is bad."""
    if len(data) < BLOCK_HEADER_SIZE:
        return f"block header truncated ({len(data)} of {BLOCK_HEADER_SIZE} bytes)"
    (magic, clen, dcrc, raw_len, frames, _flags, fseq, lseq, tmin, tmax, _res, hcrc) = (
        _BLOCK_HEADER.unpack_from(data)
    )
    if magic != BLOCK_MAGIC:
        return f"bad block magic {bytes(magic)!r}"
    if crc32c(bytes(data[: BLOCK_HEADER_SIZE - 4])) != hcrc:
        return "block header CRC mismatch"
    if (
        raw_len > MAX_BLOCK_RAW
        or clen > MAX_BLOCK_COMPRESSED
        or frames * (FRAME_HEADER_SIZE + 8) > raw_len
        or tmin > tmax
    ):
        return f"implausible block header (raw {raw_len} bytes, {clen} compressed, {frames} frames)"
    return BlockHeader(clen, dcrc, raw_len, frames, fseq, lseq, tmin, tmax)


def encode_timestamps(ts: array) -> bytes:
    """Frame timestamps as i64: the first absolute, the rest as deltas."""
    out = array("q", [ts[0]]) if ts else array("q")
    out.extend(b - a for a, b in pairwise(ts))
    if sys.byteorder != "little":
        out.byteswap()
    return out.tobytes()


def decode_timestamps(data: bytes | memoryview) -> Iterable[int] | None:
    """Inverse of :func:`encode_timestamps`; None if a value leaves i64.

    Returns a lazy iterable (a block may hold millions of frames): one pass
    checks the range without keeping the values, the caller's pass makes them.
    """
    arr = array("q")
    arr.frombytes(data)
    if sys.byteorder != "little":
        arr.byteswap()
    for t in accumulate(arr):
        if not I64_MIN <= t <= I64_MAX:
            return None
    return _Accumulated(arr)


class _Accumulated:
    """Re-iterable running sums of an array (what decode_timestamps hands out)."""

    __slots__ = ("_arr",)

    def __init__(self, arr: array) -> None:
        self._arr = arr

    def __iter__(self) -> Iterator[int]:
        return accumulate(self._arr)
