"""alerts: threshold rules with a for-duration in event time, hysteresis, firing/resolved.

A rule is a dict or a one-line string::

    {"name": "fastpath_low", "metric": "fastpath_ratio", "op": "<", "value": 0.5,
     "for": "2s", "severity": "warning", "hysteresis": 0.05, "pool": "tasks"}

    "fastpath_low: fastpath_ratio < 0.5 for 2s severity=warning hysteresis=0.05 pool=tasks"

* ``metric``: a Sample metric (``tasks_per_s``, ``fastpath_ratio``, ...,
  ``smooth.<m>``, ``ema.<m>``; see ``METRICS``).
* ``op``: ``>``, ``>=``, ``<``, ``<=``, ``==``, ``!=``.
* ``for``: how long (event time) the condition must hold before the rule
  fires: ``250ms``, ``2s``, ``1m``, ``500us``, ``10ns`` or a bare number of
  seconds (``for_ms`` is accepted too); default 0 = on the first Sample.
* ``severity``: ``info`` | ``warning`` (default) | ``critical``.
* ``hysteresis`` (≥ 0, metric units): a firing rule resolves only when the
  value is back past the threshold by this margin (``>`` resolves at
  ``value <= threshold - h``, ``<`` at ``value >= threshold + h``).
* ``pool``: only Samples of that pool (default: every pool, tracked apart).

* ``value`` may be relative to what the workload as configured implies
  (``Sample.expected``): ``fastpath_ratio < 0.5x`` is "below half the
  expected fast-path share" (1 / batch for the benchmark's task pools). Only
  ``fastpath_ratio`` and ``idle_workers_pct`` have an expectation; a Sample
  without one is no evidence for a relative rule.

State per rule and pool: ok → pending (condition true since t0) → firing when
``ts_ns - t0 >= for``. **``for`` needs continuous evidence** (Prometheus's
semantics: a series missing from one evaluation resets a pending alert): a
Sample with a null value, or one that is not ``steady`` (warm-up, drain,
paused, stalled: ``Sample.phase``), is no evidence — it sends a pending rule
back to ok, and leaves a firing rule firing (nothing shows it resolved). So a
``steal_ratio < 0.05 for 5s`` rule never fires across 5 s of windows with no
steal probe. An ``Alert`` is emitted on firing and on resolved; nothing at end
of stream (a rule still firing stays firing). Bad rules raise ``UsageError``
naming the rule.

Live rules: a ``RuleChanged(kind="alert")`` item in the stream (``ctl
set_rule`` / ``remove_rule``, logged, so a replay meets it at the same place)
adds or replaces a rule by name, starting from ok, or removes one (a firing
rule removed says nothing more). It applies to the Samples after it.

::

    Sample(v=.4) Sample(v=.3) ... Sample(v=.6) |
    ------------ Alert(firing) ... Alert(resolved) |
"""

from __future__ import annotations

import math
import operator as _op
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

import msgspec

from kcoro_stream.errors import UsageError, quote
from kcoro_stream.events import LINT_PREFIX, Alert, RuleChanged, Sample

from ._base import Emit, Operator, stateful
from ._metrics import DECLARED, METRICS, getter

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">": _op.gt,
    ">=": _op.ge,
    "<": _op.lt,
    "<=": _op.le,
    "==": _op.eq,
    "!=": _op.ne,
}
SEVERITIES = ("info", "warning", "critical")
_UNITS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000}
_DURATION = re.compile(r"^\s*(-?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(ns|us|ms|s|m)?\s*$")
_LINE = re.compile(
    r"^\s*(?:(?P<name>[A-Za-z0-9_.\-]+)\s*:\s*)?(?P<metric>[A-Za-z0-9_.]+)\s*(?P<op>>=|<=|==|!=|>|<)\s*"
    r"(?P<value>\S+)(?P<rest>.*)$"
)


