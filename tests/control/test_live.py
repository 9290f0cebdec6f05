"""``ctl`` against real runs: a real benchmark child, a real socket, the log and the NDJSON checked.

One steered run carries the issue's checks (status, interval, pause/resume,
mark, a live rule, a knob) and is then replayed: the derived output must be
byte-identical.
"""

from __future__ import annotations

import itertools
import json
import os
import stat
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from kcoro_stream.control import call
from kcoro_stream.errors import ControlError
from kcoro_stream.eventlog import open_log
from kcoro_stream.events import (
    ControlApplied,
    KnobApplied,
    Mark,
    RuleChanged,
    RunStarted,
    Tick,
    WorkerCounters,
    decode_frame,
)

KS = [sys.executable, "-m", "kcoro_stream"]
WINDOW_NS = 250_000_000


def ks(*args: str, timeout: float = 60, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KS, *args], capture_output=True, text=True, timeout=timeout, **kw)


def start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*KS, "run", "--no-tui", "--no-stdout", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_for(what: str, cond: Any, proc: subprocess.Popen[str], timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        if proc.poll() is not None:
            raise AssertionError(
                f"the run ended while waiting for {what}: {proc.stderr.read() if proc.stderr else ''}"
            )
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def wait_started(target: Path, proc: subprocess.Popen[str]) -> dict[str, Any]:
    """Wait for the socket and the producer's RunStarted (a stop before it races the child's start-up)."""
    wait_for("the control socket", (target / "control.sock" if target.is_dir() else target).exists, proc)

    def started() -> Any:
        try:
            st = call(target, "status", [])
        except ControlError:  # bound but not yet listening
            return None
        return st if st["run_id"] else None

    return wait_for("RunStarted", started, proc)  # type: ignore[no-any-return]


def wait_event_time(run: Path, proc: subprocess.Popen[str], after_ns: int) -> None:
    """Wait until the log holds ticks past ``after_ns`` (event time, not the loaded machine's wall time)."""

    def past() -> bool:
        try:
            return any(type(e) is Tick and e.ts_ns > after_ns for e in log_events(run))
        except Exception:  # a segment being written: try again
            return False

    wait_for(f"event time {after_ns}", past, proc, timeout=60)


def wait_logged(run: Path, proc: subprocess.Popen[str], pred: Any) -> Any:
    """The first logged event for which ``pred`` holds (the log is flushed within a second)."""

    def find() -> Any:
        try:
            return next((e for e in log_events(run) if pred(e)), None)
        except Exception:  # a segment being written: try again
            return None

    return wait_for("a logged event", find, proc, timeout=60)


def log_events(run: Path) -> list[Any]:
    out: list[Any] = []
    for frame in open_log(run).frames(None, None):
        out += decode_frame(frame.payload)
    return out


def ticks_after(events: list[Any], pred: Any) -> list[Tick]:
    i = next(i for i, e in enumerate(events) if pred(e))
    return [e for e in events[i + 1 :] if type(e) is Tick]


def test_ctl_steers_a_live_run_and_its_replay_is_identical(tmp_path: Path) -> None:
    run, live, again = tmp_path / "run", tmp_path / "live.ndjson", tmp_path / "replay.ndjson"
    proc = start("-m", "tasks", "--workers", "2", "-d", "60", "--log", str(run), "--out", str(live))
    try:
        sock = run / "control.sock"
        st = wait_started(run, proc)
        assert stat.S_IMODE(sock.lstat().st_mode) == 0o600
        assert st["mode"] == "tasks" and st["interval_ms"] == 10.0 and st["paused"] is False
        assert st["knobs"]["batch"] == 64 and st["statistics"]["state"] == "running"
        first = wait_logged(run, proc, lambda e: type(e) is Tick)
        wait_event_time(run, proc, first.ts_ns + 5 * WINDOW_NS)  # a few windows at batch 64

        assert call(run, "set_interval", ["20ms"])["interval_ms"] == 20.0
        assert call(run, "mark", ["phase-2"])["name"] == "phase-2"

        seq = call(run, "pause", [])["seq"]
        paused_at = wait_logged(run, proc, lambda e: type(e) is ControlApplied and e.seq == seq).ts_ns
        wait_event_time(run, proc, paused_at + 30 * 20_000_000)  # 30 ticks paused
        assert call(run, "status", [])["paused"] is True
        seq = call(run, "resume", [])["seq"]
        resumed_at = wait_logged(run, proc, lambda e: type(e) is ControlApplied and e.seq == seq).ts_ns
        wait_event_time(run, proc, resumed_at + 2 * WINDOW_NS)

        rule = call(run, "set_rule", ["always: tasks_per_s >= 0 severity=info"])["rule"]
        assert rule["name"] == "always"
        assert call(run, "list_rules", [])["alerts"] == [rule]
        ruled_at = wait_logged(run, proc, lambda e: type(e) is RuleChanged).ts_ns
        wait_event_time(run, proc, ruled_at + 3 * WINDOW_NS)

        assert call(run, "set_knob", {"batch": 1})["applied"] == {"batch": 1}
        assert call(run, "status", [])["knobs"]["batch"] == 1
        knob_at = wait_logged(run, proc, lambda e: type(e) is KnobApplied).ts_ns
        wait_event_time(run, proc, knob_at + 5 * WINDOW_NS)  # a few windows at batch 1
        assert call(run, "stop", []) == {"stopping": True}
        assert proc.wait(timeout=30) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        proc.kill()
    assert not sock.exists()  # gone with the run

    events = log_events(run)
    # set_interval: acknowledged, and the ticks after the acknowledgement are 20 ms apart
    after = ticks_after(events, lambda e: type(e) is ControlApplied and e.interval_ns == 20_000_000)
    assert after[0].target_ns == 20_000_000 and after[1].target_ns == 20_000_000  # within two ticks
    assert abs(statistics.median(t.actual_ns for t in after[1:11]) - 20_000_000) < 5_000_000
    # pause: sampling went on, the counters stood still; after resume they moved
    paused_totals = []
    current = None
    for e in events:
        if type(e) is Tick:
            current = e
        elif type(e) is WorkerCounters and current is not None and current.paused:
            paused_totals.append((current.seq, e.worker, e.tasks_completed))
    seqs = sorted({s for s, _, _ in paused_totals})
    assert len(seqs) >= 20  # ~0.6 s of 20 ms ticks, all sampled
    settled = [s for s in seqs[3:]]  # the batch in flight finishes in the first ticks
    by_worker: dict[int, set[int]] = {}
    for s, w, done in paused_totals:
        if s in settled:
            by_worker.setdefault(w, set()).add(done)
    assert by_worker and all(len(v) == 1 for v in by_worker.values()), by_worker
    last_paused = max(max(v) for v in by_worker.values())
    final = [e for e in events if type(e) is WorkerCounters]
    assert sum(e.tasks_completed for e in final[-2:]) > 2 * last_paused
    # mark, rule change and knob are events in the log
    assert any(type(e) is Mark and e.name == "phase-2" for e in events)
    assert any(type(e) is RuleChanged and e.name == "always" and e.action == "set" for e in events)
    knob = next(e for e in events if type(e) is KnobApplied)
    assert (knob.name, knob.value, knob.previous) == ("batch", 1, 64)

    lines = [json.loads(x) for x in live.read_text().splitlines()]
    marks = [x for x in lines if x["type"] == "mark" and x["name"] == "phase-2"]
    assert len(marks) == 1
    # the rule fires on the first window that closes after it was set
    change = next(e for e in events if type(e) is RuleChanged)
    fired = [x for x in lines if x["type"] == "alert" and x["rule"] == "always"]
    assert fired and fired[0]["state"] == "firing"
    origin = next(e for e in events if type(e) is RunStarted).ts_ns
    k = (change.ts_ns - origin) // WINDOW_NS  # the window the change is stamped in (event time)
    next_window = min(x["ts_ns"] for x in lines if x["type"] == "sample" and x["window"] >= k)
    assert fired[0]["ts_ns"] == next_window  # on the first window that closed after the change
    # batch=1: the fast path (the one-slot LIFO) takes almost every task
    samples = [x for x in lines if x["type"] == "sample" and not x["partial"]]
    before = [
        s["fastpath_ratio"] for s in samples if s["ts_ns"] < change.ts_ns and s["fastpath_ratio"] is not None
    ]
    after_knob = [
        s["fastpath_ratio"]
        for s in samples
        if s["ts_ns"] > knob.ts_ns + WINDOW_NS and s["fastpath_ratio"] is not None
    ]
    assert len(before) >= 2 and len(after_knob) >= 3
    assert statistics.median(after_knob) - statistics.median(before) > 0.2, (before, after_knob)

    r = ks("replay", str(run), "--no-tui", "--no-stdout", "--out", str(again))
    assert r.returncode == 0, r.stderr
    assert live.read_bytes() == again.read_bytes()


def test_ctl_command_line_exit_codes(tmp_path: Path) -> None:
    run = tmp_path / "run"
    proc = start("-m", "channel", "--workers", "2", "-d", "60", "--log", str(run))
    try:
        wait_started(run, proc)
        r = ks("ctl", str(run), "status")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["source"] == "bench (channel)"
        r = ks("ctl", str(run / "control.sock"), "methods")
        assert r.returncode == 0 and "set_knob" in {m["name"] for m in json.loads(r.stdout)["methods"]}
        r = ks("ctl", str(run), "set_knob", "nope=1")
        assert r.returncode == 1 and r.stderr.count("\n") == 1 and "unknown knob 'nope'" in r.stderr
        r = ks("ctl", str(run), "set_interval", "3ms", "x=1")
        assert r.returncode == 2 and "either one VALUE or key=value" in r.stderr
        r = ks("ctl", str(run), "set_interval", "0.1ms")
        assert r.returncode == 1 and "(-32602)" in r.stderr
        r = ks("ctl", str(run), "stop")
        assert r.returncode == 0
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
    r = ks("ctl", str(run), "status")
    assert r.returncode == 1 and "no control socket" in r.stderr and "Traceback" not in r.stderr


def test_no_log_run_gets_a_private_socket_directory(tmp_path: Path) -> None:
    xdg = tmp_path / "xdg"
    xdg.mkdir(mode=0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(xdg)}
    proc = start("--producer", "synthetic", "-d", "60", "--no-log", env=env)
    try:
        dirs = wait_for("the private directory", lambda: list(xdg.glob("kcoro-stream-*")), proc)
        sock = dirs[0] / "control.sock"
        wait_started(sock, proc)
        assert stat.S_IMODE(dirs[0].stat().st_mode) == 0o700
        assert stat.S_IMODE(sock.lstat().st_mode) == 0o600
        st = call(sock, "status", [])
        assert st["paused"] is False
        assert dirs[0].name.startswith(f"kcoro-stream-{st['monitor_run_id']}-")  # findable by run id
        call(sock, "stop", [])
        assert proc.wait(timeout=30) == 0
        assert proc.stderr is not None and proc.stderr.read() == ""  # piped stderr: errors only
    finally:
        proc.kill()
    assert not dirs[0].exists()


def test_control_flags(tmp_path: Path) -> None:
    long = tmp_path / ("x" * 120) / "c.sock"
    long.parent.mkdir()
    r = ks(
        "run",
        "--producer",
        "synthetic",
        "-d",
        "1",
        "--no-tui",
        "--log",
        str(tmp_path / "r1"),
        "--control",
        str(long),
    )
    assert r.returncode == 2 and "--control:" in r.stderr and "at most 107" in r.stderr
    assert not (tmp_path / "r1").exists()  # refused before anything was created
    own = tmp_path / "own.sock"
    proc = start("--producer", "synthetic", "-d", "60", "--log", str(tmp_path / "r2"), "--control", str(own))
    try:
        wait_started(own, proc)
        assert not (tmp_path / "r2" / "control.sock").exists()
        call(own, "stop", [])
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
    assert not own.exists()
    r = ks(
        "run",
        "--producer",
        "synthetic",
        "-d",
        "0.5",
        "--no-tui",
        "--no-stdout",
        "--log",
        str(tmp_path / "r3"),
        "--no-control",
    )
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / "r3" / "control.sock").exists()


