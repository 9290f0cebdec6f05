"""The ``kcoro-stream`` command line.

Every KcoroStreamError becomes one red line on stderr and its exit code;
anything else is a bug and says so in one line (``KCORO_STREAM_DEBUG=1`` shows
the traceback); click's own usage errors are one line too, with a hint. Old
kcoro_mon flags (-P -C -N -c -k -s -m -j -H -d) work on ``run``; the benchmark's
knobs are ``run`` options whose ranges are checked here, before anything starts
(the same ranges as native/bench/cli.c; a test compares them).
"""

from __future__ import annotations

import errno
import inspect
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from .errors import KcoroStreamError, MissingExtra, UsageError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _fail(msg: str, code: int) -> None:
    click.secho(f"kcoro-stream: {msg}", fg="red", err=True)
    sys.exit(code)


def _first_error(e: BaseException) -> BaseException:
    """The most telling error inside (possibly nested) exception groups."""
    import trio  # here, not at the top: `--help` and usage errors never pay for importing trio

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


def _run(derive: Any, source: Any, opts: Any, exit_on_end: bool = False) -> None:
    """The run loop under trio, or with the dashboard hosting trio as a guest when a tui sink is used."""
    import trio

    from .runloop import run

    if not _wants_tui(opts.sinks):
        _execute(lambda: trio.run(run, derive, source, opts))
        return
    from .surfaces.tui import run_tui

    async def main(handle: Any) -> int:
        opts.dashboard = handle
        code = await run(derive, source, opts)
        handle.finish(_end_lines(opts))
        return code

    def dashboard() -> int:
        code = run_tui(main, title=f"kcoro-stream {' '.join(sys.argv[1:])}", hold=_hold_screen(exit_on_end))
        _after_dashboard(opts)
        return code

    _execute(dashboard)


def _hold_screen(exit_on_end: bool) -> bool:
    """Keep the dashboard's last frame until q: only for a person at a terminal (not CI, not scripts)."""
    return not exit_on_end and sys.stdin.isatty() and sys.stdout.isatty() and not os.environ.get("CI")


def _end_lines(opts: Any) -> list[str]:
    """The summary line per pool and the run directory: shown on the held screen and printed after it."""
    from .sinks.log import format_summary_line

    summaries = opts.summaries
    lines = [format_summary_line(s) + (f" pool={s.pool}" if len(summaries) > 1 else "") for s in summaries]
    if opts.run_dir is not None:
        lines.append(f"run directory: {opts.run_dir}")
    return lines


def _after_dashboard(opts: Any) -> None:
    """The screen is gone with the dashboard: leave the summary and the run directory on the terminal."""
    for line in _end_lines(opts):
        click.echo(line)


