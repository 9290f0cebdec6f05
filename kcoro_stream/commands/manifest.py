"""``manifest plan|check|run``: run-profile manifests (kcoro_stream.manifest)."""

from __future__ import annotations

from pathlib import Path

import click

from ._common import CONTEXT
from ._options import config_option


@click.group("manifest", context_settings=CONTEXT)
def manifest_group() -> None:
    """Run-profile manifests (YAML): plan, check and run steps with sweeps, warm-ups and repeats."""


@manifest_group.command("plan")
@click.argument("file", type=click.Path(path_type=Path))
@config_option
def manifest_plan(file: Path, config_path: Path | None) -> int:
    """Print the expanded runs of FILE (nothing runs)."""
    from ..manifest import load_manifest, plan_text

    click.echo(plan_text(load_manifest(file, config_path)))
    return 0


@manifest_group.command("check")
@click.argument("file", type=click.Path(path_type=Path))
@config_option
def manifest_check(file: Path, config_path: Path | None) -> int:
    """Validate FILE: keys, types, modes, matrices, pipelines (exit 2 if bad)."""
    from ..manifest import load_manifest

    m = load_manifest(file, config_path)
    click.echo(f"{file}: ok ({len(m.runs)} run(s))")
    return 0


@manifest_group.command("run")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--out-dir", type=click.Path(path_type=Path), required=True, help="The results directory.")
@click.option("--force", is_flag=True, help="Run again the runs that already finished ok in --out-dir.")
@config_option
def manifest_run(file: Path, out_dir: Path, force: bool, config_path: Path | None) -> int:
    """Run FILE's runs in order into --out-dir (one run directory each, index.json); exit 1 if any failed."""
    from ..manifest import load_manifest, run_manifest, stderr_progress

    m = load_manifest(file, config_path)
    result = run_manifest(m, out_dir, force=force, progress=stderr_progress())
    click.echo(
        f"manifest {m.name}: {result.ran} run(s), {result.skipped} already done, {result.failed} failed"
        + (", interrupted" if result.interrupted else ""),
        err=True,
    )
    return int(result.exit_code)
