"""``ctl``: one JSON-RPC call to a live run's control socket (kcoro_stream.control)."""

from __future__ import annotations

from pathlib import Path

import click

from ._common import CONTEXT, duration


@click.command(context_settings=CONTEXT)
@click.argument("target", metavar="RUN_DIR|SOCKET", type=click.Path(path_type=Path))
@click.argument("method")
@click.argument("params", nargs=-1, metavar="[VALUE | key=value ...]")
@click.option("--timeout", default="30s", show_default=True, help="How long to wait for the answer.")
@click.option("--wait", metavar="DURATION", help="First wait this long for the run to listen and start.")
def ctl(target: Path, method: str, params: tuple[str, ...], timeout: str, wait: str | None) -> int:
    """Steer a live run: one JSON-RPC call to its control socket; prints the JSON result.

    \b
    ctl runs/ID status            ctl runs/ID set_interval 20ms
    ctl runs/ID pause | resume    ctl runs/ID mark phase-2
    ctl runs/ID set_knob batch=1  ctl runs/ID set_rule 'slow: tasks_per_s < 1000'
    ctl runs/ID methods           (every method, its params, the producer's knobs)

    Exit 0 with a result, 1 on an error answer or when no run listens, 2 on usage.
    """
    import json

    from ..control import build_params, call, wait_ready

    seconds = duration(timeout, "--timeout") or 30.0
    args = build_params(params)
    if wait is not None:
        wait_ready(target, duration(wait, "--wait") or 0.0)
    result = call(target, method, args, timeout_s=seconds)
    click.echo(json.dumps(result, indent=2, sort_keys=True))
    return 0
