"""Sinks: where derived events go (one sink per module, registered by name)."""

from ._base import Controller, Policy, Sink, SinkContext, SinkStatistics
from ._registry import build_sink, parse_spec, register, sink_class, sink_names

__all__ = [
    "Controller",
    "Policy",
    "Sink",
    "SinkContext",
    "SinkStatistics",
    "build_sink",
    "parse_spec",
    "register",
    "sink_class",
    "sink_names",
]
