"""Reports: headless charts (PNG and SVG), a Markdown summary and one offline HTML page.

::

    RUN_DIR | RESULTS ... ─► _inputs (replay each run's log in-process; results' per-repeat values)
                               └─► _charts (matplotlib, Agg) ─► _pages (summary.md, report.html) ─► DIR

Reads run and results directories only (contract 9); matplotlib is imported
when a chart is drawn, never by a plain ``run``.
"""

from ._build import ReportResult, build_report
from ._charts import Chart, draw_all
from ._inputs import Inputs, RunData, load_inputs, replay_run
from ._pages import to_html, to_markdown

__all__ = [
    "Chart",
    "Inputs",
    "ReportResult",
    "RunData",
    "build_report",
    "draw_all",
    "load_inputs",
    "replay_run",
    "to_html",
    "to_markdown",
]
