"""Fuzz targets: everything that reads bytes or paths from outside, with hypothesis.

Each target is ``name(examples)``: it runs ``examples`` derandomized
hypothesis cases in this process and raises on the first case where the
code under test raised anything but its one documented error type. Run them
through ``test_fuzz.py``, which starts each target in a child process with a
memory cap and a timeout, so a MemoryError, a crash or a hang is a failure
too (see that file for budgets).

    eventlog  damaged and forged run directories: CRC-valid lies in block
              headers, zstd frames that misstate their size, forged indexes,
              frames whose payload is not events   → only LogError
    frames    events.decode_frame on arbitrary and near-miss msgpack → only msgspec.DecodeError
    legacy    old kcoro_mon NDJSON (plain, gzip, zstd; cut, flipped) through
              legacy_events and validate_file           → only InputError
    outputs   open_output on every kind of thing a path can name → only SinkError,
              and FIFOs/devices/symlinks keep their type, no temp file left
    ring      ring files with forged header fields (positions, sizes, flags,
              versions) and data areas of random bytes and CRC-valid garbage
              frames, read to the end by the C reader → only RingError, every
              read loop ends, every frame returned passes its CRC
    pipelines pipeline files of random bytes and hostile Python → only PipelineError
    flags     the values behind every flag: durations, speeds, HOST:PORT, and
              launch/replay source specs → only UsageError
    config    configuration files (TOML, JSON) and KCORO_STREAM_* values: nesting
              up to 100,000 deep, integers up to 6,000 digits, overflowing and
              non-finite numbers, hostile rules → only one-line UsageError
    control   JSON-RPC lines for the run's real methods (non-finite numbers,
              huge and inexact ids, deep nesting, batches up to 200, lone
              surrogates), then the socket's framing with random chunks and
              pauses (slow clients) → strict JSON answers, ids exact or null,
              never -32603, the server serves the next client
    wsrpc     the page's WebSocket messages (rpc with random requests and
              tokens, pings, garbage, binary frames, clients that never read)
              → answered or closed with a code, the sink serves the next client
    manifests manifests with alias bombs, 100,000-deep lists, 2 MB scalars,
              6,000-digit numbers, matrices far over the cap → only one-line
              UsageError; planned runs ≤ 10,000 in distinct directories
    summaries summary.json / index.json / baselines: JSON pretty or not,
              damaged, 70 MB, 200,000 deep, FIFOs, /dev/zero, dangling and
              looping symlinks → only one-line UsageError (history: skipped)
    runsdirs  runs prune's choice and history's finder over run-like
              directories holding those → no hang, only our runs chosen
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import socket
import stat
import struct
import tempfile
import threading
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import zstandard
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from kcoro_stream.errors import InputError, LogError, SinkError
from kcoro_stream.eventlog import LogWriter, cat_ndjson, info_text, open_log, repair
from kcoro_stream.eventlog._format import (
    FRAME_HEADER,
    SEGMENT_HEADER_SIZE,
    crc32c,
    encode_block_header,
    encode_timestamps,
)
from kcoro_stream.eventlog._segment import BlockRef, encode_index
from kcoro_stream.events import (
    Gauge,
    Mark,
    Tick,
    decode_frame,
    encode_frame,
    encode_json_line,
)

REPO = Path(__file__).resolve().parents[2]
T0 = 1_000_000_000_000


CHUNK = 250  # examples per hypothesis run: its search tree grows with the run (3000 ≈ 250 MiB)


def _run(body: Callable[..., None], strategies: tuple[st.SearchStrategy[Any], ...], examples: int) -> None:
    """Run ``body`` on ``examples`` hypothesis cases drawn from ``strategies``, in seeded chunks.

    Each chunk has a fixed seed, so the cases are the same on every run (what
    derandomize gives) while hypothesis's memory stays that of one chunk.
    """
    for i, start in enumerate(range(0, examples, CHUNK)):
        test = settings(
            max_examples=min(CHUNK, examples - start),
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            print_blob=True,
        )(given(*strategies)(body))
        seed(0x6B6373 + i)(test)()


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(1 << 64), max_value=(1 << 64) - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.binary(max_size=20),
)
_msgpack_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=8), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=40,
)


@st.composite
def _payloads(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["binary", "events", "mutated", "bad_utf8"]))
    if kind == "binary":
        return draw(st.binary(max_size=300))
    if kind == "events":
        evs = draw(
            st.lists(
                st.lists(_msgpack_values, max_size=14)
                .map(lambda xs: [*xs])
                .flatmap(lambda xs: st.integers(0, 20).map(lambda tag: [tag, *xs])),
                max_size=4,
            )
        )
        try:
            return msgspec.msgpack.encode(evs)
        except (OverflowError, TypeError):
            return b"\x90"
    base = draw(st.sampled_from(_PAYLOADS))
    if kind == "bad_utf8":
        return base.replace(b"phase", b"\xff\xfe\xfd\xfc\xfb")
    data = bytearray(base)
    for pos, val in draw(
        st.lists(st.tuples(st.integers(0, max(0, len(data) - 1)), st.integers(0, 255)), max_size=4)
    ):
        if data:
            data[pos] = val
    return bytes(data)


def _raw_payloads() -> list[bytes]:
    return [
        encode_frame([Tick(T0, 0, seq=1, target_ns=10, actual_ns=11, paused=False)]),
        encode_frame([Mark(T0, 0, name="phase", detail="x"), Gauge(T0, 1, name="g", pool=0, value=1.5)]),
    ]


_PAYLOADS = _raw_payloads()


def frames(examples: int) -> None:
    def case(payload: bytes) -> None:
        try:
            decode_frame(payload)
        except msgspec.DecodeError:
            pass

    _run(case, (_payloads(),), examples)


# ---------------------------------------------------------------- eventlog


def _base_log(directory: Path) -> dict[str, bytes]:
    """A small clean log: 2 segments (the first closed, with an index), several blocks."""
    run = directory / "base"
    with LogWriter.create(run, "fuzz-base", segment_bytes=600, fsync="never") as w:
        for i in range(24):
            w.append_payload(_PAYLOADS[i % 2], i, T0 + i * 10_000_000)
            if i % 4 == 3:
                w.flush()
    out = {p.name: p.read_bytes() for p in run.iterdir() if p.name.startswith("segment-")}
    shutil.rmtree(run)
    return out


def _frames_blob(payloads: list[bytes], good_crc: list[bool]) -> bytes:
    out = bytearray()
    for i, p in enumerate(payloads):
        crc = crc32c(p) if good_crc[i % len(good_crc)] else 0
        out += FRAME_HEADER.pack(len(p), crc, i) + p + bytes((-len(p)) & 7)
    return bytes(out)


def _zero_bomb(size: int) -> bytes:
    """A zstd frame of ``size`` zero bytes that states its size (made in 1 MiB steps)."""
    cobj = zstandard.ZstdCompressor(level=1).compressobj(size=size)
    chunk = bytes(1 << 20)
    out = [cobj.compress(chunk) for _ in range(size >> 20)]
    return b"".join(out) + cobj.flush()


_BOMBS = [_zero_bomb(1 << 20), _zero_bomb(1 << 26), _zero_bomb(1 << 30)]  # before the memory cap


@st.composite
def _compressed(draw: st.DrawFn) -> tuple[bytes, int, int]:
    """(zstd bytes, raw_len to claim, frames to claim)."""
    kind = draw(st.sampled_from(["frames", "random", "liar", "zeros", "nosize"]))
    n = draw(st.integers(0, 4))
    payloads = [draw(_payloads()) for _ in range(n)]
    raw = _frames_blob(payloads, draw(st.lists(st.booleans(), min_size=1, max_size=3)))
    raw += encode_timestamps(array("q", [T0 + i for i in range(n)]))
    frames_claim = draw(st.one_of(st.just(n), st.integers(0, 1 << 20)))
    raw_claim = draw(st.one_of(st.just(len(raw)), st.integers(0, 1 << 27)))
    if kind == "frames":
        return zstandard.ZstdCompressor().compress(raw), raw_claim, frames_claim
    if kind == "random":
        return draw(st.binary(max_size=200)), raw_claim, frames_claim
    if kind == "zeros":  # a bomb: small frame, huge stated size
        return draw(st.sampled_from(_BOMBS)), raw_claim, frames_claim
    if kind == "nosize":
        cobj = zstandard.ZstdCompressor(write_content_size=False).compressobj()
        return (
            cobj.compress(raw + bytes(draw(st.integers(0, 1 << 22)))) + cobj.flush(),
            raw_claim,
            frames_claim,
        )
    small = zstandard.ZstdCompressor(write_content_size=False).compress(raw)
    claim = draw(st.integers(0, (1 << 64) - 1))
    return small[:4] + bytes([0xE0]) + struct.pack("<Q", claim) + small[6:], raw_claim, frames_claim


@st.composite
def _damaged_log(draw: st.DrawFn, base: dict[str, bytes]) -> dict[str, bytes | None]:
    files: dict[str, bytearray | None] = {k: bytearray(v) for k, v in base.items()}
    names = sorted(files)
    segs = [n for n in names if n.endswith(".kcslog")]
    ops = draw(
        st.lists(
            st.sampled_from(["flip", "truncate", "splice", "forge", "index", "delete", "junk"]),
            min_size=1,
            max_size=4,
        )
    )
    for op in ops:
        name = draw(st.sampled_from(names))
        data = files[name]
        if data is None:
            continue
        if op == "flip" and data:
            for _ in range(draw(st.integers(1, 8))):
                data[draw(st.integers(0, len(data) - 1))] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate":
            del data[draw(st.integers(0, len(data))) :]
        elif op == "splice":
            at = draw(st.integers(0, len(data)))
            data[at:at] = draw(st.binary(max_size=128))
        elif op == "delete":
            files[name] = None
        elif op == "junk":
            files[
                draw(st.sampled_from(["segment-000009.kcslog", "segment-000002.kcsidx", "segment-1.kcslog"]))
            ] = bytearray(draw(st.binary(max_size=300)))
        elif op == "forge":
            seg = draw(st.sampled_from(segs))
            target = files[seg]
            if target is None:
                continue
            comp, raw_len, nframes = draw(_compressed())
            ts_min = draw(st.integers(-(1 << 63), (1 << 63) - 1))
            ts_max = draw(st.one_of(st.just(ts_min), st.integers(ts_min, (1 << 63) - 1)))
            seqs = draw(st.tuples(st.integers(0, (1 << 64) - 1), st.integers(0, (1 << 64) - 1)))
            block = (
                encode_block_header(comp, raw_len & 0xFFFFFFFF, nframes & 0xFFFFFFFF, *seqs, ts_min, ts_max)
                + comp
            )
            at = draw(
                st.one_of(st.just(len(target)), st.just(SEGMENT_HEADER_SIZE), st.integers(0, len(target)))
            )
            if draw(st.booleans()):
                target[at:at] = block
            else:
                target[at : at + len(block)] = block
        elif op == "index":
            seg = draw(st.sampled_from(segs))
            target = files[seg]
            if target is None or len(target) < SEGMENT_HEADER_SIZE:
                continue
            refs = draw(
                st.lists(
                    st.builds(
                        BlockRef,
                        st.integers(0, len(target) + 64),
                        st.integers(0, 1 << 32),
                        st.integers(0, (1 << 32) - 1),
                        st.integers(0, 1 << 32),
                        st.integers(0, 1 << 32),
                        st.integers(0, (1 << 64) - 1),
                        st.integers(0, (1 << 64) - 1),
                        st.integers(-(1 << 63), (1 << 63) - 1),
                        st.integers(-(1 << 63), (1 << 63) - 1),
                    ),
                    max_size=4,
                ).map(lambda rs: sorted(rs, key=lambda r: r.offset))
            )
            files[seg.replace(".kcslog", ".kcsidx")] = bytearray(
                encode_index(len(target), bytes(target[:SEGMENT_HEADER_SIZE]), "fuzz", T0, refs)
            )
    return {k: (bytes(v) if v is not None else None) for k, v in files.items()}


def _exercise_log(run: Path) -> None:
    try:
        reader = open_log(run)
    except LogError:
        return
    span = reader.time_range()
    reader.frame_count()
    for f in reader.frames():
        try:
            decode_frame(f.payload)
        except msgspec.DecodeError:
            pass
    if span is not None:
        list(reader.frames(span[0], span[0] + (span[1] - span[0]) // 2))
    reader.info()
    with open(os.devnull, "wb") as sink:
        cat_ndjson(run, sink, on_problem=lambda p: None)
    info_text(run)
    try:
        repair(run)
        open_log(run).info()
    except LogError:
        pass


def eventlog(examples: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="kcs-fuzz-log-"))
    try:
        base = _base_log(work)
        assert len([n for n in base if n.endswith(".kcslog")]) >= 2, sorted(base)

        def case(files: dict[str, bytes | None]) -> None:
            run = Path(tempfile.mkdtemp(dir=work))
            try:
                for name, data in files.items():
                    if data is not None:
                        (run / name).write_bytes(data)
                _exercise_log(run)
            finally:
                shutil.rmtree(run)

        _run(case, (_damaged_log(base),), examples)
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ------------------------------------------------------------------ legacy


_LEGACY_BASE = (REPO / "bench_data" / "legacy" / "channel_schema2.ndjson").read_bytes().splitlines()[:3]
_TASKS_BASE = (REPO / "bench_data" / "legacy" / "zero_summaries.ndjson").read_bytes().splitlines()[:3]

_json_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(1 << 70), max_value=1 << 70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e303, -1e303, 1.7976931348623157e308, 5e-324, 0.0, -0.0]),
    st.text(max_size=10),
    st.sampled_from(["channel", "tasks", "summary", 1, 2, 3]),
)


@st.composite
def _legacy_line(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["field", "field", "raw", "deep", "badutf8", "base"]))
    base = draw(st.sampled_from(_LEGACY_BASE + _TASKS_BASE))
    if kind == "base":
        return base
    if kind == "raw":
        return draw(st.binary(max_size=200)).replace(b"\n", b"")
    if kind == "deep":
        depth = draw(st.integers(1, 5000))
        return b'{"schema":2,"mode":"channel","ts":1,"pps":1,"x":' + b"[" * depth + b"]" * depth + b"}"
    if kind == "badutf8":
        return base.replace(b'"mode":"', b'"mode":"\xff\xfe')
    try:
        obj = msgspec.json.decode(base)
    except msgspec.DecodeError:
        return base
    for key in draw(st.lists(st.sampled_from([*obj.keys(), "type", "zz"]), min_size=1, max_size=4)):
        if draw(st.booleans()) and key in obj:
            del obj[key]
        else:
            obj[key] = draw(_json_values)
    try:
        return msgspec.json.encode(obj)
    except UnicodeEncodeError:  # a lone surrogate: written as the \udXXX escape a hostile file may hold
        return json.dumps(obj).encode()


@st.composite
def _legacy_file(draw: st.DrawFn) -> tuple[str, bytes]:
    lines = draw(st.lists(_legacy_line(), min_size=0, max_size=8))
    body = b"\n".join(lines) + (b"\n" if draw(st.booleans()) else b"")
    codec = draw(st.sampled_from(["plain", "plain", "gzip", "zstd"]))
    if codec == "plain":
        return "x.ndjson", body
    data = gzip.compress(body, mtime=0) if codec == "gzip" else zstandard.ZstdCompressor().compress(body)
    damage = draw(st.sampled_from(["none", "cut", "flip"]))
    if damage == "cut" and data:
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif damage == "flip" and data:
        b = bytearray(data)
        b[draw(st.integers(0, len(b) - 1))] ^= 1 << draw(st.integers(0, 7))
        data = bytes(b)
    return ("x.ndjson.gz" if codec == "gzip" else "x.ndjson.zst"), data


def legacy(examples: int) -> None:
    from kcoro_stream.sources.legacy import is_legacy_ndjson, legacy_events
    from kcoro_stream.validate import validate_file

    work = Path(tempfile.mkdtemp(prefix="kcs-fuzz-legacy-"))
    buf = bytearray()
    try:

        def case(named: tuple[str, bytes]) -> None:
            path = work / named[0]
            path.write_bytes(named[1])
            try:
                is_legacy_ndjson(path)
            except InputError:
                pass
            try:
                for ev in legacy_events(path):
                    buf.clear()
                    encode_json_line(ev, buf)  # what every file sink does next
            except InputError:
                pass
            try:
                validate_file(path)
            except InputError:
                pass
            path.unlink()

        _run(case, (_legacy_file(),), examples)
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ----------------------------------------------------------------- outputs

_KINDS = [
    "none",
    "file",
    "dir",
    "fifo_reader",
    "fifo_alone",
    "link_file",
    "link_dangling",
    "link_loop",
    "link_null",
    "socket",
    "link_dir",
]


def outputs(examples: int) -> None:
    from kcoro_stream.sinks import _output
    from kcoro_stream.sinks._output import open_output

    _output.FIFO_READER_WAIT_S = 0.05  # a FIFO nobody reads: give up fast
    work = Path(tempfile.mkdtemp(prefix="kcs-fuzz-out-"))
    try:

        def case(kind: str, name: str, force: bool, end: str) -> None:
            d = Path(tempfile.mkdtemp(dir=work))
            path = d / name
            reader: threading.Thread | None = None
            sock: socket.socket | None = None
            got: list[bytes] = []
            try:
                if kind == "file":
                    path.write_bytes(b"old")
                elif kind == "dir":
                    path.mkdir()
                elif kind.startswith("fifo"):
                    os.mkfifo(path)
                    if kind == "fifo_reader":

                        def read() -> None:
                            with open(path, "rb") as f:
                                got.append(f.read())

                        reader = threading.Thread(target=read, daemon=True)
                        reader.start()
                elif kind == "link_file":
                    (d / "t").write_bytes(b"old")
                    path.symlink_to("t")
                elif kind == "link_dangling":
                    path.symlink_to("missing")
                elif kind == "link_loop":
                    path.symlink_to(path.name)
                elif kind == "link_null":
                    path.symlink_to("/dev/null")
                elif kind == "link_dir":
                    (d / "sub").mkdir()
                    path.symlink_to("sub")
                elif kind == "socket":
                    sock = socket.socket(socket.AF_UNIX)
                    sock.bind(str(path))
                before = os.lstat(path).st_mode if os.path.lexists(path) else None
                try:
                    out = open_output(path, force=force)
                    if end != "abort":
                        out.write(b"x\n")
                    out.abort() if end == "abort" else out.close()
                except SinkError:
                    pass
                if kind == "fifo_alone" or kind == "fifo_reader":
                    if reader is None:
                        pass
                    else:
                        if not got:  # open_output gave up: let the reader finish
                            with open(path, "wb"):
                                pass
                        reader.join(5)
                        assert not reader.is_alive()
                after = os.lstat(path).st_mode if os.path.lexists(path) else None
                if before is not None and not stat.S_ISREG(before):
                    assert after is not None and stat.S_IFMT(after) == stat.S_IFMT(before), (
                        kind,
                        before,
                        after,
                    )
                if kind == "file" and not force:
                    assert path.read_bytes() == b"old"
                leftovers = [n for n in os.listdir(d) if n.endswith(".tmp")]
                assert leftovers == [], leftovers
            finally:
                if sock is not None:
                    sock.close()
                shutil.rmtree(d, ignore_errors=True)

        strategies = (
            st.sampled_from(_KINDS),
            st.sampled_from(["o.ndjson", "o.ndjson.gz", "o.csv.zst", "-x", "o,level=3"]),
            st.booleans(),
            st.sampled_from(["close", "abort", "write_close"]),
        )
        _run(case, strategies, examples)
    finally:
        shutil.rmtree(work, ignore_errors=True)


# -------------------------------------------------------------------- ring

_RING_DATA = 1 << 12


@st.composite
def _ring_case(draw: st.DrawFn) -> tuple[dict[str, int], list[tuple[int, bytes]], list[tuple[bytes, bool]]]:
    """(header field overrides, raw pokes into the data area, frames to lay out first)."""
    fields = ("write_pos", "read_pos", "flags", "abi_minor", "producer_pid", "next_seq", "heartbeat_ns")
    big = st.one_of(
        st.integers(0, 1 << 16), st.integers(0, (1 << 64) - 1), st.sampled_from([0, 1, _RING_DATA, 1 << 63])
    )
    overrides = draw(st.dictionaries(st.sampled_from(fields), big, max_size=4))
    pokes = draw(
        st.lists(st.tuples(st.integers(0, _RING_DATA - 1), st.binary(min_size=1, max_size=24)), max_size=6)
    )
    frames = draw(
        st.lists(st.tuples(st.one_of(_payloads(), st.binary(max_size=300)), st.booleans()), max_size=12)
    )
    return overrides, pokes, frames


def ring(examples: int) -> None:
    from kcoro_stream._native import ffi, lib

    from kcoro_stream.errors import RingError
    from kcoro_stream.ingest import RingReader

    layout = ffi.new("kcs_ring_layout *")
    lib.kcs_layout(layout)
    width = {"flags": 4, "abi_minor": 4, "producer_pid": 4}
    work = Path(tempfile.mkdtemp(prefix="kcs-fuzz-ring-"))
    try:

        def case(c: tuple[dict[str, int], list[tuple[int, bytes]], list[tuple[bytes, bool]]]) -> None:
            overrides, pokes, frames = c
            path = work / "ring"
            path.unlink(missing_ok=True)
            RingReader.create(path, data_size=_RING_DATA).close(unlink=False)
            data = bytearray()
            seq = 0
            for payload, good in frames:  # laid out as a producer would, CRC right or wrong
                if len(data) + 16 + len(payload) + 8 > _RING_DATA:
                    break
                crc = lib.kcs_crc32c_buf(0, payload, len(payload)) ^ (0 if good else 1)
                data += struct.pack("<IIQ", len(payload), crc, seq) + payload + b"\0" * (-len(payload) % 8)
                seq += 1
            with open(path, "r+b") as f:
                f.seek(layout.header_size)
                f.write(bytes(data))
                f.seek(layout.write_pos)
                f.write(struct.pack("<Q", len(data)))
                f.seek(layout.next_seq)
                f.write(struct.pack("<Q", seq))
                for off, blob in pokes:
                    f.seek(layout.header_size + off)
                    f.write(blob[: _RING_DATA - off])
                for name, value in overrides.items():
                    n = width.get(name, 8)
                    f.seek(getattr(layout, name))
                    f.write((value & ((1 << (8 * n)) - 1)).to_bytes(n, "little"))
            try:
                r = RingReader.open(path)
            except RingError:
                return
            try:
                for _ in range(200):  # a reader loop must end: closed, or nothing more to read
                    res = r.read()
                    for i in range(len(res)):
                        rec = bytes(res.record(i))
                        payload = bytes(res.payload(i))
                        assert lib.kcs_crc32c_buf(0, payload, len(payload)) == int.from_bytes(
                            rec[4:8], "little"
                        )
                        try:
                            decode_frame(payload)
                        except msgspec.DecodeError:
                            pass
                    if res.closed or not len(res):
                        break
                else:
                    raise AssertionError("the reader never ran out of frames")
                r.finish()
                r.statistics()
            finally:
                r.close(unlink=False)

        _run(case, (_ring_case(),), examples)
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --------------------------------------------------------------- pipelines

_PY_SNIPPETS = [
    b"import sys\nsys.exit(3)\n",
    b"raise KeyError('x')\n",
    b"class B(BaseException): pass\nraise B()\n",
    b"pipeline = 42\n",
    b"from kcoro_stream.pipeline import Pipeline\npipeline = Pipeline(source={'source': 'nope'})\n",
    b"from kcoro_stream.pipeline import Pipeline\npipeline = Pipeline(sinks='stdout')\n",
    b"from kcoro_stream.pipeline import Pipeline, BenchSource\n"
    b"pipeline = Pipeline(source=BenchSource(interval_ms=float('nan')))\n",
    b"def f(:\n",
    b"\x00\x01",
    b"\xff\xfe\xfd",
    b"import os\nx = os.environ['NO_SUCH_VARIABLE_HERE']\n",
    b"x = 1/0\n",
]


def pipelines(examples: int) -> None:
    from kcoro_stream.errors import PipelineError
    from kcoro_stream.pipeline import load_pipeline

    work = Path(tempfile.mkdtemp(prefix="kcs-fuzz-pipe-"))
    try:

        def case(body: bytes) -> None:
            path = work / "p.py"
            path.write_bytes(body)
            try:
                load_pipeline(path)
            except PipelineError as e:
                assert "\n" not in str(e), str(e)

        text = st.one_of(
            st.sampled_from(_PY_SNIPPETS),
            st.binary(max_size=200),
            st.builds(lambda a, b: a + b, st.sampled_from(_PY_SNIPPETS), st.binary(max_size=40)),
            st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
        )
        _run(case, (text,), examples)
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ------------------------------------------------------------------- flags


def flags(examples: int) -> None:
    from kcoro_stream.commands._common import duration as _duration
    from kcoro_stream.commands._common import speed as _speed
    from kcoro_stream.errors import UsageError
    from kcoro_stream.sinks._address import split_host_port
    from kcoro_stream.sources import SourceContext, build_source

    numbers = st.one_of(
        st.floats(allow_nan=True, allow_infinity=True), st.integers(-(1 << 70), 1 << 70), st.text(max_size=12)
    )

    def case(text: str, number: Any, which: int) -> None:
        try:
            if which == 0:
                _duration(text, "--duration")
            elif which == 1:
                _speed(text)
            elif which == 2:
                split_host_port("--prometheus", text, 9464)
            elif which == 3:
                build_source(
                    {"source": "launch", "interval_ms": number, "duration_s": number}, SourceContext()
                )
            elif which == 4:
                build_source({"source": "launch", "workers": number, "mode": text}, SourceContext())
            else:
                build_source(
                    {"source": "replay", "path": "r", "from_s": number, "speed": number}, SourceContext()
                )
        except UsageError as e:
            assert "\n" not in str(e), str(e)

    suffixed = st.builds(
        lambda n, u: f"{n}{u}", numbers, st.sampled_from(["", "s", "ms", "m", "h", "x", " s", "e9"])
    )
    _run(case, (st.one_of(suffixed, st.text(max_size=30)), numbers, st.integers(0, 5)), examples)


_json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(1 << 80), max_value=1 << 80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["20ms", "1e300s", "x: tasks_per_s < 5 for 1e300s", "batch", "backlog", "1_0", "\ud800"]),
)
_json_values = st.recursive(
    _json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)
# JSON texts JSON itself cannot carry, spliced into otherwise valid requests
_HOSTILE_NUMBERS = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "-1e999",
    "9" * 4400,
    "1e2",
    "-0",
    "0.1000000000000000001",
]


def _nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


def config(examples: int) -> None:
    from kcoro_stream.config import env_layer
    from kcoro_stream.config._show import check_text
    from kcoro_stream.errors import UsageError

    tmp = Path(tempfile.mkdtemp(prefix="kcs-fuzz-config-"))
    sections = {
        "run": [
            "mode",
            "duration",
            "interval",
            "out",
            "prometheus",
            "websocket",
            "remote_write",
            "allow_remote",
        ],
        "bench": ["workers", "batch", "seed", "spin"],
        "window": ["length", "smooth", "ema_alpha"],
        "alerts": ["rules"],
        "kpi": ["backlog", "fastpath_ratio"],
        "summary": ["warmup"],
    }
    keys = [(s_, k) for s_, ks_ in sections.items() for k in ks_]
    hostile = st.one_of(
        st.builds(_nested, st.integers(0, 100_000)),
        st.builds(lambda n: "9" * n, st.integers(1, 6000)),
        st.sampled_from(["1e400", "-1e400", "nan", "inf", '"1e-300s"', '"0.0.0.0:99999"', '["ftp://x"]']),
        st.builds(
            lambda r: json.dumps([r]),
            st.sampled_from(["x: tasks_per_s < 5 for 1e300s", "x" * 300 + ": a < 1"]),
        ),
        _json_values.map(json.dumps),
    )

    def case(key: tuple[str, str], value: str, as_json: bool, env: bool) -> None:
        section, name = key
        try:
            if env:
                env_layer({f"KCORO_STREAM_{section.upper()}_{name.upper()}": value})
            elif as_json:
                path = tmp / "c.json"
                path.write_text("{" + f'"{section}": {{\n"{name}": {value}}}' + "}\n")
                check_text(path)
            else:
                path = tmp / "c.toml"
                path.write_text(f"[{section}]\n{name} = {value}\n")
                check_text(path)
        except UsageError as e:
            text = str(e)
            assert "\n" not in text and len(text) < 2000, text[:300]

    _run(case, (st.sampled_from(keys), hostile, st.booleans(), st.booleans()), examples)
    shutil.rmtree(tmp)


def _strict(raw: bytes) -> Any:
    """Decode an answer line: strict JSON (no NaN/Infinity), or fail."""

    def no(c: str) -> Any:
        raise AssertionError(f"answer carries {c}: {raw[:200]!r}")

    return json.loads(raw, parse_constant=no)


def _check_answer(raw: bytes | None, sent_ids: list[str]) -> None:
    if raw is None:
        return
    got = _strict(raw)
    for a in got if isinstance(got, list) else [got]:
        assert set(a) <= {"jsonrpc", "id", "result", "error"}, a
        if "error" in a:
            assert a["error"]["code"] != -32603 or "exceeds" in a["error"]["message"], a
        rid = a.get("id")
        if rid is not None:  # an id comes back exactly as it was sent, or null
            assert json.dumps(rid) in sent_ids, (rid, sent_ids)


def _steering() -> tuple[Any, Callable[[], None]]:
    """The run's real methods on a real ring with no producer attached to the controller
    (so the methods that wait for an acknowledgement answer -32000 at once)."""
    from kcoro_stream.control import Steering
    from kcoro_stream.events import RunStarted
    from kcoro_stream.ingest import RingReader
    from kcoro_stream.sources import AttachConfig, SourceContext, build_source

    tmp = Path(tempfile.mkdtemp(prefix="kcs-fuzz-control-"))
    ring = RingReader.create(tmp / "ring", data_size=1 << 12)
    source = build_source(AttachConfig(path=str(tmp / "ring")), SourceContext(run_id="r"))

    async def drain() -> None:
        return None

    from kcoro_stream.events import SinkStatistics

    st_ = Steering(source, lambda ev: st_.observe([ev]), drain, lambda: SinkStatistics(name="fuzz"), "r")
    st_.observe(
        [
            RunStarted(
                1, 0, run_id="b", mode="tasks", config={"knobs": {"batch": [1, 65536]}}, workers=1, host="h",
                pid=1, abi_major=1, abi_minor=1, build={}, wall_ns=1, interval_ns=10_000_000,
            )
        ]
    )  # fmt: skip

    def close() -> None:
        ring.close()
        shutil.rmtree(tmp)

    return st_, close


def control(examples: int) -> None:
    import trio

    from kcoro_stream.control import ControlServer, Dispatcher

    steering, close = _steering()
    methods = sorted(steering.methods)
    ids = st.one_of(
        st.integers(-(1 << 70), 1 << 70).map(str),
        st.text(max_size=6).map(json.dumps),
        st.sampled_from(["null", "1.5", *_HOSTILE_NUMBERS]),
    )

    @st.composite
    def requests(draw: st.DrawFn) -> tuple[str, list[str]]:
        n = draw(st.integers(0, 3))
        members, sent = [], []
        for _ in range(max(1, n) if n else 1):
            rid = draw(ids)
            sent.append(rid)
            params = draw(st.one_of(st.just(""), _json_values.map(lambda v: f',"params":{json.dumps(v)}')))
            if draw(st.booleans()):
                params = f',"params":[{draw(st.sampled_from(_HOSTILE_NUMBERS))}]'
            method = json.dumps(draw(st.sampled_from(methods)))
            members.append(f'{{"jsonrpc":"2.0","id":{rid},"method":{method}{params}}}')
        shape = draw(st.integers(0, 5))
        if shape == 0:
            text = members[0]
        elif shape == 1:
            text = "[" + ",".join(members) + "]"
        elif shape == 2:  # a batch of up to 200 copies (over the limit of 100 too)
            text = "[" + ",".join(members[:1] * draw(st.integers(1, 200))) + "]"
        elif shape == 3:
            text = _nested(draw(st.integers(1, 5000)), members[0])
        elif shape == 4:
            text = draw(st.text(max_size=40))
        else:
            text = members[0][: draw(st.integers(0, len(members[0])))]
        return text, sent

    dispatcher = Dispatcher(steering.methods)

    def case(req: tuple[str, list[str]]) -> None:
        text, sent = req
        raw = trio.run(dispatcher.handle_line, text.encode("utf-8", "surrogatepass"))
        _check_answer(raw, sent)

    _run(case, (requests(),), examples)

    # the framing: random chunks, pauses (slow clients), then the server must still serve
    tmp = Path(tempfile.mkdtemp(prefix="kcs-fuzz-sock-"))

    def framing(chunks: list[bytes], pauses: list[float]) -> None:
        async def main() -> None:
            server = ControlServer(
                tmp / "c.sock", dispatcher, line_timeout_s=0.05, idle_timeout_s=0.2, max_line=4096
            )
            async with trio.open_nursery() as n:
                await n.start(server.serve)
                stream = await trio.open_unix_socket(str(tmp / "c.sock"))
                with trio.move_on_after(2):
                    try:
                        for chunk, pause in zip(chunks, pauses + [0.0] * len(chunks), strict=False):
                            await stream.send_all(chunk)
                            await trio.sleep(pause)
                        await stream.send_eof()
                        buf = b""
                        while data := await stream.receive_some(65536):
                            buf += data
                        for line in buf.splitlines():
                            _strict(line)
                    except (trio.BrokenResourceError, trio.ClosedResourceError):
                        pass
                await stream.aclose()
                with trio.fail_after(5):  # the next client is served
                    ok = await trio.open_unix_socket(str(tmp / "c.sock"))
                    await ok.send_all(b'{"jsonrpc":"2.0","id":1,"method":"list_rules"}\n')
                    got = b""
                    while not got.endswith(b"\n"):
                        got += await ok.receive_some(65536)
                    assert "result" in _strict(got), got
                    await ok.aclose()
                n.cancel_scope.cancel()

        trio.run(main)

    chunk = st.one_of(
        st.binary(max_size=64),
        st.sampled_from(
            [b"\n", b'{"jsonrpc":"2.0","id":1,"method":"status"}\n', b"[" * 300, b"x" * 5000 + b"\n"]
        ),
    )
    _run(framing, (st.lists(chunk, max_size=6), st.lists(st.sampled_from([0.0, 0.0, 0.03, 0.1]), max_size=6)),
         max(1, examples // 10))  # fmt: skip
    shutil.rmtree(tmp)
    close()


def wsrpc(examples: int) -> None:
    import trio
    from trio_websocket import ConnectionClosed, open_websocket_url

    from kcoro_stream.control import Dispatcher
    from kcoro_stream.sinks import SinkContext, build_sink

    steering, close = _steering()
    page = Dispatcher(
        {m: steering.methods[m] for m in ("status", "methods", "pause", "resume", "set_interval")},
        guarded=frozenset({"pause", "resume", "set_interval"}),
    )

    async def handler(line: bytes, token: str) -> bytes | None:
        return await page.handle_line(line, authorized=token == "t0ken")

    message = st.one_of(
        st.builds(
            lambda req, tok: json.dumps({"kind": "rpc", "request": req, "token": tok}),
            st.one_of(_json_values, st.builds(lambda m, i: {"jsonrpc": "2.0", "id": i, "method": m},
                                               st.sampled_from(["status", "pause", "set_interval", "stop"]),
                                               st.integers(-5, 5))),
            st.sampled_from(["", "t0ken", "x"]),
        ),
        st.just('{"kind":"ping"}'),
        st.text(max_size=30),
        st.binary(max_size=30),
        st.builds(lambda n: '{"kind":"rpc","request":' + _nested(n) + "}", st.integers(1, 3000)),
    )  # fmt: skip

    def case(messages: list[Any], read: bool) -> None:
        async def main() -> None:
            ctx = SinkContext()
            ctx.control = handler
            sink = build_sink({"sink": "websocket", "port": 0}, ctx)
            await sink.open()
            try:
                with trio.move_on_after(3):
                    try:
                        async with open_websocket_url(sink.ws_url) as ws:  # type: ignore[attr-defined]
                            for m in messages:
                                await ws.send_message(m)
                            if read:
                                with trio.move_on_after(0.3):
                                    while True:
                                        got = await ws.get_message()
                                        _strict(got.encode() if isinstance(got, str) else got)
                    except ConnectionClosed:
                        pass
                with trio.fail_after(5):  # the next client is served
                    async with open_websocket_url(sink.ws_url) as ws:  # type: ignore[attr-defined]
                        await ws.send_message(
                            json.dumps(
                                {"kind": "rpc", "request": {"jsonrpc": "2.0", "id": 1, "method": "methods"}}
                            )
                        )
                        while (msg := json.loads(await ws.get_message()))["kind"] != "rpc":
                            pass
                        assert "result" in msg["response"], msg
            finally:
                await sink.aclose()

        trio.run(main)

    _run(case, (st.lists(message, max_size=40), st.booleans()), examples)
    close()


# ------------------------------------------------ manifests, summaries, runs directories


def _alias_bomb(depth: int) -> str:
    items = ["&b0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    items += [f"&b{i} [{', '.join([f'*b{i - 1}'] * 9)}]" for i in range(1, depth + 1)]
    return f"[{', '.join(items)}]"


@st.composite
def _manifest_text(draw: st.DrawFn) -> str:
    """A manifest with one hostile part: an alias bomb, a deep list, a huge or odd scalar, a matrix
    of any size (small enough to plan, or far beyond the cap), identical combinations."""
    hostile = draw(
        st.one_of(
            st.builds(_alias_bomb, st.integers(1, 9)),
            st.builds(_nested, st.integers(1, 100_000)),
            st.builds(lambda n: "x" * n, st.integers(1, 200_000)),
            st.builds(lambda n: "9" * n, st.integers(1, 6000)),
            st.sampled_from(["1e400", ".nan", "-.inf", "null", "{}", "[]", "~", "'1s'", "[1, 1]"]),
        )
    )
    place = draw(st.integers(0, 6))
    matrix_len = draw(st.one_of(st.integers(1, 4), st.integers(150, 400)))
    values = ", ".join(str(i) for i in range(1, matrix_len + 1))
    steps = {
        0: f"  - name: a\n    duration: {hostile}\n",
        1: f"  - name: a\n    duration: 1s\n    matrix: {{seed: {hostile}}}\n",
        2: f"  - name: a\n    duration: 1s\n    bench: {{workers: {hostile}}}\n",
        3: f"  - name: {hostile}\n    duration: 1s\n",
        4: f"  - name: a\n    duration: 1s\n    matrix: {{seed: [{values}], batch: [{values}]}}\n",
        5: f"  - name: a\n    duration: 1s\n    outputs: {hostile}\n",
        6: f"  - name: a\n    duration: 1s\n    repeats: {hostile}\n",
    }
    return "defaults: {mode: tasks}\nsteps:\n" + steps[place]


def manifests(examples: int) -> None:
    from kcoro_stream.errors import PipelineError, UsageError
    from kcoro_stream.manifest import load_manifest

    tmp = Path(tempfile.mkdtemp(prefix="kcs-fuzz-manifest-"))

    def case(text: str) -> None:
        path = tmp / "m.yaml"
        path.write_text(text)
        try:
            m = load_manifest(path)
        except (UsageError, PipelineError) as e:
            msg = str(e)
            assert "\n" not in msg and len(msg) < 2000, msg[:300]
            return
        assert len(m.runs) <= 10_000
        assert len({r.slug.casefold() for r in m.runs}) == len(m.runs)  # distinct directories

    _run(case, (_manifest_text(),), examples)
    shutil.rmtree(tmp)


@st.composite
def _json_file(draw: st.DrawFn) -> bytes | str:
    """What a summary.json, index.json or baseline can be: JSON (pretty or not), damaged, huge, deep,
    or not a regular file at all ("fifo", "dev", "dangling", "loop", "dir")."""
    kind = draw(
        st.sampled_from(["json", "pretty", "deep", "huge", "bytes", "fifo", "dev", "dangling", "loop", "dir"])
    )
    if kind in ("fifo", "dev", "dangling", "loop", "dir"):
        return kind
    if kind == "deep":
        return _nested(draw(st.integers(1, 200_000))).encode()
    if kind == "huge":  # a sparse file past the readers' caps (16 MiB summaries, 64 MiB indexes)
        return f"huge:{draw(st.integers(16 << 20, 80 << 20))}"
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    body = draw(_json_values)
    if draw(st.booleans()) and isinstance(body, dict):
        body = {
            "format": draw(st.sampled_from(["kcoro-stream-run-summary", "kcoro-stream-baseline", "x"])),
            **body,
        }
    return json.dumps(body, indent=2 if kind == "pretty" else None).encode()


def _place(path: Path, content: bytes | str) -> None:
    """Put ``content`` at ``path``: bytes as a file, or a FIFO, a device, a dangling symlink, a loop."""
    if content == "fifo":
        os.mkfifo(path)
    elif content == "dev":
        path.symlink_to("/dev/zero")
    elif content == "dangling":
        path.symlink_to(path.parent / "nowhere")
    elif content == "loop":
        path.symlink_to(path)
    elif content == "dir":
        path.mkdir()
    elif isinstance(content, str) and content.startswith("huge:"):
        with open(path, "wb") as f:
            f.write(b'{"format": "kcoro-stream-run-summary", "x": "')
            f.truncate(int(content[5:]))
    else:
        assert isinstance(content, bytes)
        path.write_bytes(content)


def summaries(examples: int) -> None:
    """summary.json / index.json / baseline readers: load_results, load_baseline, the manifest's index,
    history's reader → only UsageError (history: skipped and named), never a hang or a traceback."""
    from kcoro_stream.compare._baseline import load_baseline
    from kcoro_stream.compare._results import load_results
    from kcoro_stream.errors import UsageError
    from kcoro_stream.history._query import _read_summaries
    from kcoro_stream.manifest._run import _load_index

    tmp = Path(tempfile.mkdtemp(prefix="kcs-fuzz-summaries-"))

    def case(content: bytes | str) -> None:
        d = tmp / "case"
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir()
        f = d / "index.json"
        _place(f, content)
        for read in (load_results, load_baseline, _load_index):
            try:
                read(f)
            except UsageError as e:
                assert "\n" not in str(e) and len(str(e)) < 2000, str(e)[:300]
        texts, unread = _read_summaries([f])
        assert len(texts) + len(unread) == 1

    _run(case, (_json_file(),), examples)
    shutil.rmtree(tmp)


