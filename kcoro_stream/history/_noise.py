"""Fingerprints: the run's build (``run_fingerprint``) and the machine's noise.

The build fingerprint is what RunStarted says: host, benchmark configuration,
compiler, flags, git describe, CPU, kernel (manifest index entries and each
run's summary.json carry it; ``compare`` names fields that differ).
The machine's noise fingerprint is what makes two runs of one build differ:

CPU frequency governor, SMT on/off, VM steal time (``/proc/stat``: steal
jiffies as a share of all jiffies since boot) and the load average. Read from
Linux's files; a missing file is ``None``, never an error.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["noise_fingerprint", "run_fingerprint"]


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None


def _steal_share(stat: str | None) -> float | None:
    if stat is None:
        return None
    for line in stat.splitlines():
        f = line.split()
        if f and f[0] == "cpu" and len(f) > 8:
            jiffies = [int(x) for x in f[1:]]
            total = sum(jiffies[:8])  # guest time is already inside user/nice
            return round(jiffies[7] / total, 6) if total else None
    return None


def run_fingerprint(started: Any) -> dict[str, Any] | None:
    """The build fingerprint of a run from its RunStarted event (None: the producer never started)."""
    if started is None:
        return None
    return {"host": started.host, "config": started.config, **started.build}


def noise_fingerprint() -> dict[str, Any]:
    smt = _read("/sys/devices/system/cpu/smt/active")
    try:
        load: list[float] | None = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "governor": _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        "smt": None if smt is None else smt == "1",
        "steal_share": _steal_share(_read("/proc/stat")),
        "load": load,
        "cpus": os.cpu_count(),
    }
