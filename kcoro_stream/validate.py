"""``kcoro-stream validate``: check an NDJSON file against the derived-event schema.

::

    file (plain / .gz / .zst, codec by magic) ─► line by line, streaming (bounded line length)
        ─► JSON object? ─► "type" + "schema" ─┬─ schema 5, known type ─► events.derived_decoder
                                               ├─ schema 4, known type ─► the same, heatmap/os keys renamed
                                               ├─ schema 3, known type ─► the same, plus 3's own fields
                                               ├─ no type, schema 1|2 ─► old kcoro_mon sample
                                               └─ type summary, 1|2 ─► old kcoro_mon summary
        ─► ValidationReport: counts per type, legacy count, problems (line number + reason)

    line 1 ``{"type":"meta", ...}`` (a pipeline that declares metrics or events) ─► Declared: its
        event types join the known ones, and a Sample's ``declared`` keys must be its metrics

Schema 4 lines stay valid: their ``heatmap``/``os`` lines name the
per-worker arrays ``workers``/``utilisation``/``fastpath_ratio``, which schema
5 renamed (``events.RENAMED_IN_5``) so that one key has one type across line
types; they are read with the keys renamed. Schema 3 lines (kcoro-stream
before typed derived events) stay valid too: they
are checked against the current Structs, whose schema-4 fields all have
defaults, and their own fields that schema 4 replaced (``Sample.extra``,
``Summary.totals``) are checked by ``_Schema3Only``.

Every malformed line is a problem, never an exception: bad JSON, not an
object, blank line, over-long line, missing/unknown ``type``, missing or wrong
``schema``, a field that does not validate (msgspec's message names the path,
e.g. ``Expected `int`, got `str` - at `$.ts_ns```). A corrupt or truncated
compressed stream is reported at the line where it broke and ends the check.
Only a file that cannot be opened at all raises ``InputError``.
"""

from __future__ import annotations

import os
from typing import Any, Final, Literal

import msgspec

from ._input import open_input, open_regular_fd
from .errors import InputError
from .events import (
    DECLARED_FIELD_TYPES,
    DERIVED_SCHEMA,
    DERIVED_TYPES,
    RENAMED_IN_5,
    Meta,
    declared_event_type,
    derived_decoder,
)

MAX_LINE_BYTES: Final = 1 << 20
OLDER_DERIVED_SCHEMAS: Final = (3, 4)  # still accepted (see the module docstring)
DEFAULT_MAX_PROBLEMS: Final = 1000
LEGACY_SCHEMAS: Final = (1, 2)
DERIVED_TAGS: Final[tuple[str, ...]] = tuple(
    t.__struct_config__.tag  # type: ignore[misc]
    for t in DERIVED_TYPES
)


class _Schema3Only(msgspec.Struct, kw_only=True):
    """The schema-3 fields that schema 4 replaced with typed ones."""

    extra: dict[str, Any] | None = None  # Sample: counters, gauges and facts by name
    totals: dict[str, int] | None = None  # Summary: the last *_total counters


_schema3_decoder: Final = msgspec.json.Decoder(_Schema3Only)


def upgrade_keys(obj: dict[str, Any], typ: str) -> dict[str, Any]:
    """A schema 3/4 ``heatmap``/``os`` line's object with its keys as schema 5 names them."""
    renamed = RENAMED_IN_5[typ]
    return {renamed.get(k, k): v for k, v in obj.items()}


# ---------------------------------------------- old kcoro_mon lines (OLD_MONITOR.md)

_Num = float | None  # msgspec accepts JSON integers for float
_Attr = str | int | float | bool | None  # channel attributes: kept loose on purpose


class _LegacySample(msgspec.Struct, tag_field="mode", kw_only=True):
    schema: Literal[1, 2]
    ts: float


