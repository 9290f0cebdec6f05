"""Options several commands share: outputs and surfaces, the control socket, ``--config``, and the
benchmark's knobs as ``run`` options (ranges checked here, before anything starts)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from ..knobs import FLAG_KNOBS, INT_KNOBS

F = Callable[..., Any]


def _stack(f: F, options: Sequence[Callable[[F], F]]) -> F:
    for opt in reversed(options):
        f = opt(f)
    return f


def sink_options(f: F) -> F:
    """The outputs of ``run``, ``attach`` and ``replay`` (read by ``OutputFlags.from_kw``)."""
    return _stack(
        f,
        [
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
                "--csv",
                "csv",
                metavar="PATH",
                help="One CSV row per sample to PATH, whatever its suffix (.gz/.zst compress; - for stdout).",
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
            click.option(
                "--allow-remote", is_flag=True, help="Allow servers to bind non-loopback addresses."
            ),
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
        ],
    )


def _path_option(flag: str, dest: str, help: str) -> Callable[[F], F]:
    return click.option(flag, dest, type=click.Path(path_type=Path), metavar="PATH", help=help)


def control_options(f: F) -> F:
    f = click.option("--no-control", is_flag=True, help="No control socket (kcoro-stream ctl).")(f)
    return _path_option(
        "--control", "control_path", "Control socket path (default: control.sock in the run directory)."
    )(f)


def max_delay_option(f: F) -> F:
    return click.option(
        "--max-delay",
        metavar="T",
        help="Wake at most T after a frame arrives (0: for every frame, up to 250ms). Default: by the outputs: "
        "0 with stdout, 100ms with a dashboard or page, 250ms otherwise. A filling ring, a ctl request "
        "and a stop wake it at once.",
    )(f)


def config_option(f: F) -> F:
    return _path_option(
        "--config",
        "config_path",
        "A configuration file (TOML, or JSON by suffix) over the user's and the project's.",
    )(f)


class IntIn(click.ParamType):
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


# The benchmark's knobs as `run` options: (flags, range, help), from the one table (knobs.py;
# tests/test_cli.py checks it against native/bench/cli.c).
BENCH_INT_OPTIONS: tuple[tuple[tuple[str, ...], IntIn, str], ...] = tuple(
    (k.flags, IntIn(k.lo, k.hi, power_of_two=k.power_of_two), k.help) for k in INT_KNOBS
)
BENCH_FLAG_OPTIONS: tuple[tuple[str, str], ...] = FLAG_KNOBS
# Benchmark flags that are not `run` options: a usage error's hint says how to pass them.
BENCH_ONLY_FLAGS = ("--channel-kind", "--adaptive-max-ms")


def dest(flags: tuple[str, ...]) -> str:
    """The keyword click gives an option: its longest flag, without dashes, in snake case."""
    return max(flags, key=len).lstrip("-").replace("-", "_")


def bench_options(f: F) -> F:
    options = [click.option(*flags, type=t, help=h) for flags, t, h in BENCH_INT_OPTIONS]
    options += [click.option(flag, is_flag=True, default=None, help=h) for flag, h in BENCH_FLAG_OPTIONS]
    return _stack(f, options)


def bench_args(kw: Mapping[str, Any]) -> list[str]:
    """The benchmark flags the user gave, in the C parser's spelling."""
    args: list[str] = []
    for flags, _, _ in BENCH_INT_OPTIONS:
        value = kw[dest(flags)]
        if value is not None:
            args += [max(flags, key=len), str(value)]
    for flag, _ in BENCH_FLAG_OPTIONS:
        if kw[dest((flag,))]:
            args.append(flag)
    return args
