"""The bodies of ``kcoro-stream log info`` and ``kcoro-stream log cat``.

Both are plain functions over a run directory so the CLI stays a thin click
wrapper and tests can call them directly.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO, Final

import msgspec

from kcoro_stream.eventlog._reader import bad_payload_problem, open_log, type_name
from kcoro_stream.eventlog._types import LogProblem
from kcoro_stream.events import RAW_TYPES, RunStarted, decode_frame, wall_seconds

_FLUSH_AT: Final = 1 << 16
_MAX_REPORTED: Final = 100  # undecodable frames reported one by one; the rest are counted


def _line_type(cls: type) -> type[msgspec.Struct]:
    """A keyed twin of an event type for NDJSON: ``{"type", "seq", fields...}``.

    Events are array_like on the wire; their twin encodes as an object with the
    frame's ``seq`` after the type. An event field called ``seq`` is written as
    ``<type>_seq`` (``tick_seq``, ``control_seq``) so the keys stay unique.
    """
    name = type_name(cls)
    base = name.split("_")[0]
    fields: list[tuple[str, Any]] = [("seq", int)]
    for f in cls.__struct_fields__:  # type: ignore[attr-defined]
        fields.append((f"{base}_seq" if f == "seq" else f, Any))
    return msgspec.defstruct(f"{cls.__name__}Line", fields, tag_field="type", tag=name, gc=False)


_LINES: Final = {cls: _line_type(cls) for cls in RAW_TYPES}


def cat_ndjson(
    run_dir: Path,
    out: BinaryIO,
    from_ts_ns: int | None = None,
    to_ts_ns: int | None = None,
    *,
    on_problem: Callable[[LogProblem], None] | None = None,
    allow_damaged: bool = True,
) -> int:
    """Write every event of the log as one JSON object per line; return the count.

    Line shape: ``{"type": "worker_counters", "seq": <frame seq>, "ts_ns": ...,
    "source": ..., <the event's fields by name>}``. Frames in the time window
    ``[from_ts_ns, to_ts_ns)`` are written in log order. Damage found on the way
    (including frames that do not decode) is passed to ``on_problem`` once
    each, after the events; raises LogError if ``run_dir`` is not a log, and
    after the events when frames were lost inside it unless ``allow_damaged``.
    """
    reader = open_log(Path(run_dir))
    encode_into = msgspec.json.Encoder().encode_into
    astuple = msgspec.structs.astuple
    lines = _LINES
    buf = bytearray()
    count = 0
    undecodable: list[LogProblem] = []
    more = 0  # undecodable frames beyond the first _MAX_REPORTED (counted, not kept)
    for file, block_offset, frame in reader.located_frames(from_ts_ns, to_ts_ns):
        try:
            evs = decode_frame(frame.payload)
        except msgspec.DecodeError as e:  # decode_frame's one error type
            if len(undecodable) < _MAX_REPORTED:
                undecodable.append(bad_payload_problem(file, block_offset, frame.seq, e))
            else:
                more += 1
            continue
        seq = frame.seq
        for ev in evs:
            encode_into(lines[type(ev)](seq, *astuple(ev)), buf, len(buf))
            buf += b"\n"
            count += 1
        if len(buf) >= _FLUSH_AT:
            out.write(buf)
            buf.clear()
    if buf:
        out.write(buf)
    if more:
        last = undecodable[-1]
        undecodable.append(
            LogProblem(
                last.file, last.offset, "bad_payload", f"... and {more} more frames that do not decode"
            )
        )
    warn = on_problem or (lambda _p: None)
    reader.show(warn)
    for p in undecodable:  # one per frame (the reader keeps one problem per block)
        warn(p)
    reader.finish(warn, allow_damaged=allow_damaged)
    return count


def _fmt_bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    raise AssertionError


def _fmt_ts(ts: int | None) -> str:
    return "-" if ts is None else f"{ts / 1e9:.6f} s"


def _fmt_range(lo: int | None, hi: int | None) -> str:
    return "-" if lo is None else f"{lo}..{hi}"


def info_text(run_dir: Path) -> str:
    """A human-readable summary: segments, frames, events, time range, losses, problems."""
    reader = open_log(Path(run_dir))
    info = reader.info()
    start: RunStarted | None = None
    for frame in islice(reader.frames(), 16):
        try:
            start = next((e for e in decode_frame(frame.payload) if isinstance(e, RunStarted)), None)
        except msgspec.DecodeError:
            continue
        if start is not None:
            break
    lines = [f"run        {info.run_id or '(unknown)'}    {Path(run_dir)}"]
    ratio = f" ({info.bytes_raw / info.bytes_on_disk:.1f}:1)" if info.bytes_on_disk else ""
    lines.append(
        f"segments   {len(info.segments)}    {_fmt_bytes(info.bytes_on_disk)} on disk, "
        f"{_fmt_bytes(info.bytes_raw)} of frames{ratio}"
    )
    for s in info.segments:
        lines.append(
            f"  {s.file}  {_fmt_bytes(s.bytes):>10}  blocks {s.blocks:<5} frames {s.frames:<8} "
            f"seq {_fmt_range(s.first_seq, s.last_seq):<16} "
            f"ts {_fmt_ts(s.first_ts_ns)} .. {_fmt_ts(s.last_ts_ns)}"
            f"{'' if s.indexed else '  (no index: scanned)'}"
        )
    lines.append(f"frames     {info.frames}")
    kinds = ", ".join(f"{k} {v}" for k, v in info.events_by_type.items())
    lines.append(f"events     {info.events}" + (f"  ({kinds})" if kinds else ""))
    if info.first_ts_ns is not None and info.last_ts_ns is not None:
        span = (info.last_ts_ns - info.first_ts_ns) / 1e9
        when = ""
        if start is not None:
            wall = _dt.datetime.fromtimestamp(wall_seconds(info.first_ts_ns, start), _dt.UTC)
            when = f", starting {wall.isoformat(timespec='milliseconds').replace('+00:00', 'Z')}"
        lines.append(
            f"time       {_fmt_ts(info.first_ts_ns)} .. {_fmt_ts(info.last_ts_ns)} (monotonic), "
            f"{span:.3f} s{when}"
        )
    else:
        lines.append("time       - (no frames)")
    lines.append(
        f"losses     {info.ring_losses} RingLoss event(s), "
        f"{info.ring_lost_frames} frame(s) lost in the ring; "
        f"{info.seq_gaps} sequence gap(s), {info.seq_missing} sequence number(s) missing"
    )
    lines.append(f"problems   {len(info.problems)}" + ("" if info.problems else "  (log is clean)"))
    lines.extend(f"  {p}" for p in info.problems)
    return "\n".join(lines) + "\n"
