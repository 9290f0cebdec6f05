"""Old kcoro_mon NDJSON recordings: detection, conversion, errors, replay through the analyses."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import msgspec
import pytest
from reactivex.subject import Subject

from kcoro_stream import ops
from kcoro_stream.errors import InputError
from kcoro_stream.events import ChannelState, Kpi, Metrics, Sample, Summary
from kcoro_stream.sources.legacy import is_legacy_ndjson, iter_legacy_batches, legacy_events

DATA = Path(__file__).resolve().parents[2] / "bench_data" / "legacy"
FILES = sorted(DATA.iterdir())


def _raw_lines(path: Path) -> list[dict]:
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    elif path.suffix == ".zst":
        import zstandard

        data = zstandard.ZstdDecompressor().decompress(data, max_output_size=1 << 24)
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def _events(path: Path) -> list:
    out = []
    for batch in iter_legacy_batches(path):
        assert len(batch) == 1
        out.extend(batch)
    return out


def test_recordings_cover_both_schemas_modes_and_compressions():
    kinds = {(d.get("schema"), d.get("mode"), d.get("type")) for f in FILES for d in _raw_lines(f)}
    assert {(1, "channel", None), (2, "channel", None), (1, "tasks", None), (2, "tasks", None)} <= kinds
    assert {(2, "channel", "summary"), (2, "tasks", "summary"), (1, "tasks", "summary")} <= kinds
    assert {f.suffix for f in FILES} >= {".ndjson", ".gz", ".zst"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_recording_is_detected_and_converts_line_for_line(path):
    assert is_legacy_ndjson(path)
    raw = _raw_lines(path)
    events = _events(path)
    assert len(events) == len(raw)
    for d, e in zip(raw, events, strict=True):
        assert isinstance(e, Summary if d.get("type") == "summary" else Sample)


def test_other_files_are_not_legacy(tmp_path):
    new = tmp_path / "new.ndjson"
    new.write_text('{"type":"sample","schema":3,"ts":1.0,"ts_ns":1,"mode":"tasks","window_ns":1}\n')
    binary = tmp_path / "seg.bin"
    binary.write_bytes(b"\x00\x01KCSLOG\xff" * 10)
    empty = tmp_path / "empty.ndjson"
    empty.write_text("\n\n")
    assert not is_legacy_ndjson(new)
    assert not is_legacy_ndjson(binary)
    assert not is_legacy_ndjson(empty)
    assert not is_legacy_ndjson(tmp_path)
    assert not is_legacy_ndjson(tmp_path / "missing.ndjson")


def test_channel_schema2_fields_are_renamed_and_kept():
    raw = _raw_lines(DATA / "channel_schema2.ndjson")
    events = _events(DATA / "channel_schema2.ndjson")
    s, d = events[0], raw[0]
    assert s.mode == "channel" and s.msgs_per_s == d["pps"] and s.gbps == d["gbps"]
    assert s.bytes_per_s == pytest.approx(d["gbps"] * 1e9 / 8)
    assert s.smooth == Metrics(msgs_per_s=d["smooth_pps"], gbps=d["smooth_gbps"])
    assert s.channel_depth == d["depth"]
    assert s.channel_totals.send_eagain == d["fail_send_eagain_total"]
    assert s.channel_deltas.zc_recv == d["zref_received_delta"]
    assert s.channel_totals.sends is None  # kcoro_mon did not report sends
    assert s.channel_state == ChannelState(
        kind="buffered", capacity=d["capacity"], closed=False, ptr_mode=False, producers=4, consumers=4
    )
    assert s.resources.rss_bytes == d["mem_kb"] * 1024
    assert s.legacy.rv_zdesc_delta == 0 and s.legacy.schema == 2 and s.legacy.cpu == d["cpu"]
    assert s.ts == d["ts"] and s.ts_ns == round(d["ts"] * 1e6) * 1000 and s.ts_ns % 1000 == 0
    assert events[1].window_ns == 250_000_000


def test_appended_runs_get_their_own_run_ids():
    events = _events(DATA / "channel_schema2.ndjson")
    ids = [e.run_id for e in events]
    assert ids[0] == "legacy:channel_schema2.ndjson:1"
    assert ids[12] == "legacy:channel_schema2.ndjson:1"  # the first summary closes run 1
    assert ids[13] == ids[-1] == "legacy:channel_schema2.ndjson:2"
    summaries = [e for e in events if isinstance(e, Summary)]
    assert [s.samples for s in summaries] == [12, 4]
    assert summaries[0].channel_totals.bytes_recv > 0 and summaries[0].peak.msgs_per_s > 0


def test_schema1_lacks_channel_attributes():
    s = _events(DATA / "channel_schema1.ndjson")[0]
    assert s.channel_depth is None
    assert s.channel_state is None and s.channel_totals.zc_sent is None
    assert s.channel_totals.send_eagain is not None
    assert s.legacy.schema == 1


def test_tasks_mode_null_and_absent_gbps():
    gz = _events(DATA / "tasks_schema2.ndjson.gz")
    zst = _events(DATA / "tasks_schema1.ndjson.zst")
    for s in (gz[0], zst[0]):
        assert s.mode == "tasks" and s.gbps is None and s.bytes_per_s is None
        assert s.tasks_per_s and 0 < s.fastpath_ratio < 1 and 0 < s.steal_ratio < 1
        assert s.smooth.tasks_per_s is not None


def test_all_zero_and_repeated_summaries():
    events = _events(DATA / "zero_summaries.ndjson")
    first, second = events[0], events[1]
    assert isinstance(first, Summary) and first.samples == 0 and first.ts == 0.0
    assert first.peak == Metrics(msgs_per_s=0.0, gbps=0.0)
    assert isinstance(second, Summary) and second.run_id != first.run_id
    assert isinstance(events[-1], Summary) and events[-1].samples == 0


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "expected a JSON object, got list"),
        ('{"schema":3,"ts":1,"mode":"tasks","tasks_sec":1}', "unknown schema 3"),
        ('{"schema":2,"ts":1,"mode":"dual","tasks_sec":1}', "unknown mode 'dual'"),
        ('{"schema":2,"ts":1,"mode":"channel","pps":"fast"}', "field 'pps' must be a number"),
        ('{"schema":2,"mode":"tasks","tasks_sec":1}', "missing field 'ts'"),
        ('{"schema":2,"ts":1,"mode":"tasks"}', "missing field 'tasks_sec'"),
        ('{"schema":2,"type":"alert","mode":"tasks"}', "unknown record type 'alert'"),
        ('{"schema":2,"type":"summary","mode":"channel","bytes_sent_total":1.5}', "must be an integer"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path, line, reason):
    path = tmp_path / "old.ndjson"
    good = '{"schema":2,"ts":1.0,"mode":"tasks","tasks_sec":5,"fastpath_ratio":0.5,"steal_ratio":0.1}'
    path.write_text(f"{good}\n\n{line}\n")
    with pytest.raises(InputError) as info:
        list(iter_legacy_batches(path))
    msg = str(info.value)
    assert msg.startswith(f"{path}:3: ") and reason in msg and "\n" not in msg


def test_corrupt_compressed_file_is_an_input_error(tmp_path):
    path = tmp_path / "old.ndjson.gz"
    path.write_bytes(
        gzip.compress(b'{"schema":2,"ts":1.0,"mode":"tasks","tasks_sec":5}\n' * 50)[:-20] + b"garbage!"
    )
    with pytest.raises(InputError, match=r"old\.ndjson\.gz"):
        list(legacy_events(path))


def _replay(path: Path) -> list:
    subject: Subject = Subject()
    out: list = []
    errors: list = []
    ops.default_analyses()(subject).subscribe(out.append, errors.append)
    for batch in iter_legacy_batches(path):
        subject.on_next(batch)
    subject.on_completed()
    assert not errors
    return out


def test_old_recordings_replay_through_the_default_analyses():
    """Samples pass through (smoothed), each run's recorded summary appears once, KPIs are derived."""
    out = _replay(DATA / "channel_schema2.ndjson")
    samples = [e for e in out if isinstance(e, Sample)]
    summaries = [e for e in out if isinstance(e, Summary)]
    assert len(samples) == 16 and len(summaries) == 2
    assert all(s.ema and s.ema.msgs_per_s is not None for s in samples)
    assert samples[0].smooth.msgs_per_s == _raw_lines(DATA / "channel_schema2.ndjson")[0]["smooth_pps"]
    assert any(isinstance(e, Kpi) for e in out)


