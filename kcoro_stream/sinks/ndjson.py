"""The ``ndjson`` sink: every derived event as one JSON line, to a file or stdout.

::

    batch of derived events ─► encode_json_line into one reused bytearray
        ─► (≥ buffer_bytes, or pending ≥ flush_interval_s, or close) ─► worker thread
        ─► gzip / zstd / plain temp file ─► aclose(): published atomically

Spec: ``ndjson:PATH[,legacy][,level=N][,flush=S][,buffer=BYTES]``; PATH ``-``
is stdout. With ``legacy`` the lines use the old ``kcoro_mon`` field names
(``kcoro_stream.ops.to_legacy``); events without a legacy form are dropped and
counted under ``no_legacy_form``. Without ``legacy``, a pipeline that declares
metrics or events (``SinkContext.declarations``) puts its ``meta`` line first. Policy ``block``: a file never loses events.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Annotated, Any, ClassVar

import msgspec

from ..errors import SinkError
from ..events import DerivedEvent
from ._base import Policy, SinkContext
from ._output import (
    DEFAULT_BUFFER_BYTES,
    DEFAULT_FLUSH_INTERVAL_S,
    BufferedSink,
    encode_lines,
    encode_meta,
    open_output,
    parse_path_arg,
)
from ._registry import register

LegacyFn = Callable[[DerivedEvent], "dict[str, Any] | None"]


def load_to_legacy() -> LegacyFn:
    """``kcoro_stream.ops.to_legacy``, imported only when legacy output is asked for."""
    try:
        from .. import ops

        fn: Any = getattr(ops, "to_legacy", None)
        if fn is None:  # ops/__init__ may not re-export it (yet)
            fn = importlib.import_module(f"{ops.__name__}._legacy_names").to_legacy
    except (ImportError, AttributeError) as e:
        raise SinkError(f"ndjson: legacy output needs kcoro_stream.ops.to_legacy ({e})") from None
    if not callable(fn):
        raise SinkError("ndjson: kcoro_stream.ops.to_legacy is not callable")
    legacy: LegacyFn = fn
    return legacy


class NdjsonConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """``path``: output file (suffix picks gzip/zstd) or ``-`` for stdout."""

    path: str
    legacy: bool = False  # old kcoro_mon field names
    level: int | None = None  # compression level (gzip 1..9, zstd 1..22)
    flush_interval_s: Annotated[float, msgspec.Meta(ge=0)] = DEFAULT_FLUSH_INTERVAL_S
    buffer_bytes: Annotated[int, msgspec.Meta(ge=1)] = DEFAULT_BUFFER_BYTES


@register
class NdjsonSink(BufferedSink):
    name: ClassVar[str] = "ndjson"
    Config: ClassVar[type[msgspec.Struct]] = NdjsonConfig
    policy: ClassVar[Policy] = "block"
    summary: ClassVar[str] = "derived events as NDJSON lines to a file (.gz/.zst by suffix) or - (stdout)"

    config: NdjsonConfig

    def __init__(self, config: msgspec.Struct, ctx: SinkContext) -> None:
        super().__init__(config, ctx)
        self._to_legacy: LegacyFn | None = None
        self._legacy_encoder = msgspec.json.Encoder()

    @staticmethod
    def parse_arg(arg: str) -> dict[str, Any]:
        fields = parse_path_arg(
            arg, sink="ndjson", flags=("legacy",), ints=("level", "buffer"), floats=("flush",)
        )
        if "flush" in fields:
            fields["flush_interval_s"] = fields.pop("flush")
        if "buffer" in fields:
            fields["buffer_bytes"] = fields.pop("buffer")
        return fields

    async def open(self) -> None:
        if self.config.legacy:
            self._to_legacy = load_to_legacy()
        output = open_output(
            self.config.path, force=self.ctx.force, stdout=self.ctx.stdout, level=self.config.level
        )
        out = self._attach_output(
            output, buffer_bytes=self.config.buffer_bytes, flush_interval_s=self.config.flush_interval_s
        )
        encode_meta(self.ctx, out.buf, self._to_legacy is not None)

    async def send(self, batch: Sequence[DerivedEvent]) -> None:
        out = self._out
        assert out is not None, "send() before open()"
        self._received += len(batch)
        if out.broken:
            self.count_drop("broken_pipe", len(batch))
            return
        if out.failed:
            self.count_drop("output_error", len(batch))
            return
        out.add(encode_lines(batch, out.buf, self._to_legacy, self._legacy_encoder, self.count_drop))
        await out.maybe_flush()

    def own_statistics(self) -> dict[str, Any]:
        return {"legacy": self.config.legacy}
