"""The effective configuration put to work: analyses, the launch source, a run's flags, the record.

::

    Effective ─► analyses()        ops.default_analyses(**knobs)       ([window] [alerts] [kpi] ...)
              ─► launch_changes()  LaunchConfig fields + bench flags   ([run] [bench])
              ─► record_mark()     Mark(name="config", detail=JSON)    (logged first by runloop.run)

``plan_run`` is the one call ``kcoro-stream run`` and ``attach`` make, a pure
function of its inputs::

    CommandFlags (click's values, which were given) ─┐
    the pipeline file (its source, its analyses) ────┼─ plan_run ─► RunPlan(flags: the command's values with
    standard_layers() (files, --config; environment) ┘                       the configured ones filled in,
                                                                             derive, marks, effective)

The command reads its values from the plan (so the flag handling it always
had applies configured values unchanged); nothing is written into click's
keyword arguments or the pipeline. An error names the option and its origin
(file:line, env, flag).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import msgspec

from ..errors import DamagedLogError, UsageError
from ..events import Mark
from ._resolve import Effective, Layer, Value, check_servers, check_value, resolve, standard_layers
from ._schema import ANALYSIS_SECTIONS, KpiSection, LintsSection

__all__ = [
    "RECORD_MARK",
    "CommandFlags",
    "RunPlan",
    "analyses",
    "apply_to_replay",
    "bind_analyses",
    "build_analyses",
    "launch_changes",
    "plan_run",
    "record_mark",
    "recorded_config",
    "recorded_in",
]

RECORD_MARK = "config"
RECORD_FORMAT = 1

# default_analyses keyword → (section, key, to kwarg, from kwarg)
_ident: Callable[[Any], Any] = lambda v: v  # noqa: E731 - a table of conversions reads better
ANALYSIS_KWARGS: dict[str, tuple[str, str, Callable[[Any], Any], Callable[[Any], Any]]] = {
    "window_ms": ("window", "length", lambda s: s * 1000.0, lambda ms: ms / 1000.0),
    "smooth_n": ("window", "smooth", _ident, _ident),
    "ema_alpha": ("window", "ema_alpha", _ident, _ident),
    "idle_below": ("window", "idle_below", _ident, _ident),
    "monotonic": ("window", "monotonic", _ident, _ident),
    "cumulative_histograms": ("window", "cumulative_histograms", _ident, _ident),
    "latency_metrics": ("window", "latency_metrics", _ident, _ident),
    "rules": ("alerts", "rules", _ident, list),
    "backpressure_slope": ("backpressure", "slope", _ident, _ident),
    "backpressure_windows": ("backpressure", "windows", _ident, _ident),
    "outlier_metrics": ("outliers", "metrics", _ident, list),
    "outlier_window": ("outliers", "window", _ident, _ident),
    "z": ("outliers", "z", _ident, _ident),
    "mad": ("outliers", "mad", _ident, _ident),
    "outlier_min_ratio": ("outliers", "min_ratio", _ident, _ident),
}
KPI_KEYS = tuple(f.name for f in msgspec.structs.fields(KpiSection))
LINT_KEYS = tuple(f.name for f in msgspec.structs.fields(LintsSection))

# `run` parameters (click names) that are configuration keys
RUN_PARAMS: dict[str, tuple[str, str]] = {
    "mode": ("run", "mode"),
    "duration": ("run", "duration"),
    "interval": ("run", "interval"),
    "producer": ("run", "producer"),
    "outs": ("run", "out"),
    "sinks": ("run", "sink"),
    "prometheus": ("run", "prometheus"),
    "websocket": ("run", "websocket"),
    "remote_write": ("run", "remote_write"),
    "allow_remote": ("run", "allow_remote"),
    "tui": ("run", "tui"),
    "no_stdout": ("run", "no_stdout"),
    "legacy_json": ("run", "legacy_json"),
    "csv": ("run", "csv"),
    "log_dir": ("run", "log"),
    "no_log": ("run", "no_log"),
    "fsync": ("run", "fsync"),
}


def analysis_kwargs(eff: Effective) -> dict[str, Any]:
    """``ops.default_analyses`` keyword arguments from the analysis sections."""
    kw = {name: to(eff.get(sec, key)) for name, (sec, key, to, _) in ANALYSIS_KWARGS.items()}
    kw["kpi_thresholds"] = {k: tuple(eff.get("kpi", k)) for k in KPI_KEYS}
    kw["lints"] = {k: eff.get("lints", k) for k in LINT_KEYS}
    return kw


def build_analyses(eff: Effective) -> Any:
    """``ops.default_analyses`` built from ``eff``; a bad rule or KPI names its origin.

    The parts a configuration can get wrong are checked one option at a time first, so an
    error carries the option it concerns (its origin: file:line, env, flag), never found by
    reading the message."""
    from .. import ops
    from ..ops._smooth import check_alpha

    def checked(option: tuple[str, str], check: Callable[[], Any]) -> None:
        try:
            check()
        except UsageError as e:
            raise UsageError(f"{eff.origin(*option)}: {e}") from None

    checked(("alerts", "rules"), lambda: ops.parse_rules(eff.get("alerts", "rules")))
    for name in KPI_KEYS:
        pair = {name: tuple(eff.get("kpi", name))}
        checked(("kpi", name), lambda pair=pair: ops.kpi_thresholds(pair))  # type: ignore[misc]
    checked(("window", "ema_alpha"), lambda: check_alpha(eff.get("window", "ema_alpha"), 1))
    checked(("window", "smooth"), lambda: check_alpha(1.0, eff.get("window", "smooth")))
    try:
        full = ops.default_analyses(**analysis_kwargs(eff))
    except UsageError as e:
        raise UsageError(f"configuration: {e}") from None
    warmup = eff.get("summary", "warmup")
    return _summary_after_warmup(full, warmup, eff.get("window", "ema_alpha")) if warmup else full


def _summary_after_warmup(full: Any, warmup_s: float, ema_alpha: float) -> Any:
    """``full``'s output, its Summary replaced by one over the Samples whose window starts
    ``warmup_s`` or more after RunStarted (event time, so a replay cuts at the same place)::

        batches ─┬─ RunStarted.ts_ns + warm-up ─────────────────────────► boundary
                 └─ full ─┬─ everything but Summary ──────────────────────► out
                          └─ Samples starting at/after boundary ─ summary ─► out
    """
    import reactivex
    from reactivex import operators as rx

    from .. import ops
    from ..events import RunStarted, Sample, Summary

    warm_ns = int(warmup_s * 1e9)

    def derive(source: Any) -> Any:
        boundary: list[int] = []

        def watch(batch: list[Any]) -> None:  # subscribed before the analyses: sees each batch first
            for ev in batch:
                if isinstance(ev, RunStarted):
                    boundary[:] = [ev.ts_ns + warm_ns]

        def after(e: Any) -> bool:
            if not isinstance(e, Sample) or not boundary:
                return False
            # the span the window's differences cover: a field from derived schema 4, in
            # ``extra`` before it (read both, so this survives the schema change)
            span = getattr(e, "span_ns", 0) or (getattr(e, "extra", None) or {}).get("span_ns", 0)
            return bool(e.ts_ns - (span or e.window_ns) >= boundary[0])

        source.subscribe(on_next=watch)
        out = full(source).pipe(rx.share())
        return reactivex.merge(
            out.pipe(rx.filter(lambda e: not isinstance(e, Summary))),
            ops.summary(ema_alpha)(out.pipe(rx.filter(after))),
        )

    return derive


def analyses(**explicit: Any) -> Any:
    """``ops.default_analyses`` whose unset knobs come from the configuration.

    For pipeline files: ``derive=config.analyses(window_ms=250)``. What the file
    passes is the pipeline layer (above --config and the files, below the
    environment and flags); everything else comes from the resolved
    configuration of the run, which the run binds to it (``bind_analyses``: no
    module-global configuration), or, when the file is used outside the command
    line, from the default layers at the time it is wired.
    """
    unknown = set(explicit) - set(ANALYSIS_KWARGS) - {"kpi_thresholds"}
    if unknown:
        raise UsageError(f"config.analyses: unknown option {sorted(unknown)[0]!r}")
    layer = _explicit_layer(explicit, "pipeline")

    def derive(source: Any) -> Any:
        low, high = standard_layers()
        return build_analyses(resolve([*low, layer, *high]))(source)

    derive.config_layer = layer  # type: ignore[attr-defined]  # read by plan_run, bind_analyses
    return derive


def bind_analyses(derive: Any, eff: Effective) -> Any:
    """``derive`` bound to a run's resolved configuration: a ``config.analyses(...)`` of a pipeline
    file takes what it leaves open from ``eff`` (what it sets stays, unless the environment or a
    flag set it above the pipeline); any other ``derive`` is returned as it is."""
    layer: Layer | None = getattr(derive, "config_layer", None)
    if layer is None:
        return derive
    pipeline = {k: v for k, v in layer.values.items() if not _above_pipeline(eff.values[k[0]][k[1]])}
    bound_eff = resolve([Layer("current", _flatten(eff)), Layer("pipeline", pipeline)])

    def bound(source: Any) -> Any:
        return build_analyses(bound_eff)(source)

    bound.config_layer = layer  # type: ignore[attr-defined]
    return bound


def _above_pipeline(v: Value) -> bool:
    return v.origin.startswith(("env ", "flag "))


def _flatten(eff: Effective) -> dict[tuple[str, str], Value]:
    return {(s, k): v for s, body in eff.values.items() for k, v in body.items()}


def _explicit_layer(explicit: Mapping[str, Any], origin: str) -> Layer:
    layer = Layer(origin)
    for name, value in explicit.items():
        if name == "kpi_thresholds":
            for k, pair in (value or {}).items():
                if k in KPI_KEYS:
                    green, yellow = (pair["green"], pair["yellow"]) if isinstance(pair, Mapping) else pair
                    layer.values[("kpi", k)] = Value([float(green), float(yellow)], origin)
            continue
        sec, key, _, back = ANALYSIS_KWARGS[name]
        if value is None and name in ("backpressure_slope", "backpressure_windows"):
            continue
        layer.values[(sec, key)] = Value(check_value(sec, key, back(value), origin), origin)
    return layer


def launch_changes(eff: Effective) -> dict[str, Any]:
    """LaunchConfig fields from [run] and [bench] (``args``: the bench flags that are set)."""
    out: dict[str, Any] = {
        "mode": eff.get("run", "mode"),
        "duration_s": eff.get("run", "duration"),
        "interval_ms": eff.get("run", "interval") * 1000.0,
        "producer": eff.get("run", "producer"),
    }
    if eff.get("bench", "workers") is not None:
        out["workers"] = eff.get("bench", "workers")
    out["args"] = bench_args(eff, skip=("workers",)) if out["producer"] == "bench" else []
    return out


def bench_args(eff: Effective, skip: tuple[str, ...] = ()) -> list[str]:
    """Benchmark flags for the [bench] keys that are set (not at the built-in default)."""
    args: list[str] = []
    for key, v in eff.values["bench"].items():
        if key in skip or v.origin == "default" or v.value is None:
            continue
        flag = "--" + key.replace("_", "-")
        if isinstance(v.value, bool):
            if v.value:
                args.append(flag)
        else:
            args += [flag, str(v.value)]
    return args


def record_mark(eff: Effective, **context: Any) -> Mark:
    """The effective configuration, with origins, as the Mark a run logs first."""
    body = {"format": RECORD_FORMAT, "config": eff.to_builtins(), **context}
    return Mark(time.monotonic_ns(), 0, name=RECORD_MARK, detail=json.dumps(body, sort_keys=True))


def recorded_config(run_dir: Path) -> dict[str, Any] | None:
    """The configuration a run recorded (its first ``config`` Mark), or None."""
    return _recorded(run_dir)[0]


def _recorded(run_dir: Path) -> tuple[dict[str, Any] | None, str | None]:
    """(the recorded configuration, None) — or (None, the damage that may have taken it with it)."""
    from ..eventlog import open_log
    from ..events import decode_frame

    try:
        reader = open_log(run_dir)
    except Exception:  # an unreadable log is the replay's error to report, not ours
        return None, None
    for n, frame in enumerate(reader.frames(None, None)):
        if n > 64:
            break
        try:
            events = decode_frame(frame.payload)
        except (msgspec.DecodeError, msgspec.ValidationError):
            continue
        found = recorded_in(events)
        if found is not None:
            return found, None
    damage = reader.damage()
    return None, (str(damage[0]) if damage else None)


def recorded_in(events: list[Any]) -> dict[str, Any] | None:
    """The body of the first ``config`` Mark among ``events`` (``record_mark``'s), or None."""
    for ev in events:
        if isinstance(ev, Mark) and ev.name == RECORD_MARK:
            try:
                body = json.loads(ev.detail)
            except ValueError:
                return None
            return body if isinstance(body, dict) else None
    return None


# ------------------------------------------------------------------ the command line


@dataclass(frozen=True)
class CommandFlags:
    """A command's flags as click parsed them: every keyword value, and the names the user gave
    (on the command line, or through an environment variable click reads); the rest are defaults."""

    values: Mapping[str, Any]
    given: frozenset[str] = frozenset()

    @classmethod
    def from_click(cls, ctx: Any, kw: Mapping[str, Any]) -> CommandFlags:
        from click.core import ParameterSource

        by_user = (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
        given = frozenset(n for n in kw if ctx.get_parameter_source(n) in by_user)
        return cls(MappingProxyType(dict(kw)), given)


@dataclass(frozen=True)
class RunPlan:
    """What a live run does, resolved (``plan_run``)."""

    flags: Mapping[str, Any]  # the command's values, each configured one filled in where no flag set it
    derive: Any  # the analyses: the configuration's, or the pipeline file's bound to it
    marks: tuple[Mark, ...]  # logged first: the effective configuration with origins
    effective: Effective


def _flag_layer(flags: CommandFlags) -> Layer:
    """Values given on the command line (click's parameter source), as the top layer."""
    from ._schema import BenchSection

    bench_keys = {f.name for f in msgspec.structs.fields(BenchSection)}
    layer = Layer("flags")
    for name, value in flags.values.items():
        if name not in flags.given:
            continue
        if name in RUN_PARAMS:
            sec, key = RUN_PARAMS[name]
        elif name in bench_keys:
            sec, key = "bench", name
        else:
            continue
        if isinstance(value, tuple):
            value = list(value)
        if isinstance(value, Path):
            value = str(value)
        flag = "--" + name.replace("_", "-").replace("outs", "out").replace("sinks", "sink")
        if name == "log_dir":
            flag = "--log"
        if name == "tui" and value is False:
            flag = "--no-tui"
        try:
            layer.values[(sec, key)] = Value(check_value(sec, key, value, flag), f"flag {flag}")
        except UsageError:
            continue  # the command checks its own flags, with the messages it always gave
    return layer


def _pipeline_layer(p: Any, pipeline_file: Path | str | None) -> Layer:
    """What the pipeline file sets explicitly: its source's non-default fields, its analyses' options."""
    from ..sources import LaunchConfig

    origin = f"pipeline {pipeline_file}"
    layer = Layer(origin)
    if pipeline_file is None:
        return layer
    src = p.source
    if isinstance(src, LaunchConfig):
        base = LaunchConfig()
        pairs = (
            ("mode", ("run", "mode"), lambda v: v),
            ("duration_s", ("run", "duration"), lambda v: v),
            ("interval_ms", ("run", "interval"), lambda v: v / 1000.0),
            ("workers", ("bench", "workers"), lambda v: v),
        )
        for field_name, (sec, key), conv in pairs:
            v = getattr(src, field_name)
            if v != getattr(base, field_name):
                layer.values[(sec, key)] = Value(conv(v), origin)
        if src.producer in ("bench", "synthetic") and src.producer != base.producer:
            layer.values[("run", "producer")] = Value(src.producer, origin)
    explicit = getattr(p.derive, "config_layer", None)
    if isinstance(explicit, Layer):
        for k, v in explicit.values.items():
            layer.values[k] = Value(v.value, origin)
    return layer


def _filled(eff: Effective, flags: Mapping[str, Any]) -> dict[str, Any]:
    """``flags`` with the values from files and the environment in the command's spelling (a flag
    given, or a pipeline's or built-in default, leaves the command's own value)."""
    kw = dict(flags)
    for name, (sec, key) in RUN_PARAMS.items():
        v = eff.values[sec][key]
        if name not in kw or v.origin.startswith(("flag ", "pipeline ", "default")):
            continue
        value = v.value
        if key in ("duration", "interval"):
            value = None if value is None else repr(float(value))
        elif key in ("out", "sink", "remote_write"):
            value = tuple(value)
        elif key == "log":
            value = None if value is None else Path(value)
        kw[name] = value
    if kw.get("exec_"):
        return kw  # --exec runs the user's program: [bench] is the bundled benchmark's, not its
    producer = eff.get("run", "producer")
    extra: list[str] = []
    for key, v in eff.values["bench"].items():
        if v.origin.startswith(("flag ", "pipeline ", "default")):
            continue
        if key in kw:
            kw[key] = v.value
        elif producer == "bench" and key != "workers":
            extra += bench_args(Effective({"bench": {key: v}}))
    if extra:
        kw["bench_args"] = (*extra, *kw.get("bench_args", ()))
    return kw


def plan_run(
    flags: CommandFlags,
    p: Any,
    pipeline_file: Path | str | None,
    layers: tuple[list[Layer], list[Layer]],
) -> RunPlan:
    """``kcoro-stream run``/``attach`` resolved: ``layers`` (``standard_layers``: below and above the
    pipeline file) around the pipeline ``p`` and the command's ``flags``. Reads and changes nothing
    else; without a pipeline file the analyses come from the configuration."""
    low, high = layers
    eff = resolve([*low, _pipeline_layer(p, pipeline_file), *high, _flag_layer(flags)])
    check_servers(eff)
    derive = p.derive
    if pipeline_file is None:
        derive = build_analyses(eff)
    elif getattr(derive, "config_layer", None) is not None:
        derive = bind_analyses(derive, eff)
        build_analyses(eff)  # validate before anything starts
    mark = record_mark(eff, pipeline=None if pipeline_file is None else str(pipeline_file))
    derive = p.analyses(derive)  # the file's declared metrics and events (kcoro_stream.analysis) after it
    return RunPlan(MappingProxyType(_filled(eff, flags.values)), derive, (mark,), eff)


def apply_to_replay(
    kw: Mapping[str, Any], p: Any, pipeline_file: Path | str | None, log: Path
) -> tuple[Any, str]:
    """Analyses for ``replay``: the recording's configuration unless --config or a pipeline says otherwise.

    Returns (the analyses to derive with, the one line saying which configuration the replay
    used); the pipeline ``p`` is read, never changed (``None`` without a pipeline file).
    """
    config_path = kw.get("config_path")
    recorded, lost = _recorded(log) if log.is_dir() else (None, None)
    if lost is not None and not kw.get("allow_damaged"):
        raise DamagedLogError(
            f"{log}: the recorded configuration was lost with a damaged block ({lost}); "
            "--allow-damaged replays with the current configuration's analyses instead"
        )
    if recorded is not None and isinstance(recorded.get("config"), dict):
        base = Effective.from_builtins(
            {s: b for s, b in recorded["config"].items() if s in ANALYSIS_SECTIONS},
            prefix=f"recorded {log}: ",
        )
        low, high = standard_layers(config_path, files=False)
        layers = [base, *low, _pipeline_layer(p, pipeline_file), *high]
        said = f"analyses from the configuration recorded in {log}"
        over = [f"--config {config_path}"] if config_path is not None else []
        over += sorted(
            {v.origin for layer in high for (sec, _), v in layer.values.items() if sec in ANALYSIS_SECTIONS}
        )
        if over:
            said += f", overridden by {', '.join(over)}"
    else:
        low, high = standard_layers(config_path)
        layers = [*low, _pipeline_layer(p, pipeline_file), *high]
        said = (
            f"the configuration recorded in {log} was lost with a damaged block: "
            "analyses from the current configuration"
            if lost is not None
            else f"{log} recorded no configuration: analyses from the current configuration"
        )
    eff = resolve(layers)
    derive = None if p is None else p.derive
    if pipeline_file is None:
        derive = build_analyses(eff)
        live_pipeline = (recorded or {}).get("pipeline")
        if live_pipeline:
            said += f" (the live run used {live_pipeline}; pass it to replay through it)"
    else:
        said = f"analyses from pipeline {pipeline_file}" + (
            " with the recorded configuration for what it leaves open"
            if getattr(derive, "config_layer", None) is not None and recorded
            else ""
        )
        if getattr(derive, "config_layer", None) is not None:
            derive = bind_analyses(derive, eff)
            build_analyses(eff)
        derive = p.analyses(derive)  # the file's declared metrics and events (kcoro_stream.analysis) after it
    return derive, said


def recorded_analyses(run_dir: Path, *, allow_damaged: bool = False) -> Any:
    """The analyses a recorded run used (its recorded configuration; the current files and
    environment for what it left open, as ``replay RUN`` does), ready to derive."""
    return apply_to_replay({"allow_damaged": allow_damaged}, None, None, run_dir)[0]
