"""kcoro-stream ab: two knob sets, two programs or two installs, repeated until decided, one verdict."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kcoro_stream.commands.ab import flags_to_knobs
from kcoro_stream.errors import UsageError

KS = [sys.executable, "-m", "kcoro_stream"]
PY = sys.executable


def ks(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KCORO_STREAM_")}
    env["XDG_CONFIG_HOME"] = str(cwd / ".xdg")
    return subprocess.run([*KS, *args], cwd=cwd, capture_output=True, text=True, timeout=600, env=env)


def gated(out: str) -> list[dict]:
    data = json.loads(out)
    return [m for c in data["comparisons"] for s in c["steps"] for m in s["metrics"] if m["gated"]]


def test_flags_become_knobs_and_bad_ones_are_one_line() -> None:
    assert flags_to_knobs("--batch 16 --body-cost=8", "A") == {"batch": "16", "body_cost": "8"}
    assert flags_to_knobs("", "A") == {}
    for bad in ("batch 16", "--batch"):
        with pytest.raises(UsageError):
            flags_to_knobs(bad, "B")


def test_ab_on_flags_finds_a_planted_slowdown_and_exits_1(tmp_path: Path) -> None:
    r = ks(
        tmp_path, "ab", "", "--body-cost 200", "--mode", "tasks", "--duration", "0.5s", "--workers", "1",
        "--max-repeats", "12", "--budget", "2m", "--out-dir", str(tmp_path / "ab"), "--json",
    )  # fmt: skip
    assert r.returncode == 1, r.stdout + r.stderr
    assert [m["verdict"] for m in gated(r.stdout)] == ["regressed"]
    idx = json.loads((tmp_path / "ab" / "index.json").read_text())
    assert idx["sequential"]["steps"]["tasks"]["stopped"] == "decided"


def test_ab_on_two_programs_stops_when_decided(tmp_path: Path) -> None:
    prog = f"{PY} -P -m kcoro_stream.sources.synthetic --ring {{ring}} --duration 1"
    r = ks(
        tmp_path, "ab", "--exec", prog, prog, "--duration", "5s", "--max-repeats", "14",
        "--out-dir", str(tmp_path / "ab"), "--json",
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert [m["verdict"] for m in gated(r.stdout)] == ["unchanged"]


def test_ab_on_two_installs_runs_each_interpreter(tmp_path: Path) -> None:
    """The same install twice (what CI does on a push): both sides run, a verdict is printed."""
    r = ks(
        tmp_path, "ab", "--python", PY, PY, "--mode", "channel", "--duration", "0.5s", "--workers", "1",
        "--max-repeats", "4", "--out-dir", str(tmp_path / "ab"), "--json",
    )  # fmt: skip
    assert r.returncode in (0, 1), r.stdout + r.stderr
    idx = json.loads((tmp_path / "ab" / "index.json").read_text())
    assert {x["variant"] for x in idx["runs"]} == {"a", "b"} and all(x["state"] == "ok" for x in idx["runs"])
    assert len(gated(r.stdout)) == 1


def test_a_bad_knob_is_one_line_exit_2(tmp_path: Path) -> None:
    r = ks(tmp_path, "ab", "", "--batchh 4", "--out-dir", str(tmp_path / "ab"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "batchh" in r.stderr, r.stderr