def _guard(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except KcoroStreamError as e:
        _fail(str(e), e.exit_code)


def _duration(value: str | None, flag: str) -> float | None:
    """'3', '3s', '250ms', '2m' → seconds (finite, not negative); errors name ``flag``."""
    if value is None:
        return None
    from .config._resolve import parse_duration  # the one duration syntax (flags and config files)

    try:
        return parse_duration(value)
    except ValueError as e:
        raise UsageError(f"{flag}: {e}") from None


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


def _surface_sinks(
    prometheus: str | None, websocket: str | None, allow_remote: bool, allowed_hosts: tuple[str, ...] = ()
) -> list[Any]:
    from .sinks._address import split_host_port

    extra: list[Any] = []
    for name, addr in (("prometheus", prometheus), ("websocket", websocket)):
        if addr:
            host, port = split_host_port(f"--{name}", addr, None)
            spec: dict[str, Any] = {"sink": name, "host": host}
            if port is not None:  # else the sink's default port
                spec["port"] = port
            if allow_remote:
                spec["allow_remote"] = True
            if allowed_hosts:
                spec["allowed_hosts"] = list(allowed_hosts)
            extra.append(spec)
    return extra


def _apply_stdout_choice(specs: list[Any], tui: bool | None) -> list[Any]:
    """stdout sink: NDJSON when piped; the dashboard when a terminal (unless --no-tui)."""
    use_tui = tui if tui is not None else sys.stdout.isatty()
    if not use_tui:
        return [s for s in specs if s != "tui"]
    from .sinks import sink_class

    try:
        sink_class("tui")
    except MissingExtra as e:
        if tui:  # asked for by name: nothing to fall back to
            raise
        click.echo(f"kcoro-stream: {e}; running headless", err=True)
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
            help="Write derived events to PATH (.ndjson/.csv, + .gz/.zst); stdout then only with --stdout.",
        ),
        click.option(
            "--sink",
            "sinks",
            multiple=True,
            metavar="SPEC",
            help="Add a sink: stdout, ndjson:PATH, csv:PATH, prometheus:H:P, websocket:H:P, remote_write:URL, tui.",
        ),
        click.option("--only-sinks", is_flag=True, help="Use only --out/--sink sinks, not the file's."),
        click.option(
            "--stdout/--no-stdout",
            "stdout",
            default=None,
            help="NDJSON on stdout (default: yes, unless --out or -j PATH writes a file).",
        ),
        click.option(
            "-j",
            "--legacy-json",
            "--json",
            "legacy_json",
            metavar="PATH",
            help="Old kcoro_mon NDJSON (its field names) to PATH (- for stdout).",
        ),
        click.option(
            "--prometheus", metavar="HOST:PORT", help="Serve /metrics (127.0.0.1 unless --allow-remote)."
        ),
        click.option("--websocket", metavar="HOST:PORT", help="Serve the browser dashboard and /ws."),
        click.option(
            "--remote-write",
            metavar="URL",
            help="Push metrics to a Prometheus remote-write URL (repeatable).",
            multiple=True,
        ),
        click.option("--allow-remote", is_flag=True, help="Allow servers to bind non-loopback addresses."),
        click.option(
            "--allowed-host",
            "allowed_hosts",
            multiple=True,
            metavar="NAME[:PORT]",
            help="Also answer requests whose Host header is NAME (repeatable; loopback always).",
        ),
        click.option(
            "--tui/--no-tui", default=None, help="Terminal dashboard (default: when stdout is a TTY)."
        ),
        click.option(
            "--exit-on-end",
            is_flag=True,
            help="Close the dashboard when the run ends (default on a terminal: keep it, with the summary, until q).",
        ),
        click.option("--force", is_flag=True, help="Overwrite existing output files."),
    ]
    for opt in reversed(options):
        f = opt(f)
    return f


def _build_options(p: Any, kw: dict[str, Any]) -> Any:
    from .runloop import RunOptions

    specs: list[Any] = [] if kw["only_sinks"] else list(p.sinks)
    legacy = kw.get("legacy_json")
    to_stdout = kw["stdout"]
    if to_stdout is None:  # a file output replaces stdout unless --stdout asks for both
        to_stdout = not (kw["outs"] or (legacy and legacy != "-"))
    if not to_stdout:
        specs = [s for s in specs if s != "stdout"]
    elif kw["stdout"] and "stdout" not in specs:
        specs.append("stdout")
    specs += [_out_sink(o) for o in kw["outs"]]
    specs += list(kw["sinks"])
    if legacy == "-":
        specs = [s for s in specs if s != "stdout"] + [{"sink": "stdout", "legacy": True}]
    elif legacy:
        specs.append(_out_sink(legacy, legacy=True))
    specs += _surface_sinks(kw["prometheus"], kw["websocket"], kw["allow_remote"], kw["allowed_hosts"])
    specs += [{"sink": "remote_write", "url": url} for url in kw.get("remote_write", ())]
    tui = kw["tui"]
    if kw.get("headless"):
        tui = False
    specs = _apply_stdout_choice(specs, tui)
    return RunOptions(sinks=specs, force=kw["force"])


# Benchmark flags that are not `run` options: the hint says how to pass them.
_BENCH_ONLY_FLAGS = ("--channel-kind", "--adaptive-max-ms")


def _usage_line(e: click.UsageError) -> str:
    """click's usage error as one line, with a hint."""
    where = e.ctx.command_path if e.ctx is not None else "kcoro-stream"
    if isinstance(e, click.NoSuchOption):
        name = e.option_name.split("=", 1)[0]
        if e.possibilities:
            return f"no such option {name} (did you mean {' or '.join(sorted(e.possibilities))}?)"
        if name in _BENCH_ONLY_FLAGS:
            return f"no such option {name} (a benchmark flag: pass it as --bench-arg={name}=VALUE)"
        return f"no such option {name} (see '{where} --help')"
    if isinstance(e, click.MissingParameter) and e.param is not None:
        kind = "option" if e.param.param_type_name == "option" else "argument"
        return f"missing {kind} {_param_name(e.param)} (see '{where} --help')"
    if isinstance(e, click.BadParameter) and e.param is not None:
        return f"{_param_name(e.param)}: {e.message.rstrip('.')}"
    msg = e.format_message().rstrip(".")
    return f"{msg[:1].lower()}{msg[1:]} (see '{where} --help')"


