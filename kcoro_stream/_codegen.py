"""Generate the C side of the schema (contract 6) from events.py and histo.py.

    python -m kcoro_stream._codegen            write the generated headers
    python -m kcoro_stream._codegen --check    exit 1, naming each stale file

What goes in and what comes out::

    events.py  raw events (tags 1..31) ──► native/include/kcs_events.h
               every tag                     tag enum, field counts, one struct
                                              and one kcs_emit_* per raw event
    histo.py   SCHEME, SUB_BITS, BUCKETS ─► native/include/kcs_hist.h
                                              kcs_hist_bucket / kcs_hist_lower

The generated files are committed (header-only users need no Python) and
tests/test_codegen.py fails when they differ from a fresh generation.

Field types are read with ``msgspec.inspect``; a field's C type follows from
its Python type:

    int                        uint64_t            kcs_mp_uint
    Annotated[int, Meta(extra={"c_type": T})]
                               T (u)int8..64_t     kcs_mp_uint / kcs_mp_int
    bool                       bool                kcs_mp_bool
    float                      double              kcs_mp_double
    str                        const char *        kcs_mp_str (NULL writes "")
    list[int]                  const uint64_t *x + uint32_t x_len
    dict[str, ...]             const uint8_t *x + size_t x_len: one msgpack map,
                               pre-encoded by the caller and copied verbatim
                               (NULL writes an empty map)

Anything else is an error here, so a schema change that C cannot express
fails generation instead of producing a wrong header.
"""

from __future__ import annotations

import argparse
import inspect
import io
import re
import sys
import tokenize
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import msgspec.inspect as mi

from . import events, histo

ROOT = Path(__file__).resolve().parent.parent
EVENTS_H = Path("native/include/kcs_events.h")
HIST_H = Path("native/include/kcs_hist.h")
RAW_TAGS = range(1, 32)  # producer events; 32..63 are the ingester's

__all__ = [
    "EVENTS_H",
    "HIST_H",
    "CField",
    "CodegenError",
    "c_fields",
    "check",
    "generate",
    "main",
    "raw_event_types",
    "render_events_h",
    "render_hist_h",
]

_INT_TYPES = {f"{s}int{n}_t": s == "u" for s in ("u", "") for n in (8, 16, 32, 64)}


class CodegenError(Exception):
    """A schema field has no C representation (raised by ``c_fields``)."""


@dataclass(frozen=True)
class CField:
    """One event field as the C side sees it."""

    name: str
    kind: str  # "uint" | "int" | "bool" | "double" | "str" | "uint_list" | "msgpack_map"
    c_type: str  # the C type of the struct member (for lists and maps: the pointer)
    comment: str  # the trailing ``# ...`` of the field in events.py, if any


def raw_event_types(types: Iterable[type[msgspec.Struct]] = events.RAW_TYPES) -> list[type[msgspec.Struct]]:
    """The producer-written events (tags 1..31), in tag order."""
    raw = [t for t in types if _tag(t) in RAW_TAGS]
    return sorted(raw, key=_tag)


