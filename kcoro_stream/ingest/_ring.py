"""RingReader: the Python face of the shared-memory ring (contract 1).

All header access and frame copying happens in C (native/reader/kcs_reader.c,
compiled by cffi into ``kcoro_stream._native``) with acquire/release atomics;
this module only holds the handle, owns the copy buffer and turns the C
results into Python objects. One ``read()`` call copies many frames.
"""

from __future__ import annotations

import errno
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import msgspec
import trio

from .._native import ffi, lib
from ..errors import RingError
from ..events import ReaderStatistics

DEFAULT_RING_BYTES: Final = 8 << 20
SHM_DIR: Final = Path("/dev/shm")
FRAME_HDR: Final = 16
_ERRLEN: Final = 512


class RingInfo(msgspec.Struct, frozen=True):
    """A snapshot of the ring header (the C side loads the atomics)."""

    path: str
    abi_major: int
    abi_minor: int
    data_size: int
    created_realtime_ns: int
    created_monotonic_ns: int
    producer_pid: int
    consumer_pid: int
    closed: bool
    initial_interval_ns: int
    write_pos: int
    read_pos: int
    frames_written: int
    frames_dropped: int
    bytes_dropped: int
    heartbeat_ns: int
    next_seq: int
    ctl_seq: int
    ctl_ack: int
    producer_abi_minor: int = 0
    producer_wakes: bool = False  # the producer wakes a waiting reader (ABI >= 1.1)
    waits: int = 0
    wakeups: int = 0
    wait_timeouts: int = 0


LOSS_REASONS: Final = {lib.KCS_LOSS_DROPPED: "dropped", lib.KCS_LOSS_CORRUPT: "corrupt"}


class Loss(msgspec.Struct, frozen=True):
    """Sequence numbers that produced no good frame, as the C reader accounted them."""

    before: int  # index of the good frame it precedes in its ReadResult (len: after the last)
    reason: str  # "dropped" | "corrupt"
    frames: int
    bytes: int
    seq_from: int
    seq_to: int


@dataclass(slots=True)
class ReadResult:
    """Frames copied by one ``RingReader.read`` call.

    ``data`` holds the frames exactly as they sat in the ring (16-byte header,
    payload, padding): ``data[starts[i]:ends[i]]`` is frame i's full record
    (what the event log stores) and its payload is at ``+16 .. +16+lens[i]``.
    """

    data: bytes
    offsets: list[int]  # payload offsets
    lens: list[int]
    seqs: list[int]
    ts: list[int]  # ts_ns of each frame's first event (0 if it has none)
    losses: list[Loss]  # in order; each lost sequence number appears once
    closed: bool

    def __len__(self) -> int:
        return len(self.offsets)

    def record(self, i: int) -> memoryview:
        start = self.offsets[i] - FRAME_HDR
        end = self.offsets[i] + ((self.lens[i] + 7) & ~7)
        return memoryview(self.data)[start:end]

    def payload(self, i: int) -> memoryview:
        off = self.offsets[i]
        return memoryview(self.data)[off : off + self.lens[i]]


def new_ring_path() -> Path:
    """An unguessable path for a new ring under /dev/shm (or $TMPDIR without it)."""
    base = (
        SHM_DIR
        if SHM_DIR.is_dir() and os.access(SHM_DIR, os.W_OK)
        else Path(os.environ.get("TMPDIR", "/tmp"))
    )
    return base / f"kcoro-stream-{os.getpid()}-{secrets.token_hex(12)}"


