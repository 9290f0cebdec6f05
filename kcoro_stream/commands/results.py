"""Commands over recorded runs and results directories: ``report``, ``export chrome``,
``baseline save`` and ``compare`` (kcoro_stream.report, .trace, .compare). None of them runs a
benchmark."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..errors import KcoroStreamError, UsageError
from ._common import CONTEXT, allow_damaged_option


@click.command("report", context_settings=CONTEXT)
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="The report directory.")
@click.option("--force", is_flag=True, help="Replace --out if it exists.")
@allow_damaged_option
@click.option(
    "--pipeline",
    metavar="FILE",
    help="Replay the runs through this pipeline (a file or shipped name): its declared metrics are charted.",
)
def report_cmd(
    paths: tuple[Path, ...], out: Path, force: bool, allow_damaged: bool, pipeline: str | None
) -> int:
    """Charts (PNG, SVG), summary.md and an offline report.html for run or results directories."""
    from ..pipeline import resolve_pipeline
    from ..report import build_report

    file = resolve_pipeline(pipeline) if pipeline is not None else None
    r = build_report(list(paths), out, force=force, allow_damaged=allow_damaged, pipeline=file)
    click.echo(
        f"{r.out}: {len(r.charts)} chart(s) from {r.runs} run(s); open {r.out / 'report.html'}", err=True
    )
    return 0


@click.group("export", context_settings=CONTEXT)
def export_group() -> None:
    """Export a recorded run for other tools (trace viewers)."""


@export_group.command("chrome")
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="The trace file (JSON).")
@click.option("--force", is_flag=True, help="Replace --out if it exists.")
@allow_damaged_option
def export_chrome_cmd(run: Path, out: Path, force: bool, allow_damaged: bool) -> int:
    """RUN (a run directory) as Chrome trace-event JSON: open it in ui.perfetto.dev or chrome://tracing.

    Exit 0 written, 1 --out exists (without --force) or frames were lost inside the log (without
    --allow-damaged), 2 RUN is not a readable run or --out cannot be written.
    """
    from ..trace import export_chrome

    r = export_chrome(run, out, force=force, allow_damaged=allow_damaged)
    click.echo(
        f"{r.out}: {r.counter_tracks} counter track(s), {r.instants} instant(s), {r.slices} slice(s)",
        err=True,
    )
    return 0


@click.group("baseline", context_settings=CONTEXT)
def baseline_group() -> None:
    """Baselines for ``compare``: every repeat's value per step and metric, with fingerprints."""


@baseline_group.command("save")
@click.argument("results", type=click.Path(path_type=Path))
@click.option("--to", "to", type=click.Path(path_type=Path), required=True, help="The baseline file (JSON).")
@click.option("--variant", help="Which variant of an A/B results directory [the first].")
def baseline_save(results: Path, to: Path, variant: str | None) -> int:
    """Keep RESULTS' per-repeat values, fingerprints and noise fingerprint in --to FILE.json."""
    from ..compare import baseline_from_results, load_results, save_baseline

    b = baseline_from_results(load_results(results), variant)
    save_baseline(b, to)
    n = sum(len(v) for m in b.steps.values() for v in m.values())
    click.echo(f"{to}: {len(b.steps)} step(s), {n} value(s) from {b.source}", err=True)
    return 0


@click.command("compare", context_settings=CONTEXT)
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
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    metavar="NAME",
    help="Also gate NAME in every pool (repeatable): a pipeline's declared metric in its declared direction.",
)
def compare_cmd(
    paths: tuple[Path, ...],
    threshold: str,
    as_json: bool,
    markdown: bool,
    variants: tuple[str, ...],
    gate_latency: str | None,
    fail_on_inconclusive: bool,
    metrics: tuple[str, ...],
) -> int:
    """Verdicts per step and metric: BASELINE RESULTS, RESULTS_A RESULTS_B, or one A/B RESULTS.

    Exit 0 unchanged or better (inconclusive too, with a loud line on stderr), 1 a gated metric
    regressed (or inconclusive with --fail-on-inconclusive), 2 bad input or trouble (a gated metric
    missing, zero or NaN on either side).
    """
    from ..compare import compare_paths, parse_threshold

    try:
        comparisons = compare_paths(
            list(paths),
            parse_threshold(threshold),
            list(variants),
            parse_threshold(gate_latency, "--gate-latency") if gate_latency else None,
            metrics,
        )
    except KcoroStreamError as e:  # every trouble is exit 2 for a verdict command (as diff)
        raise UsageError(str(e)) from None
    return show_verdicts(
        comparisons, as_json=as_json, markdown=markdown, fail_on_inconclusive=fail_on_inconclusive
    )


def show_verdicts(
    comparisons: list[Any], *, as_json: bool, markdown: bool, fail_on_inconclusive: bool
) -> int:
    """Print ``comparisons`` (table, Markdown or JSON; loud lines on stderr) and return the exit code."""
    from ..compare import to_json, to_markdown, to_table
    from ..compare._render import loud_lines

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
