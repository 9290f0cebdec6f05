"""Plumbing shared by the operators: per-subscription state and pool names.

Every operator in this package is built by :func:`stateful`: a *setup*
function is called once per subscription and returns the two callbacks that
hold that subscription's state (``on_item`` and ``on_done``). Nothing is
shared between subscriptions, nothing reads the wall clock, nothing schedules
on another thread: the operators run synchronously on the thread that pushes
batches into the source subject.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeAlias

import reactivex
from reactivex import Observable, abc

from kcoro_stream.events import Alert, RunStarted, wall_seconds

Emit: TypeAlias = Callable[[Any], None]
Setup: TypeAlias = Callable[[Emit], tuple[Callable[[Any], None], Callable[[], None]]]
Operator: TypeAlias = Callable[[Observable[Any]], Observable[Any]]


def stateful(setup: Setup) -> Operator:
    """Turn ``setup(emit) -> (on_item, on_done)`` into a reactivex operator.

    ``setup`` runs once per subscription, so its closure is that
    subscription's state. An exception raised by ``on_item``/``on_done`` ends
    the stream with ``on_error`` (reactivex convention) instead of unwinding
    into the producer of the batches.
    """

    def operator(source: Observable[Any]) -> Observable[Any]:
        def subscribe(
            observer: abc.ObserverBase[Any], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            on_item, on_done = setup(observer.on_next)
            failed = False

            def on_next(item: Any) -> None:
                nonlocal failed
                if failed:
                    return
                try:
                    on_item(item)
                except Exception as exc:  # routed to the subscriber, reactivex style
                    failed = True
                    observer.on_error(exc)

            def on_completed() -> None:
                if failed:
                    return
                try:
                    on_done()
                except Exception as exc:  # routed to the subscriber, reactivex style
                    observer.on_error(exc)
                    return
                observer.on_completed()

            return source.subscribe(on_next, observer.on_error, on_completed, scheduler=scheduler)

        return reactivex.create(subscribe)

    operator.setup = setup  # type: ignore[attr-defined]  # lets fan/compose fuse stages
    return operator


def setup_of(op: Operator) -> Setup | None:
    """The setup function of an operator built by :func:`stateful` (None otherwise)."""
    return getattr(op, "setup", None)


def fused_chain(setups: list[Setup]) -> Setup:
    """One setup running ``setups`` as a chain: each stage's emit is the next stage's on_item.

    Same order of effects as chaining the reactivex operators (everything is
    synchronous), without an observer hop per stage.
    """

    def setup(emit: Emit) -> tuple[Callable[[Any], None], Callable[[], None]]:
        handlers: list[tuple[Callable[[Any], None], Callable[[], None]]] = []
        downstream = emit
        for each in reversed(setups):
            h = each(downstream)
            handlers.append(h)
            downstream = h[0]
        handlers.reverse()
        first = handlers[0][0]

        def on_done() -> None:
            for _, done in handlers:  # upstream first: its flush feeds the later stages
                done()

        return first, on_done

    return setup


def fused_fan(setups: list[Setup]) -> Setup:
    """One setup giving every item to each of ``setups`` in order (a fused ``fan``)."""

    def setup(emit: Emit) -> tuple[Callable[[Any], None], Callable[[], None]]:
        handlers = [each(emit) for each in setups]
        items = tuple(h[0] for h in handlers)
        dones = tuple(h[1] for h in handlers)

        def on_item(item: Any) -> None:
            for f in items:
                f(item)

        def on_done() -> None:
            for d in dones:
                d()

        return on_item, on_done

    return setup


def pool_names(run: RunStarted | None) -> dict[int, str] | None:
    """Pool id → name from ``RunStarted.config["pools"]``; None means one pool "all".

    ``pools`` may be a list of names (index = pool id) or a mapping of id → name.
    """
    if run is None:
        return None
    pools = run.config.get("pools")
    if isinstance(pools, list | tuple) and pools:
        return {i: str(name) for i, name in enumerate(pools)}
    if isinstance(pools, dict) and pools:
        out: dict[int, str] = {}
        for key, name in pools.items():
            try:
                out[int(key)] = str(name)
            except (TypeError, ValueError):
                continue
        return out or None
    return None


def pool_label(names: dict[int, str] | None, pool: int) -> str:
    """The label a pool id is reported under."""
    if names is None:
        return "all"
    return names.get(pool, f"pool{pool}")


def ratio(num: float, den: float) -> float | None:
    """num/den, or None when the denominator is zero (nothing happened)."""
    return num / den if den else None


def make_alert(
    ts_ns: int,
    run: RunStarted | None,
    rule: str,
    severity: Literal["info", "warning", "critical"],
    state: Literal["firing", "resolved"],
    message: str,
    *,
    value: float | None = None,
    threshold: float | None = None,
    labels: dict[str, str] | None = None,
) -> Alert:
    """An Alert at event time ``ts_ns`` of ``run`` (wall ``ts`` and ``run_id`` from it)."""
    return Alert(
        ts=wall_seconds(ts_ns, run),
        ts_ns=ts_ns,
        run_id=run.run_id if run is not None else "",
        rule=rule,
        severity=severity,
        state=state,
        value=value,
        threshold=threshold,
        message=message,
        labels=labels,
    )
