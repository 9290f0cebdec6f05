"""Baselines and comparisons: the statistical regression gate (contract 9: reads results, re-runs nothing).

Throughput (``Summary.avg``), latency percentiles (``--gate-latency``, reported) and throughput per
worker-CPU second come from index.json, as each run recorded them; only an entry written before it
had ``figures`` is replayed (its log through its recorded analyses). No benchmark is started.

::

    RESULTS/index.json ─► _results.repeat_values ─► {(variant, step): {metric: [per repeat]}}
                              └─ _baseline.save_baseline ─► FILE.json (values, fingerprints, noise)
    FILE.json | RESULTS variant ─► _compare.compare ─► Comparison ─► _render (table · markdown · json)
                                      └─ _stats.measure per metric (_exact: Mann–Whitney U, sign flip)
                                      └─ _budget.spend_budget: Holm over every gated metric of the run

``compare_paths`` is what the ``compare`` command calls.
"""

from ..history._noise import noise_fingerprint, run_fingerprint
from ._baseline import Baseline, baseline_from_results, load_baseline, save_baseline
from ._budget import holm, spend_budget
from ._compare import Comparison, StepVerdicts, compare, fingerprint_changes
from ._exact import mann_whitney, min_p_paired, min_p_unpaired, sign_flip
from ._paths import compare_paths, parse_threshold
from ._render import to_json, to_markdown, to_table
from ._results import Results, gated_metric, load_results, repeat_values
from ._stats import ALPHA, Verdict, verdict_for

__all__ = [
    "ALPHA",
    "Baseline",
    "Comparison",
    "Results",
    "StepVerdicts",
    "Verdict",
    "baseline_from_results",
    "compare",
    "compare_paths",
    "fingerprint_changes",
    "gated_metric",
    "holm",
    "load_baseline",
    "load_results",
    "mann_whitney",
    "min_p_paired",
    "min_p_unpaired",
    "noise_fingerprint",
    "parse_threshold",
    "repeat_values",
    "run_fingerprint",
    "save_baseline",
    "sign_flip",
    "spend_budget",
    "to_json",
    "to_markdown",
    "to_table",
    "verdict_for",
]
