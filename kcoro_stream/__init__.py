"""kcoro-stream: live monitor and telemetry pipeline for the KCoro coroutine runtime.

Stages, in data-flow order (imports flow the same way; pipeline.py wires them)::

    sources/   the shared-memory ring (cffi reader), old kcoro_mon recordings
    ingest/    trio ingester: ring → event log + operators
    eventlog/  append-only segmented zstd log of raw frames; replay
    ops/       reactive operators in event time (rates, histograms, alerts, ...)
    sinks/     ndjson, csv, stdout, prometheus, websocket, tui, log

``events.py`` (the schema) and ``errors.py`` (the exception tree) serve all.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
