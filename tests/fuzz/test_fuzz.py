"""The fuzz suite: hostile bytes and paths, 0 tracebacks, 0 hangs, bounded memory.

Each target of ``fuzz_targets.py`` runs in a child process (``_child.py``)
with an address-space cap, a timeout, and its peak RSS measured by the child itself:
peak RSS above the child's post-import baseline must stay under 256 MiB.

Budget: CI runs the counts below (about 40 s on one core, plus about
35 s for config, control and wsrpc, whose cases start real servers and wait
out slow-client timeouts, and about 25 s for manifests, summaries and
runsdirs: 25.3 s for the three on a shared 2-core VM, peak RSS 60-210 MiB). A release check raises every count by a factor::

    KCORO_FUZZ_SCALE=50 .venv/bin/pytest -q tests/fuzz     # ~100,000 log cases

Cases come in seeded chunks of 250 (the same cases on every run); with a
scale the first chunks are the CI ones and the rest are new. A failure
prints hypothesis's reproduction blob; rerun one target by hand with
``python tests/fuzz/_child.py eventlog 2000``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SCALE = float(os.environ.get("KCORO_FUZZ_SCALE", "1"))
CI_EXAMPLES = {
    "eventlog": 1000,  # 2000 until CI passed 25 minutes; the release scale covers more
    "frames": 1500,  # 3000 likewise (43 s of CI)
    "legacy": 800,
    "outputs": 300,
    "ring": 600,
    "pipelines": 400,
    "flags": 1500,
    "config": 400,
    "control": 600,
    "wsrpc": 60,
    "manifests": 150,
    "summaries": 200,
    "runsdirs": 150,
}
RSS_BUDGET_KIB = 256 * 1024
TIMEOUT_S = 240 * max(1.0, SCALE)  # per target; CI's take well under a minute


def run_target(target: str, examples: int) -> tuple[int, str, str, int]:
    """(exit status, stdout, stderr, peak RSS KiB) of one child run."""
    tmp = Path(tempfile.mkdtemp(prefix=f"kcs-fuzz-{target}-"))
    out_path, err_path = tmp / "out", tmp / "err"
    with open(out_path, "w") as out, open(err_path, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, str(HERE / "_child.py"), target, str(examples)], stdout=out, stderr=err
        )
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.send_signal(signal.SIGKILL)
                pid, status, usage = os.wait4(proc.pid, 0)
                status = -1
                break
            time.sleep(0.05)
        proc.returncode = 0  # reaped by wait4; keep Popen from waiting again
    stdout, stderr = out_path.read_text(), err_path.read_text()
    shutil.rmtree(tmp)
    code = -1 if status == -1 else os.waitstatus_to_exitcode(status)
    return code, stdout, stderr, usage.ru_maxrss


@pytest.mark.timeout(TIMEOUT_S + 60)  # above the child's own, which reports a hang with its output
@pytest.mark.parametrize("target", sorted(CI_EXAMPLES))
def test_fuzz_target_never_raises_hangs_or_balloons(target: str) -> None:
    examples = max(1, int(CI_EXAMPLES[target] * SCALE))
    code, stdout, stderr, _ = run_target(target, examples)
    assert code != -1, f"{target}: hung (killed after {TIMEOUT_S:.0f} s)\n{stderr[-4000:]}"
    assert code == 0 and stdout.strip().endswith("ok"), f"{target}: exit {code}\n{stderr[-6000:]}"
    assert "Traceback" not in stderr, stderr[-4000:]
    baseline = int(stdout.split("baseline_rss_kib", 1)[1].split()[0])
    # the child's own peak (see _child.py); wait4's ru_maxrss also counts the forking parent's pages
    peak_kib = int(stdout.split("peak_rss_kib", 1)[1].split()[0])
    assert peak_kib - baseline < RSS_BUDGET_KIB, f"{target}: peak RSS {peak_kib} KiB, baseline {baseline} KiB"
