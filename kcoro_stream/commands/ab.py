"""``ab A B``: a one-line A/B of the benchmark (two knob sets, two programs or two installs), repeated
until decisive, then the verdict — what ``hyperfine 'A' 'B'`` is to commands.

::

    ab 'FLAGS_A' 'FLAGS_B' ──► a manifest (variants a, b; repeats: auto) in --out-dir/ab.yaml
       ab --exec 'PROG_A' 'PROG_B'        ──► manifest run (interleaved pairs until decided or budget)
       ab --python PY_A PY_B              ──► compare (the same verdicts, levels and exit codes)
"""

from __future__ import annotations

import json
import shlex
import time
from pathlib import Path
from typing import Any

import click

from ..errors import UsageError
from ._common import CONTEXT
from ._options import config_option

__all__ = ["ab", "ab_manifest", "flags_to_knobs"]


def flags_to_knobs(text: str, which: str) -> dict[str, str]:
    """``--batch 16 --body-cost=8`` → {"batch": "16", "body_cost": "8"} (values checked by the manifest)."""
    words = shlex.split(text)
    out: dict[str, str] = {}
    i = 0
    while i < len(words):
        w = words[i]
        if not w.startswith("--") or len(w) < 3:
            raise UsageError(f"ab {which}: expected benchmark flags like --batch 16, got {w!r}")
        name, eq, value = w[2:].partition("=")
        if not eq:
            if i + 1 >= len(words):
                raise UsageError(f"ab {which}: {w} needs a value")
            value = words[i + 1]
            i += 1
        out[name.replace("-", "_")] = value
        i += 1
    return out


def _variant(kind: str, text: str, which: str) -> dict[str, Any]:
    if kind == "exec":
        argv = shlex.split(text)
        if not argv:
            raise UsageError(f"ab {which}: expected a command")
        return {"exec": argv}
    if kind == "python":
        if not Path(text).is_file():
            raise UsageError(f"ab {which}: {text}: no such interpreter")
        return {"python": str(Path(text).absolute())}
    knobs: dict[str, Any] = {}
    for k, v in flags_to_knobs(text, which).items():
        try:
            knobs[k] = json.loads(v)  # numbers and booleans as YAML would read them
        except ValueError:
            knobs[k] = v
    return {"bench": knobs}


def ab_manifest(
    a: str, b: str, *, kind: str, mode: str, duration: str, max_repeats: int, budget: str, workers: int | None
) -> str:
    """The manifest ``ab`` runs (JSON is YAML: every value quoted exactly)."""
    defaults: dict[str, Any] = {
        "duration": duration, "repeats": "auto", "max_repeats": max_repeats, "budget": budget,
    }  # fmt: skip
    if workers is not None:
        defaults["bench"] = {"workers": workers}
    body = {
        "manifest": "ab",
        "defaults": defaults,
        "variants": {"a": _variant(kind, a, "A"), "b": _variant(kind, b, "B")},
        "steps": [{"name": mode, "mode": mode}],
    }
    return json.dumps(body, indent=1) + "\n"


# A and B start with "--" (benchmark flags): taken as the arguments they are, not as ab's options.
@click.command("ab", context_settings={**CONTEXT, "ignore_unknown_options": True})
@click.argument("a")
@click.argument("b")
@click.option("--exec", "kind", flag_value="exec", help="A and B are programs (a producer each; '{ring}').")
@click.option("--python", "kind", flag_value="python", help="A and B are two installs' interpreters.")
@click.option(
    "--mode", default="tasks", show_default=True, type=click.Choice(["channel", "tasks", "mixed", "dual"])
)
@click.option("--duration", default="2s", show_default=True, help="Each run's length.")
@click.option("--workers", type=int, help="Benchmark workers (default: the configuration's).")
@click.option("--max-repeats", default=30, show_default=True, help="At most this many pairs.")
@click.option("--budget", default="3m", show_default=True, help="Wall time for the runs.")
@click.option("--threshold", default="5%", show_default=True, help="The smallest change that counts.")
@click.option("--out-dir", type=click.Path(path_type=Path), help="The results directory [build/ab-TIME].")
@click.option("--json", "as_json", is_flag=True, help="JSON on stdout instead of the table.")
@click.option("--fail-on-inconclusive", is_flag=True, help="Exit 1 when the A/B is left inconclusive.")
@config_option
def ab(
    a: str,
    b: str,
    kind: str | None,
    mode: str,
    duration: str,
    workers: int | None,
    max_repeats: int,
    budget: str,
    threshold: str,
    out_dir: Path | None,
    as_json: bool,
    fail_on_inconclusive: bool,
    config_path: Path | None,
) -> int:
    """A/B of the benchmark: knob flags A and B ('--batch 16'), or two programs (--exec), or two
    installs (--python), in interleaved pairs until decided or --budget is spent; then the verdict.

    Exit as compare: 0 unchanged or better (inconclusive too, said loudly), 1 B regressed, 2 trouble.
    """
    from ..compare import parse_threshold
    from ..compare._paths import ab_comparisons
    from ..compare._results import load_results
    from ..manifest import load_manifest, run_manifest, stderr_progress
    from .results import show_verdicts

    limit = parse_threshold(threshold)
    out = out_dir or Path("build") / time.strftime("ab-%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    spec = out / "ab.yaml"
    spec.write_text(
        ab_manifest(
            a, b, kind=kind or "flags", mode=mode, duration=duration, max_repeats=max_repeats,
            budget=budget, workers=workers,
        )
    )  # fmt: skip
    m = load_manifest(spec, config_path)
    result = run_manifest(m, out, progress=stderr_progress())
    click.echo(f"ab: {result.ran} run(s) in {out} ({result.failed} failed)", err=True)
    if result.interrupted:
        return int(result.exit_code)
    comparisons = ab_comparisons(load_results(out), limit)
    return show_verdicts(
        comparisons, as_json=as_json, markdown=False, fail_on_inconclusive=fail_on_inconclusive
    )
