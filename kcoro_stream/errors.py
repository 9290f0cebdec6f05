"""The one exception tree of kcoro-stream.

::

    KcoroStreamError                 base; the CLI prints str(e) as one red line
    ├── UsageError                   bad flags/options/config values (exit 2)
    │   └── MissingExtra             a surface whose optional extra is not installed
    ├── PipelineError                pipeline file: syntax, missing names (file:line)
    ├── RingError                    ring header/frames: magic, version, sizes, CRC
    ├── LogError                     event log: unreadable run dir, bad segment header
    │   └── DamagedLogError          frames lost inside a log (--allow-damaged accepts the output)
    ├── ProducerError                child producer failed to start, crashed, or was lost
    ├── SinkError                    a sink cannot open or write (output exists, port in use)
    ├── InputError                   malformed external input: NDJSON lines, rules
    └── ControlError                 ctl: the run answered with an error, or no run listens

Library code raises these and never calls ``sys.exit``; ``cli.py`` maps each
to one line on stderr and an exit code (``exit_code``).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator


class KcoroStreamError(Exception):
    """Base of every error kcoro-stream raises on purpose."""

    exit_code: int = 1


class UsageError(KcoroStreamError):
    """Raised by the CLI and config parsers for bad options or values."""

    exit_code = 2


class MissingExtra(UsageError):
    """Raised by ``_extras.needs`` when a surface's optional dependencies are not installed.

    ``extra`` is the name to install (``pip install 'kcoro-stream[EXTRA]'``)."""

    def __init__(self, message: str, *, extra: str, module: str) -> None:
        super().__init__(message)
        self.extra = extra
        self.module = module


class PipelineError(KcoroStreamError):
    """Raised by pipeline.py when a pipeline file cannot be loaded or wired."""

    exit_code = 2


class RingError(KcoroStreamError):
    """Raised by ingest.RingReader (ingest/_ring.py) when a ring is missing, foreign or corrupt."""


class LogError(KcoroStreamError):
    """Raised by eventlog when a run directory or segment cannot be used."""


class DamagedLogError(LogError):
    """Raised by a log reader when a corrupt block lost frames inside the log (exit 1, whatever the command)."""


class ProducerError(KcoroStreamError):
    """Raised by ingest when the producer fails to start, crashes or is lost."""


class SinkError(KcoroStreamError):
    """Raised by sinks when an output cannot be opened or written."""


class InputError(KcoroStreamError):
    """Raised by parsers of external text (NDJSON, rules) naming file:line."""


class ControlError(KcoroStreamError):
    """Raised by ``kcoro-stream ctl`` (control._client) for an error answer or no live run (exit 1)."""

    exit_code = 1


def did_you_mean(word: object, choices: Iterable[object]) -> str:
    """`` (did you mean 'x'?)`` when a choice is close to ``word``, else "" (for one-line errors)."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def first_error(
    e: BaseException,
    prefer: tuple[type[BaseException], ...] = (KcoroStreamError, Exception, SystemExit),
) -> BaseException:
    """The most telling error inside (possibly nested) exception groups, the one unwrapper: the
    first leaf that is a ``prefer[0]``, else a ``prefer[1]``, ..., else the first leaf. The default
    puts our own errors before bugs, and both before Ctrl-C and cancellation (which a failure in one
    task causes in the others)."""
    leaves = list(_leaves(e))
    for kind in prefer:
        for x in leaves:
            if isinstance(x, kind):
                return x
    return leaves[0]


def _leaves(e: BaseException) -> Iterator[BaseException]:
    if isinstance(e, BaseExceptionGroup):
        for x in e.exceptions:
            yield from _leaves(x)
    else:
        yield e


def quote(value: object, limit: int = 80) -> str:
    """``repr(value)`` for an error message, cut to ``limit`` characters with ``...``: input
    quoted in an error stays one short line (a 5,000-digit number, a 100,000-character name)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: max(0, limit - 3)]}..."
