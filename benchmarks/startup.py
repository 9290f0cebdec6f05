"""Startup: how long from `kcoro-stream run` to its first sample line, and `kcoro-stream --help`?

Each row is a fresh process, timed from spawn, the median of ``--repeat`` runs:

* ``python -c pass``: the baseline, the interpreter alone;
* ``kcoro-stream --help``: parse and print help (imports no trio, no pipeline);
* ``run → first sample``: ``kcoro-stream run --no-log --no-tui`` (the
  benchmark, default pipeline) until its first ``sample`` line, which is its
  first line; it closes the first 250 ms window of event time, so ~250 ms of
  it is the benchmark running;
* the same with the surfaces (``--prometheus`` and ``--websocket`` on free
  local ports), which import prometheus_client and hypercorn.

It also lists which heavy optional modules each kind of run imports: a plain
run must import none of textual, prometheus_client, hypercorn.

Run:  python benchmarks/startup.py [--repeat 5]

Figures are wall-clock on this machine; ratios are against the baseline
measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

HEAVY = ("textual", "prometheus_client", "hypercorn", "trio_websocket")
KS = [sys.executable, "-m", "kcoro_stream"]
# sys.modules at exit, as JSON on stderr's last line (the command itself is unchanged)
PROBE = (
    "import atexit, json, sys\n"
    "atexit.register(lambda: print(json.dumps(sorted(m for m in sys.modules if '.' not in m)), file=sys.stderr))\n"
    "sys.argv = ['kcoro-stream', *sys.argv[1:]]\n"
    "from kcoro_stream.cli import main\n"
    "main()\n"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _surfaces() -> list[str]:
    return ["--prometheus", f"127.0.0.1:{_free_port()}", "--websocket", f"127.0.0.1:{_free_port()}"]


def time_exit(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t


def time_first(cmd: list[str], cwd: Path) -> float:
    """Seconds from spawning ``cmd`` to its first sample line."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=cwd)
    assert proc.stdout is not None
    sample = 0.0
    for line in proc.stdout:
        if b'"type":"sample"' in line:
            sample = time.perf_counter() - t
            break
    proc.terminate()  # a clean stop: the stop record, then the summary
    proc.communicate(timeout=30)
    if not sample:
        raise SystemExit(f"no sample line from {' '.join(cmd)}")
    return sample


def imported(args: list[str], cwd: Path) -> list[str]:
    r = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )
    mods = json.loads(r.stderr.strip().splitlines()[-1])
    return [m for m in HEAVY if m in mods]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    cwd = Path(os.environ.get("TMPDIR", "/tmp"))
    run = [*KS, "run", "--duration", "30", "--no-log", "--no-tui"]

    rows: dict[str, list[float]] = {}
    for _ in range(a.repeat):
        rows.setdefault("python -c pass (baseline)", []).append(time_exit([sys.executable, "-c", "pass"]))
        rows.setdefault("kcoro-stream --help", []).append(time_exit([*KS, "--help"]))
        rows.setdefault("run → first sample", []).append(time_first(run, cwd))
        rows.setdefault("run + surfaces → first sample", []).append(time_first([*run, *_surfaces()], cwd))

    base = statistics.median(rows["python -c pass (baseline)"])
    print(f"startup, median of {a.repeat} fresh processes (python {sys.version.split()[0]})")
    print(f"{'':34} {'median':>9} {'min':>9} {'× baseline':>11}")
    for name, values in rows.items():
        med = statistics.median(values)
        print(f"{name:34} {med * 1000:7.0f}ms {min(values) * 1000:7.0f}ms {med / base:10.1f}x")

    print("\nheavy optional modules imported (of " + ", ".join(HEAVY) + ")")
    short = ["run", "--duration", "0.3", "--no-log", "--no-tui", "--no-stdout"]
    for name, args in (
        ("kcoro-stream --help", ["--help"]),
        ("run", short),
        ("run + surfaces", [*short, *_surfaces()]),
    ):
        print(f"  {name:32} {', '.join(imported(args, cwd)) or 'none'}")


if __name__ == "__main__":
    main()
