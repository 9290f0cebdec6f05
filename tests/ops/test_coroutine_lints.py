"""The coroutine view end to end (issue 30): real benchmark runs with ``--coroutines``.

A ``--hog-ms`` run names ``hog`` in lint.busy and raises no other lint; a
``--stuck`` run names ``stuck`` in lint.stuck with its channel and waiters;
the NDJSON carries ``coroutine``/``channel`` lines that validate; the replay of
the hog run is byte-identical to the live output. (Steady runs of every mode
with ``--coroutines`` raising no lint: ``selftest --judges``, tests/test_selftest_judges.py.) The thresholds and the
reserved ``lint.`` prefix are checked without a run, and lint.self_wake
(no scripted culprit in the benchmark) over CoroutineState events.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import reactivex

from kcoro_stream import ops
from kcoro_stream.errors import UsageError
from kcoro_stream.events import CORO_RUNNABLE, CoroutineState, RunStarted, Tick
from kcoro_stream.validate import validate_file

KS = [sys.executable, "-m", "kcoro_stream"]


def run(tmp_path: Path, name: str, *args: str, log: bool = False) -> list[dict[str, Any]]:
    out = tmp_path / f"{name}.ndjson"
    logargs = ["--log", str(tmp_path / name)] if log else ["--no-log"]
    r = subprocess.run(
        [
            *KS,
            "run",
            "--no-tui",
            "--no-stdout",
            "--workers",
            "2",
            "--coroutines",
            *args,
            "--out",
            str(out),
            *logargs,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    return [json.loads(x) for x in out.read_text().splitlines()]


def lints(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [x for x in lines if x["type"] == "alert" and x["rule"].startswith("lint.")]


def first_window_ts(lines: list[dict[str, Any]]) -> float:
    return min(x["ts"] for x in lines if x["type"] == "sample")


def test_hog_is_named_busy_within_two_windows_and_replays_byte_identical(tmp_path: Path) -> None:
    lines = run(tmp_path, "hog", "--mode", "tasks", "-d", "3", "--hog-ms", "200", log=True)
    found = lints(lines)
    firing = [a for a in found if a["state"] == "firing"]
    assert {a["rule"] for a in found} == {"lint.busy"}, found  # no other lint
    assert {a["labels"]["name"] for a in found} == {"hog"}
    assert "hog" in firing[0]["message"] and "without yielding" in firing[0]["message"]
    # the hog spins from the start; snapshots every 100 ms: named by the end of the second window
    assert firing[0]["ts"] <= first_window_ts(lines) + 2 * 0.25 + 0.3
    views = [x for x in lines if x["type"] == "coroutine"]
    assert any(v["name"] == "hog" and v["state"] == "running" for v in views)
    live = (tmp_path / "hog.ndjson").read_bytes()
    again = tmp_path / "again.ndjson"
    r = subprocess.run(
        [*KS, "replay", str(tmp_path / "hog"), "--no-tui", "--no-stdout", "--out", str(again)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert b'"type":"coroutine"' in live
    assert again.read_bytes() == live


def test_stuck_is_named_parked_on_its_channel_with_its_waiters(tmp_path: Path) -> None:
    lines = run(tmp_path, "stuck", "--mode", "channel", "-d", "2.5", "--stuck")
    found = lints(lines)
    assert {a["rule"] for a in found} == {"lint.stuck"}, found
    (a,) = [x for x in found if x["state"] == "firing"]
    chans = [x for x in lines if x["type"] == "channel" and x["name"] == "stuck"]
    assert chans, "no channel line for the stuck channel"
    cid = chans[-1]["channel"]
    assert a["labels"]["name"] == "stuck" and a["labels"]["channel"] == str(cid)
    assert a["labels"]["channel_name"] == "stuck"
    stuck_id = int(a["labels"]["coroutine"])
    assert chans[-1]["receivers"] == [stuck_id] and chans[-1]["senders"] == []
    assert f"channel {cid}" in a["message"] and f"receivers [{stuck_id}]" in a["message"]
    report = validate_file(tmp_path / "stuck.ndjson")
    assert report.problem_count == 0, report.problems
    assert report.types["coroutine"] > 0 and report.types["channel"] > 0


def test_a_user_rule_may_not_take_the_lint_prefix() -> None:
    with pytest.raises(UsageError, match="reserved"):
        ops.parse_rules(["lint.busy: tasks_per_s < 10"])


def test_bad_lint_thresholds_name_the_key() -> None:
    with pytest.raises(UsageError, match="stuck_ms"):
        ops.default_analyses(lints={"stuck_ms": 0})
    with pytest.raises(UsageError, match="unknown key 'nope'"):
        ops.default_analyses(lints={"nope": 1})


def _self_waker_frames(self_per_snapshot: int, others: int) -> list[list[Any]]:
    """A run whose coroutine 7 is woken `self_per_snapshot` times by itself and `others` times by
    others between snapshots 100 ms apart (ten ticks of 10 ms each)."""
    t0 = 10**12
    start = RunStarted(
        ts_ns=t0, source=0, run_id="r", mode="tasks", config={}, workers=1, host="h", pid=1,
        abi_major=1, abi_minor=1, build={}, wall_ns=0, interval_ns=10_000_000,
    )  # fmt: skip
    frames: list[list[Any]] = [[start]]
    wakes = selfs = 0
    for k in range(1, 31):
        ts = t0 + k * 10_000_000
        frames.append(
            [Tick(ts_ns=ts, source=0, seq=k, target_ns=10_000_000, actual_ns=10_000_000, paused=False)]
        )
        if k % 10 == 0:
            wakes += self_per_snapshot + others
            selfs += self_per_snapshot
            frames.append([
                CoroutineState(
                    ts_ns=ts, source=0, coroutine=7, pool=0, name="spinner", state=CORO_RUNNABLE,
                    worker=-1, wait_kind=0, wait_id=-1, resumes=wakes, parks=0, wakes=wakes,
                    self_wakes=selfs, busy_ns=0, age_ns=ts - t0, running_ns=0, parked_ns=0,
                )
            ])  # fmt: skip
    return frames


def _alerts(frames: list[list[Any]]) -> list[Any]:
    out: list[Any] = []
    reactivex.from_iterable(frames).pipe(ops.default_analyses()).subscribe(out.append)
    return [a for a in out if type(a).__name__ == "Alert"]


def test_self_wake_fires_for_a_coroutine_waking_itself_in_a_loop_only() -> None:
    fired = _alerts(_self_waker_frames(5000, 10))
    assert [(a.rule, a.state, a.labels["name"]) for a in fired] == [("lint.self_wake", "firing", "spinner")]
    assert _alerts(_self_waker_frames(50, 10)) == []  # 500/s: below self_wake_per_s
    assert _alerts(_self_waker_frames(5000, 5000)) == []  # half its wakes: below self_wake_ratio
