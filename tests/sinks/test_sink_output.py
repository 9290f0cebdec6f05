"""Shared output helpers: codecs by suffix, atomic no-clobber publish (reading back: tests/test_input.py)."""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import pytest
import trio
from file_factory import temp_files
from hypothesis import given
from hypothesis import strategies as st

from kcoro_stream._input import codec_for, open_input
from kcoro_stream.errors import SinkError, UsageError
from kcoro_stream.sinks import open_output
from kcoro_stream.sinks._output import BufferedOutput, parse_path_arg

PAYLOAD = b'{"a":1}\n{"b":2}\n'


@pytest.mark.parametrize(
    ("name", "codec", "decompress"),
    [
        ("out.ndjson", "none", None),
        ("out.ndjson.gz", "gzip", ["gzip", "-dc"]),
        ("out.ndjson.zst", "zstd", ["zstd", "-dc"]),
    ],
)
def test_output_round_trips_through_the_real_tools(
    tmp_path: Path, name: str, codec: str, decompress: list[str] | None
) -> None:
    """The suffix picks the codec and the system gzip/zstd read what we wrote."""
    path = tmp_path / name
    assert codec_for(path) == codec
    out = open_output(path)
    out.write(PAYLOAD[:8])
    out.flush()
    out.write(PAYLOAD[8:])
    out.close()
    if decompress is None:
        assert path.read_bytes() == PAYLOAD
    else:
        assert subprocess.run([*decompress, str(path)], capture_output=True, check=True).stdout == PAYLOAD
    with open_input(path) as f:
        assert f.read() == PAYLOAD
    assert temp_files(tmp_path) == []


def test_a_new_file_is_written_in_place_and_readable_after_each_flush(tmp_path: Path) -> None:
    path = tmp_path / "live.ndjson"
    out = open_output(path)
    out.write(PAYLOAD)
    out.flush()
    assert path.read_bytes() == PAYLOAD
    assert temp_files(tmp_path) == []
    out.close()
    assert path.read_bytes() == PAYLOAD


def test_existing_file_is_refused_without_force_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "keep.ndjson"
    path.write_bytes(b"precious\n")
    with pytest.raises(SinkError) as e:
        open_output(path)
    assert str(e.value) == f"{path}: exists (use --force to overwrite)"
    assert path.read_bytes() == b"precious\n"
    assert temp_files(tmp_path) == []


def test_force_replaces_the_existing_file_at_close(tmp_path: Path) -> None:
    path = tmp_path / "replace.ndjson"
    path.write_bytes(b"old\n")
    out = open_output(path, force=True)
    out.write(PAYLOAD)
    assert path.read_bytes() == b"old\n"  # still the old one until close
    out.close()
    assert path.read_bytes() == PAYLOAD


def test_a_symlink_planted_under_a_new_name_is_never_followed(tmp_path: Path) -> None:
    """The in-place file is created O_EXCL|O_NOFOLLOW: a name that appears meanwhile is not clobbered."""
    from kcoro_stream.sinks._output import InPlaceOutput

    path = tmp_path / "race.ndjson"
    victim = tmp_path / "victim"
    victim.write_bytes(b"someone else's\n")
    path.symlink_to(victim)
    with pytest.raises(SinkError, match="exists"):
        InPlaceOutput(path, shown=str(path))
    assert victim.read_bytes() == b"someone else's\n"


def test_abort_of_a_replacement_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "aborted.ndjson.zst"
    path.write_bytes(b"old\n")
    out = open_output(path, force=True)
    out.write(PAYLOAD)
    out.flush()
    out.abort()
    assert path.read_bytes() == b"old\n"
    assert temp_files(tmp_path) == []


@pytest.mark.parametrize(
    ("make_path", "message"),
    [
        (lambda d: d / "missing-dir" / "x.ndjson", "does not exist"),
        (lambda d: d, "is a directory"),
        (lambda d: Path("/sys/kcoro-stream-test.ndjson"), "cannot create"),
    ],
)
def test_unusable_paths_give_one_line_sink_errors(tmp_path: Path, make_path, message: str) -> None:
    path = make_path(tmp_path)
    with pytest.raises(SinkError) as e:
        open_output(path, force=True)
    text = str(e.value)
    assert text.startswith(f"{path}: ")
    assert message in text
    assert "\n" not in text


