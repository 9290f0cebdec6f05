"""``report PATHS --out DIR``: inputs → charts → pages, written whole or not at all.

The files are made in a hidden sibling directory and renamed into place at
the end, so an existing DIR is never half overwritten (it is refused unless
``force``; with ``force`` it is replaced).
"""

from __future__ import annotations

import os
import shutil
import stat
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
    paths: list[Path],
    out: Path,
    *,
    force: bool = False,
    allow_damaged: bool = False,
    pipeline: Path | None = None,
) -> ReportResult:
    if not paths:
        raise UsageError("report: give at least one run or results directory")
    _check_out(out, force)
    inp = load_inputs(paths, allow_damaged=allow_damaged, pipeline=pipeline)
    if not inp.runs:
        raise UsageError(f"{', '.join(map(str, paths))}: no run that ended ok to report")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except OSError as e:
        raise UsageError(f"--out {out}: cannot write in {out.parent} ({e.strerror or e})") from None
    try:
        charts = draw_all(inp, tmp)
        (tmp / "summary.md").write_text(to_markdown(inp, charts), encoding="utf-8")
        (tmp / "report.html").write_text(to_html(inp, charts), encoding="utf-8")
        _check_out(out, force)  # again: what appeared meanwhile is not replaced either
        if out.is_dir():
            shutil.rmtree(out)
        tmp.rename(out)
    except OSError as e:  # a full disk, a directory that went away: one line, nothing left behind
        shutil.rmtree(tmp, ignore_errors=True)
        raise KcoroStreamError(f"--out {out}: cannot write the report ({e.strerror or e})") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    charts = [Chart(c.name, c.title, out / c.png.name, out / c.svg.name) for c in charts]
    return ReportResult(out, charts, len(inp.runs))


def _check_out(out: Path, force: bool) -> None:
    """A report is a directory of its own: a symlink, a file, a FIFO or a device there is refused
    (exit 2, even with --force: never followed, never replaced); an existing report needs --force."""
    try:
        st = os.lstat(out)
    except FileNotFoundError:
        return
    except OSError as e:
        raise UsageError(f"--out {out}: {e.strerror or e}") from None
    if stat.S_ISLNK(st.st_mode):
        raise UsageError(f"--out {out}: a symbolic link; a report is written to a directory of its own")
    if not stat.S_ISDIR(st.st_mode):
        raise UsageError(
            f"--out {out}: exists and is not a directory; a report is a directory (not replaced)"
        )
    if not force:
        raise KcoroStreamError(f"--out {out}: exists (use --force to replace it)")
