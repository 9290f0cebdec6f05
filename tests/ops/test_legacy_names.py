"""to_legacy: derived events back to kcoro_mon's schema-2 objects."""

from __future__ import annotations

from pathlib import Path

from factory import Run, drive, of_type

from kcoro_stream import ops
from kcoro_stream.events import Heatmap, Sample, Summary
from kcoro_stream.ops._legacy_names import CHANNEL_FIELDS, CHANNEL_SUMMARY_FIELDS, TASKS_FIELDS
from kcoro_stream.sources.legacy import legacy_events

DATA = Path(__file__).resolve().parents[2] / "bench_data" / "legacy"


def _nonnull(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}


def test_schema2_recordings_round_trip():
    """legacy line → Sample/Summary → to_legacy gives the original object back (nulls aside)."""
    import gzip
    import json

    for name in ("channel_schema2.ndjson", "tasks_schema2.ndjson.gz", "zero_summaries.ndjson"):
        path = DATA / name
        data = path.read_bytes()
        if name.endswith(".gz"):
            data = gzip.decompress(data)
        raw = [json.loads(x) for x in data.splitlines() if x.strip()]
        for d, e in zip(raw, legacy_events(path), strict=True):
            assert _nonnull(ops.to_legacy(e)) == _nonnull(d), name


def test_channel_sample_from_a_new_run_has_every_old_field():
    r = Run(mode="channel")
    batches = [[r.start]]
    for _ in range(30):
        r.steady()
        r.add_channel(0, send_eagain=2)
        batches.append(r.frame())
    samples = of_type(drive(ops.compose(ops.rates(), ops.smooth()), batches), Sample)
    old = ops.to_legacy(samples[0])
    assert tuple(old) == CHANNEL_FIELDS
    assert old["schema"] == 2 and old["mode"] == "channel"
    assert old["pps"] == samples[0].msgs_per_s and old["smooth_pps"] == samples[0].smooth.msgs_per_s
    assert old["fail_send_eagain_total"] == 48 and old["fail_send_eagain_delta"] == 48
    assert old["bytes_recv_delta"] == 24 * 500 * 64
    assert old["kind"] == 1 and old["capacity"] == 1024 and old["closed"] == 0  # kcoro_mon's integers
    assert all(type(old[k]) is int for k in ("kind", "capacity", "closed", "ptr_mode", "zref_mode"))


def test_tasks_sample_and_summary_from_a_new_run():
    r = Run(mode="tasks", channels=0)
    batches = [[r.start]]
    for _ in range(60):
        r.steady()
        batches.append(r.frame())
    out = drive(ops.default_analyses(), batches)
    sample = of_type(out, Sample)[0]
    old = ops.to_legacy(sample)
    assert tuple(old) == TASKS_FIELDS
    assert old["tasks_sec"] == sample.tasks_per_s and old["fastpath_ratio"] == sample.fastpath_ratio
    assert old["gbps"] is None
    summary = ops.to_legacy(of_type(out, Summary)[0])
    assert summary["type"] == "summary" and summary["mode"] == "tasks"
    assert summary["peak_tasks_sec"] >= summary["avg_tasks_sec"] > 0


def test_channel_summary_from_a_new_run():
    r = Run(mode="channel")
    batches = [[r.start]]
    for _ in range(30):
        r.steady()
        batches.append(r.frame())
    (s,) = of_type(drive(ops.compose(ops.rates(), ops.summary()), batches), Summary)
    old = ops.to_legacy(s)
    assert tuple(old) == CHANNEL_SUMMARY_FIELDS
    assert old["mismatch_msgs"] == 0 and old["bytes_recv_total"] == 30 * 500 * 64
    assert old["peak_pps"] >= old["avg_pps"] > 0


def test_other_events_have_no_old_form():
    empty: dict = {"workers": [], "utilisation": [], "steals_succeeded": [], "steals_failed": []}
    h = Heatmap(ts=0.0, ts_ns=0, window_ns=1, fastpath_ratio=[], imbalance=None, **empty)
    assert ops.to_legacy(h) is None
