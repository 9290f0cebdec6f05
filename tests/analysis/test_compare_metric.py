"""``compare --metric NAME``: a pipeline's own metric gated in its declared direction, its formula
version checked; results directories made of a real replay's summaries (tests/analysis/own_pipeline.py
over bench_data/logs/dual-v1), the declared figure scaled per side."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from click.testing import CliRunner

from kcoro_stream.analysis import Summary
from kcoro_stream.cli import cli
from kcoro_stream.pipeline import replay_events

OWN = Path(__file__).resolve().parent / "own_pipeline.py"
DUAL = Path(__file__).resolve().parents[2] / "bench_data" / "logs" / "dual-v1"
METRIC = "cpu_time_per_task"  # declared lower-is-better, version 2


@pytest.fixture(scope="module")
def summaries() -> list[dict[str, Any]]:
    got = [json.loads(msgspec.json.encode(e)) for e in replay_events(DUAL, OWN) if type(e) is Summary]
    assert any(f["name"] == METRIC and f["avg"] for s in got for f in s["declared_figures"])
    return got


def results(tmp: Path, name: str, summaries: list[dict[str, Any]], scale: float, version: int = 2) -> Path:
    """Eight ok repeats of one step; throughput as recorded (±0.2 %), the declared average × ``scale``."""
    runs = []
    for i in range(8):
        jitter = 1 + 0.002 * i
        summ = copy.deepcopy(summaries)
        for s in summ:
            s["avg"] = {k: (v * jitter if isinstance(v, float) else v) for k, v in s["avg"].items()}
            for f in s["declared_figures"]:
                f["version"] = version
                if f["avg"] is not None:
                    f["avg"] *= scale * jitter
        runs.append(
            {"step": "dual", "repeat": i, "dir": f"r{i}", "state": "ok", "summary": summ, "figures": {}}
        )
    out = tmp / name
    out.mkdir()
    (out / "index.json").write_text(
        json.dumps({"format": "kcoro-stream-results-index", "version": 1, "runs": runs})
    )
    return out


def compare(*args: str) -> tuple[int, dict[str, str], str]:
    r = CliRunner().invoke(cli, ["compare", *args, "--json"])
    if r.exit_code == 2 and not r.stdout.startswith("{"):
        return r.exit_code, {}, r.output
    data = json.loads(r.stdout)
    verdicts = {
        m["metric"]: m["verdict"] + ("" if m["gated"] else " (reported)")
        for c in data["comparisons"]
        for s in c["steps"]
        for m in s["metrics"]
    }
    return r.exit_code, verdicts, r.output


def test_a_declared_lower_is_better_metric_regresses_when_it_rises(tmp_path: Path, summaries: list) -> None:
    base, worse = results(tmp_path, "base", summaries, 1.0), results(tmp_path, "worse", summaries, 1.5)
    code, verdicts, out = compare(str(base), str(worse), "--metric", METRIC)
    assert code == 1, out
    assert verdicts[f"tasks:{METRIC}"] == "regressed"
    assert verdicts["tasks:tasks_per_s"] in ("unchanged", "inconclusive")
    code, verdicts, out = compare(str(base), str(worse))  # not asked: reported, never gated
    assert code == 0, out
    assert verdicts[f"tasks:{METRIC}"].endswith("(reported)")


def test_a_declared_lower_is_better_metric_improves_when_it_falls(tmp_path: Path, summaries: list) -> None:
    base, better = results(tmp_path, "base", summaries, 1.0), results(tmp_path, "better", summaries, 0.6)
    code, verdicts, out = compare(str(base), str(better), "--metric", METRIC)
    assert code == 0, out
    assert verdicts[f"tasks:{METRIC}"] == "improved"


def test_a_saved_baseline_keeps_the_declaration(tmp_path: Path, summaries: list) -> None:
    base, worse = results(tmp_path, "base", summaries, 1.0), results(tmp_path, "worse", summaries, 1.5)
    r = CliRunner().invoke(cli, ["baseline", "save", str(base), "--to", str(tmp_path / "b.json")])
    assert r.exit_code == 0, r.output
    saved = json.loads((tmp_path / "b.json").read_text())["steps"]["dual"]["declared"]
    assert saved == {METRIC: {"unit": "ns", "higher_is_better": False, "version": 2}}
    code, verdicts, out = compare(str(tmp_path / "b.json"), str(worse), "--metric", METRIC)
    assert code == 1 and verdicts[f"tasks:{METRIC}"] == "regressed", out


def test_another_formula_version_is_trouble(tmp_path: Path, summaries: list) -> None:
    base, other = (
        results(tmp_path, "base", summaries, 1.0),
        results(tmp_path, "v3", summaries, 1.0, version=3),
    )
    code, _, out = compare(str(base), str(other), "--metric", METRIC)
    assert code == 2
    assert f"{METRIC}: formula version 2 in {base}, 3 in {other}: their numbers are not comparable" in out


def test_an_unknown_metric_name_is_one_line_exit_2(tmp_path: Path, summaries: list) -> None:
    base = results(tmp_path, "base", summaries, 1.0)
    r = CliRunner().invoke(cli, ["compare", str(base), str(base), "--metric", "tasks_per_cpu_s"])
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "kcoro-stream: --metric tasks_per_cpu_s: no step of the compared runs"
    )
    assert f"{METRIC}" in lines[0]
