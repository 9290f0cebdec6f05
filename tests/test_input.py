"""Reading plain, gzip and zstd files (kcoro_stream._input): codec by magic, breaks are InputErrors."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import zstandard

from kcoro_stream._input import open_input
from kcoro_stream.errors import InputError

PAYLOAD = b'{"a":1}\n{"b":2}\n'


def test_open_input_picks_the_codec_by_magic_not_suffix(tmp_path: Path) -> None:
    path = tmp_path / "compressed-without-suffix"
    path.write_bytes(zstandard.ZstdCompressor().compress(PAYLOAD))
    with open_input(path) as f:
        assert f.read() == PAYLOAD


def test_open_input_reads_concatenated_zstd_frames_and_gzip_members(tmp_path: Path) -> None:
    z = tmp_path / "multi.zst"
    c = zstandard.ZstdCompressor()
    z.write_bytes(c.compress(b"one\n") + c.compress(b"two\n"))
    g = tmp_path / "multi.gz"
    g.write_bytes(gzip.compress(b"one\n") + gzip.compress(b"two\n"))
    for path in (z, g):
        with open_input(path) as f:
            assert f.read() == b"one\ntwo\n"


@pytest.mark.parametrize("suffix", [".zst", ".gz"])
def test_truncated_compressed_input_is_an_input_error_after_the_good_data(
    tmp_path: Path, suffix: str
) -> None:
    """zstandard alone would return a short read silently; we must not."""
    data = b"".join(b'{"n":%d}\n' % i for i in range(2000))
    blob = zstandard.ZstdCompressor().compress(data) if suffix == ".zst" else gzip.compress(data)
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(blob[: len(blob) - 7])
    got = bytearray()
    with open_input(path) as f, pytest.raises(InputError) as e:
        while chunk := f.read(100):
            got += chunk
    assert str(e.value).startswith(f"{path}: truncated")
    assert data.startswith(bytes(got))


def test_suffix_that_lies_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "plain.ndjson.gz"
    path.write_bytes(PAYLOAD)
    with pytest.raises(InputError, match="not gzip data"):
        open_input(path)


def test_missing_input_is_one_line_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot open"):
        open_input(tmp_path / "nope.ndjson")
