"""lints: the state machine the coroutine lints share (``lint.busy``, ``lint.stuck``, ``lint.self_wake``).

Each lint is an operator of its own (``_lint_busy.py``, ``_lint_stuck.py``,
``_lint_self_wake.py``); this file holds what they share: their thresholds
(``LintThresholds``, the ``[lints]`` section) and :func:`lint_from_windows`,
which runs a lint's ``check`` over every coroutine of each coroutine snapshot
(``--coroutines``) of a window and turns verdicts into alerts::

    windows:  W0        W1              W2          W3 (paused)   W4
    check(c): -         c=3 holds       c=3 holds   (skipped)     c=3 clear
    alerts:   ---------- Alert(firing) ------------------------- Alert(resolved) |

One alert per coroutine and lint: ``firing`` at the end of the first window
in which the check held in any snapshot, ``resolved`` at the end of a window
after ``CLEAR_WINDOWS`` windows in a row in which it held in none (a hog
that yields for a moment between spins does not flap), or at once when the
coroutine is no longer in the snapshots (it finished, or is neither suspicious
nor among the top K). Labels name the coroutine (``coroutine`` id, ``name``, ``pool``,
and what the check adds, e.g. the channel). A window without a snapshot, or
with a paused tick, decides nothing. State is per run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import msgspec

from kcoro_stream.errors import UsageError
from kcoro_stream.events import LINT_PREFIX, CoroutineState

from ._base import Emit, Operator, make_alert, pool_label, pool_names, stateful
from ._window import Window

CLEAR_WINDOWS = 4

__all__ = ["DEFAULT_LINTS", "LintThresholds", "Verdict", "coroutine_labels", "lint_from_windows"]


class LintThresholds(msgspec.Struct, frozen=True, kw_only=True):
    """The lints' thresholds (the ``[lints]`` section's keys and defaults)."""

    busy_ms: float = 50.0  # lint.busy: on its worker without a switch at least this long
    busy_cpu: float = 0.0  # ... while its worker ran on a CPU at least this share of the window (0: off)
    stuck_ms: float = 1000.0  # lint.stuck: parked without a wake at least this long
    self_wake_ratio: float = 0.9  # lint.self_wake: self-wakes above this share of its wakes ...
    self_wake_per_s: float = 1000.0  # ... and at least this many per second

    def check(self) -> LintThresholds:
        """Self, validated (UsageError names the key)."""
        for key in ("busy_ms", "stuck_ms", "self_wake_per_s"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
                raise UsageError(f"lints: {key} must be a number > 0, got {v!r}")
        for key in ("busy_cpu", "self_wake_ratio"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v < 1:
                raise UsageError(f"lints: {key} must be in [0, 1), got {v!r}")
        return self


DEFAULT_LINTS = LintThresholds()


class Verdict(NamedTuple):
    """A check that holds: the alert's value, threshold, message and extra labels."""

    value: float
    threshold: float
    message: str
    labels: dict[str, str]


# check(window, coroutine, the same coroutine in the previous snapshot or None) -> Verdict | None
Check = Callable[[Window, CoroutineState, CoroutineState | None], Verdict | None]


def coroutine_labels(win: Window, c: CoroutineState) -> dict[str, str]:
    """The labels every lint alert carries: the coroutine's id, name and pool."""
    return {"coroutine": str(c.coroutine), "name": c.name, "pool": pool_label(pool_names(win.run), c.pool)}


def who(c: CoroutineState) -> str:
    """The coroutine in words: ``coroutine 4 "hog"``."""
    return f'coroutine {c.coroutine} "{c.name}"' if c.name else f"coroutine {c.coroutine}"


def lint_from_windows(rule: str, severity: Any, check: Check) -> Operator:
    """Window → ``rule`` Alerts per coroutine (``rule`` starts with ``lint.``)."""
    if not rule.startswith(LINT_PREFIX):
        raise UsageError(f"lint {rule!r}: a lint's rule name starts with {LINT_PREFIX!r}")

    def setup(emit: Emit) -> tuple[Any, Any]:
        firing: dict[int, dict[str, str]] = {}  # coroutine id -> the labels it fired with
        clear: dict[int, int] = {}  # coroutine id (firing) -> windows in a row it did not hold
        prev: dict[int, CoroutineState] = {}
        run_id: str | None = None

        def on_item(win: Any) -> None:
            nonlocal run_id, prev
            if type(win) is not Window:
                return
            rid = win.run.run_id if win.run is not None else ""
            if rid != run_id:
                run_id = rid
                firing.clear()
                clear.clear()
                prev = {}
            if not win.snapshots or win.paused:
                return
            ts, run = win.last_ts, win.run
            holds: dict[int, tuple[CoroutineState, Verdict]] = {}  # the first verdict per coroutine
            for snap in win.snapshots:
                seen: dict[int, CoroutineState] = {}
                for c in snap:
                    seen[c.coroutine] = c
                    if c.coroutine not in holds:
                        v = check(win, c, prev.get(c.coroutine))
                        if v is not None:
                            holds[c.coroutine] = (c, v)
                prev = seen
            for cid, (c, v) in holds.items():
                clear[cid] = 0
                if cid not in firing:
                    labels = {**coroutine_labels(win, c), **v.labels}
                    firing[cid] = labels
                    emit(
                        make_alert(
                            ts,
                            run,
                            rule,
                            severity,
                            "firing",
                            v.message,
                            value=v.value,
                            threshold=v.threshold,
                            labels=labels,
                        )
                    )
            for cid in [k for k in firing if k not in holds]:
                if cid in prev:  # still in the snapshots: resolved after CLEAR_WINDOWS clear windows
                    clear[cid] = clear.get(cid, 0) + 1
                    if clear[cid] < CLEAR_WINDOWS:
                        continue
                    msg = f"resolved: {who(prev[cid])} no longer holds ({rule}) for {CLEAR_WINDOWS} windows"
                else:
                    msg = f"resolved: coroutine {cid} is no longer in the snapshots"
                clear.pop(cid, None)
                labels = firing.pop(cid)
                emit(make_alert(ts, run, rule, severity, "resolved", msg, labels=labels))

        def on_done() -> None:
            return None

        return on_item, on_done

    return stateful(setup)
