"""The ``kcoro-stream`` command line.

Every KcoroStreamError becomes one red line on stderr and its exit code;
anything else is a bug and says so in one line (``KCORO_STREAM_DEBUG=1`` shows
the traceback). Old kcoro_mon flags (-P -C -N -c -k -s -m -j -H -d) work on
``run``.
"""

from __future__ import annotations

import inspect
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import trio

from .errors import KcoroStreamError, UsageError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _fail(msg: str, code: int) -> None:
    click.secho(f"kcoro-stream: {msg}", fg="red", err=True)
    sys.exit(code)


def _first_error(e: BaseException) -> BaseException:
    """The most telling error inside (possibly nested) exception groups."""
    if isinstance(e, BaseExceptionGroup):
        inner = [_first_error(x) for x in e.exceptions]
        for x in inner:
            if isinstance(x, KcoroStreamError):
                return x
        for x in inner:
            if not isinstance(x, KeyboardInterrupt | trio.Cancelled):
                return x
        return inner[0]
    return e


def _execute(call: Callable[[], int]) -> None:
    """Run ``call``; every error becomes one line and an exit code."""
    try:
        code = call()
    except BaseException as e:  # the one place errors become exit codes
        err = _first_error(e)
        if isinstance(err, KcoroStreamError):
            _fail(str(err), err.exit_code)
        if isinstance(err, KeyboardInterrupt):
            _fail("interrupted", 130)
        if isinstance(err, SystemExit):
            raise err from None
        if os.environ.get("KCORO_STREAM_DEBUG"):
            raise
        _fail(f"internal error: {type(err).__name__}: {err} (set KCORO_STREAM_DEBUG=1 for a traceback)", 70)
    sys.exit(code)


def _wants_tui(specs: list[Any]) -> bool:
    return any(s == "tui" or (isinstance(s, dict) and s.get("sink") == "tui") for s in specs)


def _run(derive: Any, source: Any, opts: Any) -> None:
    """The run loop under trio, or with the dashboard hosting trio as a guest when a tui sink is used."""
    from .runloop import run

    if not _wants_tui(opts.sinks):
        _execute(lambda: trio.run(run, derive, source, opts))
        return
    from .sinks.tui import run_tui

    async def main(handle: Any) -> int:
        opts.sink_extra["tui"] = handle
        return await run(derive, source, opts)

    _execute(lambda: run_tui(main, title=f"kcoro-stream {' '.join(sys.argv[1:])}"))


