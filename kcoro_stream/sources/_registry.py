"""Source registry: names → classes, and specs → configured sources.

A spec is a source's config struct (``LaunchConfig(mode="tasks")``, what a
pipeline file writes) or a dict ``{"source": NAME, **config_fields}``.
Built-in sources register themselves when their module is imported; the
modules are imported on first use, so a plain run loads only what it needs.
"""

from __future__ import annotations

import importlib
from typing import Any

import msgspec

from ..errors import UsageError
from ._base import Source, SourceContext

_REGISTRY: dict[str, type[Source]] = {}
BUILTIN_MODULES = ("launch", "attach", "replay", "legacy")


def register(cls: type[Source]) -> type[Source]:
    """Class decorator: make ``cls`` available under ``cls.name``."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"source name {cls.name!r} registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def _load_builtin() -> None:
    for mod in BUILTIN_MODULES:
        importlib.import_module(f"{__package__}.{mod}")


def source_names() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def source_class(name: str) -> type[Source]:
    _load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UsageError(f"unknown source {name!r} (known: {', '.join(sorted(_REGISTRY))})") from None


def source_for_config(config: msgspec.Struct) -> type[Source]:
    """The source class whose ``Config`` is ``type(config)``."""
    _load_builtin()
    for cls in _REGISTRY.values():
        if type(config) is cls.Config:
            return cls
    raise UsageError(f"{type(config).__name__} is not a source configuration")


def build_source(spec: msgspec.Struct | dict[str, Any], ctx: SourceContext) -> Source:
    """Instantiate a source from a config struct or a dict spec; errors name the source and field."""
    if isinstance(spec, dict):
        fields = dict(spec)
        name = fields.pop("source", None)
        if not isinstance(name, str):
            raise UsageError(f"source spec {spec!r}: missing 'source' name")
        cls = source_class(name)
        try:
            config = msgspec.convert(fields, cls.Config)
        except msgspec.ValidationError as e:
            raise UsageError(f"source {name!r}: {e}") from None
        return cls(config, ctx)
    return source_for_config(spec)(spec, ctx)
