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
from .widgets import Pane, heat_style


def _num(v: float | None, digits: int = 0) -> str:
    return "–" if v is None else f"{v:,.{digits}f}"


class OsPane(Pane):
    """Per worker: CPU, run-queue wait %, involuntary switches/s, migrations/s, page faults/s, IPC."""

    def show(self, samples: Mapping[str, OsSample]) -> None:
        if self.unchanged(tuple((p, s.ts_ns) for p, s in samples.items())):
            return
        if not samples:
            self.set(Text("no OS view yet", style="dim"), shape=0)
            return
        lines: list[RenderableType] = [Text("worker cpu   wait  inv/s  mig/s  pf/s  ipc", style="dim")]
        for pool, s in samples.items():
            for i, w in enumerate(s.workers):
                cpu = "–" if s.cpus[i] is None else f"{s.cpus[i]}{'*' if s.pinned[i] else ''}"
                who = f"{pool[:4]} w{w}" if len(samples) > 1 else f"w{w}"
                wait = s.wait_pct[i]
                line = Text(f"{who:<6} {cpu:<4} ")
                line.append(
                    f"{_num(wait):>4}%", style=heat_style(None if wait is None else min(wait / 50, 1.0))
                )
                line.append(
                    f" {_num(s.involuntary_cs_per_s[i]):>6} {_num(s.migrations_per_s[i], 1):>6}"
                    f" {_num(s.page_faults_per_s[i]):>5} {_num(s.ipc[i], 2):>4}"
                )
                lines.append(line)
        lines.append(Text("* pinned (--pin) · wait: % of the window on the run queue", style="dim"))
        self.set(Group(*lines), shape=len(lines))
