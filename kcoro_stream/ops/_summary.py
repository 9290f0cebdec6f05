"""summary: the end-of-run Summary (peak, average, EMA, totals), like kcoro_mon's.

Per run and pool, over the values that count (not null, and admitted by
:class:`~._activity.Activity`: no partial window, nothing before the pool's
first non-idle window, no throughput rate the pool never had):

* ``peak[m]`` = max of the counted values of metric m,
* ``avg[m]``  = mean of the counted values (nulls are skipped, not zeros),
* ``ema[m]``  = EMA with α (default 0.25) seeded with the first counted value,
* ``worker_totals``/``channel_totals`` = the run's last Sample's cumulative
  counters, ``mismatch_msgs`` = sends - recvs in channel pools,
* ``losses``  = frames lost to the ring during the run (partial Samples included),
* ``duration_s`` = from the start of the first window to the last Sample.

A Summary is emitted when the run changes (a Sample with another ``run_id``)
and when the stream completes. A Summary arriving in the stream (an old
recording's summary line, passed through by ``rates``) closes its run: the
accumulated Samples are dropped so the run is not summarised twice.

::

    Sample Sample Sample ..................... |
    ------------------------------------------ Summary(pool) |
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kcoro_stream.events import Metrics, Sample, Summary

from ._activity import Activity
from ._base import Emit, Operator, stateful
from ._smooth import SMOOTHED, check_alpha


class Figures:
    """Peak, sum, count and EMA per metric name, folded one counted value at a time (what a Summary
    reports; ``declared`` folds a pipeline's own metrics with it too)."""

    __slots__ = ("alpha", "ema", "n", "peak", "sum")

    def __init__(self, names: Iterable[str], alpha: float) -> None:
        self.alpha = alpha
        self.peak: dict[str, float | None] = dict.fromkeys(names)
        self.sum: dict[str, float] = dict.fromkeys(self.peak, 0.0)
        self.n: dict[str, int] = dict.fromkeys(self.peak, 0)
        self.ema: dict[str, float | None] = dict.fromkeys(self.peak)

    def add(self, m: str, x: float) -> None:
        p = self.peak[m]
        if p is None or x > p:
            self.peak[m] = x
        self.sum[m] += x
        self.n[m] += 1
        e = self.ema[m]
        self.ema[m] = x if e is None else self.alpha * x + (1.0 - self.alpha) * e

    def avg(self, m: str) -> float | None:
        return self.sum[m] / self.n[m] if self.n[m] else None


class _Acc:
    __slots__ = ("activity", "count", "figures", "first", "last", "losses")

    def __init__(self, alpha: float) -> None:
        self.count = 0
        self.first: Sample | None = None
        self.last: Sample | None = None
        self.losses = 0
        self.figures = Figures(SMOOTHED, alpha)
        self.activity = Activity()

    def add(self, s: Sample) -> None:
        self.count += 1
        if self.first is None:
            self.first = s
        self.last = s
        self.losses += s.lost_frames
        if not self.activity.admit(s):
            return  # totals and losses only
        for m in SMOOTHED:
            x = getattr(s, m)
            if x is None or not self.activity.counts(m):
                continue
            self.figures.add(m, x)

    def summary(self) -> Summary:
        first, last = self.first, self.last
        assert first is not None and last is not None
        start = first.ts_ns - (first.span_ns or first.window_ns)
        chan = last.channel_totals
        mismatch = None
        if chan is not None and chan.sends is not None and chan.recvs is not None:
            mismatch = chan.sends - chan.recvs
        return Summary(
            ts=last.ts,
            ts_ns=last.ts_ns,
            run_id=last.run_id,
            mode=last.mode,
            samples=self.count,
            duration_s=round(max(0, last.ts_ns - start) / 1e9, 6),
            peak=Metrics(**self.figures.peak),
            avg=Metrics(**{m: self.figures.avg(m) for m in SMOOTHED}),
            ema=Metrics(**self.figures.ema),
            losses=self.losses,
            pool=last.pool,
            worker_totals=last.worker_totals,
            channel_totals=chan,
            mismatch_msgs=mismatch,
        )


def summary(alpha: float = 0.25) -> Operator:
    """Samples → one :class:`Summary` per pool at the end of each run.

    ::

        Sample Sample ... Sample(run B) ...... |
        --------------- Summary(run A) ------- Summary(run B) |
    """
    check_alpha(alpha, 1)

    def setup(emit: Emit) -> tuple[Any, Any]:
        accs: dict[str, _Acc] = {}
        run_id: str | None = None

        def flush() -> None:
            for acc in accs.values():
                emit(acc.summary())
            accs.clear()

        def on_item(item: Any) -> None:
            nonlocal run_id
            kind = type(item)
            if kind is Sample:
                if item.run_id != run_id:
                    flush()
                    run_id = item.run_id
                acc = accs.get(item.pool)
                if acc is None:
                    acc = accs[item.pool] = _Acc(alpha)
                acc.add(item)
            elif kind is Summary:
                accs.clear()  # the recording summarised its own run

        return on_item, flush

    return stateful(setup)
