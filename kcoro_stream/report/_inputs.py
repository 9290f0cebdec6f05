"""What a report is drawn from: run directories replayed in-process, results directories' indexes.

::

    RUN_DIR ──replay_run──► RunData(label, derived events by type)      (the log → the recorded analyses)
    RESULTS ──load_results──► every run's RunData + per step/variant repeat values (compare._results)

Replaying is the only way to read a run's derived data (contract 9: a report
re-runs nothing): ``runloop.replay_derived`` puts the raw frames through the
analyses the run recorded, synchronously, with no sinks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..compare._results import INDEX, Results, load_results, repeat_values
from ..errors import DamagedLogError, KcoroStreamError, UsageError
from ..events import (
    Alert,
    Anomaly,
    Heatmap,
    HistogramSummary,
    MarkEvent,
    OsSample,
    Sample,
    Summary,
)

__all__ = ["Inputs", "RunData", "load_inputs", "replay_run"]


@dataclass
class RunData:
    label: str
    path: Path
    samples: list[Sample] = field(default_factory=list)
    histograms: list[HistogramSummary] = field(default_factory=list)
    heatmaps: list[Heatmap] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    marks: list[MarkEvent] = field(default_factory=list)
    summaries: list[Summary] = field(default_factory=list)
    os: list[OsSample] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)
    t0_ns: int = 0
    group: str = ""  # the facet a chart draws this run in: its step and variant ("" = its own label)

    def cpus(self, pool: str) -> dict[int, int]:
        """worker → the CPU it was pinned to / last ran on, from the pool's last OsSample."""
        last = next((o for o in reversed(self.os) if o.pool == pool), None)
        if last is None:
            return {}
        return {w: c for w, c in zip(last.workers, last.cpus, strict=True) if c is not None}

    def t(self, ts_ns: int) -> float:
        """Seconds since the run's first derived event."""
        return (ts_ns - self.t0_ns) / 1e9

    @property
    def mode(self) -> str:
        return self.samples[0].mode if self.samples else (self.summaries[0].mode if self.summaries else "?")


@dataclass
class Inputs:
    runs: list[RunData] = field(default_factory=list)
    results: list[tuple[Results, dict[tuple[str, str], dict[str, list[float]]]]] = field(default_factory=list)


def replay_run(
    run_dir: Path, label: str, *, allow_damaged: bool = False, pipeline: Path | None = None
) -> RunData:
    """``run_dir``'s log through its recorded analyses (or ``pipeline``'s, with its declared metrics, the
    recorded configuration filling what it leaves open), in this process; the derived events kept by type."""
    data = RunData(label, run_dir)
    kinds: dict[type, list[Any]] = {
        Sample: data.samples,
        HistogramSummary: data.histograms,
        Heatmap: data.heatmaps,
        Alert: data.alerts,
        MarkEvent: data.marks,
        Summary: data.summaries,
        OsSample: data.os,
        Anomaly: data.anomalies,
    }
    from ..runloop import replay_derived

    derive = None
    if pipeline is not None:
        from ..config import apply_to_replay
        from ..pipeline import load_pipeline

        derive = apply_to_replay(
            {"allow_damaged": allow_damaged}, load_pipeline(pipeline), pipeline, run_dir
        )[0]
    for ev in replay_derived(run_dir, allow_damaged=allow_damaged, derive=derive):
        bucket = kinds.get(type(ev))
        if bucket is not None:
            bucket.append(ev)
    firsts = [x[0].ts_ns for x in (data.samples, data.marks) if x]
    data.t0_ns = min(firsts) if firsts else 0
    return data


def _run_label(r: Any, *, repeat: bool = True) -> str:
    return " ".join(
        x
        for x in (
            r.step,
            *(f"{k}={v}" for k, v in r.params.items()),
            r.variant,
            f"r{r.repeat}" if repeat else "",
        )
        if x
    )


def load_inputs(paths: list[Path], *, allow_damaged: bool = False, pipeline: Path | None = None) -> Inputs:
    """Each path a run directory or a results directory (every ok run of it is replayed, through
    ``pipeline`` when given)."""
    out = Inputs()
    for path in paths:
        if not path.exists():
            raise UsageError(f"{path}: no such run or results directory")
        try:
            if (path / INDEX).is_file() or path.name == INDEX:
                res = load_results(path)
                out.results.append((res, repeat_values(res)))
                for r in res.runs:
                    if r.state == "ok":
                        run = replay_run(
                            r.dir,
                            f"{res.name}: {_run_label(r)}",
                            allow_damaged=allow_damaged,
                            pipeline=pipeline,
                        )
                        run.group = f"{res.name}: {_run_label(r, repeat=False)}"
                        out.runs.append(run)
            else:
                out.runs.append(replay_run(path, path.name, allow_damaged=allow_damaged, pipeline=pipeline))
        except (UsageError, DamagedLogError):
            raise
        except KcoroStreamError as e:
            raise UsageError(f"{path}: {e}") from None
    return out
