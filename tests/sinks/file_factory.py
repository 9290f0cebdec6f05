"""Scripted derived events and small helpers for the file/terminal sink tests.

Deterministic: sample ``i`` sits at ``WALL0 + i/4`` s (``T0_NS + i*250 ms``)
and its rates follow ``i``, so tests can assert exact lines and cells.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from kcoro_stream.events import (
    Alert,
    Anomaly,
    DerivedEvent,
    Heatmap,
    HistogramSummary,
    Kpi,
    Metrics,
    Sample,
    Status,
    Summary,
    WorkerCounts,
    derived_decoder,
)
from kcoro_stream.sinks import SinkContext, build_sink
from kcoro_stream.sinks._base import Sink

WALL0 = 1_790_000_000.0
T0_NS = 1_000_000_000_000
STEP_NS = 250_000_000
RUN_ID = "run-files-0001"
REPO = Path(__file__).resolve().parents[2]


def sample(i: int = 0, **kw: Any) -> Sample:
    fields: dict[str, Any] = {
        "ts": WALL0 + i * 0.25,
        "ts_ns": T0_NS + i * STEP_NS,
        "run_id": RUN_ID,
        "mode": "tasks",
        "window_ns": STEP_NS,
        "tasks_per_s": 1_000_000.0 + i,
        "fastpath_ratio": 0.9,
        "steal_ratio": 0.25,
        "utilisation": 0.5,
        "smooth": Metrics(tasks_per_s=999_000.0 + i),
        "ema": Metrics(tasks_per_s=998_000.0 + i, steal_ratio=None),
    }
    fields.update(kw)
    return Sample(**fields)


def channel_sample(i: int = 0, **kw: Any) -> Sample:
    fields: dict[str, Any] = {
        "ts": WALL0 + i * 0.25,
        "ts_ns": T0_NS + i * STEP_NS,
        "run_id": RUN_ID,
        "mode": "channel",
        "window_ns": STEP_NS,
        "msgs_per_s": 4_000_000.0 + i,
        "bytes_per_s": 256_000_000.0,
        "gbps": 2.048,
        "channel_depth": 12.0,
    }
    fields.update(kw)
    return Sample(**fields)


def alert(i: int = 0, state: str = "firing", severity: str = "critical") -> Alert:
    return Alert(
        ts=WALL0 + i * 0.25,
        ts_ns=T0_NS + i * STEP_NS,
        run_id=RUN_ID,
        rule="steal_collapse",
        severity=severity,  # type: ignore[arg-type]
        state=state,  # type: ignore[arg-type]
        value=0.02,
        threshold=0.1,
        message="steal success below 10%",
    )


def anomaly(i: int = 0) -> Anomaly:
    return Anomaly(
        ts=WALL0 + i * 0.25,
        ts_ns=T0_NS + i * STEP_NS,
        run_id=RUN_ID,
        metric="tasks_per_s",
        method="zscore",
        value=12.5,
        score=4.25,
        window=60,
    )


def status(i: int = 0, state: str = "producer_lost", message: str = "child exited with status 1") -> Status:
    return Status(ts=WALL0 + i * 0.25, ts_ns=T0_NS + i * STEP_NS, run_id=RUN_ID, state=state, message=message)


def summary(samples: int = 4) -> Summary:
    return Summary(
        ts=WALL0 + samples * 0.25,
        ts_ns=T0_NS + samples * STEP_NS,
        run_id=RUN_ID,
        mode="tasks",
        samples=samples,
        duration_s=samples * 0.25,
        peak=Metrics(tasks_per_s=1_000_003.0),
        avg=Metrics(tasks_per_s=1_000_001.5),
        ema=Metrics(tasks_per_s=1_000_001.0),
        worker_totals=WorkerCounts(tasks_completed=1_000_000),
    )


def one_of_each(i: int = 0) -> list[DerivedEvent]:
    """Every derived event type once (fixed order)."""
    ts, ts_ns = WALL0 + i * 0.25, T0_NS + i * STEP_NS
    return [
        sample(i),
        HistogramSummary(
            ts=ts,
            ts_ns=ts_ns,
            run_id=RUN_ID,
            metric="task_start_latency_ns",
            scope="window",
            window_ns=STEP_NS,
            scheme="log2x4",
            bounds=[0, 1, 2, 3],
            counts=[1, 2, 3, 4],
            count=10,
            p50=2.0,
            p90=3.0,
            p99=3.0,
            p999=3.0,
            error_bound=0.125,
        ),
        Heatmap(
            ts=ts,
            ts_ns=ts_ns,
            run_id=RUN_ID,
            window_ns=STEP_NS,
            workers=[0, 1],
            utilisation=[0.5, None],
            steals_succeeded=[1, 0],
            steals_failed=[0, 3],
            fastpath_ratio=[0.9, None],
            imbalance=0.5,
        ),
        alert(i),
        anomaly(i),
        Kpi(ts=ts, ts_ns=ts_ns, run_id=RUN_ID, states={"steal": "RED"}, values={"steal": 0.02}),
        status(i, state="running", message=""),
        summary(i + 1),
    ]


def decode_lines(data: bytes) -> list[DerivedEvent]:
    return [derived_decoder.decode(line) for line in data.splitlines()]


def make_sink(spec: str | dict[str, Any], **ctx: Any) -> Sink:
    return build_sink(spec, SinkContext(**ctx))


async def run_sink(sink: Sink, batches: Sequence[Sequence[DerivedEvent]]) -> Sink:
    """open → send each batch → aclose, as pipeline.py drives a sink."""
    await sink.open()
    try:
        for batch in batches:
            await sink.send(batch)
    finally:
        await sink.aclose()
    return sink


def temp_files(directory: Path) -> list[str]:
    """Leftover temporary outputs (``.NAME.XXXXXXXX.tmp``) in ``directory``."""
    return sorted(n for n in os.listdir(directory) if n.startswith(".") and n.endswith(".tmp"))


def python_env() -> dict[str, str]:
    """Environment for child interpreters: this repo importable, no colour surprises."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("NO_COLOR", None)
    env["TERM"] = "xterm"
    return env


PYTHON = sys.executable


def encode(obj: Any) -> bytes:
    return msgspec.json.encode(obj)
