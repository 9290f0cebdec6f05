"""``selftest --judges``: each scripted fault gets exactly its judgment at the right time and
steady runs of every mode get none; a missing, extra or late judgment is a failed row (exit 1).

The full run (~2–3 min) is part of ``make test``; the row logic is checked on fabricated outcomes.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kcoro_stream.selftest._judges import Outcome, Scenario, _verdicts, judgments

NS = 1_000_000_000


def _rows(expected: set[str], fired: dict[str, float], fault_s: float | None = 3.0) -> dict[str, bool]:
    sc = Scenario("s", [], frozenset(expected), fault_s=fault_s)
    return {c.name.rsplit(" ", 1)[-1]: c.ok for c in _verdicts(Outcome(sc, fired=fired, fault_s=fault_s))}


def test_exactly_the_expected_judgment_at_the_right_time_passes():
    rows = _rows(
        {"alert:producer.stalled", "status:stalled"}, {"alert:producer.stalled": 3.2, "status:stalled": 3.2}
    )
    assert all(rows.values()), rows


def test_missing_extra_or_late_judgments_fail_their_judge_row():
    assert _rows({"anomaly:tasks_per_s"}, {})["anomaly"] is False  # missing
    assert _rows(set(), {"kpi:fastpath_ratio": 1.0})["kpi"] is False  # a steady run judged RED
    assert _rows({"anomaly:tasks_per_s"}, {"anomaly:tasks_per_s": 7.5})["anomaly"] is False  # late
    # a run-queue explanation is tolerated where no os_interference is expected (shared machine) ...
    assert all(_rows(set(), {"os_interference:worker 0": 2.0}).values())
    # ... but where one is expected it must name the right worker
    assert _rows({"os_interference:worker 1"}, {"os_interference:worker 0": 3.0})["os_interference"] is False


def test_judgments_read_both_outputs_from_the_run_start():
    out = [
        {"type": "sample", "ts_ns": 5 * NS, "phase": "steady"},
        {"type": "kpi", "ts_ns": 5 * NS, "phase": "warmup", "states": {"fastpath_ratio": "RED"}},
        {"type": "kpi", "ts_ns": 6 * NS, "phase": "steady", "states": {"backlog": "RED"}},
        {"type": "alert", "ts_ns": 4 * NS, "rule": "backlog", "state": "firing"},
        {"type": "alert", "ts_ns": 9 * NS, "rule": "backlog", "state": "resolved"},
        {"type": "anomaly", "ts_ns": 8 * NS, "method": "zscore", "metric": "tasks_per_s", "window": 20},
        {"type": "status", "ts_ns": 3 * NS, "state": "stalled"},
        {"type": "status", "ts_ns": 4 * NS, "state": "running"},
    ]
    fired, phases = judgments(out, origin_ns=1 * NS)
    assert fired == {
        "kpi:backlog": 5.0,
        "alert:backlog": 3.0,
        "anomaly:tasks_per_s": 5.0,
        "status:stalled": 2.0,
    }
    assert phases == {"steady"}


@pytest.mark.slow
@pytest.mark.timeout(700)
def test_selftest_judges_passes_on_this_build():
    r = subprocess.run(
        [sys.executable, "-m", "kcoro_stream", "selftest", "--judges", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    result = json.loads(r.stdout)
    failed = [c for c in result["checks"] if not c["ok"]]
    assert r.returncode == 0 and not failed, failed
    names = {c["name"].split()[1] for c in result["checks"]}
    assert {
        "steady-channel",
        "steady-tasks",
        "steady-mixed",
        "steady-dual",
        "slowdown",
        "step",
        "dearer-tasks",
        "pause",
    } <= names
    assert {"stall", "queue-growth", "cpu-neighbour"} <= names