@pytest.mark.parametrize("method", ["set_knob"])
def test_knobs_are_refused_for_a_producer_that_announces_none(tmp_path: Path, method: str) -> None:
    run = tmp_path / "run"
    proc = start("--producer", "synthetic", "-d", "60", "--log", str(run))
    try:
        wait_started(run, proc)
        r = ks("ctl", str(run), method, "batch=1")
        assert r.returncode == 1 and "announced no live knobs" in r.stderr
        call(run, "stop", [])
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()


def test_concurrent_clients_on_a_live_run_never_overwrite_each_other(tmp_path: Path) -> None:
    """50 clients at once (status, marks) and 12 concurrent knob commands: every knob command is
    applied, once, in the order the monitor took them; every mark is logged."""
    from concurrent.futures import ThreadPoolExecutor

    run = tmp_path / "run"
    proc = start("-m", "mixed", "--workers", "2", "-d", "60", "--log", str(run))
    try:
        wait_started(run, proc)

        def client(i: int) -> Any:
            if i < 12:
                return call(run, "set_knob", {"batch": i + 1, "spin": 100 + i})
            if i < 30:
                return call(run, "mark", [f"m{i}"])
            return call(run, "status", [])

        with ThreadPoolExecutor(max_workers=50) as pool:
            answers = list(pool.map(client, range(50)))
        assert all(a["run_id"] for a in answers[30:])
        knob_answers = answers[:12]
        assert sorted(a["cmd_id"] for a in knob_answers) == list(range(1, 13))
        call(run, "stop", [])
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
    events = log_events(run)
    applied = [e for e in events if type(e) is KnobApplied]
    assert sorted({e.cmd_id for e in applied}) == list(range(1, 13))
    assert len(applied) == 24  # two knobs per command, each applied once
    by_cmd = {a["cmd_id"]: a["applied"] for a in knob_answers}
    for e in applied:
        assert by_cmd[e.cmd_id][e.name] == e.value
    # the commands were applied one after another: each knob's previous value is the one before
    batch = [e for e in applied if e.name == "batch"]
    assert [e.cmd_id for e in batch] == sorted(e.cmd_id for e in batch)
    assert all(b.previous == a.value for a, b in itertools.pairwise(batch))
    marks = {e.name for e in events if type(e) is Mark}
    assert {f"m{i}" for i in range(12, 30)} <= marks


