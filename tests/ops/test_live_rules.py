"""Live rule changes (RuleChanged, ``ctl set_rule``) in the stream: where they stand is where they apply."""

from __future__ import annotations

import json

from factory import MS, Run, drive, drive_items, of_type

from kcoro_stream import ops
from kcoro_stream.events import Alert, Kpi, RuleChanged, Sample


def change(t_ns: int, action: str, kind: str, name: str, spec: object = "") -> RuleChanged:
    return RuleChanged(
        t_ns, 0, action=action, kind=kind, name=name, spec=spec if isinstance(spec, str) else json.dumps(spec)
    )


def s(v: float, t_ms: int) -> Sample:
    return Sample(
        ts=t_ms / 1e3,
        ts_ns=t_ms * MS,
        run_id="r",
        mode="tasks",
        pool="all",
        window_ns=250 * MS,
        fastpath_ratio=v,
    )


RULE = {"name": "low", "metric": "fastpath_ratio", "op": "<", "value": 0.5}


def test_a_rule_set_mid_stream_fires_from_the_next_sample_only() -> None:
    items = [s(0.1, 250), change(300 * MS, "set", "alert", "low", RULE), s(0.1, 500), s(0.9, 750)]
    alerts = of_type(drive_items(ops.alerts([]), items), Alert)
    assert [(a.rule, a.state, a.ts_ns) for a in alerts] == [
        ("low", "firing", 500 * MS),
        ("low", "resolved", 750 * MS),
    ]


def test_replacing_and_removing_a_configured_rule() -> None:
    tighter = {**RULE, "value": 0.05}
    items = [
        change(100 * MS, "set", "alert", "low", tighter),  # replaces the configured 'low'
        s(0.1, 250),
        change(300 * MS, "set", "alert", "low", RULE),
        s(0.1, 500),
        change(600 * MS, "remove", "alert", "low"),
        s(0.1, 750),
    ]
    alerts = of_type(drive_items(ops.alerts([RULE]), items), Alert)
    assert [(a.state, a.ts_ns, a.threshold) for a in alerts] == [("firing", 500 * MS, 0.5)]


def test_kpi_thresholds_change_and_return_to_the_default() -> None:
    items = [
        s(0.9, 250),
        change(300 * MS, "set", "kpi", "fastpath_ratio", {"green": 0.95, "yellow": 0.92}),
        s(0.9, 500),
        change(600 * MS, "remove", "kpi", "fastpath_ratio"),
        s(0.9, 750),
    ]
    states = [k.states["fastpath_ratio"] for k in of_type(drive_items(ops.kpi(), items), Kpi)]
    assert states == ["GREEN", "RED", "GREEN"]


def test_default_analyses_apply_a_change_logged_mid_window_and_never_output_it() -> None:
    run = Run(workers=2)
    batches = [[run.start]]
    for i in range(60):  # 600 ms of 10 ms frames, fast path 90 %
        run.steady()
        batches.append(run.frame())
        if i == 30:
            batches.append([change(run.t + 1, "set", "alert", "fp", {**RULE, "name": "fp", "value": 0.95})])
    out = drive(ops.default_analyses(window_ms=250), batches)
    assert not [e for e in out if isinstance(e, RuleChanged)]
    fired = [a for a in of_type(out, Alert) if a.rule == "fp"]
    assert fired and fired[0].state == "firing"
    rule_ts = batches[32][0].ts_ns
    first_window_after = min(x.ts_ns for x in of_type(out, Sample) if x.ts_ns > rule_ts)
    assert fired[0].ts_ns == first_window_after


def test_a_change_stamped_after_the_open_window_waits_for_that_window_to_close() -> None:
    """The ingester logs a ctl change before the ring frames older than it: event time decides."""
    run = Run(workers=2)
    batches = [[run.start]]
    for _ in range(49):  # frames at 10 ms .. 490 ms: window 1 ([250, 500 ms)) is open
        run.steady()
        batches.append(run.frame())
    stamped = run.start.ts_ns + 505 * MS  # after window 1's end, logged before the frame that closes it
    batches.append([change(stamped, "set", "alert", "fp", {**RULE, "name": "fp", "value": 0.95})])
    for _ in range(30):
        run.steady()
        batches.append(run.frame())
    out = drive(ops.default_analyses(window_ms=250), batches)
    fired = [a for a in of_type(out, Alert) if a.rule == "fp"]
    windows = sorted({x.ts_ns for x in of_type(out, Sample)})
    assert fired and fired[0].state == "firing"
    assert fired[0].ts_ns == windows[2]  # window 2, the first to end after the change; never window 1
