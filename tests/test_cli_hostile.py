"""The CLI against hostile neighbours: full disks, FIFOs, devices, odd numbers (findings I/J)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
KS = [sys.executable, "-m", "kcoro_stream"]
LEGACY = str(REPO / "bench_data" / "legacy" / "channel_schema2.ndjson")


def ks(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KS, *args], capture_output=True, text=True, timeout=30, **kw)  # type: ignore[call-overload]


def one_line(r: subprocess.CompletedProcess[str]) -> str:
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kcoro-stream: ") and "Traceback" not in r.stderr, r.stderr
    return lines[0]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sys.path.insert(0, str(REPO / "tests" / "eventlog"))
    from eventlog_factory import write_log

    d = tmp_path_factory.mktemp("log") / "run"
    write_log(d, 50)
    return d


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs Linux /dev/full")
@pytest.mark.parametrize("cmd", ["log info", "log cat", "validate"])
def test_j_writing_to_a_full_disk_is_one_line(cmd: str, run_dir: Path) -> None:
    args = [*cmd.split(), LEGACY if cmd == "validate" else str(run_dir)]
    with open("/dev/full", "w") as full:
        r = subprocess.run([*KS, *args], stdout=full, stderr=subprocess.PIPE, text=True, timeout=30)
    assert r.returncode == 1
    assert "cannot write to standard output (No space left on device)" in one_line(r)


def test_j_a_reader_that_leaves_is_not_an_error(run_dir: Path) -> None:
    p = subprocess.Popen([*KS, "log", "cat", str(run_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout is not None
    p.stdout.readline()
    p.stdout.close()
    _, err = p.communicate(timeout=30)
    assert p.returncode == 0 and b"Traceback" not in err


@pytest.mark.parametrize("value", ["nan", "1e400", "-inf", "inf"])
def test_j_log_cat_from_refuses_non_finite_times(value: str, run_dir: Path) -> None:
    r = ks("log", "cat", str(run_dir), "--from", value)
    assert r.returncode == 2 and "bad duration" in one_line(r)


def test_i_validate_refuses_a_fifo_and_a_device_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "f.ndjson"
    os.mkfifo(fifo)
    for path in (str(fifo), "/dev/zero"):
        r = ks("validate", path)  # a hang would hit the timeout
        assert r.returncode == 1 and "not a regular file" in one_line(r)


def test_i_validate_dash_reads_standard_input() -> None:
    r = ks("validate", "-", input=Path(LEGACY).read_text())
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("-: ok")
