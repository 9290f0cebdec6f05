"""Running a manifest: each planned run through ``runloop.run``, one run directory each, index.json.

::

    DIR/manifest.lock  ◄── flock: one runner per results directory (a second one is refused)
    for run in plan:                         (skip: same step, params, repeat already ok)
        DIR/<slug>/  ◄── runloop.run(analyses, LaunchConfig(from run.config), RunOptions(
                             log_dir=DIR/<slug>, sinks=outputs, marks=[config, step, warmup]))
                         ──► RunResult (returned, or carried by the exception: runloop.result_of)
                         ──► IndexEntry(state, summary, fingerprint, figures)
        DIR/index.json  ◄── rewritten atomically (tmp + rename) after every run

States: ``ok``; ``failed`` (the producer crashed, an output failed: the error
is kept); ``interrupted`` (Ctrl-C: the run ends cleanly, the rest are left,
exit 130). ``on_error: stop`` ends the manifest at the first failed run.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import trio

from .._files import LockHeld, lock_exclusive, lock_holder, publish
from ..config import bind_analyses, build_analyses, launch_changes, record_mark
from ..errors import KcoroStreamError, LogError, SinkError, UsageError, first_error
from ..eventlog._writer import LOCK_NAME
from ..events import Mark, Meta, RawEvent
from ..records import (
    INDEX_FORMAT,
    INDEX_NAME,
    INDEX_VERSION,
    IndexEntry,
    IndexManifest,
    RecordError,
    ResultsIndex,
    encode_pretty,
    read_index,
)
from ._auto import Sequential
from ._load import Manifest, PlannedRun

__all__ = ["INDEX", "ManifestResult", "run_manifest"]

INDEX = INDEX_NAME
LOCK = "manifest.lock"  # one runner per results directory (its flock)


@dataclass
class ManifestResult:
    ran: int
    skipped: int
    failed: int
    interrupted: bool

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 1 if self.failed else 0


def _load_index(path: Path) -> dict[tuple[str, str, int, str], IndexEntry]:
    try:
        index = read_index(path)
    except RecordError as e:
        if e.missing:
            return {}
        raise
    return {(r.step, json.dumps(r.params, sort_keys=True), r.repeat, r.variant): r for r in index.runs}


def _dir_name(entry: IndexEntry | None) -> str | None:
    """An index entry's run directory when it is a plain name inside the results directory."""
    d = entry.dir if entry is not None else None
    if d is None or d in ("", ".", "..") or "/" in d or "\0" in d or d.startswith("."):
        return None
    return d


def _lock_out_dir(out_dir: Path) -> int:
    """One runner per results directory: the flock of ``manifest.lock``, held until the runner ends."""
    try:
        return lock_exclusive(out_dir / LOCK)
    except LockHeld as e:
        raise LogError(
            f"{out_dir}: another manifest run (pid {e.holder}) is writing this results directory; "
            "wait for it to end or use another --out-dir"
        ) from None
    except OSError as e:
        raise UsageError(
            f"{out_dir / LOCK}: cannot take the results directory's lock: {e.strerror or e}"
        ) from None


def _choose_dir(out_dir: Path, run: PlannedRun, own: str | None, taken: set[str]) -> Path:
    """Where ``run`` records: a directory that holds no other run's data, emptied of this run's earlier try.

    Candidates in order: the directory of this run's earlier attempt (from
    the index), its planned name, then that name with ``-2``, ``-3``, ...
    (never a planned name: those end in ``-r<N>``). A candidate is passed
    over when the index gives it to another run, when a process holds its
    ``writer.lock`` (someone records there now), or when it is not a plain
    directory (a symlink, a file). What is removed is only ever this run's
    earlier attempt or a directory under its own name that no index entry
    claims (an attempt killed before the index was written).
    """
    candidates = [own] if own is not None else []
    candidates += [run.slug, *(f"{run.slug}-{n}" for n in range(2, 10_000))]
    for name in candidates:
        if name in taken:
            continue
        d = out_dir / name
        if d.is_symlink() or (d.exists() and not d.is_dir()):
            continue
        if d.exists():
            if lock_holder(d / LOCK_NAME) is not None:
                continue
            shutil.rmtree(d)
        d.mkdir(parents=True)
        return d
    raise UsageError(f"{out_dir}: no free directory name for run {run.slug}")


