"""Trace export: a recorded run as a trace-viewer file (``kcoro-stream export chrome``).

::

    RUN_DIR ─► replay (recorded analyses) + raw frames ─► Chrome trace-event JSON ─► OUT
                                                       (ui.perfetto.dev, chrome://tracing)

Reads run directories only (contract 9: re-runs nothing); written whole or
not at all. The format and the track layout are in docs/trace.md.
"""

from ._chrome import MONITOR_PID, MONITOR_THREADS, TraceResult, chrome_trace, export_chrome

__all__ = ["MONITOR_PID", "MONITOR_THREADS", "TraceResult", "chrome_trace", "export_chrome"]
