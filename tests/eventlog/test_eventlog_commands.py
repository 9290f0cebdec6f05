"""``log info`` and ``log cat`` bodies: info_text and cat_ndjson."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from eventlog_factory import frame_payload, ts_of, write_log

from kcoro_stream.errors import LogError
from kcoro_stream.eventlog import LogProblem, LogWriter, cat_ndjson, info_text
from kcoro_stream.events import INGEST_SEQ_BIT, RingLoss, RunStarted, encode_frame

WALL = 1_700_000_000_000_000_000


def recorded_run(run: Path) -> None:
    with LogWriter.create(run, "cmd-run", segment_bytes=8 << 10) as w:
        start = RunStarted(
            ts_of(0),
            0,
            run_id="cmd-run",
            mode="tasks",
            config={"workers": 2},
            workers=2,
            host="h",
            pid=1,
            abi_major=1,
            abi_minor=0,
            build={},
            wall_ns=WALL,
            interval_ns=10_000_000,
        )
        w.append_payload(encode_frame([start]), 0, ts_of(0))
        for i in range(1, 100):
            if i == 50:  # frames 50..52 were dropped by the ring; the ingester says so
                loss = RingLoss(ts_of(53), 0, frames=3, bytes=900, seq_from=50, seq_to=53, reason="dropped")
                w.append_payload(encode_frame([loss]), INGEST_SEQ_BIT | 0, ts_of(53))
            if 50 <= i < 53:
                continue
            w.append_payload(frame_payload(i), i, ts_of(i))


def test_info_text_summarises_segments_events_losses(tmp_path: Path) -> None:
    run = tmp_path / "run"
    recorded_run(run)
    text = info_text(run)
    assert "cmd-run" in text
    assert "segment-000001.kcslog" in text and "segment-000002.kcslog" in text
    assert "frames     98" in text
    assert "tick 96" in text and "worker_counters 192" in text and "ring_loss 1" in text
    assert (
        "1 RingLoss event(s), 3 frame(s) lost in the ring; 1 sequence gap(s), 3 sequence number(s) missing"
        in text
    )
    assert "2023-11-14T22:13:20.000Z" in text  # wall time of the first frame from RunStarted
    assert "problems   0  (log is clean)" in text


def test_info_text_lists_problems(tmp_path: Path) -> None:
    run = tmp_path / "run"
    write_log(run, 30, per_block=10)
    seg = run / "segment-000001.kcslog"
    seg.write_bytes(seg.read_bytes()[:-5])
    text = info_text(run)
    assert "problems   1" in text and "segment-000001.kcslog:" in text and "torn_tail" in text


def test_cat_ndjson_writes_every_event_with_type_and_seq(tmp_path: Path) -> None:
    run = tmp_path / "run"
    recorded_run(run)
    out = io.BytesIO()
    n = cat_ndjson(run, out)
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert n == len(lines) == 1 + 96 * 6 + 1
    assert lines[0]["type"] == "run_started" and lines[0]["config"] == {"workers": 2}
    assert list(lines[1])[:4] == ["type", "seq", "ts_ns", "source"]
    tick = lines[1]
    assert (
        tick["type"] == "tick" and tick["seq"] == 1 and tick["tick_seq"] == 1
    )  # the event's own seq, renamed
    assert {x["type"] for x in lines} == {
        "run_started",
        "tick",
        "worker_counters",
        "channel_counters",
        "histogram",
        "gauge",
        "ring_loss",
    }
    loss = next(x for x in lines if x["type"] == "ring_loss")
    assert loss["seq"] == INGEST_SEQ_BIT and loss["seq_from"] == 50 and loss["frames"] == 3
    wc = next(x for x in lines if x["type"] == "worker_counters" and x["seq"] == 10 and x["worker"] == 1)
    assert wc["tasks_submitted"] == 10_007


def test_cat_ndjson_time_window(tmp_path: Path) -> None:
    run = tmp_path / "run"
    recorded_run(run)
    out = io.BytesIO()
    n = cat_ndjson(run, out, ts_of(10), ts_of(12))
    seqs = {json.loads(x)["seq"] for x in out.getvalue().splitlines()}
    assert n == 12 and seqs == {10, 11}


def test_cat_ndjson_reports_problems_and_keeps_going(tmp_path: Path) -> None:
    run = tmp_path / "run"
    with LogWriter.create(run, "p") as w:
        w.append_payload(frame_payload(0), 0, ts_of(0))
        w.append_payload(b"\xc1", 1, ts_of(1))
        w.append_payload(frame_payload(2), 2, ts_of(2))
    seen: list[LogProblem] = []
    out = io.BytesIO()
    assert cat_ndjson(run, out, on_problem=seen.append) == 12
    assert [p.kind for p in seen] == ["bad_payload"]


def test_commands_raise_log_error_for_non_logs(tmp_path: Path) -> None:
    with pytest.raises(LogError):
        info_text(tmp_path / "nope")
    with pytest.raises(LogError):
        cat_ndjson(tmp_path / "nope", io.BytesIO())
