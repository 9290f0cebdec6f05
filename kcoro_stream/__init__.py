"""kcoro-stream: live monitor and telemetry pipeline for the KCoro coroutine runtime.

Stages, in the order imports flow (docs/ARCHITECTURE.md has the whole package order)::

    ingest/    the shared-memory ring (cffi reader) and the trio ingester
    eventlog/  append-only segmented zstd log of raw frames
    sources/   source components: launch (bench, synthetic, --exec), attach, replay, legacy
    ops/       reactive operators in event time (rates, histograms, alerts, ...)
    sinks/     the sink contract and runners; ndjson, csv, stdout, log
    surfaces/  sinks that show a run: prometheus, websocket (+ the page), tui, remote_write

``runloop.py`` drives any source through the log, the operators and the sinks;
``pipeline.py`` is the public API of pipeline files; ``commands/`` parse flags and
``cli.py`` turns errors into exit codes.
``events.py`` (the schema) and ``errors.py`` (the exception tree) serve all.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
