"""``kcoro-stream selftest``: real scripted runs through the whole monitor, checked against known truth.

Two quick self-tests run here (each a few seconds): one through the real CLI
in a subprocess, one in-process with the rates operator broken on purpose.
Both use the same seed, so their workload totals must be the same.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import msgspec
import pytest
from click.testing import CliRunner

from kcoro_stream.cli import cli
from kcoro_stream.ops import _rates
from kcoro_stream.selftest import render_table, run_selftest

SEED = 7


@pytest.fixture(scope="module")
def cli_run() -> dict[str, Any]:
    """``kcoro-stream selftest --quick --json`` in a real subprocess."""
    proc = subprocess.run(
        [sys.executable, "-m", "kcoro_stream", "selftest", "--quick", "--json", "--seed", str(SEED)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    out: dict[str, Any] = json.loads(proc.stdout)
    out["returncode"] = proc.returncode
    out["stderr"] = proc.stderr
    return out


def test_quick_selftest_passes_and_exits_0(cli_run: dict[str, Any]) -> None:
    failed = [c for c in cli_run["checks"] if not c["ok"]]
    assert failed == [], failed
    assert cli_run["returncode"] == 0, cli_run["stderr"]
    assert cli_run["passed"] is True


def test_quick_selftest_covers_every_kind_of_check(cli_run: dict[str, Any]) -> None:
    names = " | ".join(c["name"] for c in cli_run["checks"])
    for part in (
        "tasks completed",
        "task bodies timed",
        "messages (recvs)",
        "bytes (bytes_recv)",
        "identity probes = successes + failures",
        "tasks_per_s over the run = count / elapsed",
        "msgs_per_s = delta / span",
        "task_body_ns p50 in the bucket",
        "backpressure fires in the growth phase only",
        "anomalies in the steady phases",
        "frames accounted",
        "replay = live",
        "same seed, same totals",
    ):
        assert part in names, part


def _off_by_two_percent(win: Any, width: int, idle_below: float) -> list[Any]:
    out = []
    for s in _real_window_samples(win, width, idle_below):
        fields = {f: getattr(s, f) * 1.02 for f in ("tasks_per_s", "msgs_per_s") if getattr(s, f) is not None}
        out.append(msgspec.structs.replace(s, **fields))
    return out


_real_window_samples = _rates.window_samples


def test_broken_rates_fail_the_selftest_naming_the_check(
    cli_run: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rates 2 % off: the rate checks fail (and only those), with the same workload totals."""
    monkeypatch.setattr(_rates, "window_samples", _off_by_two_percent)
    result = run_selftest(SEED, quick=True)
    assert result.exit_code == 1
    failed = {c.name for c in result.failed}
    assert "tasks#1: tasks_per_s = delta / span (worst window)" in failed
    assert "tasks#1: tasks_per_s over the run = count / elapsed" in failed
    assert "channel: msgs_per_s over the run = count / elapsed" in failed
    assert all("_per_s" in name for name in failed), failed
    table = render_table(result)
    assert "FAIL" in table and "tasks_per_s over the run" in table.splitlines()[-1]
    # the same seed gives the same workload totals, whatever the monitor computed
    assert result.totals == cli_run["totals"]


def test_bad_seed_is_a_usage_error_exit_2() -> None:
    res = CliRunner().invoke(cli, ["selftest", "--seed", "0"])
    assert res.exit_code == 2
    assert "--seed" in res.output
