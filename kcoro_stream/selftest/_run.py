"""``kcoro-stream selftest``: run the scripted workloads, check everything, print a table.

::

    workloads(seed, quick) ─► observe (live + replay, runloop.run) ─► check_run / check_repeats
                                                                        └─► SelftestResult ─► table | JSON

Exit code as ``diff`` answers: 0 every check passed, 1 a check failed (the
CLI maps errors — a producer that cannot start, bad flags — as usual).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ._checks import Check, check_repeats, check_run, run_label, workload_totals
from ._judges import run_judges
from ._observe import Observed, observe
from ._workloads import workloads

__all__ = ["MAX_SEED", "SelftestResult", "render_table", "run_judges_selftest", "run_selftest"]

MAX_SEED = (1 << 63) - 1  # the benchmark's --seed range


@dataclass
class SelftestResult:
    seed: int
    quick: bool
    checks: list[Check] = field(default_factory=list)
    totals: dict[str, str] = field(default_factory=dict)  # per run: the workload totals
    elapsed_s: float = 0.0
    judges: bool = False  # the judges' scenarios (selftest --judges), not the counts

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "quick": self.quick,
            "judges": self.judges,
            "passed": not self.failed,
            "elapsed_s": round(self.elapsed_s, 3),
            "totals": self.totals,
            "checks": [asdict(c) for c in self.checks],
        }


def run_selftest(
    seed: int = 1,
    quick: bool = False,
    work_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> SelftestResult:
    """Run every workload (twice where it checks repeatability) and every check."""
    if not 1 <= seed <= MAX_SEED:
        raise UsageError(f"--seed: expected an integer in [1, {MAX_SEED}], got {seed}")
    t0 = time.monotonic()
    result = SelftestResult(seed, quick)
    runs: list[Observed] = []
    with tempfile.TemporaryDirectory(prefix="kcoro-selftest-") as tmp:
        base = work_dir or Path(tmp)
        for w in workloads(seed, quick):
            for attempt in range(w.repeat):
                if progress is not None:
                    progress(f"{w.name} (run {attempt + 1}/{w.repeat})")
                o = observe(w, attempt, base)
                runs.append(o)
                result.checks.extend(check_run(o))
    result.checks.extend(check_repeats(runs))
    result.totals = {run_label(o): workload_totals(o) for o in runs}
    result.elapsed_s = time.monotonic() - t0
    return result


def run_judges_selftest(progress: Callable[[str], None] | None = None) -> SelftestResult:
    """``selftest --judges``: the scripted faults and steady runs of ``_judges``, one row per judge."""
    t0 = time.monotonic()
    result = SelftestResult(seed=1, quick=False, judges=True)
    result.checks = run_judges(progress=progress)
    result.elapsed_s = time.monotonic() - t0
    return result


def render_table(result: SelftestResult) -> str:
    """check · expected · measured · verdict, one row per check, and a last line."""
    head = ("check", "expected", "measured", "verdict")
    rows = [(c.name, c.expected, c.measured, "pass" if c.ok else "FAIL") for c in result.checks]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in [head, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    n, bad = len(result.checks), len(result.failed)
    mode = "judges" if result.judges else "quick" if result.quick else "full"
    verdict = "all passed" if not bad else f"{bad} FAILED: " + "; ".join(c.name for c in result.failed)
    lines.append(f"selftest ({mode}, seed {result.seed}): {n} checks, {verdict} in {result.elapsed_s:.1f} s")
    return "\n".join(lines)