class LegacyChannelSample(_LegacySample, tag="channel", kw_only=True):
    """A channel-mode sample line; schema 1 lacks attributes, zero-copy, rendezvous."""

    pps: _Num  # required key; null allowed (a window without a rate)
    gbps: _Num = None
    smooth_pps: _Num = None
    smooth_gbps: _Num = None
    duration_ms: _Num = None
    cpu: _Num = None
    mem_kb: _Num = None
    producers: _Num = None
    consumers: _Num = None
    kind: _Attr = None
    capacity: _Num = None
    depth: _Num = None
    capabilities: _Attr = None
    closed: _Attr = None
    ptr_mode: _Attr = None
    zref_mode: _Attr = None
    fail_send_eagain_total: _Num = None
    fail_recv_eagain_total: _Num = None
    fail_send_epipe_total: _Num = None
    fail_recv_epipe_total: _Num = None
    fail_send_eagain_delta: _Num = None
    fail_recv_eagain_delta: _Num = None
    fail_send_epipe_delta: _Num = None
    fail_recv_epipe_delta: _Num = None
    bytes_sent_total: _Num = None
    bytes_recv_total: _Num = None
    bytes_sent_delta: _Num = None
    bytes_recv_delta: _Num = None
    zref_sent_total: _Num = None
    zref_received_total: _Num = None
    zref_aborted_total: _Num = None
    zref_sent_delta: _Num = None
    zref_received_delta: _Num = None
    zref_aborted_delta: _Num = None
    rv_matches_total: _Num = None
    rv_cancels_total: _Num = None
    rv_zdesc_total: _Num = None
    rv_matches_delta: _Num = None
    rv_cancels_delta: _Num = None
    rv_zdesc_delta: _Num = None


class LegacyTasksSample(_LegacySample, tag="tasks", kw_only=True):
    """A tasks-mode sample line (ratios 0..1; bandwidth fields absent or null)."""

    tasks_sec: _Num  # required key; null allowed
    smooth_tasks_sec: _Num = None
    fastpath_ratio: _Num = None
    steal_ratio: _Num = None
    gbps: _Num = None
    pps: _Num = None


class _LegacySummary(msgspec.Struct, tag_field="mode", kw_only=True):
    schema: Literal[1, 2]
    type: Literal["summary"]


class LegacyChannelSummary(_LegacySummary, tag="channel", kw_only=True):
    peak_pps: _Num
    avg_pps: _Num
    peak_gbps: _Num = None
    avg_gbps: _Num = None
    ema_pps: _Num = None
    ema_gbps: _Num = None
    mismatch_msgs: _Num = None
    fail_send_eagain_total: _Num = None
    fail_recv_eagain_total: _Num = None
    fail_send_epipe_total: _Num = None
    fail_recv_epipe_total: _Num = None
    bytes_sent_total: _Num = None
    bytes_recv_total: _Num = None


class LegacyTasksSummary(_LegacySummary, tag="tasks", kw_only=True):
    peak_tasks_sec: _Num
    avg_tasks_sec: _Num
    ema_tasks_sec: _Num = None
    fastpath_ratio: _Num = None
    steal_ratio: _Num = None


_legacy_sample_decoder: Final = msgspec.json.Decoder(LegacyChannelSample | LegacyTasksSample)
_legacy_summary_decoder: Final = msgspec.json.Decoder(LegacyChannelSummary | LegacyTasksSummary)
_any_decoder: Final = msgspec.json.Decoder()


# --------------------------------------------------------------------- report


class ValidationProblem(msgspec.Struct, frozen=True):
    """One malformed line: 1-based line number and why."""

    line: int
    reason: str


class ValidationReport(msgspec.Struct, frozen=True):
    """What ``validate_file`` found. ``problems`` keeps the first ``max_problems``."""

    path: str
    lines: int  # lines read (including bad ones)
    events: int  # valid derived events
    legacy: int  # valid old kcoro_mon lines
    types: dict[str, int]  # valid derived events per type
    problems: list[ValidationProblem]
    problem_count: int  # all problems, also those not kept
    stopped_early: bool = False  # the (compressed) stream broke; later lines unread

    @property
    def ok(self) -> bool:
        return self.problem_count == 0


def _describe(obj: object) -> str:
    if isinstance(obj, list):
        return "an array"
    if isinstance(obj, str):
        return "a string"
    if obj is None:
        return "null"
    if isinstance(obj, bool):
        return "a boolean"
    return "a number"


_meta_decoder: Final = msgspec.json.Decoder(Meta)


