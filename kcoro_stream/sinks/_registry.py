"""Sink registry: names → classes, and parsing of CLI sink specs.

Spec strings (``--sink``/pipeline ``sinks=[...]``)::

    stdout                      ndjson:PATH        csv:PATH
    prometheus:HOST:PORT        websocket:HOST:PORT     tui

A dict spec is ``{"sink": NAME, **config_fields}``. Each sink class declares
``parse_arg(arg) -> dict`` to turn the part after the first ``:`` into config
fields.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ..errors import UsageError
from ._base import Sink, SinkContext

_REGISTRY: dict[str, type[Sink]] = {}


def register(cls: type[Sink]) -> type[Sink]:
    """Class decorator: make ``cls`` available under ``cls.name``."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"sink name {cls.name!r} registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def sink_names() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def sink_class(name: str) -> type[Sink]:
    _load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UsageError(f"unknown sink {name!r} (known: {', '.join(sorted(_REGISTRY))})") from None


def parse_spec(spec: str | dict[str, Any]) -> tuple[type[Sink], dict[str, Any]]:
    """Turn ``"ndjson:out.zst"`` or ``{"sink": "ndjson", "path": ...}`` into (class, fields)."""
    if isinstance(spec, dict):
        fields = dict(spec)
        name = fields.pop("sink", None)
        if not isinstance(name, str):
            raise UsageError(f"sink spec {spec!r}: missing 'sink' name")
        return sink_class(name), fields
    name, _, arg = spec.partition(":")
    cls = sink_class(name)
    parse = getattr(cls, "parse_arg", None)
    if arg and parse is None:
        raise UsageError(f"sink {name!r} takes no argument (got {arg!r})")
    return cls, (parse(arg) if arg and parse else {})


def build_sink(spec: str | dict[str, Any], ctx: SinkContext) -> Sink:
    """Instantiate a sink from a spec; config errors name the sink and field."""
    cls, fields = parse_spec(spec)
    try:
        config = msgspec.convert(fields, cls.Config)
    except msgspec.ValidationError as e:
        raise UsageError(f"sink {cls.name!r}: {e}") from None
    return cls(config, ctx)


def _load_builtin() -> None:
    # Importing the package registers the built-in sinks (one module each).
    from . import _builtin  # noqa: F401
