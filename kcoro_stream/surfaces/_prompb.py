"""Prometheus remote-write 1.0 payloads: protobuf ``WriteRequest`` + snappy block compression.

::

    [(labels, [(ts_ms, value), ...]), ...] ─► prometheus.WriteRequest (protobuf) ─► snappy block ─► POST body

The messages are the remote-write 1.0 subset of Prometheus' ``prompb``
(``types.proto``: Label, Sample, TimeSeries; ``remote.proto``: WriteRequest),
field numbers and types exactly as there. Why a descriptor built here instead
of a committed ``*_pb2.py``: protoc-generated modules pin the protobuf runtime
they were generated for (gencode/runtime version check), and prompb's own
files need gogoproto's options; describing four messages with
``descriptor_pb2`` keeps the wire format from the real protobuf library with
no generated file and no protoc. Snappy's *block* format (not the framed one)
is what the protocol specifies: ``cramjam.snappy.compress_raw``.

Both libraries are imported only by this module, which only the
``remote_write`` sink (and its benchmark) import, when a sink is opened.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .._extras import needs

with needs("remote-write", "the remote_write sink"):
    import cramjam
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

__all__ = ["CONTENT_HEADERS", "Series", "decode_write_request", "encode_write_request"]

# The headers remote-write 1.0 requires on every request.
CONTENT_HEADERS = {
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}

# One series: its labels (``__name__`` among them) and its (timestamp ms, value) samples in time order.
Series = tuple[Sequence[tuple[str, str]], Sequence[tuple[int, float]]]

_F = descriptor_pb2.FieldDescriptorProto
# message → [(field, number, type, label, message type)], from prompb/types.proto and remote.proto
_MESSAGES: dict[str, list[tuple[str, int, int, int, str]]] = {
    "Label": [
        ("name", 1, _F.TYPE_STRING, _F.LABEL_OPTIONAL, ""),
        ("value", 2, _F.TYPE_STRING, _F.LABEL_OPTIONAL, ""),
    ],
    "Sample": [
        ("value", 1, _F.TYPE_DOUBLE, _F.LABEL_OPTIONAL, ""),
        ("timestamp", 2, _F.TYPE_INT64, _F.LABEL_OPTIONAL, ""),
    ],
    "TimeSeries": [
        ("labels", 1, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, ".prometheus.Label"),
        ("samples", 2, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, ".prometheus.Sample"),
    ],
    "WriteRequest": [("timeseries", 1, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, ".prometheus.TimeSeries")],
}


def _build() -> Any:
    fd = descriptor_pb2.FileDescriptorProto(
        name="kcoro_stream/prompb.proto", package="prometheus", syntax="proto3"
    )
    for name, fields in _MESSAGES.items():
        msg = fd.message_type.add(name=name)
        for fname, number, ftype, label, type_name in fields:
            msg.field.add(name=fname, number=number, type=ftype, label=label, type_name=type_name or None)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("prometheus.WriteRequest"))


WriteRequest = _build()


def encode_write_request(series: Iterable[Series]) -> bytes:
    """The snappy-compressed ``WriteRequest`` body for ``series`` (labels are sorted here)."""
    req = WriteRequest()
    for labels, samples in series:
        ts = req.timeseries.add()
        for name, value in sorted(labels):
            ts.labels.add(name=name, value=value)
        for t_ms, v in samples:
            ts.samples.add(value=v, timestamp=t_ms)
    return bytes(cramjam.snappy.compress_raw(req.SerializeToString()))


def decode_write_request(body: bytes) -> list[Series]:
    """The inverse of ``encode_write_request`` (tests and the benchmark check round trips)."""
    req = WriteRequest.FromString(bytes(cramjam.snappy.decompress_raw(body)))
    return [
        (
            [(lb.name, lb.value) for lb in ts.labels],
            [(s.timestamp, s.value) for s in ts.samples],
        )
        for ts in req.timeseries
    ]
