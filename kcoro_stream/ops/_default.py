"""default_analyses: the analyses of pipelines/default.py, sharing one pass.

The raw batches are cut into windows once (``windows``); the window stream
feeds the Sample builder and the window-level analyses, and the Sample
stream (smoothed) feeds the summary and the Sample-level analyses::

    batches ─► windows ─┬─► rates ─► smooth ─┬─► (Samples out)
                        │                    └─► summary (at end of run)
                        └─► ...

Output order per closed window is the order of the list below, which is the
subscription order (deterministic: everything is synchronous).
"""

from __future__ import annotations

from typing import Any

from reactivex import Observable
from reactivex import operators as rx_ops

from ._base import Operator
from ._fan import fan, passthrough
from ._rates import samples_from_windows
from ._smooth import check_alpha, smooth
from ._summary import summary
from ._window import windows


def default_analyses(
    window_ms: float = 250,
    *,
    smooth_n: int = 5,
    ema_alpha: float = 0.25,
    idle_below: float = 0.05,
) -> Operator:
    """Batches → Samples (smoothed) and an end-of-run Summary.

    ::

        [frame] ... [frame] ... [frame] |
        ---- Sample ---- Sample ---- Sample(final) Summary |
    """
    if not window_ms > 0:
        from kcoro_stream.errors import UsageError

        raise UsageError(f"default_analyses: window_ms must be > 0, got {window_ms!r}")
    check_alpha(ema_alpha, smooth_n)

    def derive(source: Observable[Any]) -> Observable[Any]:
        win = source.pipe(windows(window_ms, check_monotonic=True), rx_ops.share())
        samples = win.pipe(samples_from_windows(window_ms, idle_below), smooth(smooth_n, ema_alpha))
        sample_stage = fan(passthrough(), summary(ema_alpha))
        return samples.pipe(sample_stage)

    return derive
