"""Pipeline files: the public API a pipeline file uses, and loading one.

A pipeline file is plain Python that defines ``pipeline``::

    from kcoro_stream import ops
    from kcoro_stream.pipeline import BenchSource, Pipeline

    pipeline = Pipeline(
        source=BenchSource(mode="tasks", interval_ms=10),
        derive=ops.default_analyses(window_ms=250),
        sinks=["stdout"],
    )

``source`` is a source's config struct (``LaunchConfig`` — alias
``BenchSource`` —, ``AttachConfig`` — alias ``AttachSource`` —,
``ReplayConfig``, ``LegacyConfig``) or a dict ``{"source": NAME, ...}``;
``derive`` one reactivex operator; ``sinks`` sink specs; ``metrics`` and
``events`` the metrics and event types the file declares with
``kcoro_stream.analysis`` (docs/analyses.md), added after ``derive``. Command-line flags
override the source's parameters and the sinks. The run itself is
``kcoro_stream.runloop.run`` (``RunOptions`` in, a ``RunResult`` back).

Pipelines shipped with kcoro-stream (the top-level ``pipelines/`` folder, also
packaged) are found by name: ``resolve_pipeline("latency")``; a path is a path.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from ._shipped import first_doc_line, shipped_files
from .analysis._declare import EventType, Metric, declarations, declared_kpi
from .errors import KcoroStreamError, PipelineError, UsageError
from .events import Meta
from .runloop import Derive, RunOptions, RunResult
from .sources import AttachConfig, LaunchConfig, LegacyConfig, ReplayConfig, source_for_config

# The names pipeline files have always used.
BenchSource = LaunchConfig
AttachSource = AttachConfig

__all__ = [
    "AttachConfig",
    "AttachSource",
    "BenchSource",
    "Derive",
    "LaunchConfig",
    "LegacyConfig",
    "Pipeline",
    "ReplayConfig",
    "RunOptions",
    "RunResult",
    "launch_config",
    "load_pipeline",
    "replay_events",
    "resolve_pipeline",
    "shipped_pipelines",
]

DEFAULT_PIPELINE = "default"


@dataclass
class Pipeline:
    """source → derive (one reactivex operator) → sinks."""

    source: msgspec.Struct | dict[str, Any] | None = None
    derive: Derive | None = None
    sinks: list[str | dict[str, Any]] = field(default_factory=lambda: ["stdout"])
    metrics: list[Metric] = field(default_factory=list)
    events: list[EventType] = field(default_factory=list)
    # alert rules run after the declarations: they may name a declared metric (``declared.NAME``)
    rules: list[Any] = field(default_factory=list)
    # KPI bars for declared metrics: name → (green, yellow), judged in the declared direction
    kpi: dict[str, Any] = field(default_factory=dict)
    name: str = ""  # what the ``meta`` line calls it (load_pipeline: the file's stem)
    _kpi: dict[str, tuple[float, float]] = field(default_factory=dict, init=False, repr=False)  # kpi, checked

    def __post_init__(self) -> None:
        s = self.source
        if s is not None and not isinstance(s, dict):
            if not isinstance(s, msgspec.Struct):
                raise PipelineError(
                    f"Pipeline(source=...): expected a source config such as BenchSource(...) "
                    f"or AttachSource(path=...), got {s!r}"
                )
            source_for_config(s)  # a UsageError naming the type if it is no source's config
        if self.derive is not None and not callable(self.derive):
            raise PipelineError(
                f"Pipeline(derive=...): expected an operator (a callable), got {type(self.derive).__name__}"
            )
        if not isinstance(self.sinks, list):
            raise PipelineError(f"Pipeline(sinks=...): expected a list of sink specs, got {self.sinks!r}")
        for key, kind in (("metrics", Metric), ("events", EventType)):
            got = getattr(self, key)
            if not isinstance(got, list | tuple) or not all(isinstance(x, kind) for x in got):
                raise PipelineError(
                    f"Pipeline({key}=...): expected a list of kcoro_stream.analysis.{key[:-1]}(...) "
                    f"declarations, got {got!r}"
                )
        self.declarations()  # a name declared twice fails here, where the file says Pipeline(...)
        self._kpi = declared_kpi(self.kpi, list(self.metrics))
        if self.rules:
            from .ops import parse_rules

            try:
                parse_rules(self.rules, [m.name for m in self.metrics])
            except UsageError as e:
                raise PipelineError(f"Pipeline(rules=...): {e}") from None

    def declarations(self) -> Meta | None:
        """The ``meta`` line of what this pipeline declares (None: nothing)."""
        if not self.metrics and not self.events:
            return None
        return declarations(self.name or "pipeline", list(self.metrics), list(self.events))

    def analyses(self, derive: Derive | None) -> Derive | None:
        """``derive`` (the pipeline's, bound to the run's configuration) followed by its declarations."""
        if derive is None or (not self.metrics and not self.events and not self.rules):
            return derive
        from . import ops

        stages = [derive, ops.declared(self.metrics, self.events, kpi=self._kpi)]
        if self.rules:
            names = [m.name for m in self.metrics]
            stages.append(ops.fan(ops.passthrough(), ops.alerts(self.rules, names, live=False)))
        return ops.compose(*stages)


def launch_config(
    p: Pipeline,
    *,
    mode: str | None = None,
    duration_s: float | None = None,
    interval_ms: float | None = None,
    producer: str | None = None,
    workers: int | None = None,
    args: list[str] | None = None,
    command: list[str] | None = None,
) -> LaunchConfig:
    """The pipeline's launch source with command-line overrides applied (flags win)."""
    base = p.source if isinstance(p.source, LaunchConfig) else LaunchConfig()
    changes: dict[str, Any] = {
        k: v
        for k, v in (
            ("mode", mode),
            ("duration_s", duration_s),
            ("interval_ms", interval_ms),
            ("producer", producer),
            ("workers", workers),
        )
        if v is not None
    }
    if args:
        changes["args"] = [*base.args, *args]
    if command:
        changes["producer"] = "exec"
        changes["command"] = list(command)
    return msgspec.structs.replace(base, **changes)


