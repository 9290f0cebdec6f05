"""repeats: auto: interleaved pairs until every gated metric is decided, or the time budget is spent.

Real manifest runs of the example producer (native/examples/synthetic_producer.c) as both variants:
at a fixed tick rate its tasks/s hardly moves (a quiet A/B: same build, same rate); a variant
whose rate is drawn per run from {50, 100} ticks/s on both sides is a noisy one (pairs differ by
0 or ±2×, centred on no change) that no number of pairs within the budget decides.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kcoro_stream.compare._exact import sign_flip
from kcoro_stream.compare._sequential import look_level, plan_looks, spent
from kcoro_stream.errors import UsageError
from kcoro_stream.manifest import load_manifest

KS = [sys.executable, "-m", "kcoro_stream"]
PY = sys.executable
SYN = f"[{PY}, -P, -m, kcoro_stream.sources.synthetic, --ring, '{{ring}}', --duration, '1'"
# a rate of 50 or 100 ticks/s per run, drawn by the shell (od reads one random byte)
NOISY = (
    '[sh, -c, \'exec "$0" -P -m kcoro_stream.sources.synthetic --ring "$1" --duration 1 '
    f"--rate $(( ($(od -An -N1 -tu1 /dev/urandom) % 2 + 1) * 50 ))', {PY}, '{{ring}}']"
)


def manifest(variant_a: str, variant_b: str, extra: str) -> str:
    # the step's duration outlasts the producer's own 1 s: the run ends with reason "duration"
    return f"""manifest: auto
defaults: {{duration: 5s, repeats: auto, {extra}}}
variants:
  a: {{exec: {variant_a}}}
  b: {{exec: {variant_b}}}
steps:
  - name: syn
    mode: tasks
"""


def ks(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KCORO_STREAM_")}
    env["XDG_CONFIG_HOME"] = str(cwd / ".xdg")
    return subprocess.run([*KS, *args], cwd=cwd, capture_output=True, text=True, timeout=600, env=env)


def run(tmp: Path, body: str) -> tuple[dict, float]:
    (tmp / "m.yaml").write_text(body)
    t0 = time.monotonic()
    r = ks(tmp, "manifest", "run", str(tmp / "m.yaml"), "--out-dir", str(tmp / "out"))
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    return json.loads((tmp / "out" / "index.json").read_text()), took


def test_a_quiet_ab_stops_at_the_first_look(tmp_path: Path) -> None:
    idx, _ = run(tmp_path, manifest(SYN + "]", SYN + "]", "max_repeats: 16"))
    seq = idx["sequential"]["steps"]["syn"]
    first = plan_looks(16, 1)[0]
    assert seq["stopped"] == "decided" and seq["looks"] == [first] and first < 16
    assert len(idx["runs"]) == 2 * first, "no pair beyond the deciding look ran"
    r = ks(tmp_path, "compare", str(tmp_path / "out"), "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    gated = [
        m for c in json.loads(r.stdout)["comparisons"] for s in c["steps"] for m in s["metrics"] if m["gated"]
    ]
    assert [m["verdict"] for m in gated] == ["unchanged"]
    assert gated[0]["level"] == pytest.approx(look_level([first], 16, 1))


def test_a_noisy_ab_spends_its_budget_and_stays_inconclusive(tmp_path: Path) -> None:
    budget = 15.0
    idx, took = run(tmp_path, manifest(NOISY, NOISY, f"max_repeats: 30, budget: {budget:g}s"))
    seq = idx["sequential"]["steps"]["syn"]
    pairs = len(idx["runs"]) // 2
    assert seq["stopped"] == "budget" and 2 <= pairs < 30 and seq["looks"][-1] == pairs
    assert took < budget + 30, "the next round is not started when it would overrun the budget"
    r = ks(tmp_path, "compare", str(tmp_path / "out"), "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["inconclusive"], r.stdout


def test_auto_settings_are_checked_before_anything_runs(tmp_path: Path) -> None:
    p = tmp_path / "m.yaml"
    for bad, where in (
        ("repeats: many", "repeats: expected auto"),
        ("repeats: auto, max_repeats: 1", "max_repeats: expected an integer in [2"),
        ("repeats: auto, budget: -3s", "budget:"),
        ("repeats: 3, budget: 3m", "budget: goes with repeats: auto"),
    ):
        p.write_text(f"defaults: {{duration: 1s, {bad}}}\nsteps:\n  - name: t\n    mode: tasks\n")
        with pytest.raises(UsageError, match=where.replace("[", r"\[")):
            load_manifest(p)
    p.write_text("defaults: {duration: 1s, repeats: auto, max_repeats: 12}\nvariants: {a: {}, b: {}}\n"
                 "steps:\n  - name: t\n    mode: dual\n")  # fmt: skip
    m = load_manifest(p)
    assert len(m.runs) == 24 and m.sequential and m.gated_metrics == 2


def test_the_sequential_plan_holds_its_false_alarm_rate() -> None:
    """2000 simulated equal-build A/Bs through every planned look of a 16-pair plan (Gaussian pair
    noise): a false 'significant' at any look in at most alpha = 1 % of them (plus three binomial
    SDs), as the union bound promises; the levels of all looks add up to at most alpha."""
    import numpy as np

    rng = np.random.default_rng(11)
    looks = plan_looks(16, 1)
    levels = [look_level(looks[: j + 1], 16, 1) for j in range(len(looks))]
    alarms = 0
    for _ in range(2000):
        d = list(rng.normal(0.0, 0.05, 16))
        alarms += any(sign_flip(d[:n]) < level for n, level in zip(looks, levels, strict=True))
    assert alarms <= 2000 * 0.01 + 3 * (2000 * 0.01) ** 0.5
    assert sum(levels) <= spent(1.0) + 1e-12
