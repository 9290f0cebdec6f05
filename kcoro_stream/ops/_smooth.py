"""smooth: the old monitor's 5-sample moving average and EMA, per pool.

For each metric in ``SMOOTHED`` and each pool, over the Samples in order:

* ``smooth[m]`` = mean of the last ``n`` counted values (``n`` = 5), null before any;
* ``ema[m]``    = α·x + (1-α)·ema, seeded with the first counted value
  (α = 0.25 by default); a value that does not count leaves both unchanged.

A value counts when it is not null and :class:`~._activity.Activity` admits
it: not from a partial window (ring loss, short closing window), not before
the pool's first non-idle window, not a throughput rate the pool never had
(tasks in channel mode). This is the one place the dashboards' smoothed
values come from: surfaces display ``smooth``/``ema``, they do not recompute.

Values already present in an incoming Sample's ``smooth``/``ema`` (an old
recording's ``smooth_pps``) are kept. Non-Sample items pass through.

::

    Sample(x=4) Sample(x=8) Sample(x=None) Sample(x=6) |
    Sample(x=4, smooth=4, ema=4) Sample(x=8, smooth=6, ema=5) ... |
"""

from __future__ import annotations

from collections import deque
from typing import Any

import msgspec

from kcoro_stream.errors import UsageError
from kcoro_stream.events import Metrics, Sample

from ._activity import Activity
from ._base import Emit, Operator, stateful

SMOOTHED: tuple[str, ...] = Metrics.__struct_fields__  # named once, in events.py


class Smoother:
    """Moving average + EMA state of one pool (usable outside reactivex)."""

    __slots__ = ("activity", "alpha", "ema", "last", "n")

    def __init__(self, n: int, alpha: float) -> None:
        self.n = n
        self.alpha = alpha
        self.last: dict[str, deque[float]] = {m: deque(maxlen=n) for m in SMOOTHED}
        self.ema: dict[str, float | None] = dict.fromkeys(SMOOTHED)
        self.activity = Activity()

    def update(self, sample: Sample) -> tuple[Metrics, Metrics]:
        smooth: dict[str, float | None] = {}
        admitted = self.activity.admit(sample)
        for m in SMOOTHED:
            x = getattr(sample, m)
            window = self.last[m]
            if x is not None and admitted and self.activity.counts(m):
                window.append(x)
                prev = self.ema[m]
                self.ema[m] = x if prev is None else self.alpha * x + (1.0 - self.alpha) * prev
            smooth[m] = sum(window) / len(window) if window else None
        return Metrics(**smooth), Metrics(**self.ema)


def _merged(computed: Metrics, recorded: Metrics) -> Metrics:
    """``computed`` with every non-null value of ``recorded`` put over it."""
    kept = {m: v for m in SMOOTHED if (v := getattr(recorded, m)) is not None}
    return msgspec.structs.replace(computed, **kept) if kept else computed


def check_alpha(alpha: float, n: int) -> None:
    if not 0.0 < alpha <= 1.0:
        raise UsageError(f"smoothing: EMA alpha must be in (0, 1], got {alpha!r}")
    if n < 1:
        raise UsageError(f"smoothing: moving-average length must be >= 1, got {n!r}")


def smooth(n: int = 5, alpha: float = 0.25) -> Operator:
    """Samples → the same Samples with ``smooth`` and ``ema`` filled in.

    ::

        Sample Sample Sample |
        Sample(+smooth,+ema) Sample(+smooth,+ema) Sample(+smooth,+ema) |
    """
    check_alpha(alpha, n)

    def setup(emit: Emit) -> tuple[Any, Any]:
        state: dict[str, Smoother] = {}
        run_id: str | None = None

        def on_item(item: Any) -> None:
            nonlocal run_id
            if type(item) is not Sample:
                emit(item)
                return
            if item.run_id != run_id:  # a new run starts from scratch
                run_id = item.run_id
                state.clear()
            sm = state.get(item.pool)
            if sm is None:
                sm = state[item.pool] = Smoother(n, alpha)
            avg, ema = sm.update(item)
            if item.smooth is not None:  # a recording's own values win
                avg = _merged(avg, item.smooth)
            if item.ema is not None:
                ema = _merged(ema, item.ema)
            emit(msgspec.structs.replace(item, smooth=avg, ema=ema))

        def on_done() -> None:
            return None

        return on_item, on_done

    return stateful(setup)
