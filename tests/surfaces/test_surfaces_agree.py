"""One analysis, every surface: the terminal dashboard and Prometheus show the EMA and the windowed p99
that the NDJSON line for that window carries (the browser page: tests/surfaces/test_websocket.py).

The events are real: a recorded dual-mode run (bench_data/logs/dual-v1) through the default analyses.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reactivex.subject import Subject

from kcoro_stream import ops
from kcoro_stream.eventlog import open_log
from kcoro_stream.events import HistogramSummary, Sample, decode_frame, encode_json_line
from kcoro_stream.surfaces._tui.state import DashboardState
from kcoro_stream.surfaces.prometheus import histogram_metric_name

try:
    from .test_prometheus import fetch, open_prometheus_sink, samples_of
except ImportError:  # run as a plain module by pytest's rootdir-less import mode
    from test_prometheus import fetch, open_prometheus_sink, samples_of  # type: ignore[no-redef]

RUN = Path(__file__).resolve().parents[2] / "bench_data" / "logs" / "dual-v1"


def derived_events() -> list[Any]:
    subject: Subject[list[Any]] = Subject()
    out: list[Any] = []
    ops.default_analyses(window_ms=250)(subject).subscribe(on_next=out.append)
    for frame in open_log(RUN).frames():
        subject.on_next(decode_frame(frame.payload))
    subject.on_completed()
    return out


def as_ndjson(ev: Any) -> dict[str, Any]:
    buf = bytearray()
    encode_json_line(ev, buf)
    return json.loads(buf)


def truth(events: list[Any]) -> tuple[dict[str, dict[str, Any]], dict[tuple[str, str], dict[str, Any]]]:
    """The NDJSON lines of each pool's last Sample and each (metric, pool)'s last window histogram."""
    samples = {ev.pool: as_ndjson(ev) for ev in events if isinstance(ev, Sample)}
    hists = {
        (ev.metric, ev.pool): as_ndjson(ev)
        for ev in events
        if isinstance(ev, HistogramSummary) and ev.scope == "window" and ev.p99 is not None
    }
    return samples, hists


def test_the_recording_gives_both_pools_an_ema_and_window_percentiles() -> None:
    samples, hists = truth(derived_events())
    assert set(samples) == {"channel", "tasks"}
    assert samples["tasks"]["ema"]["tasks_per_s"] and samples["channel"]["ema"]["msgs_per_s"]
    assert {"channel", "tasks"} <= {pool for _, pool in hists}


def test_the_terminal_dashboard_shows_the_ema_and_p99_of_the_ndjson() -> None:
    events = derived_events()
    samples, hists = truth(events)
    state = DashboardState()
    state.feed(events)
    for pool, line in samples.items():
        for metric, ema in line["ema"].items():
            stats = state.pools[pool].stats.get(metric)
            if ema is not None and stats is not None:
                assert stats.ema == ema, (pool, metric)
    for key, line in hists.items():
        assert state.histograms[key].p99 == line["p99"], key


async def test_prometheus_shows_the_ema_and_p99_of_the_ndjson() -> None:
    events = derived_events()
    samples, hists = truth(events)
    async with open_prometheus_sink() as sink:
        await sink.send(events)
        status, _, text = await fetch(sink.url)
    assert status == 200
    got = samples_of(text)
    checked = 0
    for pool, line in samples.items():
        for metric, ema in line["ema"].items():
            if ema is not None:
                assert got[("kcoro_analysis_ema", frozenset({("pool", pool), ("metric", metric)}))] == ema
                checked += 1
    for (metric, pool), line in hists.items():
        name, divisor = histogram_metric_name(metric)
        gauge = name[: -len("_seconds")] + "_window_seconds"
        value = got[(gauge, frozenset({("pool", pool), ("percentile", "99")}))]
        assert value == line["p99"] / divisor, (metric, pool)
        checked += 1
    assert checked >= 6
