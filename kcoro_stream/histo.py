"""The histogram bucket scheme ``log2x4``: the one definition on the Python side.

Producers keep cumulative counts per bucket; ``Histogram.counts[b]`` is the
count of bucket ``b``. With ``SUB = 2**SUB_BITS`` linear sub-buckets per
power of two:

* bucket ``b < SUB`` holds exactly the value ``b``;
* bucket ``b >= SUB`` covers ``[lower(b), lower(b) + width(b))`` where
  ``e = b // SUB + SUB_BITS - 1`` is the value's highest set bit,
  ``lower(b) = (SUB + b % SUB) << (e - SUB_BITS)`` and
  ``width(b) = 1 << (e - SUB_BITS)``.

A bucket's width is at most ``1/SUB`` of its lower bound, so a value
reported from a bucket is within ``ERROR_BOUND`` (relative) of any value in
it. The C header ``native/include/kcs_hist.h`` is generated from these
constants (``python -m kcoro_stream._codegen``); every Python module that
needs bucket bounds imports them from here.
"""

from __future__ import annotations

from typing import Final

SCHEME: Final = "log2x4"
SUB_BITS: Final = 2
SUB: Final = 1 << SUB_BITS
BUCKETS: Final = 252  # covers every uint64 value: bucket_of(2**64 - 1) == 251
ERROR_BOUND: Final = 1 / SUB

__all__ = ["BUCKETS", "ERROR_BOUND", "SCHEME", "SUB", "SUB_BITS", "bucket_lower", "bucket_of", "bucket_width"]


def bucket_of(value: int) -> int:
    """The bucket of a non-negative integer (``kcs_hist_bucket`` in C)."""
    v = int(value)
    if v < SUB:
        return max(0, v)
    e = v.bit_length() - 1
    return (e - SUB_BITS + 1) * SUB + ((v >> (e - SUB_BITS)) & (SUB - 1))


def bucket_lower(b: int) -> int:
    """Lowest value of bucket ``b`` (``kcs_hist_lower`` in C)."""
    if b < SUB:
        return b
    return (SUB + b % SUB) << (b // SUB - 1)


def bucket_width(b: int) -> int:
    """Number of integer values bucket ``b`` covers."""
    return 1 if b < SUB else 1 << (b // SUB - 1)
