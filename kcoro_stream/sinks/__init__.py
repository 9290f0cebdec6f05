"""Sinks: where derived events go (one sink per module, registered by name)."""

from ._base import Controller, Dashboard, Policy, RpcHandler, Sink, SinkContext, SinkStatistics
from ._output import open_output
from ._registry import build_sink, parse_spec, register, sink_class, sink_names
from ._runner import SinkRunner, open_sinks

__all__ = [
    "Controller",
    "Dashboard",
    "Policy",
    "RpcHandler",
    "Sink",
    "SinkContext",
    "SinkRunner",
    "SinkStatistics",
    "build_sink",
    "open_output",
    "open_sinks",
    "parse_spec",
    "register",
    "sink_class",
    "sink_names",
]
