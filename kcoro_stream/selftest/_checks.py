"""The checks: each compares what the monitor reported with what is known in advance.

Every check is one row (check, expected, measured, verdict). Three sources of
numbers meet here:

* the **truth** — what the workload's flags fix (``Truth``);
* the **runtime's account** — raw events from the event log (the last
  cumulative counters, tick sequence numbers, ring losses);
* the **monitor's account** — derived events from the NDJSON sink (Samples,
  histograms, alerts, anomalies, the Summary).

Exact counts must be equal; rates must be within ``RATE_TOLERANCE`` of
count ÷ elapsed event time; quantiles must sit in the bucket of the scripted
value (``histo``'s scheme). Scheduling counters are checked by identities.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..events import (
    Alert,
    Anomaly,
    HistogramSummary,
    RingLoss,
    RunStarted,
    Sample,
    Summary,
    Tick,
    WorkerCounters,
)
from ..histo import bucket_lower, bucket_of, bucket_width
from ._observe import Observed

__all__ = ["RATE_TOLERANCE", "Check", "check_repeats", "check_run", "run_label", "workload_totals"]

RATE_TOLERANCE = 0.01


@dataclass(frozen=True)
class Check:
    name: str
    expected: str
    measured: str
    ok: bool


def _eq(name: str, expected: Any, measured: Any) -> Check:
    return Check(name, str(expected), str(measured), expected == measured)


def run_label(o: Observed) -> str:
    return o.workload.name if o.workload.repeat == 1 else f"{o.workload.name}#{o.attempt + 1}"


def _sum_totals(summaries: Iterable[Summary], field: str, kind: str) -> int | None:
    vals = []
    for s in summaries:
        totals = s.worker_totals if kind == "worker" else s.channel_totals
        v = getattr(totals, field, None) if totals is not None else None
        if v is not None:
            vals.append(v)
    return sum(vals) if vals else None


def _last_workers(raw: list[Any]) -> dict[tuple[int, int], WorkerCounters]:
    last: dict[tuple[int, int], WorkerCounters] = {}
    for e in raw:
        if isinstance(e, WorkerCounters):
            last[(e.pool, e.worker)] = e
    return last


def _rel(measured: float, expected: float) -> float:
    if expected == 0:
        return 0.0 if measured == 0 else float("inf")
    return abs(measured - expected) / abs(expected)


def _pct(x: float) -> str:
    return f"{x * 100:.3f} %"


def check_run(o: Observed) -> list[Check]:
    """Every check of one live run and its replay."""
    label = run_label(o)
    t = o.workload.truth
    out: list[Check] = []
    summaries = [e for e in o.derived if isinstance(e, Summary)]
    samples = [e for e in o.derived if isinstance(e, Sample)]
    last_workers = _last_workers(o.raw)
    started = next((e for e in o.raw if isinstance(e, RunStarted)), None)

    # -- exact totals: truth == monitor == runtime
    completed = _sum_totals(summaries, "tasks_completed", "worker")
    runtime_completed = sum(w.tasks_completed for w in last_workers.values())
    if t.tasks_completed is not None:
        out.append(_eq(f"{label}: tasks completed", t.tasks_completed, completed))
    out.append(_eq(f"{label}: monitor's tasks = runtime's last counters", runtime_completed, completed))
    if t.task_bodies is not None:
        body = _final_histogram(o.derived, "task_body_ns")
        out.append(
            _eq(f"{label}: task bodies timed (task_body_ns count)", t.task_bodies, body and body.count)
        )
    if t.messages is not None:
        for f in ("sends", "recvs"):
            out.append(_eq(f"{label}: messages ({f})", t.messages, _sum_totals(summaries, f, "channel")))
    if t.bytes is not None:
        for f in ("bytes_sent", "bytes_recv"):
            out.append(_eq(f"{label}: bytes ({f})", t.bytes, _sum_totals(summaries, f, "channel")))

    # -- identities on the final counters (scheduling counters vary; these never do)
    submitted = _sum_totals(summaries, "tasks_submitted", "worker")
    if o.workload.source.producer == "bench":  # the synthetic producer leaves tasks in flight
        out.append(_eq(f"{label}: identity submitted = completed", submitted, completed))
    probes = _sum_totals(summaries, "steal_probes", "worker") or 0
    succ = _sum_totals(summaries, "steal_successes", "worker") or 0
    fail = _sum_totals(summaries, "steal_failures", "worker") or 0
    out.append(_eq(f"{label}: identity probes = successes + failures", probes, succ + fail))
    hits = _sum_totals(summaries, "fastpath_hits", "worker") or 0
    misses = _sum_totals(summaries, "fastpath_misses", "worker") or 0
    out.append(_eq(f"{label}: identity fast-path hits + misses = completed", completed, hits + misses))
    if t.messages is not None:
        recvs = _sum_totals(summaries, "recvs", "channel")
        out.append(_eq(f"{label}: identity sends = recvs", _sum_totals(summaries, "sends", "channel"), recvs))
        size = started.config.get("packet_size") if started is not None else None
        out.append(
            _eq(
                f"{label}: identity bytes = recvs x packet size",
                (recvs or 0) * int(size or 0),
                _sum_totals(summaries, "bytes_recv", "channel"),
            )
        )
    if o.workload.imbalanced and t.tasks_completed is not None:
        on0 = sum(w.tasks_submitted for (p, i), w in last_workers.items() if i == 0)
        elsewhere = sum(w.tasks_submitted for (p, i), w in last_workers.items() if i != 0)
        out.append(
            _eq(f"{label}: every submission on worker 0", f"{t.tasks_completed} / 0", f"{on0} / {elsewhere}")
        )
        others = [w for (p, i), w in last_workers.items() if i != 0]
        ran = sum(w.tasks_completed for w in others)
        came = sum(w.steal_successes + w.inject_pulls for w in others)
        out.append(_eq(f"{label}: other workers' tasks came by stealing", ran, came))
    broken = [
        a
        for a in o.derived
        if isinstance(a, Alert) and a.rule.startswith("invariant") and a.state == "firing"
    ]
    out.append(
        Check(
            f"{label}: invariant alerts",
            "0",
            "; ".join(a.message for a in broken) or "0",
            not broken,
        )
    )

    # -- frames: every sequence number the producer used is in the log or reported lost
    lost_raw = sum(e.frames for e in o.raw if isinstance(e, RingLoss))
    pools = sorted({s.pool for s in samples})
    lost_samples = sum(s.lost_frames for s in samples if pools and s.pool == pools[0])
    sent = max(o.producer_seqs) + 1 if o.producer_seqs else 0
    out.append(
        Check(
            f"{label}: frames accounted (logged + lost)",
            f"{sent}",
            f"{len(o.producer_seqs)} + {lost_raw} (samples: {lost_samples} lost)",
            len(o.producer_seqs) + lost_raw == sent and lost_samples == lost_raw,
        )
    )

    out.extend(_rate_checks(label, o, samples, started))
    if t.body_ns is not None:
        out.extend(_histogram_checks(label, o, t.body_ns))
    out.extend(_alert_checks(label, o))
    if t.pause_ms is not None:
        out.append(_pause_check(label, o, t.pause_ms))

    same = o.live_bytes == o.replay_bytes
    lines = o.live_bytes.count(b"\n")
    out.append(
        Check(
            f"{label}: replay = live (derived NDJSON)",
            f"identical ({lines} lines)",
            "identical" if same else f"differs from line {_first_difference(o.live_bytes, o.replay_bytes)}",
            same,
        )
    )
    return out


def _pause_check(label: str, o: Observed, pause_ms: int) -> Check:
    """One Tick(paused) frame, then no frame for the pause; the counters ran on (the rate
    checks over the run hold across the gap because rates come from cumulative counters)."""
    ticks = [e for e in o.raw if isinstance(e, Tick)]
    paused = [i for i, e in enumerate(ticks) if e.paused]
    gap_ms = 0.0
    if len(paused) == 1 and paused[0] + 1 < len(ticks):
        gap_ms = (ticks[paused[0] + 1].ts_ns - ticks[paused[0]].ts_ns) / 1e6
    interval_ms = ticks[0].target_ns / 1e6 if ticks else 0.0
    return Check(
        f"{label}: scripted pause (paused ticks, gap)",
        f"1, >= {pause_ms - interval_ms:g} ms",
        f"{len(paused)}, {gap_ms:.1f} ms",
        len(paused) == 1 and gap_ms >= pause_ms - interval_ms,
    )


def _first_difference(a: bytes, b: bytes) -> int:
    for n, (x, y) in enumerate(zip(a.splitlines(), b.splitlines(), strict=False), 1):
        if x != y:
            return n
    return min(a.count(b"\n"), b.count(b"\n")) + 1


RATES = (
    # (Sample rate field, delta source, delta field, truth field)
    ("tasks_per_s", "worker", "tasks_completed", "tasks_completed"),
    ("msgs_per_s", "channel", "recvs", "messages"),
    ("bytes_per_s", "channel", "bytes_recv", "bytes"),
)


def _rate_checks(label: str, o: Observed, samples: list[Sample], started: RunStarted | None) -> list[Check]:
    """Per window: rate = delta / span; over the run: Σ rate × span / Σ span = truth / elapsed."""
    out: list[Check] = []
    t = o.workload.truth
    ticks = [e.ts_ns for e in o.raw if isinstance(e, Tick | WorkerCounters)]
    for rate_field, kind, delta_field, truth_field in RATES:
        truth = getattr(t, truth_field)
        if truth is None:
            continue
        worst = 0.0
        weighted = 0.0
        span_total = 0
        for s in samples:
            rate = getattr(s, rate_field)
            deltas = s.worker_deltas if kind == "worker" else s.channel_deltas
            delta = getattr(deltas, delta_field, None) if deltas is not None else None
            if rate is None or delta is None or s.span_ns <= 0:
                continue
            worst = max(worst, _rel(rate, delta * 1e9 / s.span_ns))
            weighted += rate * s.span_ns / 1e9
            span_total += s.span_ns
        out.append(
            Check(
                f"{label}: {rate_field} = delta / span (worst window)",
                f"<= {_pct(RATE_TOLERANCE)}",
                _pct(worst),
                worst <= RATE_TOLERANCE,
            )
        )
        if started is None or not ticks:
            out.append(
                Check(f"{label}: {rate_field} over the run", "a RunStarted and snapshots", "missing", False)
            )
            continue
        elapsed_ns = max(ticks) - started.ts_ns
        expected = truth * 1e9 / elapsed_ns
        measured = weighted * 1e9 / span_total if span_total else 0.0
        err = _rel(measured, expected)
        out.append(
            Check(
                f"{label}: {rate_field} over the run = count / elapsed",
                f"{expected:,.0f}/s ± {_pct(RATE_TOLERANCE)}",
                f"{measured:,.0f}/s ({_pct(err)} off)",
                err <= RATE_TOLERANCE,
            )
        )
    return out


def _final_histogram(derived: list[Any], metric: str) -> HistogramSummary | None:
    last: HistogramSummary | None = None
    for e in derived:
        if isinstance(e, HistogramSummary) and e.metric == metric and e.scope == "cumulative":
            if last is None or e.ts_ns >= last.ts_ns:
                last = e
    return last


def _histogram_checks(label: str, o: Observed, body_ns: int) -> list[Check]:
    """The scripted body duration's p50 and p90 are reported inside its bucket.

    Bodies spin on thread CPU time (preemption does not stretch them); p99 is
    left out all the same: a body whose clock read straddles a
    reschedule can overrun by a timeslice, once in a long while.
    """
    b = bucket_of(body_ns)
    lo, hi = bucket_lower(b), bucket_lower(b) + bucket_width(b)
    h = _final_histogram(o.derived, "task_body_ns")
    out = []
    for q in ("p50", "p90"):
        v = getattr(h, q) if h is not None else None
        out.append(
            Check(
                f"{label}: task_body_ns {q} in the bucket of {body_ns} ns",
                f"[{lo}, {hi})",
                "none" if v is None else f"{v:.0f}",
                v is not None and lo <= v < hi,
            )
        )
    return out


def _alert_checks(label: str, o: Observed) -> list[Check]:
    """Backpressure fires during scripted growth and only there; no anomaly in steady phases."""
    t = o.workload.truth
    tick_ts = {e.seq: e.ts_ns for e in o.raw if isinstance(e, Tick)}
    bp = [a for a in o.derived if isinstance(a, Alert) and a.rule.startswith("backpressure")]
    firing = [a for a in bp if a.state == "firing"]
    resolved = [a for a in bp if a.state == "resolved"]
    anomalies = [a for a in o.derived if isinstance(a, Anomaly)]
    out: list[Check] = []
    if t.growth_ticks is None:
        # Only the inject queue's growth is scripted. A buffered channel filling
        # towards its capacity is real, bounded growth; and a benchmark's
        # throughput follows the machine's load (two cores shared with the
        # monitor), so a change that stays may be real: anomalies are checked
        # where the rates are scripted, in the synthetic run's steady phases.
        inject = [a for a in bp if a.rule == "backpressure.inject_depth"]
        out.append(_eq(f"{label}: inject-queue backpressure alerts (no growth)", 0, len(inject)))
        return out
    g0, g1 = t.growth_ticks
    start, end = tick_ts.get(g0), tick_ts.get(g1)
    if start is None or end is None:
        out.append(Check(f"{label}: growth phase ticks", f"ticks {g0} and {g1}", "missing", False))
        return out

    def at_tick(ts: int) -> int:
        return max((s for s, v in tick_ts.items() if v <= ts), default=0)

    where = ", ".join(f"{a.state} at tick {at_tick(a.ts_ns)}" for a in bp) or "none"
    ok = (
        len(firing) == 1
        and start <= firing[0].ts_ns <= end
        and len(resolved) == 1
        and resolved[0].ts_ns > end
    )
    out.append(
        Check(
            f"{label}: backpressure fires in the growth phase only",
            f"1 firing in ticks [{g0}, {g1}], resolved after",
            where,
            ok,
        )
    )
    steady = [a for a in anomalies if not start <= a.ts_ns <= end]
    out.append(_eq(f"{label}: anomalies in the steady phases", 0, len(steady)))
    return out


def check_repeats(runs: list[Observed]) -> list[Check]:
    """Runs of one workload with the same seed end with the same workload totals."""
    out: list[Check] = []
    by_name: dict[str, list[Observed]] = {}
    for o in runs:
        by_name.setdefault(o.workload.name, []).append(o)
    for name, group in by_name.items():
        if len(group) < 2:
            continue
        first, *rest = [workload_totals(o) for o in group]
        for n, other in enumerate(rest, 2):
            out.append(_eq(f"{name}: same seed, same totals (run 1 vs {n})", first, other))
    return out


def workload_totals(o: Observed) -> str:
    summaries = [e for e in o.derived if isinstance(e, Summary)]
    body = _final_histogram(o.derived, "task_body_ns")
    parts = [
        f"tasks {_sum_totals(summaries, 'tasks_completed', 'worker')}",
        f"bodies {body.count if body is not None else 0}",
    ]
    if o.workload.truth.messages is not None:
        parts.append(f"msgs {_sum_totals(summaries, 'recvs', 'channel')}")
        parts.append(f"bytes {_sum_totals(summaries, 'bytes_recv', 'channel')}")
    return ", ".join(parts)
