"""``export chrome``: the trace parses back and holds every counter track and instant the run recorded.

What is expected is worked out independently of the exporter: the raw events
straight from the log (``decode_frame``), and the derived events from an
ordinary ``kcoro-stream replay RUN --out x.ndjson`` (or the live run's own
NDJSON, which replay reproduces byte for byte).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from kcoro_stream.eventlog import LogWriter, open_log
from kcoro_stream.events import (
    ChannelCounters,
    ChannelCounts,
    ControlApplied,
    Gauge,
    Mark,
    RingLoss,
    RunStarted,
    WorkerCounters,
    WorkerCounts,
    counter_fields,
    decode_frame,
    encode_frame,
)
from kcoro_stream.trace import MONITOR_PID, MONITOR_THREADS

ROOT = Path(__file__).resolve().parent.parent.parent
LOGS = sorted((ROOT / "bench_data" / "logs").iterdir())
KS = [sys.executable, "-m", "kcoro_stream"]
NUMERIC = (int, float)


def ks(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KS, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def export(run: Path, out: Path) -> dict:  # type: ignore[type-arg]
    r = ks("export", "chrome", str(run), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stderr.startswith(f"{out}: ") and "counter track(s)" in r.stderr
    trace = json.loads(out.read_bytes())
    for e in trace["traceEvents"]:  # the trace-event format's own rules
        assert e["ph"] in "MCiX" and isinstance(e["pid"], int)
        if e["ph"] != "M":
            assert isinstance(e["ts"], NUMERIC) and e["ts"] >= 0
        if e["ph"] == "X":
            assert e["dur"] >= 0
        if e["ph"] == "i":
            assert e["s"] == "t"
    return trace  # type: ignore[no-any-return]


def derived(run: Path, tmp: Path) -> list[dict]:  # type: ignore[type-arg]
    out = tmp / f"{run.name}.replay.ndjson"
    r = ks("replay", str(run), "--out", str(out))
    assert r.returncode == 0, r.stderr
    return [json.loads(x) for x in out.read_text().splitlines()]


def raw(run: Path) -> list[object]:
    return [ev for f in open_log(run).frames(None, None) for ev in decode_frame(f.payload)]


def pids(trace: dict) -> dict[str, int]:  # type: ignore[type-arg]
    return {
        e["args"]["name"]: e["pid"]
        for e in trace["traceEvents"]
        if e["ph"] == "M" and e["name"] == "process_name"
    }


def counters(trace: dict) -> Counter[tuple[int, str]]:  # type: ignore[type-arg]
    return Counter((e["pid"], e["name"]) for e in trace["traceEvents"] if e["ph"] == "C")


def instants(trace: dict, thread: str) -> list[tuple[str, float]]:  # type: ignore[type-arg]
    tid = MONITOR_THREADS[thread]
    return [
        (e["name"], e["ts"])
        for e in trace["traceEvents"]
        if e["ph"] == "i" and e["pid"] == MONITOR_PID and e["tid"] == tid
    ]


def check_complete(run: Path, trace: dict, events: list[dict]) -> None:  # type: ignore[type-arg]
    """Every counter track and instant the recording implies is in ``trace``, with every point."""
    raws = raw(run)
    start = next(e for e in raws if isinstance(e, RunStarted))
    t0 = start.ts_ns
    pools = start.config.get("pools") or ["all"]
    by_name = pids(trace)
    got = counters(trace)
    expected: Counter[tuple[int, str]] = Counter()
    for ev in raws:
        if isinstance(ev, WorkerCounters):
            pid = by_name[f"pool {pools[ev.pool] if len(pools) > 1 else pools[0]}"]
            for c in counter_fields(WorkerCounts):
                expected[(pid, f"worker {ev.worker} {c.name}")] += 1
        elif isinstance(ev, ChannelCounters):
            pid = by_name[f"pool {pools[ev.pool] if len(pools) > 1 else pools[0]}"]
            for c in counter_fields(ChannelCounts):
                expected[(pid, f"channel {ev.channel} {c.name}")] += 1
        elif isinstance(ev, Gauge):
            pid = by_name[f"pool {pools[ev.pool] if len(pools) > 1 else pools[0]}"]
            expected[(pid, f"gauge {ev.name}")] += 1
    samples = [e for e in events if e["type"] == "sample"]
    assert samples
    for s in samples:
        pid = by_name[f"pool {s['pool']}"]
        for name in ("tasks_per_s", "msgs_per_s", "utilisation", "fastpath_ratio", "window_ns", "frames"):
            if isinstance(s.get(name), NUMERIC):
                expected[(pid, name)] += 1
    for h in (e for e in events if e["type"] == "heatmap"):
        pid = by_name[f"pool {h['pool']}"]
        for w, u in zip(h["worker_ids"], h["worker_utilisation"], strict=True):
            if u is not None:
                expected[(pid, f"worker {w} window utilisation")] += 1
    missing = {k: n for k, n in expected.items() if got[k] != n}
    assert not missing, {k: (n, got[k]) for k, n in list(missing.items())[:5]}
    # a sample's value lands at its event time
    s = samples[-1]
    pid = by_name[f"pool {s['pool']}"]
    points = {
        e["ts"]: e["args"]["value"]
        for e in trace["traceEvents"]
        if e["ph"] == "C" and e["pid"] == pid and e["name"] == "window_ns"
    }
    assert points[round((s["ts_ns"] - t0) / 1000, 3)] == s["window_ns"]
    for kind, thread, name_of in (
        ("mark", "marks", lambda e: e["name"]),
        ("alert", "alerts", lambda e: f"{e['rule']} {e['state']}"),
        ("anomaly", "anomalies", lambda e: f"{e['metric']} {e['method']}"),
    ):
        want = sorted((name_of(e), round((e["ts_ns"] - t0) / 1000, 3)) for e in events if e["type"] == kind)
        assert sorted(instants(trace, thread)) == want, kind


@pytest.mark.parametrize("run", LOGS, ids=[p.name for p in LOGS])
def test_bench_data_logs_export_completely(run: Path, tmp_path: Path) -> None:
    trace = export(run, tmp_path / "t.json")
    check_complete(run, trace, derived(run, tmp_path))
    start = next(e for e in raw(run) if isinstance(e, RunStarted))
    assert trace["otherData"]["run_id"] == start.run_id
    # one slice for the run, one sampling state for the whole run (no control change recorded)
    slices = [e for e in trace["traceEvents"] if e["ph"] == "X" and e["cat"] != "gap"]
    assert [s["name"] for s in slices] == [
        f"run {start.run_id} ({start.mode})",
        f"sampling {start.interval_ns / 1e6:g} ms",
    ]


@pytest.mark.parametrize("run", LOGS, ids=[p.name for p in LOGS])
def test_every_event_has_cat_and_worker_threads_carry_their_counters(run: Path, tmp_path: Path) -> None:
    """TracerBench's model needs ``cat`` on every event; a named worker thread has that worker's events."""
    trace = export(run, tmp_path / "t.json")
    events = trace["traceEvents"]
    assert all(isinstance(e.get("cat"), str) and e["cat"] for e in events)
    named = {(e["pid"], e["tid"]): e["args"]["name"] for e in events if e["name"] == "thread_name"}
    workers = {k: v for k, v in named.items() if v.startswith("worker ")}
    assert workers
    for (pid, tid), name in workers.items():
        on_thread = [e for e in events if e["ph"] == "C" and e["pid"] == pid and e["tid"] == tid]
        assert on_thread, name
        assert all(e["name"].startswith(f"{name} ") for e in on_thread)
    pool_wide = [e for e in events if e["ph"] == "C" and e["tid"] == 0]
    assert pool_wide and not [e for e in pool_wide if e["name"].startswith("worker ")]


@pytest.mark.slow
def test_a_real_run_with_alerts_anomalies_and_marks(tmp_path: Path) -> None:
    (tmp_path / "cfg.toml").write_text(
        '[window]\nlength = "100ms"\n'
        '[alerts]\nrules = ["busy: utilisation > 0 for 0s severity=info"]\n'
        "[outliers]\nz = 0.3\nmad = 0.3\n"
    )
    out = tmp_path / "run.ndjson"
    r = ks(
        "run", "-d", "3", "-m", "tasks", "--config", "cfg.toml", "--no-tui",
        "--out", str(out), "--log", "run", cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    events = [json.loads(x) for x in out.read_text().splitlines()]
    kinds = Counter(e["type"] for e in events)
    assert kinds["alert"] >= 1 and kinds["mark"] >= 1
    trace = export(tmp_path / "run", tmp_path / "run.json")
    check_complete(tmp_path / "run", trace, events)


def test_control_changes_are_slices_and_losses_instants(tmp_path: Path) -> None:
    """A log with recorded control changes (ingester events), a mark and a ring loss."""
    src = LOGS[0]
    frames = list(open_log(src).frames(None, None))
    t_first, t_last = frames[0].ts_ns, frames[-1].ts_ns
    at = [t_first + (t_last - t_first) * k // 5 for k in (1, 2, 3, 4)]
    planted = {
        at[0]: [ControlApplied(at[0], 0, seq=1, interval_ns=5_000_000, paused=False, stop=False)],
        at[1]: [ControlApplied(at[1], 0, seq=2, interval_ns=5_000_000, paused=True, stop=False)],
        at[2]: [
            ControlApplied(at[2], 0, seq=3, interval_ns=5_000_000, paused=False, stop=False),
            RingLoss(at[2], 0, frames=2, bytes=512, seq_from=10, seq_to=12, reason="dropped"),
            Mark(at[2], 1, name="phase-2", detail="planted"),
        ],
        at[3]: [ControlApplied(at[3], 0, seq=4, interval_ns=0, paused=False, stop=True)],
    }
    run = tmp_path / "planted"
    seq = 0
    with LogWriter.create(run, "planted") as w:
        for f in frames:
            for t in [t for t in planted if t <= f.ts_ns]:
                w.append_payload(encode_frame(planted.pop(t)), seq, t)
                seq += 1
            w.append_payload(bytes(f.payload), seq, f.ts_ns)
            seq += 1
    trace = export(run, tmp_path / "p.json")
    check_complete(run, trace, derived(run, tmp_path))
    start = next(e for e in raw(run) if isinstance(e, RunStarted))
    us = [round((t - start.ts_ns) / 1000, 3) for t in at]
    control = [
        (e["name"], e["ts"], round(e["ts"] + e["dur"], 3))
        for e in trace["traceEvents"]
        if e["ph"] == "X" and e["tid"] == MONITOR_THREADS["control"]
    ]
    first = f"sampling {start.interval_ns / 1e6:g} ms"
    assert [c[0] for c in control] == [first, "sampling 5 ms", "paused", "sampling 5 ms"]
    assert [c[1] for c in control] == [0.0, us[0], us[1], us[2]]
    assert control[0][2] == us[0] and control[1][2] == us[1] and control[2][2] == us[2]
    assert instants(trace, "control") == [("stop requested", us[3])]
    assert instants(trace, "run") == [("ring loss (dropped)", us[2])]
    assert ("phase-2", us[2]) in instants(trace, "marks")


def test_bad_input_is_one_line_with_its_exit_code(tmp_path: Path) -> None:
    run = LOGS[0]
    cases = [
        ((str(tmp_path), "--out", str(tmp_path / "a.json")), 2, "no log segments"),
        ((str(tmp_path / "nope"), "--out", str(tmp_path / "a.json")), 2, "no such run directory"),
        ((str(ROOT / "README.md"), "--out", str(tmp_path / "a.json")), 2, "not a run directory"),
        ((str(run), "--out", "/sys/kcoro-trace.json"), 2, "cannot write"),
        ((str(run), "--out", str(tmp_path / "missing" / "a.json")), 2, "does not exist"),
        ((str(run), "--out", str(tmp_path)), 2, "is a directory"),
    ]
    for args, code, text in cases:
        r = ks("export", "chrome", *args)
        assert r.returncode == code and text in r.stderr, (args, r.returncode, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    # an existing output is never clobbered without --force (exit 1), replaced with it
    keep = tmp_path / "keep.json"
    keep.write_text("precious")
    r = ks("export", "chrome", str(run), "--out", str(keep))
    assert r.returncode == 1 and "exists (use --force" in r.stderr and keep.read_text() == "precious"
    r = ks("export", "chrome", str(run), "--out", str(keep), "--force")
    assert r.returncode == 0 and json.loads(keep.read_text())["traceEvents"]
    assert os.listdir(tmp_path).count("keep.json") == 1


def test_a_window_without_a_value_is_a_gap_the_viewer_draws(tmp_path: Path) -> None:
    """A null field (the dual recording's tasks pool has no steal ratio in 2 of its 3 windows)
    is no counter point (Perfetto would hold the last value, catapult draw 0) but a ``gap``
    slice over the window, on the pool's ``no data: NAME`` thread."""
    run = ROOT / "bench_data" / "logs" / "dual-v1"
    trace = export(run, tmp_path / "t.json")
    events = trace["traceEvents"]
    t0 = next(e for e in raw(run) if isinstance(e, RunStarted)).ts_ns
    by_name = pids(trace)
    threads = {(e["pid"], e["tid"]): e["args"]["name"] for e in events if e["name"] == "thread_name"}
    samples = [e for e in derived(run, tmp_path) if e["type"] == "sample"]
    checked = 0
    for pool in {s["pool"] for s in samples}:
        mine = [s for s in samples if s["pool"] == pool]
        pid = by_name[f"pool {pool}"]
        for name in ("tasks_per_s", "msgs_per_s", "steal_ratio", "fastpath_ratio", "utilisation"):
            points = {e["ts"] for e in events if e["ph"] == "C" and e["pid"] == pid and e["name"] == name}
            gaps = [
                (e["ts"], round(e["ts"] + e["dur"], 3))
                for e in events
                if e["ph"] == "X" and e["pid"] == pid and threads.get((pid, e["tid"])) == f"no data: {name}"
            ]
            on_gap_threads = [e for e in events if e["ph"] == "X" and e["pid"] == pid and e["tid"] >= 2000]
            assert all(e["cat"] == "gap" for e in on_gap_threads)
            for i, s in enumerate(mine):
                ts = round((s["ts_ns"] - t0) / 1000, 3)
                if s[name] is not None or not points:
                    assert not any(a < ts < b for a, b in gaps), (pool, name, ts)
                    continue
                assert ts not in points, (pool, name, ts)
                start = round((mine[i - 1]["ts_ns"] - t0) / 1000, 3) if i else 0.0
                assert any(a <= start and ts <= b for a, b in gaps), (pool, name, ts, gaps)
                checked += 1
            if not points:  # a field this pool never has: no track, no gap thread
                assert f"no data: {name}" not in {threads.get((pid, t)) for t in range(2000, 2100)}
    assert checked >= 3  # tasks: steal_ratio twice; channel: fastpath_ratio and steal_ratio
