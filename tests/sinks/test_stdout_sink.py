"""The stdout sink: NDJSON when piped (real `| jq`), readable lines on a real pty, quiet EPIPE."""

from __future__ import annotations

import io
import os
import pty
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from file_factory import (
    PYTHON,
    alert,
    anomaly,
    channel_sample,
    decode_lines,
    make_sink,
    one_of_each,
    python_env,
    run_sink,
    sample,
    summary,
)

from kcoro_stream.errors import UsageError
from kcoro_stream.sinks import Controller, sink_class
from kcoro_stream.sinks.stdout import StdoutSink, format_sample

HERE = str(Path(__file__).resolve().parent)

# A child process that drives the stdout sink like pipeline.py would: batch
# i is [sample(i)] plus an alert every third batch, a partial sample at 2, and
# a summary at the end; it stops early when the sink asks the controller to.
CHILD = r"""
import sys, trio, msgspec
sys.path.insert(0, sys.argv[1])
from file_factory import sample, alert, summary
from kcoro_stream.sinks import Controller, SinkContext, build_sink

class Ctl(Controller):
    stops = 0
    def pause(self, paused): pass
    def set_interval_ms(self, interval_ms): pass
    def stop(self): self.stops += 1
    def restart(self, mode): pass
    @property
    def paused(self): return False

n, spec, stats_path = int(sys.argv[2]), sys.argv[3], sys.argv[4]

async def main():
    ctl = Ctl()
    sink = build_sink(spec, SinkContext(controller=ctl))
    await sink.open()
    try:
        for i in range(n):
            batch = [sample(i, partial=(i == 2))]
            if i % 3 == 0:
                batch.append(alert(i))
            await sink.send(batch)
            if ctl.stops:
                break
        await sink.send([summary(n)])
    finally:
        await sink.aclose()
    with open(stats_path, "wb") as f:
        f.write(msgspec.json.encode({"stats": sink.statistics(), "stops": ctl.stops}))

trio.run(main)
"""


def expected_events(n: int) -> list[Any]:
    out: list[Any] = []
    for i in range(n):
        out.append(sample(i, partial=(i == 2)))
        if i % 3 == 0:
            out.append(alert(i))
    out.append(summary(n))
    return out


def child_args(n: int, spec: str, stats: Path) -> list[str]:
    return [PYTHON, "-c", CHILD, HERE, str(n), spec, str(stats)]


def test_piped_output_is_ndjson_that_jq_reads(tmp_path: Path) -> None:
    """`kcoro-stream … | jq -c .` works: every line is one derived event, in order."""
    jq = shutil.which("jq")
    assert jq, "jq is needed for this test"
    stats = tmp_path / "stats.json"
    producer = subprocess.Popen(
        child_args(7, "stdout", stats), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=python_env()
    )
    assert producer.stdout is not None
    consumer = subprocess.run([jq, "-c", "."], stdin=producer.stdout, capture_output=True, check=True)
    producer.stdout.close()
    err = producer.stderr.read() if producer.stderr else b""
    assert producer.wait() == 0, err.decode()
    assert decode_lines(consumer.stdout) == expected_events(7)
    report = msgspec.json.decode(stats.read_bytes())
    assert report["stats"]["extra"]["mode"] == "ndjson"
    assert report["stats"]["written"] == len(expected_events(7))


def test_broken_pipe_ends_output_quietly_and_asks_the_run_to_stop(tmp_path: Path) -> None:
    """`| head -n 1`: no traceback, exit 0, the rest counted under broken_pipe."""
    stats = tmp_path / "stats.json"
    producer = subprocess.Popen(
        child_args(5000, "stdout", stats), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=python_env()
    )
    assert producer.stdout is not None and producer.stderr is not None
    head = subprocess.run(["head", "-n", "1"], stdin=producer.stdout, capture_output=True, check=True)
    producer.stdout.close()
    err = producer.stderr.read().decode()
    assert producer.wait() == 0, err
    assert err == ""
    assert decode_lines(head.stdout) == [sample(0)]
    report = msgspec.json.decode(stats.read_bytes())
    st = report["stats"]
    assert report["stops"] == 1
    assert st["drop_reasons"]["broken_pipe"] >= 1
    assert st["extra"]["broken_pipe"] is True
    assert st["received"] == st["written"] + st["dropped"]
    assert st["received"] < len(expected_events(5000))  # it stopped early


