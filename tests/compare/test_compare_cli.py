"""baseline save / compare through real processes over short real manifest runs (1 s runs, 5 repeats)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

KS = [sys.executable, "-m", "kcoro_stream"]
# A task body of 200 work units cuts tasks/s about 7x (1 worker: ~18 M/s → ~2.3 M/s). A real
# one-third drop is pinned by tests/compare/test_stats.py; here the machine is shared with another
# engineer's builds and tests, which swing 1 s runs 2x (9.6-18.1 M/s within one manifest), and the
# test must not depend on their load: it pins the gate's plumbing and exit codes.
SLOW_BODY = 200


def ks(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KCORO_STREAM_")}
    env["XDG_CONFIG_HOME"] = str(cwd / ".xdg")
    return subprocess.run([*KS, *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env)


def results(tmp: Path, name: str, body: str) -> Path:
    (tmp / f"{name}.yaml").write_text(body)
    out = tmp / name
    r = ks(tmp, "manifest", "run", str(tmp / f"{name}.yaml"), "--out-dir", str(out))
    if r.returncode == 130:
        # Seen once in ~60 runs on the shared machine: a bench run ended "stopped" mid-manifest
        # (not this feature's code; reported). Running the manifest again reruns only that run.
        r = ks(tmp, "manifest", "run", str(tmp / f"{name}.yaml"), "--out-dir", str(out))
    assert r.returncode == 0, r.stderr
    return out


# Interleaved and rotating (base same slow, same slow base, ...): on a machine shared with another engineer,
# results made one after the other differ by the load of the moment (measured: a 58 % "drop"
# between two manifests of one configuration); interleaving spreads that load over every variant,
# and one worker leaves the other core to the other engineer (2 workers: 12-38 M tasks/s, 1: 16-20 M).
# 9 pairs: the exact paired test's smallest p is 2/512, which passes the run's budget (0.01) shared by
# two comparisons (same, slow) under Holm; 5 pairs can never give less than 0.0625.
AB = f"""manifest: ab
defaults: {{duration: 1s, repeats: 9, bench: {{workers: 1}}}}
variants:
  base: {{}}
  same: {{}}
  slow: {{bench: {{body_cost: {SLOW_BODY}}}}}
steps:
  - name: tasks
    mode: tasks
