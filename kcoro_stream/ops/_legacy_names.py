"""to_legacy: derived events → the old kcoro_mon NDJSON objects (schema 2 names).

For scripts written against ``kcoro_mon -j``: a Sample becomes a channel- or
tasks-mode sample object, a Summary the summary object, with the field names
and order of schema 2 (see /docs/operators.md, "Old monitor names"). Other
events map to None (they have no old equivalent).

Name mapping: ``msgs_per_s`` → ``pps``, ``tasks_per_s`` → ``tasks_sec``,
``smooth[m]`` → ``smooth_pps``/``smooth_gbps``/``smooth_tasks_sec``,
``channel_depth`` → ``depth``; counters come from ``Sample.extra`` (where the
rates operator and the legacy source keep them under their old names).
A value the new pipeline does not measure (``cpu``, ``capabilities``,
``rv_zdesc_*``, ...) is null. The old mode is the run's mode when it is
``channel``/``tasks``, else the pool's name when it is one of those, else
``tasks`` when the Sample has a task rate, else ``channel``.

::

    Sample(mode="channel", msgs_per_s=1e6, ...)  →  {"schema":2,"ts":…,"mode":"channel","pps":1e6,…}
    Summary(mode="tasks", peak={"tasks_per_s":…})  →  {"schema":2,"type":"summary","mode":"tasks",…}
"""

from __future__ import annotations

from typing import Any

from kcoro_stream.events import Sample, Summary

LEGACY_SCHEMA = 2

CHANNEL_FIELDS: tuple[str, ...] = (
    "schema", "ts", "mode", "pps", "gbps", "smooth_pps", "smooth_gbps", "duration_ms", "cpu", "mem_kb",
    "producers", "consumers", "kind", "capacity", "depth", "capabilities", "closed", "ptr_mode", "zref_mode",
    "fail_send_eagain_total", "fail_recv_eagain_total", "fail_send_epipe_total", "fail_recv_epipe_total",
    "fail_send_eagain_delta", "fail_recv_eagain_delta", "fail_send_epipe_delta", "fail_recv_epipe_delta",
    "bytes_sent_total", "bytes_recv_total", "bytes_sent_delta", "bytes_recv_delta",
    "zref_sent_total", "zref_received_total", "zref_aborted_total",
    "zref_sent_delta", "zref_received_delta", "zref_aborted_delta",
    "rv_matches_total", "rv_cancels_total", "rv_zdesc_total", "rv_matches_delta", "rv_cancels_delta",
    "rv_zdesc_delta",
)  # fmt: skip
TASKS_FIELDS: tuple[str, ...] = (
    "schema", "ts", "mode", "tasks_sec", "smooth_tasks_sec", "fastpath_ratio", "steal_ratio", "gbps",
)  # fmt: skip
CHANNEL_SUMMARY_FIELDS: tuple[str, ...] = (
    "schema", "type", "mode", "peak_pps", "peak_gbps", "avg_pps", "avg_gbps", "ema_pps", "ema_gbps",
    "mismatch_msgs", "fail_send_eagain_total", "fail_recv_eagain_total", "fail_send_epipe_total",
    "fail_recv_epipe_total", "bytes_sent_total", "bytes_recv_total",
)  # fmt: skip
TASKS_SUMMARY_FIELDS: tuple[str, ...] = (
    "schema", "type", "mode", "peak_tasks_sec", "avg_tasks_sec", "ema_tasks_sec",
    "fastpath_ratio", "steal_ratio",
)  # fmt: skip


def _old_mode(mode: str, pool: str, has_tasks: bool) -> str:
    if mode in ("channel", "tasks"):
        return mode
    if pool in ("channel", "tasks"):
        return pool
    return "tasks" if has_tasks else "channel"


def _intish(v: float | None) -> float | int | None:
    return int(v) if v is not None and float(v).is_integer() else v


