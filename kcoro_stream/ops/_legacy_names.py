"""to_legacy: derived events → the old kcoro_mon NDJSON objects (schema 2 names).

For scripts written against ``kcoro_mon -j``: a Sample becomes a channel- or
tasks-mode sample object, a Summary the summary object, with the field names
and order of schema 2 (see /docs/operators.md, "Old monitor names"). Other
events map to None (they have no old equivalent).

Name mapping: ``msgs_per_s`` → ``pps``, ``tasks_per_s`` → ``tasks_sec``,
``smooth[m]`` → ``smooth_pps``/``smooth_gbps``/``smooth_tasks_sec``,
``channel_depth`` → ``depth``; ``<old>_total``/``<old>_delta`` come from
``Sample.channel_totals``/``channel_deltas`` (the old name of each counter is
in its metadata, :func:`~kcoro_stream.events.counter_fields`), ``kind``,
``capacity``, ``closed``, ``ptr_mode`` from ``channel_state`` as integers like
kcoro_mon's (``kind`` 0 rendezvous / 1 buffered, flags 0/1; a Sample from an
old recording writes back the line's own values), ``mem_kb`` from
``resources.rss_bytes``. A value the new pipeline does not measure (``cpu``,
``capabilities``, ``rv_zdesc_*``, ...) is null unless the Sample came from an
old recording (``Sample.legacy`` keeps them). The old mode is the run's mode when it is
``channel``/``tasks``, else the pool's name when it is one of those, else
``tasks`` when the Sample has a task rate, else ``channel``.

::

    Sample(mode="channel", msgs_per_s=1e6, ...)  →  {"schema":2,"ts":…,"mode":"channel","pps":1e6,…}
    Summary(mode="tasks", peak={"tasks_per_s":…})  →  {"schema":2,"type":"summary","mode":"tasks",…}
"""

from __future__ import annotations

from typing import Any

from kcoro_stream.events import (
    CHANNEL_BUFFERED,
    CHANNEL_RENDEZVOUS,
    ChannelCounts,
    Metrics,
    Sample,
    Summary,
    counter_fields,
)

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


_NO_METRICS = Metrics()


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


def _old_counters(totals: ChannelCounts | None, deltas: ChannelCounts | None) -> dict[str, int | None]:
    """``<old>_total`` / ``<old>_delta`` of every channel counter that kcoro_mon had."""
    out: dict[str, int | None] = {}
    for cf in counter_fields(ChannelCounts):
        if cf.legacy is not None:
            out[f"{cf.legacy}_total"] = getattr(totals, cf.name) if totals is not None else None
            out[f"{cf.legacy}_delta"] = getattr(deltas, cf.name) if deltas is not None else None
    return out


def _sample(s: Sample) -> dict[str, Any]:
    smooth = s.smooth or _NO_METRICS
    mode = _old_mode(s.mode, s.pool, s.tasks_per_s is not None)
    if mode == "tasks":
        values: dict[str, Any] = {
            "schema": LEGACY_SCHEMA,
            "ts": s.ts,
            "mode": "tasks",
            "tasks_sec": s.tasks_per_s,
            "smooth_tasks_sec": smooth.tasks_per_s,
            "fastpath_ratio": s.fastpath_ratio,
            "steal_ratio": s.steal_ratio,
            "gbps": s.gbps,
        }
        return {k: values[k] for k in TASKS_FIELDS}
    values = dict.fromkeys(CHANNEL_FIELDS)
    values.update(_old_counters(s.channel_totals, s.channel_deltas))
    if s.channel_state is not None:
        st = s.channel_state  # kcoro_mon wrote these as integers: the C enum and 0/1 flags
        values.update(
            kind=CHANNEL_BUFFERED if st.kind == "buffered" else CHANNEL_RENDEZVOUS,
            capacity=st.capacity,
            closed=int(st.closed),
            ptr_mode=int(st.ptr_mode),
            zref_mode=int(st.ptr_mode),
            producers=st.producers,
            consumers=st.consumers,
        )
    if s.resources is not None and s.resources.process_cpu_pct is not None:
        values["cpu"] = round(s.resources.process_cpu_pct, 1)
    duration_ms: int | None = s.span_ns // 1_000_000
    old = s.legacy
    if old is not None:
        duration_ms = old.duration_ms
        values.update(
            cpu=old.cpu,
            producers=old.producers,
            consumers=old.consumers,
            capabilities=old.capabilities,
            rv_zdesc_total=old.rv_zdesc_total,
            rv_zdesc_delta=old.rv_zdesc_delta,
        )
        # the line's own channel attributes, written back as they were
        values.update(
            {k: v for k in ("kind", "closed", "ptr_mode", "zref_mode") if (v := getattr(old, k)) is not None}
        )
    rss = s.resources.rss_bytes if s.resources is not None else None
    mem_kb = rss // 1024 if rss is not None else None
    values.update(
        schema=LEGACY_SCHEMA,
        ts=s.ts,
        mode="channel",
        pps=s.msgs_per_s,
        gbps=s.gbps,
        smooth_pps=smooth.msgs_per_s,
        smooth_gbps=smooth.gbps,
        duration_ms=duration_ms,
        mem_kb=mem_kb,
        depth=_intish(s.channel_depth),
    )
    return {k: values[k] for k in CHANNEL_FIELDS}


def _summary(s: Summary) -> dict[str, Any]:
    mode = _old_mode(s.mode, s.pool, s.peak.tasks_per_s is not None or s.peak.msgs_per_s is None)
    if mode == "tasks":
        values: dict[str, Any] = {
            "schema": LEGACY_SCHEMA,
            "type": "summary",
            "mode": "tasks",
            "peak_tasks_sec": s.peak.tasks_per_s,
            "avg_tasks_sec": s.avg.tasks_per_s,
            "ema_tasks_sec": s.ema.tasks_per_s,
            "fastpath_ratio": s.avg.fastpath_ratio,
            "steal_ratio": s.avg.steal_ratio,
        }
        return {k: values[k] for k in TASKS_SUMMARY_FIELDS}
    totals = _old_counters(s.channel_totals, None)
    values = {
        "schema": LEGACY_SCHEMA,
        "type": "summary",
        "mode": "channel",
        "peak_pps": s.peak.msgs_per_s,
        "peak_gbps": s.peak.gbps,
        "avg_pps": s.avg.msgs_per_s,
        "avg_gbps": s.avg.gbps,
        "ema_pps": s.ema.msgs_per_s,
        "ema_gbps": s.ema.gbps,
        "mismatch_msgs": s.mismatch_msgs,
    }
    for k in CHANNEL_SUMMARY_FIELDS[10:]:
        values[k] = totals.get(k)
    return {k: values[k] for k in CHANNEL_SUMMARY_FIELDS}