def runsdirs(examples: int) -> None:
    """The runs-directory walkers (runs prune's choice, history's finder) over run-like directories
    holding FIFOs, devices, symlinks, huge and deep files → no hang, no traceback, nothing removed
    that is not a run of ours."""
    from kcoro_stream.errors import UsageError
    from kcoro_stream.history._prune import choose_prunes
    from kcoro_stream.history._query import _read_summaries, find_summaries

    tmp = Path(tempfile.mkdtemp(prefix="kcs-fuzz-runsdirs-"))
    names = ["summary.json", "writer.lock", "segment-000001.kcslog", "segment-000002.kcsidx"]

    def case(entries: list[tuple[int, str, bytes | str]]) -> None:
        runs = tmp / "runs"
        shutil.rmtree(runs, ignore_errors=True)
        runs.mkdir()
        for i, name, content in entries:
            d = runs / f"20260101-00000{i}-abcdef"
            d.mkdir(exist_ok=True)
            if not os.path.lexists(d / name):
                _place(d / name, content)
        try:
            choice = choose_prunes(runs, 0, None)
        except UsageError as e:
            assert "\n" not in str(e), str(e)[:300]
            return
        for r in choice.delete:  # only what carries our summary or a segment with our magic
            assert r.path.is_dir() and not r.path.is_symlink()
        found = find_summaries([runs])
        _read_summaries(found.files)

    entry = st.tuples(st.integers(0, 3), st.sampled_from(names), _json_file())
    _run(case, (st.lists(entry, min_size=1, max_size=6),), examples)
    shutil.rmtree(tmp)


TARGETS: dict[str, Callable[[int], None]] = {
    "eventlog": eventlog,
    "frames": frames,
    "legacy": legacy,
    "outputs": outputs,
    "ring": ring,
    "pipelines": pipelines,
    "flags": flags,
    "config": config,
    "control": control,
    "wsrpc": wsrpc,
    "manifests": manifests,
    "summaries": summaries,
    "runsdirs": runsdirs,
}
