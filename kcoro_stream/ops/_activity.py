"""Activity: which Sample values count in a pool's statistics (a helper, not an operator).

Used by ``smooth``, ``summary`` and ``outliers`` so the three agree on what is
averaged: partial windows, an idle ramp-up and rates a pool never had are left
out (totals still include them).
"""

from __future__ import annotations

from kcoro_stream.events import Sample

# The throughput rates: zero means the pool is not doing that kind of work.
RATES: tuple[str, ...] = ("tasks_per_s", "msgs_per_s", "bytes_per_s", "gbps")
_ACTIVITY: tuple[str, ...] = ("tasks_per_s", "msgs_per_s")  # either non-zero: the pool is not idle
_TASKS = "tasks_per_s"
# a deliberate pause and a stalled producer say nothing about the runtime's pace (Sample.phase)
NO_EVIDENCE = ("paused", "stalled")


class Activity:
    """Which values of one pool's Samples count in statistics (peak, average, EMA, anomalies).

    * A partial Sample (ring loss, short closing window) does not count, nor
      one whose ``phase`` is ``paused`` (``ctl pause``) or ``stalled`` (the
      producer sent nothing for a while): neither is the runtime's pace.
    * Nothing counts before the pool's first non-idle window (``tasks_per_s``
      or ``msgs_per_s`` above zero): a ramp-up is not averaged in.
    * A throughput rate (``RATES``) counts from its own first non-zero value,
      and a channel pool's (pool ``channel`` in dual mode, or a ``channel``
      run) task rate never counts: the few tasks its coroutines complete are
      bookkeeping, so it reports no task statistics rather than stray values.

    Totals are not statistics: callers keep counting partial Samples there.
    """

    __slots__ = ("active", "channel", "rates")

    def __init__(self) -> None:
        self.active = False
        self.channel: bool | None = None  # a channel pool (known at the first Sample)
        self.rates: set[str] = set()  # rates seen non-zero

    def admit(self, s: Sample) -> bool:
        """Whether ``s`` counts at all (updates the pool's state)."""
        if self.channel is None:
            self.channel = s.pool == "channel" or (s.pool == "all" and s.mode == "channel")
        if s.partial or s.phase in NO_EVIDENCE:
            return False
        for m in RATES:
            x = getattr(s, m)
            if x:
                self.rates.add(m)
        if not self.active:
            self.active = any(getattr(s, m) for m in _ACTIVITY)
        return self.active

    def counts(self, metric: str) -> bool:
        """Whether a value of ``metric`` counts (call after :meth:`admit` returned True)."""
        base = metric.split(".", 1)[-1]
        if base == _TASKS and self.channel:
            return False
        return base not in RATES or base in self.rates
