"""The sink contract (contract 5): a config struct, a runtime object, a name.

A sink receives batches of derived events (the outputs the operators made for
one input frame) through ``send``. ``SinkRunner`` (sinks/_runner.py) gives
every sink its own bounded queue and task and applies the sink's declared
``policy``:

* ``"block"`` — the pipeline waits for the sink (files: nothing is lost);
* ``"drop_oldest"`` — the pipeline never waits; when the queue is full the
  oldest queued batch is dropped and counted (network clients, dashboards).

Lifecycle::

    sink = SinkClass(config, ctx)   # no I/O
    await sink.open()               # create files, bind ports: raise SinkError
    await sink.send(batch) ...      # one call per batch, never concurrently
    await sink.aclose()             # flush and finalize; always called after open
                                    # (after sink.abort() when the run failed)

Every sink counts what it received, wrote and dropped (with a reason) and
returns it from ``statistics()`` as a frozen ``SinkStatistics``.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol, TextIO

import msgspec

from ..events import DerivedEvent, Meta, SinkStatistics
from ..sources import Controller

Policy = Literal["block", "drop_oldest"]

# A JSON-RPC 2.0 request line and the token the page presented in, the answer line out
# (None for a notification): the page's methods (control.open_control); the ones that
# steer the run answer -32003 without the run's token.
RpcHandler = Callable[[bytes, str], Awaitable[bytes | None]]


class Dashboard(Protocol):
    """A screen the run is shown in (surfaces.tui.TuiHandle): the ``tui`` sink feeds it."""

    dropped: int  # batches the screen could not keep up with

    def attach(
        self,
        *,
        controller: Controller | None,
        live: bool,
        statistics: Callable[[], dict[str, Any]] | None,
    ) -> None: ...

    def post(self, batch: Sequence[DerivedEvent]) -> None: ...

    def detach(self) -> None: ...


@dataclass
class SinkContext:
    """What the pipeline hands every sink: options and back-channels."""

    force: bool = False  # overwrite existing output files
    stdout: TextIO | None = None  # the process's stdout (None: sys.stdout)
    controller: Controller | None = None
    live: bool = True  # False on replay
    statistics: Callable[[], dict[str, Any]] | None = None  # pipeline-wide stats
    # the terminal dashboard hosting this run (cli → surfaces.tui.run_tui); None: no screen
    dashboard: Dashboard | None = None
    # the page's control methods, set by the run loop while a live run takes control
    # (control.open_control) and cleared when it ends; None: calls are answered "no control"
    control: RpcHandler | None = None
    # what the run's pipeline declares (kcoro_stream.analysis): NDJSON begins with it as a ``meta``
    # line, CSV adds a column per metric, Prometheus a gauge (None: nothing declared)
    declarations: Meta | None = None


class Sink(abc.ABC):
    """Base of every sink; subclasses set ``name``, ``Config`` and ``policy``."""

    name: ClassVar[str]
    Config: ClassVar[type[msgspec.Struct]]
    policy: ClassVar[Policy] = "block"
    summary: ClassVar[str] = ""

    def __init__(self, config: msgspec.Struct, ctx: SinkContext) -> None:
        self.config = config
        self.ctx = ctx
        self._received = 0
        self._written = 0
        self._drops: dict[str, int] = {}

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Acquire resources (files, sockets). Raise SinkError on failure."""

    @abc.abstractmethod
    async def send(self, batch: Sequence[DerivedEvent]) -> None:
        """Handle one batch of derived events."""

    def abort(self) -> None:  # noqa: B027 - optional hook
        """The run failed: publish nothing (output files keep what was there). ``aclose`` follows."""

    def failure_note(self) -> str | None:
        """After ``aclose`` of a failed run: what the sink's output kept (a file written in place), if anything."""
        return None

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Flush and release everything; called once after a successful open."""

    def count_drop(self, reason: str, n: int = 1) -> None:
        """Record ``n`` events dropped for ``reason`` (never drop silently)."""
        self._drops[reason] = self._drops.get(reason, 0) + n

    def statistics(self) -> SinkStatistics:
        return SinkStatistics(
            name=self.name,
            received=self._received,
            written=self._written,
            dropped=sum(self._drops.values()),
            drop_reasons=dict(self._drops),
            extra=self.extra_statistics(),
        )

    def extra_statistics(self) -> dict[str, Any]:
        """Sink-specific figures for ``statistics().extra``."""
        return {}
