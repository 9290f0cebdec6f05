"""A non-editable install (`pip install .` into a fresh venv) runs from anywhere.

The checkout's own ``kcoro_stream/`` has no built extensions; run inside it,
the benchmark child must still import the installed package (it used to die
with ``ModuleNotFoundError: kcoro_stream._native``). Outside it, the shipped
pipelines must be found by name. Slow (the install compiles the C runtime),
run in CI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _fresh_checkout(dest: Path) -> None:
    """The files a clone has: tracked ones (as they are now), no venv, no build, no .so."""
    r = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=False)
    if r.returncode == 0 and r.stdout:
        for name in r.stdout.decode().split("\0"):
            src = ROOT / name
            if name and src.is_file():
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest / name)
        return
    junk = shutil.ignore_patterns(
        ".venv", "venv", "build", "runs", "*.so", "__pycache__", "*.egg-info", ".git"
    )
    shutil.copytree(ROOT, dest, ignore=junk, dirs_exist_ok=True)


def _run(cmd: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_pip_install_runs_inside_the_checkout_and_anywhere(tmp_path: Path) -> None:
    checkout, venv, elsewhere = tmp_path / "kcoro-stream", tmp_path / "venv", tmp_path / "empty"
    checkout.mkdir()
    elsewhere.mkdir()
    _fresh_checkout(checkout)
    assert not list((checkout / "kcoro_stream").glob("*.so"))
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    r = _run([str(venv / "bin" / "pip"), "install", "-q", str(checkout)], tmp_path, timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    ks = str(venv / "bin" / "kcoro-stream")

    for cwd in (checkout, elsewhere):  # inside the checkout its kcoro_stream/ must not shadow the install
        r = _run([ks, "run", "--duration", "2", "--no-log", "--no-tui"], cwd)
        assert r.returncode == 0, f"in {cwd}: {r.stderr[-2000:]}"
        assert '"type":"sample"' in r.stdout and '"type":"summary"' in r.stdout
        assert "Traceback" not in r.stderr

    r = _run([ks, "pipelines"], elsewhere)
    assert r.returncode == 0, r.stderr
    assert [ln.split()[0] for ln in r.stdout.splitlines()] == sorted(
        p.stem for p in (ROOT / "pipelines").glob("*.py")
    )
    r = _run(
        [ks, "run", "latency", "--mode", "tasks", "--duration", "1.5", "--no-log", "--no-tui"], elsewhere
    )
    assert r.returncode == 0, r.stderr
    assert '"type":"histogram"' in r.stdout
    assert not (elsewhere / "runs").exists()  # --no-log: nothing written where it ran
