"""LogWriter: append raw ring frames to a run directory.

::

    append_record(frame)  ─┐
    append_payload(bytes) ─┴─► pending block (frames + timestamps, in memory)
                                  │  flush: interval due, block full, flush(), close()
                                  ▼
                 zstd-compress ─► block header + data ─► os.write to the open segment
                                  │  fsync per policy
                                  ▼  segment would pass segment_bytes
                 write index sidecar, close; next block opens segment N+1

Single-threaded: call it from one task or thread. Every call that touches the
disk is a blocking syscall; a trio ingester can run ``flush`` in a worker
thread if fsync latency matters.
"""

from __future__ import annotations

import errno
import os
import time
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Final, Literal, Self

import zstandard

from kcoro_stream._files import LockHeld, create_new, lock_exclusive, write_all
from kcoro_stream.errors import LogError
from kcoro_stream.eventlog._format import (
    BLOCK_HEADER_SIZE,
    FRAME_HEADER,
    FRAME_HEADER_SIZE,
    FRAME_MAX_PAYLOAD,
    FRAME_PAD,
    RUN_ID_MAX,
    SEGMENT_HEADER_SIZE,
    SEGMENT_SUFFIX,
    U64_MAX,
    crc32c,
    encode_block_header,
    encode_segment_header,
    encode_timestamps,
    index_name,
    parse_segment_name,
    segment_name,
)
from kcoro_stream.eventlog._segment import BlockRef, encode_index
from kcoro_stream.events import LogStatistics

FsyncPolicy = Literal["never", "flush", "always"]
_FSYNC_POLICIES: Final = ("never", "flush", "always")
_ZEROS: Final = bytes(8)


LOCK_NAME: Final = "writer.lock"
DIR_MODE: Final = 0o750  # run directory (umask can only narrow these)


def lock_run_dir(run_dir: Path, *, what: str) -> int:
    """Take the run directory's writer lock (``writer.lock``, flock, non-blocking).

    Returns the descriptor holding it (closing it releases the lock; so does
    the process ending, even by kill -9). Raises LogError naming the holder's
    pid when another process holds it.
    """
    path = run_dir / LOCK_NAME
    try:
        return lock_exclusive(path)
    except LockHeld as e:
        raise LogError(
            f"{run_dir}: another kcoro-stream (pid {e.holder}) is writing this log; {what}"
        ) from None
    except OSError as e:
        if e.errno == errno.EINVAL:
            raise LogError(f"{path}: the lock file is not a regular file") from None
        raise LogError(f"{path}: cannot open the lock file: {e.strerror}") from None


def _has_segments(run_dir: Path) -> bool:
    try:
        return any(parse_segment_name(p.name) is not None for p in run_dir.iterdir())
    except OSError as e:
        raise LogError(f"{run_dir}: cannot list the run directory: {e.strerror}") from None


class _Segment:
    """The open segment file: its descriptor, size and block list."""

    def __init__(self, path: Path, number: int, fd: int, header: bytes, first_ts_ns: int) -> None:
        self.path = path
        self.number = number
        self.fd = fd
        self.header = header
        self.first_ts_ns = first_ts_ns
        self.size = len(header)
        self.blocks: list[BlockRef] = []