def _tag(cls: type[msgspec.Struct]) -> int:
    tag = cls.__struct_config__.tag
    if not isinstance(tag, int):
        raise CodegenError(f"{cls.__name__}: expected an integer tag, got {tag!r}")
    return tag


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _field_comments(cls: type) -> dict[str, str]:
    """``name: type  # comment`` lines of the class body (the schema's own notes)."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    comments: dict[str, str] = {}
    names: dict[int, str] = {}
    for line_no, line in enumerate(source.splitlines(), 1):
        m = re.match(r"\s+(\w+):", line)
        if m:
            names[line_no] = m.group(1)
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT and tok.start[0] in names:
            comments[names[tok.start[0]]] = tok.string.lstrip("#").strip()
    return comments


def _c_field(owner: str, field: mi.Field, comment: str) -> CField:
    t: Any = field.type
    c_type = None
    if isinstance(t, mi.Metadata):
        extra = t.extra or {}
        c_type = extra.get("c_type")
        t = t.type
    where = f"{owner}.{field.name}"
    if c_type is not None and not (isinstance(t, mi.IntType) and c_type in _INT_TYPES):
        raise CodegenError(f"{where}: c_type {c_type!r} needs an int field and one of {sorted(_INT_TYPES)}")
    if isinstance(t, mi.BoolType):
        return CField(field.name, "bool", "bool", comment)
    if isinstance(t, mi.IntType):
        c_type = c_type or "uint64_t"
        return CField(field.name, "uint" if _INT_TYPES[c_type] else "int", c_type, comment)
    if isinstance(t, mi.FloatType):
        return CField(field.name, "double", "double", comment)
    if isinstance(t, mi.StrType):
        return CField(field.name, "str", "const char *", comment)
    if isinstance(t, mi.ListType) and isinstance(t.item_type, mi.IntType):
        return CField(field.name, "uint_list", "const uint64_t *", comment)
    if isinstance(t, mi.DictType) and isinstance(t.key_type, mi.StrType):
        return CField(field.name, "msgpack_map", "const uint8_t *", comment)
    raise CodegenError(f"{where}: no C representation for {t!r}; extend kcoro_stream/_codegen.py")


def c_fields(cls: type[msgspec.Struct]) -> list[CField]:
    """The fields after ``[tag, ts_ns, source]``, in declaration (wire) order."""
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    names = [f.name for f in info.fields]
    if names[:2] != ["ts_ns", "source"] or not info.array_like:
        raise CodegenError(f"{cls.__name__}: a raw event is an array [tag, ts_ns, source, ...]")
    comments = _field_comments(cls)
    return [_c_field(cls.__name__, f, comments.get(f.name, "")) for f in info.fields[2:]]


# ------------------------------------------------------------------ render

_BANNER = """\
/*
 * {name} — {what}
 *
 * GENERATED by `python -m kcoro_stream._codegen` from kcoro_stream/{source}
 * — do not edit. Change the schema there and run `make generate`;
 * tests/test_codegen.py fails when this file is stale.
 */
"""


def _c_comment(text: str) -> str:
    return text.replace("*/", "* /")


def _member_lines(f: CField) -> list[str]:
    note = f"  /* {_c_comment(f.comment)} */" if f.comment else ""
    if f.kind == "uint_list":
        return [f"    const uint64_t *{f.name};{note}", f"    uint32_t {f.name}_len;"]
    if f.kind == "msgpack_map":
        note = "  /* one pre-encoded msgpack map, copied verbatim; NULL: {} */"
        return [f"    const uint8_t *{f.name};{note}", f"    size_t {f.name}_len;"]
    sep = "" if f.c_type.endswith("*") else " "
    return [f"    {f.c_type}{sep}{f.name};{note}"]


def _write_lines(f: CField) -> list[str]:
    v = f"ev->{f.name}"
    if f.kind == "uint":
        return [f"    kcs_mp_uint(mp, {v});"]
    if f.kind == "int":
        return [f"    kcs_mp_int(mp, {v});"]
    if f.kind == "bool":
        return [f"    kcs_mp_bool(mp, {v});"]
    if f.kind == "double":
        return [f"    kcs_mp_double(mp, {v});"]
    if f.kind == "str":
        return [f"    kcs_mp_str(mp, {v});"]
    if f.kind == "uint_list":
        return [
            f"    kcs_mp_array(mp, {v}_len);",
            f"    for (uint32_t i = 0; i < {v}_len; i++) kcs_mp_uint(mp, {v}[i]);",
        ]
    assert f.kind == "msgpack_map"
    return [
        f"    if ({v} && {v}_len) kcs_mp_raw(mp, {v}, {v}_len);",
        "    else kcs_mp_map(mp, 0);",
    ]


def render_events_h(types: Sequence[type[msgspec.Struct]], raw_schema: int = events.RAW_SCHEMA) -> str:
    """kcs_events.h for ``types`` (every tagged event; helpers for tags 1..31)."""
    out = [
        _BANNER.format(
            name="kcs_events.h",
            what="typed emitters of the raw kcoro-stream events (contract 2).",
            source="events.py",
        ),
        """\
