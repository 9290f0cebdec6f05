"""A non-editable install (`pip install .` into a fresh venv) runs from anywhere.

The checkout's own ``kcoro_stream/`` has no built extensions; run inside it,
the benchmark child must still import the installed package (it used to die
with ``ModuleNotFoundError: kcoro_stream._native``). Outside it, the shipped
pipelines must be found by name. Slow (the install compiles the C runtime),
run in CI.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
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


@pytest.fixture(scope="module")
def plain_install(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A fresh clone's files and ``pip install .`` of them (no extras) into a new venv: (checkout, venv).

    One install for both tests below (it compiles the C runtime: ~25 s)."""
    tmp = tmp_path_factory.mktemp("install")
    checkout, venv = tmp / "kcoro-stream", tmp / "venv"
    checkout.mkdir()
    _fresh_checkout(checkout)
    assert not list((checkout / "kcoro_stream").glob("*.so"))
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    r = _run([str(venv / "bin" / "pip"), "install", "-q", str(checkout)], tmp, timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    return checkout, venv


@pytest.mark.slow
def test_pip_install_runs_inside_the_checkout_and_anywhere(tmp_path: Path, plain_install) -> None:
    checkout, venv = plain_install
    elsewhere = tmp_path / "empty"
    elsewhere.mkdir()
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


# What a lean install does without each extra: (args, the extra its one line names).
MISSING_EXTRA = [
    (["run", "-d", "1", "--no-log", "--prometheus", "127.0.0.1:0"], "prometheus"),
    (["run", "-d", "1", "--no-log", "--websocket", "127.0.0.1:0"], "web"),
    (["run", "-d", "1", "--no-log", "--remote-write", "http://127.0.0.1:9/api/v1/write"], "remote-write"),
    (["run", "-d", "1", "--no-log", "--tui"], "tui"),
    (["report", "results", "--out", "report"], "report"),
    (["history"], "history"),
    (["compare", "results", "results"], "verdicts"),
]


def _on_a_terminal(cmd: list[str], cwd: Path, read_pty: Callable[[int], bytes]) -> tuple[int, str, str]:
    """Run ``cmd`` with stdin and stdout on a pseudo-terminal: (exit code, terminal text, stderr)."""
    import pty

    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "CI")}
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=subprocess.PIPE)
    os.close(slave)
    shown = read_pty(master)
    os.close(master)
    err = p.stderr.read().decode() if p.stderr else ""
    return p.wait(timeout=60), shown.decode(errors="replace"), err


@pytest.mark.slow
def test_a_lean_install_records_replays_validates_and_names_each_missing_extra(
    tmp_path: Path, read_pty: Callable[[int], bytes], plain_install
) -> None:
    """`pip install .` with no extras: a headless run, its replay, NDJSON/CSV and validate work;
    every surface that needs an extra says which in one line (exit 2), and the dashboard on a
    terminal falls back to the headless screen."""
    _, venv = plain_install
    work = tmp_path / "work"
    work.mkdir()
    py = str(venv / "bin" / "python")
    extras_packages = ["textual", "rich", "hypercorn", "wsproto", "prometheus-client", "protobuf", "cramjam",
                       "scipy", "numpy", "matplotlib", "duckdb", "ruptures"]  # fmt: skip
    probe = (
        "import importlib.metadata as m, sys\n"
        "def has(d):\n"
        "    try:\n        m.distribution(d)\n    except m.PackageNotFoundError:\n        return False\n"
        "    return True\n"
        "print(' '.join(d for d in sys.argv[1:] if has(d)))\n"
    )
    r = _run([py, "-c", probe, *extras_packages], work)
    assert r.returncode == 0 and r.stdout.split() == [], f"came with a plain install: {r.stdout}{r.stderr}"
    ks = str(venv / "bin" / "kcoro-stream")

    r = _run([ks, "run", "--no-tui", "--duration", "2"], work)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.count('"type":"sample"') >= 4 and "Traceback" not in r.stderr
    (run_dir,) = (work / "runs").iterdir()
    r = _run([ks, "replay", str(run_dir)], work)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.count('"type":"sample"') >= 4 and '"type":"summary"' in r.stdout

    r = _run([ks, "run", "-d", "1", "--no-log", "--no-tui", "--no-stdout", "--sink", "ndjson:o.ndjson",
              "--sink", "csv:o.csv"], work)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    assert (work / "o.csv").read_text().startswith("schema,ts,")
    r = _run([ks, "validate", "o.ndjson"], work)
    assert r.returncode == 0 and ": ok: " in r.stdout, r.stdout + r.stderr

    (work / "m.yaml").write_text(
        "defaults: {warmup: 0s, repeats: 2}\nsteps:\n  - {name: s, duration: 300ms}\n"
    )
    r = _run([ks, "manifest", "run", "m.yaml", "--out-dir", "results"], work)
    assert r.returncode == 0, r.stderr[-2000:]

    for args, extra in MISSING_EXTRA:
        r = _run([ks, *args], work)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1, f"{args}: {r.returncode} {r.stderr[-2000:]}"
        assert re.fullmatch(
            rf"kcoro-stream: .+ needs the \[{re.escape(extra)}\] extra \(no module named '[\w.]+'\): "
            rf"pip install 'kcoro-stream\[{re.escape(extra)}\]'",
            lines[0],
        ), lines[0]
    assert not (work / "report").exists()  # nothing half-made

    code, shown, err = _on_a_terminal([ks, "run", "-d", "1", "--no-log"], work, read_pty)
    assert code == 0, err
    assert err.splitlines()[0].startswith("kcoro-stream: the terminal dashboard needs the [tui] extra ("), err
    assert err.splitlines()[0].endswith("pip install 'kcoro-stream[tui]'; running headless"), err
    assert "tasks/s" in shown  # the readable headless lines, on the terminal

    r = _run([ks, "list"], work)
    assert re.search(r"^  tui\s+\(not installed: pip install 'kcoro-stream\[tui\]'\)$", r.stdout, re.M), (
        r.stdout
    )
