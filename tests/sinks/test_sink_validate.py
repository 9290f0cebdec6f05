"""validate_file: every malformed line reported with its number, legacy lines accepted, never raises."""

from __future__ import annotations

import gzip
from pathlib import Path

import msgspec
import pytest
import zstandard
from file_factory import make_sink, one_of_each, run_sink, sample
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kcoro_stream.errors import InputError
from kcoro_stream.events import encode_json_line
from kcoro_stream.validate import ValidationProblem, ValidationReport, format_report, validate_file

GOOD = one_of_each(0)


def good_lines() -> list[bytes]:
    buf = bytearray()
    for e in GOOD:
        encode_json_line(e, buf)
    return bytes(buf).splitlines(keepends=True)


LEGACY_CHANNEL_2 = (
    b'{"schema":2,"ts":1700000000.123456,"mode":"channel","pps":1250000.5,"gbps":0.64,'
    b'"smooth_pps":1200000,"smooth_gbps":0.61,"duration_ms":250,"cpu":97.5,"mem_kb":10240,'
    b'"producers":4,"consumers":4,"kind":"buffered","capacity":1024,"depth":17,"capabilities":3,'
    b'"closed":false,"ptr_mode":0,"zref_mode":0,"fail_send_eagain_total":0,"fail_recv_eagain_total":5,'
    b'"fail_send_epipe_total":0,"fail_recv_epipe_total":0,"fail_send_eagain_delta":0,'
    b'"fail_recv_eagain_delta":1,"fail_send_epipe_delta":0,"fail_recv_epipe_delta":0,'
    b'"bytes_sent_total":640000,"bytes_recv_total":640000,"bytes_sent_delta":1600,"bytes_recv_delta":1600,'
    b'"zref_sent_total":0,"zref_received_total":0,"zref_aborted_total":0,"zref_sent_delta":0,'
    b'"zref_received_delta":0,"zref_aborted_delta":0,"rv_matches_total":0,"rv_cancels_total":0,'
    b'"rv_zdesc_total":0,"rv_matches_delta":0,"rv_cancels_delta":0,"rv_zdesc_delta":0}\n'
)
LEGACY_CHANNEL_1 = b'{"schema":1,"ts":1600000000.5,"mode":"channel","pps":10,"gbps":0.001,"cpu":12}\n'
LEGACY_TASKS = (
    b'{"schema":2,"ts":1700000000.25,"mode":"tasks","tasks_sec":2.5e6,"smooth_tasks_sec":2.4e6,'
    b'"fastpath_ratio":0.93,"steal_ratio":0.4,"gbps":null,"pps":null}\n'
)
LEGACY_SUMMARY_ZERO = (
    b'{"schema":2,"type":"summary","mode":"channel","peak_pps":0,"peak_gbps":0,"avg_pps":0,"avg_gbps":0,'
    b'"ema_pps":0,"ema_gbps":0,"mismatch_msgs":0,"fail_send_eagain_total":0,"fail_recv_eagain_total":0,'
    b'"fail_send_epipe_total":0,"fail_recv_epipe_total":0,"bytes_sent_total":0,"bytes_recv_total":0}\n'
)
LEGACY_TASKS_SUMMARY = (
    b'{"schema":1,"type":"summary","mode":"tasks","peak_tasks_sec":3e6,"avg_tasks_sec":2e6,'
    b'"ema_tasks_sec":2.1e6,"fastpath_ratio":0.9,"steal_ratio":0.3}\n'
)


def write(path: Path, data: bytes) -> Path:
    if path.name.endswith(".gz"):
        data = gzip.compress(data)
    elif path.name.endswith(".zst"):
        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("name", ["good.ndjson", "good.ndjson.gz", "good.ndjson.zst"])
def test_good_files_pass_with_counts_per_type(tmp_path: Path, name: str) -> None:
    report = validate_file(write(tmp_path / name, b"".join(good_lines() * 3)))
    assert report.ok and report.problems == []
    assert (report.lines, report.events, report.legacy) == (24, 24, 0)
    assert report.types == {
        t: 3 for t in ("sample", "histogram", "heatmap", "alert", "anomaly", "kpi", "summary", "status")
    }
    tally = "alert 3, anomaly 3, heatmap 3, histogram 3, kpi 3, sample 3, status 3, summary 3"
    assert format_report(report).endswith(f": ok: 24 lines, 24 events ({tally})")