class Declared:
    """What a file's ``meta`` line declares: the extra line types and the Sample ``declared`` keys."""

    def __init__(self, meta: Meta) -> None:
        self.metrics = frozenset(m.name for m in meta.metrics)
        self.decoders: dict[str, msgspec.json.Decoder[Any]] = {}
        for e in meta.events:
            if e.name in DERIVED_TAGS or e.name == "meta":
                raise ValueError(f"declared event {e.name!r} clashes with a built-in line type")
            bad = [f"{k}: {v}" for k, v in e.fields.items() if v not in DECLARED_FIELD_TYPES]
            if bad:
                raise ValueError(f"declared event {e.name!r}: unknown field type ({bad[0]})")
            self.decoders[e.name] = msgspec.json.Decoder(declared_event_type(e))


def read_meta(line: bytes) -> tuple[Declared | None, str | None]:
    """A ``meta`` line → (its declarations, None), or (None, why it is not a good one)."""
    try:
        return Declared(_meta_decoder.decode(line)), None
    except ValueError as e:  # msgspec.ValidationError, or a declaration this version cannot read
        return None, f"invalid meta: {e}"


def check_line(line: bytes, declared: Declared | None = None) -> tuple[str | None, str | None]:
    """Classify one line: ``(kind, None)`` when valid, ``(None, reason)`` when not.

    ``kind`` is the derived event type, or ``"legacy"`` for a kcoro_mon line;
    ``declared``: what the file's ``meta`` line declared (None: nothing).
    """
    if not line.strip():
        return None, "blank line"
    try:
        obj = _any_decoder.decode(line)
    except UnicodeDecodeError as e:
        return None, f"invalid JSON: bad UTF-8 in a string ({e.reason})"
    except (ValueError, RecursionError) as e:  # msgspec.DecodeError is a ValueError
        return None, f"invalid JSON: {e}"
    if not isinstance(obj, dict):
        return None, f"not a JSON object (got {_describe(obj)})"
    typ = obj.get("type")
    if "schema" not in obj:
        if typ is None:
            return None, "missing fields `type` and `schema`: neither a derived event nor a kcoro_mon line"
        return None, "missing field `schema`"
    schema = obj["schema"]
    if not isinstance(schema, int) or isinstance(schema, bool):
        return None, f"`schema` must be an integer, got {_describe(schema)}"
    if typ is None:
        if schema in LEGACY_SCHEMAS:
            try:
                _legacy_sample_decoder.decode(line)
            except ValueError as e:  # msgspec.ValidationError
                return None, f"kcoro_mon schema {schema} sample: {e}"
            return "legacy", None
        if schema == DERIVED_SCHEMA or schema in OLDER_DERIVED_SCHEMAS:
            return None, "missing field `type`"
        return None, f"unknown schema {schema} (derived events are {DERIVED_SCHEMA}; kcoro_mon lines 1 or 2)"
    if not isinstance(typ, str):
        return None, f"`type` must be a string, got {_describe(typ)}"
    if schema in LEGACY_SCHEMAS:
        if typ != "summary":
            return None, f"type {typ!r} with kcoro_mon schema {schema} (only its summary lines have a type)"
        try:
            _legacy_summary_decoder.decode(line)
        except ValueError as e:  # msgspec.ValidationError
            return None, f"kcoro_mon schema {schema} summary: {e}"
        return "legacy", None
    if typ == "meta":
        return None, "a meta line only begins a file (the pipeline's declarations)"
    if declared is not None and typ in declared.decoders:
        if schema != DERIVED_SCHEMA:
            return None, f"wrong schema {schema} for declared type {typ!r}, expected {DERIVED_SCHEMA}"
        try:
            declared.decoders[typ].decode(line)
        except ValueError as e:  # msgspec.ValidationError
            return None, f"invalid {typ} (declared by the meta line): {e}"
        return typ, None
    if typ not in DERIVED_TAGS:
        return (
            None,
            f"unknown type {typ!r} (known: {', '.join(DERIVED_TAGS)}; a pipeline's own types need its meta line)",
        )
    if schema != DERIVED_SCHEMA and schema not in OLDER_DERIVED_SCHEMAS:
        newer = " (newer than this kcoro-stream)" if schema > DERIVED_SCHEMA else ""
        return None, f"wrong schema {schema} for type {typ!r}, expected {DERIVED_SCHEMA}{newer}"
    try:
        if schema < 5 and typ in RENAMED_IN_5:  # the per-worker arrays under their schema-4 keys
            derived_decoder.decode(msgspec.json.encode(upgrade_keys(obj, typ)))
        else:
            derived_decoder.decode(line)
        if schema == 3:
            old = _schema3_decoder.decode(line)
            if typ == "summary" and old.totals is None:
                return None, "invalid summary: Object missing required field `totals`"
    except ValueError as e:  # msgspec.ValidationError
        return None, f"invalid {typ}: {e}"
    keys = obj.get("declared") if typ == "sample" else None
    if keys:
        unknown = sorted(set(keys) - (declared.metrics if declared is not None else frozenset()))
        if unknown:
            return None, f"invalid sample: declared metric {unknown[0]!r} is not in the file's meta line"
    return typ, None


