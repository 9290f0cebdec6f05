"""The dashboard's OS pane: each worker as the OS saw it in the last window.

One line per worker from the pool's last ``OsSample`` (``ops.os_view``): the
CPU (pinned or last seen), the run-queue wait share coloured like the heat-map
(a worker that waits a fifth of the window or more is the one to look at),
involuntary switches, migrations and page faults per second, and IPC when the
hardware counters are open. The ``os_interference`` anomalies that name a
worker appear in the alerts pane with their message.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.console import Group, RenderableType
from rich.text import Text

from ...events import OsSample
from .widgets import Cell, Column, Pane, fit_table, fit_words, fmt_si, heat_style


def _num(v: float | None, digits: int = 0) -> str:
    return "–" if v is None else f"{v:,.{digits}f}"


class OsPane(Pane):
    """Per worker: CPU, run-queue wait %, involuntary switches/s, migrations/s, page faults/s, IPC.

    Columns that do not fit the pane are dropped whole (IPC first, then page
    faults, migrations, switches): a row never wraps onto a second line.
    """

    def show(self, samples: Mapping[str, OsSample]) -> None:
        width = max(20, (self.size.width or 40) - 2)
        if self.unchanged((width, tuple((p, s.ts_ns) for p, s in samples.items()))):
            return
        if not samples:
            self.set(Text("no OS view yet", style="dim"), shape=0)
            return
        labels: list[str] = []
        cpu: list[Cell] = []
        wait: list[Cell] = []
        inv: list[float | None] = []
        mig: list[float | None] = []
        pf: list[float | None] = []
        ipc: list[Cell] = []
        for pool, s in samples.items():
            for i, w in enumerate(s.workers):
                labels.append(f"{pool[:4]} w{w}" if len(samples) > 1 else f"w{w}")
                cpu.append("–" if s.cpus[i] is None else f"{s.cpus[i]}{'*' if s.pinned[i] else ''}")
                v = s.wait_pct[i]
                wait.append((f"{_num(v)}%", heat_style(None if v is None else min(v / 50, 1.0))))
                inv.append(s.involuntary_cs_per_s[i])
                mig.append(s.migrations_per_s[i])
                pf.append(s.page_faults_per_s[i])
                ipc.append(_num(s.ipc[i], 2))
        columns = [
            Column("cpu", cpu, keep=9),
            Column("wait", wait, keep=8),
            Column("inv/s", [_num(v) for v in inv], [fmt_si(v) for v in inv], keep=7),
            Column("mig/s", [_num(v, 1) for v in mig], [fmt_si(v) for v in mig], keep=5),
            Column("pf/s", [_num(v) for v in pf], [fmt_si(v) for v in pf], keep=4),
            Column("ipc", ipc, keep=3),
        ]
        lines: list[RenderableType] = [*fit_table(width, labels, columns, label_header="worker", gap=1)]
        note = ["* pinned (--pin)", "wait: % of the window on the run queue"]
        lines.extend(Text(x, style="dim", no_wrap=True) for x in fit_words(note, width))
        self.set(Group(*lines), shape=(len(lines), width))