class LogWriter:
    """Appends raw ring frames to segment files of zstd blocks (contract 3).

    Durability: a frame is safe from a crash of this process (kill -9) once the
    block holding it is written, which happens at the latest ``flush_interval_s``
    after it was appended, provided ``append_*`` or ``flush_if_due`` keeps being
    called (an idle ingester calls ``flush_if_due`` on a timer). It is safe from
    a power loss once fsynced: ``fsync="flush"`` fsyncs at every flush point
    (interval, ``flush()``, segment roll, ``close()``), ``"always"`` after every
    block write as well, ``"never"`` leaves it to the OS.
    """

    def __init__(
        self,
        run_dir: Path,
        run_id: str,
        *,
        flush_interval_s: float,
        fsync: FsyncPolicy,
        segment_bytes: int,
        block_bytes: int,
        level: int,
        clock: Callable[[], float],
    ) -> None:
        self._dir = run_dir
        self._run_id = run_id
        self._interval = flush_interval_s
        self._fsync = fsync
        self._segment_bytes = segment_bytes
        self._block_bytes = block_bytes
        self._clock = clock
        self._cctx = zstandard.ZstdCompressor(level=level, write_content_size=True)
        self._seg: _Segment | None = None
        self._lock_fd: int | None = None  # writer.lock, held until close()
        self._next_number = 1
        self._closed = False
        # pending block
        self._buf = bytearray()
        self._ts = array("q")
        self._first_seq = 0
        self._last_seq = 0
        self._pending_since = 0.0
        self._unsynced_since: float | None = None  # a block written but not yet fsynced
        # statistics
        self._frames = 0
        self._bytes_raw = 0
        self._bytes_written = 0
        self._blocks = 0
        self._segments = 0
        self._flushes = 0

    @classmethod
    def create(
        cls,
        run_dir: Path,
        run_id: str,
        *,
        flush_interval_s: float = 1.0,
        fsync: FsyncPolicy = "flush",
        segment_bytes: int = 64 << 20,
        block_bytes: int = 1 << 20,
        level: int = 3,
        clock: Callable[[], float] = time.monotonic,
    ) -> LogWriter:
        """Start a log in ``run_dir`` (created if needed; must hold no segments).

        ``block_bytes`` bounds the raw bytes of one block (a full block is
        written before the interval ends); ``level`` is the zstd level;
        ``clock`` is the monotonic clock the flush interval is measured on.
        """
        run_dir = Path(run_dir)
        if fsync not in _FSYNC_POLICIES:
            raise LogError(f"fsync policy {fsync!r} is not one of {', '.join(_FSYNC_POLICIES)}")
        if not flush_interval_s >= 0:
            raise LogError(f"flush interval {flush_interval_s!r} must be >= 0 seconds")
        if segment_bytes < SEGMENT_HEADER_SIZE + BLOCK_HEADER_SIZE + 64:
            raise LogError(f"segment size {segment_bytes} is too small")
        if len(run_id.encode()) > RUN_ID_MAX:
            raise LogError(f"run id {run_id!r} is longer than {RUN_ID_MAX} bytes")
        try:
            run_dir.parent.mkdir(parents=True, exist_ok=True)
            run_dir.mkdir(mode=DIR_MODE, exist_ok=True)
        except OSError as e:
            raise LogError(f"{run_dir}: cannot create the run directory: {e.strerror}") from None
        if not run_dir.is_dir():
            raise LogError(f"{run_dir}: not a directory")
        lock = lock_run_dir(run_dir, what="choose another --log directory")
        try:
            if _has_segments(run_dir):
                raise LogError(f"{run_dir}: already holds a log; choose a new run directory")
            writer = cls(
                run_dir,
                run_id,
                flush_interval_s=flush_interval_s,
                fsync=fsync,
                segment_bytes=segment_bytes,
                block_bytes=max(1, min(block_bytes, segment_bytes)),
                level=level,
                clock=clock,
            )
        except BaseException:
            os.close(lock)
            raise
        writer._lock_fd = lock
        return writer

    # ----------------------------------------------------------- appending

    def append_record(self, record: bytes | memoryview, seq: int, ts_ns: int) -> None:
        """Append one ring frame as copied out of the ring (header, payload, pad).

        The record is stored byte for byte; its CRC is verified by readers.
        Raises ValueError if the bytes are not one well-formed frame with ``seq``.
        """
        n = len(record)
        if n < FRAME_HEADER_SIZE:
            raise ValueError(f"record of {n} bytes is shorter than a frame header")
        ln, _crc, fseq = FRAME_HEADER.unpack_from(record)
        if ln & FRAME_PAD or ln > FRAME_MAX_PAYLOAD or n != FRAME_HEADER_SIZE + ((ln + 7) & ~7):
            raise ValueError(f"record of {n} bytes is not one frame (length field {ln:#x})")
        if fseq != seq:
            raise ValueError(f"record carries seq {fseq}, caller says {seq}")
        self._append(record, seq, ts_ns)

    def append_payload(self, payload: bytes, seq: int, ts_ns: int) -> None:
        """Frame ``payload`` (length, CRC32C, ``seq``, padding) and append it."""
        ln = len(payload)
        if ln > FRAME_MAX_PAYLOAD:
            raise ValueError(f"payload of {ln} bytes exceeds the frame limit of {FRAME_MAX_PAYLOAD}")
        if not 0 <= seq <= U64_MAX:
            raise ValueError(f"seq {seq} is not a u64")
        header = FRAME_HEADER.pack(ln, crc32c(payload), seq)
        pad = (-ln) & 7
        self._append(header + payload + _ZEROS[:pad] if pad else header + payload, seq, ts_ns)

    def _append(self, record: bytes | memoryview, seq: int, ts_ns: int) -> None:
        if self._closed:
            raise LogError(f"{self._dir}: the log writer is closed")
        ts = self._ts
        if not ts:
            self._first_seq = seq
            self._pending_since = self._clock()
        try:
            ts.append(ts_ns)
        except (OverflowError, TypeError):
            raise ValueError(f"ts_ns {ts_ns!r} is not an i64") from None
        self._buf += record
        self._last_seq = seq
        self._frames += 1
        self._bytes_raw += len(record)
        if len(self._buf) >= self._block_bytes:
            self._write_block(flush_point=False)
        elif self._clock() - self._pending_since >= self._interval:
            self.flush()

    # ------------------------------------------------------------ flushing

    def flush_if_due(self) -> bool:
        """Flush if the oldest unwritten (or, with fsync="flush", unsynced) data
        is ``flush_interval_s`` old; True if a block was written."""
        if self._ts and self._clock() - self._pending_since >= self._interval:
            self.flush()
            return True
        if self._unsynced_since is not None and self._clock() - self._unsynced_since >= self._interval:
            self.flush()
        return False

    def flush(self) -> None:
        """Write the pending frames as one block now (and fsync per policy)."""
        if self._closed:
            return
        if self._ts:
            self._write_block(flush_point=True)
            self._flushes += 1
        elif self._seg is not None and self._unsynced_since is not None:
            self._sync(self._seg.fd)

    def close(self) -> None:
        """Flush, write the open segment's index sidecar, close. Idempotent."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            try:
                if self._seg is not None:
                    self._close_segment()
            finally:
                if self._lock_fd is not None:
                    os.close(self._lock_fd)  # releases the flock
                    self._lock_fd = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def statistics(self) -> LogStatistics:
        return LogStatistics(
            frames=self._frames,
            frame_bytes=self._bytes_raw,
            disk_bytes=self._bytes_written,
            blocks=self._blocks,
            segments=self._segments,
            flushes=self._flushes,
            pending_frames=len(self._ts),
        )

    @property
    def run_dir(self) -> Path:
        return self._dir

    # -------------------------------------------------------------- blocks

    def _write_block(self, *, flush_point: bool) -> None:
        ts = self._ts
        raw = bytes(self._buf) + encode_timestamps(ts)
        comp = self._cctx.compress(raw)
        header = encode_block_header(
            comp, len(raw), len(ts), self._first_seq, self._last_seq, min(ts), max(ts)
        )
        block = header + comp
        seg = self._seg
        if seg is not None and seg.blocks and seg.size + len(block) > self._segment_bytes:
            self._close_segment()
            seg = None
        if seg is None:
            seg = self._open_segment(ts[0])
        offset = seg.size
        try:
            write_all(seg.fd, block)
        except OSError as e:
            # Leave no half block behind (the frames stay pending for a retry).
            try:
                os.ftruncate(seg.fd, offset)
                os.lseek(seg.fd, offset, os.SEEK_SET)
            except OSError:
                pass
            raise LogError(f"{seg.path}: write failed at offset {offset}: {e.strerror}") from None
        seg.size += len(block)
        seg.blocks.append(
            BlockRef(
                offset,
                len(comp),
                crc32c(comp),
                len(raw),
                len(ts),
                self._first_seq,
                self._last_seq,
                min(ts),
                max(ts),
            )
        )
        self._bytes_written += len(block)
        self._blocks += 1
        self._buf = bytearray()
        self._ts = array("q")
        if self._fsync == "always" or (flush_point and self._fsync == "flush"):
            self._sync(seg.fd)
        elif self._fsync == "flush" and self._unsynced_since is None:
            self._unsynced_since = self._clock()  # a full block: synced at the next flush point

    def _sync(self, fd: int) -> None:
        try:
            os.fsync(fd)
        except OSError as e:
            raise LogError(f"{self._dir}: fsync failed: {e.strerror}") from None
        self._unsynced_since = None

    def _sync_dir(self) -> None:
        if self._fsync == "never":
            return
        try:
            fd = os.open(self._dir, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as e:
            raise LogError(f"{self._dir}: fsync of the directory failed: {e.strerror}") from None

    def _open_segment(self, first_ts_ns: int) -> _Segment:
        """Create the next segment; its header appears atomically (tmp + rename)."""
        number = self._next_number
        path = self._dir / segment_name(number)
        tmp = path.with_suffix(SEGMENT_SUFFIX + ".tmp")
        header = encode_segment_header(number, first_ts_ns, time.time_ns(), self._run_id)
        try:
            fd = create_new(tmp)
            write_all(fd, header)
            if self._fsync != "never":
                os.fsync(fd)
            os.rename(tmp, path)
        except OSError as e:
            raise LogError(f"{path}: cannot create the segment: {e.strerror}") from None
        self._sync_dir()
        self._next_number += 1
        self._segments += 1
        self._bytes_written += len(header)
        self._seg = _Segment(path, number, fd, header, first_ts_ns)
        return self._seg

    def _close_segment(self) -> None:
        seg = self._seg
        assert seg is not None
        self._seg = None
        try:
            if self._fsync != "never":
                os.fsync(seg.fd)
                self._unsynced_since = None
            os.close(seg.fd)
            data = encode_index(seg.size, seg.header, self._run_id, seg.first_ts_ns, seg.blocks)
            idx = self._dir / index_name(seg.number)
            tmp = idx.with_suffix(".kcsidx.tmp")
            fd = create_new(tmp)
            try:
                write_all(fd, data)
                if self._fsync != "never":
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(tmp, idx)
        except OSError as e:
            raise LogError(f"{seg.path}: cannot close the segment: {e.strerror}") from None
        self._sync_dir()
