"""FIFOs (and devices) where a file is read or replaced: nothing hangs, nothing is replaced, one line each."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

KS = [sys.executable, "-m", "kcoro_stream"]
ROOT = Path(__file__).resolve().parent.parent


def ks(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KCORO_STREAM_")}
    env["XDG_CONFIG_HOME"] = str(cwd / ".xdg")
    return subprocess.run([*KS, *args], cwd=cwd, capture_output=True, text=True, timeout=20, env=env)


def one_line(r: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    return lines[0]


@pytest.mark.parametrize(
    "cmd",
    [
        ["config", "check", "f.toml"],
        ["run", "--config", "f.toml", "--no-tui", "--duration", "1s"],
        ["compare", "f.json", "f.json"],
        ["baseline", "save", "f.json", "--to", "b.json"],
        ["manifest", "check", "f.yaml"],
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_a_fifo_given_as_input_is_one_line_at_once(tmp_path: Path, cmd: list[str]) -> None:
    for name in ("f.toml", "f.json", "f.yaml"):
        os.mkfifo(tmp_path / name)
    t = time.monotonic()
    r = ks(tmp_path, *cmd)
    assert time.monotonic() - t < 15
    msg = one_line(r)
    assert r.returncode in (1, 2) and "not a regular file" in msg, msg


def test_a_fifo_as_index_json_is_one_line_and_kept(tmp_path: Path) -> None:
    m = tmp_path / "m.yaml"
    m.write_text("defaults: {mode: tasks, duration: 0.3s, bench: {workers: 1}}\nsteps:\n  - name: a\n")
    out = tmp_path / "res"
    out.mkdir()
    os.mkfifo(out / "index.json")
    r = ks(tmp_path, "manifest", "run", str(m), "--out-dir", str(out))
    msg = one_line(r)
    assert r.returncode == 2 and "index.json" in msg and "not a regular file" in msg, msg
    assert stat.S_ISFIFO(os.lstat(out / "index.json").st_mode)


def test_export_and_baseline_never_replace_a_fifo(tmp_path: Path) -> None:
    """`export chrome --out FIFO --force` and `baseline save --to FIFO` refuse in one line; the FIFO stays."""
    os.mkfifo(tmp_path / "t.json")
    run = ROOT / "bench_data" / "logs" / "synthetic-v1"
    r = ks(tmp_path, "export", "chrome", str(run), "--out", "t.json", "--force")
    msg = one_line(r)
    assert r.returncode == 2 and "t.json" in msg, msg
    assert stat.S_ISFIFO(os.lstat(tmp_path / "t.json").st_mode)
    res = tmp_path / "res"
    res.mkdir()
    (res / "index.json").write_text(json.dumps({"manifest": {"name": "x"}, "runs": []}))
    os.mkfifo(tmp_path / "b.json")
    r = ks(tmp_path, "baseline", "save", str(res), "--to", "b.json")
    assert r.returncode in (1, 2), r.stderr
    assert "Traceback" not in r.stderr
    assert stat.S_ISFIFO(os.lstat(tmp_path / "b.json").st_mode)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def _run_like(d: Path) -> None:
    d.mkdir(parents=True)
    (d / "summary.json").write_text("{}")


@pytest.mark.parametrize("fifo", ["summary.json", "writer.lock", "segment-000001.kcslog"])
def test_runs_prune_does_not_hang_on_a_fifo(tmp_path: Path, fifo: str) -> None:
    runs = tmp_path / "runs"
    d = runs / "20260101-000000-abcdef"
    d.mkdir(parents=True)
    os.mkfifo(d / fifo)
    if fifo != "summary.json":
        (d / "summary.json").write_text("{}")
    for extra in ([], ["--yes"]):
        t = time.monotonic()
        r = ks(tmp_path, "runs", "prune", str(runs), "--older-than", "1s", *extra)
        assert time.monotonic() - t < 15
        assert "Traceback" not in r.stderr and r.returncode in (0, 1, 2), r.stderr
    assert stat.S_ISFIFO(os.lstat(d / fifo).st_mode)  # not a run of ours: left alone


def test_runs_prune_names_but_survives_a_deeply_nested_summary(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    d = runs / "20260101-000000-abcdef"
    d.mkdir(parents=True)
    (d / "summary.json").write_text("[" * 100_000 + "]" * 100_000)
    r = ks(tmp_path, "runs", "prune", str(runs), "--older-than", "1s")
    assert "Traceback" not in r.stderr and "RecursionError" not in r.stderr, r.stderr
    assert r.returncode == 0, r.stderr