class Rule(msgspec.Struct, frozen=True, kw_only=True):
    """A validated threshold rule."""

    name: str
    metric: str
    op: str
    value: float
    for_ns: int = 0
    severity: str = "warning"
    hysteresis: float = 0.0
    pool: str | None = None
    relative: bool = False  # value (and hysteresis) are multiples of Sample.expected.<metric>


FOR_MAX_S = 1e9  # ~31 years: any longer is a typo (and 1e300 s overflowed the ns integer)
RULE_NAME_MAX = 64


def _for_ns(secs: float, rule: str, what: str, text: Any) -> int:
    if not (math.isfinite(secs) and 0 <= secs <= FOR_MAX_S):
        raise UsageError(
            f"alert rule {rule!r}: {what} duration must be >= 0 and at most {FOR_MAX_S:g} s, got {text!r}"
        )
    return round(secs * 1e9)


def parse_duration(text: Any, rule: str, what: str = "for") -> int:
    """``"250ms"``/``"2s"``/``1.5`` (seconds) → ns; negative, huge or bad → UsageError."""
    if isinstance(text, bool):
        raise UsageError(f"alert rule {rule!r}: bad {what} duration {text!r}")
    if isinstance(text, int | float):
        return _for_ns(_number(text, rule, what), rule, what, text)
    m = _DURATION.match(str(text))
    if not m:
        raise UsageError(f"alert rule {rule!r}: bad {what} duration {text!r} (e.g. 250ms, 2s, 1m)")
    secs = float(m.group(1)) * _UNITS[m.group(2) or "s"] / 1e9
    return _for_ns(secs, rule, what, text)


def _number(v: Any, rule: str, what: str) -> float:
    if isinstance(v, bool):
        raise UsageError(f"alert rule {rule!r}: {what} must be a number, got {v!r}")
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise UsageError(f"alert rule {rule!r}: {what} must be a number, got {quote(v)}") from None
    except OverflowError:  # an integer of 10**400
        x = math.inf
    if not math.isfinite(x):
        raise UsageError(f"alert rule {rule!r}: {what} must be finite, got {quote(v)}")
    return x


