"""kcoro-stream: live monitor and telemetry pipeline for the KCoro coroutine runtime.

Stages, in the order imports flow (docs/ARCHITECTURE.md has the whole package order)::

    ingest/    the shared-memory ring (cffi reader) and the trio ingester
    eventlog/  append-only segmented zstd log of raw frames
    sources/   source components: launch (bench, synthetic, --exec), attach, replay, legacy
    ops/       reactive operators in event time (rates, histograms, alerts, ...)
    sinks/     ndjson, csv, stdout, log, prometheus, websocket, tui, remote_write

``runloop.py`` drives any source through the log, the operators and the sinks;
``pipeline.py`` is the public API of pipeline files; ``cli.py`` parses flags.
``events.py`` (the schema) and ``errors.py`` (the exception tree) serve all.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