"""
ONE = "manifest: one\ndefaults: {duration: 1s, repeats: 1}\nsteps:\n  - name: tasks\n    mode: tasks\n"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("compare")
    ab = results(tmp, "ab", AB)
    r = ks(tmp, "baseline", "save", str(ab), "--variant", "base", "--to", str(tmp / "base.json"))
    assert r.returncode == 0, r.stderr
    return {"tmp": tmp, "baseline": tmp / "base.json", "ab": ab, "one": results(tmp, "one", ONE)}


def verdicts(out: str, *, gated_only: bool = True) -> dict[str, str]:
    data = json.loads(out)
    return {
        f"{s['step']} {m['metric']}": m["verdict"]
        for c in data["comparisons"]
        for s in c["steps"]
        for m in s["metrics"]
        if m["gated"] or not gated_only
    }


def test_baseline_keeps_every_repeat_and_the_noise_fingerprint(runs: dict[str, Path]) -> None:
    b = json.loads(runs["baseline"].read_text())
    vals = b["steps"]["tasks"]["metrics"]["tasks:tasks_per_s"]
    assert len(vals) == 9 and all(v > 0 for v in vals)
    assert b["steps"]["tasks"]["gated"] == ["tasks:tasks_per_s"]
    assert set(b["steps"]["tasks"]["noise_profile"]) == {"tasks:tasks_per_s"}
    per_cpu = b["steps"]["tasks"]["metrics"]["tasks:tasks_per_cpu_s"]  # replayed: ops per worker-CPU second
    assert len(per_cpu) == 9 and all(v > 0 for v in per_cpu)
    assert {"governor", "smt", "steal_share", "load"} <= set(b["noise"])
    assert b["analysis_version"] == 4


def test_same_configuration_never_regresses_and_exits_0(runs: dict[str, Path]) -> None:
    """Baseline (unpaired) against the same configuration: unchanged, or inconclusive when the
    shared machine's load swings the repeats (measured here: 9.8-19.8 M tasks/s within one
    manifest), but never a false regression."""
    r = ks(runs["tmp"], "compare", str(runs["baseline"]), str(runs["ab"]), "--variant", "same", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert set(verdicts(r.stdout).values()) <= {"unchanged", "inconclusive"}


def test_a_one_third_throughput_drop_is_regressed_and_exits_1(runs: dict[str, Path]) -> None:
    r = ks(runs["tmp"], "compare", str(runs["baseline"]), str(runs["ab"]), "--variant", "slow", "--json")
    assert r.returncode == 1, r.stdout + r.stderr
    assert set(verdicts(r.stdout).values()) == {"regressed"}
    table = ks(runs["tmp"], "compare", str(runs["baseline"]), str(runs["ab"]), "--variant", "slow")
    assert table.returncode == 1 and "regressed" in table.stdout
    assert "body_cost 0 → 200" in table.stdout, "the differing fingerprint is named"


def test_one_repeat_is_inconclusive(runs: dict[str, Path]) -> None:
    r = ks(runs["tmp"], "compare", str(runs["baseline"]), str(runs["one"]), "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert set(verdicts(r.stdout).values()) == {"inconclusive"}
    assert "INCONCLUSIVE" in r.stderr, "a gated metric left undecided is a loud line"
    r = ks(runs["tmp"], "compare", str(runs["baseline"]), str(runs["one"]), "--fail-on-inconclusive")
    assert r.returncode == 1, r.stdout + r.stderr
    md = ks(runs["tmp"], "compare", str(runs["baseline"]), str(runs["one"]), "--markdown")
    assert md.stdout.startswith("### ") and "too few repeats" in md.stdout


@pytest.mark.parametrize(
    "body",
    [
        b'{"format": "kcoro-stream-baseline", "ver',
        b"\xff\xfe",
        b"[]",
        b'{"format": "kcoro-stream-baseline", "version": 1, "analysis_version": 4, "steps": {"t": {"metrics": {"m": ["x"]}}}}',
        # garbage that was accepted: NaN ("unchanged, p=nan"), negative ("1979478145.8 % worse"), zero
        # ("improved inf %"), no steps ("no regression" with nothing compared), noise "x" (exit 70)
        *(
            b'{"format": "kcoro-stream-baseline", "version": 1, "analysis_version": 4, "steps": {"tasks": '
            b'{"metrics": {"tasks:tasks_per_s": [1e7, %s, 1e7, 1e7, 1e7]}}}}' % v
            for v in (b"NaN", b"-5", b"0", b"Infinity", b"true")
        ),
        b'{"format": "kcoro-stream-baseline", "version": 1, "analysis_version": 4, "steps": {}}',
        b'{"format": "kcoro-stream-baseline", "version": 1, "analysis_version": 4, "noise": "x", "steps": '
        b'{"tasks": {"metrics": {"tasks:tasks_per_s": [1e7]}}}}',
        b'{"format": "kcoro-stream-baseline", "version": 1, "analysis_version": 4, "steps": '
        b'{"tasks": {"fingerprint": 3, "metrics": {"tasks:tasks_per_s": [1e7]}}}}',
        b'{"format": "kcoro-stream-baseline", "version": 1, "analysis_version": 4, "steps": '
        b'{"tasks": {"gated": ["nope"], "metrics": {"tasks:tasks_per_s": [1e7]}}}}',
    ],
)
def test_a_corrupt_baseline_exits_2_with_one_line(runs: dict[str, Path], body: bytes) -> None:
    bad = runs["tmp"] / "bad.json"
    bad.write_bytes(body)
    r = ks(runs["tmp"], "compare", str(bad), str(runs["ab"]))
    assert r.returncode == 2
    assert r.stdout == "" and len(r.stderr.strip().splitlines()) == 1 and str(bad) in r.stderr


def test_an_ab_results_directory_compares_its_variants_pair_by_pair(runs: dict[str, Path]) -> None:
    """compare RESULTS: the first variant against each other one; the slow one fails the gate."""
    r = ks(runs["tmp"], "compare", str(runs["ab"]), "--json")
    assert r.returncode == 1, r.stdout + r.stderr
    data = json.loads(r.stdout)
    by_new = {c["new"].rsplit("[", 1)[1].rstrip("]"): c for c in data["comparisons"]}
    assert set(by_new) == {"same", "slow"}
    assert not by_new["same"]["regressed"] and by_new["slow"]["regressed"]
    same = by_new["same"]["steps"][0]["metrics"][0]
    # unchanged on a quiet machine; inconclusive ("too noisy") when the other engineer's load
    # moves one pair (measured: 0.98 [0.88, 1.10] unchanged; 0.98 [0.69, 1.25] too noisy)
    assert same["verdict"] in ("unchanged", "inconclusive"), (same["verdict"], same["reason"])
    assert "paired" in same["method"]
    idx = json.loads((runs["ab"] / "index.json").read_text())
    order = ["base", "same", "slow", "same", "slow", "base"]
    slow = by_new["slow"]["steps"][0]["metrics"][0]
    assert slow["center"] == "geomean" and slow["p_value"] >= 2 / 2**9
    assert [x["variant"] for x in idx["runs"][:6]] == order, "repeats interleave, rotating"


def test_latency_percentiles_are_reported_and_gated_only_on_request(runs: dict[str, Path]) -> None:
    b = json.loads(runs["baseline"].read_text())["steps"]["tasks"]["metrics"]
    assert len(b["tasks:task_start_latency_ns:p99"]) == 9
    r = ks(runs["tmp"], "compare", str(runs["baseline"]), str(runs["ab"]), "--variant", "same", "--json")
    lat = [m for c in json.loads(r.stdout)["comparisons"] for s in c["steps"] for m in s["metrics"]]
    lat = [m for m in lat if m["metric"].endswith(":p99")]
    assert lat and not any(m["gated"] for m in lat) and not lat[0]["higher_is_better"]
    r = ks(runs["tmp"], "compare", str(runs["baseline"]), str(runs["ab"]), "--gate-latency", "10%")
    assert r.returncode == 2 and "bucket" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = ks(runs["tmp"], "compare", str(runs["baseline"]), str(runs["ab"]), "--gate-latency", "30%", "--json")
    assert r.returncode in (0, 1)
    gated = [m for c in json.loads(r.stdout)["comparisons"] for s in c["steps"] for m in s["metrics"]]
    assert any(m["gated"] and m["metric"].endswith(":p99") for m in gated)


@pytest.mark.parametrize("value", [0, "NaN", None, "drop"])
def test_a_new_side_that_measured_nothing_is_trouble_exit_2(runs: dict[str, Path], value: object) -> None:
    """A repeat whose gated throughput is 0, NaN or absent (edited index.json, as the adversarial pass
    did) used to vanish ("missing on one side" → inconclusive → exit 0)."""

    bad = runs["tmp"] / f"bad-{value}"
    shutil.copytree(runs["ab"], bad)
    idx = json.loads((bad / "index.json").read_text())
    run = next(r for r in idx["runs"] if r["variant"] == "same")
    summary = next(s for s in run["summary"] if s["type"] == "summary")
    if value == "drop":
        run["summary"] = [s for s in run["summary"] if s["type"] != "summary"]
    elif value == "NaN":
        summary["avg"]["tasks_per_s"] = float("nan")
    else:
        summary["avg"]["tasks_per_s"] = value
    (bad / "index.json").write_text(json.dumps(idx))
    r = ks(runs["tmp"], "compare", str(runs["baseline"]), str(bad), "--variant", "same", "--json")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "trouble" in verdicts(r.stdout).values() and "TROUBLE" in r.stderr
    r = ks(runs["tmp"], "baseline", "save", str(bad), "--variant", "same", "--to", str(bad / "b.json"))
    assert r.returncode == 2 and "no usable tasks:tasks_per_s" in r.stderr, r.stderr
