"""The prometheus sink: /metrics through a real HTTP client, promtool, a real Prometheus."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import BinaryIO

import msgspec
import pytest
import trio
from prometheus_client.parser import text_string_to_metric_families

from kcoro_stream.errors import SinkError, UsageError
from kcoro_stream.events import ChannelCounts, CoroutineView, Resources, WorkerCounts
from kcoro_stream.sinks import SinkContext, build_sink, sink_class
from kcoro_stream.surfaces.prometheus import (
    COROUTINES_TOP_K,
    PrometheusSink,
    _MetricsState,
    _StateCollector,
    histogram_metric_name,
)

try:
    from .surface_factory import Script, histogram, os_sample, sample, status
except ImportError:  # tests/ run without package __init__ files
    from surface_factory import Script, histogram, os_sample, sample, status  # type: ignore[no-redef]

IN_CI = bool(os.environ.get("CI"))


def _need(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        if IN_CI:
            pytest.fail(f"{binary} is not installed (CI must apt-get install it)")
        pytest.skip(f"{binary} not installed")
    return path


def start_prometheus(
    tmp_path: Path, config: str, *flags: str
) -> tuple[subprocess.Popen[bytes], int, BinaryIO]:
    """The real Prometheus on a free loopback port with ``config`` and its storage in ``tmp_path``.

    Returns (process, port, log file); the caller terminates it and closes the log.
    """
    prometheus = _need("prometheus")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    (tmp_path / "prometheus.yml").write_text(config)
    log = (tmp_path / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            prometheus,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
            *flags,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return proc, port, log


@asynccontextmanager
async def open_prometheus_sink(**fields: object) -> AsyncIterator[PrometheusSink]:
    sink = build_sink({"sink": "prometheus", "port": 0, **fields}, SinkContext())
    assert isinstance(sink, PrometheusSink)
    await sink.open()
    try:
        yield sink
    finally:
        await sink.aclose()


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str, str]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.headers.get("content-type", ""), resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("content-type", ""), e.read().decode()


async def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, str, str]:
    return await trio.to_thread.run_sync(_get, url, headers)


def samples_of(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(text: str, name: str, **labels: str) -> float:
    return samples_of(text)[(name, frozenset(labels.items()))]


def test_registered_with_defaults_and_spec() -> None:
    """`prometheus:HOST:PORT` parses; the default is loopback:9464, policy drop_oldest."""
    cls = sink_class("prometheus")
    assert cls is PrometheusSink and cls.policy == "drop_oldest"
    assert build_sink("prometheus", SinkContext()).config.port == 9464  # type: ignore[attr-defined]
    s = build_sink("prometheus:127.0.0.1:9999", SinkContext())
    assert (s.config.host, s.config.port) == ("127.0.0.1", 9999)  # type: ignore[attr-defined]
    s = build_sink("prometheus:[::1]:9998", SinkContext())
    assert (s.config.host, s.config.port) == ("::1", 9998)  # type: ignore[attr-defined]
    with pytest.raises(UsageError, match="bad port"):
        build_sink("prometheus:127.0.0.1:http", SinkContext())


def test_histogram_names_are_base_units() -> None:
    assert histogram_metric_name("task_start_latency_ns") == ("kcoro_sched_task_start_latency_seconds", 1e9)
    assert histogram_metric_name("chan_latency_ns") == ("kcoro_chan_latency_seconds", 1e9)


async def test_metrics_endpoint_serves_expected_values_and_passes_promtool() -> None:
    """A scripted run gives exact totals, ratios, buckets and alert state; promtool accepts it."""
    script = Script(batches=40, tasks_per_s=1000.0, dual=True)
    async with open_prometheus_sink() as sink:
        for batch in script:
            await sink.send(batch)
        status, ctype, text = await fetch(sink.url)
        assert status == 200 and ctype.startswith("text/plain")

    assert value(text, "kcoro_sched_tasks_completed_total", pool="tasks") == script.expected_tasks_total
    assert value(text, "kcoro_chan_messages_total", pool="channel") == 40 * 5000 * 0.25
    assert value(text, "kcoro_chan_bytes_total", pool="channel") == 40 * 5000 * 64 * 0.25
    # channel counters that exist only as totals in Sample.channel_totals (last window: i = 39)
    assert value(text, "kcoro_chan_sends_total", pool="channel") == 50000
    assert value(text, "kcoro_chan_send_eagain_total", pool="channel") == 3 * 39
    assert value(text, "kcoro_chan_zero_copy_sent_total", pool="channel") == 390
    assert value(text, "kcoro_chan_rendezvous_matches_total", pool="channel") == 0
    assert value(text, "kcoro_sched_fastpath_ratio", pool="tasks") == 0.75
    assert value(text, "kcoro_sched_idle_workers_ratio", pool="tasks") == 0.25
    assert value(text, "kcoro_alerts_firing", rule="fastpath_low", severity="warning") == 1.0
    assert value(text, "kcoro_kpi_state", pool="all", kpi="utilisation", state="RED") == 1.0
    assert value(text, "kcoro_kpi_state", pool="all", kpi="utilisation", state="GREEN") == 0.0
    assert value(text, "kcoro_sched_worker_utilisation_ratio", pool="tasks", worker="3") == 1.0
    # heat-map rows every 4th batch (10 of them): worker 2 steals 2 per row
    assert value(text, "kcoro_sched_steals_succeeded_total", pool="tasks", worker="2") == 20.0
    # the last cumulative histogram (i=39): counts [39, 78, 117, 39] from 2 µs up
    h = "kcoro_sched_task_start_latency_seconds"
    assert value(text, h + "_count", pool="tasks") == 273
    assert value(text, h + "_bucket", pool="tasks", le="2.56e-06") == 39
    assert value(text, h + "_bucket", pool="tasks", le="3.072e-06") == 117
    assert value(text, h + "_bucket", pool="tasks", le="+Inf") == 273
    assert "# TYPE kcoro_sched_task_start_latency_seconds histogram" in text

    promtool = _need("promtool")
    res = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.strip() == "" and res.stderr.strip() == "", res.stdout + res.stderr


async def test_counters_never_go_down() -> None:
    """Typed totals win over integration, and a lower total never lowers a counter."""
    async with open_prometheus_sink() as sink:
        await sink.send([sample(0, tasks_per_s=4000.0)])  # integrated: 1000
        _, _, text = await fetch(sink.url)
        assert value(text, "kcoro_sched_tasks_completed_total", pool="tasks") == 1000.0
        await sink.send([sample(1, worker_totals=WorkerCounts(tasks_completed=5000))])
        await sink.send(
            [sample(2, worker_totals=WorkerCounts(tasks_completed=4000))]
        )  # producer went backwards
        await sink.send([sample(3, tasks_per_s=1e6)])  # no total: not integrated once a total was seen
        _, _, text = await fetch(sink.url)
        assert value(text, "kcoro_sched_tasks_completed_total", pool="tasks") == 5000.0
        # cumulative histograms: a smaller count never lowers a bucket; windows are ignored after
        await sink.send([histogram(4, [5, 5])])
        await sink.send([histogram(5, [3, 7])])
        await sink.send([histogram(6, [100, 100], scope="window")])
        _, _, text = await fetch(sink.url)
        assert value(text, "kcoro_sched_task_start_latency_seconds_count", pool="tasks") == 12


async def test_exact_window_deltas_win_over_rate_integration() -> None:
    async with open_prometheus_sink() as sink:
        await sink.send([sample(0, tasks_per_s=999.0, worker_deltas=WorkerCounts(tasks_completed=300))])
        await sink.send([sample(1, tasks_per_s=999.0, worker_deltas=WorkerCounts(tasks_completed=200))])
        await sink.send([sample(2, tasks_per_s=400.0)])  # no delta: integrated, 400 × 0.25 s
        _, _, text = await fetch(sink.url)
    assert value(text, "kcoro_sched_tasks_completed_total", pool="tasks") == 600.0


async def test_histogram_sum_is_the_exact_one_and_window_sums_add_up() -> None:
    """``_sum`` is HistogramSummary.sum in seconds, not a bucket-midpoint estimate."""
    async with open_prometheus_sink() as sink:
        await sink.send([histogram(0, [0] * 40 + [1, 2, 3, 1], total=123_456)])
        _, _, text = await fetch(sink.url)
        assert value(text, "kcoro_sched_task_start_latency_seconds_sum", pool="tasks") == 123_456e-9
        await sink.send([histogram(1, [1, 2], scope="window", total=5, metric="chan_latency_ns")])
        await sink.send([histogram(2, [0, 1], scope="window", total=1, metric="chan_latency_ns")])
        _, _, text = await fetch(sink.url)
    assert value(text, "kcoro_chan_latency_seconds_sum", pool="tasks") == 6e-9


async def test_every_schema_counter_and_the_pool_resources_are_exported() -> None:
    """Counters come from the typed Structs (one series per field); CPU and memory per pool."""
    totals = WorkerCounts(**{f: 7 for f in WorkerCounts.__struct_fields__})
    chan = ChannelCounts(**{f: 3 for f in ChannelCounts.__struct_fields__})
    res = Resources(
        cpu_ns=2_000_000_000, cpu_pct=150.0, stack_bytes=1 << 20, process_cpu_pct=180.0, rss_bytes=4096
    )
    s = msgspec.structs.replace(sample(0), worker_totals=totals, channel_totals=chan, resources=res)
    async with open_prometheus_sink() as sink:
        await sink.send([s])
        _, _, text = await fetch(sink.url)
    assert value(text, "kcoro_sched_steal_probes_total", pool="tasks") == 7
    assert value(text, "kcoro_sched_busy_seconds_total", pool="tasks") == 7e-9
    assert value(text, "kcoro_chan_send_timeouts_total", pool="tasks") == 3
    assert value(text, "kcoro_chan_messages_total", pool="tasks") == 3
    assert value(text, "kcoro_pool_cpu_ratio", pool="tasks") == 1.5
    assert value(text, "kcoro_pool_cpu_seconds_total", pool="tasks") == 2.0
    assert value(text, "kcoro_pool_stack_bytes", pool="tasks") == 1 << 20
    assert value(text, "kcoro_process_cpu_ratio", pool="tasks") == 1.8
    assert value(text, "kcoro_process_resident_memory_bytes", pool="tasks") == 4096
    n = len(WorkerCounts.__struct_fields__) + len(ChannelCounts.__struct_fields__)
    counters = {
        line.split("{")[0] for line in text.splitlines() if line.startswith(("kcoro_sched_", "kcoro_chan_"))
    }
    assert len({c for c in counters if c.endswith("_total") and "steals_" not in c}) == n


async def test_monitor_account_is_exported_and_passes_promtool() -> None:
    """Status → kcoro_monitor_*: ring losses, log bytes, each sink's queue and drops by reason."""
    async with open_prometheus_sink() as sink:
        await sink.send([status(4, dropped=3, corrupt=1, ws_drops=7)])
        await sink.send([status(8, dropped=2, ws_drops=9, state="finished")])  # a lower count never lowers
        _, _, text = await fetch(sink.url)
    assert value(text, "kcoro_monitor_ring_dropped_frames_total") == 3
    assert value(text, "kcoro_monitor_ring_corrupt_frames_total") == 1
    assert value(text, "kcoro_monitor_ring_undecodable_frames_total") == 0
    assert value(text, "kcoro_monitor_ring_frames_total") == 200
    assert value(text, "kcoro_monitor_log_frame_bytes_total") == 6400 * 8
    assert value(text, "kcoro_monitor_log_disk_bytes_total") == 900 * 8
    assert value(text, "kcoro_monitor_sink_dropped_total", sink="websocket", reason="slow_client") == 9
    assert value(text, "kcoro_monitor_sink_queued", sink="websocket") == 5
    assert value(text, "kcoro_monitor_sink_queued", sink="ndjson") == 1
    assert value(text, "kcoro_monitor_sink_queue_capacity", sink="ndjson") == 64
    assert value(text, "kcoro_monitor_sink_written_total", sink="ndjson") == 64
    assert value(text, "kcoro_monitor_sink_clients", sink="websocket") == 1
    assert value(text, "kcoro_monitor_uptime_seconds") == 2.0
    assert value(text, "kcoro_monitor_state", state="finished") == 1
    assert value(text, "kcoro_monitor_state", state="running") == 0
    promtool = _need("promtool")
    res = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert res.returncode == 0 and not (res.stdout + res.stderr).strip(), res.stdout + res.stderr


