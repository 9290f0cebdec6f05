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
5. ``--planted`` only: real planted slowdowns. A knob per gated workload is calibrated in percent
   (``calibrate``): tasks ``body_cost`` (work units per task body), channel ``packet_cost`` (work
   units a producer burns per packet); one unit is one xorshift step (native/bench/workload.c
   ``burn``). Interleaved short runs measure the base cost of an operation in worker-CPU ns
   (1 / ``*_per_cpu_s``) and, from a probe of PROBE_UNITS units, the cost of one unit; a run with
   u units is then planned 1 − base / (base + u · unit) slower, and the units for X % are the
   nearest integer to base · X / ((1 − X) · unit). ``verify`` runs base against every planted
   level interleaved and prints planned against measured (gated throughput and per-CPU). Then,
   per workload and level, PLANTED_ABS real A/Bs (``kcoro-stream ab '' '--KNOB u'`` with the CI
   profile's per-step plan: 2 s runs, at most 30 pairs, 3 minutes) count how often the gate says
   ``regressed`` (Wilson 95 %), beside the simulated power of the same plan (1 gated metric, as
   ``ab`` has; part 3 is the CI run's 5).

Fast default: channel and tasks, 6 pairs of 1 s, 100 simulated runs (a few minutes). ``--full``: all
four workloads, 10 pairs of 2 s (the CoV target's "10 runs of 2 s"), 1000 simulated runs, the real
A/Bs. A figure taken on a machine shared with other work is that machine's figure: the header says
so (load average).

Run: python benchmarks/gate_calibration.py [--full] [--planted] [--keep DIR]
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kcoro_stream.compare import verdict_for
from kcoro_stream.compare._results import RepeatTable, load_results, repeat_table
from kcoro_stream.compare._sequential import look_level, plan_looks
from kcoro_stream.history._noise import noise_fingerprint

FULL = "--full" in sys.argv
PLANTED = "--planted" in sys.argv
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
# Planted slowdowns (--planted): the knob of each gated workload, its probe, the real A/Bs per level.
PLANT_KNOB = {"tasks": "body_cost", "channel": "packet_cost"}
PROBE_UNITS = 1000  # ~2 µs of burn per operation: the unit's cost dominates the operation's own
CAL_PAIRS, CAL_SECS = 4, 1.0  # calibration and verification: interleaved pairs of short runs
PLANTED_ABS = 20 if FULL else 10


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


@dataclass(frozen=True)
class KnobCal:
    """A knob calibrated in percent: an operation's base cost and one unit's, in worker-CPU ns."""

    mode: str
    knob: str
    base_ns: float
    unit_ns: float

    def units_for(self, slowdown: float) -> int:
        """The knob value planned to make a run ``slowdown`` (0.1: 10 %) slower; at least 1."""
        if not 0 < slowdown < 1:
            raise ValueError(f"gate_calibration: slowdown {slowdown!r}: expected a fraction in (0, 1)")
        return max(1, round(self.base_ns * slowdown / ((1 - slowdown) * self.unit_ns)))

    def planned(self, units: int) -> float:
        """The slowdown ``units`` of the knob are planned to make: 1 − base / (base + units · unit)."""
        return 1 - self.base_ns / (self.base_ns + units * self.unit_ns)

    def flag(self, units: int) -> str:
        return f"--{self.knob.replace('_', '-')} {units}"


def _knob_ab(mode: str, variants: dict[str, int], knob: str, out: Path, secs: float, pairs: int) -> Pairs:
    """Interleaved runs of ``mode`` per variant ({name: knob units}; the first is the base): {variant:
    [(gated, per-CPU) per repeat]}, through the manifest runner."""
    out.mkdir(parents=True, exist_ok=True)
    spec = out / "knob.yaml"
    body = {
        "manifest": "knob",
        "defaults": {"duration": f"{secs:g}s", "repeats": pairs},
        "variants": {v: {"bench": {knob: u}} for v, u in variants.items()},
        "steps": [{"name": mode, "mode": mode}],
    }
    spec.write_text(json.dumps(body) + "\n")  # JSON is YAML
    r = ks("manifest", "run", str(spec), "--out-dir", str(out / "runs"))
    if r.returncode != 0:
        sys.exit(f"gate_calibration: {spec}: the runs failed: {r.stderr.strip()[-300:]}")
    tables = repeat_table(load_results(out / "runs"), latency=True)  # latency: the per-CPU metric (a replay)
    got: Pairs = {}
    for v in variants:
        t = tables[(v, mode)]
        (gated,) = sorted(t.gated)
        cpu = gated.replace("_per_s", "_per_cpu_s")
        got[v] = list(zip(t.values[gated], t.values.get(cpu, [math.nan] * len(t.repeats)), strict=True))
    return got


def _usable(*runs: tuple[float, float]) -> bool:
    """Runs whose gated and per-CPU throughputs are both there (a short run may have no steady window)."""
    return all(math.isfinite(v) and v > 0 for r in runs for v in r)


def calibrate(mode: str, out: Path, secs: float = CAL_SECS, pairs: int = CAL_PAIRS) -> KnobCal:
    """Measure ``mode``'s knob (PLANT_KNOB) on this machine: the base operation's and one unit's
    worker-CPU ns, from interleaved base and PROBE_UNITS runs (the medians of each pair's figures)."""
    knob = PLANT_KNOB[mode]
    got = _knob_ab(mode, {"base": 0, "probe": PROBE_UNITS}, knob, out, secs, pairs)
    both = [(1e9 / b[1], 1e9 / p[1]) for b, p in zip(got["base"], got["probe"], strict=True) if _usable(b, p)]
    if not both:
        sys.exit(
            f"gate_calibration: {out}: no pair of runs has worker-CPU figures (*_per_cpu_s) to calibrate with"
        )
    unit = [(p - b) / PROBE_UNITS for b, p in both]
    cal = KnobCal(mode, knob, float(np.median([b for b, _ in both])), float(np.median(unit)))
    if cal.unit_ns <= 0:
        sys.exit(f"gate_calibration: {out}: {PROBE_UNITS} units of {knob} cost nothing measurable")
    return cal


def verify(cal: KnobCal, slowdowns: tuple[float, ...], out: Path, secs: float = CAL_SECS,
           pairs: int = CAL_PAIRS) -> dict[float, tuple[int, float, float]]:  # fmt: skip
    """Base against every planted level, interleaved: {slowdown: (units, measured slowdown of the
    gated throughput, of the per-CPU throughput)}, each 1 − the median of the pairs' ratios."""
    levels = {s: cal.units_for(s) for s in slowdowns}
    got = _knob_ab(
        cal.mode, {"base": 0, **{f"s{s:g}": u for s, u in levels.items()}}, cal.knob, out, secs, pairs
    )
    result: dict[float, tuple[int, float, float]] = {}
    for s, u in levels.items():
        pairs_ = [(b, p) for b, p in zip(got["base"], got[f"s{s:g}"], strict=True) if _usable(b, p)]
        if not pairs_:
            sys.exit(f"gate_calibration: {out}: no pair of runs at {s:.0%} has both throughputs to compare")
        gated = float(np.median([p[0] / b[0] for b, p in pairs_]))
        per_cpu = float(np.median([p[1] / b[1] for b, p in pairs_]))
        result[s] = (u, 1 - gated, 1 - per_cpu)
    return result


def gated_metrics(ab_json: str) -> list[dict[str, Any]]:
    """The gated metrics of a `kcoro-stream ab --json` answer, every comparison and step."""
    data = json.loads(ab_json)
    return [m for c in data["comparisons"] for s in c["steps"] for m in s["metrics"] if m["gated"]]


def planted_abs(
    cal: KnobCal, units: int, out: Path, n: int = PLANTED_ABS, secs: float = 2.0, max_pairs: int = MAX_PAIRS,
    budget_s: float = BUDGET_S,
) -> tuple[int, int, list[float]]:  # fmt: skip
    """``n`` real A/Bs of base against base + ``units``, by default with the CI profile's per-step plan
    (2 s runs, MAX_PAIRS, BUDGET_S): (how many said regressed, how many ended without trouble, the
    ratios new/old they measured)."""
    hits = done = 0
    ratios: list[float] = []
    for i in range(n):
        r = ks(
            "ab", "", cal.flag(units), "--mode", cal.mode, "--duration", f"{secs:g}s", "--max-repeats",
            str(max_pairs), "--budget", f"{budget_s:g}s", "--out-dir", str(out / f"ab{i}"), "--json",
        )  # fmt: skip
        if r.returncode == 2 or not r.stdout:
            print(f"  planted A/B {cal.mode} {cal.flag(units)} #{i}: trouble: {r.stderr.strip()[:200]}")
            continue
        gated = gated_metrics(r.stdout)
        done += 1
        hits += any(m["verdict"] == "regressed" for m in gated)
        ratios += [float(m["ratio"]) for m in gated if isinstance(m.get("ratio"), int | float)]
    return hits, done, ratios


def planted(out: Path, diffs: dict[str, np.ndarray], rng: np.random.Generator, per_run: float) -> None:
    """Part 5 (--planted): calibrate each workload's knob, verify it, then the real planted A/Bs. The
    simulated column: the same plan (2 s runs: ``per_run`` of part 1's SECS runs, plus the difference)."""
    in_budget = max(2, int(BUDGET_S // (2 * (per_run + 2.0 - SECS))))
    print(f"\n5. planted slowdowns (real): the knob calibrated in percent, {CAL_PAIRS} interleaved pairs of "
          f"{CAL_SECS:g} s; then {PLANTED_ABS} real A/Bs per level (kcoro-stream ab, 2 s runs, at most "
          f"{MAX_PAIRS} pairs, {BUDGET_S:g} s)")  # fmt: skip
    for mode in PLANT_KNOB:
        cal = calibrate(mode, out / f"cal-{mode}")
        print(
            f"   {mode}: {cal.knob}: an operation {cal.base_ns:.1f} worker-CPU ns, a unit {cal.unit_ns:.2f} ns"
        )
        checked = verify(cal, SLOWDOWNS, out / f"verify-{mode}")
        name = next((n for n in diffs if n.startswith(f"{mode} ") and not n.endswith("*")), None)
        print(f"   {'level':>6} {'knob':>20} {'planned':>8} {'measured':>9} {'per CPU':>8} {'regressed':>10} "
              f"{'95% interval':>16} {'ratio':>6} {'simulated':>10}")  # fmt: skip
        for s, (u, meas, meas_cpu) in checked.items():
            hits, n, ratios = planted_abs(cal, u, out / f"planted-{mode}-{u}")
            lo, hi = wilson(hits, n)
            sim = "-"
            if name is not None:
                runs = [
                    simulate(diffs[name], math.log(1 - cal.planned(u)), rng, 1, in_budget)
                    for _ in range(SIMS)
                ]
                sim = f"{sum(v == 'regressed' for v, _ in runs) / SIMS:.0%}"
            ratio = f"{float(np.median(ratios)):.3f}" if ratios else "-"
            print(f"   {s:>6.0%} {cal.flag(u):>20} {cal.planned(u):>8.1%} {meas:>9.1%} {meas_cpu:>8.1%} "
                  f"{f'{hits}/{n}':>10} {f'[{lo:.0%}, {hi:.0%}]':>16} {ratio:>6} {sim:>10}")  # fmt: skip


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
        verdicts = [m["verdict"] for m in gated_metrics(r.stdout)]
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
    if PLANTED:
        planted(out, diffs, rng, per_run)
    print(f"\ncalibration wall time: {time.monotonic() - t_start:.0f} s; runs kept in {out}")


if __name__ == "__main__":
    main()