async def test_what_the_ndjson_sink_writes_validates(tmp_path: Path) -> None:
    path = tmp_path / "sink.ndjson.zst"
    await run_sink(make_sink(f"ndjson:{path}"), [one_of_each(i) for i in range(50)])
    report = validate_file(path)
    assert report.ok and report.events == 400


def test_schema3_recordings_stay_valid() -> None:
    """A file written before typed derived events (schema 3: Sample.extra, Summary.totals) validates."""
    path = Path(__file__).resolve().parents[2] / "bench_data" / "derived" / "schema3.ndjson"
    assert b'"schema":3' in path.read_bytes() and b'"extra":{' in path.read_bytes()
    report = validate_file(path)
    assert report.ok and report.problems == [] and report.events == report.lines == 10
    assert report.types["sample"] == 2 and report.types["summary"] == 2


def test_old_monitor_lines_are_valid_and_counted_separately(tmp_path: Path) -> None:
    data = LEGACY_CHANNEL_2 + LEGACY_CHANNEL_1 + LEGACY_TASKS + LEGACY_SUMMARY_ZERO + LEGACY_SUMMARY_ZERO
    data += LEGACY_TASKS_SUMMARY + good_lines()[0]
    report = validate_file(write(tmp_path / "old.ndjson.gz", data))
    assert report.problems == []
    assert (report.lines, report.legacy, report.events) == (7, 6, 1)
    assert "6 kcoro_mon lines" in format_report(report)


BAD_LINES: list[tuple[bytes, str]] = [
    (b"\n", "blank line"),
    (b"   \t\n", "blank line"),
    (b'{"type":"sample",\n', "invalid JSON"),
    (b"[1,2]\n", "not a JSON object (got an array)"),
    (b'"sample"\n', "not a JSON object (got a string)"),
    (b'{"a":1}\n', "missing fields `type` and `schema`"),
    (b'{"type":"sample","ts":1}\n', "missing field `schema`"),
    (b'{"type":"sample","schema":"3"}\n', "`schema` must be an integer, got a string"),
    (b'{"schema":3,"ts":1.0}\n', "missing field `type`"),
    (b'{"type":7,"schema":3}\n', "`type` must be a string"),
    (b'{"type":"gauge","schema":3}\n', "unknown type 'gauge'"),
    (b'{"type":"sample","schema":6}\n', "wrong schema 6 for type 'sample', expected 5 (newer"),
    (b'{"type":"sample","schema":0}\n', "wrong schema 0 for type 'sample', expected 5"),
    (
        b'{"type":"sample","schema":3,"ts":1.0,"ts_ns":1,"mode":"tasks","window_ns":1,"extra":[1]}\n',
        "invalid sample: Expected `object | null`, got `array` - at `$.extra`",
    ),
    (
        b'{"type":"summary","schema":3,"ts":1.0,"ts_ns":1,"mode":"tasks","samples":0,"duration_s":0,'
        b'"peak":{},"avg":{},"ema":{}}\n',
        "invalid summary: Object missing required field `totals`",
    ),
    (
        b'{"type":"sample","schema":3,"ts":1.0,"mode":"tasks","window_ns":1}\n',
        "Object missing required field `ts_ns`",
    ),
    (
        b'{"type":"sample","schema":3,"ts":1.0,"ts_ns":"5","mode":"tasks","window_ns":1}\n',
        "invalid sample: Expected `int`, got `str` - at `$.ts_ns`",
    ),
    (
        b'{"type":"alert","schema":3,"ts":1,"ts_ns":1,"rule":"r","severity":"loud","state":"firing",'
        b'"value":1,"threshold":1,"message":"m"}\n',
        "invalid alert: Invalid enum value 'loud' - at `$.severity`",
    ),
    (b'{"schema":9,"ts":1.0}\n', "unknown schema 9"),
    (
        b'{"schema":2,"ts":1.0,"mode":"channel"}\n',
        "kcoro_mon schema 2 sample: Object missing required field `pps`",
    ),
    (
        b'{"schema":2,"ts":1.0,"mode":"idle","pps":1}\n',
        "kcoro_mon schema 2 sample: Invalid value 'idle' - at `$.mode`",
    ),
    (b'{"schema":1,"ts":1.0,"mode":"tasks","tasks_sec":"fast"}\n', "at `$.tasks_sec`"),
    (b'{"schema":2,"type":"sample","ts":1.0}\n', "type 'sample' with kcoro_mon schema 2"),
    (
        b'{"schema":2,"type":"summary","mode":"tasks"}\n',
        "summary: Object missing required field `peak_tasks_sec`",
    ),
    (b'{"type":"sample","schema":3,"ts":NaN}\n', "invalid JSON"),
    (b'{"type":"status","schema":3,"message":"\xff"}\n', "invalid JSON"),
]


