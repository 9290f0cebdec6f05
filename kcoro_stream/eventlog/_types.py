"""The small value types the event log hands out (frozen msgspec Structs)."""

from __future__ import annotations

from typing import Literal

import msgspec

ProblemKind = Literal["torn_tail", "corrupt_block", "bad_header", "bad_payload"]


class LogFrame(msgspec.Struct, frozen=True, gc=False):
    """One stored ring frame: its sequence, its timestamp and its payload.

    ``payload`` is a msgpack array of events (``events.decode_frame``); it may
    be a memoryview into the decompressed block, valid as long as you hold it.
    """

    seq: int
    ts_ns: int
    payload: bytes | memoryview


class LogProblem(msgspec.Struct, frozen=True, gc=False):
    """Damage found in a log: where (file, byte offset) and what.

    kind: ``torn_tail`` (the bytes from ``offset`` to the end of the file are an
    unfinished or damaged last block; ``repair`` cuts them), ``corrupt_block``
    (a damaged block inside the file, skipped), ``bad_header`` (a segment
    header that is damaged, foreign or of another version), ``bad_payload``
    (a frame whose CRC verifies but whose payload does not decode as events).
    """

    file: str
    offset: int
    kind: ProblemKind
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.offset}: {self.kind}: {self.message}"


class SegmentInfo(msgspec.Struct, frozen=True, gc=False):
    """One segment as seen by a full read: ranges cover verified frames only.

    ``first_seq``/``last_seq`` are the producer sequence range (frames without
    ``INGEST_SEQ_BIT``); None when the segment holds none.
    """

    file: str
    number: int
    run_id: str
    bytes: int
    blocks: int
    frames: int
    first_seq: int | None
    last_seq: int | None
    first_ts_ns: int | None
    last_ts_ns: int | None
    indexed: bool  # block offsets came from the index sidecar, not a scan


class LogInfo(msgspec.Struct, frozen=True, gc=False):
    """Summary of a whole log, from one verified pass over every frame."""

    run_id: str
    segments: list[SegmentInfo]
    frames: int
    events: int
    events_by_type: dict[str, int]
    first_ts_ns: int | None
    last_ts_ns: int | None
    seq_gaps: int  # breaks in the producer sequence (dropped or lost frames)
    seq_missing: int  # producer sequence numbers absent from the log
    ring_losses: int  # RingLoss events recorded by the ingester
    ring_lost_frames: int  # sum of their ``frames``
    bytes_on_disk: int
    bytes_raw: int  # frame bytes stored (before compression)
    problems: list[LogProblem]
