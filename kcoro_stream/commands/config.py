"""``config show|check``: the layered configuration (kcoro_stream.config)."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import UsageError
from ._common import CONTEXT
from ._options import config_option


@click.group("config", context_settings=CONTEXT)
def config_group() -> None:
    """The layered configuration: show the effective values and their origins, check a file."""


@config_group.command("show")
@config_option
@click.option("--run", "run_dir", type=click.Path(path_type=Path), help="Show what RUN_DIR recorded instead.")
@click.option("--set-only", is_flag=True, help="Only values that do not come from the defaults.")
def config_show(config_path: Path | None, run_dir: Path | None, set_only: bool) -> int:
    """Every value of the effective configuration with its origin (file:line, env, default)."""
    from ..config import Effective, recorded_config, resolve, show_text, standard_layers

    if run_dir is not None:
        rec = recorded_config(run_dir)
        if rec is None or not isinstance(rec.get("config"), dict):
            raise UsageError(f"{run_dir}: no recorded configuration in this run's log")
        click.echo(show_text(resolve([Effective.from_builtins(rec["config"])]), only_set=set_only))
        return 0
    low, high = standard_layers(config_path)
    click.echo(show_text(resolve([*low, *high]), only_set=set_only))
    return 0


@config_group.command("check")
@click.argument("file", type=click.Path(path_type=Path))
def config_check(file: Path) -> int:
    """Validate a configuration file: unknown keys, types, durations, rules (exit 2 if bad)."""
    from ..config import check_text

    click.echo(check_text(file))
    return 0
