"""``run``, ``attach`` and ``replay``: a source, the pipeline's analyses and the chosen sinks, through
the run loop (``runloop.run``) under trio, or hosted by the terminal dashboard."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from ..errors import MissingExtra, UsageError
from ..knobs import MAX_WORKERS, MODES
from ._common import CONTEXT, allow_damaged_option, duration, pipeline_or_default, speed
from ._options import (
    IntIn,
    bench_args,
    bench_options,
    config_option,
    control_options,
    max_delay_option,
    sink_options,
)
from ._sinks import OutputFlags, choose_sinks, wants_tui


def build_options(p: Any, kw: Mapping[str, Any], **more: Any) -> Any:
    """The run loop's options: the sinks ``choose_sinks`` picks for this terminal, ``--force``, and ``more``."""
    from ..runloop import RunOptions

    flags = OutputFlags.from_kw(kw)
    specs = choose_sinks(
        p.sinks, flags, stdout_is_tty=sys.stdout.isatty(), tui_available=lambda: _dashboard_loads(flags.tui)
    )
    return RunOptions(sinks=specs, force=kw["force"], declarations=p.declarations(), **more)


def max_delay(value: str | None) -> float | None:
    """``--max-delay``: seconds, at most the ingester's idle check (stall and loss are seen within it)."""
    from ..runloop import MAX_DELAY_HEADLESS_S

    got = duration(value, "--max-delay")
    if got is not None and got > MAX_DELAY_HEADLESS_S:
        raise UsageError(f"--max-delay: at most {MAX_DELAY_HEADLESS_S * 1000:g}ms, got {value}")
    return got


def _dashboard_loads(asked: bool | None) -> bool:
    """Whether the dashboard's sink loads. Without the [tui] extra, ``--tui`` is that one-line error;
    a terminal says so in one line and the run goes on headless."""
    from ..sinks import sink_class

    try:
        sink_class("tui")
    except MissingExtra as e:
        if asked:  # by name: nothing to fall back to
            raise
        click.echo(f"kcoro-stream: {e}; running headless", err=True)
        return False
    return True


def drive(derive: Any, source: Any, opts: Any, exit_on_end: bool = False) -> int:
    """The run loop under trio, or with the dashboard hosting trio as a guest when a tui sink is used."""
    import dataclasses

    import trio

    from ..runloop import RunResult, result_of, run

    if not wants_tui(opts.sinks):
        return trio.run(run, derive, source, opts).exit_code
    from ..surfaces.tui import run_tui

    ended: list[RunResult] = []  # the run's result, once it has one (the dashboard returns its code)

    async def main(handle: Any) -> int:
        try:
            result = await run(derive, source, dataclasses.replace(opts, dashboard=handle))
        except BaseException as e:  # left with q, or failed: its run directory is still worth a line
            ended.extend([r] if (r := result_of(e)) is not None else [])
            raise
        ended.append(result)
        handle.finish(end_lines(result, totals=False))
        return result.exit_code

    code = run_tui(main, title=f"kcoro-stream {' '.join(sys.argv[1:])}", hold=_hold_screen(exit_on_end))
    for line in end_lines(ended[0]) if ended else []:  # the screen is gone: leave them on the terminal
        click.echo(line)
    return int(code)


def _hold_screen(exit_on_end: bool) -> bool:
    """Keep the dashboard's last frame until q: only for a person at a terminal (not CI, not scripts)."""
    return not exit_on_end and sys.stdin.isatty() and sys.stdout.isatty() and not os.environ.get("CI")


def end_lines(result: Any, *, totals: bool = True) -> list[str]:
    """The summary per pool (peak, average, EMA; the ``--no-tui`` text) and the run directory
    (a ``RunResult``'s): shown on the held screen (without the raw totals) and printed after it."""
    from ..surfaces.tui import summary_lines  # only called when the dashboard ran

    lines = summary_lines(result.summaries, totals=totals)
    if result.run_dir is not None:
        lines.append(f"run directory: {result.run_dir}")
    return lines