async def test_window_percentiles_are_gauges_beside_the_histogram() -> None:
    """The histograms operator's p50…p99.9 of the last window, in seconds; cumulative ones are not gauges."""
    async with open_prometheus_sink() as sink:
        await sink.send([histogram(0, [1, 2, 3], scope="window")])  # factory: p50 1 µs … p99.9 30 µs
        await sink.send([histogram(1, [1, 2, 3], scope="cumulative", metric="chan_latency_ns")])
        _, _, text = await fetch(sink.url)
    g = "kcoro_sched_task_start_latency_window_seconds"
    assert value(text, g, pool="tasks", percentile="50") == 1e-6
    assert value(text, g, pool="tasks", percentile="99") == 16e-6
    assert value(text, g, pool="tasks", percentile="99.9") == 30e-6
    assert f"# TYPE {g} gauge" in text
    assert "kcoro_chan_latency_window_seconds" not in text
    promtool = _need("promtool")
    res = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert res.returncode == 0 and not (res.stdout + res.stderr).strip(), res.stdout + res.stderr


async def test_window_histograms_add_up_without_cumulative() -> None:
    async with open_prometheus_sink() as sink:
        await sink.send([histogram(0, [1, 2, 3], scope="window")])
        await sink.send([histogram(1, [1, 0, 1], scope="window")])
        _, _, text = await fetch(sink.url)
    h = "kcoro_sched_task_start_latency_seconds_bucket"
    assert value(text, h, pool="tasks", le="1e-09") == 2
    assert value(text, h, pool="tasks", le="2e-09") == 4
    assert value(text, h, pool="tasks", le="3e-09") == 8
    assert value(text, h, pool="tasks", le="+Inf") == 8


