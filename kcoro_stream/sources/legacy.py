"""Old kcoro_mon NDJSON recordings as a source of derived events.

``kcoro_mon`` (the C/ncurses monitor kcoro-stream replaces) wrote one JSON
object per line: sample lines (no ``"type"``; ``schema`` 1 or 2; channel or
tasks mode) every 0.25 s and a summary line (``"type":"summary"``) at exit.
Files may be plain, ``.gz`` or ``.zst`` (detected by magic bytes), may hold
several runs appended one after another (a summary line closes a run), and
may contain all-zero summary lines (a run stopped before its first sample).

Each line becomes a one-event batch that the operators accept (``rates``
passes Samples and Summaries through)::

    {"schema":2,"ts":…,"mode":"channel","pps":…,"gbps":…,"smooth_pps":…,…}  → [Sample]
    {"schema":2,"ts":…,"mode":"tasks","tasks_sec":…,"fastpath_ratio":…,…}   → [Sample]
    {"schema":2,"type":"summary","mode":"tasks","peak_tasks_sec":…,…}       → [Summary]

Field mapping (old → Sample): ``pps`` → ``msgs_per_s``; ``gbps`` → ``gbps``
(``bytes_per_s`` = gbps·1e9/8); ``tasks_sec`` → ``tasks_per_s``;
``smooth_pps``/``smooth_gbps``/``smooth_tasks_sec`` → ``smooth[...]``;
``fastpath_ratio``, ``steal_ratio`` unchanged; ``depth`` → ``channel_depth``;
``<old>_total``/``<old>_delta`` → ``channel_totals``/``channel_deltas`` (the
old names are the counters' ``legacy`` metadata in events.py); ``kind``,
``capacity``, ``closed``, ``ptr_mode`` → ``channel_state``; ``mem_kb`` →
``resources.rss_bytes``; the fields with no new home (``cpu``, ``producers``,
``duration_ms``, ...) and the line's schema → ``legacy``. Fields kcoro_mon
never wrote are not kept. ``ts`` (wall seconds) is kept; ``ts_ns`` is ts in ns (µs precision).
``window_ns`` is the time since the run's previous sample (0.25 s for the
first). ``run_id`` is ``legacy:<file name>:<run number>``.

A line that is not valid JSON, not an object, of an unknown schema or mode,
or with a required field missing or of the wrong type raises ``InputError``
``"file:line: reason"``. Imports only events/errors (+ gzip, zstandard).
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import msgspec
import zstandard

from kcoro_stream.errors import InputError
from kcoro_stream.events import (
    ChannelCounts,
    ChannelState,
    LegacyFields,
    Metrics,
    Resources,
    Sample,
    Summary,
    counter_fields,
)

__all__ = ["is_legacy_ndjson", "iter_legacy_batches", "legacy_events"]

_GZIP = b"\x1f\x8b"
_ZSTD = b"\x28\xb5\x2f\xfd"
_DEFAULT_WINDOW_NS = 250_000_000
_decoder = msgspec.json.Decoder()

# kcoro_mon's channel counters: (new field, old name), from the schema's metadata
_OLD_COUNTERS = tuple((cf.name, cf.legacy) for cf in counter_fields(ChannelCounts) if cf.legacy is not None)
_LEGACY_KEPT = tuple(f for f in LegacyFields.__struct_fields__ if f != "schema")


def _open(path: Path) -> IO[bytes]:
    f = open(path, "rb")  # closed by the caller (directly or via the wrapper)
    head = f.read(4)
    f.seek(0)
    if head.startswith(_GZIP):
        return gzip.GzipFile(fileobj=f, mode="rb")  # type: ignore[return-value]  # a binary stream
    if head.startswith(_ZSTD):
        return zstandard.ZstdDecompressor().stream_reader(f, closefd=True)
    return f


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    try:
        with _open(path) as raw:
            buf = b""
            lineno = 0
            while True:
                chunk = raw.read(1 << 16)
                if not chunk:
                    break
                buf += chunk
                *done, buf = buf.split(b"\n")
                for line in done:
                    lineno += 1
                    yield lineno, line
            if buf:
                yield lineno + 1, buf
    except (OSError, EOFError, zstandard.ZstdError) as e:
        raise InputError(f"{path}: cannot read: {e}") from None


def is_legacy_ndjson(path: str | Path) -> bool:
    """True when ``path`` is a file whose first non-blank line is a kcoro_mon record."""
    p = Path(path)
    if not p.is_file():
        return False
    try:
        for _, line in _lines(p):
            if not line.strip():
                continue
            obj = _decoder.decode(line)
            return (
                isinstance(obj, dict)
                and obj.get("schema") in (1, 2)
                and obj.get("mode") in ("channel", "tasks")
                and obj.get("type") in (None, "summary")
            )
    except (InputError, msgspec.DecodeError):
        return False
    return False


def iter_legacy_batches(path: str | Path) -> Iterator[list[Any]]:
    """One ``[Sample]`` or ``[Summary]`` batch per line of an old recording."""
    for event in legacy_events(path):
        yield [event]


def legacy_events(path: str | Path) -> Iterator[Sample | Summary]:
    """The Samples and Summaries of an old recording, in file order."""
    p = Path(path)
    state = _RunState(p.name)
    for lineno, line in _lines(p):
        if not line.strip():
            continue
        where = f"{p}:{lineno}"
        try:
            obj = _decoder.decode(line)
        except msgspec.DecodeError as e:
            raise InputError(f"{where}: invalid JSON: {e}") from None
        if not isinstance(obj, dict):
            raise InputError(f"{where}: expected a JSON object, got {type(obj).__name__}")
        yield _convert(obj, where, state)


class _RunState:
    __slots__ = ("first_ts", "last_ts", "mode", "name", "run", "samples")

    def __init__(self, name: str) -> None:
        self.name = name
        self.run = 1
        self.mode: str | None = None
        self.first_ts: float | None = None
        self.last_ts: float | None = None
        self.samples = 0

    @property
    def run_id(self) -> str:
        return f"legacy:{self.name}:{self.run}"

    def next_run(self) -> None:
        self.run += 1
        self.mode = None
        self.first_ts = self.last_ts = None
        self.samples = 0


def _us(ts: float) -> int:
    """Wall seconds (kcoro_mon wrote µs precision) → integer µs, free of float noise."""
    return round(ts * 1e6)


def _num(obj: dict[str, Any], key: str, where: str, *, required: bool = False) -> float | None:
    if key not in obj or obj[key] is None:
        if required:
            raise InputError(f"{where}: missing field {key!r}")
        return None
    v = obj[key]
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise InputError(f"{where}: field {key!r} must be a number, got {v!r}")
    return float(v)


def _convert(obj: dict[str, Any], where: str, st: _RunState) -> Sample | Summary:
    schema = obj.get("schema")
    if schema not in (1, 2) or isinstance(schema, bool):
        raise InputError(f"{where}: unknown schema {schema!r} (kcoro_mon wrote 1 or 2)")
    mode = obj.get("mode")
    if mode not in ("channel", "tasks"):
        raise InputError(f"{where}: unknown mode {mode!r} (expected channel or tasks)")
    kind = obj.get("type")
    if kind == "summary":
        return _summary(obj, where, st, mode)
    if kind is not None:
        raise InputError(f"{where}: unknown record type {kind!r}")
    ts = _num(obj, "ts", where, required=True)
    assert ts is not None
    if st.mode is not None and st.mode != mode:
        st.next_run()  # the user toggled the mode: a new run (statistics were reset)
    st.mode = mode
    window_ns = _DEFAULT_WINDOW_NS
    if st.last_ts is not None and ts > st.last_ts:
        window_ns = (_us(ts) - _us(st.last_ts)) * 1000
    if st.first_ts is None:
        st.first_ts = ts
    st.last_ts = ts
    st.samples += 1
    legacy = LegacyFields(schema=schema, **{k: obj.get(k) for k in _LEGACY_KEPT})
    common: dict[str, Any] = {
        "ts": ts,
        "ts_ns": _us(ts) * 1000,
        "run_id": st.run_id,
        "mode": mode,
        "window_ns": window_ns,
    }
    if mode == "channel":
        pps = _num(obj, "pps", where, required=True)
        gbps = _num(obj, "gbps", where)
        depth = _num(obj, "depth", where)
        mem_kb = _num(obj, "mem_kb", where)
        state = None
        if all(k in obj for k in ChannelState.__struct_fields__):  # schema 2
            state = ChannelState(**{k: obj[k] for k in ChannelState.__struct_fields__})
        return Sample(
            **common,
            msgs_per_s=pps,
            gbps=gbps,
            bytes_per_s=gbps * 1e9 / 8 if gbps is not None else None,
            channel_depth=depth,
            smooth=Metrics(msgs_per_s=_num(obj, "smooth_pps", where), gbps=_num(obj, "smooth_gbps", where)),
            channel_totals=_counts(obj, "_total"),
            channel_deltas=_counts(obj, "_delta"),
            channel_state=state,
            resources=Resources(rss_bytes=int(mem_kb) * 1024) if mem_kb is not None else None,
            legacy=legacy,
        )
    tasks = _num(obj, "tasks_sec", where, required=True)
    gbps = _num(obj, "gbps", where)
    return Sample(
        **common,
        tasks_per_s=tasks,
        fastpath_ratio=_num(obj, "fastpath_ratio", where),
        steal_ratio=_num(obj, "steal_ratio", where),
        gbps=gbps,
        bytes_per_s=gbps * 1e9 / 8 if gbps is not None else None,
        smooth=Metrics(tasks_per_s=_num(obj, "smooth_tasks_sec", where)),
        legacy=legacy,
    )


def _counts(obj: dict[str, Any], suffix: str) -> ChannelCounts | None:
    """The old ``<name><suffix>`` counters of a line as ChannelCounts (None when it has none)."""
    found = {new: obj[old + suffix] for new, old in _OLD_COUNTERS if obj.get(old + suffix) is not None}
    return ChannelCounts(**found) if found else None


def _summary(obj: dict[str, Any], where: str, st: _RunState, mode: str) -> Summary:
    def n(key: str) -> float | None:
        return _num(obj, key, where)

    if mode == "channel":
        peak = Metrics(msgs_per_s=n("peak_pps"), gbps=n("peak_gbps"))
        avg = Metrics(msgs_per_s=n("avg_pps"), gbps=n("avg_gbps"))
        ema = Metrics(msgs_per_s=n("ema_pps"), gbps=n("ema_gbps"))

        def whole(key: str) -> int | None:
            v = n(key)
            if v is not None and v != int(v):
                raise InputError(f"{where}: field {key!r} must be an integer, got {obj[key]!r}")
            return None if v is None else int(v)

        totals = {new: v for new, old in _OLD_COUNTERS if (v := whole(old + "_total")) is not None}
        channel_totals = ChannelCounts(**totals) if totals else None
        mismatch_msgs = whole("mismatch_msgs")
    else:
        peak = Metrics(tasks_per_s=n("peak_tasks_sec"))
        avg = Metrics(
            tasks_per_s=n("avg_tasks_sec"), fastpath_ratio=n("fastpath_ratio"), steal_ratio=n("steal_ratio")
        )
        ema = Metrics(tasks_per_s=n("ema_tasks_sec"))
        channel_totals = None
        mismatch_msgs = None
    ts = st.last_ts if st.last_ts is not None else 0.0
    first = st.first_ts if st.first_ts is not None else ts
    out = Summary(
        ts=ts,
        ts_ns=_us(ts) * 1000,
        run_id=st.run_id,
        mode=mode,
        samples=st.samples,
        duration_s=round(ts - first, 6),
        peak=peak,
        avg=avg,
        ema=ema,
        channel_totals=channel_totals,
        mismatch_msgs=mismatch_msgs,
    )
    st.next_run()
    return out