class ExecCommand(click.Command):
    """``run ... --exec -- PROGRAM ARGS...``: everything after ``--`` is the program's."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            i = args.index("--")
            ctx.meta["exec_command"] = args[i + 1 :]
            args = args[:i]
        return super().parse_args(ctx, args)


@click.command(cls=ExecCommand, context_settings=CONTEXT)
@click.argument("pipeline", required=False)
@click.option(
    "--exec",
    "exec_",
    is_flag=True,
    help="Launch the program given after -- instead of the benchmark; '{ring}' in its "
    "arguments (and $KCORO_STREAM_RING) is the ring path.",
)
@click.option("-d", "--duration", help="Run for this long (3, 2.5s, 250ms); default: until Ctrl-C.")
@click.option("-m", "--mode", type=click.Choice(MODES), help="Benchmark workload [channel].")
@click.option("--interval", help="Sampling interval [10ms].")
@click.option("--producer", type=click.Choice(["bench", "synthetic"]), help="Which producer to launch.")
@click.option("--workers", type=IntIn(1, MAX_WORKERS), help="Worker threads per pool [online CPUs].")
@bench_options
@click.option(
    "--bench-arg", "bench_args", multiple=True, metavar="ARG", help="Extra producer flag (repeatable)."
)
@click.option("-H", "--headless", is_flag=True, help="Old monitor: no UI, export only (--no-tui).")
@click.option(
    "--log", "log_dir", type=click.Path(path_type=Path), help="Event log directory (default runs/<id>)."
)
@click.option("--no-log", is_flag=True, help="Do not record an event log.")
@control_options
@max_delay_option
@config_option
@click.option(
    "--fsync",
    type=click.Choice(["never", "flush", "always"]),
    default="never",
    show_default=True,
    help="fsync the log: never (a crash of this process loses nothing flushed), flush, always.",
)
@sink_options
@click.pass_context
def run(ctx: click.Context, pipeline: str | None, **kw: Any) -> int:
    """Run live: launch the benchmark (or any program with --exec), record, derive, fan out.

    PIPELINE is a pipeline file, or the name of a shipped one (`kcoro-stream
    pipelines` lists them); without it, the default pipeline.
    """
    from ..config import CommandFlags, plan_run, standard_layers
    from ..pipeline import AttachConfig, launch_config

    command: list[str] = ctx.meta.get("exec_command", [])
    if command and not kw["exec_"]:
        raise UsageError("arguments after -- are a program to launch: add --exec")
    if kw["exec_"] and not command:
        raise UsageError("--exec: give the program after --, e.g. run --exec -- ./my_bench --ring '{ring}'")
    if kw["exec_"]:  # the flags given, before the configuration fills in its values
        given = [*bench_args(kw)[:1], *(f"--{k}" for k in ("mode", "workers") if kw[k] is not None)]
        if given:
            raise UsageError(f"{given[0]}: a flag of the bundled benchmark, not of an --exec program")
    p = pipeline_or_default(pipeline)
    plan = plan_run(CommandFlags.from_click(ctx, kw), p, pipeline, standard_layers(kw["config_path"]))
    f = plan.flags  # the flags with the configured values filled in
    knobs = [] if f["exec_"] else bench_args(f)  # [bench] is the bundled benchmark's
    opts = build_options(
        p, f, log_dir=f["log_dir"], no_log=f["no_log"], fsync=f["fsync"], marks=list(plan.marks),
        control=f["control_path"], no_control=f["no_control"],
        max_delay_s=max_delay(f["max_delay"]),
    )  # fmt: skip
    if isinstance(p.source, AttachConfig):
        return drive(plan.derive, p.source, opts, f["exit_on_end"])
    interval = duration(f["interval"], "--interval")
    source = launch_config(
        p,
        mode=f["mode"],
        duration_s=duration(f["duration"], "--duration"),
        interval_ms=None if interval is None else interval * 1000,
        producer=f["producer"],
        workers=f["workers"],
        args=knobs + list(f["bench_args"]),
        command=command,
    )
    return drive(plan.derive, source, opts, f["exit_on_end"])


@click.command(context_settings=CONTEXT)
@click.argument("ring", type=click.Path(path_type=Path))
@click.argument("pipeline", required=False)
@click.option(
    "--log", "log_dir", type=click.Path(path_type=Path), help="Event log directory (default runs/<id>)."
)
@click.option("--no-log", is_flag=True, help="Do not record an event log.")
@control_options
@max_delay_option
@config_option
@sink_options
@click.pass_context
def attach(ctx: click.Context, ring: Path, pipeline: str | None, **kw: Any) -> int:
    """Read a ring that another runtime created (RING is its path).

    PIPELINE: a file or a shipped pipeline's name; default: the default pipeline.
    """
    from ..config import CommandFlags, plan_run, standard_layers
    from ..pipeline import AttachConfig

    p = pipeline_or_default(pipeline)
    plan = plan_run(CommandFlags.from_click(ctx, kw), p, pipeline, standard_layers(kw["config_path"]))
    f = plan.flags  # the flags with the configured values filled in
    opts = build_options(
        p, f, log_dir=f["log_dir"], no_log=f["no_log"], marks=list(plan.marks),
        control=f["control_path"], no_control=f["no_control"],
        max_delay_s=max_delay(f["max_delay"]),
    )  # fmt: skip
    return drive(plan.derive, AttachConfig(path=str(ring)), opts, f["exit_on_end"])


@click.command(context_settings=CONTEXT)
@click.argument("paths", nargs=-1, required=True, metavar="PATH... [PIPELINE]")
@click.option("--from", "from_", metavar="T", help="Start T after the recording's first event (e.g. 2s).")
@click.option("--to", metavar="T", help="Stop T after the recording's first event.")
@click.option(
    "--speed", "speed_", default="max", show_default=True, help="Playback speed: max, 1x, 10x, 0.5x."
)
@click.option(
    "--jobs",
    type=int,
    default=None,
    help="Several runs: replay N at once, one process each [default: the cores].",
)
@click.option(
    "--out-dir",
    type=click.Path(path_type=Path),
    help="Several runs: one NDJSON file per run in DIR (instead of one output in run order).",
)
@allow_damaged_option
@config_option
@sink_options
def replay(paths: tuple[str, ...], **kw: Any) -> int:
    """Replay recorded runs (or old kcoro_mon NDJSON files) through a pipeline.

    PATH: a run directory, an old kcoro_mon file, or a runs/results directory (every run in it).
    PIPELINE (last, optional): a .py file or a shipped pipeline's name; default: the default pipeline.
    Several runs are replayed in parallel (--jobs) into one NDJSON output in sorted run order
    (stdout or --out FILE), or one file per run (--out-dir).
    """
    from ..replays import is_run_dir

    logs, pipeline = _split_paths(paths)
    one = len(logs) == 1 and (logs[0].is_file() or is_run_dir(logs[0]) or not logs[0].exists())
    if one and kw["out_dir"] is None:
        return _replay_one(logs[0], pipeline, kw)
    return _replay_many(logs, pipeline, kw)


def _split_paths(paths: tuple[str, ...]) -> tuple[list[Path], str | None]:
    """The last of several arguments is the pipeline unless it is an existing directory or non-.py file."""
    if len(paths) > 1:
        last = Path(paths[-1])
        if not last.is_dir() and not (last.is_file() and last.suffix != ".py"):
            return [Path(p) for p in paths[:-1]], paths[-1]
    return [Path(p) for p in paths], None


def _replay_many(logs: list[Path], pipeline: str | None, kw: dict[str, Any]) -> int:
    """Several runs: ``replays.replay_many`` (no dashboard, no pacing, NDJSON only)."""
    import os

    from ..replays import ReplayJob, replay_many, runs_of
    from ..sources.replay import check_bounds

    if kw.get("tui"):
        raise UsageError("--tui: one run at a time (several runs are replayed in parallel, at full speed)")
    if speed(kw["speed_"]) is not None:  # a bad --speed is that error first, as for one run
        raise UsageError("--speed: one run at a time (several runs are replayed at full speed)")
    other = [
        f"--{k.replace('_', '-')}"
        for k in ("sinks", "legacy_json", "csv", "prometheus", "websocket", "remote_write")
        if kw.get(k)
    ]
    outs = list(kw["outs"])
    if other or len(outs) > 1 or (outs and kw["out_dir"] is not None):
        raise UsageError(
            f"{(other or ['--out'])[0]}: with several runs, give one --out FILE (.ndjson, .gz, .zst) or --out-dir DIR"
        )
    if outs and ".csv" in Path(outs[0]).name:
        raise UsageError(f"--out {outs[0]}: with several runs the output is NDJSON (.ndjson, .gz, .zst)")
    runs = runs_of(logs)
    job = ReplayJob(
        pipeline=pipeline,
        allow_damaged=kw["allow_damaged"],
        config_path=str(kw["config_path"]) if kw.get("config_path") else None,
        from_s=duration(kw["from_"], "--from"),
        to_s=duration(kw["to"], "--to"),
    )
    check_bounds(job.from_s, job.to_s)
    pipeline_or_default(pipeline)  # a broken pipeline file: one line now, not once per run
    jobs = kw["jobs"] if kw["jobs"] is not None else (os.cpu_count() or 1)
    click.echo(
        f"replay: {len(runs)} runs through {pipeline or 'the default pipeline'}, {jobs} at once", err=True
    )
    return replay_many(
        runs, job, jobs=jobs, out=outs[0] if outs else None, out_dir=kw["out_dir"], force=kw["force"]
    )


def _replay_one(log: Path, pipeline: str | None, kw: dict[str, Any]) -> int:
    from ..config import apply_to_replay
    from ..pipeline import LegacyConfig, ReplayConfig
    from ..sources.replay import check_bounds

    if not log.exists():
        raise UsageError(f"{log}: no such run directory or file")
    p = pipeline_or_default(pipeline)
    derive, said = apply_to_replay(kw, p, pipeline, log)
    opts = build_options(p, kw)
    if log.is_file():  # old kcoro_mon lines: no configuration
        return drive(derive, LegacyConfig(path=str(log)), opts, kw["exit_on_end"])
    source = ReplayConfig(
        path=str(log),
        from_s=duration(kw["from_"], "--from"),
        to_s=duration(kw["to"], "--to"),
        speed=speed(kw["speed_"]),
        progress=True,
        allow_damaged=kw["allow_damaged"],
    )
    check_bounds(source.from_s, source.to_s)
    if said:
        click.echo(f"replay: {said}", err=True)
    return drive(derive, source, opts, kw["exit_on_end"])
