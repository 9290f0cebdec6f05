"""Operators: the analyses that turn raw batches into derived events.

Each public name is a small function returning a reactivex operator
(``Observable -> Observable``), defined in its own private module
(``_rates.py``, ``_smooth.py``, ...) with a docstring and a diagram. State is
kept per subscription; time is event time (``ts_ns``) only; everything runs
synchronously, so the same input always gives the same output.

Layering (imports go one way)::

    _base ─► _window ─► _rates ─► _smooth ─► _summary ─► ... ─► _default
                                                       _fan ──┘

Input of the batch-level operators: ``list[Event]`` (one ring frame); output:
``kcoro_stream.events`` derived events. Compose with ``reactivex.compose``
(re-exported as ``compose``) and :func:`fan`.
"""

from reactivex import compose

from ._default import default_analyses
from ._fan import fan, passthrough
from ._histogram import ERROR_BOUND, bucket_lower, bucket_of, bucket_width, histograms, quantile
from ._rates import rates
from ._smooth import SMOOTHED, smooth
from ._summary import summary
from ._window import Window, windows

__all__ = [
    "ERROR_BOUND",
    "SMOOTHED",
    "Window",
    "bucket_lower",
    "bucket_of",
    "bucket_width",
    "compose",
    "default_analyses",
    "fan",
    "histograms",
    "passthrough",
    "quantile",
    "rates",
    "smooth",
    "summary",
    "windows",
]
