"""What several commands share: click settings, warnings, durations, playback speed, pipelines."""

from __future__ import annotations

from typing import Any

import click

from ..errors import UsageError

CONTEXT: dict[str, Any] = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


allow_damaged_option = click.option(
    "--allow-damaged",
    is_flag=True,
    help="A corrupt block inside the log: warn and go on without its frames (default: exit 1).",
)


def warn(problem: object) -> None:
    """One yellow warning line on stderr (the run or listing goes on)."""
    click.secho(f"kcoro-stream: warning: {problem}", fg="yellow", err=True)


def duration(value: str | None, flag: str) -> float | None:
    """'3', '3s', '250ms', '2m' → seconds (finite, not negative); errors name ``flag``."""
    if value is None:
        return None
    from ..config._resolve import parse_duration  # the one duration syntax (flags and config files)

    try:
        return parse_duration(value)
    except ValueError as e:
        raise UsageError(f"{flag}: {e}") from None


SPEED_MIN, SPEED_MAX = 0.01, 10_000.0


def speed(value: str) -> float | None:
    """``--speed``: 'max' → None (as fast as possible), '10x' / '0.5' → the factor."""
    v = value.strip().lower()
    if v == "max":
        return None
    try:
        out = float(v[:-1] if v.endswith("x") else v)
    except ValueError:
        raise UsageError(f"--speed: expected 'max' or a factor like 1x or 10x, got {value!r}") from None
    if not (SPEED_MIN <= out <= SPEED_MAX):  # also false for nan
        raise UsageError(
            f"--speed: must be between {SPEED_MIN:g}x and {SPEED_MAX:g}x (or max), got {value!r}"
        )
    return out


def pipeline_or_default(spec: str | None) -> Any:
    """A pipeline file, a shipped pipeline by name, or (None) the shipped default."""
    from ..pipeline import load_pipeline, resolve_pipeline

    return load_pipeline(resolve_pipeline(spec))