def _guard(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except KcoroStreamError as e:
        _fail(str(e), e.exit_code)


def _duration(value: str | None, flag: str) -> float | None:
    """'3', '3s', '250ms', '2m' → seconds (finite, not negative); errors name ``flag``."""
    if value is None:
        return None
    v = value.strip().lower()
    scale = 1.0
    for suffix, mul in (("ms", 1e-3), ("s", 1.0), ("m", 60.0), ("h", 3600.0)):
        if v.endswith(suffix):
            v, scale = v[: -len(suffix)], mul
            break
    try:
        out = float(v) * scale
    except ValueError:
        raise UsageError(f"{flag}: bad duration {value!r} (examples: 3, 2.5s, 250ms, 1m)") from None
    if not math.isfinite(out) or out < 0:
        raise UsageError(f"{flag}: bad duration {value!r}: must be a finite time, not negative")
    return out


SPEED_MIN, SPEED_MAX = 0.01, 10_000.0


def _speed(value: str) -> float | None:
    v = value.strip().lower()
    if v == "max":
        return None
    try:
        out = float(v[:-1] if v.endswith("x") else v)
    except ValueError:
        raise UsageError(f"--speed: expected 'max' or a factor like 1x or 10x, got {value!r}") from None
    if not (SPEED_MIN <= out <= SPEED_MAX):  # also false for nan
        raise UsageError(
            f"--speed: must be between {SPEED_MIN:g}x and {SPEED_MAX:g}x (or max), got {value!r}"
        )
    return out


def _out_sink(path: str, legacy: bool = False) -> dict[str, Any]:
    kind = "csv" if path.endswith((".csv", ".csv.gz", ".csv.zst")) else "ndjson"
    spec: dict[str, Any] = {"sink": kind, "path": path}
    if legacy:
        spec["legacy"] = True
    return spec


def _surface_sinks(prometheus: str | None, websocket: str | None, allow_remote: bool) -> list[Any]:
    extra: list[Any] = []
    for name, addr in (("prometheus", prometheus), ("websocket", websocket)):
        if addr:
            host, _, port = addr.rpartition(":")
            spec: dict[str, Any] = {"sink": name, "host": host or "127.0.0.1"}
            try:
                spec["port"] = int(port)
            except ValueError:
                raise UsageError(f"--{name}: expected HOST:PORT, got {addr!r}") from None
            if allow_remote:
                spec["allow_remote"] = True
            extra.append(spec)
    return extra


def _apply_stdout_choice(specs: list[Any], tui: bool | None) -> list[Any]:
    """stdout sink: NDJSON when piped; the dashboard when a terminal (unless --no-tui)."""
    use_tui = tui if tui is not None else sys.stdout.isatty()
    if not use_tui:
        return [s for s in specs if s != "tui"]
    from .sinks import sink_names

    if "tui" not in sink_names():
        if tui:
            raise UsageError("--tui: the terminal dashboard is not available in this build")
        return specs
    out = ["tui" if s == "stdout" else s for s in specs]
    return out if "tui" in out else [*out, "tui"]


def _sink_options(f: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--out",
            "-o",
            "outs",
            multiple=True,
            metavar="PATH",
            help="Also write derived events to PATH (.ndjson/.csv, + .gz/.zst).",
        ),
        click.option(
            "--sink",
            "sinks",
            multiple=True,
            metavar="SPEC",
            help="Add a sink: stdout, ndjson:PATH, csv:PATH, prometheus:H:P, websocket:H:P, tui.",
        ),
        click.option("--only-sinks", is_flag=True, help="Use only --out/--sink sinks, not the file's."),
        click.option("--no-stdout", is_flag=True, help="Drop the stdout sink."),
        click.option(
            "--legacy-json",
            "legacy_json",
            metavar="PATH",
            help="Write old kcoro_mon NDJSON field names to PATH (- for stdout).",
        ),
        click.option(
            "--prometheus", metavar="HOST:PORT", help="Serve /metrics (127.0.0.1 unless --allow-remote)."
        ),
        click.option("--websocket", metavar="HOST:PORT", help="Serve the browser dashboard and /ws."),
        click.option("--allow-remote", is_flag=True, help="Allow servers to bind non-loopback addresses."),
        click.option(
            "--tui/--no-tui", default=None, help="Terminal dashboard (default: when stdout is a TTY)."
        ),
        click.option("--force", is_flag=True, help="Overwrite existing output files."),
    ]
    for opt in reversed(options):
        f = opt(f)
    return f


def _build_options(p: Any, kw: dict[str, Any]) -> Any:
    from .runloop import RunOptions

    specs: list[Any] = [] if kw["only_sinks"] else list(p.sinks)
    if kw["no_stdout"]:
        specs = [s for s in specs if s != "stdout"]
    specs += [_out_sink(o) for o in kw["outs"]]
    specs += list(kw["sinks"])
    legacy = kw.get("legacy_json")
    if legacy == "-":
        specs = [s for s in specs if s != "stdout"] + [{"sink": "stdout", "legacy": True}]
    elif legacy:
        specs.append(_out_sink(legacy, legacy=True))
    specs += _surface_sinks(kw["prometheus"], kw["websocket"], kw["allow_remote"])
    tui = kw["tui"]
    if kw.get("headless"):
        tui = False
    specs = _apply_stdout_choice(specs, tui)
    return RunOptions(sinks=specs, force=kw["force"])