def parse_rule(spec: Any, index: int = 0, declared: Collection[str] = ()) -> Rule:
    """A Rule from a dict or a one-line string; UsageError names the rule. ``declared``: the metrics a
    pipeline declares (kcoro_stream.analysis), which a rule names ``declared.NAME``."""
    if isinstance(spec, Rule):
        return parse_rule(msgspec.structs.asdict(spec), index, declared)
    if isinstance(spec, str):
        m = _LINE.match(spec)
        if not m:
            raise UsageError(
                f"alert rule #{index + 1}: cannot parse {spec!r} (expected 'name: metric OP value ...')"
            )
        d: dict[str, Any] = {
            "name": m.group("name") or f"#{index + 1}",
            "metric": m.group("metric"),
            "op": m.group("op"),
            "value": m.group("value"),
        }
        words = m.group("rest").split()
        i = 0
        while i < len(words):
            w = words[i]
            if w == "for" and i + 1 < len(words):
                d["for"] = words[i + 1]
                i += 2
                continue
            if "=" in w:
                k, v = w.split("=", 1)
                if k not in ("severity", "hysteresis", "pool", "for"):
                    raise UsageError(f"alert rule {d['name']!r}: unknown option {k!r}")
                d[k] = v
                i += 1
                continue
            raise UsageError(f"alert rule {d['name']!r}: unexpected {w!r}")
        spec = d
    if not isinstance(spec, Mapping):
        raise UsageError(f"alert rule #{index + 1}: expected a dict or a string, got {type(spec).__name__}")
    name = str(spec.get("name") or f"#{index + 1}")
    if len(name) > RULE_NAME_MAX:
        raise UsageError(
            f"alert rule {quote(name)}: the name must be at most {RULE_NAME_MAX} characters, got {len(name)}"
        )
    if name.startswith(LINT_PREFIX):
        raise UsageError(
            f"alert rule {quote(name)}: the prefix {LINT_PREFIX!r} is reserved for the coroutine lints ([lints])"
        )
    known = {"name", "metric", "op", "comparison", "value", "threshold", "for", "for_ms", "for_ns"}
    known |= {"severity", "hysteresis", "pool", "relative"}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise UsageError(f"alert rule {name!r}: unknown key {unknown[0]!r}")
    metric = spec.get("metric")
    if isinstance(metric, str) and metric.startswith(DECLARED):
        if metric.removeprefix(DECLARED) not in declared:
            raise UsageError(
                f"alert rule {name!r}: {metric!r} is no metric this pipeline declares "
                f"(declared: {', '.join(DECLARED + d for d in declared) or 'none'}; "
                "a rule on a declared metric goes in Pipeline(rules=...))"
            )
    elif metric not in METRICS:
        raise UsageError(
            f"alert rule {name!r}: unknown metric {metric!r} (known: {', '.join(METRICS[:12])}, ...)"
        )
    op = spec.get("op", spec.get("comparison"))
    if not isinstance(op, str) or op not in COMPARISONS:
        raise UsageError(f"alert rule {name!r}: bad comparison {op!r} (use one of {' '.join(COMPARISONS)})")
    if "value" not in spec and "threshold" not in spec:
        raise UsageError(f"alert rule {name!r}: missing value")
    raw_value = spec.get("value", spec.get("threshold"))
    relative = spec.get("relative") is True or (
        isinstance(raw_value, str) and raw_value.strip().endswith("x")
    )
    if relative:
        if metric not in RELATIVE:
            raise UsageError(
                f"alert rule {name!r}: a relative value ({raw_value!r}) needs a metric with an expectation "
                f"({', '.join(RELATIVE)})"
            )
        if isinstance(raw_value, str) and raw_value.strip().endswith("x"):
            raw_value = raw_value.strip()[:-1]
    value = _number(raw_value, name, "value")
    if "for_ns" in spec:
        for_ns = _for_ns(_number(spec["for_ns"], name, "for_ns") / 1e9, name, "for", spec["for_ns"])
    elif "for_ms" in spec:
        for_ns = _for_ns(_number(spec["for_ms"], name, "for_ms") / 1e3, name, "for", spec["for_ms"])
    else:
        for_ns = parse_duration(spec.get("for", 0), name)
    severity = spec.get("severity", "warning")
    if severity not in SEVERITIES:
        raise UsageError(f"alert rule {name!r}: bad severity {severity!r} (use {', '.join(SEVERITIES)})")
    hyst = _number(spec.get("hysteresis", 0.0), name, "hysteresis")
    if hyst < 0:
        raise UsageError(f"alert rule {name!r}: hysteresis must be >= 0, got {hyst!r}")
    pool = spec.get("pool")
    return Rule(
        name=name,
        metric=str(metric),
        op=str(op),
        value=value,
        for_ns=for_ns,
        severity=str(severity),
        hysteresis=hyst,
        pool=None if pool is None else str(pool),
        relative=relative,
    )


def parse_rules(specs: Iterable[Any], declared: Collection[str] = ()) -> list[Rule]:
    """Validate every rule up front (duplicate names are an error too)."""
    rules = [parse_rule(s, i, declared) for i, s in enumerate(specs)]
    seen: set[str] = set()
    for r in rules:
        if r.name in seen:
            raise UsageError(f"alert rule {r.name!r}: defined twice")
        seen.add(r.name)
    return rules


# metric -> the Expected field a relative rule multiplies
RELATIVE: dict[str, str] = {"fastpath_ratio": "fastpath_ratio", "idle_workers_pct": "idle_workers_pct"}


def _resolve_threshold(rule: Rule, scale: float = 1.0) -> float:
    if rule.op in (">", ">="):
        return (rule.value - rule.hysteresis) * scale
    if rule.op in ("<", "<="):
        return (rule.value + rule.hysteresis) * scale
    return rule.value * scale


