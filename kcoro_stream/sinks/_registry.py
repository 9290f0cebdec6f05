"""Sink registry: names → classes, and parsing of CLI sink specs.

Every sink is found through the ``kcoro_stream.sinks`` entry-point group —
kcoro-stream's own (the file sinks here, the surfaces in ``surfaces/``) and a
third party's alike (docs/sinks.md, "A sink of your own")::

    [project.entry-points."kcoro_stream.sinks"]
    ndjson = "kcoro_stream.sinks.ndjson:NdjsonSink"
    tui = "kcoro_stream.surfaces.tui:TuiSink"

A name's module is imported when a run asks for that name, so a headless run
never imports the dashboard, the page or the exporters (nor needs their
extras installed). ``register`` adds a class directly (a pipeline file's own
sink, tests).

Spec strings (``--sink``/pipeline ``sinks=[...]``)::

    stdout                      ndjson:PATH        csv:PATH
    prometheus:HOST:PORT        websocket:HOST:PORT     tui

A dict spec is ``{"sink": NAME, **config_fields}``. Each sink class declares
``parse_arg(arg) -> dict`` to turn the part after the first ``:`` into config
fields.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any

import msgspec

from ..errors import UsageError
from ._base import Sink, SinkContext

ENTRY_POINT_GROUP = "kcoro_stream.sinks"

_REGISTRY: dict[str, type[Sink]] = {}


def register(cls: type[Sink]) -> type[Sink]:
    """Class decorator: make ``cls`` available under ``cls.name``."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"sink name {cls.name!r} registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def _entry_points() -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in found and found[ep.name].value != ep.value:
            raise UsageError(
                f"sink {ep.name!r} is installed twice ({found[ep.name].value} and {ep.value}): "
                "uninstall one of the packages"
            )
        found[ep.name] = ep
    if "ndjson" not in found and "ndjson" not in _REGISTRY:
        # kcoro-stream's own sinks come from its install metadata: none means an install
        # older than this code (an editable install made before a sink moved)
        raise UsageError(
            f"no sinks registered (entry points {ENTRY_POINT_GROUP!r}): reinstall kcoro-stream "
            "(make setup, or pip install -e . in a checkout)"
        )
    return found


def sink_names() -> list[str]:
    """Every sink name, installed (entry points) or registered; imports none of them."""
    return sorted(set(_entry_points()) | set(_REGISTRY))


def sink_class(name: str) -> type[Sink]:
    """The class registered as ``name``, its module imported on first use.

    A surface whose extra is not installed raises ``MissingExtra`` (one line
    naming the extra) from its module."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    eps = _entry_points()
    if name not in eps:
        raise UsageError(f"unknown sink {name!r} (known: {', '.join(sorted(set(eps) | set(_REGISTRY)))})")
    cls = eps[name].load()
    if not (isinstance(cls, type) and issubclass(cls, Sink)) or cls.name != name:
        raise UsageError(f"sink {name!r}: entry point {eps[name].value!r} is not a Sink named {name!r}")
    return register(cls)


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
