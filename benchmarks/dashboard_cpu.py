"""Dashboard refresh cost (issue 5): monitor CPU % with the terminal dashboard open vs headless.

Both variants run the same pipeline (default analyses, 10 ms sampling, the
synthetic producer so the benchmark's own load does not compete for the two
cores) for the same time. The dashboard variant runs in a real terminal
(tmux, 160x48); the headless one writes NDJSON to /dev/null. CPU time is the
monitor process's utime + stime from /proc, children excluded.

Run: python benchmarks/dashboard_cpu.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def monitor_pid(parent: int) -> int:
    """The kcoro-stream process under `parent` (a shell or tmux pane)."""
    for _ in range(500):
        out = subprocess.run(
            ["pgrep", "-f", "-P", str(parent), "kcoro_stream run"], capture_output=True, text=True
        )
        if out.stdout.split():
            return int(out.stdout.split()[0])
        time.sleep(0.01)
    raise RuntimeError("monitor did not start")


def measure(pid: int, seconds: float) -> float:
    time.sleep(2.0)  # start-up (imports, first windows) is not refresh cost
    c0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return 100.0 * (cpu_seconds(pid) - c0) / (time.monotonic() - t0)


def run_headless(seconds: float) -> float:
    cmd = [
        sys.executable,
        "-m",
        "kcoro_stream",
        "run",
        "pipelines/default.py",
        "--producer",
        "synthetic",
        "--interval",
        "10ms",
        "--duration",
        str(seconds + 4),
        "--no-log",
        "--no-tui",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return measure(proc.pid, seconds)
    finally:
        proc.terminate()
        proc.wait()


def run_dashboard(seconds: float) -> float:
    with tempfile.TemporaryDirectory() as d:
        sock = str(Path(d) / "tmux.sock")
        cmd = (
            f"cd {ROOT} && exec env -u COLUMNS -u LINES {sys.executable} -m kcoro_stream run pipelines/default.py "
            f"--producer synthetic --interval 10ms --duration {seconds + 4} --no-log"
        )
        subprocess.run(
            ["tmux", "-S", sock, "new-session", "-d", "-s", "b", "-x", "160", "-y", "48", cmd], check=True
        )
        subprocess.run(["tmux", "-S", sock, "resize-window", "-t", "b", "-x", "160", "-y", "48"], check=True)
        try:
            pane = subprocess.run(
                ["tmux", "-S", sock, "list-panes", "-t", "b", "-F", "#{pane_pid}"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()[0]
            return measure(int(pane), seconds)  # exec: the pane's process is the monitor
        finally:
            subprocess.run(["tmux", "-S", sock, "kill-server"], capture_output=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    if shutil.which("tmux") is None:
        sys.exit("dashboard_cpu: tmux is required (apt-get install tmux)")
    headless = run_headless(args.seconds)
    dash = run_dashboard(args.seconds)
    print(f"\nMonitor CPU at 10 ms sampling, default analyses, {args.seconds:.0f} s measured per variant")
    print(f"{'variant':<28}{'CPU %':>8}{'ratio':>8}")
    print(f"{'headless NDJSON (baseline)':<28}{headless:>8.1f}{1.0:>8.2f}")
    print(f"{'terminal dashboard':<28}{dash:>8.1f}{dash / headless if headless else float('nan'):>8.2f}")


if __name__ == "__main__":
    main()