def _write_index(
    out_dir: Path,
    m: Manifest,
    entries: list[IndexEntry],
    noise: dict[str, Any] | None = None,
    sequential: dict[str, Any] | None = None,
) -> None:
    body = ResultsIndex(
        format=INDEX_FORMAT,
        version=INDEX_VERSION,
        manifest=IndexManifest(name=m.name, path=str(m.path), sha256=m.sha256, on_error=m.on_error),
        runs=entries,
        noise=noise,
        sequential=sequential,
    )
    try:
        publish(out_dir / INDEX, encode_pretty(body))  # the old index or the new one
    except OSError as e:  # a full disk: the previous index stays whole, and this says so in one line
        raise SinkError(
            f"{out_dir / INDEX}: cannot write the results index ({e.strerror or e}); it keeps the runs "
            "recorded before this one"
        ) from None


def _derive_for(run: PlannedRun) -> tuple[Any, Meta | None]:
    """The step's analyses, and what its pipeline declares (kcoro_stream.analysis)."""
    if run.pipeline is None:
        return build_analyses(run.config), None
    from ..pipeline import load_pipeline

    p = load_pipeline(Path(run.pipeline))
    # a config-aware file takes the step's configuration; its declared metrics follow
    return p.analyses(bind_analyses(p.derive, run.config)), p.declarations()


def _one(run: PlannedRun, m: Manifest, run_dir: Path, index_of: int, total: int) -> IndexEntry:
    """Run one planned run through the one run loop; its index entry."""
    from ..history._noise import run_fingerprint
    from ..runloop import RunOptions, RunResult, result_of
    from ..runloop import run as run_loop
    from ..sources import LaunchConfig

    derive, declarations = _derive_for(run)
    launch = launch_changes(run.config)
    if run.command is not None:  # an A/B variant's own producer (another build)
        launch.update(producer="exec", command=run.command, args=[])
    elif run.python is not None:  # the bundled benchmark, as another install builds it
        from ..sources.launch import RING_PLACEHOLDER, producer_command

        argv = producer_command(LaunchConfig(**launch), launch["mode"], RING_PLACEHOLDER)
        # the benchmark's own --duration ends it (reason "duration"); a monitor deadline would stop it
        launch.update(
            producer="exec", command=[run.python, *argv[1:]], args=[], workers=None, duration_s=None
        )
    source = LaunchConfig(**launch)
    step_detail = {
        "manifest": m.name,
        "step": run.step,
        "params": run.params,
        "repeat": run.repeat,
        "repeats": run.repeats,
        "variant": run.variant,
        "index": index_of,
        "of": total,
    }
    marks: list[RawEvent] = [
        record_mark(run.config, pipeline=run.pipeline, manifest=step_detail),
        Mark(time.monotonic_ns(), 0, name="step", detail=json.dumps(step_detail, sort_keys=True)),
    ]
    warmup = run.config.get("summary", "warmup")
    if warmup:
        marks.append(Mark(time.monotonic_ns(), 0, name="warmup", detail=json.dumps({"seconds": warmup})))
    opts = RunOptions(
        sinks=[{"sink": "csv" if ".csv" in o else "ndjson", "path": str(run_dir / o)} for o in run.outputs],
        log_dir=run_dir,
        fsync=run.config.get("run", "fsync"),
        marks=marks,
        declarations=declarations,
    )
    state, error = "ok", None
    rec: RunResult | None
    try:
        rec = trio.run(run_loop, derive, source, opts)
    except BaseException as e:  # every outcome of a run is an index entry, except a bug
        rec = result_of(e)  # what the run saw before it ended (None: it never began)
        err = first_error(e, (KeyboardInterrupt, KcoroStreamError))
        if isinstance(err, KeyboardInterrupt):
            state, error = "interrupted", "interrupted"
        elif isinstance(err, KcoroStreamError):
            state, error = "failed", str(err)
        else:
            raise
    # what the run loop saw (also in the run's summary.json)
    ended = rec.ended if rec is not None else None
    started = rec.started if rec is not None else None
    if state == "ok" and ended is not None and ended.reason != "duration":
        state, error = "interrupted", f"the run was stopped ({ended.reason})"
    if state == "ok" and started is None:
        state, error = "failed", "the producer never started its run"
    return IndexEntry(
        step=run.step,
        params=run.params,
        repeat=run.repeat,
        variant=run.variant,
        run_id=started.run_id if started is not None else None,
        dir=run_dir.name,
        state=state,
        error=error,
        summary=[msgspec.to_builtins(s) for s in (rec.summaries if rec is not None else [])],
        fingerprint=run_fingerprint(started),
        figures=dict(rec.figures) if rec is not None and rec.figures is not None else None,
    )