/*
 * One C struct and one kcs_emit_* helper per raw event. A helper appends the
 * event to a frame being built as the msgpack array
 * [tag, ts_ns, source, fields in declaration order]:
 *
 *     kcs_frame_begin(&mp, 2);
 *     kcs_emit_tick(&mp, now, 0, &(struct kcs_tick){.seq = n, .target_ns = iv, .actual_ns = dt});
 *     kcs_emit_gauge(&mp, now, 0, &(struct kcs_gauge){.name = "inject_depth", .value = 3});
 *     kcs_frame_commit(&ring, &mp);
 *
 * Members a caller leaves out are zero (NULL strings are written as "").
 * dict fields (RunStarted.config, .build) take one msgpack map the caller has
 * encoded, e.g. into a second struct kcs_mp with kcs_mp_map/kcs_mp_str/...
 */
#ifndef KCS_EVENTS_H
#define KCS_EVENTS_H

#include "kcoro_stream.h" /* first: it selects the POSIX feature level */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
""",
        f"#define KCS_RAW_SCHEMA {raw_schema}u /* events.RAW_SCHEMA */",
        "",
        "/* Event tags: raw events 1..31 (producers), ingester events 32..63. */",
        "enum kcs_tag {",
    ]
    ordered = sorted(types, key=_tag)
    out += [f"    KCS_EV_{_snake(t.__name__).upper()} = {_tag(t)}," for t in ordered]
    out += ["};", ""]
    raw = raw_event_types(ordered)
    out.append("/* Fields after [tag, ts_ns, source], per raw event. */")
    out.append("enum kcs_event_nfields {")
    fields = {t: c_fields(t) for t in raw}
    out += [f"    KCS_EV_{_snake(t.__name__).upper()}_NFIELDS = {len(fields[t])}," for t in raw]
    out += ["};", ""]
    consts = _schema_constants()
    if consts:
        out.append("/* Constants of the raw-event fields (events.py). */")
        out += [f"#define KCS_{name} {value}u" for name, value in consts]
        out.append("")
    for t in raw:
        snake = _snake(t.__name__)
        doc = _c_comment(" ".join((t.__doc__ or "").split()))
        out.append(f"/* {t.__name__} (tag {_tag(t)}): {doc} */")
        out.append(f"struct kcs_{snake} {{")
        for f in fields[t]:
            out += _member_lines(f)
        out.append("};")
        out.append(
            f"static inline void kcs_emit_{snake}(struct kcs_mp *mp, uint64_t ts_ns, uint32_t source,\n"
            f"{' ' * (len(snake) + 29)}const struct kcs_{snake} *ev) {{"
        )
        up = snake.upper()
        out.append(f"    kcs_mp_event(mp, KCS_EV_{up}_NFIELDS, KCS_EV_{up}, ts_ns, source);")
        for f in fields[t]:
            out += _write_lines(f)
        out += ["}", ""]
    out += ["#ifdef __cplusplus", "}", "#endif", "#endif /* KCS_EVENTS_H */", ""]
    return "\n".join(out)


def _schema_constants() -> list[tuple[str, int]]:
    """``CHANNEL_*``/``OS_COUNTER_*`` constants: ChannelCounters.kind/.flags, OsCounters.counters."""
    return [
        (name, value)
        for name, value in vars(events).items()
        if name.startswith(("CHANNEL_", "OS_COUNTER_"))
        and isinstance(value, int)
        and not isinstance(value, bool)
    ]


def render_hist_h(
    scheme: str = histo.SCHEME, sub_bits: int = histo.SUB_BITS, buckets: int = histo.BUCKETS
) -> str:
    """kcs_hist.h: the bucket scheme of kcoro_stream.histo, standalone."""
    need = (64 - sub_bits + 1) << sub_bits
    if buckets != need:
        raise CodegenError(f"histo.BUCKETS is {buckets}, but {need} buckets cover every uint64 value")
    return "\n".join(
        [
            _BANNER.format(
                name="kcs_hist.h",
                what="the latency histogram bucket scheme, standalone (no ring ABI).",
                source="histo.py",
            ),
            f"""\
