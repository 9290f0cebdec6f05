"""The ndjson sink: every derived event, codecs by suffix, no clobbering, legacy names."""

from __future__ import annotations

import errno
import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from file_factory import (
    alert,
    channel_sample,
    decode_lines,
    make_sink,
    one_of_each,
    run_sink,
    sample,
    status,
    temp_files,
)

import kcoro_stream.ops as ops
from kcoro_stream.errors import SinkError, UsageError
from kcoro_stream.events import DerivedEvent, Sample
from kcoro_stream.sinks import sink_class
from kcoro_stream.sinks.ndjson import NdjsonSink
from kcoro_stream.validate import validate_file

BATCHES: list[list[DerivedEvent]] = [one_of_each(0), [sample(1), sample(2)], [], one_of_each(3)]
ALL = [e for b in BATCHES for e in b]


def test_registered_under_its_name_with_block_policy() -> None:
    assert sink_class("ndjson") is NdjsonSink
    assert NdjsonSink.policy == "block"


@pytest.mark.parametrize(
    ("suffix", "cat"),
    [(".ndjson", ["cat"]), (".ndjson.gz", ["gzip", "-dc"]), (".ndjson.zst", ["zstd", "-dc"])],
)
async def test_every_event_round_trips_through_the_real_decompressor(
    tmp_path: Path, suffix: str, cat: list[str]
) -> None:
    path = tmp_path / f"run{suffix}"
    sink = await run_sink(make_sink(f"ndjson:{path}"), BATCHES)
    text = subprocess.run([*cat, str(path)], capture_output=True, check=True).stdout
    assert decode_lines(text) == ALL
    st = sink.statistics()
    assert (st.received, st.written, st.dropped) == (len(ALL), len(ALL), 0)
    assert st.extra["bytes_written"] == len(text)
    assert validate_file(path).ok
    assert temp_files(tmp_path) == []


async def test_existing_output_is_refused_at_open_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "run.ndjson.zst"
    path.write_bytes(b"keep me")
    sink = make_sink(f"ndjson:{path}")
    with pytest.raises(SinkError) as e:
        await sink.open()
    assert str(e.value) == f"{path}: exists (use --force to overwrite)"
    assert path.read_bytes() == b"keep me"
    assert temp_files(tmp_path) == []


async def test_force_replaces_existing_output(tmp_path: Path) -> None:
    path = tmp_path / "run.ndjson"
    path.write_bytes(b"old\n")
    await run_sink(make_sink(f"ndjson:{path}", force=True), [[sample(0)]])
    assert decode_lines(path.read_bytes()) == [sample(0)]


async def test_write_error_leaves_no_partial_file_and_keeps_the_old_one(tmp_path: Path) -> None:
    """A failing disk: SinkError naming the path; temp removed; existing file untouched."""
    path = tmp_path / "run.ndjson.gz"
    path.write_bytes(b"previous run")
    sink = make_sink({"sink": "ndjson", "path": str(path), "buffer_bytes": 1}, force=True)
    await sink.open()

    def disk_full(data: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    sink._out.output._enc.write = disk_full  # type: ignore[attr-defined]
    with pytest.raises(SinkError) as e:
        await sink.send([sample(0)])
    assert str(e.value).startswith(f"{path}: write failed (No space left on device)")
    await sink.send([sample(1)])  # after a failure: counted, not written, no exception
    await sink.aclose()
    assert path.read_bytes() == b"previous run"
    assert temp_files(tmp_path) == []
    st = sink.statistics()
    assert st.written == 0
    assert st.drop_reasons == {"output_error": 2}


async def test_dash_is_stdout(tmp_path: Path) -> None:
    out = io.BytesIO()
    await run_sink(make_sink("ndjson:-", stdout=out), [[sample(0), alert(0)]])
    assert decode_lines(out.getvalue()) == [sample(0), alert(0)]


async def test_buffer_stays_bounded(tmp_path: Path) -> None:
    sink = make_sink({"sink": "ndjson", "path": str(tmp_path / "b.ndjson"), "buffer_bytes": 4096})
    await sink.open()
    biggest = 0
    for i in range(200):
        await sink.send([sample(i), sample(i + 1)])
        biggest = max(biggest, len(sink._out.buf))  # type: ignore[attr-defined]
    await sink.aclose()
    assert biggest < 4096
    assert len((tmp_path / "b.ndjson").read_bytes().splitlines()) == 400


def test_spec_strings() -> None:
    assert NdjsonSink.parse_arg("out.ndjson.zst") == {"path": "out.ndjson.zst"}
    assert NdjsonSink.parse_arg("old.ndjson,legacy,level=19,flush=0.25,buffer=1024") == {
        "path": "old.ndjson",
        "legacy": True,
        "level": 19,
        "flush_interval_s": 0.25,
        "buffer_bytes": 1024,
    }
    sink = make_sink("ndjson:x.ndjson,legacy")
    assert sink.config.legacy is True  # type: ignore[attr-defined]
    with pytest.raises(UsageError, match="ndjson"):
        make_sink({"sink": "ndjson", "path": "x", "colour": "red"})
    with pytest.raises(UsageError):
        make_sink({"sink": "ndjson", "path": "x", "buffer_bytes": 0})


# ------------------------------------------------------------------ legacy


def fake_to_legacy(event: DerivedEvent) -> dict[str, Any] | None:
    if isinstance(event, Sample):
        return {"schema": 2, "ts": event.ts, "mode": "tasks", "tasks_sec": event.tasks_per_s}
    return None


async def test_legacy_writes_old_names_and_counts_events_without_a_legacy_form(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ops, "to_legacy", fake_to_legacy, raising=False)
    path = tmp_path / "old.ndjson"
    sink = await run_sink(make_sink(f"ndjson:{path},legacy"), [[sample(0), alert(0)], [status(1), sample(1)]])
    lines = path.read_bytes().splitlines()
    assert lines == [
        b'{"schema":2,"ts":%r,"mode":"tasks","tasks_sec":1000000.0}' % sample(0).ts,
        b'{"schema":2,"ts":%r,"mode":"tasks","tasks_sec":1000001.0}' % sample(1).ts,
    ]
    st = sink.statistics()
    assert (st.received, st.written, st.drop_reasons) == (4, 2, {"no_legacy_form": 2})
    report = validate_file(path)
    assert (report.ok, report.legacy) == (True, 2)


async def test_legacy_without_to_legacy_is_a_sink_error_at_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(ops, "to_legacy", raising=False)
    monkeypatch.setitem(sys.modules, "kcoro_stream.ops._legacy_names", None)  # import fails
    sink = make_sink(f"ndjson:{tmp_path / 'old.ndjson'},legacy")
    with pytest.raises(SinkError, match="to_legacy"):
        await sink.open()
    assert not (tmp_path / "old.ndjson").exists()
    assert temp_files(tmp_path) == []


async def test_legacy_with_the_real_to_legacy_validates_as_kcoro_mon_lines(tmp_path: Path) -> None:
    """Integration with ops.to_legacy: what the legacy option writes, validate accepts as kcoro_mon lines."""
    from kcoro_stream.sinks.ndjson import load_to_legacy

    assert load_to_legacy() is ops.to_legacy  # the real one, not a stand-in
    path = tmp_path / "old.ndjson"
    channel = [channel_sample(5), channel_sample(6, msgs_per_s=None, gbps=None)]
    sink = await run_sink(make_sink(f"ndjson:{path},legacy"), [*BATCHES, channel])
    report = validate_file(path)
    assert report.problems == []
    assert report.legacy == sink.statistics().written
