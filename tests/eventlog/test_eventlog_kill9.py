"""A real kill -9: a child process writing the log is SIGKILLed at random moments.

The child appends realistic frames, flushes, and after each flush reports the
last flushed sequence number on its stdout. Whatever moment the kill lands on
(mid-append, mid-compress, mid-write, mid-roll), the log must open, report any
torn tail, and replay every reported frame, bit-exact and in order.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from eventlog_factory import frame_payload, ts_of

from kcoro_stream.eventlog import open_log, repair

HERE = Path(__file__).resolve().parent

CHILD = f"""
import os, random, sys
from pathlib import Path
sys.path.insert(0, {str(HERE)!r})
from eventlog_factory import frame_payload, ts_of
from kcoro_stream.eventlog import LogWriter

run_dir, seed = Path(sys.argv[1]), int(sys.argv[2])
rng = random.Random(seed)
small = rng.random() < 0.6  # else big batches: 1 MiB blocks written while the kill may land
w = LogWriter.create(
    run_dir, "kill9", fsync=rng.choice(["never", "flush"]),
    segment_bytes=rng.choice([8 << 10, 64 << 10, 64 << 20]), block_bytes=rng.choice([3000, 1 << 20]),
)
out = sys.stdout.fileno()
os.write(out, b"ready\\n")
i = 0
while True:
    for _ in range(rng.randint(1, 60) if small else rng.randint(300, 1500)):
        w.append_payload(frame_payload(i), i, ts_of(i))
        i += 1
    w.flush()
    os.write(out, b"%d\\n" % (i - 1))
"""

TRIALS = 20


def run_and_kill(run_dir: Path, seed: int, rng: random.Random) -> int:
    """Start the child, kill it at a random moment, return the last reported flushed seq."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(run_dir), str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None
    try:
        assert child.stdout.readline() == b"ready\n", child.stderr.read() if child.stderr else ""
        lines = [child.stdout.readline() for _ in range(rng.randint(0, 8))]
        spin_until = time.perf_counter() + rng.random() * 0.003  # land between reports, not on them
        while time.perf_counter() < spin_until:
            pass
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        tail = child.stdout.read()  # reports written before the kill landed
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
        if child.stderr:
            child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    complete = (b"".join(lines) + tail).split(b"\n")[:-1]  # a report counts once its newline is out
    return max((int(x) for x in complete), default=-1)


def test_kill_dash_nine_at_random_moments(tmp_path: Path) -> None:
    rng = random.Random(0x9)
    torn = 0
    for trial in range(TRIALS):
        run = tmp_path / f"trial-{trial}"
        flushed = run_and_kill(run, trial, rng)
        if not any(run.glob("segment-*.kcslog")):
            assert flushed == -1  # killed before the first block: nothing was promised
            continue
        reader = open_log(run)
        frames = [(f.seq, f.ts_ns, bytes(f.payload)) for f in reader.frames()]
        seqs = [s for s, _, _ in frames]
        assert seqs == list(range(len(seqs))), f"trial {trial}: not a clean prefix"
        assert len(seqs) - 1 >= flushed, f"trial {trial}: lost flushed frames {len(seqs)}..{flushed}"
        for s, ts, p in frames:
            assert ts == ts_of(s) and p == frame_payload(s)
        assert all(p.kind == "torn_tail" for p in reader.problems), reader.problems
        assert len(reader.problems) <= 1
        torn += bool(reader.problems)
        repair(run)
        again = open_log(run)
        assert [f.seq for f in again.frames()] == seqs
        assert again.problems == []
    print(f"{TRIALS} kills, {torn} torn tail(s) cut")  # visible with -s
