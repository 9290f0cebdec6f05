"""The csv sink: one row per Sample, header once, the documented column order."""

from __future__ import annotations

import csv
import io
import subprocess
from pathlib import Path

import msgspec
import pytest
import trio
from file_factory import channel_sample, make_sink, one_of_each, run_sink, sample, temp_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kcoro_stream.errors import SinkError, UsageError
from kcoro_stream.events import (
    ChannelCounts,
    ChannelState,
    Expected,
    LegacyFields,
    Metrics,
    OsView,
    Resources,
    Sample,
    WorkerCounts,
)
from kcoro_stream.sinks import sink_class
from kcoro_stream.sinks.csv import COLUMNS, LATENCY_COLUMNS, METRIC_FIELDS, SCALAR_FIELDS, CsvSink


def read_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


STRUCTS = {
    "worker_totals": WorkerCounts,
    "worker_deltas": WorkerCounts,
    "channel_totals": ChannelCounts,
    "channel_deltas": ChannelCounts,
    "channel_state": ChannelState,
    "resources": Resources,
    "legacy": LegacyFields,
    "os": OsView,
    "expected": Expected,
}


def test_column_rule_is_the_documented_one() -> None:
    """Scalars of Sample in declaration order, smooth_<metric>, ema_<metric>, then <struct>_<field>."""
    nested = ("worker_totals", "worker_deltas", "channel_totals", "channel_deltas", "channel_state")
    nested += ("resources", "legacy", "os", "expected")
    names = [f.name for f in msgspec.structs.fields(Sample)]
    assert list(SCALAR_FIELDS) == [
        n for n in names if n not in ("smooth", "ema", "gauges", "declared", *nested)
    ]
    assert SCALAR_FIELDS[:8] == ("schema", "ts", "ts_ns", "run_id", "mode", "pool", "window_ns", "partial")
    assert "tasks_per_s" in METRIC_FIELDS and "mode" not in METRIC_FIELDS
    assert list(COLUMNS) == (
        list(SCALAR_FIELDS)
        + [f"smooth_{k}" for k in METRIC_FIELDS]
        + [f"ema_{k}" for k in METRIC_FIELDS]
        + [f"{n}_{f}" for n in nested for f in STRUCTS[n].__struct_fields__]
        + list(LATENCY_COLUMNS)
    )
    assert "worker_totals_tasks_completed" in COLUMNS and "resources_cpu_pct" in COLUMNS
    assert COLUMNS[-4:] == (
        "tick_jitter_ns_p50",
        "tick_jitter_ns_p90",
        "tick_jitter_ns_p99",
        "tick_jitter_ns_p999",
    )
    n_exp = len(Expected.__struct_fields__) + len(LATENCY_COLUMNS)
    assert COLUMNS[-len(OsView.__struct_fields__) - n_exp : -n_exp] == tuple(
        f"os_{f}" for f in OsView.__struct_fields__
    )
    assert len(set(COLUMNS)) == len(COLUMNS)


@pytest.mark.parametrize(
    ("suffix", "cat"), [(".csv", ["cat"]), (".csv.gz", ["gzip", "-dc"]), (".csv.zst", ["zstd", "-dc"])]
)
async def test_header_once_one_row_per_sample(tmp_path: Path, suffix: str, cat: list[str]) -> None:
    path = tmp_path / f"samples{suffix}"
    batches = [one_of_each(0), [sample(1), channel_sample(2)], [], one_of_each(3)]
    sink = await run_sink(make_sink(f"csv:{path}"), batches)
    text = subprocess.run([*cat, str(path)], capture_output=True, check=True, text=True).stdout
    rows = read_rows(text)
    assert rows[0] == list(COLUMNS)
    assert sum(r == list(COLUMNS) for r in rows) == 1
    assert len(rows) == 1 + 4
    assert all(len(r) == len(COLUMNS) for r in rows)
    st = sink.statistics()
    assert (st.received, st.written, st.dropped) == (18, 4, 0)
    assert st.extra["ignored"] == {
        "histogram": 2,
        "heatmap": 2,
        "alert": 2,
        "anomaly": 2,
        "kpi": 2,
        "status": 2,
        "summary": 2,
    }
    assert temp_files(tmp_path) == []


async def test_cells_nulls_booleans_floats_and_nested_dicts(tmp_path: Path) -> None:
    path = tmp_path / "cells.csv"
    s = sample(7, partial=True, ema=Metrics(tasks_per_s=0.1, steal_ratio=None))
    await run_sink(make_sink(f"csv:{path}"), [[s]])
    header, row = read_rows(path.read_text())
    cell = dict(zip(header, row, strict=True))
    assert cell["schema"] == "5"
    assert cell["ts"] == repr(s.ts)
    assert cell["mode"] == "tasks"
    assert cell["partial"] == "true"
    assert cell["tasks_per_s"] == "1000007.0"
    assert cell["msgs_per_s"] == ""  # null
    assert cell["smooth_tasks_per_s"] == "999007.0"
    assert cell["ema_tasks_per_s"] == "0.1"
    assert cell["ema_steal_ratio"] == ""
    assert float(cell["ts"]) == s.ts  # shortest round-trip form


