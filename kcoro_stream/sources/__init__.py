"""Sources: where raw frames come from.

* the shared-memory ring (``RingReader``), written by the bundled benchmark
  (``python -m kcoro_stream.sources.bench``), the example producer
  (``python -m kcoro_stream.sources.synthetic``) or any runtime using
  ``native/include/kcoro_stream.h``;
* old kcoro_mon NDJSON recordings (``kcoro_stream.sources.legacy``).

Recorded runs are read back by ``kcoro_stream.eventlog``.
"""

from ._ring import (
    DEFAULT_RING_BYTES,
    ReadResult,
    RingInfo,
    RingReader,
    monotonic_ns,
    new_ring_path,
    pid_alive,
)

__all__ = [
    "DEFAULT_RING_BYTES",
    "ReadResult",
    "RingInfo",
    "RingReader",
    "monotonic_ns",
    "new_ring_path",
    "pid_alive",
]
