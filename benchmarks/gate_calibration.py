"""Calibration of the regression gate: its noise, false-alarm rate per CI run and power, on this machine.

1. **Noise**: an equal-build A/B manifest (variants a: {}, b: {}, interleaved) of every gated
   workload; per gated metric the coefficient of variation over the runs and the paired
   log-differences (what one A/B pair of equal builds differs by).
2. **False alarms per CI run** (simulation): SIMS simulated CI runs of profiles/ci.yaml's plan
   (repeats: auto, max 30 pairs, k gated metrics sharing α = 0.01 by alpha spending over looks);
   each metric's pairs are resampled from its own measured paired differences (centred, random
   signs: equal builds), and decided at every planned look by compare's own code
   (``verdict_for(paired=True, level=look level)``) until decided. A run with any ``regressed`` or
   ``improved`` is a false alarm. Wilson 95 % interval.
3. **Power** for planted slowdowns of 5, 10 and 20 % (the same resampled pairs shifted by
   log(1 − s)) on each gated metric: the share of runs ending ``regressed``, with its interval, and
   the CI wall time the step took (pairs used × 2 runs × the measured seconds per run).
4. ``--full`` only: about 30 real equal-build A/Bs (``kcoro-stream ab`` with equal sides, tasks and
   channel alternately) through the real runner, counted like 2.

Fast default: channel and tasks, 6 pairs of 1 s, 100 simulated runs (a few minutes). ``--full``: all
four workloads, 10 pairs of 2 s (the CoV target's "10 runs of 2 s"), 1000 simulated runs, the real
A/Bs. A figure taken on a machine shared with other work is that machine's figure: the header says
so (load average).

Run: python benchmarks/gate_calibration.py [--full] [--keep DIR]
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from kcoro_stream.compare import verdict_for
from kcoro_stream.compare._results import RepeatTable, load_results, repeat_table
from kcoro_stream.compare._sequential import look_level, plan_looks
from kcoro_stream.history._noise import noise_fingerprint

FULL = "--full" in sys.argv
KS = [sys.executable, "-m", "kcoro_stream"]
MODES = ["channel", "tasks", "mixed", "dual"] if FULL else ["channel", "tasks"]
PAIRS = 10 if FULL else 6
SECS = 2.0 if FULL else 1.0
SIMS = 1000 if FULL else 100
REAL_ABS = 30
MAX_PAIRS = 30  # profiles/ci.yaml
BUDGET_S = 180.0  # profiles/ci.yaml: budget 3m per step
CI_METRICS = 5  # profiles/ci.yaml: channel, tasks, mixed, dual (2)
THRESHOLD = 0.05
SLOWDOWNS = (0.05, 0.10, 0.20)


def wilson(k: int, n: int) -> tuple[float, float]:
    """95 % Wilson score interval of k successes in n."""
    if n == 0:
        return 0.0, 1.0
    z = 1.959964
    p = k / n
    mid = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, mid - half), min(1.0, mid + half)


def ks(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KS, *args], capture_output=True, text=True, check=False)


Pairs = dict[str, list[tuple[float, float]]]


def measure(out: Path) -> tuple[Pairs, dict[str, float], Pairs, float]:
    """{gated metric: [(a, b) per pair]} of an equal-build A/B of MODES, {reported per-CPU metric: CoV},
    and the wall seconds per run."""
    steps = "".join(f"  - name: {m}\n    mode: {m}\n" for m in MODES)
    spec = out / "noise.yaml"
    spec.write_text(
        f"manifest: noise\ndefaults: {{duration: {SECS}s, repeats: {PAIRS}}}\n"
        f"variants: {{a: {{}}, b: {{}}}}\nsteps:\n{steps}"
    )
    t0 = time.monotonic()
    r = ks("manifest", "run", str(spec), "--out-dir", str(out / "noise"))
    wall = time.monotonic() - t0
    if r.returncode != 0:
        sys.exit(f"gate_calibration: the noise manifest failed: {r.stderr.strip()}")
    timing = out / "noise-wall.json"  # --keep: a second call reuses the runs, and their timing
    if " 0 already done" in r.stderr or not timing.is_file():
        timing.write_text(json.dumps({"wall_s": wall}))
    wall = float(json.loads(timing.read_text())["wall_s"])
    from kcoro_stream.compare._stats import cov as cov_of

    tables = repeat_table(load_results(out / "noise"), latency=True)  # latency: the replayed metrics too
    pairs: Pairs = {}
    cpu_pairs: Pairs = {}
    per_cpu: dict[str, float] = {}
    for step in MODES:
        a, b = tables[("a", step)], tables[("b", step)]
        common = sorted(set(a.repeats) & set(b.repeats))

        def paired(
            m: str, a: RepeatTable = a, b: RepeatTable = b, common: list[int] = common
        ) -> list[tuple[float, float]]:
            return [(a.values[m][a.repeats.index(r)], b.values[m][b.repeats.index(r)]) for r in common]

        for m in sorted(a.values):
            c = cov_of(a.values[m] + b.values.get(m, [])) if m.endswith("_per_cpu_s") else None
            if c is not None and m in b.values:
                per_cpu[f"{step} {m}"] = c
                cpu_pairs[f"{step} {m}"] = [p for p in paired(m) if min(p) > 0 and all(map(math.isfinite, p))]
        for g in sorted(a.gated):
            pairs[f"{step} {g}"] = paired(g)
    runs = sum(len(t.repeats) for t in tables.values())
    return pairs, per_cpu, cpu_pairs, wall / max(1, runs)


def cov(values: list[float]) -> float:
    arr = np.asarray(values)
    return float(arr.std(ddof=1) / arr.mean())


def simulate(
    diffs: np.ndarray, shift: float, rng: np.random.Generator, k: int, in_budget: int
) -> tuple[str, int]:
    """One gated metric through the sequential plan: its final verdict and the pairs it used. The
    budget ends the step at ``in_budget`` pairs (the runner's last look), as ``manifest run`` does."""
    looks = [n for n in plan_looks(MAX_PAIRS, k) if n < in_budget] + [min(in_budget, MAX_PAIRS)]
    d = rng.choice(diffs, size=MAX_PAIRS, replace=True) * rng.choice((-1.0, 1.0), size=MAX_PAIRS) + shift
    new = list(np.exp(d))
    for j, n in enumerate(looks):
        level = look_level(looks[: j + 1], MAX_PAIRS, k)
        v = verdict_for("m", [1.0] * n, new[:n], threshold=THRESHOLD, paired=True, level=level)
        if v.verdict in ("regressed", "improved", "unchanged"):
            return v.verdict, n
    return v.verdict, looks[-1]


def real_abs(out: Path) -> tuple[int, int]:
    """REAL_ABS equal-build A/Bs through `kcoro-stream ab` (tasks and channel alternately): false alarms."""
    alarms = done = 0
    for i in range(REAL_ABS):
        mode = ("tasks", "channel")[i % 2]
        r = ks(
            "ab", "", "", "--mode", mode, "--duration", "1s", "--max-repeats", "16", "--budget", "2m",
            "--out-dir", str(out / f"ab{i}"), "--json",
        )  # fmt: skip
        if r.returncode == 2 or not r.stdout:
            print(f"  real A/B {i}: trouble: {r.stderr.strip()[:200]}")
            continue
        data = json.loads(r.stdout)
        verdicts = [
            m["verdict"] for c in data["comparisons"] for s in c["steps"] for m in s["metrics"] if m["gated"]
        ]
        done += 1
        alarms += any(v in ("regressed", "improved") for v in verdicts)
    return alarms, done


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # a long run shows its progress
    keep = sys.argv[sys.argv.index("--keep") + 1] if "--keep" in sys.argv else None
    out = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="gate-cal-"))
    out.mkdir(parents=True, exist_ok=True)
    noise = noise_fingerprint()
    t_start = time.monotonic()
    print(f"gate calibration ({'full' if FULL else 'fast'}): {os.cpu_count()} CPUs, load {noise['load']}, "
          f"governor {noise['governor']}, steal share {noise['steal_share']}")  # fmt: skip
    print("  (a machine shared with other work gives that machine's figures; rerun on a quiet one)")
    pairs, per_cpu, cpu_pairs, per_run = measure(out)
    in_budget = max(2, int(BUDGET_S // (2 * per_run)))
    print(
        f"\n1. noise: {PAIRS} interleaved equal-build pairs of {SECS:g} s per workload ({per_run:.1f} s per run)"
    )
    print(f"   {'metric':<44} {'CoV':>7} {'sd of log(b/a)':>15}")
    diffs: dict[str, np.ndarray] = {}
    for name, ps in pairs.items():
        vals = [x for p in ps for x in p]
        d = np.log(np.asarray([b / a for a, b in ps]))
        diffs[name] = d - d.mean()
        print(f"   {name:<44} {cov(vals):>6.1%} {d.std(ddof=1):>15.3f}")
    for name, c in per_cpu.items():  # throughput per worker-CPU second: reported, not gated
        print(f"   {name + ' (reported, not gated)':<44} {c:>6.1%}")
    rng = np.random.default_rng(1)
    k = CI_METRICS
    alarms = 0
    for _ in range(SIMS):
        alarms += any(
            simulate(diffs[name], 0.0, rng, k, in_budget)[0] in ("regressed", "improved")
            for name in (list(diffs) * CI_METRICS)[:CI_METRICS]
        )
    lo, hi = wilson(alarms, SIMS)
    print(
        f"\n2. false alarms per CI run (simulated, {SIMS} runs of {CI_METRICS} gated metrics, measured noise "
        f"resampled): {alarms / SIMS:.1%} [{lo:.1%}, {hi:.1%}]"
    )
    print(
        f"\n3. power (simulated, {SIMS} runs each; at most {in_budget} pairs in the {BUDGET_S:g} s budget at "
        f"{per_run:.1f} s per run; rows marked * are the reported per-CPU metrics, as if they were gated)"
    )
    for name, ps in cpu_pairs.items():
        d = np.log(np.asarray([b / a for a, b in ps]))
        diffs[name + " *"] = d - d.mean()
    print(
        f"   {'metric':<44} {'slowdown':>8} {'power':>7} {'95% interval':>16} {'median pairs':>12} {'wall':>7}"
    )
    for name, d in diffs.items():
        for s in SLOWDOWNS:
            results = [simulate(d, math.log(1 - s), rng, k, in_budget) for _ in range(SIMS)]
            hits = sum(v == "regressed" for v, _ in results)
            lo, hi = wilson(hits, SIMS)
            used = float(np.median([n for _, n in results]))
            print(
                f"   {name:<44} {s:>8.0%} {hits / SIMS:>7.1%} {f'[{lo:.1%}, {hi:.1%}]':>16} {used:>12.0f} "
                f"{used * 2 * per_run:>6.0f}s"
            )
    if FULL:
        a, n = real_abs(out)
        lo, hi = wilson(a, n)
        print(f"\n4. real equal-build A/Bs (kcoro-stream ab): {a} false alarm(s) in {n}: {a / max(1, n):.1%} "
              f"[{lo:.1%}, {hi:.1%}]")  # fmt: skip
    print(f"\ncalibration wall time: {time.monotonic() - t_start:.0f} s; runs kept in {out}")


if __name__ == "__main__":
    main()
