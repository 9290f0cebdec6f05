"""What this installation has: ``pipelines``, ``list`` (sources, operators, sinks), and ``bench``
(the native benchmark alone)."""

from __future__ import annotations

import inspect

import click

from ..errors import KcoroStreamError, MissingExtra
from ._common import CONTEXT


@click.command("pipelines", context_settings=CONTEXT)
def pipelines_() -> int:
    """The pipelines kcoro-stream ships (run one by name: kcoro-stream run latency)."""
    from ..pipeline import shipped_pipelines

    found = shipped_pipelines()
    if not found:
        raise KcoroStreamError("this installation ships no pipelines/ (a broken install?)")
    for name, (_, doc) in found.items():
        click.echo(f"{name:<10} {doc}")
    return 0


@click.command("list", context_settings=CONTEXT)
@click.argument("pipeline", required=False)
def list_(pipeline: str | None) -> int:
    """Sources, operators and sinks this installation provides; with PIPELINE (a file or a shipped
    name), also the metrics and event types it declares (kcoro_stream.analysis)."""
    from .. import ops
    from ..sinks import sink_class, sink_names
    from ..sources import source_class, source_names

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
    if pipeline is not None:
        _list_declared(pipeline)
    return 0


def _list_declared(spec: str) -> None:
    from ..pipeline import load_pipeline, resolve_pipeline

    path = resolve_pipeline(spec)
    meta = load_pipeline(path).declarations()
    click.echo(f"declared by {path}:" + ("" if meta is not None else " nothing"))
    if meta is None:
        return
    for m in meta.metrics:
        arrow = "higher is better" if m.higher_is_better else "lower is better"
        click.echo(f"  metric {m.name:<20} v{m.version}  {m.unit:<14} {arrow:<17} {m.help}")
    for e in meta.events:
        fields = ", ".join(f"{k}: {v}" for k, v in e.fields.items())
        click.echo(f"  event  {e.name:<20} v{e.version}  {{{fields}}}  {e.help}")


@click.command(
    context_settings={
        **CONTEXT,
        "ignore_unknown_options": True,
        "allow_extra_args": True,
        "help_option_names": [],
    }
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def bench(args: tuple[str, ...]) -> int:
    """Run the native benchmark directly (its own flags; --help for them)."""
    from ..sources.bench import main as bench_main

    return int(bench_main(list(args)))
