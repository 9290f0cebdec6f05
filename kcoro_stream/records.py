"""The files runs leave behind, as typed records: summary.json, a results directory's index.json, baselines.

::

    runloop.run ───────► RUN_DIR/summary.json  RunSummary     (history._record writes; read_summary reads)
    manifest run ──────► DIR/index.json        ResultsIndex   (manifest._run writes; read_index reads)
    baseline save ─────► FILE.json             BaselineFile   (compare._baseline writes; read_baseline reads)

Each file has one reader here. A file that is not JSON, not the format, or
whose field has the wrong type is a ``RecordError`` (a ``UsageError``, exit 2)
of one line naming the file and the field (msgspec's ``$.path``).

Evolution (like events.py): a new field is appended with a default, so older
files still decode and older readers ignore it; a field is never retyped or
given a new meaning under the same version: that is an incompatible change,
and only then the format's version is bumped (and the reader refuses other
versions, or converts them as it does index.json files written before it
had ``format`` and ``version``). The rules are in docs/contracts.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final, TypeVar

import msgspec

from ._files import MAX_JSON_BYTES, read_regular
from .errors import UsageError, quote

__all__ = [
    "ANALYSIS_CACHE_DIR",
    "ANALYSIS_CACHE_FORMAT",
    "ANALYSIS_CACHE_VERSION",
    "BASELINE_FORMAT",
    "BASELINE_VERSION",
    "INDEX_FORMAT",
    "INDEX_NAME",
    "INDEX_VERSION",
    "SUMMARY_FORMAT",
    "SUMMARY_NAME",
    "SUMMARY_VERSION",
    "AnalysisCache",
    "BaselineFile",
    "BaselineStep",
    "IndexEntry",
    "IndexManifest",
    "MetricDeclaration",
    "RecordError",
    "ResultsIndex",
    "RunSummary",
    "encode_pretty",
    "headline_metric",
    "read_analysis_cache",
    "read_baseline",
    "read_index",
    "read_summary",
]

SUMMARY_NAME: Final = "summary.json"
SUMMARY_FORMAT: Final = "kcoro-stream-run-summary"
SUMMARY_VERSION: Final = 1
INDEX_NAME: Final = "index.json"
INDEX_FORMAT: Final = "kcoro-stream-results-index"
INDEX_VERSION: Final = 1  # files without format and version (written before them) are read as this version
BASELINE_FORMAT: Final = "kcoro-stream-baseline"
BASELINE_VERSION: Final = 1


class RecordError(UsageError):
    """A record file that cannot be read: ``reason`` alone (history lists it), ``str()`` names the file."""

    def __init__(self, path: Path, reason: str, *, missing: bool = False) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
        self.missing = missing  # the file does not exist


class RunSummary(msgspec.Struct, kw_only=True):
    """RUN_DIR/summary.json: one run, written once at its end (one JSON line)."""

    format: str
    version: int
    run_id: str | None = None
    producer_run_id: str | None = None  # the id in the derived lines, /metrics and remote-write's run_id
    started: str | None = None  # ISO 8601 UTC (history._record.iso_utc)
    ended: str | None = None
    duration_s: float | None = None
    source: str | None = None
    mode: str | None = None
    workers: int | None = None
    state: str | None = None  # finished stopped lost failed interrupted error
    exit_code: int | None = None
    end_reason: str | None = None
    message: str = ""
    config: dict[str, Any] | None = None  # the config Mark's body (effective configuration with origins)
    manifest: dict[str, Any] | None = None  # step, params, repeat, variant of a manifest run
    fingerprint: dict[str, Any] | None = None
    noise: dict[str, Any] | None = None
    metrics: dict[str, float | None] = {}  # NaN and inf are written as null
    summaries: list[dict[str, Any]] = []
    # What compare reads beside Summary.avg (history/_figures.py: POOL:METRIC:p99, POOL:tasks_per_cpu_s);
    # None: written before summaries had them, or nothing was derived (a replay of the log makes them).
    figures: dict[str, float | None] | None = None


class IndexManifest(msgspec.Struct, kw_only=True):
    name: str | None = None
    path: str | None = None
    sha256: str | None = None
    on_error: str | None = None


class IndexEntry(msgspec.Struct, kw_only=True):
    """One planned run of a manifest and how it ended."""

    step: str
    params: dict[str, Any] = {}
    repeat: int
    variant: str = ""
    run_id: str | None = None
    dir: str | None = None  # its run directory, a name inside the results directory
    state: str  # ok failed interrupted
    error: str | None = None
    summary: list[dict[str, Any]] = []  # the run's last Summary per pool (events.Summary as JSON)
    fingerprint: dict[str, Any] | None = None
    figures: dict[str, float | None] | None = None  # as RunSummary.figures (None: replay the log)


class ResultsIndex(msgspec.Struct, kw_only=True, omit_defaults=True):
    """DIR/index.json: every run of a manifest's results directory, rewritten after each run."""

    format: str
    version: int
    manifest: IndexManifest | None = None
    runs: list[IndexEntry]
    noise: dict[str, Any] | None = None  # the machine when the manifest started (history/_noise.py)
    sequential: dict[str, Any] | None = None  # repeats: auto (manifest/_auto.py, compare/_results.py)


