"""Run one workload through the whole monitor, live and replayed, and keep what came out.

::

    Workload.source ─► runloop.run(derive, launch, ndjson live.ndjson, log run/) ─► live.ndjson
    run/ (the event log) ─► runloop.run(derive, replay, ndjson replay.ndjson)  ─► replay.ndjson
    run/ ─► open_log().frames() ─► raw events (what the runtime itself reported)

Both passes use the one run loop (``runloop.run``) with real sources and a
real sink; nothing here re-implements a stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from .. import ops
from ..errors import InputError
from ..eventlog import open_log
from ..events import INGEST_SEQ_BIT, DerivedEvent, RawEvent, decode_frame, derived_decoder
from ..runloop import Derive, RunOptions, run
from ._workloads import Workload

__all__ = ["WINDOW_MS", "Observed", "observe", "selftest_derive"]

WINDOW_MS = 50.0
# Backpressure: a scripted growth of 200 items per 5 ms tick is 40000 items/s. The
# steady phases' noise (uniform 0..63 per tick, averaged per window) is ~165 items/s,
# but a burst of late ticks puts two window ends a tick apart, and 8 items over 5 ms
# is already 1600/s: the threshold sits well above that, well below the growth.
BACKPRESSURE_SLOPE = 10_000.0
BACKPRESSURE_WINDOWS = 3


def selftest_derive() -> Derive:
    """The default analyses with windows short enough for sub-second runs."""
    return ops.default_analyses(
        WINDOW_MS,
        backpressure_slope=BACKPRESSURE_SLOPE,
        backpressure_windows=BACKPRESSURE_WINDOWS,
    )


@dataclass
class Observed:
    workload: Workload
    attempt: int
    derived: list[DerivedEvent] = field(default_factory=list)
    raw: list[RawEvent] = field(default_factory=list)
    producer_seqs: list[int] = field(default_factory=list)  # sequence numbers of the producer's frames
    live_bytes: bytes = b""
    replay_bytes: bytes = b""


def _read_ndjson(path: Path) -> tuple[bytes, list[DerivedEvent]]:
    data = path.read_bytes()
    out: list[DerivedEvent] = []
    for n, line in enumerate(data.splitlines(), 1):
        try:
            out.append(derived_decoder.decode(line))
        except Exception as e:  # msgspec.DecodeError / ValidationError
            raise InputError(f"{path}:{n}: {e}") from None
    return data, out


def _once(derive: Derive, source: Any, sink: Path, log_dir: Path | None) -> None:
    opts = RunOptions(
        sinks=[{"sink": "ndjson", "path": str(sink)}],
        log_dir=log_dir,
        no_log=log_dir is None,
        no_control=True,  # scripted workloads with known truth: nothing may steer them
    )
    trio.run(run, derive, source, opts)


def observe(w: Workload, attempt: int, work_dir: Path) -> Observed:
    """Run ``w`` live (recorded to ``work_dir``), then replay its log; both outputs kept."""
    base = work_dir / f"{w.name}-{attempt}"
    base.mkdir(parents=True)
    log_dir = base / "run"
    live, replay = base / "live.ndjson", base / "replay.ndjson"
    _once(selftest_derive(), w.source, live, log_dir)
    _once(selftest_derive(), {"source": "replay", "path": str(log_dir)}, replay, None)
    obs = Observed(w, attempt)
    obs.live_bytes, obs.derived = _read_ndjson(live)
    obs.replay_bytes, _ = _read_ndjson(replay)
    for frame in open_log(log_dir).frames():
        if not frame.seq & INGEST_SEQ_BIT:
            obs.producer_seqs.append(frame.seq)
        obs.raw.extend(decode_frame(frame.payload))
    return obs
