"""Ingest: read a shared-memory ring with the C reader and move its frames on (trio).

* ``RingReader`` (``_ring.py``): the cffi handle on a ring; every read copies
  many frames and carries the reader's account of losses.
* ``Ingester`` (``_ingester.py``): ring → ``FrameSink`` until the producer
  ends, with losses, control acks and producer death placed in band.

Source components (``kcoro_stream.sources``) build on these.
"""

from ._ingester import (
    AttachedProducer,
    ChildProducer,
    FrameSink,
    Ingester,
    IngestStatistics,
    Producer,
    SourceOutcome,
)
from ._ring import (
    DEFAULT_RING_BYTES,
    Loss,
    ReadResult,
    RingInfo,
    RingReader,
    monotonic_ns,
    new_ring_path,
    pid_alive,
)

__all__ = [
    "DEFAULT_RING_BYTES",
    "AttachedProducer",
    "ChildProducer",
    "FrameSink",
    "IngestStatistics",
    "Ingester",
    "Loss",
    "Producer",
    "ReadResult",
    "RingInfo",
    "RingReader",
    "SourceOutcome",
    "monotonic_ns",
    "new_ring_path",
    "pid_alive",
]