def run_manifest(
    m: Manifest,
    out_dir: Path,
    *,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> ManifestResult:
    """Run every planned run not already ok in ``out_dir`` (all of them with ``force``)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out-dir {out_dir}: not a directory")
    out_dir.mkdir(parents=True, exist_ok=True)
    lock = _lock_out_dir(out_dir)
    try:
        return _run_locked(m, out_dir, force, progress)
    finally:
        os.close(lock)


def _run_locked(
    m: Manifest, out_dir: Path, force: bool, progress: Callable[[str], None] | None
) -> ManifestResult:
    previous = _load_index(out_dir / INDEX)
    entries: dict[tuple[str, str, int, str], IndexEntry] = {}
    from ..history._noise import noise_fingerprint

    noise = noise_fingerprint()
    ran = skipped = failed = 0
    interrupted = False
    total = len(m.runs)
    say = progress or (lambda _s: None)
    stop_after_failure = False
    seq = Sequential(m) if m.sequential else None

    def flush() -> None:
        order = {r.key: i for i, r in enumerate(m.runs)}
        extra = [e for k, e in previous.items() if k not in order and k not in entries]
        done = [entries[r.key] for r in m.runs if r.key in entries]
        _write_index(out_dir, m, done + extra, noise, seq.to_builtins() if seq is not None else None)

    def look(r: PlannedRun) -> None:
        line = seq.after(r, out_dir, flush) if seq is not None else None
        if line:
            say(line)

    for i, r in enumerate(m.runs, 1):
        if seq is not None and seq.skip(r):
            continue  # its step is decided or out of budget
        if seq is not None:
            seq.before(r)
        old = previous.get(r.key)
        own = _dir_name(old)
        if (
            old is not None
            and old.state == "ok"
            and not force
            and own is not None
            and (out_dir / own).is_dir()
            and not (out_dir / own).is_symlink()
        ):
            entries[r.key] = old
            skipped += 1
            look(r)
            continue
        if stop_after_failure or interrupted:
            break
        # every directory another run of the index owns, or one this manifest has used already
        taken = {d for k, e in previous.items() if k != r.key and (d := _dir_name(e)) is not None}
        taken |= {d for e in entries.values() if (d := _dir_name(e)) is not None}
        run_dir = _choose_dir(out_dir, r, own, taken)
        t0 = time.monotonic()
        say(f"[{i}/{total}] {run_dir.name}: running")
        try:
            entry = _one(r, m, run_dir, i, total)
        except KeyboardInterrupt:  # between the run loop's own signal handling and ours
            entry = IndexEntry(
                step=r.step, params=r.params, repeat=r.repeat, variant=r.variant, dir=run_dir.name,
                state="interrupted", error="interrupted",
            )  # fmt: skip
        entries[r.key] = entry
        ran += 1
        state = entry.state
        if state == "failed":
            failed += 1
            stop_after_failure = m.on_error == "stop"
        if state == "interrupted":
            interrupted = True
        flush()
        say(
            f"[{i}/{total}] {run_dir.name}: {state} in {time.monotonic() - t0:.1f}s"
            + (f" ({entry.error})" if entry.error and state == "failed" else "")
        )
        if not interrupted:
            look(r)
    flush()
    return ManifestResult(ran=ran, skipped=skipped, failed=failed, interrupted=interrupted)


def stderr_progress() -> Callable[[str], None] | None:
    """A progress line per run on a terminal (nothing when stderr is not one)."""
    if not sys.stderr.isatty():
        return None
    return lambda s: print(s, file=sys.stderr, flush=True)
