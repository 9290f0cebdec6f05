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
``capacity``, ``closed``, ``ptr_mode`` → ``channel_state`` (kcoro_mon wrote
integers: ``kind`` the C enum value, 0 rendezvous and 1 buffered, an unknown
value read by its capacity, 0 → rendezvous; the flags 0/1; the names and
booleans of kcoro-stream's own ``-j`` are read too); ``mem_kb`` →
``resources.rss_bytes``; ``cpu`` (the process's CPU %) → ``resources.cpu_pct`` and
``resources.process_cpu_pct`` (kept in ``legacy`` too); the fields with no new home (``producers``,
``duration_ms``, ...), the raw ``kind``/``closed``/``ptr_mode``/``zref_mode``
(so ``-j`` writes them back unchanged) and the line's schema → ``legacy``. Fields kcoro_mon
never wrote are not kept. ``ts`` (wall seconds) is kept; ``ts_ns`` is ts in ns (µs precision).
``window_ns`` is the time since the run's previous sample (0.25 s for the
first). ``run_id`` is ``legacy:<file name>:<run number>``.

A line that is not valid JSON, not an object, of an unknown schema or mode,
or with a required field missing or of the wrong type raises ``InputError``
``"file:line: reason"``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

import msgspec

from kcoro_stream._input import GZIP_MAGIC, ZSTD_MAGIC, open_input
from kcoro_stream.errors import InputError, LogError
from kcoro_stream.events import (
    CHANNEL_BUFFERED,
    CHANNEL_RENDEZVOUS,
    ChannelCounts,
    ChannelState,
    LegacyFields,
    Metrics,
    Resources,
    Sample,
    Summary,
    counter_fields,
)

from ._base import Frames, SourceContext, SourceOutcome
from ._registry import register
from .replay import PlaybackSource

__all__ = ["LegacyConfig", "LegacySource", "is_legacy_ndjson", "iter_legacy_batches", "legacy_events"]

_DEFAULT_WINDOW_NS = 250_000_000
_decoder = msgspec.json.Decoder()
MAX_LINE_BYTES = 1 << 20  # kcoro_mon lines are < 2 KB; anything this long is not one
_READ_CHUNK = 1 << 16
# Numbers beyond u64 are no kcoro_mon counter or rate (and 1e303 * 1e9 is inf).
_MAX_ABS = float(1 << 64)
# ts is wall seconds; ts_ns must fit an i64 (up to the year 2262).
_MAX_TS = (1 << 63) / 1e9 - 1

# kcoro_mon's channel counters: (new field, old name), from the schema's metadata
_OLD_COUNTERS = tuple((cf.name, cf.legacy) for cf in counter_fields(ChannelCounts) if cf.legacy is not None)
_LEGACY_KEPT = tuple(f for f in LegacyFields.__struct_fields__ if f != "schema")


class _TooLong(InputError):
    """A line over the limit (already names file:line)."""


def _lines(path: Path, max_line: int = MAX_LINE_BYTES) -> Iterator[tuple[int, bytes]]:
    """(line number, line without its newline), streaming: linear in the input.

    Each byte is searched for a newline once and memory stays under
    ``max_line`` plus one read chunk: a line longer than ``max_line`` is an
    InputError naming the file and line, raised as soon as the limit is
    passed (a 300 MB line inside a 10 KB .zst is never inflated in full).
    Unreadable, corrupt or truncated compressed input is one InputError too
    (the one reader of compressed input, ``_input.open_input``, finds it).
    """
    lineno = 0
    try:
        with open_input(path) as raw:
            buf = bytearray()
            scanned = 0  # buf[:scanned] holds no newline
            while True:
                chunk = raw.read(_READ_CHUNK)
                if not chunk:
                    break
                buf += chunk
                start = 0
                while (nl := buf.find(b"\n", scanned)) >= 0:
                    lineno += 1
                    if nl - start > max_line:
                        raise _TooLong(f"{path}:{lineno}: line longer than {max_line} bytes")
                    yield lineno, bytes(buf[start:nl])
                    start = scanned = nl + 1
                del buf[:start]
                scanned = len(buf)
                if scanned > max_line:
                    raise _TooLong(f"{path}:{lineno + 1}: line longer than {max_line} bytes")
            if buf:
                yield lineno + 1, bytes(buf)
    except _TooLong:
        raise
    except (OSError, InputError) as e:  # cannot open, corrupt or truncated compression
        why = str(e).removeprefix(f"{path}: ")
        raise InputError(f"{path}: cannot read near line {lineno + 1}: {why}") from None


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
    except (msgspec.DecodeError, ValueError, RecursionError):
        return False
    except InputError:
        if _compressed(p):
            raise  # a gzip/zstd file that breaks: say so, not "not a recording"
        return False
    return False


def _compressed(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return False
    return head.startswith((GZIP_MAGIC, ZSTD_MAGIC))


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
        except RecursionError:
            raise InputError(f"{where}: invalid JSON: nested too deeply") from None
        except ValueError as e:  # UnicodeDecodeError: msgspec checks UTF-8 in strings
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
    if abs(v) > _MAX_ABS:
        raise InputError(f"{where}: field {key!r} is out of range ({v!r})")
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
    if not 0 <= ts <= _MAX_TS:
        raise InputError(f"{where}: field 'ts' is not a plausible time in seconds ({obj['ts']!r})")
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
    if obj.get("zref_mode") is not None:
        _flag(obj, "zref_mode", where)
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
        if all(k in obj for k in ("kind", "capacity", "closed", "ptr_mode")):  # schema 2
            state = _channel_state(obj, where)
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
            resources=_resources(mem_kb, _num(obj, "cpu", where)),
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
        resources=_resources(_num(obj, "mem_kb", where), _num(obj, "cpu", where)),
        legacy=legacy,
    )


def _resources(mem_kb: float | None, cpu: float | None) -> Resources | None:
    """``mem_kb`` → ``rss_bytes``; ``cpu`` (the process's CPU %, 100 = one core; kcoro_mon ran one
    pool) → ``cpu_pct`` and ``process_cpu_pct``. None when the line had neither (kcoro_mon's tasks lines)."""
    if mem_kb is None and cpu is None:
        return None
    return Resources(
        rss_bytes=int(mem_kb) * 1024 if mem_kb is not None else None, cpu_pct=cpu, process_cpu_pct=cpu
    )


# kcoro_mon's channel kinds by their C enum value; kcoro-stream's own -j once wrote the names.
_KINDS: dict[int | str, Literal["buffered", "rendezvous"]] = {
    CHANNEL_RENDEZVOUS: "rendezvous",
    CHANNEL_BUFFERED: "buffered",
    "rendezvous": "rendezvous",
    "buffered": "buffered",
}


def _flag(obj: dict[str, Any], key: str, where: str) -> bool:
    """A 0/1 flag as kcoro_mon wrote it (or true/false as kcoro-stream's -j did)."""
    v = obj[key]
    if v in (0, 1) and type(v) in (int, bool):
        return bool(v)
    raise InputError(f"{where}: field {key!r} must be 0 or 1, got {v!r}")


def _channel_state(obj: dict[str, Any], where: str) -> ChannelState:
    """kind, capacity, closed, ptr_mode → ChannelState (the raw values stay in ``legacy`` for -j).

    ``kind`` is the C enum value (0 rendezvous, 1 buffered); a value this
    reader does not know is a rendezvous channel when its capacity is 0, else
    a buffered one.
    """
    capacity = obj["capacity"]
    if type(capacity) is not int or not 0 <= capacity <= _MAX_ABS:
        raise InputError(f"{where}: field 'capacity' must be a non-negative integer, got {capacity!r}")
    raw = obj["kind"]
    if type(raw) is int and raw >= 0:
        kind: Literal["buffered", "rendezvous"] = _KINDS.get(raw) or (
            "rendezvous" if capacity == 0 else "buffered"
        )
    elif type(raw) is str and raw in _KINDS:
        kind = _KINDS[raw]
    else:
        raise InputError(f"{where}: field 'kind' must be a channel kind (a C enum value), got {raw!r}")
    producers, consumers = obj.get("producers"), obj.get("consumers")
    return ChannelState(
        kind=kind,
        capacity=capacity,
        closed=_flag(obj, "closed", where),
        ptr_mode=_flag(obj, "ptr_mode", where),
        producers=producers if type(producers) is int else None,
        consumers=consumers if type(consumers) is int else None,
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


# ------------------------------------------------------------------ the source


class LegacyConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """An old kcoro_mon NDJSON recording (plain, .gz or .zst)."""

    path: str


@register
class LegacySource(PlaybackSource):
    """An old kcoro_mon NDJSON recording, converted line by line at the edge."""

    name: ClassVar[str] = "legacy"
    Config: ClassVar[type[msgspec.Struct]] = LegacyConfig
    summary: ClassVar[str] = "an old kcoro_mon NDJSON recording (replay FILE)"

    def __init__(self, config: msgspec.Struct, ctx: SourceContext) -> None:
        assert isinstance(config, LegacyConfig)
        super().__init__(config, ctx)
        self.path = Path(config.path)

    def describe(self) -> str:
        return str(self.path)

    async def run(self, frames: Frames) -> SourceOutcome:
        if not is_legacy_ndjson(self.path):
            raise LogError(f"{self.path}: not a run directory nor an old kcoro_mon NDJSON recording")

        def deliver(batch: list[Any]) -> int:
            frames.push(batch)
            return 0

        return await self.play(frames, iter_legacy_batches(self.path), deliver)