def test_recording_without_summary_gets_a_computed_one(tmp_path):
    path = tmp_path / "cut.ndjson"
    lines = [
        line for line in (DATA / "channel_schema1.ndjson").read_text().splitlines() if '"summary"' not in line
    ]
    path.write_text("\n".join(lines) + "\n")
    summaries = [e for e in _replay(path) if isinstance(e, Summary)]
    assert len(summaries) == 1 and summaries[0].samples == len(lines)
    assert summaries[0].peak.msgs_per_s == max(json.loads(x)["pps"] for x in lines)


def test_legacy_source_imports_only_events_errors_and_the_source_contract():
    """Converting old lines needs no ring, log, operator or sink: only the schema, the one reader of
    compressed input (_input) and sources' own base."""
    import ast

    import kcoro_stream.sources.legacy as mod

    tree = ast.parse(Path(mod.__file__).read_text())
    absolute = {
        n.module
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("kcoro_stream") and not n.level
    }
    relative = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level}
    assert absolute <= {"kcoro_stream.events", "kcoro_stream.errors", "kcoro_stream._input"}
    assert relative <= {"_base", "_registry", "replay"}  # the source contract and playback


# Lines exactly as kcoro_mon's C code writes them (OLD_MONITOR.md: the channel
# attributes are integers, the C enum and flag values).
_C_LINE = (
    '{{"schema":2,"ts":{ts:.6f},"mode":"channel","pps":1033810.000000,"gbps":0.529311,'
    '"smooth_pps":1033810.000000,"smooth_gbps":0.529311,"duration_ms":250,"cpu":94.1,"mem_kb":10271,'
    '"producers":4,"consumers":4,"kind":{kind},"capacity":{capacity},"depth":457,"capabilities":3,'
    '"closed":{closed},"ptr_mode":{ptr},"zref_mode":{zref},'
    '"fail_send_eagain_total":0,"fail_recv_eagain_total":0,"fail_send_epipe_total":0,'
    '"fail_recv_epipe_total":0,"fail_send_eagain_delta":0,"fail_recv_eagain_delta":0,'
    '"fail_send_epipe_delta":0,"fail_recv_epipe_delta":0,"bytes_sent_total":16540928,'
    '"bytes_recv_total":16540928,"bytes_sent_delta":16540928,"bytes_recv_delta":16540928,'
    '"zref_sent_total":0,"zref_received_total":0,"zref_aborted_total":0,"zref_sent_delta":0,'
    '"zref_received_delta":0,"zref_aborted_delta":0,"rv_matches_total":0,"rv_cancels_total":0,'
    '"rv_zdesc_total":0,"rv_matches_delta":0,"rv_cancels_delta":0,"rv_zdesc_delta":0}}'
)


