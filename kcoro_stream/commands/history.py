"""``history [list|export]`` and ``runs prune``: every recorded run's summary.json (kcoro_stream.history)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import click

from ..errors import UsageError
from ._common import CONTEXT, warn


def _default_runs_dirs(dirs: tuple[Path, ...]) -> list[Path]:
    from ..runloop import RUNS_DIR

    return list(dirs) or [RUNS_DIR]


def _history_warnings(result: Any) -> None:
    for k in result.skipped:
        warn(f"{k.file}: {k.reason}; skipped")
    if result.without_summary:
        n = len(result.without_summary)
        warn(
            f"{n} run director{'y has' if n == 1 else 'ies have'} no summary.json (older or killed runs), e.g. "
            f"{result.without_summary[0]}; not listed"
        )


class HistoryGroup(click.Group):
    """``history [RUNS_DIR…]`` lists; ``history export …`` exports: a first word that is not a
    subcommand means ``list``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("-h", "--help")):
            args = ["list", *args]
        return super().parse_args(ctx, args)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """``history --help`` also lists the options of ``list``, the command a bare ``history`` runs."""
        super().format_options(ctx, formatter)
        listing = self.commands.get("list")
        if listing is None:
            return
        sub = click.Context(listing, info_name="list", parent=ctx)
        rows = [
            r
            for p in listing.get_params(sub)
            if isinstance(p, click.Option) and p.name != "help" and (r := p.get_help_record(sub)) is not None
        ]
        with formatter.section("Options of history [list] (what a bare `history` runs)"):
            formatter.write_dl(rows)


def _history_filters(f: Callable[..., Any], metric_default: str | None = None) -> Callable[..., Any]:
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
        default=metric_default,
        show_default=metric_default is not None,
        help="The figure to list (any key of summary.json's metrics)"
        + (
            "."
            if metric_default
            else "; default: each run's headline by mode (channel msgs_per_s; "
            "tasks, mixed tasks_per_s; dual each pool's own, one series per pool)."
        ),
    )(f)
    return click.argument("dirs", nargs=-1, type=click.Path(path_type=Path))(f)


@click.group("history", cls=HistoryGroup, context_settings=CONTEXT)
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
@click.option(
    "--pipeline",
    metavar="FILE",
    help="With --metric: runs whose summary lacks it are replayed through FILE (a file or shipped name); "
    "the result is cached beside each run (RUN_DIR/analyses/).",
)
def history_list(
    dirs: tuple[Path, ...],
    metric: str | None,
    where: tuple[str, ...],
    changes: bool,
    alpha: float | None,
    last: int | None,
    as_json: bool,
    pipeline: str | None,
) -> int:
    """List runs by series (host, mode, knobs) with the metric's trend."""
    from ..history import history

    chosen: dict[str, Any] = {} if alpha is None else {"alpha": alpha}
    if pipeline is not None:
        if metric is None:
            raise UsageError(
                "--pipeline: give the --metric it computes (e.g. --metric tasks:tasks_per_cpu_s)"
            )
        from ..replays import pipeline_metrics

        name, spec = metric, pipeline
        chosen["add_metrics"] = lambda files: pipeline_metrics(files, spec, name)
    result = history(
        _default_runs_dirs(dirs), metric, list(where), changes=changes, as_json=as_json, last=last, **chosen
    )
    click.echo(result.text)
    _history_warnings(result)
    return int(result.exit_code)


@history_group.command("export", context_settings=CONTEXT)
@partial(_history_filters, metric_default="tasks_per_s")
@click.option("--parquet", "to", type=click.Path(path_type=Path), required=True, help="The Parquet file.")
@click.option("--force", is_flag=True, help="Replace the file if it exists.")
def history_export(dirs: tuple[Path, ...], metric: str, where: tuple[str, ...], to: Path, force: bool) -> int:
    """Every listed run as one row of a Parquet file (for DuckDB, pandas, polars)."""
    from ..history import export_parquet

    result = export_parquet(_default_runs_dirs(dirs), to, metric, list(where), force=force)
    click.echo(result.text, err=True)
    _history_warnings(result)
    return int(result.exit_code)


@click.group("runs", context_settings=CONTEXT)
def runs_group() -> None:
    """Manage run directories."""


@runs_group.command("prune")
@click.argument("runs_dir", required=False, type=click.Path(path_type=Path))
@click.option("--keep", type=int, metavar="N", help="Keep the N newest runs.")
@click.option("--older-than", metavar="AGE", help="Only runs older than AGE (30d, 2w, 12h).")
@click.option("--yes", is_flag=True, help="Delete (without it: only say what would go).")
def runs_prune(runs_dir: Path | None, keep: int | None, older_than: str | None, yes: bool) -> int:
    """Delete old run directories of RUNS_DIR (default runs/); a dry run unless --yes.

    Only directories that are recognizably runs (our summary.json or log segments) and not being
    recorded are touched. Exit 0; 1 a directory could not be deleted; 2 bad input.
    """
    from ..history import choose_prunes, parse_age, prune

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
