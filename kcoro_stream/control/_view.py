"""What a live run's stream has told the control methods: the run, its interval and pause
state, its knobs, and the rules in force.

::

    FrameRouter's decoded batches ──► RunView.observe
        RunStarted   → run id, mode, interval, knobs and their ranges (config["knobs"])
        Tick         → interval in force, paused
        KnobApplied  → a knob's value
        Mark(config) → the alert rules and KPI thresholds the run started with
        RuleChanged  → a live rule change (the same event the analyses apply)
        CoroutineState, ChannelWaiters (one frame: a --coroutines snapshot) → the last snapshot
        ChannelCounters → each channel's last counters (closed, depth)

The methods read it; it never changes the run. Because it follows the logged
events, ``list_rules`` and ``status`` say what the analyses and the producer
actually applied, not what was asked.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from ..errors import UsageError
from ..events import (
    ChannelCounters,
    ChannelWaiters,
    CoroutineState,
    KnobApplied,
    Mark,
    RuleChanged,
    RunStarted,
    Tick,
)
from ..ops import KPI_DEFAULTS, parse_rule

RECORD_MARK = "config"


class RunView:
    """The run as the control methods see it, kept current by ``observe``."""

    def __init__(self) -> None:
        self.start: RunStarted | None = None
        self.interval_ns = 0
        self.paused = False
        self.knob_ranges: dict[str, tuple[int, int]] = {}
        self.knobs: dict[str, int] = {}
        self.alert_rules: dict[str, dict[str, Any]] = {}
        self.kpi: dict[str, tuple[float, float]] = {k: (g, y) for k, (_, _, g, y) in KPI_DEFAULTS.items()}
        self.coroutines: list[CoroutineState] = []  # the last --coroutines snapshot
        self.chan_waiters: dict[int, ChannelWaiters] = {}
        self.channels: dict[int, ChannelCounters] = {}
        self.snapshots = 0  # snapshots seen (0: the run has no coroutine view)

    def observe(self, batch: list[Any]) -> None:
        """Keep what the methods answer with current (called with every decoded batch)."""
        fresh = False  # this batch's snapshot has begun
        for ev in batch:
            t = type(ev)
            if t is CoroutineState or t is ChannelWaiters:
                if not fresh:
                    self.coroutines, self.chan_waiters, fresh = [], {}, True
                    self.snapshots += 1
                if t is CoroutineState:
                    self.coroutines.append(ev)
                else:
                    self.chan_waiters[ev.channel] = ev
            elif t is ChannelCounters:
                self.channels[ev.channel] = ev
            elif t is Tick:
                self.interval_ns = ev.target_ns
                self.paused = ev.paused
            elif t is KnobApplied:
                self.knobs[ev.name] = ev.value
            elif t is RunStarted:
                self.start = ev
                self.coroutines, self.chan_waiters, self.channels, self.snapshots = [], {}, {}, 0
                self.interval_ns = ev.interval_ns
                ranges = ev.config.get("knobs")
                self.knob_ranges = {}
                if isinstance(ranges, dict):
                    for name, lim in ranges.items():
                        if isinstance(lim, list) and len(lim) == 2:
                            self.knob_ranges[str(name)] = (int(lim[0]), int(lim[1]))
                self.knobs = {
                    k: int(ev.config[k]) for k in self.knob_ranges if isinstance(ev.config.get(k), int)
                }
            elif t is RuleChanged:
                self._apply_rule_change(ev)
            elif t is Mark and ev.name == RECORD_MARK:
                self._initial_rules(ev.detail)

    def _initial_rules(self, detail: str) -> None:
        try:
            cfg = json.loads(detail).get("config", {})
            rules = cfg.get("alerts", {}).get("rules", {}).get("value", [])
            kpis = cfg.get("kpi", {})
            for i, spec in enumerate(rules):
                r = parse_rule(spec, i)
                self.alert_rules[r.name] = rule_dict(r)
            for name, v in kpis.items():
                if name in self.kpi and isinstance(v.get("value"), list) and len(v["value"]) == 2:
                    self.kpi[name] = (float(v["value"][0]), float(v["value"][1]))
        except (ValueError, AttributeError, TypeError, UsageError):
            return  # an unusual record: the live rules start empty

    def _apply_rule_change(self, ev: RuleChanged) -> None:
        if ev.kind == "alert":
            if ev.action == "set":
                self.alert_rules[ev.name] = json.loads(ev.spec)
            else:
                self.alert_rules.pop(ev.name, None)
        elif ev.kind == "kpi" and ev.name in self.kpi:
            if ev.action == "set":
                spec = json.loads(ev.spec)
                self.kpi[ev.name] = (float(spec["green"]), float(spec["yellow"]))
            else:
                _, _, g, y = KPI_DEFAULTS[ev.name]
                self.kpi[ev.name] = (g, y)


def rule_dict(rule: Any) -> dict[str, Any]:
    """A validated alert Rule as the JSON object ``list_rules`` shows and ``RuleChanged`` carries."""
    d = msgspec.structs.asdict(rule)
    return {k: v for k, v in d.items() if v is not None}