def _param_name(param: click.Parameter) -> str:
    if param.param_type_name != "option":
        return param.human_readable_name
    return max([o for o in param.opts if o.startswith("--")] or param.opts, key=len)


class _Cli(click.Group):
    """The command group; every usage error is one line (see ``_usage_line``), exit 2."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as e:
            click.echo(e.ctx.get_help() if e.ctx is not None else e.format_message())
            sys.exit(0)
        except click.UsageError as e:
            _fail(_usage_line(e), 2)
        except click.ClickException as e:
            _fail(e.format_message(), e.exit_code)
        except click.Abort:
            _fail("interrupted", 130)
        sys.exit(rv if isinstance(rv, int) else 0)


def _control_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--no-control", is_flag=True, help="No control socket (kcoro-stream ctl).")(f)
    return click.option(
        "--control",
        "control_path",
        type=click.Path(path_type=Path),
        metavar="PATH",
        help="Control socket path (default: control.sock in the run directory).",
    )(f)


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


def _apply_config_to_replay(
    kw: dict[str, Any], p: Any, pipeline_file: Path | str | None, log: Path
) -> tuple[Any, str]:
    """The recorded analysis configuration unless --config/a pipeline says otherwise, and the line
    saying which (printed once the replay is known to start)."""
    from .config import apply_to_replay

    return apply_to_replay(kw, p, pipeline_file, log)


@click.group(cls=_Cli, context_settings=CONTEXT)
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


class _IntIn(click.ParamType):
    """An integer in [lo, hi] (optionally a power of two); the error reads like the C parser's."""

    name = "n"  # shown as N in --help

    def __init__(self, lo: int, hi: int, power_of_two: bool = False) -> None:
        self.lo, self.hi, self.power_of_two = lo, hi, power_of_two

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        try:
            v = value if isinstance(value, int) else int(str(value).strip(), 10)
        except ValueError:
            v = None
        if v is None or not self.lo <= v <= self.hi:
            self.fail(f"expected an integer in [{self.lo}, {self.hi}], got {str(value)!r}", param, ctx)
        if self.power_of_two and v & (v - 1):
            self.fail(f"expected a power of two, got {str(value)!r}", param, ctx)
        return v


MODES = ("channel", "tasks", "mixed", "dual")

# The benchmark's knobs as `run` options: (flags, range, help). Ranges and defaults are
# native/bench/cli.c's (kcs_bench_parse); tests/test_cli.py compares the two.
BENCH_INT_OPTIONS: tuple[tuple[tuple[str, ...], _IntIn, str], ...] = (
    (("-P", "--producers"), _IntIn(1, 1024), "(channel) producer coroutines [1]."),
    (("-C", "--consumers"), _IntIn(1, 1024), "(channel, mixed) consumer coroutines [1]."),
    (("-N", "--packets"), _IntIn(1, 1_000_000_000), "(channel) packets per producer per cycle [1024]."),
    (("-c", "--capacity"), _IntIn(0, 1 << 24), "(channel) channel capacity, 0 = rendezvous [1024]."),
    (("-k", "--packet-size"), _IntIn(1, 65536), "(channel) bytes per packet [64]."),
    (("-s", "--spin"), _IntIn(0, 1_000_000), "(channel) buffer polls before a blocked op suspends [64]."),
    (("--batch",), _IntIn(1, 65536), "(tasks, mixed) tasks submitted per wait [64]."),
    (("--body-cost",), _IntIn(0, 100_000_000), "Work units per task body [0]."),
    (
        ("--latency-sample",),
        _IntIn(1, 1024, power_of_two=True),
        "Time one task start / message in N (a power of two) [8].",
    ),
    (("--seed",), _IntIn(0, (1 << 63) - 1), "Seed for a repeatable run [1]."),
)
BENCH_FLAG_OPTIONS: tuple[tuple[str, str], ...] = (
    ("--zero-copy", "(channel) pointer (zero-copy) channel mode."),
    ("--imbalanced", "(tasks) all task submissions from worker 0."),
    ("--adaptive", "Widen the sampling interval while counters are stable."),
    ("--pin", "Pin worker k to the k-th allowed CPU (recorded in RunStarted; panes show the CPU)."),
    ("--no-perf-counters", "No perf_event_open counters per worker thread (OsCounters)."),
)
MAX_WORKERS = 64  # KCR_MAX_WORKERS in native/runtime/kcr.h


