"""Replaying a history: several runs through one pipeline, in parallel, one output in run order.

::

    PATH… ──runs_of──► sorted run directories / old kcoro_mon files
        ──replay_many(jobs=N)──► N worker processes (fork), each: one run → its own NDJSON file
                                 (the same run loop, source and pipeline as ``replay RUN PIPELINE``)
        ──► --out FILE | stdout: the runs' lines concatenated in sorted run order (one ``meta`` line first)
        ──► --out-dir DIR: DIR/<run>.ndjson, one file per run

A run's lines are exactly what ``kcoro-stream replay RUN PIPELINE --out F``
writes (every derived line carries its run's ``run_id`` and wall-clock
``ts``); the combined output is their concatenation with the pipeline's
``meta`` line once at the top. A worker loads the pipeline file itself (a
pipeline holds the user's functions: nothing is pickled but paths).
A run that fails is named on stderr in one line; the others still count, and
the exit code is the first failure's (nothing is written to ``--out`` then).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import KcoroStreamError, UsageError, first_error
from .sinks._output import Output, open_output

__all__ = ["ReplayJob", "is_run_dir", "replay_many", "runs_of"]

META_PREFIX = b'{"type":"meta"'


def is_run_dir(d: Path) -> bool:
    """A directory holding an event log (segment files)."""
    try:
        return any(n.startswith("segment-") and n.endswith(".kcslog") for n in os.listdir(d))
    except OSError:
        return False


def runs_of(paths: Sequence[Path]) -> list[Path]:
    """Every run the paths name, sorted: a run directory or an old kcoro_mon file is itself; a runs or
    results directory is the run directories one level down. One line naming a path without runs."""
    runs: set[Path] = set()
    for p in paths:
        if not p.exists():
            raise UsageError(f"{p}: no such run directory, runs directory or file")
        if p.is_file() or is_run_dir(p):
            runs.add(p)
            continue
        try:
            found = [c for c in p.iterdir() if c.is_dir() and is_run_dir(c)]
        except OSError as e:
            raise UsageError(f"{p}: cannot list: {e.strerror or e}") from None
        if not found:
            raise UsageError(f"{p}: no run directory in it (a run has segment-*.kcslog files)")
        runs.update(found)
    return sorted(runs, key=str)


@dataclass(frozen=True)
class ReplayJob:
    """What every worker needs: paths and flags only (picklable)."""

    pipeline: str | None  # a file or shipped name (None: the default pipeline)
    allow_damaged: bool = False
    config_path: str | None = None
    from_s: float | None = None
    to_s: float | None = None


def replay_one(job: ReplayJob, run: Path, out: Path, temporary: bool = False) -> tuple[int, str]:
    """``replay RUN PIPELINE --out OUT`` in this process: (exit code, one line when it failed;
    ``temporary``: OUT is a part of the combined output, not named)."""
    import trio

    from .config import apply_to_replay
    from .pipeline import LegacyConfig, ReplayConfig, load_pipeline, resolve_pipeline
    from .runloop import RunOptions
    from .runloop import run as run_loop

    try:
        file = resolve_pipeline(job.pipeline)
        p = load_pipeline(file)
        kw = {"allow_damaged": job.allow_damaged, "config_path": job.config_path}
        derive, _ = apply_to_replay(kw, p, job.pipeline, run)
        opts = RunOptions(sinks=[{"sink": "ndjson", "path": str(out)}], declarations=p.declarations())
        source = (
            LegacyConfig(path=str(run))
            if run.is_file()
            else ReplayConfig(
                path=str(run), from_s=job.from_s, to_s=job.to_s, allow_damaged=job.allow_damaged
            )
        )
        return trio.run(run_loop, derive, source, opts).exit_code, ""
    except Exception as e:  # the run's error, in one line as the command line gives it (cli.py)
        err = first_error(e)
        if not isinstance(err, KcoroStreamError):
            raise
        notes = (
            []
            if temporary
            else list(dict.fromkeys([*getattr(err, "__notes__", ()), *getattr(e, "__notes__", ())]))
        )
        message = "; ".join([str(err), *notes])
        return err.exit_code, message if message.startswith(str(run)) else f"{run}: {message}"


def _names(runs: list[Path]) -> list[str]:
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise UsageError(f"--out-dir: two runs are named {dup!r}: replay them into separate directories")
    return names


def replay_many(
    runs: list[Path],
    job: ReplayJob,
    *,
    jobs: int,
    out: str | None = None,
    out_dir: Path | None = None,
    force: bool = False,
) -> int:
    """Replay ``runs`` (sorted) through ``job.pipeline`` with ``jobs`` processes; write ``out`` (a
    file, ``-`` or None: stdout) or one file per run in ``out_dir``. Returns the exit code."""
    if jobs < 1:
        raise UsageError(f"--jobs: expected at least 1, got {jobs}")
    names = _names(runs) if out_dir is not None else []
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        targets = [out_dir / f"{n.removesuffix('.gz').removesuffix('.zst')}.ndjson" for n in names]
        for t in targets:
            if t.exists() and not force:
                raise UsageError(f"{t}: exists (use --force to replace it)")
        work = targets
        tmp = None
    else:
        tmp = Path(tempfile.mkdtemp(prefix=".kcoro-replay-"))
        work = [tmp / f"{i:06d}.ndjson" for i in range(len(runs))]
        if out not in (None, "-") and os.path.lexists(str(out)) and not force:  # refused before any work
            raise KcoroStreamError(f"{out}: exists (use --force to replace it)")
    import multiprocessing  # only several runs need a process pool (not a one-run replay)
    from concurrent.futures import Future, ProcessPoolExecutor

    code = 0
    try:
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=min(jobs, len(runs)), mp_context=ctx) as pool:
            futures: list[Future[tuple[int, str]]] = [
                pool.submit(replay_one, job, run, w, tmp is not None)
                for run, w in zip(runs, work, strict=True)
            ]
            results = [f.result() for f in futures]
        for rc, message in results:
            if rc:
                print(f"kcoro-stream: {message}", file=sys.stderr)
                code = code or rc
        if tmp is not None and not code:  # nothing is written when a run failed
            _concatenate(work, open_output(out or "-", force=force))
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return code


def _concatenate(parts: list[Path], output: Output) -> None:
    """The runs' lines in order; the pipeline's ``meta`` line once, at the top."""
    first = True
    for part in parts:
        with part.open("rb") as f:
            head = f.readline()
            if head and (first or not head.startswith(META_PREFIX)):
                output.write(head)
            first = False
            while chunk := f.read(1 << 20):
                output.write(chunk)
    output.close()


def _cacheable(run_dir: Path) -> bool:
    """A run directory of this user's that it may write: others' or read-only ones are replayed only."""
    try:
        return run_dir.stat().st_uid == os.getuid() and os.access(run_dir, os.W_OK)
    except OSError:
        return False


def pipeline_metrics(files: list[Path], pipeline: str, metric: str) -> dict[str, dict[str, float]]:
    """``history --pipeline FILE --metric M``: for every summary.json whose run lacks ``metric``, the
    metrics ``pipeline`` computes over the run (its figures as summary.json names them), from the
    run's cache (RUN_DIR/analyses/KEY.json, written here when the directory is this user's and
    writable) or a replay of its log. A run that cannot be replayed is named on stderr and left out."""
    import hashlib

    import msgspec

    from ._files import publish
    from .events import HistogramSummary, Summary
    from .history._record import RunRecord
    from .pipeline import load_pipeline, replay_events, resolve_pipeline
    from .records import (
        ANALYSIS_CACHE_DIR,
        ANALYSIS_CACHE_FORMAT,
        ANALYSIS_CACHE_VERSION,
        AnalysisCache,
        RecordError,
        read_analysis_cache,
        read_summary,
    )

    file = resolve_pipeline(pipeline)
    meta = load_pipeline(file).declarations()
    base = hashlib.sha256(file.read_bytes() + msgspec.json.encode(meta))
    out: dict[str, dict[str, float]] = {}
    for f in files:
        try:
            rec = read_summary(f)
        except RecordError:
            continue  # history names it as skipped
        if metric in rec.metrics:
            continue
        run_dir = f.parent
        h = base.copy()
        h.update(msgspec.json.encode(rec.config))
        key = h.hexdigest()
        cache = run_dir / ANALYSIS_CACHE_DIR / f"{key[:32]}.json"
        metrics: dict[str, float] | None = None
        try:
            found = read_analysis_cache(cache)
            metrics = found.metrics if found.key == key else None
        except RecordError:
            pass  # none yet (or unreadable): replay
        if metrics is None:
            try:
                events = replay_events(run_dir, file)
            except KcoroStreamError as e:
                print(f"kcoro-stream: {run_dir}: cannot replay through {file}: {e}", file=sys.stderr)
                continue
            last: dict[tuple[str, str], HistogramSummary] = {}
            for ev in events:
                if type(ev) is HistogramSummary and ev.scope == "cumulative":
                    last[(ev.pool, ev.metric)] = ev
            summaries = [ev for ev in events if type(ev) is Summary]
            metrics = RunRecord(
                rec.run_id or "", "replay", summaries=summaries, histograms=list(last.values())
            ).metrics()
            if _cacheable(run_dir):
                body = AnalysisCache(
                    format=ANALYSIS_CACHE_FORMAT, version=ANALYSIS_CACHE_VERSION, key=key,
                    pipeline=str(file), metrics=metrics,
                )  # fmt: skip
                try:
                    (run_dir / ANALYSIS_CACHE_DIR).mkdir(exist_ok=True)
                    publish(cache, msgspec.json.encode(body))
                except OSError:
                    pass  # a cache is an optimisation: the value is listed all the same
        out[str(f)] = {k: v for k, v in metrics.items() if k not in rec.metrics}
    return out