class MetricDeclaration(msgspec.Struct, frozen=True, kw_only=True):
    """What a pipeline declared about a metric (``Summary.declared_figures``): how to read its numbers."""

    unit: str
    higher_is_better: bool
    version: int  # the formula's version: numbers of two versions are not compared


class BaselineStep(msgspec.Struct, kw_only=True):
    fingerprint: dict[str, Any] | None = None
    gated: list[str] | None = None  # None: written before the list (its throughput metrics were gated)
    noise_profile: dict[str, float | None] | None = None
    metrics: dict[str, list[float]]
    declared: dict[str, MetricDeclaration] | None = None  # the declared metrics among them, by name


ANALYSIS_CACHE_FORMAT: Final = "kcoro-stream-analysis-cache"
ANALYSIS_CACHE_VERSION: Final = 1
ANALYSIS_CACHE_DIR: Final = "analyses"  # RUN_DIR/analyses/<key>.json (removed with the run by runs prune)


class AnalysisCache(msgspec.Struct, kw_only=True):
    """RUN_DIR/analyses/KEY.json: what a pipeline computed over this run (``history --pipeline``).

    ``key``: sha256 of the pipeline file's bytes, its declarations (names and versions) and the run's
    recorded configuration; a cache with another key is not this one."""

    format: str
    version: int
    key: str
    pipeline: str
    metrics: dict[str, float]


def read_analysis_cache(path: Path) -> AnalysisCache:
    """``path`` as an AnalysisCache; RecordError naming the file and why."""
    data = _json(path, MAX_JSON_BYTES)
    if not isinstance(data, dict) or data.get("format") != ANALYSIS_CACHE_FORMAT:
        raise RecordError(path, f'not an analysis cache (no "format": "{ANALYSIS_CACHE_FORMAT}")')
    return _typed(path, data, AnalysisCache, "analysis cache")


class BaselineFile(msgspec.Struct, kw_only=True):
    """A saved baseline: a results directory's per-repeat values per step."""

    format: str
    version: int
    analysis_version: int | None = None  # events.ANALYSIS_VERSION of the analyses that made the values
    created: str | None = None
    source: str | None = None
    noise: dict[str, Any] | None = None
    steps: dict[str, BaselineStep]


T = TypeVar("T")


def headline_metric(mode: str | None, pool: str) -> str | None:
    """The headline figure of ``pool`` in a run of ``mode``, a key of a summary's averages (None: none).

    Channel → msgs/s; tasks, mixed (each task is one message: the same quantity) and synthetic
    (the example producer: tasks at a fixed tick rate) → tasks/s; dual → each pool's own. What
    ``compare`` gates (``compare._results.gated_metric``) and what ``history`` lists by default.
    """
    if mode == "dual":
        return {"tasks": "tasks_per_s", "channel": "msgs_per_s"}.get(pool)
    return {
        "channel": "msgs_per_s",
        "tasks": "tasks_per_s",
        "mixed": "tasks_per_s",
        "synthetic": "tasks_per_s",
    }.get(mode or "")


def encode_pretty(record: msgspec.Struct) -> bytes:
    """A record as indented JSON with a final newline (index.json, baselines)."""
    return msgspec.json.format(msgspec.json.encode(record), indent=1) + b"\n"


def _field(e: msgspec.ValidationError) -> str:
    """msgspec's ``Expected `int`, got `str` - at `$.runs[0].repeat``` as ``$.runs[0].repeat: expected int, got str``."""
    what, sep, at = str(e).replace("\n", " ").rpartition(" - at ")
    if not sep:
        what, at = at, "$"
    what = what.replace("`", "")
    what = what[:1].lower() + what[1:]
    return f"{at.strip('`')}: {what if len(what) <= 160 else what[:157] + '...'}"


