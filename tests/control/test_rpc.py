"""JSON-RPC 2.0 conformance of the Dispatcher: every error code, batches, notifications, params."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kcoro_stream.control import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    Dispatcher,
    Method,
    Param,
    RpcError,
    build_params,
)
from kcoro_stream.errors import UsageError


def make() -> tuple[Dispatcher, list[Any]]:
    calls: list[Any] = []

    async def echo(p: dict[str, Any]) -> Any:
        calls.append(p)
        return p

    async def boom(p: dict[str, Any]) -> Any:
        raise ZeroDivisionError("division by zero")

    async def nan(p: dict[str, Any]) -> Any:
        return {"x": float("nan")}

    async def refuse(p: dict[str, Any]) -> Any:
        raise RpcError(INVALID_PARAMS, "refuse: x must be positive")

    methods = {
        "echo": Method("echo", echo, "", (Param("a", "any"), Param("b", "any", required=False))),
        "boom": Method("boom", boom, ""),
        "nan": Method("nan", nan, ""),
        "refuse": Method("refuse", refuse, ""),
        "free": Method("free", echo, "", extra_params=True),
    }
    return Dispatcher(methods), calls


async def answer(d: Dispatcher, text: str | bytes) -> Any:
    out = await d.handle_line(text)
    return None if out is None else json.loads(out)


def code(reply: dict[str, Any]) -> int:
    return int(reply["error"]["code"])


async def test_a_request_gets_its_result_with_its_id() -> None:
    d, _ = make()
    r = await answer(d, '{"jsonrpc":"2.0","id":"x7","method":"echo","params":{"a":1}}')
    assert r == {"jsonrpc": "2.0", "id": "x7", "result": {"a": 1}}


async def test_positional_params_map_to_declared_names_in_order() -> None:
    d, _ = make()
    r = await answer(d, '{"jsonrpc":"2.0","id":1,"method":"echo","params":[1,2]}')
    assert r["result"] == {"a": 1, "b": 2}


async def test_parse_error_for_bad_json_and_bad_utf8() -> None:
    d, _ = make()
    for text in ('{"jsonrpc":"2.0",', b"\xff\xfe{}", "[" * 100000):
        r = await answer(d, text)
        assert code(r) == PARSE_ERROR and r["id"] is None


async def test_invalid_request_shapes() -> None:
    d, _ = make()
    bad = [
        "42",
        '{"id":1,"method":"echo"}',  # no jsonrpc
        '{"jsonrpc":"1.0","id":1,"method":"echo"}',
        '{"jsonrpc":"2.0","id":1,"method":5}',
        '{"jsonrpc":"2.0","id":1,"method":"echo","params":"a"}',
        '{"jsonrpc":"2.0","id":[1],"method":"echo"}',
        '{"jsonrpc":"2.0","id":1,"method":"echo","extra":true}',
        "[]",
    ]
    for text in bad:
        r = await answer(d, text)
        assert code(r) == INVALID_REQUEST, text


async def test_unknown_method_and_invalid_params() -> None:
    d, _ = make()
    r = await answer(d, '{"jsonrpc":"2.0","id":1,"method":"nope"}')
    assert code(r) == METHOD_NOT_FOUND and r["id"] == 1
    for params in ('{"b":1}', '{"a":1,"c":2}', "[1,2,3]"):
        r = await answer(d, f'{{"jsonrpc":"2.0","id":2,"method":"echo","params":{params}}}')
        assert code(r) == INVALID_PARAMS, params
        assert "echo" in r["error"]["message"]
    r = await answer(d, '{"jsonrpc":"2.0","id":3,"method":"refuse"}')
    assert code(r) == INVALID_PARAMS and "positive" in r["error"]["message"]


async def test_a_failing_method_is_an_internal_error_not_a_crash() -> None:
    d, _ = make()
    r = await answer(d, '{"jsonrpc":"2.0","id":9,"method":"boom"}')
    assert code(r) == INTERNAL_ERROR and "ZeroDivisionError" in r["error"]["message"]
    r = await answer(d, '{"jsonrpc":"2.0","id":10,"method":"echo","params":[1]}')
    assert r["result"] == {"a": 1}
    r = await answer(d, '{"jsonrpc":"2.0","id":11,"method":"nan"}')  # JSON has no NaN
    assert code(r) == INTERNAL_ERROR and r["id"] == 11 and "cannot be encoded" in r["error"]["message"]


async def test_notifications_are_run_but_never_answered() -> None:
    d, calls = make()
    assert await answer(d, '{"jsonrpc":"2.0","method":"echo","params":[5]}') is None
    assert await answer(d, '{"jsonrpc":"2.0","method":"nope"}') is None  # even its error
    assert calls == [{"a": 5}]


async def test_batches_answer_in_order_and_skip_notifications() -> None:
    d, calls = make()
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "echo", "params": [1]},
        {"jsonrpc": "2.0", "method": "echo", "params": [2]},
        {"jsonrpc": "2.0", "id": 3, "method": "nope"},
        7,
        {"jsonrpc": "2.0", "id": 5, "method": "free", "params": {"batch": 1}},
    ]
    r = await answer(d, json.dumps(batch))
    assert [x["id"] for x in r] == [1, 3, None, 5]
    assert r[0]["result"] == {"a": 1}
    assert code(r[1]) == METHOD_NOT_FOUND and code(r[2]) == INVALID_REQUEST
    assert r[3]["result"] == {"batch": 1}
    assert calls == [{"a": 1}, {"a": 2}, {"batch": 1}]  # in order
    only_notes = [{"jsonrpc": "2.0", "method": "echo", "params": [i]} for i in range(3)]
    assert await answer(d, json.dumps(only_notes)) is None


async def test_statistics_count_requests_and_errors() -> None:
    d, _ = make()
    await answer(d, '{"jsonrpc":"2.0","id":1,"method":"echo","params":[1]}')
    await answer(d, '{"jsonrpc":"2.0","id":2,"method":"nope"}')
    assert (d.requests, d.errors) == (2, 1)


def test_ctl_arguments_become_params() -> None:
    """``ctl`` arguments: one VALUE (a rule with options stays one), or key=value pairs (JSON values)."""
    assert build_params(["20ms"]) == ["20ms"]
    assert build_params(["slow: tasks_per_s < 5 severity=critical"]) == [
        "slow: tasks_per_s < 5 severity=critical"
    ]
    assert build_params(["batch=1", "spin=0"]) == {"batch": 1, "spin": 0}
    assert build_params(["kpi=backlog", "green=0.5"]) == {"kpi": "backlog", "green": 0.5}
    assert (
        build_params(['rule={"name": "x", "metric": "tasks_per_s", "op": ">", "value": 1}'])["rule"]["op"]
        == ">"
    )
    with pytest.raises(UsageError, match="either one VALUE or key=value"):
        build_params(["20ms", "x=1"])
    with pytest.raises(UsageError, match="given twice"):
        build_params(["a=1", "a=2"])


@pytest.mark.parametrize(
    "text",
    [
        '{"jsonrpc":"2.0","id":1e400,"method":"echo","params":[1]}',
        '{"jsonrpc":"2.0","id":NaN,"method":"echo","params":[1]}',
        '{"jsonrpc":"2.0","id":-Infinity,"method":"echo","params":[1]}',
        '{"jsonrpc":"2.0","id":1,"method":"echo","params":[NaN]}',
        '{"jsonrpc":"2.0","id":1,"method":"echo","params":{"a":Infinity}}',
        '{"jsonrpc":"2.0","id":1,"method":"echo","params":[-1e999]}',
        '{"jsonrpc":"2.0","id":1,"method":"echo","params":[' + "9" * 5000 + "]}",
        '[{"jsonrpc":"2.0","id":1,"method":"echo","params":[1]},{"jsonrpc":"2.0","id":2,"method":"echo","params":[NaN]}]',
    ],
)
async def test_non_finite_numbers_and_overflow_are_parse_errors_never_echoed(text: str) -> None:
    d, calls = make()
    raw = await d.handle_line(text)
    assert raw is not None
    reply = json.loads(raw, parse_constant=lambda c: pytest.fail(f"the answer carries {c}"))
    assert reply["id"] is None and code(reply) == PARSE_ERROR, reply
    assert calls == []  # nothing in the line was run


@pytest.mark.parametrize(
    ("rid", "echoed"),
    [
        ("7", 7),
        ('"x\\u0000\\ud800"', "x\x00\ud800"),
        ("123456789012345678901234567890", 123456789012345678901234567890),
        ("-0.5", -0.5),
        ("1.0", 1.0),
        ("null", None),
        ("1e2", None),  # would come back as 100.0: not the client's id
        ("0.10000000000000000001", None),
        ("-0", None),
    ],
)
async def test_ids_are_echoed_exactly_or_as_null(rid: str, echoed: Any) -> None:
    d, _ = make()
    raw = await d.handle_line('{"jsonrpc":"2.0","id":' + rid + ',"method":"echo","params":[1]}')
    assert raw is not None
    reply = json.loads(raw)
    assert reply["id"] == echoed and type(reply["id"]) is type(echoed)
    if echoed is None and rid != "null":
        assert code(reply) == INVALID_REQUEST and "exactly" in reply["error"]["message"]
    else:
        assert reply["result"] == {"a": 1}
        assert raw.decode().count(rid if rid != '"x\\u0000\\ud800"' else "x") >= 1


async def test_lone_surrogates_in_params_are_invalid_params() -> None:
    d, calls = make()
    for params in ('["\\ud800"]', '{"a":"ok","b":{"\\udc00":1}}', '[["x","\\udfff"]]'):
        reply = await answer(d, '{"jsonrpc":"2.0","id":1,"method":"echo","params":' + params + "}")
        assert code(reply) == INVALID_PARAMS and "surrogate" in reply["error"]["message"], reply
    assert calls == []


async def test_an_answer_that_cannot_be_encoded_is_strict_json_too() -> None:
    d, _ = make()
    raw = await d.handle_line('{"jsonrpc":"2.0","id":"n","method":"nan"}')
    assert raw is not None and b"NaN" not in raw
    assert code(json.loads(raw)) == INTERNAL_ERROR
