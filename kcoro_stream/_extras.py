"""Optional parts of the install: a surface's imports, and one line when its extra is missing.

A plain ``pip install kcoro-stream`` records, replays, validates and writes
NDJSON/CSV. The dashboard, the page, the exporters, ``report``, ``history``
and ``compare``'s statistics need an extra each (``[project.optional-dependencies]``
in pyproject.toml; docs/dependencies.md says why each package is there)::

    with needs("report", "report"):
        import matplotlib

turns the ``ModuleNotFoundError`` of a package that is not installed into
``MissingExtra``: ``report needs the [report] extra (no module named
'matplotlib'): pip install 'kcoro-stream[report]'`` — one line, exit 2. A
surface whose import needs another's (remote write reuses the Prometheus
series) names its own extra, which includes the other's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from .errors import MissingExtra

__all__ = ["needs"]

DIST = "kcoro-stream"


@contextmanager
def needs(extra: str, what: str) -> Iterator[None]:
    """Imports inside belong to ``extra``; a missing one is a one-line ``MissingExtra``."""
    try:
        yield
    except MissingExtra as e:  # an inner surface's: this one's extra includes it
        if e.extra == extra:
            raise
        raise _missing(extra, what, e.module) from None
    except ModuleNotFoundError as e:
        if not e.name or e.name.partition(".")[0] == "kcoro_stream":
            raise  # our own module missing is a bug, not an extra
        raise _missing(extra, what, e.name) from None


def _missing(extra: str, what: str, module: str) -> MissingExtra:
    return MissingExtra(
        f"{what} needs the [{extra}] extra (no module named {module!r}): pip install '{DIST}[{extra}]'",
        extra=extra,
        module=module,
    )
