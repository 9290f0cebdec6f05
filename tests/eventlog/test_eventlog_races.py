"""Log directory races and permissions (finding F): planted symlinks, two writers, modes."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from eventlog_factory import frame_payload, read_all, ts_of

from kcoro_stream.errors import LogError
from kcoro_stream.eventlog import LogWriter, repair
from kcoro_stream.eventlog._format import index_name, segment_name

REPO = Path(__file__).resolve().parents[2]
KS = [sys.executable, "-m", "kcoro_stream"]
PIPELINE = str(REPO / "pipelines" / "default.py")


def test_f_a_symlink_planted_at_the_temp_segment_name_is_not_followed(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious\n")
    (run / (segment_name(1) + ".tmp")).symlink_to(victim)
    (run / (index_name(1) + ".tmp")).symlink_to(victim)
    with LogWriter.create(run, "r") as w:
        w.append_payload(frame_payload(0), 0, ts_of(0))
    assert victim.read_bytes() == b"precious\n"
    assert stat.S_ISREG(os.lstat(run / segment_name(1)).st_mode)
    assert stat.S_ISREG(os.lstat(run / index_name(1)).st_mode)
    assert [seq for seq, _, _ in read_all(run)] == [0]


def test_f_a_second_writer_on_the_same_directory_is_refused(tmp_path: Path) -> None:
    run = tmp_path / "run"
    with LogWriter.create(run, "first") as w:
        with pytest.raises(
            LogError, match=rf"another kcoro-stream \(pid {os.getpid()}\) is writing this log"
        ):
            LogWriter.create(run, "second")
        w.append_payload(frame_payload(0), 0, ts_of(0))
        w.flush()
        with pytest.raises(LogError, match="is writing this log"):
            repair(run)  # never truncates a segment that is being written
    assert repair(run) == []  # the lock went with close()


def test_f_two_cli_monitors_on_one_log_the_second_fails_in_one_line(tmp_path: Path) -> None:
    log = tmp_path / "run"
    base = [*KS, "run", PIPELINE, "--no-tui", "--no-stdout", "--log", str(log)]
    first = subprocess.Popen([*base, "-d", "3"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (log / "writer.lock").exists() or not (log / "writer.lock").read_text().strip():
            assert time.monotonic() < deadline and first.poll() is None, "first monitor never locked"
            time.sleep(0.02)
        second = subprocess.run([*base, "-d", ".3"], capture_output=True, text=True, timeout=60)
    finally:
        _, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert second.returncode == 1, second.stderr
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and "is writing this log" in lines[0], second.stderr
    assert read_all(log)  # the first recording is whole


def test_f_run_directory_and_files_ignore_a_permissive_umask(tmp_path: Path) -> None:
    log = tmp_path / "runs" / "one"
    r = subprocess.run(
        [*KS, "run", PIPELINE, "-d", ".3", "--no-tui", "--no-stdout", "--log", str(log)],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=lambda: os.umask(0),
    )
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(os.stat(log).st_mode) == 0o750
    files = sorted(os.listdir(log))
    assert segment_name(1) in files and "writer.lock" in files
    for name in files:
        assert stat.S_IMODE(os.stat(log / name).st_mode) == 0o640, name
