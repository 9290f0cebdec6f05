"""`report --out` on what is not a fresh directory, and a full disk: one line, exit 1 or 2, nothing clobbered."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

KS = [sys.executable, "-m", "kcoro_stream"]
RUN = Path(__file__).resolve().parents[2] / "bench_data" / "logs" / "synthetic-v1"


def ks(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KS, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def one_line(r: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in r.stderr.splitlines() if ln.strip() and "warning" not in ln]
    assert len(lines) == 1 and "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    return lines[0]


def _make(tmp_path: Path, kind: str) -> Path:
    out = tmp_path / "out"
    if kind == "file":
        out.write_text("mine")
    elif kind == "dangling_symlink":
        out.symlink_to(tmp_path / "nowhere")
    elif kind == "fifo":
        os.mkfifo(out)
    elif kind == "symlink_to_dir":
        (tmp_path / "d").mkdir()
        (tmp_path / "d" / "keep").write_text("mine")
        out.symlink_to(tmp_path / "d")
    return out


@pytest.mark.parametrize("kind", ["file", "dangling_symlink", "fifo", "symlink_to_dir"])
@pytest.mark.parametrize("force", [False, True], ids=["plain", "force"])
def test_an_out_that_is_not_a_report_directory_is_one_line(tmp_path: Path, kind: str, force: bool) -> None:
    out = _make(tmp_path, kind)
    before = sorted(p.name for p in tmp_path.iterdir())
    r = ks(tmp_path, "report", str(RUN), "--out", "out", *(["--force"] if force else []))
    msg = one_line(r)
    assert r.returncode in (1, 2) and "--out" in msg, msg
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing replaced, no temporary left
    if kind == "file":
        assert out.read_text() == "mine"
    if kind == "symlink_to_dir":
        assert out.is_symlink() and (tmp_path / "d" / "keep").read_text() == "mine"


@contextlib.contextmanager
def small_tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``where`` (root only: the honest way to fill a disk)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    where.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_full_disk_in_report_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "small", "64k") as small:
        r = ks(tmp_path, "report", str(RUN), "--out", str(small / "rep"))
        msg = one_line(r)
        assert r.returncode == 1 and "No space left" in msg, msg
        assert list(small.iterdir()) == []


def test_a_full_disk_in_manifest_run_is_one_line_and_keeps_the_index(tmp_path: Path) -> None:
    m = tmp_path / "m.yaml"
    m.write_text(
        "defaults: {mode: tasks, duration: 0.3s, bench: {workers: 1}}\nsteps:\n  - {name: a, repeats: 3}\n"
    )
    with small_tmpfs(tmp_path / "small", "48k") as small:
        out = small / "res"
        env = {k: v for k, v in os.environ.items() if not k.startswith("KCORO_STREAM_")}
        r = subprocess.run(
            [*KS, "manifest", "run", str(m), "--out-dir", str(out)],
            cwd=tmp_path, capture_output=True, text=True, timeout=180, env=env,
        )  # fmt: skip
        assert r.returncode in (1, 2), r.stderr
        assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
        assert "standard output" not in r.stderr, r.stderr  # the disk is full, not stdout
        lines = [ln for ln in r.stderr.splitlines() if ln.startswith("kcoro-stream:") and "warning" not in ln]
        assert len(lines) == 1 and "No space left" in lines[0], r.stderr
        if (out / "index.json").exists():  # whole (the last one that fit), or none if the first did not
            runs = json.loads((out / "index.json").read_text())["runs"]
            assert all(x["state"] in ("ok", "failed") for x in runs)
        assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []  # no temporary left