def _config_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--config",
        "config_path",
        type=click.Path(path_type=Path),
        metavar="PATH",
        help="A configuration file (TOML, or JSON by suffix) over the user's and the project's.",
    )(f)


def _apply_config_to_run(
    ctx: click.Context, kw: dict[str, Any], p: Any, pipeline_file: Path | str | None
) -> Any:
    """The configuration layers around the pipeline and the flags (kcoro_stream.config)."""
    from .config import apply_to_run

    return apply_to_run(ctx, kw, p, pipeline_file)


def _apply_config_to_replay(kw: dict[str, Any], p: Any, pipeline_file: Path | str | None, log: Path) -> Any:
    """The recorded analysis configuration unless --config/a pipeline says otherwise; says which."""
    from .config import apply_to_replay

    p, said = apply_to_replay(kw, p, pipeline_file, log)
    click.echo(f"replay: {said}", err=True)
    return p


@click.group(context_settings=CONTEXT)
@click.version_option(package_name="kcoro-stream")
def cli() -> None:
    """kcoro-stream: live monitor and telemetry pipeline for the KCoro coroutine runtime."""


class _ExecCommand(click.Command):
    """``run ... --exec -- PROGRAM ARGS...``: everything after ``--`` is the program's."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            i = args.index("--")
            ctx.meta["exec_command"] = args[i + 1 :]
            args = args[:i]
        return super().parse_args(ctx, args)


@cli.command(cls=_ExecCommand, context_settings=CONTEXT)
@click.argument("pipeline_file", type=click.Path(path_type=Path), required=False)
@click.option(
    "--exec",
    "exec_",
    is_flag=True,
    help="Launch the program given after -- instead of the benchmark; '{ring}' in its "
    "arguments (and $KCORO_STREAM_RING) is the ring path.",
)
@click.option("-d", "--duration", help="Run for this long (3, 2.5s, 250ms); default: the pipeline's.")
@click.option("-m", "--mode", help="Benchmark mode: channel, tasks, mixed, dual.")
@click.option("--interval", help="Sampling interval (10ms default).")
@click.option("--producer", type=click.Choice(["bench", "synthetic"]), help="Which producer to launch.")
@click.option("-P", "--producers", type=int, help="(channel) producers.")
@click.option("-C", "--consumers", type=int, help="(channel) consumers.")
@click.option("-N", "--packets", type=int, help="(channel) packets per run.")
@click.option("-c", "--capacity", type=int, help="(channel) capacity (0 = rendezvous).")
@click.option("-k", "--packet-size", type=int, help="(channel) message size in bytes.")
@click.option("-s", "--spin", type=int, help="(channel) spin iterations before yield.")
@click.option("--workers", type=int, help="Worker threads (default: online CPUs).")
@click.option("--seed", type=int, help="Seed for a repeatable run.")
@click.option(
    "--bench-arg", "bench_args", multiple=True, metavar="ARG", help="Extra producer flag (repeatable)."
)
@click.option("-j", "--json", "json_path", metavar="PATH", help="Old monitor: NDJSON path (- for stdout).")
@click.option("-H", "--headless", is_flag=True, help="Old monitor: no UI, export only.")
@click.option(
    "--log", "log_dir", type=click.Path(path_type=Path), help="Event log directory (default runs/<id>)."
)
@click.option("--no-log", is_flag=True, help="Do not record an event log.")
@_config_option
@click.option(
    "--fsync",
    type=click.Choice(["never", "flush", "always"]),
    default="never",
    show_default=True,
    help="fsync the log: never (a crash of this process loses nothing flushed), flush, always.",
)
@_sink_options
@click.pass_context
def run(ctx: click.Context, pipeline_file: Path | None, **kw: Any) -> None:
    """Run live: launch the benchmark (or any program with --exec), record, derive, fan out.

    PIPELINE_FILE defaults to the default analyses printed to stdout.
    """
    from .pipeline import AttachConfig, launch_config

    command: list[str] = ctx.meta.get("exec_command", [])

    def prepare() -> tuple[Any, Any, Any]:
        if command and not kw["exec_"]:
            raise UsageError("arguments after -- are a program to launch: add --exec")
        if kw["exec_"] and not command:
            raise UsageError(
                "--exec: give the program after --, e.g. run --exec -- ./my_bench --ring '{ring}'"
            )
        p = _pipeline_or_default(pipeline_file)
        p, marks = _apply_config_to_run(ctx, kw, p, pipeline_file)
        if kw["json_path"]:
            kw["legacy_json"] = kw["legacy_json"] or kw["json_path"]
        opts = _build_options(p, kw)
        opts.log_dir = kw["log_dir"]
        opts.no_log = kw["no_log"]
        opts.fsync = kw["fsync"]
        opts.marks = marks
        if isinstance(p.source, AttachConfig):
            return p.derive, p.source, opts
        args: list[str] = []
        for flag, key in (
            ("--producers", "producers"),
            ("--consumers", "consumers"),
            ("--packets", "packets"),
            ("--capacity", "capacity"),
            ("--packet-size", "packet_size"),
            ("--spin", "spin"),
            ("--seed", "seed"),
        ):
            if kw[key] is not None:
                args += [flag, str(kw[key])]
        interval = _duration(kw["interval"], "--interval")
        source = launch_config(
            p,
            mode=kw["mode"],
            duration_s=_duration(kw["duration"], "--duration"),
            interval_ms=None if interval is None else interval * 1000,
            producer=kw["producer"],
            workers=kw["workers"],
            args=args + list(kw["bench_args"]),
            command=command,
        )
        return p.derive, source, opts

    derive, source, opts = _guard(prepare)
    _run(derive, source, opts)


@cli.command(context_settings=CONTEXT)
@click.argument("ring", type=click.Path(path_type=Path))
@click.argument("pipeline_file", type=click.Path(path_type=Path), required=False)
@click.option(
    "--log", "log_dir", type=click.Path(path_type=Path), help="Event log directory (default runs/<id>)."
)
@click.option("--no-log", is_flag=True, help="Do not record an event log.")
@_config_option
@_sink_options
@click.pass_context
def attach(ctx: click.Context, ring: Path, pipeline_file: Path | None, **kw: Any) -> None:
    """Read a ring that another runtime created (RING is its path)."""
    from .pipeline import AttachConfig

    def prepare() -> tuple[Any, Any, Any]:
        p = _pipeline_or_default(pipeline_file)
        p, marks = _apply_config_to_run(ctx, kw, p, pipeline_file)
        opts = _build_options(p, kw)
        opts.log_dir = kw["log_dir"]
        opts.no_log = kw["no_log"]
        opts.marks = marks
        return p.derive, AttachConfig(path=str(ring)), opts

    derive, source, opts = _guard(prepare)
    _run(derive, source, opts)


def _pipeline_or_default(path: Path | None) -> Any:
    from . import ops
    from .pipeline import Pipeline, load_pipeline

    if path is not None:
        return load_pipeline(path)
    return Pipeline(derive=ops.default_analyses(), sinks=["stdout"])


@cli.command(context_settings=CONTEXT)
@click.argument("log", type=click.Path(path_type=Path))
@click.argument("pipeline_file", type=click.Path(path_type=Path), required=False)
@click.option("--from", "from_", metavar="T", help="Start T after the recording's first event (e.g. 2s).")
@click.option("--to", metavar="T", help="Stop T after the recording's first event.")
@click.option("--speed", default="max", show_default=True, help="Playback speed: max, 1x, 10x, 0.5x.")
@_config_option
@_sink_options
def replay(log: Path, pipeline_file: Path | None, **kw: Any) -> None:
    """Replay a recorded run (or an old kcoro_mon NDJSON file) through a pipeline."""
    from .pipeline import LegacyConfig, ReplayConfig

    def prepare() -> tuple[Any, Any, Any]:
        if not log.exists():
            raise UsageError(f"{log}: no such run directory or file")
        p = _pipeline_or_default(pipeline_file)
        p = _apply_config_to_replay(kw, p, pipeline_file, log)
        opts = _build_options(p, kw)
        source: Any
        if log.is_file():
            source = LegacyConfig(path=str(log))
        else:
            source = ReplayConfig(
                path=str(log),
                from_s=_duration(kw["from_"], "--from"),
                to_s=_duration(kw["to"], "--to"),
                speed=_speed(kw["speed"]),
                progress=True,
            )
        return p.derive, source, opts

    derive, source, opts = _guard(prepare)
    _run(derive, source, opts)


@cli.group(context_settings=CONTEXT)
def log() -> None:
    """Inspect recorded event logs."""


@log.command("info")
@click.argument("run_dir", type=click.Path(path_type=Path))
def log_info(run_dir: Path) -> None:
    """Segments, frames, events, time range and losses of a run."""
    from .eventlog import info_text

    click.echo(_guard(lambda: info_text(run_dir)))


@log.command("cat")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--from", "from_", metavar="T", help="Start T after the first event.")
@click.option("--to", metavar="T", help="Stop T after the first event.")
def log_cat(run_dir: Path, from_: str | None, to: str | None) -> None:
    """Every recorded event as one JSON object per line."""
    from .eventlog import cat_ndjson, open_log

    def go() -> None:
        lo_s, hi_s = _duration(from_, "--from"), _duration(to, "--to")
        lo = hi = None
        if lo_s is not None or hi_s is not None:
            span = open_log(run_dir).time_range()
            first = span[0] if span else 0
            lo = None if lo_s is None else first + int(lo_s * 1e9)
            hi = None if hi_s is None else first + int(hi_s * 1e9)
        try:
            cat_ndjson(run_dir, sys.stdout.buffer, lo, hi)
            sys.stdout.buffer.flush()
        except BrokenPipeError:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())

    _guard(go)


@log.command("repair")
@click.argument("run_dir", type=click.Path(path_type=Path))
def log_repair(run_dir: Path) -> None:
    """Cut torn tails left by a crash (reports what was cut)."""
    from .eventlog import repair

    problems = _guard(lambda: repair(run_dir))
    for p in problems:
        click.echo(str(p))
    click.echo(f"{len(problems)} problem(s) repaired" if problems else "nothing to repair")


@cli.command(context_settings=CONTEXT)
@click.argument("file", type=click.Path(path_type=Path))
def validate(file: Path) -> None:
    """Check an NDJSON file (plain, .gz, .zst) against the derived-event schema."""
    from .sinks import format_report, validate_file

    report = _guard(lambda: validate_file(file))
    text = format_report(report)
    if report.problems:
        click.echo(text, err=True)
        sys.exit(1)
    click.echo(text)


@cli.command("list", context_settings=CONTEXT)
def list_() -> None:
    """Sources, operators and sinks this installation provides."""
    from . import ops
    from .sinks import sink_class, sink_names
    from .sources import source_class, source_names

    click.echo("sources:")
    for name in source_names():
        src = source_class(name)
        click.echo(f"  {name:<12} {src.summary or (src.__doc__ or '').strip().splitlines()[0]}")
    click.echo("operators:")
    for name in sorted(getattr(ops, "__all__", [])):
        if not inspect.isfunction(getattr(ops, name)):
            continue  # constants and helper types
        doc = (getattr(ops, name).__doc__ or "").strip().splitlines()
        click.echo(f"  {name:<22} {doc[0] if doc else ''}")
    click.echo("sinks:")
    for name in sink_names():
        cls = sink_class(name)
        doc = (cls.summary or cls.__doc__ or "").strip().splitlines()
        click.echo(f"  {name:<12} {cls.policy:<12} {doc[0] if doc else ''}")


@cli.command(
    context_settings={
        **CONTEXT,
        "ignore_unknown_options": True,
        "allow_extra_args": True,
        "help_option_names": [],
    }
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def bench(args: tuple[str, ...]) -> None:
    """Run the native benchmark directly (its own flags; --help for them)."""
    from .sources.bench import main as bench_main

    sys.exit(bench_main(list(args)))


@cli.group("config", context_settings=CONTEXT)
def config_group() -> None:
    """The layered configuration: show the effective values and their origins, check a file."""


@config_group.command("show")
@_config_option
@click.option("--run", "run_dir", type=click.Path(path_type=Path), help="Show what RUN_DIR recorded instead.")
@click.option("--set-only", is_flag=True, help="Only values that do not come from the defaults.")
def config_show(config_path: Path | None, run_dir: Path | None, set_only: bool) -> None:
    """Every value of the effective configuration with its origin (file:line, env, default)."""
    from .config import Effective, recorded_config, resolve, show_text, standard_layers

    def go() -> str:
        if run_dir is not None:
            rec = recorded_config(run_dir)
            if rec is None or not isinstance(rec.get("config"), dict):
                raise UsageError(f"{run_dir}: no recorded configuration in this run's log")
            return show_text(resolve([Effective.from_builtins(rec["config"])]), only_set=set_only)
        low, high = standard_layers(config_path)
        return show_text(resolve([*low, *high]), only_set=set_only)

    click.echo(_guard(go))


@config_group.command("check")
@click.argument("file", type=click.Path(path_type=Path))
def config_check(file: Path) -> None:
    """Validate a configuration file: unknown keys, types, durations, rules (exit 2 if bad)."""
    from .config import check_text

    click.echo(_guard(lambda: check_text(file)))


@cli.group("manifest", context_settings=CONTEXT)
def manifest_group() -> None:
    """Run-profile manifests (YAML): plan, check and run steps with sweeps, warm-ups and repeats."""


@manifest_group.command("plan")
@click.argument("file", type=click.Path(path_type=Path))
@_config_option
def manifest_plan(file: Path, config_path: Path | None) -> None:
    """Print the expanded runs of FILE (nothing runs)."""
    from .manifest import load_manifest, plan_text

    def go() -> int:
        click.echo(plan_text(load_manifest(file, config_path)))
        return 0

    _execute(go)


@manifest_group.command("check")
@click.argument("file", type=click.Path(path_type=Path))
@_config_option
def manifest_check(file: Path, config_path: Path | None) -> None:
    """Validate FILE: keys, types, modes, matrices, pipelines (exit 2 if bad)."""
    from .manifest import load_manifest

    def go() -> int:
        m = load_manifest(file, config_path)
        click.echo(f"{file}: ok ({len(m.runs)} run(s))")
        return 0

    _execute(go)


@manifest_group.command("run")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--out-dir", type=click.Path(path_type=Path), required=True, help="The results directory.")
@click.option("--force", is_flag=True, help="Run again the runs that already finished ok in --out-dir.")
@_config_option
def manifest_run(file: Path, out_dir: Path, force: bool, config_path: Path | None) -> None:
    """Run FILE's runs in order into --out-dir (one run directory each, index.json); exit 1 if any failed."""
    from .manifest import load_manifest, run_manifest, stderr_progress

    def go() -> int:
        m = load_manifest(file, config_path)
        result = run_manifest(m, out_dir, force=force, progress=stderr_progress())
        click.echo(
            f"manifest {m.name}: {result.ran} run(s), {result.skipped} already done, {result.failed} failed"
            + (", interrupted" if result.interrupted else ""),
            err=True,
        )
        return result.exit_code

    _execute(go)


def main() -> None:
    cli(prog_name="kcoro-stream")


if __name__ == "__main__":
    main()
