"""``log info|cat|repair`` (kcoro_stream.eventlog) and ``validate`` (kcoro_stream.validate)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ._common import CONTEXT, allow_damaged_option, duration, warn


@click.group(context_settings=CONTEXT)
def log() -> None:
    """Inspect recorded event logs."""


@log.command("info")
@click.argument("run_dir", type=click.Path(path_type=Path))
def log_info(run_dir: Path) -> int:
    """Segments, frames, events, time range and losses of a run."""
    from ..eventlog import info_text

    click.echo(info_text(run_dir))
    return 0


@log.command("cat")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--from", "from_", metavar="T", help="Start T after the first event.")
@click.option("--to", metavar="T", help="Stop T after the first event.")
@allow_damaged_option
def log_cat(run_dir: Path, from_: str | None, to: str | None, allow_damaged: bool) -> int:
    """Every recorded event as one JSON object per line."""
    from ..eventlog import cat_ndjson, open_log

    lo_s, hi_s = duration(from_, "--from"), duration(to, "--to")
    lo = hi = None
    if lo_s is not None or hi_s is not None:
        span = open_log(run_dir).time_range()
        first = span[0] if span else 0
        lo = None if lo_s is None else first + int(lo_s * 1e9)
        hi = None if hi_s is None else first + int(hi_s * 1e9)
    try:
        cat_ndjson(run_dir, sys.stdout.buffer, lo, hi, on_problem=warn, allow_damaged=allow_damaged)
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


@log.command("repair")
@click.argument("run_dir", type=click.Path(path_type=Path))
def log_repair(run_dir: Path) -> int:
    """Cut torn tails left by a crash (reports what was cut)."""
    from ..eventlog import repair

    problems = repair(run_dir)
    for p in problems:
        click.echo(str(p))
    click.echo(f"{len(problems)} problem(s) repaired" if problems else "nothing to repair")
    return 0


@click.command(context_settings=CONTEXT)
@click.argument("file", type=click.Path(path_type=Path))
def validate(file: Path) -> int:
    """Check an NDJSON file (plain, .gz, .zst) against the derived-event schema."""
    from ..validate import format_report, validate_file

    report = validate_file(file)
    text = format_report(report)
    if report.problems:
        click.echo(text, err=True)
        return 1
    click.echo(text)
    return 0
