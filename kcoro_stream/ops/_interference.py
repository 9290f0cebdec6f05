"""interference: a pool's throughput falls while the OS takes its workers' CPUs → Anomaly.

The join of the two views: the runtime's own throughput (``Sample``:
``tasks_per_s``, else ``msgs_per_s``) and the OS view of the same pool's
workers in the same window (``OsSample``, made from the same Window, so both
carry the window's ``ts_ns``). Per pool:

* the *recent level* of throughput is the median of the last ``history``
  counted windows (default 8; at least ``min_history``, default 4), and each
  worker's recent run-queue wait is the median of its last ``history``
  ``wait_pct`` values. Only calm windows join the history — not those of an
  episode, nor those where a worker's wait rose (even without a drop), nor
  partial windows or windows without a throughput — so a long disturbance
  does not become the new normal;
* a window is *flagged* when throughput is at least ``min_drop`` (default
  20 %) below its recent level **and** at least one worker's run-queue wait
  share rose by ``min_wait_rise`` percentage points (default 20) over its own
  recent level — the worker was runnable but another thread had its CPU.
  Both bars rise to ``NOISE_K`` (3) robust standard deviations (1.4826 × MAD)
  of their history when that is larger: in dual mode on two cores the pools'
  throughput swings ±25 % and their workers' waits ±10 points window to
  window with nothing wrong, so only a change beyond the usual swing counts;
* an *episode* is ``persist`` (default 2) flagged windows in a row and gives
  ONE Anomaly (``method="os_interference"``), stamped with the first flagged
  window and emitted when confirmed; the episode ends at the first window not
  flagged, unless a worker's wait is still up and throughput is still at least
  ``min_drop``/2 down (hysteresis: one window half-way back does not split it). Its message names the cause with the numbers summed over the
  episode's windows so far, for the worker that waited longest::

    tasks/s −38 % from window 41; worker 1 (cpu 1) waited 41 ms on the run
    queue, 120 involuntary switches

``Anomaly.value`` is the first flagged throughput, ``score`` the mean
relative change over the confirmed windows (−0.38), ``threshold`` −min_drop,
``window`` the index of the first flagged window (the one the message names;
``labels["history"]`` the history length used); ``labels`` name the metric's window,
worker, CPU and wait. Everything is event time over derived events, so a
replay gives the same anomalies byte for byte.

::

    Sample(p, t1) OsSample(p, t1) ... Sample(p, t9: −40 %) OsSample(p, t9: w1 wait 60 %)
    Sample(p, t10: −45 %) OsSample(p, t10: w1 wait 55 %) |
    ------------------------------------------------- Anomaly(os_interference, @t9) |
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from statistics import median
from typing import Any

from kcoro_stream.errors import UsageError
from kcoro_stream.events import Anomaly, OsSample, Sample

from ._base import Emit, Operator, stateful

_UNITS = {"tasks_per_s": "tasks/s", "msgs_per_s": "msgs/s"}
NOISE_K = 3.0  # a change counts when it is also this many robust standard deviations of the history


def spread(xs: Iterable[float]) -> float:
    """Robust standard deviation of ``xs``: 1.4826 × the median absolute deviation."""
    vals = list(xs)
    med = median(vals)
    return 1.4826 * median([abs(v - med) for v in vals])


class _Episode:
    """Flagged windows in a row of one pool: per worker summed wait and involuntary switches."""

    __slots__ = ("changes", "emitted", "first", "first_value", "first_window", "invol", "wait")

    def __init__(self, first: OsSample, value: float) -> None:
        self.first = first
        self.first_value = value
        self.first_window = first.window
        self.changes: list[float] = []
        self.wait: dict[int, int] = {}
        self.invol: dict[int, int] = {}
        self.emitted = False


class _Pool:
    __slots__ = ("episode", "level", "sample", "waits")

    def __init__(self, history: int) -> None:
        self.level: deque[float] = deque(maxlen=history)
        self.waits: dict[int, deque[float]] = {}
        self.sample: Sample | None = None  # the pool's Sample of the current window
        self.episode: _Episode | None = None


def interference(
    *,
    min_drop: float = 0.20,
    min_wait_rise: float = 20.0,
    history: int = 8,
    min_history: int = 4,
    persist: int = 2,
) -> Operator:
    """Samples and OsSamples → one ``os_interference`` Anomaly per episode (other items dropped).

    ::

        Sample OsSample ... Sample OsSample Sample OsSample |
        ------------------------ Anomaly(os_interference) |
    """
    if not 0 < min_drop < 1:
        raise UsageError(f"interference: min_drop must be in (0, 1), got {min_drop!r}")
    if not 0 < min_wait_rise <= 100:
        raise UsageError(f"interference: min_wait_rise must be in (0, 100] points, got {min_wait_rise!r}")
    if not 1 <= min_history <= history:
        raise UsageError(f"interference: need 1 <= min_history <= history, got {min_history}, {history}")
    if persist < 1:
        raise UsageError(f"interference: persist must be >= 1, got {persist!r}")

    def setup(emit: Emit) -> tuple[Any, Any]:
        pools: dict[tuple[str, str], _Pool] = {}

        def state(ev: Any) -> _Pool:
            key = (ev.run_id, ev.pool)
            p = pools.get(key)
            if p is None:
                p = pools[key] = _Pool(history)
            return p

        def on_item(ev: Any) -> None:
            t = type(ev)
            if t is Sample:
                state(ev).sample = ev
            elif t is OsSample:
                p = state(ev)
                s, p.sample = p.sample, None
                if s is not None and s.ts_ns == ev.ts_ns:
                    window(p, s, ev)

        def window(p: _Pool, s: Sample, os: OsSample) -> None:
            metric = "tasks_per_s" if s.tasks_per_s is not None else "msgs_per_s"
            x = getattr(s, metric)
            if x is None or s.partial or os.partial or s.phase in ("paused", "stalled"):
                return  # a deliberate pause or a stalled producer: no evidence either way
            level = median(p.level) if len(p.level) >= min_history else None
            change = (x - level) / level if level else None
            # the drop must also stand out of the pool's own recent swing (dual mode: ±25 % and more)
            drop_bar = max(min_drop, NOISE_K * spread(p.level) / level) if level else min_drop
            rising = []
            for i, wid in enumerate(os.workers):
                w = os.wait_pct[i]
                past = p.waits.get(wid)
                if w is None or past is None or len(past) < min_history:
                    continue
                if w - median(past) >= max(min_wait_rise, NOISE_K * spread(past)):
                    rising.append(i)
            ep = p.episode
            if change is not None and change <= -drop_bar and rising:
                if ep is None:
                    ep = p.episode = _Episode(os, x)
                ep.changes.append(change)
                for i in rising:
                    wid = os.workers[i]
                    ep.wait[wid] = ep.wait.get(wid, 0) + (os.wait_ns[i] or 0)
                    ep.invol[wid] = ep.invol.get(wid, 0) + (os.involuntary_cs[i] or 0)
                if not ep.emitted and len(ep.changes) >= persist:
                    ep.emitted = True
                    emit(_anomaly(ep, os, metric, len(p.level)))
                return
            if ep is not None and rising and change is not None and change <= -drop_bar / 2:
                return  # hysteresis: a window half-way back does not end the episode
            p.episode = None
            if rising:
                return  # OS interference without a drop: no level learns from it
            p.level.append(x)
            for i, wid in enumerate(os.workers):
                w = os.wait_pct[i]
                if w is not None:
                    p.waits.setdefault(wid, deque(maxlen=history)).append(w)

        def _anomaly(ep: _Episode, last: OsSample, metric: str, used: int) -> Anomaly:
            worst = max(sorted(ep.wait), key=lambda w: ep.wait[w])
            cpu = last.cpus[last.workers.index(worst)] if worst in last.workers else None
            mean = sum(ep.changes) / len(ep.changes)
            where = f"worker {worst}" + (f" (cpu {cpu})" if cpu is not None else "")
            pct = round(mean * 100)
            sign = "−" if pct < 0 else "+"
            message = (
                f"{_UNITS.get(metric, metric)} {sign}{abs(pct)} % from window {ep.first_window}; "
                f"{where} waited {ep.wait[worst] / 1e6:.0f} ms on the run queue, "
                f"{ep.invol[worst]} involuntary switches"
            )
            first = ep.first
            return Anomaly(
                ts=first.ts,
                ts_ns=first.ts_ns,
                run_id=first.run_id,
                metric=metric,
                method="os_interference",
                value=ep.first_value,
                score=round(mean, 6),
                window=ep.first_window,
                pool=first.pool,
                threshold=-min_drop,
                message=message,
                labels={
                    "from_window": str(ep.first_window),
                    "history": str(used),
                    "worker": str(worst),
                    "cpu": "" if cpu is None else str(cpu),
                    "wait_ns": str(ep.wait[worst]),
                    "involuntary_cs": str(ep.invol[worst]),
                },
            )

        def on_done() -> None:
            return None

        return on_item, on_done

    return stateful(setup)
