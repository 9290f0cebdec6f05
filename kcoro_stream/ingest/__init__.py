"""Ingest: move frames from a ring to the log and the operators (trio)."""

from ._ingester import (
    AttachedProducer,
    ChildProducer,
    FrameSink,
    Ingester,
    IngestStatistics,
    Producer,
    ProducerOutcome,
)

__all__ = [
    "AttachedProducer",
    "ChildProducer",
    "FrameSink",
    "IngestStatistics",
    "Ingester",
    "Producer",
    "ProducerOutcome",
]
