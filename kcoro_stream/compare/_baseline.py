"""Baselines: a results directory's per-repeat values kept in one JSON file.

::

    RESULTS/index.json ──save_baseline──► FILE.json {format, version, analysis_version, created, source,
                                                      noise, steps: {STEP: {fingerprint, metrics: {M: [..]}}}}
    FILE.json ──load_baseline──► Baseline (a corrupt or foreign file: one-line UsageError, exit 2)

``analysis_version`` is the derived schema the summaries were made with; a
baseline from another one is refused (its numbers may mean something else).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._files import publish
from ..errors import UsageError
from ..events import DERIVED_SCHEMA
from ._noise import noise_fingerprint
from ._results import Results, repeat_values, step_key

__all__ = ["FORMAT", "Baseline", "baseline_from_results", "load_baseline", "save_baseline"]

FORMAT = "kcoro-stream-baseline"
VERSION = 1


@dataclass
class Baseline:
    source: str
    noise: dict[str, Any] | None
    steps: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    fingerprints: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    analysis_version: int = DERIVED_SCHEMA


def step_fingerprints(res: Results, variant: str) -> dict[str, dict[str, Any] | None]:
    out: dict[str, dict[str, Any] | None] = {}
    for r in res.runs:
        if r.variant == variant and r.state == "ok" and r.fingerprint:
            out.setdefault(step_key(r.step, r.params), r.fingerprint)
    return out


def baseline_from_results(res: Results, variant: str | None = None, *, latency: bool = True) -> Baseline:
    """One variant's values (the first one when not named) as a Baseline."""
    variants = res.variants
    if variant is None:
        variant = variants[0] if variants else ""
    elif variant not in variants:
        raise UsageError(f"{res.path}: no variant {variant!r} (there are: {', '.join(variants) or 'none'})")
    values = {step: m for (v, step), m in repeat_values(res, latency=latency).items() if v == variant}
    if not values:
        raise UsageError(f"{res.path}: no run ended ok: nothing to keep")
    return Baseline(
        source=str(res.path) + (f" (variant {variant})" if variant else ""),
        noise=res.noise or noise_fingerprint(),
        steps=values,
        fingerprints=step_fingerprints(res, variant),
    )


def save_baseline(b: Baseline, to: Path) -> None:
    """Write ``to`` atomically (tmp + rename)."""
    body = {
        "format": FORMAT,
        "version": VERSION,
        "analysis_version": b.analysis_version,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "source": b.source,
        "noise": b.noise,
        "steps": {
            s: {"fingerprint": b.fingerprints.get(s), "metrics": m} for s, m in sorted(b.steps.items())
        },
    }
    try:
        publish(to, (json.dumps(body, indent=1) + "\n").encode())
    except OSError as e:
        raise UsageError(f"{to}: cannot write the baseline: {e.strerror or e}") from None


def load_baseline(path: Path) -> Baseline:
    """Read and check ``path``; anything wrong is one line naming the file and the field."""
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such baseline") from None
    except OSError as e:
        raise UsageError(f"{path}: cannot read: {e.strerror or e}") from None
    except (UnicodeDecodeError, ValueError) as e:
        raise UsageError(f"{path}: corrupt baseline: not JSON ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UsageError(f"{path}: not a kcoro-stream baseline (format is not {FORMAT!r})")
    if data.get("version") != VERSION:
        raise UsageError(
            f"{path}: baseline version {data.get('version')!r}; this kcoro-stream reads {VERSION}"
        )
    if data.get("analysis_version") != DERIVED_SCHEMA:
        raise UsageError(
            f"{path}: made with analysis version {data.get('analysis_version')!r}, "
            f"this kcoro-stream derives version {DERIVED_SCHEMA}: save a new baseline"
        )
    steps = data.get("steps")
    if not isinstance(steps, dict):
        raise UsageError(f"{path}: corrupt baseline: steps: expected an object")
    b = Baseline(source=str(data.get("source", path)), noise=data.get("noise"))
    for s, body in steps.items():
        metrics = body.get("metrics") if isinstance(body, dict) else None
        if not isinstance(metrics, dict):
            raise UsageError(f"{path}: corrupt baseline: steps.{s}.metrics: expected an object")
        for m, vals in metrics.items():
            if not isinstance(vals, list) or not all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in vals
            ):
                raise UsageError(
                    f"{path}: corrupt baseline: steps.{s}.metrics.{m}: expected a list of numbers"
                )
        b.steps[s] = {m: [float(v) for v in vals] for m, vals in metrics.items()}
        fp = body.get("fingerprint")
        b.fingerprints[s] = fp if isinstance(fp, dict) else None
    return b