def to_legacy(event: Any) -> dict[str, Any] | None:
    """The old kcoro_mon object for a Sample or Summary; None for other events.

    ::

        Sample  → {"schema":2,"ts":…,"mode":…,"pps"|"tasks_sec":…,…}
        Summary → {"schema":2,"type":"summary","mode":…,"peak_…":…,…}
        other   → None
    """
    if type(event) is Sample:
        return _sample(event)
    if type(event) is Summary:
        return _summary(event)
    return None


def _sample(s: Sample) -> dict[str, Any]:
    extra = s.extra or {}
    smooth = s.smooth or {}
    mode = _old_mode(s.mode, s.pool, s.tasks_per_s is not None)
    if mode == "tasks":
        values: dict[str, Any] = {
            "schema": LEGACY_SCHEMA,
            "ts": s.ts,
            "mode": "tasks",
            "tasks_sec": s.tasks_per_s,
            "smooth_tasks_sec": smooth.get("tasks_per_s"),
            "fastpath_ratio": s.fastpath_ratio,
            "steal_ratio": s.steal_ratio,
            "gbps": s.gbps,
        }
        return {k: values[k] for k in TASKS_FIELDS}
    values = {k: extra.get(k) for k in CHANNEL_FIELDS}
    mem_kb = extra.get("mem_kb")
    if mem_kb is None and isinstance(extra.get("rss_bytes"), int | float):
        mem_kb = int(extra["rss_bytes"]) // 1024
    duration_ms = extra.get("duration_ms")
    if duration_ms is None and isinstance(extra.get("span_ns"), int):
        duration_ms = extra["span_ns"] // 1_000_000
    values.update(
        schema=LEGACY_SCHEMA,
        ts=s.ts,
        mode="channel",
        pps=s.msgs_per_s,
        gbps=s.gbps,
        smooth_pps=smooth.get("msgs_per_s"),
        smooth_gbps=smooth.get("gbps"),
        duration_ms=duration_ms,
        mem_kb=mem_kb,
        depth=_intish(s.channel_depth),
    )
    if values["zref_mode"] is None and "ptr_mode" in extra:
        values["zref_mode"] = extra["ptr_mode"]
    return values


def _summary(s: Summary) -> dict[str, Any]:
    mode = _old_mode(s.mode, s.pool, s.peak.get("tasks_per_s") is not None or "tasks_per_s" in s.peak)
    if mode == "tasks" and "tasks_per_s" not in s.peak and "msgs_per_s" in s.peak:
        mode = "channel"
    if mode == "tasks":
        values: dict[str, Any] = {
            "schema": LEGACY_SCHEMA,
            "type": "summary",
            "mode": "tasks",
            "peak_tasks_sec": s.peak.get("tasks_per_s"),
            "avg_tasks_sec": s.avg.get("tasks_per_s"),
            "ema_tasks_sec": s.ema.get("tasks_per_s"),
            "fastpath_ratio": s.avg.get("fastpath_ratio"),
            "steal_ratio": s.avg.get("steal_ratio"),
        }
        return {k: values[k] for k in TASKS_SUMMARY_FIELDS}
    totals = s.totals
    mismatch = totals.get("mismatch_msgs")
    if mismatch is None and "sends_total" in totals and "recvs_total" in totals:
        mismatch = totals["sends_total"] - totals["recvs_total"]
    values = {
        "schema": LEGACY_SCHEMA,
        "type": "summary",
        "mode": "channel",
        "peak_pps": s.peak.get("msgs_per_s"),
        "peak_gbps": s.peak.get("gbps"),
        "avg_pps": s.avg.get("msgs_per_s"),
        "avg_gbps": s.avg.get("gbps"),
        "ema_pps": s.ema.get("msgs_per_s"),
        "ema_gbps": s.ema.get("gbps"),
        "mismatch_msgs": mismatch,
    }
    for k in CHANNEL_SUMMARY_FIELDS[10:]:
        values[k] = totals.get(k)
    return {k: values[k] for k in CHANNEL_SUMMARY_FIELDS}
