"""``report PATHS --out DIR``: inputs → charts → pages, written whole or not at all.

The files are made in a hidden sibling directory and renamed into place at
the end, so an existing DIR is never half overwritten (it is refused unless
``force``; with ``force`` it is replaced).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import KcoroStreamError, UsageError
from ._charts import Chart, draw_all
from ._inputs import load_inputs
from ._pages import to_html, to_markdown

__all__ = ["ReportResult", "build_report"]


@dataclass
class ReportResult:
    out: Path
    charts: list[Chart]
    runs: int


def build_report(
    paths: list[Path], out: Path, *, force: bool = False, allow_damaged: bool = False
) -> ReportResult:
    if not paths:
        raise UsageError("report: give at least one run or results directory")
    if out.exists() and not force:
        raise KcoroStreamError(f"--out {out}: exists (use --force to replace it)")
    inp = load_inputs(paths, allow_damaged=allow_damaged)
    if not inp.runs:
        raise UsageError(f"{', '.join(map(str, paths))}: no run that ended ok to report")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        charts = draw_all(inp, tmp)
        (tmp / "summary.md").write_text(to_markdown(inp, charts), encoding="utf-8")
        (tmp / "report.html").write_text(to_html(inp, charts), encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    charts = [Chart(c.name, c.title, out / c.png.name, out / c.svg.name) for c in charts]
    return ReportResult(out, charts, len(inp.runs))
