"""A declared metric on /metrics (and in remote write): a gauge with the declared help text,
checked by promtool and scraped by a real Prometheus."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.parse
from pathlib import Path

import pytest
import trio

from kcoro_stream.analysis import Sample
from kcoro_stream.pipeline import load_pipeline, replay_events
from kcoro_stream.sinks import SinkContext, build_sink

try:
    from ..surfaces.test_prometheus import _need, fetch, start_prometheus, value
except ImportError:  # tests/ run without package __init__ files
    from surfaces.test_prometheus import _need, fetch, start_prometheus, value  # type: ignore[no-redef]

OWN = Path(__file__).resolve().parent / "own_pipeline.py"
DUAL = Path(__file__).resolve().parents[2] / "bench_data" / "logs" / "dual-v1"
GAUGE = "kcoro_user_cpu_time_per_task"
HELP = "CPU time per completed task (ns; own_pipeline v2)"


def _replayed() -> tuple[SinkContext, list, float]:
    events = replay_events(DUAL, OWN)
    last = [e for e in events if type(e) is Sample and e.pool == "tasks"][-1]
    assert last.declared is not None and last.declared["cpu_time_per_task"] is not None
    return (
        SinkContext(declarations=load_pipeline(OWN).declarations()),
        events,
        last.declared["cpu_time_per_task"],
    )


async def test_the_gauge_carries_the_declared_help_and_the_last_value_and_passes_promtool(
    tmp_path: Path,
) -> None:
    ctx, events, expected = _replayed()
    sink = build_sink({"sink": "prometheus", "port": 0}, ctx)
    await sink.open()
    try:
        await sink.send(events)
        status, _, text = await fetch(sink.url)  # type: ignore[attr-defined]
    finally:
        await sink.aclose()
    assert status == 200
    assert f"# HELP {GAUGE} {HELP}\n" in text and f"# TYPE {GAUGE} gauge\n" in text
    assert value(text, GAUGE, pool="tasks") == expected
    res = subprocess.run([_need("promtool"), "check", "metrics"], input=text, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr

    rw = build_sink({"sink": "remote_write", "url": "http://127.0.0.1:9/api/v1/write"}, ctx)
    for ev in events:
        rw.state.update(ev)  # type: ignore[attr-defined]  # the series remote write pushes
    fam = {f.name: f for f in rw._collector.collect()}[GAUGE]  # type: ignore[attr-defined]
    assert fam.documentation == HELP
    assert {s.labels["pool"]: s.value for s in fam.samples}["tasks"] == expected


async def test_a_real_prometheus_scrapes_the_declared_gauge_and_its_help(tmp_path: Path) -> None:
    ctx, events, expected = _replayed()
    sink = build_sink({"sink": "prometheus", "port": 0}, ctx)
    await sink.open()
    proc, port, log = start_prometheus(
        tmp_path,
        "global:\n  scrape_interval: 1s\n"
        "scrape_configs:\n  - job_name: kcoro\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{sink.port}']\n",  # type: ignore[attr-defined]
    )
    api = f"http://127.0.0.1:{port}/api/v1/"

    async def get(path: str) -> dict:
        try:
            status, _, body = await fetch(api + path)
        except (urllib.error.URLError, ConnectionError):
            return {}  # not up yet
        return json.loads(body)["data"] if status == 200 else {}  # type: ignore[no-any-return]

    try:
        await sink.send(events)
        got: object = None
        with trio.move_on_after(60):  # bounded: Prometheus scrapes every second
            while True:
                assert proc.poll() is None, (tmp_path / "prometheus.log").read_text()
                res = (await get("query?query=" + urllib.parse.quote(f'{GAUGE}{{pool="tasks"}}'))).get(
                    "result"
                )
                meta = (await get(f"metadata?metric={GAUGE}")).get(GAUGE)
                got = (res, meta)
                if res and meta:
                    break
                await trio.sleep(0.25)
        assert res and float(res[0]["value"][1]) == pytest.approx(expected, rel=1e-12), got
        assert meta[0] == {"type": "gauge", "help": HELP, "unit": ""}, got
    finally:
        proc.terminate()
        await trio.to_thread.run_sync(proc.wait)
        log.close()
        await sink.aclose()
