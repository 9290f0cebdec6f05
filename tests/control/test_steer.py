"""The control methods' validation and the producer-acknowledgement timeout (a real ring, no producer)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kcoro_stream.control import INVALID_PARAMS, TIMEOUT, UNAVAILABLE, Dispatcher, Steering
from kcoro_stream.events import KnobApplied, Mark, RuleChanged, RunStarted
from kcoro_stream.ingest import Ingester, RingReader
from kcoro_stream.sources import AttachConfig, SourceContext, build_source

CONFIG_MARK = json.dumps(
    {
        "config": {
            "alerts": {"rules": {"value": ["slow: tasks_per_s < 5"]}},
            "kpi": {"backlog": {"value": [10, 20]}},
        }
    }
)


class Sink:
    def frame(self, *a: Any) -> None: ...

    def emit(self, e: Any) -> None: ...

    async def drain(self) -> None: ...


def steering(tmp_path: Path) -> tuple[Steering, list[Any], RingReader]:
    ring = RingReader.create(tmp_path / "ring", data_size=1 << 16, interval_ns=10_000_000)
    source = build_source(AttachConfig(path=str(tmp_path / "ring")), SourceContext(run_id="r"))
    source.controller.ingester = Ingester(ring, Sink())  # type: ignore[attr-defined]
    emitted: list[Any] = []

    async def drain() -> None:
        return None

    def emit(ev: Any) -> None:
        emitted.append(ev)
        st.observe([ev])  # as the router does: logged, then seen

    st = Steering(source, emit, drain, lambda: None, "r")  # status is not asked here
    return st, emitted, ring


def started(knobs: bool) -> RunStarted:
    config: dict[str, Any] = {"batch": 64, "spin": 64}
    if knobs:
        config["knobs"] = {"batch": [1, 65536], "spin": [0, 1000000]}
    return RunStarted(
        1, 0, run_id="b", mode="tasks", config=config, workers=2, host="h", pid=1, abi_major=1, abi_minor=1,
        build={}, wall_ns=1, interval_ns=10_000_000,
    )  # fmt: skip


async def call(st: Steering, method: str, params: Any) -> Any:
    text = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})  # \ud800 escaped
    answer = await Dispatcher(st.methods).handle_line(text)
    assert answer is not None
    return json.loads(answer)


async def test_a_producer_that_never_acknowledges_times_out(tmp_path: Path) -> None:
    st, _, ring = steering(tmp_path)
    st.observe([started(True)])
    try:
        r = await call(st, "pause", [])
        assert r["error"]["code"] == TIMEOUT and "did not acknowledge within 2 s" in r["error"]["message"]
        r = await call(st, "set_knob", {"batch": 2})
        assert r["error"]["code"] == TIMEOUT
    finally:
        ring.close()


@pytest.mark.parametrize(
    ("method", "params", "code", "says"),
    [
        ("set_interval", ["fast"], INVALID_PARAMS, "bad duration 'fast'"),
        ("set_interval", ["0.5ms"], INVALID_PARAMS, "1ms to 60s"),
        ("set_interval", [{"a": 1}], INVALID_PARAMS, "expected a duration"),
        ("mark", [""], INVALID_PARAMS, "non-empty"),
        ("mark", ["config"], INVALID_PARAMS, "reserved"),
        ("mark", ["x" * 65], INVALID_PARAMS, "at most 64"),
        ("set_rule", ["slow: tasks_per_sec < 5"], INVALID_PARAMS, "unknown metric 'tasks_per_sec'"),
        ("set_rule", {}, INVALID_PARAMS, "missing param 'rule'"),
        ("set_rule", {"kpi": "backlog", "green": 9, "yellow": 1}, INVALID_PARAMS, "green must be <= yellow"),
        ("set_rule", {"kpi": "nope", "green": 1, "yellow": 2}, INVALID_PARAMS, "unknown KPI"),
        ("remove_rule", ["nope"], INVALID_PARAMS, "no alert rule 'nope'"),
        ("set_knob", {"batch": 0}, INVALID_PARAMS, "batch must be an integer in [1, 65536]"),
        ("set_knob", {"batch": 1.5}, INVALID_PARAMS, "batch must be an integer"),
        ("set_knob", {"nope": 1}, INVALID_PARAMS, "unknown knob 'nope'"),
        ("set_knob", {}, INVALID_PARAMS, "give one or more"),
        # hostile input: each once answered -32603 "internal error" (or was accepted)
        ("set_rule", ["x: tasks_per_s < 5 for 1e300s"], INVALID_PARAMS, "for duration must be"),
        ("set_rule", ["x: tasks_per_s < 5 for 1e300"], INVALID_PARAMS, "for duration must be"),
        ("set_rule", [{"name": "x", "metric": "tasks_per_s", "op": "<", "value": 1, "for_ms": 1e305}],
         INVALID_PARAMS, "for duration must be"),
        ("set_rule", [{"name": "x", "metric": "tasks_per_s", "op": "<", "value": 1, "for_ns": 1e300}],
         INVALID_PARAMS, "for duration must be"),
        ("set_rule", [{"name": "x", "metric": "tasks_per_s", "op": "<", "value": 10**400}],
         INVALID_PARAMS, "value must be finite"),
        ("set_rule", [{"name": "x", "metric": "tasks_per_s", "op": "<", "value": 1, "hysteresis": 10**400}],
         INVALID_PARAMS, "hysteresis must be finite"),
        ("set_rule", [{"name": "x", "metric": "tasks_per_s", "op": ["<"], "value": 1}],
         INVALID_PARAMS, "bad comparison"),
        ("set_rule", {"kpi": "backlog", "green": 10**400, "yellow": 10**401}, INVALID_PARAMS, "thresholds must be"),
        ("set_rule", {"kpi": ["backlog"], "green": 1, "yellow": 2}, INVALID_PARAMS, "KPI name must be a string"),
        ("remove_rule", {"kpi": ["backlog"]}, INVALID_PARAMS, "unknown KPI"),
        ("remove_rule", {"kpi": {"a": 1}}, INVALID_PARAMS, "unknown KPI"),
        ("mark", ["\ud800"], INVALID_PARAMS, "lone surrogate"),
        ("mark", ["ok", {"\udc00": 1}], INVALID_PARAMS, "lone surrogate"),
        ("set_rule", [{"name": "x" * 65, "metric": "tasks_per_s", "op": "<", "value": 1}],
         INVALID_PARAMS, "at most 64 characters"),
        ("set_rule", ["x" * 100_000 + ": tasks_per_s < 5"], INVALID_PARAMS, "at most 64 characters"),
        ("set_knob", {"batch": "1_0"}, INVALID_PARAMS, "batch must be an integer"),
        ("set_knob", {"batch": " 10 "}, INVALID_PARAMS, "batch must be an integer"),
        ("set_knob", {"batch": "\u0661\u0660"}, INVALID_PARAMS, "batch must be an integer"),  # Arabic-Indic 10
    ],
)  # fmt: skip
async def test_bad_params_are_refused_naming_the_method_and_param(
    tmp_path: Path, method: str, params: Any, code: int, says: str
) -> None:
    st, emitted, ring = steering(tmp_path)
    st.observe([started(True)])
    try:
        r = await call(st, method, params)
        assert r["error"]["code"] == code and says in r["error"]["message"], r
        assert r["error"]["message"].startswith(method)
        assert emitted == []  # nothing logged for a refused change
    finally:
        ring.close()


async def test_knobs_need_a_producer_that_announces_them(tmp_path: Path) -> None:
    st, _, ring = steering(tmp_path)
    st.observe([started(False)])
    try:
        r = await call(st, "set_knob", {"batch": 2})
        assert r["error"]["code"] == UNAVAILABLE
    finally:
        ring.close()


async def test_rules_start_from_the_recorded_configuration_and_follow_changes(tmp_path: Path) -> None:
    st, emitted, ring = steering(tmp_path)
    st.observe([Mark(0, 0, name="config", detail=CONFIG_MARK), started(True)])
    try:
        rules = (await call(st, "list_rules", []))["result"]
        assert [r["name"] for r in rules["alerts"]] == ["slow"] and rules["kpi"]["backlog"] == {
            "green": 10,
            "yellow": 20,
        }
        await call(st, "set_rule", ["fast: tasks_per_s > 1e9 severity=critical"])
        await call(st, "set_rule", {"kpi": "backlog", "green": 1, "yellow": 2})
        await call(st, "remove_rule", ["slow"])
        rules = (await call(st, "list_rules", []))["result"]
        assert [r["name"] for r in rules["alerts"]] == ["fast"] and rules["kpi"]["backlog"] == {
            "green": 1,
            "yellow": 2,
        }
        await call(st, "remove_rule", {"kpi": "backlog"})
        assert (await call(st, "list_rules", []))["result"]["kpi"]["backlog"] == {
            "green": 64.0,
            "yellow": 1024.0,
        }
        assert [(e.action, e.kind, e.name) for e in emitted if type(e) is RuleChanged] == [
            ("set", "alert", "fast"), ("set", "kpi", "backlog"), ("remove", "alert", "slow"), ("remove", "kpi", "backlog"),
        ]  # fmt: skip
        st.observe([KnobApplied(5, 0, cmd_id=1, name="batch", value=3, previous=64)])
        assert (await call(st, "methods", []))["result"]["knobs"]["batch"] == {
            "min": 1,
            "max": 65536,
            "value": 3,
        }
    finally:
        ring.close()