def _count_values(text: str) -> str:
    """Why ``text`` is not one JSON value: several (NDJSON lines), or damaged."""
    decoder = json.JSONDecoder()
    n, at = 0, 0
    try:
        while n < 1000:
            at = len(text) - len(text[at:].lstrip())
            if at >= len(text):
                break
            _, at = decoder.raw_decode(text, at)
            n += 1
    except (ValueError, RecursionError):
        return "damaged JSON"
    return f"{n} JSON values, expected one" if n > 1 else "damaged JSON"


def _json(path: Path, limit: int) -> Any:
    """The one JSON value in ``path`` (NaN accepted, as Python writes it); RecordError otherwise."""
    try:
        text = read_regular(path, limit).decode("utf-8")
    except FileNotFoundError as e:
        raise RecordError(path, e.strerror or str(e), missing=True) from None
    except OSError as e:
        raise RecordError(path, e.strerror or str(e)) from None
    except UnicodeDecodeError:
        raise RecordError(path, "damaged JSON (not UTF-8)") from None
    if not text.strip():
        raise RecordError(path, "empty")
    try:
        return json.loads(text)
    except RecursionError:
        raise RecordError(path, "damaged JSON (nested too deeply)") from None
    except ValueError:
        raise RecordError(path, _count_values(text)) from None


def _typed(path: Path, data: Any, cls: type[T], what: str) -> T:
    try:
        return msgspec.convert(data, cls)
    except msgspec.ValidationError as e:
        raise RecordError(path, f"damaged {what}: {_field(e)}") from None


def read_summary(path: Path, limit: int = MAX_JSON_BYTES) -> RunSummary:
    """``path`` (a summary.json) as a RunSummary; RecordError naming the file and why (the field)."""
    data = _json(path, limit)
    version = data.get("version") if isinstance(data, dict) else None
    if (
        not isinstance(data, dict)
        or data.get("format") != SUMMARY_FORMAT
        or type(version) is not int
        or not 1 <= version <= SUMMARY_VERSION
    ):
        raise RecordError(
            path, f'not a run summary (no "format": "{SUMMARY_FORMAT}" version ≤ {SUMMARY_VERSION})'
        )
    return _typed(path, data, RunSummary, "run summary")


def read_index(path: Path) -> ResultsIndex:
    """``path`` (an index.json) as a ResultsIndex; one written before ``format``/``version`` is version 1."""
    data = _json(path, MAX_JSON_BYTES)
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
        raise RecordError(path, "not a results index (no runs list)")
    if "format" not in data and "version" not in data:  # written before the index had them
        data = {"format": INDEX_FORMAT, "version": 1, **data}
    if data.get("format") != INDEX_FORMAT:
        raise RecordError(path, f"not a results index (format is not {INDEX_FORMAT!r})")
    if data.get("version") != INDEX_VERSION:
        raise RecordError(
            path,
            f"results index version {quote(data.get('version'), 40)}; this kcoro-stream reads {INDEX_VERSION}",
        )
    if not isinstance(data.get("manifest"), dict | None):
        data = {**data, "manifest": None}  # older readers ignored a manifest that was not an object
    return _typed(path, data, ResultsIndex, "results index")


def read_baseline(path: Path) -> BaselineFile:
    """``path`` as a BaselineFile (format and version checked); the values' meaning is compare's to check."""
    try:
        data = _json(path, MAX_JSON_BYTES)
    except RecordError as e:
        if e.missing:
            raise RecordError(path, "no such baseline") from None
        reason = e.reason if e.reason.startswith("damaged") else f"cannot read: {e.reason}"
        raise RecordError(path, f"corrupt baseline: {reason}") from None
    if not isinstance(data, dict) or data.get("format") != BASELINE_FORMAT:
        raise RecordError(path, f"not a kcoro-stream baseline (format is not {BASELINE_FORMAT!r})")
    if data.get("version") != BASELINE_VERSION:
        raise RecordError(
            path,
            f"baseline version {quote(data.get('version'), 40)}; this kcoro-stream reads {BASELINE_VERSION}",
        )
    steps = data.get("steps")
    for name, step in steps.items() if isinstance(steps, dict) else ():
        try:  # msgspec names a map's key "[...]": convert each step to name it
            msgspec.convert(step, BaselineStep)
        except msgspec.ValidationError as e:
            raise RecordError(path, f"damaged baseline: $.steps.{name}{_field(e)[1:]}") from None
    return _typed(path, data, BaselineFile, "baseline")
