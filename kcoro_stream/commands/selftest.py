"""``selftest``: scripted workloads with known counts through the whole monitor (kcoro_stream.selftest)."""

from __future__ import annotations

import click

from ._common import CONTEXT


@click.command(context_settings=CONTEXT)
@click.option(
    "--seed", type=int, default=1, show_default=True, help="Workload seed (same seed, same totals)."
)
@click.option("--quick", is_flag=True, help="Smaller workloads, the same checks (under 20 s).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of the table.")
@click.option(
    "--judges",
    is_flag=True,
    help="Instead: scripted faults and steady runs; per judge, what fired against what should have (~2 min).",
)
def selftest(seed: int, quick: bool, as_json: bool, judges: bool) -> int:
    """Run scripted workloads with known counts; check every derived metric (exit 0 pass, 1 fail)."""
    from ..selftest import render_table, run_judges_selftest, run_selftest

    progress = None if as_json else (lambda step: click.echo(f"selftest: {step}", err=True))
    result = run_judges_selftest(progress) if judges else run_selftest(seed, quick, progress=progress)
    if as_json:
        import json

        click.echo(json.dumps(result.to_json(), indent=None))
    else:
        click.echo(render_table(result))
    return int(result.exit_code)
