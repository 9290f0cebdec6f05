"""fan: apply several operators to one shared input and merge their outputs.

The input is subscribed once; every operator sees every item. Because
everything runs synchronously, the merged order is deterministic: for each
input item, the outputs of operator 1 come before those of operator 2, and so
on; on completion each operator flushes in the same order. The output
completes when every operator has completed; the first error ends it.

::

    input:   a ---------- b ---------- |
    op1:     A1 --------- B1 --------- S1 |
    op2:     A2 --------- B2 --------- |
    fan:     A1 A2 ------ B1 B2 ------ S1 |
"""

from __future__ import annotations

from typing import Any

import reactivex
from reactivex import Observable, abc
from reactivex.disposable import CompositeDisposable
from reactivex.subject import Subject

from ._base import Emit, Operator, fused_chain, fused_fan, setup_of, stateful


def fan(*operators: Operator) -> Operator:
    """Apply each operator to the shared input; merge the outputs in operator order.

    ::

        a ------- b ------- |
        A1 A2 --- B1 B2 --- |
    """
    ops = tuple(operators)
    setups = [setup_of(o) for o in ops]
    if ops and all(x is not None for x in setups):
        # every operator is one of ours: run them in one subscription (same order, no hops)
        return stateful(fused_fan(setups))  # type: ignore[arg-type]

    def op(source: Observable[Any]) -> Observable[Any]:
        if not ops:
            return reactivex.empty()
        if len(ops) == 1:
            return ops[0](source)

        def subscribe(
            observer: abc.ObserverBase[Any], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            hub: Subject[Any] = Subject()
            remaining = len(ops)
            stopped = False

            def on_error(exc: Exception) -> None:
                nonlocal stopped
                if not stopped:
                    stopped = True
                    observer.on_error(exc)

            def on_completed() -> None:
                nonlocal remaining
                remaining -= 1
                if remaining == 0 and not stopped:
                    observer.on_completed()

            def on_next(item: Any) -> None:
                if not stopped:
                    observer.on_next(item)

            subs = CompositeDisposable()
            for each in ops:
                subs.add(each(hub).subscribe(on_next, on_error, on_completed, scheduler=scheduler))
            subs.add(source.subscribe(hub, scheduler=scheduler))
            return subs

        return reactivex.create(subscribe)

    return op


def passthrough(drop: tuple[type, ...] = ()) -> Operator:
    """The identity operator, for fanning a stream into itself plus analyses;
    items of the ``drop`` types (control items only the analyses need) stay behind.

    ::

        a b c |
        a b c |
    """

    def setup(emit: Emit) -> tuple[Any, Any]:
        def on_done() -> None:
            return None

        if not drop:
            return emit, on_done

        def on_item(item: Any) -> None:
            if not isinstance(item, drop):
                emit(item)

        return on_item, on_done

    return stateful(setup)


def compose(*operators: Operator) -> Operator:
    """Left-to-right composition (``compose(f, g)(src) == g(f(src))``), like reactivex's.

    When every operator is one of ours the stages are fused into one
    subscription: the same items in the same order, without an observer hop
    per stage.

    ::

        a b | --f--> A B | --g--> A' B' |
    """
    setups = [setup_of(o) for o in operators]
    if len(operators) > 1 and all(x is not None for x in setups):
        return stateful(fused_chain(setups))  # type: ignore[arg-type]
    return reactivex.compose(*operators)