@pytest.mark.parametrize(("bad", "reason"), BAD_LINES, ids=[r for _, r in BAD_LINES])
def test_each_kind_of_bad_line_is_reported_at_its_line(tmp_path: Path, bad: bytes, reason: str) -> None:
    lines = good_lines()
    data = b"".join(lines[:3]) + bad + b"".join(lines[3:])
    report = validate_file(write(tmp_path / "bad.ndjson", data))
    assert report.problem_count == 1
    (problem,) = report.problems
    assert problem.line == 4
    assert reason in problem.reason
    assert report.events == len(lines)
    assert format_report(report).splitlines()[0] == f"{tmp_path / 'bad.ndjson'}:4: {problem.reason}"


def test_many_problems_keep_their_line_numbers_and_are_capped(tmp_path: Path) -> None:
    data = b"".join([good_lines()[0], b"x\n"] * 30)
    report = validate_file(write(tmp_path / "many.ndjson.zst", data), max_problems=10)
    assert report.problem_count == 30
    assert [p.line for p in report.problems] == list(range(2, 21, 2))
    text = format_report(report)
    assert "... 20 more problems not shown" in text
    assert text.endswith("30 problems: 60 lines, 30 events (sample 30)")


def test_last_line_without_newline_is_still_checked(tmp_path: Path) -> None:
    data = b"".join(good_lines()[:2]) + b'{"type":"sample"'
    report = validate_file(write(tmp_path / "cut.ndjson", data))
    assert report.problems == [ValidationProblem(3, "invalid JSON: Input data was truncated")]


def test_overlong_line_is_one_problem_and_the_next_line_is_checked(tmp_path: Path) -> None:
    lines = good_lines()
    data = lines[0] + b'{"pad":"' + b"x" * 5000 + b'"}\n' + lines[1]
    report = validate_file(write(tmp_path / "long.ndjson", data), max_line_bytes=2000)
    assert report.problems == [ValidationProblem(2, "line longer than 2000 bytes")]
    assert (report.lines, report.events) == (3, 2)


