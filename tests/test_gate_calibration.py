"""benchmarks/gate_calibration.py's planted slowdowns: a knob calibrated in percent really slows a run
by about what it plans (real short runs of the bundled benchmark; loose bounds, the machine is shared)."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _calibration() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gate_calibration", ROOT / "benchmarks" / "gate_calibration.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look the module up while the class is made
    spec.loader.exec_module(mod)
    return mod


def test_the_plan_inverts_the_cost_model() -> None:
    """units_for(X) is the integer nearest to making base / (base + u · unit) = 1 − X."""
    cal = _calibration().KnobCal("tasks", "body_cost", base_ns=60.0, unit_ns=2.0)
    assert cal.units_for(0.5) == 30 and math.isclose(cal.planned(30), 0.5)
    assert cal.units_for(0.10) == 3 and abs(cal.planned(3) - 0.10) < 0.02
    assert cal.units_for(0.001) == 1  # never 0: a planted level plants something
    assert cal.flag(3) == "--body-cost 3"
    with pytest.raises(ValueError, match="expected a fraction in"):
        cal.units_for(1.0)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["tasks", "channel"])
def test_a_planted_half_slows_a_real_run_by_about_half(mode: str, tmp_path: Path) -> None:
    gc = _calibration()
    cal = gc.calibrate(mode, tmp_path / "cal", secs=1.0, pairs=2)
    assert cal.base_ns > 0 and cal.unit_ns > 0, cal
    ((units, gated, per_cpu),) = gc.verify(cal, (0.5,), tmp_path / "verify", secs=1.0, pairs=3).values()
    assert 0.3 < cal.planned(units) < 0.7, (cal, units)
    # The plan is made in worker-CPU ns: that figure must follow it; the gated throughput (wall time,
    # at the mercy of the neighbours) must at least fall.
    assert 0.2 < per_cpu < 0.8, (cal, units, per_cpu, gated)
    assert gated > 0.05, (cal, units, per_cpu, gated)


@pytest.mark.slow
def test_a_planted_ab_is_counted(tmp_path: Path) -> None:
    """One real `kcoro-stream ab` of base against a planted cost, cut short (2 pairs: the exact test
    cannot decide yet): it ends without trouble, is not counted as regressed, and its ratio is read."""
    gc = _calibration()
    cal = gc.KnobCal("tasks", "body_cost", base_ns=60.0, unit_ns=2.0)
    hits, done, ratios = gc.planted_abs(cal, 30, tmp_path, n=1, secs=0.5, max_pairs=2, budget_s=30)
    assert (hits, done) == (0, 1)
    assert len(ratios) == 1 and 0 < ratios[0] < 1, ratios  # half the work per task: slower
