"""The log sink: alerts, anomalies and status as readable lines on stderr."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from file_factory import alert, anomaly, make_sink, one_of_each, run_sink, sample, status, summary

from kcoro_stream.errors import UsageError
from kcoro_stream.sinks import sink_class
from kcoro_stream.sinks.log import LogSink, fmt_num, fmt_utc


async def test_alerts_anomalies_status_one_line_each(capsys: pytest.CaptureFixture[str]) -> None:
    sink = await run_sink(
        make_sink("log"),
        [[sample(0), alert(0)], [anomaly(1), status(2)], [alert(3, state="resolved", severity="warning")]],
    )
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "2026-09-21T14:13:20.000Z ALERT firing critical steal_collapse: "
        "steal success below 10% (value=0.02 threshold=0.1)",
        "2026-09-21T14:13:20.250Z ANOMALY tasks_per_s zscore value=12.5 score=4.25 window=60",
        "2026-09-21T14:13:20.500Z STATUS producer_lost: child exited with status 1",
        "2026-09-21T14:13:20.750Z ALERT resolved warning steal_collapse: "
        "steal success below 10% (value=0.02 threshold=0.1)",
    ]
    st = sink.statistics()
    assert (st.received, st.written, st.dropped) == (5, 4, 0)
    assert st.extra["ignored"] == {"sample": 1}


async def test_status_carries_the_account_and_repeats_only_when_something_changed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The periodic Status: written when state or losses change; ring, log, sink queues and drops shown."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "surfaces"))
    from surface_factory import status as account

    batches = [
        [account(4)],
        [account(8)],
        [account(12, ws_drops=7)],
        [account(16, ws_drops=7, state="finished")],
    ]
    sink = await run_sink(make_sink("log"), batches)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3
    assert lines[0].endswith(
        "STATUS running · ring 100 frames, lost 0 dropped / 0 corrupt / 0 undecodable"
        " · log 25.0 KiB (3.5 KiB on disk) · ndjson q 1/64 · websocket q 5/256, 1 client"
    )
    assert "websocket q 5/256, dropped 7 (slow_client 7), 1 client" in lines[1]
    assert "STATUS finished" in lines[2]
    assert sink.statistics().extra["status_unchanged"] == 1


async def test_kinds_filter(capsys: pytest.CaptureFixture[str]) -> None:
    sink = await run_sink(make_sink("log:alert,summary"), [one_of_each(0)])
    lines = capsys.readouterr().err.splitlines()
    assert [line.split()[1] for line in lines] == ["ALERT", "SUMMARY"]
    assert "samples=1" in lines[1]
    assert sink.statistics().extra["ignored"] == {
        "sample": 1,
        "histogram": 1,
        "heatmap": 1,
        "anomaly": 1,
        "kpi": 1,
        "status": 1,
    }


async def test_color_always_highlights_by_severity(capsys: pytest.CaptureFixture[str]) -> None:
    await run_sink(make_sink({"sink": "log", "color": "always"}), [[alert(0), alert(1, state="resolved")]])
    firing, resolved = capsys.readouterr().err.splitlines()
    assert "\x1b[1m\x1b[31mALERT firing critical" in firing
    assert "\x1b[1m\x1b[32mALERT resolved" in resolved


async def test_broken_stderr_is_counted_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    closed = io.StringIO()
    closed.close()
    monkeypatch.setattr("sys.stderr", closed)
    sink = await run_sink(make_sink("log"), [[alert(0), status(1)], [summary()]])
    st = sink.statistics()
    assert st.written == 0
    assert st.drop_reasons == {"stderr_error": 2}


def test_spec_and_registry() -> None:
    assert sink_class("log") is LogSink
    assert LogSink.parse_arg("alert, anomaly") == {"types": ["alert", "anomaly"]}
    with pytest.raises(UsageError, match="unknown kind"):
        LogSink.parse_arg("alert,bogus")


def test_number_and_time_formats() -> None:
    assert [fmt_num(v) for v in (None, 0.0, 12.5, 150.2, 45_600.0, 1_234_000.0, 2.5e9)] == [
        "-",
        "0",
        "12.5",
        "150",
        "45.6k",
        "1.23M",
        "2.50G",
    ]
    assert fmt_num(float("nan")) == "nan"
    assert fmt_utc(0.9995) == "1970-01-01T00:00:00.999Z"
    assert fmt_utc(float("inf")) == "ts=inf"


async def test_an_anomaly_with_a_cause_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    """os_interference anomalies carry their cause in words: the line ends with it."""
    import msgspec

    cause = "tasks/s −38 % from window 9; worker 1 (cpu 1) waited 357 ms on the run queue, 119 involuntary switches"
    hog = msgspec.structs.replace(anomaly(1), method="os_interference", message=cause)
    await run_sink(make_sink("log"), [[hog]])
    (line,) = capsys.readouterr().err.splitlines()
    assert "ANOMALY tasks_per_s os_interference " in line and line.endswith(f"window=60: {cause}")
