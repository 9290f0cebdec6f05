"""``runs prune``: retention for a runs directory, careful about what it deletes.

Only a *recognizable* run directory is ever removed: a real directory (not a
symlink) directly under RUNS_DIR holding our summary.json or event-log
segments whose header carries the log's magic, and whose ``writer.lock`` no
live monitor holds (a run being recorded is never pruned). Anything else is
left alone and not counted. A run's age is its summary's start time, else
the newest file's mtime (a run killed before writing its summary).
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .._files import lock_holder, read_head
from ..errors import LogError, UsageError
from ..eventlog._format import SEGMENT_MAGIC
from ..eventlog._writer import LOCK_NAME
from ..records import SUMMARY_NAME, RecordError, read_summary

__all__ = ["PruneChoice", "RunDir", "choose_prunes", "parse_age", "prune"]


def parse_age(text: str) -> float:
    """``30d``, ``2w``, ``12h``, ``90m``, ``45s`` → seconds; a usage error names --older-than."""
    import re

    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([wdhms])\s*", text.lower())
    if not m:
        raise UsageError(f"--older-than: expected an age like 30d, 2w, 12h, 90m, got {text!r}")
    return float(m.group(1)) * {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}[m.group(2)]


@dataclass
class RunDir:
    path: Path
    started: float  # seconds since the epoch


@dataclass
class PruneChoice:
    delete: list[RunDir] = field(default_factory=list)
    keep: list[RunDir] = field(default_factory=list)
    in_use: list[Path] = field(default_factory=list)


def _summary_start(d: Path) -> float | None:
    try:
        started = read_summary(d / SUMMARY_NAME).started
    except RecordError:  # none, a FIFO, a huge, damaged or foreign file: not our summary
        return None
    try:
        return None if started is None else datetime.fromisoformat(started.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _has_log(d: Path, names: list[str]) -> bool:
    for n in names:
        if n.startswith("segment-") and n.endswith(".kcslog"):
            try:
                if read_head(d / n, len(SEGMENT_MAGIC)) == SEGMENT_MAGIC:
                    return True
            except OSError:  # a FIFO or device named like a segment is not one
                continue
    return False


def _locked(d: Path) -> bool:
    """True when a monitor holds the run's writer lock (it is recording now)."""
    return lock_holder(d / LOCK_NAME) is not None


def _run_dir(d: Path) -> RunDir | None:
    if d.is_symlink() or not d.is_dir():
        return None
    try:
        names = os.listdir(d)
    except OSError:
        return None
    started = _summary_start(d) if SUMMARY_NAME in names else None
    if started is None and not _has_log(d, names):
        return None
    if started is None:
        started = max((os.lstat(d / n).st_mtime for n in names), default=os.lstat(d).st_mtime)
    return RunDir(d, started)


def choose_prunes(
    runs_dir: Path, keep: int | None, older_than_s: float | None, now: float | None = None
) -> PruneChoice:
    """Which run directories of ``runs_dir`` go: beyond the newest ``keep`` and (if given) older than
    ``older_than_s``."""
    if keep is None and older_than_s is None:
        raise UsageError("runs prune: give --keep N or --older-than AGE (or both)")
    if keep is not None and keep < 0:
        raise UsageError(f"--keep: expected a count ≥ 0, got {keep}")
    if not runs_dir.is_dir():
        raise UsageError(f"{runs_dir}: {'not a directory' if runs_dir.exists() else 'no such directory'}")
    now = time.time() if now is None else now
    choice = PruneChoice()
    runs: list[RunDir] = []
    for e in sorted(runs_dir.iterdir()):
        r = _run_dir(e)
        if r is None:
            continue
        if _locked(e):
            choice.in_use.append(e)
            continue
        runs.append(r)
    runs.sort(key=lambda r: r.started, reverse=True)
    for i, r in enumerate(runs):
        beyond = keep is None or i >= keep
        old = older_than_s is None or now - r.started > older_than_s
        (choice.delete if beyond and old else choice.keep).append(r)
    return choice


def prune(choice: PruneChoice) -> list[Path]:
    """Delete the chosen directories (a symlink inside is removed, never followed)."""
    gone = []
    for r in choice.delete:
        try:
            shutil.rmtree(r.path)
        except OSError as e:
            raise LogError(f"{e.filename or r.path}: cannot delete: {e.strerror or e}") from None
        gone.append(r.path)
    return gone