class RingReader:
    """Consumer handle on one ring. Not thread-safe; one reader per ring."""

    def __init__(self, handle: object, path: Path, *, owner: bool, max_frames: int = 4096) -> None:
        self._h = handle
        self.path = path
        self.owner = owner
        self._max_frames = max_frames
        self._cap = 1 << 20
        self._out = ffi.new("uint8_t[]", self._cap)
        self._off = ffi.new("uint32_t[]", max_frames)
        self._len = ffi.new("uint32_t[]", max_frames)
        self._seq = ffi.new("uint64_t[]", max_frames)
        self._ts = ffi.new("uint64_t[]", max_frames)
        self._res = ffi.new("kcs_read_result *")
        self._info = ffi.new("kcs_ring_info *")
        self._notify_fd = -1  # the C notifier's eventfd, once started
        self._wakes = False  # the producer wakes waiting readers (known once it attached)
        self._watermark = 0  # unread bytes that end a hold (wait's hold_s): a quarter of the ring
        self._reads = self._frames = self._bytes = 0
        self._lost = {"dropped": [0, 0], "corrupt": [0, 0]}  # reason -> [frames, bytes]

    # -- construction -------------------------------------------------------

    @classmethod
    def create(
        cls, path: Path | None = None, *, data_size: int = DEFAULT_RING_BYTES, interval_ns: int = 10_000_000
    ) -> RingReader:
        """Create a new ring (mode 0600, exclusive) and become its reader."""
        path = path or new_ring_path()
        err = ffi.new("char[]", _ERRLEN)
        h = lib.kcs_reader_create(os.fsencode(path), data_size, interval_ns, err, _ERRLEN)
        if h == ffi.NULL:
            raise RingError(ffi.string(err).decode(errors="replace"))
        return cls(h, path, owner=True)

    @classmethod
    def open(cls, path: Path) -> RingReader:
        """Attach to an existing ring; validates magic, ABI major and sizes."""
        err = ffi.new("char[]", _ERRLEN)
        h = lib.kcs_reader_open(os.fsencode(path), err, _ERRLEN)
        if h == ffi.NULL:
            raise RingError(ffi.string(err).decode(errors="replace"))
        return cls(h, Path(path), owner=False)

    def close(self, *, unlink: bool | None = None) -> None:
        """Unmap; the creator (or ``unlink=True``) also removes the file."""
        if self._h is None:
            return
        lib.kcs_reader_close(self._h)  # stops and joins the notifier thread first
        self._notify_fd = -1
        self._h = None
        if self.owner if unlink is None else unlink:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass

    def __enter__(self) -> RingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ------------------------------------------------------------

    def info(self) -> RingInfo:
        self._check()
        i = self._info
        lib.kcs_reader_info(self._h, i)
        if i.truncated:
            raise RingError(f"{self.path}: the ring file was truncated under the monitor")
        return RingInfo(
            path=str(self.path),
            abi_major=i.abi_major,
            abi_minor=i.abi_minor,
            data_size=i.data_size,
            created_realtime_ns=i.created_realtime_ns,
            created_monotonic_ns=i.created_monotonic_ns,
            producer_pid=i.producer_pid,
            consumer_pid=i.consumer_pid,
            closed=bool(i.flags & 1),
            initial_interval_ns=i.initial_interval_ns,
            write_pos=i.write_pos,
            read_pos=i.read_pos,
            frames_written=i.frames_written,
            frames_dropped=i.frames_dropped,
            bytes_dropped=i.bytes_dropped,
            heartbeat_ns=i.heartbeat_ns,
            next_seq=i.next_seq,
            ctl_seq=i.ctl_seq,
            ctl_ack=i.ctl_ack,
            producer_abi_minor=i.producer_abi_minor,
            producer_wakes=bool(i.producer_wakes),
            waits=i.waits,
            wakeups=i.wakeups,
            wait_timeouts=i.wait_timeouts,
        )

    def read(self) -> ReadResult:
        """Copy every available frame (up to the batch limits). Never blocks."""
        self._check()
        res = self._res
        while True:
            n = lib.kcs_reader_read(
                self._h,
                self._out,
                self._cap,
                self._off,
                self._len,
                self._seq,
                self._ts,
                self._max_frames,
                res,
            )
            if n == -3:
                raise RingError(f"{self.path}: the ring file was truncated under the monitor")
            if n != -2:
                break
            self._cap *= 2  # a frame larger than our buffer: grow and retry
            self._out = ffi.new("uint8_t[]", self._cap)
        data = ffi.buffer(self._out, res.bytes)[:]
        self._reads += 1
        self._frames += n
        self._bytes += res.bytes
        return ReadResult(
            data=data,
            offsets=ffi.unpack(self._off, n),
            lens=ffi.unpack(self._len, n),
            seqs=ffi.unpack(self._seq, n),
            ts=ffi.unpack(self._ts, n),
            losses=self._losses(res) if res.nlosses else [],
            closed=bool(res.closed),
        )

    def finish(self) -> list[Loss]:
        """At the end of the run: what the reader has not accounted for yet (trailing drops,
        corrupt records with no good frame after them). Each loss is reported once."""
        self._check()
        lib.kcs_reader_finish(self._h, self._res)
        return self._losses(self._res)

    def _losses(self, res: object) -> list[Loss]:
        out = []
        for i in range(res.nlosses):  # type: ignore[attr-defined]  # cffi struct
            c = res.losses[i]  # type: ignore[attr-defined]
            loss = Loss(c.before, LOSS_REASONS[c.reason], c.frames, c.bytes, c.seq_from, c.seq_to)
            acc = self._lost[loss.reason]
            acc[0] += loss.frames
            acc[1] += loss.bytes
            out.append(loss)
        return out

    def statistics(self) -> ReaderStatistics:
        """Reads, frames and losses so far (``undecodable_frames`` is the decoder's, added by it)."""
        i = self._info
        if self._h is not None:
            lib.kcs_reader_info(self._h, i)
        return ReaderStatistics(
            waits=i.waits,
            wakeups=i.wakeups,
            reads=self._reads,
            frames=self._frames,
            bytes=self._bytes,
            dropped_frames=self._lost["dropped"][0],
            dropped_bytes=self._lost["dropped"][1],
            corrupt_frames=self._lost["corrupt"][0],
            corrupt_bytes=self._lost["corrupt"][1],
        )

    async def wait(self, timeout_s: float, hold_s: float = 0.0) -> None:
        """Until the producer publishes a frame or closes the ring, at most ``timeout_s``.

        ``hold_s`` > 0 coalesces wake-ups: once a frame is there, wait on (in C)
        for more until ``hold_s`` has passed, a quarter of the ring is unread
        (a filling ring never waits out the hold: nothing is dropped to save
        CPU), the ring closes or :meth:`interrupt` is called — one wake-up of
        this process then hands it many frames.

        A producer of ABI >= 1.1 wakes us through the ring's futex word: a C
        notifier thread (``kcs_reader_notifier_start``) runs the wait and makes
        an eventfd readable, which trio waits on like any file — no Python
        thread, no polling. An older producer never wakes anyone: then this is
        a plain sleep of ``min(timeout_s, 1 ms)`` (polling, as before).
        """
        self._check()
        if not self._wakes:
            lib.kcs_reader_info(self._h, self._info)
            self._wakes = bool(self._info.producer_wakes)
        if not self._wakes:
            await trio.sleep(min(timeout_s, OLD_PRODUCER_POLL_S))
            return
        if self._notify_fd < 0:
            ffi.errno = 0
            self._notify_fd = lib.kcs_reader_notifier_start(self._h)
            if self._notify_fd < 0:
                err = ffi.errno  # eventfd's (EMFILE: out of descriptors) or pthread_create's
                why = os.strerror(err).lower() if err else "cannot start its thread"
                hint = " (raise 'ulimit -n')" if err in (errno.EMFILE, errno.ENFILE) else ""
                raise RingError(f"{self.path}: cannot start the ring notifier: {why}{hint}")
        if hold_s > 0:
            if not self._watermark:
                lib.kcs_reader_info(self._h, self._info)
                self._watermark = max(1, int(self._info.data_size) // WATERMARK_FRACTION)
            lib.kcs_reader_arm_batch(
                self._h, max(1, int(timeout_s * 1e9)), int(hold_s * 1e9), self._watermark
            )
        else:
            lib.kcs_reader_arm(self._h, max(1, int(timeout_s * 1e9)))
        await trio.lowlevel.wait_readable(self._notify_fd)
        try:
            os.read(self._notify_fd, 8)
        except BlockingIOError:
            pass

    def interrupt(self) -> None:
        """End a ``wait`` in progress now (e.g. a stop was requested)."""
        if self._h is not None:
            lib.kcs_reader_wake(self._h)

    # -- control ------------------------------------------------------------

    def control(
        self, *, interval_ns: int = 0, paused: bool = False, stop: bool = False, cmd: bytes = b""
    ) -> int:
        """Publish a control record; returns its sequence (see ``ctl_ack``)."""
        self._check()
        if len(cmd) > 192:
            raise RingError(f"{self.path}: control command of {len(cmd)} bytes exceeds 192")
        return int(lib.kcs_reader_control(self._h, interval_ns, int(paused), int(stop), cmd, len(cmd)))

    def ctl_ack(self) -> int:
        self._check()
        return int(lib.kcs_reader_ctl_ack(self._h))

    def _check(self) -> None:
        if self._h is None:
            raise RingError(f"{self.path}: ring is closed")


OLD_PRODUCER_POLL_S: Final = 0.001
WATERMARK_FRACTION: Final = 4  # a hold ends when this fraction of the ring is unread


def monotonic_ns() -> int:
    """CLOCK_MONOTONIC in ns, the clock producers stamp events with."""
    return int(lib.kcs_monotonic_now())


def pid_alive(pid: int) -> bool:
    return bool(lib.kcs_pid_alive(pid))