@pytest.mark.parametrize("suffix", [".gz", ".zst"])
def test_truncated_compressed_stream_is_reported_where_it_broke(tmp_path: Path, suffix: str) -> None:
    line = good_lines()[0]
    data = line * 5000
    blob = gzip.compress(data) if suffix == ".gz" else zstandard.ZstdCompressor().compress(data)
    path = tmp_path / f"cut.ndjson{suffix}"
    path.write_bytes(blob[: len(blob) * 2 // 3])
    report = validate_file(path)
    assert report.problem_count == 1 and report.stopped_early
    (problem,) = report.problems
    assert problem.reason.startswith(f"truncated {'gzip' if suffix == '.gz' else 'zstd'} stream")
    assert problem.line == report.lines + 1  # the first line it could not read
    assert 0 < report.events == report.lines < 5000
    assert "stopped at a broken stream" in format_report(report)


def test_corrupt_zstd_block_is_reported_not_raised(tmp_path: Path) -> None:
    data = b"".join(good_lines()) * 200
    blob = bytearray(zstandard.ZstdCompressor(write_checksum=True).compress(data))
    blob[len(blob) // 2] ^= 0xFF
    path = tmp_path / "flip.ndjson.zst"
    path.write_bytes(bytes(blob))
    report = validate_file(path)
    assert not report.ok
    assert report.stopped_early
    assert "zstd" in report.problems[-1].reason


def test_suffix_promising_compression_on_plain_bytes(tmp_path: Path) -> None:
    path = tmp_path / "plain.ndjson.zst"
    path.write_bytes(b"".join(good_lines()))
    report = validate_file(path)
    assert report.problems == [ValidationProblem(1, "not zstd data (suffix says zstd)")]


def test_empty_file_is_ok_with_zero_lines(tmp_path: Path) -> None:
    report = validate_file(write(tmp_path / "empty.ndjson", b""))
    assert report.ok and report.lines == 0
    assert format_report(report).endswith("ok: 0 lines, 0 events")


def test_unopenable_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot open"):
        validate_file(tmp_path / "missing.ndjson")
    with pytest.raises(InputError, match="is a directory"):
        validate_file(tmp_path)


def test_report_round_trips_as_json(tmp_path: Path) -> None:
    """The report is a msgspec Struct, so a CLI or CI job can emit it as JSON."""
    report = validate_file(write(tmp_path / "r.ndjson", good_lines()[0] + b"oops\n"))
    again = msgspec.json.decode(msgspec.json.encode(report), type=ValidationReport)
    assert again == report
    assert again.problems == [ValidationProblem(2, report.problems[0].reason)]


# ------------------------------------------------------------------ fuzz

_json_ish = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
_field_names = st.sampled_from(
    ["type", "schema", "ts", "ts_ns", "mode", "pps", "tasks_sec", "rule", "window_ns"]
)
_near_events = st.dictionaries(
    _field_names, _json_ish | st.sampled_from(["sample", "summary", "alert", 1, 2, 3])
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lines=st.lists(
        st.binary(max_size=64) | _near_events.map(msgspec.json.encode) | st.sampled_from(good_lines()),
        max_size=12,
    ),
    codec=st.sampled_from(["", ".gz", ".zst", "garbage.zst", "garbage.gz"]),
    cut=st.none() | st.integers(min_value=0, max_value=400),
    flip=st.none() | st.integers(min_value=0, max_value=400),
)
def test_fuzzed_files_never_raise(
    tmp_path: Path, lines: list[bytes], codec: str, cut: int | None, flip: int | None
) -> None:
    """Random bytes, near-miss events, truncation and bit flips: problems only, never an exception."""
    data = b"\n".join(lines)
    if codec == ".gz":
        blob = bytearray(gzip.compress(data))
    elif codec == ".zst":
        blob = bytearray(zstandard.ZstdCompressor().compress(data))
    elif codec.startswith("garbage"):  # right magic, random body
        blob = bytearray((b"\x28\xb5\x2f\xfd" if codec.endswith("zst") else b"\x1f\x8b") + data)
    else:
        blob = bytearray(data)
    if flip is not None and blob:
        blob[flip % len(blob)] ^= 0x5A
    if cut is not None:
        del blob[cut:]
    path = tmp_path / f"fuzz.ndjson{codec.removeprefix('garbage')}"
    path.write_bytes(bytes(blob))
    report = validate_file(path)
    assert report.problem_count == len(report.problems)
    assert all(1 <= p.line <= report.lines + 1 for p in report.problems)
    assert report.events + report.legacy + len({p.line for p in report.problems}) >= report.lines
    format_report(report)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(i=st.integers(min_value=0, max_value=10_000), partial=st.booleans())
def test_any_sample_the_schema_allows_round_trips(tmp_path: Path, i: int, partial: bool) -> None:
    buf = bytearray()
    encode_json_line(sample(i, partial=partial), buf)
    path = tmp_path / "one.ndjson"
    path.write_bytes(bytes(buf))
    assert validate_file(path).types == {"sample": 1}
