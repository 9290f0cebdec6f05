"""invariants: counters doing something impossible → critical alert naming rule and counters.

Rules (``rule`` field of the Alert):

* ``invariant.monotonic`` — a cumulative counter of a worker or channel went
  down between two consecutive snapshots of the run (checked on every frame,
  by the ``windows`` pass); also a latency histogram's cumulative count going
  down between windows.
* ``invariant.completed_le_submitted`` — Σ tasks_completed > Σ tasks_submitted
  over a pool's workers (a task may complete on another worker than the one it
  was submitted on, so the sum is checked, not each worker).
  With ``monotonic="window"`` only window ends are compared (cheaper; a dip
  that recovers inside one window is not seen).
* ``invariant.recvs_le_sends`` — a channel's recvs > sends.
* ``invariant.steals_balance`` — a worker's steal_successes + steal_failures
  != steal_probes.

The cross-counter rules are checked on each window's last snapshot, with an
optional ``tolerance`` (counters are read with relaxed atomics, not as one
snapshot). A violation fires once per rule and subject; it resolves at the
first later window where the rule holds again. A new run starts clean.

::

    [W0 completed=5] [W0 completed=3] ... |
    ------------- Alert(invariant.monotonic firing: worker 0 tasks_completed 5 -> 3)
    ------------------------------------- Alert(.. resolved) |
"""

from __future__ import annotations

from typing import Any

from ._base import Emit, Operator, make_alert, pool_label, pool_names, stateful
from ._fan import compose
from ._window import Window, windows


def invariants(window_ms: float = 250, *, tolerance: int = 0, monotonic: str = "frame") -> Operator:
    """Batches → critical Alerts when a counter invariant breaks (and resolves).

    ::

        [frame] [frame(counter went down)] ... [frame] |
        ------- Alert(firing) ---------------- Alert(resolved) |
    """

    return compose(windows(window_ms, check_monotonic=monotonic), invariants_from_windows(tolerance))


def invariants_from_windows(tolerance: int = 0) -> Operator:
    """Window → invariant Alerts (the windows must come from ``windows(check_monotonic=True)``)."""

    def setup(emit: Emit) -> tuple[Any, Any]:
        firing: dict[tuple[str, str], bool] = {}
        hist_count: dict[tuple[str, int], int] = {}
        run_id: str | None = None

        def on_item(win: Any) -> None:
            nonlocal run_id
            if type(win) is not Window:
                return
            run = win.run
            rid = run.run_id if run is not None else ""
            if rid != run_id:
                run_id = rid
                firing.clear()
                hist_count.clear()
            names = pool_names(run)
            found: dict[tuple[str, str], tuple[str, dict[str, str], float | None, float | None, int]] = {}

            # monotonic: recorded frame by frame by the windows pass
            for v in win.violations:
                subject = f"{v.kind} {v.subject}"
                key = ("invariant.monotonic", f"{subject}/{v.counter}")
                if key not in found:
                    found[key] = (
                        f"{subject}: cumulative counter {v.counter} decreased {v.old} -> {v.new}",
                        {"subject": subject, "counters": v.counter},
                        float(v.new),
                        float(v.old),
                        v.ts_ns,
                    )
            for hkey in sorted(win.hists):
                h = win.hists[hkey]
                n = sum(h.counts)
                prev = hist_count.get(hkey)
                if prev is not None and n < prev:
                    subject = f"histogram {hkey[0]} pool {hkey[1]}"
                    found[("invariant.monotonic", f"{subject}/count")] = (
                        f"{subject}: cumulative count decreased {prev} -> {n}",
                        {"subject": subject, "counters": "counts"},
                        float(n),
                        float(prev),
                        win.last_ts,
                    )
                hist_count[hkey] = n

            # completed <= submitted, per pool (sums)
            sums: dict[int, list[int]] = {}
            for wc in win.workers.values():
                s = sums.setdefault(wc.pool if names is not None else 0, [0, 0])
                s[0] += wc.tasks_completed
                s[1] += wc.tasks_submitted
            for pool in sorted(sums):
                done, sub = sums[pool]
                if done > sub + tolerance:
                    label = pool_label(names, pool)
                    found[("invariant.completed_le_submitted", f"pool {label}")] = (
                        f"pool {label}: tasks_completed {done} > tasks_submitted {sub}",
                        {"subject": f"pool {label}", "counters": "tasks_completed,tasks_submitted"},
                        float(done),
                        float(sub),
                        win.last_ts,
                    )
            for cid in sorted(win.channels):
                c = win.channels[cid]
                if c.recvs > c.sends + tolerance:
                    found[("invariant.recvs_le_sends", f"channel {cid}")] = (
                        f"channel {cid}: recvs {c.recvs} > sends {c.sends}",
                        {"subject": f"channel {cid}", "counters": "recvs,sends"},
                        float(c.recvs),
                        float(c.sends),
                        win.last_ts,
                    )
            for wid in sorted(win.workers):
                w = win.workers[wid]
                total = w.steal_successes + w.steal_failures
                if abs(total - w.steal_probes) > tolerance:
                    found[("invariant.steals_balance", f"worker {wid}")] = (
                        f"worker {wid}: steal_successes {w.steal_successes} + steal_failures "
                        f"{w.steal_failures} = {total} != steal_probes {w.steal_probes}",
                        {
                            "subject": f"worker {wid}",
                            "counters": "steal_successes,steal_failures,steal_probes",
                        },
                        float(total),
                        float(w.steal_probes),
                        win.last_ts,
                    )

            ts_ns = win.last_ts
            for key, (message, labels, value, threshold, at) in found.items():
                if not firing.get(key):
                    firing[key] = True
                    emit(
                        make_alert(
                            at,
                            run,
                            key[0],
                            "critical",
                            "firing",
                            message,
                            value=value,
                            threshold=threshold,
                            labels=labels,
                        )
                    )
            for key in [k for k, on in firing.items() if on and k not in found]:
                firing[key] = False
                emit(
                    make_alert(
                        ts_ns,
                        run,
                        key[0],
                        "critical",
                        "resolved",
                        f"resolved: {key[1]} holds again",
                        labels={"subject": key[1]},
                    )
                )

        def on_done() -> None:
            return None

        return on_item, on_done

    return stateful(setup)