async def test_other_paths_and_methods_are_refused() -> None:
    async with open_prometheus_sink() as sink:
        base = sink.url.rsplit("/", 1)[0]
        status, _, body = await fetch(base + "/")
        assert status == 404 and "/metrics" in body
        req = urllib.request.Request(sink.url, method="POST", data=b"x")
        with pytest.raises(urllib.error.HTTPError) as info:
            await trio.to_thread.run_sync(lambda: urllib.request.urlopen(req, timeout=10))
        assert info.value.code == 405


async def test_port_in_use_is_one_line_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        sink = build_sink(f"prometheus:127.0.0.1:{port}", SinkContext())
        with pytest.raises(SinkError) as info:
            await sink.open()
    assert str(info.value) == f"prometheus: 127.0.0.1:{port}: address already in use"


async def test_remote_bind_needs_allow_remote() -> None:
    sink = build_sink("prometheus:0.0.0.0:0", SinkContext())
    with pytest.raises(SinkError, match=r"^prometheus: 0\.0\.0\.0:0: refusing .*allow_remote"):
        await sink.open()


async def test_real_prometheus_scrapes_and_answers_queries(tmp_path: Path) -> None:
    """A real Prometheus scrapes /metrics every second; its HTTP API returns our counter and rate."""
    script = Script(batches=40, tasks_per_s=1000.0)
    first_half, second_half = list(script)[:20], list(script)[20:]
    async with open_prometheus_sink() as sink:
        proc, prom_port, log = start_prometheus(
            tmp_path,
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: kcoro\n    static_configs:\n"
            f"      - targets: ['127.0.0.1:{sink.port}']\n",
        )
        api = f"http://127.0.0.1:{prom_port}/api/v1/query?query="

        async def query(promql: str) -> list[dict[str, object]]:
            try:
                status, _, body = await fetch(api + urllib.parse.quote(promql))
            except (urllib.error.URLError, ConnectionError):
                return []  # not up yet
            if status != 200:
                return []
            return json.loads(body)["data"]["result"]  # type: ignore[no-any-return]

        async def wait_value(promql: str, expected: float) -> None:
            seen: list[dict[str, object]] = []
            # bounded polling: Prometheus scrapes every 1 s; 60 s covers a slow start
            with trio.move_on_after(60):
                while True:
                    assert proc.poll() is None, (tmp_path / "prometheus.log").read_text()
                    seen = await query(promql)
                    if seen and float(seen[0]["value"][1]) == expected:  # type: ignore[index]
                        return
                    await trio.sleep(0.25)
            pytest.fail(f"{promql}: expected {expected}, last answer {seen}")

        try:
            for batch in first_half:
                await sink.send(batch)
            await wait_value('kcoro_sched_tasks_completed_total{job="kcoro",pool="tasks"}', 5000.0)
            for batch in second_half:
                await sink.send(batch)
            await sink.send([status(80, dropped=3, ws_drops=7)])
            await wait_value('kcoro_sched_tasks_completed_total{job="kcoro",pool="tasks"}', 10000.0)
            await wait_value('kcoro_monitor_ring_dropped_frames_total{job="kcoro"}', 3.0)
            await wait_value('kcoro_monitor_sink_dropped_total{sink="websocket",reason="slow_client"}', 7.0)
            # exact over stored history: both totals were scraped, the counter never reset
            window = 'kcoro_sched_tasks_completed_total{pool="tasks"}[10m]'
            await wait_value(f"max_over_time({window}) - min_over_time({window})", 5000.0)
            await wait_value(f"resets({window})", 0.0)
            await wait_value('kcoro_alerts_firing{rule="fastpath_low"}', 1.0)
            await wait_value('kcoro_sched_fastpath_ratio{pool="tasks"}', 0.75)
            await wait_value('kcoro_sched_task_start_latency_seconds_count{pool="tasks"}', 273.0)
            await wait_value('up{job="kcoro"}', 1.0)
        finally:
            proc.terminate()
            await trio.to_thread.run_sync(proc.wait)
            log.close()
    assert sink.statistics().extra["scrapes"] >= 2