@pytest.mark.parametrize("name", ["x.ndjson.gz", "x.ndjson.zst"])
def test_bad_compression_level_is_a_sink_error_and_leaves_nothing(tmp_path: Path, name: str) -> None:
    with pytest.raises(SinkError, match="compression level 99"):
        open_output(tmp_path / name, level=99)
    assert os.listdir(tmp_path) == []


def test_dash_writes_to_the_given_stream_and_never_closes_it() -> None:
    stream = io.BytesIO()
    out = open_output("-", stdout=stream)
    out.write(PAYLOAD)
    out.close()
    assert stream.getvalue() == PAYLOAD
    assert not stream.closed


def test_gzip_output_is_deterministic(tmp_path: Path) -> None:
    """mtime=0 and the final name in the header: same events, same bytes."""
    blobs = []
    for i in range(2):
        path = tmp_path / str(i) / "same.ndjson.gz"
        path.parent.mkdir()
        out = open_output(path)
        out.write(PAYLOAD)
        out.close()
        blobs.append(path.read_bytes())
    assert blobs[0] == blobs[1]


# --------------------------------------------------------------- spec args


def test_parse_path_arg_takes_options_from_the_right_only() -> None:
    kw = {"sink": "ndjson", "flags": ("legacy",), "ints": ("level",), "floats": ("flush",)}
    assert parse_path_arg("out.zst,legacy,level=9,flush=0.5", **kw) == {
        "path": "out.zst",
        "legacy": True,
        "level": 9,
        "flush": 0.5,
    }
    assert parse_path_arg("a,b.ndjson", **kw) == {"path": "a,b.ndjson"}
    assert parse_path_arg("x.ndjson,legacy=no", **kw) == {"path": "x.ndjson", "legacy": False}
    with pytest.raises(UsageError, match="not an integer"):
        parse_path_arg("x,level=high", **kw)
    with pytest.raises(UsageError, match="missing output path"):
        parse_path_arg(",legacy", **kw)


# ------------------------------------------------------------ buffering


async def test_pending_data_is_flushed_once_it_is_older_than_the_interval(
    tmp_path: Path, mock_clock: trio.testing.MockClock
) -> None:
    """Flush policy on trio's virtual clock: nothing reaches the file until 1 s passed."""
    path = tmp_path / "timed.ndjson"
    out = open_output(path)
    written: list[int] = []
    buf = BufferedOutput(out, on_written=written.append, on_lost=lambda r, n: None, flush_interval_s=1.0)
    buf.buf.extend(b'{"i":0}\n')
    buf.add(1)
    await buf.maybe_flush()
    assert path.read_bytes() == b""
    mock_clock.jump(0.5)
    await buf.maybe_flush()
    assert path.read_bytes() == b""
    mock_clock.jump(0.6)
    await buf.maybe_flush()
    assert path.read_bytes() == b'{"i":0}\n'
    assert written == [1]
    assert buf.flushes == 1
    buf.close()
    assert path.read_bytes() == b'{"i":0}\n'


async def test_a_full_buffer_is_handed_on_without_waiting_for_the_interval(tmp_path: Path) -> None:
    out = open_output(tmp_path / "big.ndjson")
    written: list[int] = []
    buf = BufferedOutput(
        out, on_written=written.append, on_lost=lambda r, n: None, buffer_bytes=64, flush_interval_s=3600
    )
    for _ in range(10):
        buf.buf.extend(b'{"pad":"%s"}\n' % (b"x" * 20))
        buf.add(1)
        await buf.maybe_flush()
        assert len(buf.buf) < 64
    assert sum(written) >= 8
    buf.close()
    assert len((tmp_path / "big.ndjson").read_bytes().splitlines()) == 10


@given(
    path=st.text(min_size=1, max_size=30).filter(lambda p: "," not in p),
    legacy=st.booleans(),
    level=st.none() | st.integers(min_value=-5, max_value=22),
)
def test_parse_path_arg_recovers_any_comma_free_path_and_its_options(
    path: str, legacy: bool, level: int | None
) -> None:
    arg = path + (",legacy" if legacy else "") + (f",level={level}" if level is not None else "")
    fields = parse_path_arg(arg, sink="ndjson", flags=("legacy",), ints=("level",))
    expected: dict[str, object] = {"path": path}
    if legacy:
        expected["legacy"] = True
    if level is not None:
        expected["level"] = level
    assert fields == expected
