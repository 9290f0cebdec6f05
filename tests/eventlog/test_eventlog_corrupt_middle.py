"""A corrupt block in the middle of a real recording: every reader says so on stderr and exits 1
unless --allow-damaged; a replay whose recorded configuration was lost says so and stops."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kcoro_stream.eventlog import open_log
from kcoro_stream.eventlog._format import BLOCK_HEADER_SIZE

KS = [sys.executable, "-m", "kcoro_stream"]


def ks(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KS, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4 s tasks run: one block per second, the first holding the recorded configuration."""
    base = tmp_path_factory.mktemp("rec")
    r = ks(
        "run", "--mode", "tasks", "--workers", "1", "--duration", "4s", "--no-tui", "--log", "run", cwd=base
    )
    assert r.returncode == 0, r.stderr
    blocks = open_log(base / "run")._scans[0].blocks
    assert len(blocks) >= 3, len(blocks)
    return base / "run"


def damaged_copy(recording: Path, tmp_path: Path, block: int) -> Path:
    """A copy of the recording with one bit flipped in the data of block number ``block``."""
    run = tmp_path / "run"
    shutil.copytree(recording, run)
    (seg,) = run.glob("segment-*.kcslog")
    ref = open_log(run)._scans[0].blocks[block]
    data = bytearray(seg.read_bytes())
    data[ref.offset + BLOCK_HEADER_SIZE + ref.clen // 2] ^= 0x10  # inside the block's compressed data
    seg.write_bytes(bytes(data))
    return run


READERS = {
    "replay": lambda run, out: ["replay", str(run), "--no-tui", "--out", str(out / "d.ndjson")],
    "export_chrome": lambda run, out: ["export", "chrome", str(run), "--out", str(out / "t.json")],
    "report": lambda run, out: ["report", str(run), "--out", str(out / "r.html")],
    "log_cat": lambda run, out: ["log", "cat", str(run)],
}


@pytest.mark.parametrize("reader", sorted(READERS))
def test_a_corrupt_middle_block_is_reported_and_exit_1(recording: Path, tmp_path: Path, reader: str) -> None:
    run = damaged_copy(recording, tmp_path, 1)
    out = tmp_path / "out"
    out.mkdir()
    r = ks(*READERS[reader](run, out), cwd=tmp_path)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "corrupt_block" in r.stderr and "--allow-damaged" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    shutil.rmtree(out)  # what a failed replay's output keeps is the outputs' business, not this test's
    out.mkdir()
    r = ks(*READERS[reader](run, out), "--allow-damaged", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "warning" in r.stderr and "corrupt_block" in r.stderr, r.stderr


@pytest.mark.parametrize("reader", sorted(READERS))
def test_a_clean_log_reads_without_a_word(recording: Path, tmp_path: Path, reader: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    r = ks(*READERS[reader](recording, out), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "warning" not in r.stderr and "corrupt" not in r.stderr, r.stderr


def test_a_replay_whose_recorded_configuration_was_lost_says_so_and_stops(
    recording: Path, tmp_path: Path
) -> None:
    run = damaged_copy(recording, tmp_path, 0)
    r = ks("replay", str(run), "--no-tui", "--out", "d.ndjson", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert "recorded configuration" in r.stderr and "damaged" in r.stderr, r.stderr
    assert not (tmp_path / "d.ndjson").exists()  # stopped before anything ran
    r = ks("replay", str(run), "--no-tui", "--out", "d.ndjson", "--allow-damaged", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "current configuration" in r.stderr and "lost" in r.stderr, r.stderr