async def test_os_view_series_per_worker_and_promtool() -> None:
    """OsSample → kcoro_os_worker_* gauges of the last window and totals over windows; null → no series."""
    async with open_prometheus_sink() as sink:
        await sink.send([os_sample(0, 50_000_000), os_sample(1, 150_000_000)])
        _, _, text = await fetch(sink.url)
    w1 = {"pool": "tasks", "worker": "1"}
    assert value(text, "kcoro_os_worker_run_queue_wait_ratio", **w1) == pytest.approx(0.6)
    assert value(text, "kcoro_os_worker_run_queue_wait_seconds_total", **w1) == pytest.approx(0.2)
    assert value(text, "kcoro_os_worker_involuntary_switches_total", **w1) == 240
    assert value(text, "kcoro_os_worker_involuntary_switches_per_second", **w1) == 480
    assert value(text, "kcoro_os_worker_page_faults_per_second", pool="tasks", worker="0") == 4
    assert value(text, "kcoro_os_worker_cpu", **w1) == 1 and value(text, "kcoro_os_worker_pinned", **w1) == 1
    assert "kcoro_os_worker_instructions_per_cycle" not in text  # no hardware counters: no series
    promtool = _need("promtool")
    res = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert res.returncode == 0 and not res.stdout.strip(), res.stdout + res.stderr