async def test_typed_counters_and_resources_have_their_own_columns(tmp_path: Path) -> None:
    path = tmp_path / "typed.csv"
    s = sample(1, worker_totals=WorkerCounts(tasks_completed=5, busy_ns=7), resources=Resources(cpu_pct=97.5))
    await run_sink(make_sink(f"csv:{path}"), [[s]])
    header, row = read_rows(path.read_text())
    cell = dict(zip(header, row, strict=True))
    assert cell["worker_totals_tasks_completed"] == "5" and cell["worker_totals_busy_ns"] == "7"
    assert cell["worker_totals_parks"] == "" and cell["channel_totals_sends"] == ""  # null / no struct
    assert cell["resources_cpu_pct"] == "97.5" and cell["span_ns"] == "0"


async def test_unknown_nested_keys_are_counted_not_turned_into_columns(tmp_path: Path) -> None:
    path = tmp_path / "keys.csv"
    s = sample(0, smooth=Metrics(tasks_per_s=1.0), gauges={"note": 1.0})
    sink = await run_sink(make_sink(f"csv:{path}"), [[s], [s]])
    header = read_rows(path.read_text())[0]
    assert "gauges_note" not in header and "smooth_tasks_per_s" in header
    assert sink.statistics().extra["unwritten_keys"] == {"gauges_note": 2}


async def test_column_subset_in_the_given_order(tmp_path: Path) -> None:
    path = tmp_path / "subset.csv"
    cols = ["ts_ns", "tasks_per_s", "ema_tasks_per_s", "partial"]
    await run_sink(make_sink({"sink": "csv", "path": str(path), "columns": cols}), [[sample(0), sample(1)]])
    assert read_rows(path.read_text()) == [
        cols,
        [str(sample(0).ts_ns), "1000000.0", "998000.0", "false"],
        [str(sample(1).ts_ns), "1000001.0", "998001.0", "false"],
    ]


def test_unknown_column_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown column"):
        make_sink({"sink": "csv", "path": "x.csv", "columns": ["tasks_per_s", "nope"]})


async def test_existing_csv_is_not_clobbered(tmp_path: Path) -> None:
    path = tmp_path / "old.csv"
    path.write_text("a,b\n")
    with pytest.raises(SinkError, match="exists"):
        await make_sink(f"csv:{path}").open()
    assert path.read_text() == "a,b\n"


async def test_no_samples_still_gives_a_header(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    await run_sink(make_sink(f"csv:{path}"), [])
    assert read_rows(path.read_text()) == [list(COLUMNS)]


def test_registry_and_spec() -> None:
    assert sink_class("csv") is CsvSink
    assert CsvSink.parse_arg("s.csv.gz,level=1") == {"path": "s.csv.gz", "level": 1}


_metric = st.none() | st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    run_id=st.text(max_size=12),
    mode=st.text(min_size=1, max_size=8),
    partial=st.booleans(),
    tasks=_metric,
    steal=_metric,
    ema=_metric,
)
def test_any_sample_reads_back_from_its_row(
    tmp_path: Path,
    run_id: str,
    mode: str,
    partial: bool,
    tasks: float | None,
    steal: float | None,
    ema: float | None,
) -> None:
    """Quoting, nulls and floats survive: csv.reader + float() give the Sample's values back."""
    s = sample(
        0,
        run_id=run_id,
        mode=mode,
        partial=partial,
        tasks_per_s=tasks,
        steal_ratio=steal,
        ema=Metrics(gbps=ema),
    )
    path = tmp_path / "prop.csv"
    path.unlink(missing_ok=True)
    trio.run(run_sink, make_sink(f"csv:{path}"), [[s]])
    with open(path, newline="") as f:
        header, row = list(csv.reader(f))
    cell = dict(zip(header, row, strict=True))

    def num(text: str) -> float | None:
        return None if text == "" else float(text)

    assert (cell["run_id"], cell["mode"], cell["partial"]) == (run_id, mode, "true" if partial else "false")
    assert (num(cell["tasks_per_s"]), num(cell["steal_ratio"]), num(cell["ema_gbps"])) == (tasks, steal, ema)


async def test_os_columns_carry_the_pool_os_view(tmp_path: Path) -> None:
    """Sample.os fills the os_* columns; a Sample without it leaves them empty."""
    path = tmp_path / "os.csv"
    view = OsView(wait_pct_max=61.5, wait_worker=1, involuntary_cs_per_s=480.0, migrations_per_s=0.0)
    await run_sink(make_sink(f"csv:{path}"), [[msgspec.structs.replace(sample(0), os=view), sample(1)]])
    header, with_os, without = read_rows(path.read_text())
    row = dict(zip(header, with_os, strict=True))
    assert (row["os_wait_pct_max"], row["os_wait_worker"], row["os_involuntary_cs_per_s"]) == (
        "61.5",
        "1",
        "480.0",
    )
    assert (row["os_migrations_per_s"], row["os_ipc"]) == ("0.0", "")
    assert all(v == "" for k, v in zip(header, without, strict=True) if k.startswith("os_"))