def _scale(rule: Rule, s: Sample) -> float | None:
    """1 for a plain rule; the expected value for a relative one (None: no expectation here)."""
    if not rule.relative:
        return 1.0
    exp = s.expected
    return None if exp is None else getattr(exp, RELATIVE[rule.metric])


def alerts(rules: Iterable[Any], declared: Collection[str] = (), live: bool = True) -> Operator:
    """Samples → Alert events when a rule starts firing or resolves. ``declared``: the pipeline's
    declared metrics its rules may name (``declared.NAME``); ``live``: apply live rule changes
    (``RuleChanged``; off for a pipeline's own rules, which run after its analyses).

    ::

        Sample Sample Sample ... Sample |
        ------------- Alert(firing) ... Alert(resolved) |
    """
    parsed = parse_rules(rules, declared)

    def setup(emit: Emit) -> tuple[Any, Any]:
        # per subscription: live changes (RuleChanged) edit this copy
        compiled = [_compile(r) for r in parsed]
        # (rule name, pool) -> [pending_since or None, firing]
        state: dict[tuple[str, str], list[Any]] = {}
        run_id: str | None = None

        def change(ev: RuleChanged) -> None:
            compiled[:] = [c for c in compiled if c[0].name != ev.name]
            for key in [k for k in state if k[0] == ev.name]:
                del state[key]
            if ev.action == "set":
                compiled.append(_compile(parse_rule(msgspec.json.decode(ev.spec))))

        def on_item(s: Any) -> None:
            nonlocal run_id
            if type(s) is not Sample:
                if live and type(s) is RuleChanged and s.kind == "alert":
                    change(s)
                return
            if s.run_id != run_id:
                run_id = s.run_id
                state.clear()
            steady = s.phase == "steady"
            for rule, cmp, get in compiled:
                if rule.pool is not None and rule.pool != s.pool:
                    continue
                st = state.get((rule.name, s.pool))
                if st is None:
                    st = state[(rule.name, s.pool)] = [None, False]
                v = get(s) if steady else None
                scale = _scale(rule, s)
                if v is None or scale is None:
                    st[0] = None  # no evidence: a pending rule starts over, a firing one stays
                    continue
                if not st[1]:
                    if cmp(v, rule.value * scale):
                        if st[0] is None:
                            st[0] = s.ts_ns
                        if s.ts_ns - st[0] >= rule.for_ns:
                            st[1] = True
                            emit(_alert(rule, s, v, "firing", scale))
                    else:
                        st[0] = None
                elif not cmp(v, _resolve_threshold(rule, scale)):
                    st[0] = None
                    st[1] = False
                    emit(_alert(rule, s, v, "resolved", scale))

        def on_done() -> None:
            return None

        return on_item, on_done

    return stateful(setup)


def _compile(r: Rule) -> tuple[Rule, Callable[[float, float], bool], Callable[[Any], Any]]:
    return (r, COMPARISONS[r.op], getter(r.metric))


def _alert(rule: Rule, s: Sample, v: float, state: str, scale: float = 1.0) -> Alert:
    bar = f"{rule.value * scale:.6g}" + (f" ({rule.value:g} × expected {scale:.6g})" if rule.relative else "")
    if state == "firing":
        held = f" for {rule.for_ns / 1e9:g}s" if rule.for_ns else ""
        text = f"{rule.metric} = {v:.6g} {rule.op} {bar}{held} (pool {s.pool})"
    else:
        text = f"resolved: {rule.metric} = {v:.6g}, back past {_resolve_threshold(rule, scale):.6g} (pool {s.pool})"
    return Alert(
        ts=s.ts,
        ts_ns=s.ts_ns,
        run_id=s.run_id,
        rule=rule.name,
        severity=rule.severity,  # type: ignore[arg-type]  # validated in parse_rule
        state=state,  # type: ignore[arg-type]  # "firing" | "resolved"
        value=v,
        threshold=rule.value * scale,
        message=text,
        labels={"metric": rule.metric, "pool": s.pool},
    )