def load_pipeline(path: Path) -> Pipeline:
    """Execute a pipeline file; errors name ``file:line``."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as e:
        raise PipelineError(f"{path}: cannot read pipeline file: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        line = path.read_bytes()[: e.start].count(b"\n") + 1
        raise PipelineError(
            f"{path}:{line}: not UTF-8 text (byte {e.start}): a pipeline file is Python source"
        ) from None
    try:
        code = compile(text, str(path), "exec")
    except SyntaxError as e:
        raise PipelineError(f"{path}:{e.lineno}: syntax error: {e.msg}") from None
    except ValueError as e:  # e.g. NUL bytes
        raise PipelineError(f"{path}: not a Python source file: {e}") from None
    ns: dict[str, Any] = {"__file__": str(path), "__name__": "__kcoro_pipeline__"}
    try:
        exec(code, ns)
    except KcoroStreamError as e:
        raise PipelineError(f"{path}:{_lineno_in(path, e)}: {e}") from None
    except SystemExit as e:
        raise PipelineError(
            f"{path}:{_lineno_in(path, e)}: the pipeline file called sys.exit({e.code!r})"
        ) from None
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # any other error of the user's code is theirs to fix, in one line
        raise PipelineError(f"{path}:{_lineno_in(path, e)}: {type(e).__name__}: {e}") from None
    p = ns.get("pipeline")
    if not isinstance(p, Pipeline):
        raise PipelineError(f"{path}: defines no `pipeline = Pipeline(...)`")
    if not p.name:
        p.name = path.stem
    return p


def _lineno_in(path: Path, exc: BaseException) -> int:
    line = 0
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == str(path):
            line = frame.lineno or 0
    return line


def replay_events(log: str | Path, pipeline: str | Path | None = None) -> list[Any]:
    """Every derived event of ``log`` (a run directory, or an old kcoro_mon NDJSON file) replayed
    through ``pipeline`` (a file or shipped name; None: the default), in this process, no sinks: the
    same events ``kcoro-stream replay LOG PIPELINE`` writes (less its ``meta`` line). The harness for
    testing a pipeline's own metrics and events over a recording (docs/analyses.md)."""
    from .config import apply_to_replay
    from .runloop import FrameRouter, replay_derived
    from .sources.legacy import iter_legacy_batches

    path = Path(log)
    if not path.exists():
        raise UsageError(f"{path}: no such run directory or file")
    file = resolve_pipeline(pipeline)
    derive = apply_to_replay({}, load_pipeline(file), file, path)[0]
    if path.is_dir():
        return replay_derived(path, derive=derive)
    router = FrameRouter(derive, [], None)
    for batch in iter_legacy_batches(path):
        router.push(batch)
    router.subject.on_completed()
    return list(router.outbox)


def shipped_pipelines() -> dict[str, tuple[Path, str]]:
    """The pipelines kcoro-stream ships: name → (file, first line of its docstring)."""
    return {name: (path, first_doc_line(path)) for name, path in shipped_files("pipelines").items()}


def resolve_pipeline(spec: str | Path | None) -> Path:
    """A pipeline argument → its file.

    None is the shipped default pipeline; an existing file, or anything that looks
    like a path (has a ``/`` or ends in ``.py``), is a path; anything else is the
    name of a shipped pipeline (``latency`` → ``pipelines/latency.py``).
    """
    name = DEFAULT_PIPELINE if spec is None else str(spec)
    if spec is not None and (Path(name).exists() or "/" in name or name.endswith(".py")):
        return Path(name)
    shipped = shipped_files("pipelines")
    if name in shipped:
        return shipped[name]
    known = ", ".join(shipped) or "none: this installation ships no pipelines/"
    raise UsageError(f"{name}: no such pipeline file or shipped pipeline (shipped: {known})")