/*
 * Scheme "{scheme}": KCS_HIST_SUB = 2^KCS_HIST_SUB_BITS linear sub-buckets per
 * power of two. Bucket b < KCS_HIST_SUB holds exactly the value b; bucket
 * b >= KCS_HIST_SUB covers [kcs_hist_lower(b), kcs_hist_lower(b) + 2^(b/SUB - 1)),
 * so a bucket is at most 1/KCS_HIST_SUB of its lower bound wide. Producers keep
 * cumulative counts[KCS_HIST_BUCKETS] and send them as Histogram.counts
 * (trailing zeros cut) with scheme = KCS_HIST_SCHEME.
 */
#ifndef KCS_HIST_H
#define KCS_HIST_H

#include <stdint.h>

#define KCS_HIST_SCHEME "{scheme}"
#define KCS_HIST_SUB_BITS {sub_bits}u
#define KCS_HIST_SUB (1u << KCS_HIST_SUB_BITS)
#define KCS_HIST_BUCKETS {buckets}u /* kcs_hist_bucket(UINT64_MAX) == KCS_HIST_BUCKETS - 1 */

_Static_assert(KCS_HIST_BUCKETS == (64u - KCS_HIST_SUB_BITS + 1u) * KCS_HIST_SUB,
               "the buckets cover every uint64 value");

/* The bucket of v (histo.bucket_of). */
static inline uint32_t kcs_hist_bucket(uint64_t v) {{
    if (v < KCS_HIST_SUB) return (uint32_t)v;
    uint32_t e = 63u - (uint32_t)__builtin_clzll(v); /* highest set bit */
    return (e - KCS_HIST_SUB_BITS + 1u) * KCS_HIST_SUB +
           (uint32_t)((v >> (e - KCS_HIST_SUB_BITS)) & (KCS_HIST_SUB - 1u));
}}

/* The lowest value of bucket b (histo.bucket_lower). */
static inline uint64_t kcs_hist_lower(uint32_t b) {{
    if (b < KCS_HIST_SUB) return b;
    return (uint64_t)(KCS_HIST_SUB + b % KCS_HIST_SUB) << (b / KCS_HIST_SUB - 1u);
}}

#endif /* KCS_HIST_H */
""",
        ]
    )


# ------------------------------------------------------------- write/check


def generate(
    types: Sequence[type[msgspec.Struct]] = events.RAW_TYPES,
    render_hist: Callable[[], str] = render_hist_h,
) -> dict[Path, str]:
    """Every generated file (path relative to the repository root → text)."""
    return {EVENTS_H: render_events_h(types), HIST_H: render_hist()}


def check(root: Path, files: dict[Path, str]) -> list[Path]:
    """The files under ``root`` that differ from ``files`` (missing counts as stale)."""
    stale = []
    for rel, text in files.items():
        path = root / rel
        if not path.is_file() or path.read_bytes() != text.encode():
            stale.append(rel)
    return stale


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m kcoro_stream._codegen", description=__doc__.split("\n")[0])
    p.add_argument("--check", action="store_true", help="exit 1 if a committed file is stale; write nothing")
    p.add_argument("--root", type=Path, default=ROOT, help="repository root (default: this checkout)")
    args = p.parse_args(argv)
    try:
        files = generate()
    except CodegenError as e:
        print(f"kcoro_stream._codegen: {e}", file=sys.stderr)
        return 2
    if args.check:
        stale = check(args.root, files)
        for rel in stale:
            print(f"{rel}: stale, regenerate with `make generate`", file=sys.stderr)
        return 1 if stale else 0
    for rel, text in files.items():
        path = args.root / rel
        if not path.is_file() or path.read_bytes() != text.encode():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(text.encode())
            print(f"wrote {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
