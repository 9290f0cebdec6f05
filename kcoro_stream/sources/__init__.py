"""Sources: where a run's frames come from (one source per module, registered by name).

* ``launch`` — create a ring and start a producer on it: the bundled benchmark
  (``python -m kcoro_stream.sources.bench``), the scripted test producer
  (``python -m kcoro_stream.sources.synthetic``) or any program (``run --exec``);
* ``attach`` — a ring another runtime created;
* ``replay`` — a recorded run directory (the event log);
* ``legacy`` — an old kcoro_mon NDJSON recording, converted at the edge.

Each is a config struct, a runtime class and a registry name, like a sink;
the run loop (``kcoro_stream.runloop``) drives any of them.
"""

from ._base import Controller, Frames, Source, SourceContext, SourceOutcome
from ._registry import build_source, register, source_class, source_for_config, source_names
from .attach import AttachConfig, AttachSource
from .launch import RING_ENV, LaunchConfig, LaunchSource, RingController
from .legacy import LegacyConfig, LegacySource
from .replay import PlaybackController, PlaybackSource, ReplayConfig, ReplaySource

__all__ = [
    "RING_ENV",
    "AttachConfig",
    "AttachSource",
    "Controller",
    "Frames",
    "LaunchConfig",
    "LaunchSource",
    "LegacyConfig",
    "LegacySource",
    "PlaybackController",
    "PlaybackSource",
    "ReplayConfig",
    "ReplaySource",
    "RingController",
    "Source",
    "SourceContext",
    "SourceOutcome",
    "build_source",
    "register",
    "source_class",
    "source_for_config",
    "source_names",
]