def test_terminal_gets_one_readable_line_per_sample(tmp_path: Path, read_pty: Callable[[int], bytes]) -> None:
    """On a real pty: compact lines, alerts highlighted, summary at the end, no JSON."""
    master, slave = pty.openpty()
    stats = tmp_path / "stats.json"
    proc = subprocess.Popen(
        child_args(4, "stdout", stats), stdout=slave, stderr=subprocess.PIPE, env=python_env()
    )
    os.close(slave)
    out = read_pty(master)
    os.close(master)
    assert proc.wait() == 0, proc.stderr.read().decode() if proc.stderr else ""
    text = out.decode().replace("\r\n", "\n")
    lines = text.splitlines()
    assert "{" not in text
    sample_lines = [line for line in lines if "tasks/s" in line]
    assert len(sample_lines) == 4
    assert all("fast 90.0%" in line and "steal 25.0%" in line for line in sample_lines)
    assert "1.00M tasks/s" in sample_lines[0]
    assert [("partial" in line) for line in sample_lines] == [False, False, True, False]
    alerts = [line for line in lines if "ALERT firing critical steal_collapse" in line]
    assert len(alerts) == 2
    assert all("\x1b[31m" in line for line in alerts)  # red: critical
    summary_at = next(i for i, line in enumerate(lines) if "summary: tasks, 4 samples" in line)
    assert summary_at > max(lines.index(s) for s in sample_lines)
    assert "4 samples, 2 alerts shown" in lines[-1]
    report = msgspec.json.decode(stats.read_bytes())
    assert report["stats"]["extra"]["mode"] == "human"


# --------------------------------------------------------------- in-process


class RecordingController(Controller):
    def __init__(self) -> None:
        self.stops = 0

    def pause(self, paused: bool) -> None:
        pass

    def set_interval_ms(self, interval_ms: float) -> None:
        pass

    def stop(self) -> None:
        self.stops += 1

    def restart(self, mode: str) -> None:
        pass

    @property
    def paused(self) -> bool:
        return False


class ClosedPipe(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        raise BrokenPipeError(32, "Broken pipe")


async def test_not_a_tty_means_ndjson_of_every_event() -> None:
    out = io.BytesIO()
    batches = [one_of_each(0), one_of_each(1)]
    sink = await run_sink(make_sink("stdout", stdout=out), batches)
    assert decode_lines(out.getvalue()) == batches[0] + batches[1]
    assert sink.statistics().written == 16


async def test_a_text_only_stream_gets_text() -> None:
    """ctx.stdout may be a StringIO (no binary side), as some test runners give."""
    out = io.StringIO()
    await run_sink(make_sink("stdout", stdout=out), [[sample(0), alert(0)]])
    assert decode_lines(out.getvalue().encode()) == [sample(0), alert(0)]


async def test_human_format_can_be_forced_and_ignores_what_it_does_not_show() -> None:
    out = io.BytesIO()
    sink = await run_sink(make_sink("stdout:human", stdout=out), [one_of_each(0), [channel_sample(1)]])
    lines = out.getvalue().decode().splitlines()
    assert "\x1b[" not in out.getvalue().decode()  # colour only on a terminal
    assert lines[0].endswith("1.00M tasks/s  fast 90.0%  steal 25.0%  util 50.0%")
    assert lines[1].startswith("ALERT firing critical steal_collapse")
    assert lines[2].startswith("ANOMALY tasks_per_s zscore")
    assert lines[3].endswith("4.00M msgs/s  2.05 Gbps  depth 12")
    assert lines[4] == "summary: tasks, 1 samples, 0.25 s, 0 losses"
    st = sink.statistics()
    assert st.extra["ignored"] == {"histogram": 1, "heatmap": 1, "kpi": 1, "status": 1}
    assert (st.received, st.written, st.dropped) == (9, 5, 0)


async def test_broken_pipe_in_process_counts_and_stops_once() -> None:
    ctl = RecordingController()
    sink = make_sink("stdout", stdout=ClosedPipe(), controller=ctl)
    await run_sink(sink, [[sample(0), alert(0)], [sample(1)], [anomaly(2)]])
    st = sink.statistics()
    assert st.drop_reasons == {"broken_pipe": 4}
    assert st.written == 0
    assert ctl.stops == 1


async def test_legacy_writes_old_names_even_when_human_was_asked() -> None:
    """`--legacy-json -`: old kcoro_mon NDJSON on stdout; events without a legacy form counted."""
    out = io.BytesIO()
    sink = await run_sink(make_sink("stdout:human,legacy", stdout=out), [one_of_each(0), [channel_sample(1)]])
    lines = [msgspec.json.decode(line) for line in out.getvalue().splitlines()]
    assert [(d["schema"], d.get("type"), d["mode"]) for d in lines] == [
        (2, None, "tasks"),
        (2, "summary", "tasks"),
        (2, None, "channel"),
    ]
    assert lines[0]["tasks_sec"] == sample(0).tasks_per_s
    assert lines[2]["pps"] == channel_sample(1).msgs_per_s
    st = sink.statistics()
    assert st.extra["mode"] == "legacy"
    assert (st.written, st.drop_reasons) == (3, {"no_legacy_form": 6})


def test_spec_strings_and_registry() -> None:
    assert sink_class("stdout") is StdoutSink
    assert StdoutSink.parse_arg("human,color=never") == {"format": "human", "color": "never"}
    assert StdoutSink.parse_arg("legacy") == {"legacy": True}
    with pytest.raises(UsageError, match="bad option"):
        StdoutSink.parse_arg("fancy")
    with pytest.raises(UsageError):
        make_sink("stdout:color=purple")


def test_sample_line_handles_missing_values_and_bad_times() -> None:
    line = format_sample(sample(0, ts=float("nan"), fastpath_ratio=None, pool="p1"))
    assert line.startswith("--:--:--.---  tasks    [p1]")
    assert "fast" not in line
