"""LogReader: replay a run directory, skipping and reporting damage.

::

    open_log(dir) ──► scan each segment (index sidecar or header scan)
                      └─► LogReader.frames(from_ts, to_ts) ──► LogFrame(seq, ts_ns, payload)
                                 │ skips blocks outside the time range by their headers
                                 └─► damage found on the way ─► reader.problems

The reader raises LogError only when the directory is not a log at all
(missing, unreadable, no segments, or no segment with our magic and format
version). Any other bad byte becomes a LogProblem and is never returned as data.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

import msgspec

from kcoro_stream._files import create_new, lock_holder, write_all
from kcoro_stream.errors import DamagedLogError, LogError
from kcoro_stream.eventlog._format import (
    SEGMENT_SUFFIX,
    index_name,
    parse_segment_name,
)
from kcoro_stream.eventlog._segment import (
    BlockRef,
    SegmentScan,
    encode_index,
    open_regular,
    read_block,
    scan_segment,
)
from kcoro_stream.eventlog._types import LogFrame, LogInfo, LogProblem, SegmentInfo
from kcoro_stream.eventlog._writer import LOCK_NAME, lock_run_dir
from kcoro_stream.events import INGEST_SEQ_BIT, RingLoss, decode_frame


def type_name(cls: type) -> str:
    """``WorkerCounters`` → ``worker_counters``."""
    out = []
    for i, ch in enumerate(cls.__name__):
        if ch.isupper() and i:
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def bad_payload_problem(file: str, block_offset: int, seq: int, error: Exception) -> LogProblem:
    """A frame whose CRC verifies but whose payload does not decode as events."""
    return LogProblem(file, block_offset, "bad_payload", f"frame seq {seq} does not decode: {error}")


def warn_stderr(problem: LogProblem) -> None:
    """One warning line on stderr for a problem in a log (library readers: replay, report, trace)."""
    print(f"kcoro-stream: warning: {problem}", file=sys.stderr)


def _list_segments(run_dir: Path) -> list[tuple[int, Path]]:
    if not run_dir.exists():
        raise LogError(f"{run_dir}: no such run directory")
    if not run_dir.is_dir():
        raise LogError(f"{run_dir}: not a directory")
    try:
        entries = list(run_dir.iterdir())
    except OSError as e:
        raise LogError(f"{run_dir}: cannot list the run directory: {e.strerror}") from None
    segs = sorted((n, p) for p in entries if (n := parse_segment_name(p.name)) is not None)
    if not segs:
        raise LogError(f"{run_dir}: {_why_no_segments(run_dir)}")
    return segs


def _why_no_segments(run_dir: Path) -> str:
    """A run directory without segments: say whether a writer is still before its first flush,
    or stopped before it (its ``writer.lock`` tells which), or there never was one."""
    lock = run_dir / LOCK_NAME
    pid = lock_holder(lock)
    if pid is not None:
        return f"recording in progress (pid {pid}): nothing flushed yet (logs flush at least every second)"
    try:
        fd = os.open(lock, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return f"no log segments (segment-NNNNNN{SEGMENT_SUFFIX}) in the run directory"
    try:
        pid = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
    except OSError:
        pid = "?"
    finally:
        os.close(fd)
    return (
        f"nothing was recorded: the monitor (pid {pid}) ended before its first flush "
        "(killed, or the run failed at its start)"
    )


LOST_FRAMES: Final = ("corrupt_block", "bad_header")  # problem kinds that lose frames from inside a log


class LogReader:
    """A read-only view of one run directory's log."""

    def __init__(self, run_dir: Path, scans: list[SegmentScan]) -> None:
        self.run_dir = run_dir
        self._scans = scans
        self._seen: set[tuple[str, int, str]] = set()
        self.problems: list[LogProblem] = []
        """Damage found so far: at open (headers, torn tails) and while reading."""
        self._shown = 0  # problems already passed to a ``show`` callback
        for s in scans:
            self._report(s.problems)
        self._info: LogInfo | None = None

    def _report(self, problems: list[LogProblem]) -> None:
        for p in problems:
            key = (p.file, p.offset, p.kind)
            if key not in self._seen:
                self._seen.add(key)
                self.problems.append(p)

    def show(self, warn: Callable[[LogProblem], object]) -> None:
        """Each problem found since the last call, to ``warn`` (a torn tail at open, a corrupt block later)."""
        for p in self.problems[self._shown :]:
            warn(p)
        self._shown = len(self.problems)

    def damage(self) -> list[LogProblem]:
        """The problems that lost frames inside the log: corrupt blocks, bad segment headers."""
        return [p for p in self.problems if p.kind in LOST_FRAMES]

    def finish(self, warn: Callable[[LogProblem], object], *, allow_damaged: bool) -> None:
        """After reading: ``show`` what is left; damage inside the log is a LogError unless ``allow_damaged``.

        A torn tail (a crash's unfinished last block) and a frame that does
        not decode (the live run could not decode it either) are warnings; a
        corrupt block or a bad segment header means the output lacks frames
        the live run had.
        """
        self.show(warn)
        damage = self.damage()
        if damage and not allow_damaged:
            more = f" (and {len(damage) - 1} more)" if len(damage) > 1 else ""
            raise DamagedLogError(
                f"{self.run_dir}: damaged log, frames lost at {damage[0]}{more}; "
                "--allow-damaged accepts the output without them"
            )

    @property
    def run_id(self) -> str:
        for s in self._scans:
            if s.header is not None and s.header.crc_ok:
                return s.header.run_id
        return ""

    @property
    def segment_files(self) -> list[Path]:
        return [s.path for s in self._scans]

    def time_range(self) -> tuple[int, int] | None:
        """Smallest and largest frame timestamp according to the block headers."""
        blocks = [b for s in self._scans for b in s.blocks]
        if not blocks:
            return None
        return min(b.ts_min for b in blocks), max(b.ts_max for b in blocks)

    def frame_count(self) -> int:
        """Frames in readable blocks according to their headers (no decoding)."""
        return sum(b.frames for s in self._scans for b in s.blocks)

    def frames(self, from_ts_ns: int | None = None, to_ts_ns: int | None = None) -> Iterator[LogFrame]:
        """Every verified frame in log order with ``from_ts_ns <= ts_ns < to_ts_ns``.

        Blocks whose header time range misses the window are not read, so
        starting late in a long log costs a few header reads per segment.
        """
        for _s, _b, frames in self._iter_blocks(from_ts_ns, to_ts_ns):
            if from_ts_ns is None and to_ts_ns is None:
                yield from frames
            else:
                lo = from_ts_ns if from_ts_ns is not None else -(1 << 63)
                hi = to_ts_ns if to_ts_ns is not None else 1 << 63
                for f in frames:
                    if lo <= f.ts_ns < hi:
                        yield f

    def located_frames(
        self, from_ts_ns: int | None = None, to_ts_ns: int | None = None
    ) -> Iterator[tuple[str, int, LogFrame]]:
        """Like ``frames`` with where each frame is: (segment file name, block offset, frame)."""
        lo = from_ts_ns if from_ts_ns is not None else -(1 << 63)
        hi = to_ts_ns if to_ts_ns is not None else 1 << 63
        for s, b, frames in self._iter_blocks(from_ts_ns, to_ts_ns):
            for f in frames:
                if lo <= f.ts_ns < hi:
                    yield s.name, b.offset, f

    def _iter_blocks(
        self, from_ts_ns: int | None, to_ts_ns: int | None
    ) -> Iterator[tuple[SegmentScan, BlockRef, Iterator[LogFrame]]]:
        """Each block's frames as a lazy iterator: consume it before asking for the next block."""
        for s in self._scans:
            if not s.usable or not s.blocks:
                continue
            if from_ts_ns is not None and max(b.ts_max for b in s.blocks) < from_ts_ns:
                continue
            if to_ts_ns is not None and min(b.ts_min for b in s.blocks) >= to_ts_ns:
                continue
            try:
                fd = open_regular(s.path)
            except OSError as e:
                self._report([LogProblem(s.name, 0, "bad_header", f"cannot open: {e.strerror}")])
                continue
            try:
                for b in s.blocks:
                    if from_ts_ns is not None and b.ts_max < from_ts_ns:
                        continue
                    if to_ts_ns is not None and b.ts_min >= to_ts_ns:
                        continue
                    found: list[LogProblem] = []
                    try:
                        frames = read_block(fd, s.name, b, found)
                    except OSError as e:
                        found.append(
                            LogProblem(s.name, b.offset, "corrupt_block", f"read error: {e.strerror}")
                        )
                        frames = iter(())
                    self._report(found)  # what reading the block found
                    yield s, b, frames
                    self._report(found)  # and what cutting its frames found
            finally:
                os.close(fd)

    def info(self) -> LogInfo:
        """Read and verify everything once; decode payloads to count events."""
        if self._info is not None:
            return self._info
        by_type: dict[str, int] = {}
        names: dict[type, str] = {}
        frames = events = gaps = missing = losses = lost_frames = bytes_raw = 0
        prev_seq: int | None = None
        first_ts: int | None = None
        last_ts: int | None = None
        per_seg: dict[int, list] = {}  # number → [frames, seq lo, seq hi, ts lo, ts hi]
        for s, ref, block in self._iter_blocks(None, None):
            acc = per_seg.setdefault(s.number, [0, None, None, None, None])
            for f in block:
                frames += 1
                acc[0] += 1
                bytes_raw += 16 + ((len(f.payload) + 7) & ~7)
                ts = f.ts_ns
                first_ts = ts if first_ts is None or ts < first_ts else first_ts
                last_ts = ts if last_ts is None or ts > last_ts else last_ts
                acc[3] = ts if acc[3] is None or ts < acc[3] else acc[3]
                acc[4] = ts if acc[4] is None or ts > acc[4] else acc[4]
                if not f.seq & INGEST_SEQ_BIT:
                    if prev_seq is not None and f.seq != prev_seq + 1:
                        gaps += 1
                        missing += max(0, f.seq - prev_seq - 1)
                    prev_seq = f.seq
                    acc[1] = f.seq if acc[1] is None else acc[1]
                    acc[2] = f.seq
                try:
                    evs = decode_frame(f.payload)
                except msgspec.DecodeError as e:  # decode_frame's one error type
                    self._report([bad_payload_problem(s.name, ref.offset, f.seq, e)])
                    continue
                events += len(evs)
                for ev in evs:
                    cls = type(ev)
                    name = names.get(cls)
                    if name is None:
                        name = names[cls] = type_name(cls)
                    by_type[name] = by_type.get(name, 0) + 1
                    if cls is RingLoss:
                        losses += 1
                        lost_frames += ev.frames  # type: ignore[union-attr]
        segments = []
        disk = 0
        for s in self._scans:
            disk += s.size
            acc = per_seg.get(s.number, [0, None, None, None, None])
            segments.append(
                SegmentInfo(
                    file=s.name,
                    number=s.number,
                    run_id=s.header.run_id if s.header is not None else "",
                    bytes=s.size,
                    blocks=len(s.blocks),
                    frames=acc[0],
                    first_seq=acc[1],
                    last_seq=acc[2],
                    first_ts_ns=acc[3],
                    last_ts_ns=acc[4],
                    indexed=s.indexed,
                )
            )
        self._info = LogInfo(
            run_id=self.run_id,
            segments=segments,
            frames=frames,
            events=events,
            events_by_type=dict(sorted(by_type.items())),
            first_ts_ns=first_ts,
            last_ts_ns=last_ts,
            seq_gaps=gaps,
            seq_missing=missing,
            ring_losses=losses,
            ring_lost_frames=lost_frames,
            bytes_on_disk=disk,
            bytes_raw=bytes_raw,
            problems=list(self.problems),
        )
        return self._info


