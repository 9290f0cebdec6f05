"""Which sinks a run gets (kcoro_stream.commands._sinks.choose_sinks), without click or a terminal."""

from __future__ import annotations

import pytest

from kcoro_stream.commands._sinks import OutputFlags, choose_sinks
from kcoro_stream.errors import UsageError


def test_piped_stdout_is_ndjson_and_a_terminal_gets_the_dashboard() -> None:
    assert choose_sinks(["stdout"], OutputFlags(), stdout_is_tty=False) == ["stdout"]
    assert choose_sinks(["stdout"], OutputFlags(), stdout_is_tty=True) == ["tui"]
    assert choose_sinks(["stdout"], OutputFlags(tui=False), stdout_is_tty=True) == ["stdout"]
    assert choose_sinks(["stdout"], OutputFlags(headless=True, tui=True), stdout_is_tty=True) == ["stdout"]
    assert choose_sinks(["stdout"], OutputFlags(tui=True), stdout_is_tty=False) == ["tui"]


def test_a_file_output_takes_the_place_of_stdout_unless_stdout_asks_for_both() -> None:
    out = OutputFlags(outs=("a.ndjson.zst", "b.csv"))
    assert choose_sinks(["stdout"], out, stdout_is_tty=False) == [
        {"sink": "ndjson", "path": "a.ndjson.zst"},
        {"sink": "csv", "path": "b.csv"},
    ]
    both = OutputFlags(outs=("a.ndjson",), stdout=True)
    assert choose_sinks([], both, stdout_is_tty=False) == ["stdout", {"sink": "ndjson", "path": "a.ndjson"}]
    legacy_file = OutputFlags(legacy_json="old.ndjson")
    assert choose_sinks(["stdout"], legacy_file, stdout_is_tty=False) == [
        {"sink": "ndjson", "path": "old.ndjson", "legacy": True}
    ]


def test_legacy_json_to_stdout_replaces_the_ndjson_stdout() -> None:
    f = OutputFlags(legacy_json="-")
    assert choose_sinks(["stdout"], f, stdout_is_tty=False) == [{"sink": "stdout", "legacy": True}]


def test_only_sinks_drops_the_pipeline_files_sinks() -> None:
    f = OutputFlags(only_sinks=True, sinks=("csv:x.csv",))
    assert choose_sinks(["stdout", "ndjson:y.ndjson"], f, stdout_is_tty=False) == ["csv:x.csv"]


def test_surfaces_and_remote_write() -> None:
    f = OutputFlags(
        prometheus="127.0.0.1:9464",
        websocket="0.0.0.0:8765",
        allow_remote=True,
        allowed_hosts=("box",),
        remote_write=("http://h/api/v1/write",),
        stdout=False,
    )
    assert choose_sinks([], f, stdout_is_tty=False) == [
        {
            "sink": "prometheus",
            "host": "127.0.0.1",
            "port": 9464,
            "allow_remote": True,
            "allowed_hosts": ["box"],
        },
        {
            "sink": "websocket",
            "host": "0.0.0.0",
            "port": 8765,
            "allow_remote": True,
            "allowed_hosts": ["box"],
        },
        {"sink": "remote_write", "url": "http://h/api/v1/write"},
    ]


def test_tui_without_the_dashboard_in_this_build() -> None:
    assert choose_sinks(["stdout"], OutputFlags(), stdout_is_tty=True, tui_available=lambda: False) == [
        "stdout"
    ]
    with pytest.raises(UsageError, match=r"^--tui: the terminal dashboard is not available"):
        choose_sinks(["stdout"], OutputFlags(tui=True), stdout_is_tty=False, tui_available=lambda: False)


def test_flags_come_from_a_commands_keyword_arguments() -> None:
    kw = {"outs": ("a.csv",), "sinks": (), "stdout": None, "tui": None, "force": True, "fsync": "never"}
    assert OutputFlags.from_kw(kw) == OutputFlags(outs=("a.csv",))
