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
from pathlib import PurePath


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
    if not isinstance(word, str) or len(word) > 200:  # a list or a 20 MB key: no suggestion (and no str())
        return ""
    close = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=0.6)
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
    quoted in an error stays one short line (a 5,000-digit number, a 100,000-character name).

    The repr is built only as far as the cut: a 20 MB string, a YAML alias bomb
    (a list of lists sharing their items, billions of elements when expanded)
    or a list nested 100,000 deep costs about ``limit`` characters of work.
    """
    parts: list[str] = []
    _repr_into(value, parts, [limit + 1], 0)
    text = "".join(parts)
    return text if len(text) <= limit else f"{text[: max(0, limit - 3)]}..."


_NO_KEY = object()  # a sequence's items have no value after them


def _repr_into(v: object, out: list[str], budget: list[int], depth: int) -> None:
    """Append ``repr(v)`` to ``out`` until ``budget[0]`` characters are spent (then stop early)."""
    if budget[0] <= 0:
        return
    if isinstance(v, str | bytes | bytearray):
        text = repr(v[: budget[0] + 1])
    elif isinstance(v, bool) or v is None or isinstance(v, float):
        text = repr(v)
    elif isinstance(v, int):
        # beyond ~4,300 digits repr() refuses (sys.int_info.str_digits_check_threshold)
        text = (
            repr(v)
            if v.bit_length() < 4000
            else f"<an integer of about {int(v.bit_length() * 0.30103)} digits>"
        )
    elif isinstance(v, dict | list | tuple | set | frozenset):
        if depth > 50:
            text = "..."
        else:
            brackets = (
                "{}" if isinstance(v, dict | set | frozenset) else "()" if isinstance(v, tuple) else "[]"
            )
            out.append(brackets[0])
            budget[0] -= 1
            pairs: Iterable[tuple[object, object]] = (
                v.items() if isinstance(v, dict) else ((x, _NO_KEY) for x in v)
            )
            for i, (item, value) in enumerate(pairs):
                if budget[0] <= 0:
                    return
                if i:
                    out.append(", ")
                    budget[0] -= 2
                _repr_into(item, out, budget, depth + 1)
                if value is not _NO_KEY:
                    out.append(": ")
                    budget[0] -= 2
                    _repr_into(value, out, budget, depth + 1)
            text = brackets[1]
    else:
        text = f"<{type(v).__name__}>" if not isinstance(v, PurePath) else repr(v)
    out.append(text)
    budget[0] -= len(text)
