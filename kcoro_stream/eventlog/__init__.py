"""The append-only event log (contract 3): raw ring frames in zstd blocks.

::

    ingester ──► LogWriter.append_record / append_payload
                   └─► run_dir/segment-000001.kcslog, segment-000002.kcslog, ...
                         (+ .kcsidx index sidecars for closed segments)
    replay   ◄── open_log(run_dir).frames(from_ts_ns, to_ts_ns) ──► LogFrame
    damage   ──► LogReader.problems / LogInfo.problems; repair() cuts torn tails

The format is described byte by byte in docs/eventlog.md. This package imports
only events, errors and the native CRC32C.
"""

from kcoro_stream.eventlog._commands import cat_ndjson, info_text
from kcoro_stream.eventlog._reader import LogReader, open_log, repair, warn_stderr
from kcoro_stream.eventlog._types import (
    LogFrame,
    LogInfo,
    LogProblem,
    ProblemKind,
    SegmentInfo,
)
from kcoro_stream.eventlog._writer import FsyncPolicy, LogWriter

__all__ = [
    "FsyncPolicy",
    "LogFrame",
    "LogInfo",
    "LogProblem",
    "LogReader",
    "LogWriter",
    "ProblemKind",
    "SegmentInfo",
    "cat_ndjson",
    "info_text",
    "open_log",
    "repair",
    "warn_stderr",
]