def validate_file(
    path: str | os.PathLike[str],
    *,
    max_problems: int = DEFAULT_MAX_PROBLEMS,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> ValidationReport:
    """Check every line of an NDJSON file (plain, gzip or zstd), streaming.

    Raises InputError only when the file cannot be opened; everything wrong
    inside it is a ``ValidationProblem`` in the report.
    """
    p = os.fspath(path)
    if p != "-":
        os.close(open_regular_fd(p))  # InputError now for what cannot be opened at all

    problems: list[ValidationProblem] = []
    problem_count = 0
    types: dict[str, int] = {}
    legacy = 0
    lineno = 0
    stopped = False
    declared: Declared | None = None

    def problem(line: int, reason: str) -> None:
        nonlocal problem_count
        problem_count += 1
        if len(problems) < max_problems:
            problems.append(ValidationProblem(line, reason))

    try:
        f = open_input(p)
    except InputError as e:
        problem(1, str(e).removeprefix(f"{p}: "))
        return ValidationReport(p, 0, 0, 0, {}, problems, problem_count, stopped_early=True)

    with f:
        while True:
            try:
                line = f.readline(max_line_bytes + 1)
            except InputError as e:
                problem(lineno + 1, str(e).removeprefix(f"{p}: "))
                stopped = True
                break
            if not line:
                break
            lineno += 1
            if len(line) > max_line_bytes and not line.endswith(b"\n"):
                problem(lineno, f"line longer than {max_line_bytes} bytes")
                try:
                    while line and not line.endswith(b"\n"):  # skip the rest of it
                        line = f.readline(max_line_bytes)
                except InputError as e:
                    problem(lineno, str(e).removeprefix(f"{p}: "))
                    stopped = True
                    break
                continue
            kind: str | None
            if lineno == 1 and line.startswith(b'{"type":"meta"'):
                declared, reason = read_meta(line)
                kind = "meta"
            else:
                kind, reason = check_line(line, declared)
            if reason is not None:
                problem(lineno, reason)
            elif kind == "legacy":
                legacy += 1
            else:
                assert kind is not None
                types[kind] = types.get(kind, 0) + 1

    return ValidationReport(
        path=p,
        lines=lineno,
        events=sum(types.values()),
        legacy=legacy,
        types=types,
        problems=problems,
        problem_count=problem_count,
        stopped_early=stopped,
    )


def format_report(report: ValidationReport) -> str:
    """``PATH:LINE: reason`` per problem, then a one-line tally (no trailing newline)."""
    out = [f"{report.path}:{pr.line}: {pr.reason}" for pr in report.problems]
    if report.problem_count > len(report.problems):
        out.append(
            f"{report.path}: ... {report.problem_count - len(report.problems)} more problems not shown"
        )
    parts = [f"{report.lines} line{'s' if report.lines != 1 else ''}"]
    detail = ", ".join(f"{k} {v}" for k, v in sorted(report.types.items()))
    parts.append(f"{report.events} events" + (f" ({detail})" if detail else ""))
    if report.legacy:
        parts.append(f"{report.legacy} kcoro_mon lines")
    if report.ok:
        verdict = "ok"
    else:
        verdict = f"{report.problem_count} problem{'s' if report.problem_count != 1 else ''}"
        if report.stopped_early:
            verdict += ", stopped at a broken stream"
    out.append(f"{report.path}: {verdict}: " + ", ".join(parts))
    return "\n".join(out)


__all__ = [
    "Declared",
    "LegacyChannelSample",
    "LegacyChannelSummary",
    "LegacyTasksSample",
    "LegacyTasksSummary",
    "ValidationProblem",
    "ValidationReport",
    "check_line",
    "format_report",
    "read_meta",
    "upgrade_keys",
    "validate_file",
]