def raw_call(sock: Path, payload: Any, timeout: float = 30) -> Any:
    """One JSON text (a request or a batch) over the socket; the decoded answer line."""
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(sock))
        s.sendall(json.dumps(payload).encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            assert chunk, "closed without an answer"
            buf += chunk
    return json.loads(buf)


def test_a_stop_is_not_lost_to_a_request_that_follows_it(tmp_path: Path) -> None:
    """stop then pause / set_interval before the producer's next tick: the pause's record used to
    replace the stop's (SIGTERM 3 s later, end_reason "signal"), and was applied."""
    from kcoro_stream.events import RunEnded

    run = tmp_path / "run"
    proc = start("-m", "tasks", "--workers", "2", "-d", "60", "--interval", "500ms", "--log", str(run))
    try:
        wait_started(run, proc)
        req = [
            {"jsonrpc": "2.0", "id": 1, "method": "stop"},
            {"jsonrpc": "2.0", "id": 2, "method": "pause"},
            {"jsonrpc": "2.0", "id": 3, "method": "set_interval", "params": ["20ms"]},
            {"jsonrpc": "2.0", "id": 4, "method": "mark", "params": ["late"]},
        ]
        answers = raw_call(run / "control.sock", req)
        assert answers[0]["result"] == {"stopping": True}
        for a in answers[1:]:
            assert a["error"]["code"] == -32000 and "the run is stopping" in a["error"]["message"], a
        assert proc.wait(timeout=30) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        proc.kill()
    events = log_events(run)
    assert [e.reason for e in events if type(e) is RunEnded] == ["stopped"]
    assert not any(type(e) is Mark and e.name == "late" for e in events)