@pytest.mark.parametrize(
    ("kind", "capacity", "closed", "ptr", "zref", "want"),
    [
        (1, 16384, 0, 1, 1, ChannelState(kind="buffered", capacity=16384, closed=False, ptr_mode=True)),
        (0, 0, 1, 0, 0, ChannelState(kind="rendezvous", capacity=0, closed=True, ptr_mode=False)),
        # a kind this reader does not know: capacity 0 is a rendezvous channel, else buffered
        (7, 0, 0, 0, 0, ChannelState(kind="rendezvous", capacity=0, closed=False, ptr_mode=False)),
        (7, 64, 0, 0, 0, ChannelState(kind="buffered", capacity=64, closed=False, ptr_mode=False)),
    ],
)
def test_integer_channel_fields_as_the_c_monitor_writes_them(
    tmp_path, kind, capacity, closed, ptr, zref, want
):
    path = tmp_path / "old.ndjson"
    line = _C_LINE.format(ts=1700000000.25, kind=kind, capacity=capacity, closed=closed, ptr=ptr, zref=zref)
    path.write_text(line + "\n")
    (s,) = _events(path)
    assert s.channel_state == msgspec.structs.replace(want, producers=4, consumers=4)
    # the raw integers are kept, and -j writes them back unchanged
    old = ops.to_legacy(s)
    assert (old["kind"], old["capacity"], old["closed"], old["ptr_mode"], old["zref_mode"]) == (
        kind,
        capacity,
        closed,
        ptr,
        zref,
    )
    assert all(type(old[k]) is int for k in ("kind", "capacity", "closed", "ptr_mode", "zref_mode"))


@pytest.mark.parametrize(
    ("field", "value"),
    [("closed", "2"), ("ptr_mode", "-1"), ("zref_mode", "1.5"), ("kind", "-1"), ("kind", '"x"')],
)
def test_channel_fields_out_of_their_c_range_are_one_line_errors(tmp_path, field, value):
    values = {"kind": "1", "capacity": "16", "closed": "0", "ptr": "0", "zref": "0"}
    values["ptr" if field == "ptr_mode" else "zref" if field == "zref_mode" else field] = value
    path = tmp_path / "old.ndjson"
    path.write_text(_C_LINE.format(ts=1.0, **values) + "\n")
    with pytest.raises(InputError) as info:
        list(legacy_events(path))
    assert str(info.value).startswith(f"{path}:1: ") and repr(field) in str(info.value)


def test_the_c_monitors_lines_replay_and_write_back_as_integers(tmp_path):
    """`replay OLD -j OUT` on lines exactly as kcoro_mon wrote them: every line back, integers unchanged."""
    import subprocess
    import sys

    path = tmp_path / "old.ndjson"
    lines = [
        _C_LINE.format(ts=1700000000.25 * 1 + 0.25 * i, kind=1, capacity=16384, closed=0, ptr=1, zref=0)
        for i in range(8)
    ]
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "back.ndjson"
    r = subprocess.run(
        [sys.executable, "-m", "kcoro_stream", "replay", str(path), "-j", str(out), "--no-tui"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    back = [json.loads(x) for x in out.read_text().splitlines()]
    samples = [d for d in back if d.get("type") is None]
    assert len(samples) == 8
    for d, orig in zip(samples, lines, strict=True):
        o = json.loads(orig)
        for k in ("kind", "capacity", "closed", "ptr_mode", "zref_mode"):
            assert d[k] == o[k] and type(d[k]) is int, (k, d[k])


def test_the_fixture_writes_channel_attributes_as_integers():
    """OLD_MONITOR.md: kind, capacity, depth, capabilities, closed, ptr_mode, zref_mode are integers."""
    for d in _raw_lines(DATA / "channel_schema2.ndjson"):
        if d.get("type") is None:
            for k in ("kind", "capacity", "depth", "capabilities", "closed", "ptr_mode", "zref_mode"):
                assert type(d[k]) is int, (k, d[k])
