"""Hostile old kcoro_mon NDJSON: huge lines, absurd numbers, deep nesting, broken compression (finding H)."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
import zstandard

from kcoro_stream.errors import InputError
from kcoro_stream.sources.legacy import MAX_LINE_BYTES, is_legacy_ndjson, legacy_events

REPO = Path(__file__).resolve().parents[2]
GOOD = (REPO / "bench_data" / "legacy" / "channel_schema2.ndjson").read_bytes().splitlines(keepends=True)[0]
KS = [sys.executable, "-m", "kcoro_stream"]


def drain(path: Path) -> int:
    return sum(1 for _ in legacy_events(path))


def test_h_a_long_line_is_refused_at_the_limit_in_bounded_memory(tmp_path: Path) -> None:
    """20 MB without a newline: one error naming file:line, memory ~ the limit (not the line)."""
    path = tmp_path / "long.ndjson"
    with open(path, "wb") as f:
        f.write(GOOD)
        for _ in range(20):
            f.write(b"x" * (1 << 20))
    tracemalloc.start()
    try:
        with pytest.raises(InputError, match=rf"^{path}:2: line longer than {MAX_LINE_BYTES} bytes$"):
            drain(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MAX_LINE_BYTES


def test_h_a_300_mb_line_inside_a_small_zst_is_not_inflated(tmp_path: Path) -> None:
    path = tmp_path / "bomb.ndjson.zst"
    cobj = zstandard.ZstdCompressor(level=1).compressobj()
    block = b"7" * (1 << 20)
    data = cobj.compress(GOOD) + b"".join(cobj.compress(block) for _ in range(300)) + cobj.flush()
    path.write_bytes(data)
    assert len(data) < 200_000
    tracemalloc.start()
    try:
        with pytest.raises(InputError, match=r":2: line longer than"):
            drain(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MAX_LINE_BYTES


def test_h_many_short_lines_still_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "many.ndjson"
    path.write_bytes(GOOD * 5000)
    assert drain(path) == 5000


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "big_ts.ndjson",
            GOOD + GOOD.replace(b'"ts":1700000000.25', b'"ts":1e303'),
            r":2: field 'ts' is out of range",
        ),
        (
            "neg_ts.ndjson",
            GOOD.replace(b'"ts":1700000000.25', b'"ts":-5'),
            r":1: field 'ts' is not a plausible time",
        ),
        (
            "huge_rate.ndjson",
            GOOD.replace(b'"gbps":0.529311', b'"gbps":1e303'),
            r":1: field 'gbps' is out of range",
        ),
        ("deep.ndjson", GOOD + b'{"schema":2,"x":' + b"[" * 1000 + b"]" * 1000 + b"}\n", r":2: invalid JSON"),
        ("deeper.ndjson", GOOD + b"[" * 100_000 + b"\n", r":2: invalid JSON"),
        ("bad_utf8.ndjson", GOOD + b'{"schema":2,"mode":"\xff\xfe"}\n', r":2: invalid JSON"),
    ],
)
def test_h_bad_values_are_one_line_errors(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        drain(path)


def test_h_corrupt_and_truncated_compression_are_one_line_errors(tmp_path: Path) -> None:
    data = gzip.compress(GOOD * 50)
    corrupt = tmp_path / "corrupt.ndjson.gz"
    corrupt.write_bytes(data[:20] + bytes(b ^ 0x55 for b in data[20:40]) + data[40:])
    trunc = tmp_path / "trunc.ndjson.gz"
    trunc.write_bytes(data[:-10])
    zbad = tmp_path / "bad.ndjson.zst"
    z = zstandard.ZstdCompressor().compress(GOOD * 50)
    zbad.write_bytes(z[:12] + bytes(64) + z[76:])
    for path in (corrupt, trunc, zbad):
        with pytest.raises(InputError, match=rf"^{path}: cannot read near line \d+: "):
            is_legacy_ndjson(path) and drain(path)


def test_h_a_fifo_is_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "f.ndjson"
    os.mkfifo(fifo)
    assert not is_legacy_ndjson(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        drain(fifo)  # opened O_NONBLOCK and judged by fstat: no wait for a writer


@pytest.mark.parametrize("name", ["big_ts.ndjson", "deep.ndjson", "corrupt.ndjson.gz"])
def test_h_cli_replay_of_hostile_legacy_files_is_one_line(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    if name == "big_ts.ndjson":
        path.write_bytes(GOOD + GOOD.replace(b'"ts":1700000000.25', b'"ts":1e303'))
    elif name == "deep.ndjson":
        path.write_bytes(GOOD + b'{"a":' + b"[" * 1000 + b"]" * 1000 + b"}\n")
    else:
        data = gzip.compress(GOOD * 50)
        path.write_bytes(data[:20] + bytes(b ^ 0x55 for b in data[20:40]) + data[40:])
    r = subprocess.run(
        [*KS, "replay", str(path), "--no-tui", "--no-stdout"], capture_output=True, text=True, timeout=60
    )
    lines = r.stderr.strip().splitlines()
    assert r.returncode in (1, 2) and len(lines) == 1 and str(path) in lines[0], r.stderr