def _coroutine(cid: int, busy_ns: int, ts_ns: int) -> CoroutineView:
    return CoroutineView(
        ts=1.0, ts_ns=ts_ns, pool="tasks", coroutine=cid, name=f"c{cid}", state="parked", worker=-1,
        wait="channel", wait_id=0, resumes=cid, parks=cid, wakes=cid, self_wakes=0, busy_ns=busy_ns,
        age_ns=1, running_ns=0, parked_ns=5,
    )  # fmt: skip


def test_metrics_show_only_the_top_k_coroutines_of_the_last_snapshot() -> None:
    """Bounded cardinality: 50 coroutines in a snapshot → COROUTINES_TOP_K series, the busiest."""
    st = _MetricsState()
    for cid in range(1, 51):
        st.update(_coroutine(cid, cid * 1000, ts_ns=1))
    fams = {f.name: f for f in _StateCollector(st).collect()}
    busy = fams["kcoro_coroutine_busy_seconds"]
    assert sorted(int(s.labels["coroutine"]) for s in busy.samples) == list(range(41, 51))
    assert len(fams["kcoro_coroutine_parked_seconds"].samples) == COROUTINES_TOP_K == 10
    st.update(_coroutine(99, 1, ts_ns=2))  # a new snapshot replaces the last one
    fams = {f.name: f for f in _StateCollector(st).collect()}
    assert [s.labels["name"] for s in fams["kcoro_coroutine_busy_seconds"].samples] == ["c99"]
