"""Self-test: scripted workloads whose exact counts are known, every derived metric checked against them.

::

    _workloads  Workload + Truth: bench --tasks/--messages/--body-ns/--imbalanced, synthetic growth window
    _observe    one workload through runloop.run live (ring → log → ops → ndjson), then its log replayed
    _checks     totals exact · identities · rates within 1 % · quantiles in their bucket ·
                backpressure in the growth phase only · no anomaly when steady · replay = live
    _run        run_selftest → SelftestResult (checks, exit code) → table or JSON
    _judges     selftest --judges: scripted faults (slowdown, step, pause, stall, queue growth,
                a CPU neighbour) and steady runs of every mode; per judge, fired vs expected

A command module (like ``manifest``): it wires the library and never runs a
second copy of the run loop. docs/selftest.md describes each check.
"""

from ._checks import RATE_TOLERANCE, Check
from ._judges import Scenario, judgments, run_judges, scenarios
from ._observe import Observed, observe, selftest_derive
from ._run import SelftestResult, render_table, run_judges_selftest, run_selftest
from ._workloads import Truth, Workload, workloads

__all__ = [
    "RATE_TOLERANCE",
    "Check",
    "Observed",
    "Scenario",
    "SelftestResult",
    "Truth",
    "Workload",
    "judgments",
    "observe",
    "render_table",
    "run_judges",
    "run_judges_selftest",
    "run_selftest",
    "scenarios",
    "selftest_derive",
    "workloads",
]