def open_log(run_dir: Path) -> LogReader:
    """Open a run directory for reading (never modifies it; see ``repair``)."""
    run_dir = Path(run_dir)
    scans = [scan_segment(p, n, run_dir / index_name(n)) for n, p in _list_segments(run_dir)]
    if not any(s.usable for s in scans):
        why = "; ".join(f"{s.name}: {s.problems[0].message}" for s in scans if s.problems)
        raise LogError(f"{run_dir}: not a kcoro-stream log ({why})")
    return LogReader(run_dir, scans)


def repair(run_dir: Path) -> list[LogProblem]:
    """Cut torn tails off segment files and return every problem found.

    Each torn tail is truncated at its offset and the segment's index sidecar
    rewritten; corrupt middle blocks stay in place (the reader skips them).
    Leftover ``*.tmp`` files of an interrupted segment creation are removed.
    """
    run_dir = Path(run_dir)
    reader = open_log(run_dir)
    lock = (
        lock_run_dir(run_dir, what="repair it after that run ends")
        if (run_dir / LOCK_NAME).exists()
        else None
    )
    try:
        return _repair(run_dir, reader)
    finally:
        if lock is not None:
            os.close(lock)


def _repair(run_dir: Path, reader: LogReader) -> list[LogProblem]:
    reader.info()  # a full verified pass, so corrupt blocks are reported too
    for s in reader._scans:
        if s.torn_at is None:
            continue
        try:
            os.truncate(s.path, s.torn_at)
            s.size = s.torn_at
            if s.header is not None:
                data = encode_index(s.size, s.header_bytes, s.header.run_id, s.header.first_ts_ns, s.blocks)
                idx = run_dir / index_name(s.number)
                tmp = idx.with_suffix(".kcsidx.tmp")
                fd = create_new(tmp)
                try:
                    write_all(fd, data)
                finally:
                    os.close(fd)
                os.replace(tmp, idx)
        except OSError as e:
            raise LogError(f"{s.path}: cannot repair: {e.strerror}") from None
    for p in run_dir.glob("segment-*.tmp"):
        try:
            p.unlink()
        except OSError:
            pass
    return list(reader.problems)
