"""What a manifest adds to each run beyond the run's own duration (target ≤ 0.5 s per run).

Same work three ways, measured in the same invocation:

* baseline: N separate ``kcoro-stream run`` processes (a log and an NDJSON file
  each), what a shell loop would do;
* manifest: one ``manifest run`` of N repeats of the same run (a run directory,
  the step's marks, index.json rewritten after each run);
* rerun: the same manifest again into the same directory (everything skipped).

Overhead per run = wall time per run − the run's duration. Ratios are against
the baseline's overhead. ``--quick``: fewer, shorter runs.

    python benchmarks/manifest_overhead.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from native_common import table  # the benchmarks' one table printer

QUICK = "--quick" in sys.argv
KS = [sys.executable, "-m", "kcoro_stream"]
N = 3 if QUICK else 6
DURATION_S = 1.0


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    t0 = time.monotonic()
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()}")
    return time.monotonic() - t0


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        env = {k: v for k, v in os.environ.items() if not k.startswith("KCORO_STREAM_")}
        env["XDG_CONFIG_HOME"] = str(tmp / "xdg")
        knobs = ["--mode", "tasks", "--workers", "1", "--duration", f"{DURATION_S}"]
        baseline = sum(
            timed(
                [*KS, "run", *knobs, "--no-tui", "--no-stdout", "--log", f"b{i}", "--out", f"b{i}.ndjson"],
                tmp,
                env,
            )
            for i in range(N)
        )
        manifest = tmp / "m.yaml"
        manifest.write_text(
            f"defaults: {{mode: tasks, duration: {DURATION_S}s, repeats: {N}, bench: {{workers: 1}}}}\n"
            "steps:\n  - name: same\n"
        )
        plan = timed([*KS, "manifest", "plan", str(manifest)], tmp, env)
        ran = timed([*KS, "manifest", "run", str(manifest), "--out-dir", "res"], tmp, env)
        rerun = timed([*KS, "manifest", "run", str(manifest), "--out-dir", "res"], tmp, env)

    base_over = baseline / N - DURATION_S
    rows = [
        ["baseline: N x run", N, f"{baseline:.2f}", f"{baseline / N:.3f}", f"{base_over:.3f}", "1.00"],
        [
            "manifest run",
            N,
            f"{ran:.2f}",
            f"{ran / N:.3f}",
            f"{ran / N - DURATION_S:.3f}",
            f"{(ran / N - DURATION_S) / base_over:.2f}",
        ],
        ["manifest plan (load, expand, check)", "-", f"{plan:.2f}", "-", "-", "-"],
        ["rerun (all skipped)", N, f"{rerun:.2f}", f"{rerun / N:.3f}", "-", "-"],
    ]
    table(
        f"Manifest overhead per run ({DURATION_S:g} s tasks runs, 1 worker; target: overhead <= 0.5 s)",
        ["what", "runs", "wall s", "per run s", "overhead/run s", "ratio vs baseline"],
        rows,
    )


if __name__ == "__main__":
    main()