def _dest(flags: tuple[str, ...]) -> str:
    return max(flags, key=len).lstrip("-").replace("-", "_")


def _bench_options(f: Callable[..., Any]) -> Callable[..., Any]:
    options = [click.option(*flags, type=t, help=h) for flags, t, h in BENCH_INT_OPTIONS]
    options += [click.option(flag, is_flag=True, default=None, help=h) for flag, h in BENCH_FLAG_OPTIONS]
    for opt in reversed(options):
        f = opt(f)
    return f


def _bench_args(kw: dict[str, Any]) -> list[str]:
    """The benchmark flags the user gave, in the C parser's spelling."""
    args: list[str] = []
    for flags, _, _ in BENCH_INT_OPTIONS:
        value = kw[_dest(flags)]
        if value is not None:
            args += [max(flags, key=len), str(value)]
    for flag, _ in BENCH_FLAG_OPTIONS:
        if kw[_dest((flag,))]:
            args.append(flag)
    return args


@cli.command(cls=_ExecCommand, context_settings=CONTEXT)
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
@click.option("--workers", type=_IntIn(1, MAX_WORKERS), help="Worker threads per pool [online CPUs].")
@_bench_options
@click.option(
    "--bench-arg", "bench_args", multiple=True, metavar="ARG", help="Extra producer flag (repeatable)."
)
@click.option("-H", "--headless", is_flag=True, help="Old monitor: no UI, export only (--no-tui).")
@click.option(
    "--log", "log_dir", type=click.Path(path_type=Path), help="Event log directory (default runs/<id>)."
)
@click.option("--no-log", is_flag=True, help="Do not record an event log.")
@_control_options
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
def run(ctx: click.Context, pipeline: str | None, **kw: Any) -> None:
    """Run live: launch the benchmark (or any program with --exec), record, derive, fan out.

    PIPELINE is a pipeline file, or the name of a shipped one (`kcoro-stream
    pipelines` lists them); without it, the default pipeline.
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
        if kw["exec_"]:  # the flags given, before the configuration fills in its values
            given = [*_bench_args(kw)[:1], *(f"--{k}" for k in ("mode", "workers") if kw[k] is not None)]
            if given:
                raise UsageError(f"{given[0]}: a flag of the bundled benchmark, not of an --exec program")
        p = _pipeline_or_default(pipeline)
        p, marks = _apply_config_to_run(ctx, kw, p, pipeline)
        bench_args = [] if kw["exec_"] else _bench_args(kw)  # [bench] is the bundled benchmark's
        opts = _build_options(p, kw)
        opts.log_dir = kw["log_dir"]
        opts.no_log = kw["no_log"]
        opts.fsync = kw["fsync"]
        opts.marks = marks
        opts.control, opts.no_control = kw["control_path"], kw["no_control"]
        if isinstance(p.source, AttachConfig):
            return p.derive, p.source, opts
        interval = _duration(kw["interval"], "--interval")
        duration = _duration(kw["duration"], "--duration")
        source = launch_config(
            p,
            mode=kw["mode"],
            duration_s=duration,
            interval_ms=None if interval is None else interval * 1000,
            producer=kw["producer"],
            workers=kw["workers"],
            args=bench_args + list(kw["bench_args"]),
            command=command,
        )
        return p.derive, source, opts

    derive, source, opts = _guard(prepare)
    _run(derive, source, opts, kw["exit_on_end"])


@cli.command(context_settings=CONTEXT)
@click.argument("ring", type=click.Path(path_type=Path))
@click.argument("pipeline", required=False)
@click.option(
    "--log", "log_dir", type=click.Path(path_type=Path), help="Event log directory (default runs/<id>)."
)
@click.option("--no-log", is_flag=True, help="Do not record an event log.")
@_control_options
@_config_option
@_sink_options
@click.pass_context
def attach(ctx: click.Context, ring: Path, pipeline: str | None, **kw: Any) -> None:
    """Read a ring that another runtime created (RING is its path).

    PIPELINE: a file or a shipped pipeline's name; default: the default pipeline.
    """
    from .pipeline import AttachConfig

    def prepare() -> tuple[Any, Any, Any]:
        p = _pipeline_or_default(pipeline)
        p, marks = _apply_config_to_run(ctx, kw, p, pipeline)
        opts = _build_options(p, kw)
        opts.log_dir = kw["log_dir"]
        opts.no_log = kw["no_log"]
        opts.marks = marks
        opts.control, opts.no_control = kw["control_path"], kw["no_control"]
        return p.derive, AttachConfig(path=str(ring)), opts

    derive, source, opts = _guard(prepare)
    _run(derive, source, opts, kw["exit_on_end"])


@cli.command(context_settings=CONTEXT)
@click.argument("target", metavar="RUN_DIR|SOCKET", type=click.Path(path_type=Path))
@click.argument("method")
@click.argument("params", nargs=-1, metavar="[VALUE | key=value ...]")
@click.option("--timeout", default="30s", show_default=True, help="How long to wait for the answer.")
@click.option("--wait", metavar="DURATION", help="First wait this long for the run to listen and start.")
def ctl(target: Path, method: str, params: tuple[str, ...], timeout: str, wait: str | None) -> None:
    """Steer a live run: one JSON-RPC call to its control socket; prints the JSON result.

    \b
    ctl runs/ID status            ctl runs/ID set_interval 20ms
    ctl runs/ID pause | resume    ctl runs/ID mark phase-2
    ctl runs/ID set_knob batch=1  ctl runs/ID set_rule 'slow: tasks_per_s < 1000'
    ctl runs/ID methods           (every method, its params, the producer's knobs)

    Exit 0 with a result, 1 on an error answer or when no run listens, 2 on usage.
    """
    import json

    from .control import build_params, call, wait_ready

    def go() -> int:
        seconds = _duration(timeout, "--timeout") or 30.0
        args = build_params(params)
        if wait is not None:
            wait_ready(target, _duration(wait, "--wait") or 0.0)
        result = call(target, method, args, timeout_s=seconds)
        click.echo(json.dumps(result, indent=2, sort_keys=True))
        return 0

    _execute(go)


def _pipeline_or_default(spec: str | None) -> Any:
    """A pipeline file, a shipped pipeline by name, or (None) the shipped default."""
    from .pipeline import load_pipeline, resolve_pipeline

    return load_pipeline(resolve_pipeline(spec))


@cli.command(context_settings=CONTEXT)
@click.argument("log", type=click.Path(path_type=Path))
@click.argument("pipeline", required=False)
@click.option("--from", "from_", metavar="T", help="Start T after the recording's first event (e.g. 2s).")
@click.option("--to", metavar="T", help="Stop T after the recording's first event.")
@click.option("--speed", default="max", show_default=True, help="Playback speed: max, 1x, 10x, 0.5x.")
@_config_option
@_sink_options
def replay(log: Path, pipeline: str | None, **kw: Any) -> None:
    """Replay a recorded run (or an old kcoro_mon NDJSON file) through a pipeline.

    PIPELINE: a file or a shipped pipeline's name; default: the default pipeline.
    """
    from .pipeline import LegacyConfig, ReplayConfig
    from .sources.replay import check_bounds

    def prepare() -> tuple[Any, Any, Any, str | None]:
        if not log.exists():
            raise UsageError(f"{log}: no such run directory or file")
        p = _pipeline_or_default(pipeline)
        p, said = _apply_config_to_replay(kw, p, pipeline, log)
        opts = _build_options(p, kw)
        source: Any
        if log.is_file():
            return p.derive, LegacyConfig(path=str(log)), opts, None  # old kcoro_mon lines: no configuration
        source = ReplayConfig(
            path=str(log),
            from_s=_duration(kw["from_"], "--from"),
            to_s=_duration(kw["to"], "--to"),
            speed=_speed(kw["speed"]),
            progress=True,
        )
        check_bounds(source.from_s, source.to_s)
        return p.derive, source, opts, said

    derive, source, opts, said = _guard(prepare)
    if said:
        click.echo(f"replay: {said}", err=True)
    _run(derive, source, opts, kw["exit_on_end"])


@cli.group(context_settings=CONTEXT)
def log() -> None:
    """Inspect recorded event logs."""


@log.command("info")
@click.argument("run_dir", type=click.Path(path_type=Path))
def log_info(run_dir: Path) -> None:
    """Segments, frames, events, time range and losses of a run."""
    from .eventlog import info_text

    click.echo(_guard(lambda: info_text(run_dir)))


def _warn(problem: object) -> None:
    click.secho(f"kcoro-stream: warning: {problem}", fg="yellow", err=True)


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
            cat_ndjson(run_dir, sys.stdout.buffer, lo, hi, on_problem=_warn)
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
    from .validate import format_report, validate_file

    report = _guard(lambda: validate_file(file))
    text = format_report(report)
    if report.problems:
        click.echo(text, err=True)
        sys.exit(1)
    click.echo(text)


@cli.command("pipelines", context_settings=CONTEXT)
def pipelines_() -> None:
    """The pipelines kcoro-stream ships (run one by name: kcoro-stream run latency)."""
    from .pipeline import shipped_pipelines

    found = shipped_pipelines()
    if not found:
        _fail("this installation ships no pipelines/ (a broken install?)", 1)
    for name, (_, doc) in found.items():
        click.echo(f"{name:<10} {doc}")


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
        try:
            cls = sink_class(name)
        except MissingExtra as e:
            click.echo(f"  {name:<12} {'':<12} (not installed: pip install 'kcoro-stream[{e.extra}]')")
            continue
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


@cli.command(context_settings=CONTEXT)
@click.option(
    "--seed", type=int, default=1, show_default=True, help="Workload seed (same seed, same totals)."
)
@click.option("--quick", is_flag=True, help="Smaller workloads, the same checks (under 20 s).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of the table.")
def selftest(seed: int, quick: bool, as_json: bool) -> None:
    """Run scripted workloads with known counts; check every derived metric (exit 0 pass, 1 fail)."""
    from .selftest import render_table, run_selftest

    def go() -> int:
        progress = None if as_json else (lambda step: click.echo(f"selftest: {step}", err=True))
        result = run_selftest(seed, quick, progress=progress)
        if as_json:
            import json

            click.echo(json.dumps(result.to_json(), indent=None))
        else:
            click.echo(render_table(result))
        return result.exit_code

    _execute(go)


@cli.command("report", context_settings=CONTEXT)
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="The report directory.")
@click.option("--force", is_flag=True, help="Replace --out if it exists.")
def report_cmd(paths: tuple[Path, ...], out: Path, force: bool) -> None:
    """Charts (PNG, SVG), summary.md and an offline report.html for run or results directories."""
    from .report import build_report

    def go() -> int:
        r = build_report(list(paths), out, force=force)
        click.echo(
            f"{r.out}: {len(r.charts)} chart(s) from {r.runs} run(s); open {r.out / 'report.html'}", err=True
        )
        return 0

    _execute(go)


@cli.group("export", context_settings=CONTEXT)
def export_group() -> None:
    """Export a recorded run for other tools (trace viewers)."""


@export_group.command("chrome")
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="The trace file (JSON).")
@click.option("--force", is_flag=True, help="Replace --out if it exists.")
def export_chrome_cmd(run: Path, out: Path, force: bool) -> None:
    """RUN (a run directory) as Chrome trace-event JSON: open it in ui.perfetto.dev or chrome://tracing.

    Exit 0 written, 1 --out exists (without --force), 2 RUN is not a readable run or --out cannot be written.
    """
    from .trace import export_chrome

    def go() -> int:
        r = export_chrome(run, out, force=force)
        click.echo(
            f"{r.out}: {r.counter_tracks} counter track(s), {r.instants} instant(s), {r.slices} slice(s)",
            err=True,
        )
        return 0

    _execute(go)


@cli.group("baseline", context_settings=CONTEXT)
def baseline_group() -> None:
    """Baselines for ``compare``: every repeat's value per step and metric, with fingerprints."""


@baseline_group.command("save")
@click.argument("results", type=click.Path(path_type=Path))
@click.option("--to", "to", type=click.Path(path_type=Path), required=True, help="The baseline file (JSON).")
@click.option("--variant", help="Which variant of an A/B results directory [the first].")
def baseline_save(results: Path, to: Path, variant: str | None) -> None:
    """Keep RESULTS' per-repeat values, fingerprints and noise fingerprint in --to FILE.json."""
    from .compare import baseline_from_results, load_results, save_baseline

    def go() -> int:
        b = baseline_from_results(load_results(results), variant)
        save_baseline(b, to)
        n = sum(len(v) for m in b.steps.values() for v in m.values())
        click.echo(f"{to}: {len(b.steps)} step(s), {n} value(s) from {b.source}", err=True)
        return 0

    _execute(go)


@cli.command("compare", context_settings=CONTEXT)
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--threshold", default="5%", show_default=True, help="The smallest change that counts.")
@click.option("--json", "as_json", is_flag=True, help="JSON on stdout instead of the table.")
@click.option("--markdown", is_flag=True, help="Markdown on stdout (a CI job summary).")
@click.option(
    "--variant", "variants", multiple=True, help="Compare only this variant of RESULTS (repeatable)."
)
@click.option(
    "--gate-latency", metavar="PCT", help="Also fail on latency p50/p99 worse by more than PCT (over 19%)."
)
@click.option("--fail-on-inconclusive", is_flag=True, help="Exit 1 when a gated metric is left inconclusive.")
def compare_cmd(
    paths: tuple[Path, ...],
    threshold: str,
    as_json: bool,
    markdown: bool,
    variants: tuple[str, ...],
    gate_latency: str | None,
    fail_on_inconclusive: bool,
) -> None:
    """Verdicts per step and metric: BASELINE RESULTS, RESULTS_A RESULTS_B, or one A/B RESULTS.

    Exit 0 unchanged or better (inconclusive too, with a loud line on stderr), 1 a gated metric
    regressed (or inconclusive with --fail-on-inconclusive), 2 bad input or trouble (a gated metric
    missing, zero or NaN on either side).
    """
    from .compare import compare_paths, parse_threshold, to_json, to_markdown, to_table
    from .compare._render import loud_lines

    def go() -> int:
        try:
            comparisons = compare_paths(
                list(paths),
                parse_threshold(threshold),
                list(variants),
                parse_threshold(gate_latency, "--gate-latency") if gate_latency else None,
            )
        except KcoroStreamError as e:  # every trouble is exit 2 for a verdict command (as diff)
            raise UsageError(str(e)) from None
        if as_json:
            click.echo(to_json(comparisons))
        elif markdown:
            click.echo("\n".join(to_markdown(c) for c in comparisons))
        else:
            click.echo("\n\n".join(to_table(c) for c in comparisons))
        for line in loud_lines(comparisons):
            click.secho(f"kcoro-stream: {line}", fg="red", err=True)
        if any(c.trouble for c in comparisons):
            return 2
        if any(c.regressed for c in comparisons):
            return 1
        return 1 if fail_on_inconclusive and any(c.inconclusive for c in comparisons) else 0

    _execute(go)


# ---------------------------------------------------------------- run history (kcoro_stream.history)


def _default_runs_dirs(dirs: tuple[Path, ...]) -> list[Path]:
    from .runloop import RUNS_DIR

    return list(dirs) or [RUNS_DIR]


def _history_warnings(result: Any) -> None:
    for k in result.skipped:
        _warn(f"{k.file}: {k.reason}; skipped")
    if result.without_summary:
        n = len(result.without_summary)
        _warn(
            f"{n} run director{'y has' if n == 1 else 'ies have'} no summary.json (older or killed runs), e.g. "
            f"{result.without_summary[0]}; not listed"
        )


class _HistoryGroup(click.Group):
    """``history [RUNS_DIR…]`` lists; ``history export …`` exports: a first word that is not a
    subcommand means ``list``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("-h", "--help")):
            args = ["list", *args]
        return super().parse_args(ctx, args)


def _history_filters(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option(
        "--where",
        "where",
        multiple=True,
        metavar="KEY=VALUE",
        help="Only runs whose KEY is VALUE: mode, state, source, host, git, workers, a configuration "
        "SECTION.KEY (bench.workers), or a dotted path into summary.json (repeatable).",
    )(f)
    f = click.option(
        "--metric",
        default="tasks_per_s",
        show_default=True,
        help="The figure to list (any key of summary.json's metrics).",
    )(f)
    return click.argument("dirs", nargs=-1, type=click.Path(path_type=Path))(f)


@cli.group("history", cls=_HistoryGroup, context_settings=CONTEXT)
def history_group() -> None:
    """Every recorded run (its summary.json) listed, trended and searched for level shifts; export.

    history [RUNS_DIR…] [--metric M] [--where KEY=VALUE…] [--changes] [--json]; RUNS_DIR defaults to
    runs/. Exit 0; 1 when a summary.json could not be read (named; the others are listed); 2 bad input.
    """


@history_group.command("list", context_settings=CONTEXT)
@_history_filters
@click.option("--changes", is_flag=True, help="Find level shifts in each series (permutation-tested).")
@click.option(
    "--p-value",
    "alpha",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    help="With --changes: keep a shift whose permutation p-value is at most this (default 0.05, "
    "E-divisive's; lower: fewer false alarms, and below 0.005 none can pass).",
)
@click.option(
    "--last",
    type=click.IntRange(min=1),
    metavar="N",
    help="List each series' last N runs (the trend and --changes still use them all).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of the tables.")
def history_list(
    dirs: tuple[Path, ...],
    metric: str,
    where: tuple[str, ...],
    changes: bool,
    alpha: float | None,
    last: int | None,
    as_json: bool,
) -> None:
    """List runs by series (host, mode, knobs) with the metric's trend."""
    from .history import history

    def go() -> int:
        chosen = {} if alpha is None else {"alpha": alpha}
        result = history(
            _default_runs_dirs(dirs),
            metric,
            list(where),
            changes=changes,
            as_json=as_json,
            last=last,
            **chosen,
        )
        click.echo(result.text)
        _history_warnings(result)
        return result.exit_code

    _execute(go)


@history_group.command("export", context_settings=CONTEXT)
@_history_filters
@click.option("--parquet", "to", type=click.Path(path_type=Path), required=True, help="The Parquet file.")
@click.option("--force", is_flag=True, help="Replace the file if it exists.")
def history_export(
    dirs: tuple[Path, ...], metric: str, where: tuple[str, ...], to: Path, force: bool
) -> None:
    """Every listed run as one row of a Parquet file (for DuckDB, pandas, polars)."""
    from .history import export_parquet

    def go() -> int:
        result = export_parquet(_default_runs_dirs(dirs), to, metric, list(where), force=force)
        click.echo(result.text, err=True)
        _history_warnings(result)
        return result.exit_code

    _execute(go)


@cli.group("runs", context_settings=CONTEXT)
def runs_group() -> None:
    """Manage run directories."""


@runs_group.command("prune")
@click.argument("runs_dir", required=False, type=click.Path(path_type=Path))
@click.option("--keep", type=int, metavar="N", help="Keep the N newest runs.")
@click.option("--older-than", metavar="AGE", help="Only runs older than AGE (30d, 2w, 12h).")
@click.option("--yes", is_flag=True, help="Delete (without it: only say what would go).")
def runs_prune(runs_dir: Path | None, keep: int | None, older_than: str | None, yes: bool) -> None:
    """Delete old run directories of RUNS_DIR (default runs/); a dry run unless --yes.

    Only directories that are recognizably runs (our summary.json or log segments) and not being
    recorded are touched. Exit 0; 1 a directory could not be deleted; 2 bad input.
    """
    from .history import choose_prunes, parse_age, prune

    def go() -> int:
        where = _default_runs_dirs((runs_dir,) if runs_dir else ())[0]
        age = parse_age(older_than) if older_than is not None else None
        choice = choose_prunes(where, keep, age)
        for r in choice.delete:
            click.echo(f"{'deleting' if yes else 'would delete'} {r.path}")
        for p in choice.in_use:
            click.echo(f"in use (recording), kept: {p}", err=True)
        if yes:
            prune(choice)
        verb = "deleted" if yes else "would delete"
        click.echo(
            f"{where}: {verb} {len(choice.delete)} run(s), kept {len(choice.keep) + len(choice.in_use)}"
            + ("" if yes or not choice.delete else " (dry run: add --yes to delete)"),
            err=True,
        )
        return 0

    _execute(go)


_STDOUT_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EPIPE, errno.EBADF, errno.EFBIG)


def _stdout_failed(e: OSError) -> None:
    """Our own stdout could not be written (disk full, closed pipe): one line, not a traceback.

    Only an OSError without a file name and with a write errno is taken for
    that; any other escaped OSError is a bug and reported as one (exit 70).
    """
    if e.filename is not None or e.errno not in _STDOUT_ERRNOS:
        if os.environ.get("KCORO_STREAM_DEBUG"):
            raise e
        _fail(f"internal error: {type(e).__name__}: {e} (set KCORO_STREAM_DEBUG=1 for a traceback)", 70)
    try:  # the interpreter's final flush must not fail again ("Exception ignored ...")
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
    if isinstance(e, BrokenPipeError):
        sys.exit(0)  # the reader left (| head): nothing to report
    _fail(f"cannot write to standard output ({e.strerror or e})", 1)


def main() -> None:
    code: Any = 0
    try:
        cli(prog_name="kcoro-stream")
    except SystemExit as e:
        code = e.code
    except OSError as e:
        _stdout_failed(e)
    try:
        sys.stdout.flush()
    except OSError as e:
        _stdout_failed(e)
    sys.exit(code)


if __name__ == "__main__":
    main()
