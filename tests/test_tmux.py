"""The terminal dashboard in a real terminal (tmux) against a real run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PANELS = ("run", "monitor", "workers", "latency", "channel counters", "alerts")  # every pane's title

pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None and not os.environ.get("CI"), reason="tmux not installed (CI installs it)"
)


class Tmux:
    def __init__(self, tmp: Path) -> None:
        self.name = f"kcs-{uuid.uuid4().hex[:8]}"
        self.sock = str(tmp / "tmux.sock")

    def __call__(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-S", self.sock, *args], capture_output=True, text=True, check=True
        ).stdout

    def screen(self) -> str:
        return self("capture-pane", "-t", self.name, "-p")

    def wait_for(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared; screen:\n{screen}")


def _start_run(
    t: Tmux, tmp_path: Path, size: tuple[int, int], *flags: str, duration: float = 3, env: str = ""
) -> Path:
    """A real synthetic run under tmux, as a person at a terminal starts it (no CI variable); its exit-code file."""
    done = tmp_path / "exit"
    cmd = (
        f"cd {ROOT} && env -u COLUMNS -u LINES -u CI {env} {sys.executable} -m kcoro_stream run pipelines/default.py "
        f"--producer synthetic --duration {duration} --log {tmp_path / 'run'} {' '.join(flags)};"
        f" echo $? > {done}; sleep 60"
    )
    w, h = size
    t("new-session", "-d", "-s", t.name, "-x", str(w), "-y", str(h), cmd)
    t(
        "resize-window", "-t", t.name, "-x", str(w), "-y", str(h)
    )  # detached: pin the size (window-size manual)
    return done


def _wait_exit(done: Path, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while not done.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return done.read_text().strip()


def test_dashboard_under_tmux_keys_and_resize(tmp_path: Path) -> None:
    t = Tmux(tmp_path)
    done = _start_run(t, tmp_path, (160, 48), duration=60)
    try:
        screen = t.wait_for("fastpath")  # the ratio sparklines appear with the first sample
        for panel in (*PANELS, "fastpath", "steal"):
            assert panel in screen, panel
        t("send-keys", "-t", t.name, "r")
        t.wait_for("paused", timeout=10)
        t("send-keys", "-t", t.name, "r")
        t.wait_for("running", timeout=10)
        t("resize-window", "-t", t.name, "-x", "100", "-y", "40")
        time.sleep(1)
        screen = t.wait_for("alerts")
        lines = screen.splitlines()
        assert len(lines) <= 40 and max(len(line) for line in lines) <= 100
        assert any(line.rstrip().endswith("╮") and len(line.rstrip()) == 100 for line in lines)  # re-laid out
        t("send-keys", "-t", t.name, "h")
        t.wait_for("help", timeout=10)
        t("send-keys", "-t", t.name, "Escape")
        time.sleep(0.5)  # else ESC + q arrive together and read as alt+q
        t("send-keys", "-t", t.name, "q")
        assert _wait_exit(done) == "0"
        # the dashboard is gone: the summary and the run directory stay on the terminal
        screen = t.wait_for("run directory:", timeout=10)
        assert "summary" in screen and str(tmp_path / "run") in screen.replace("\n", ""), screen
    finally:
        subprocess.run(["tmux", "-S", t.sock, "kill-server"], capture_output=True)


def test_80x24_shows_graph_and_statistics_and_holds_the_summary_until_q(tmp_path: Path) -> None:
    t = Tmux(tmp_path)
    done = _start_run(t, tmp_path, (80, 24))
    try:
        screen = t.wait_for("· zoom ×1")  # the throughput graph's axis line
        screen = t.wait_for("EMA")
        assert "current" in screen and "peak" in screen and "/s" in screen, screen
        lines = screen.splitlines()
        assert len(lines) <= 24 and max(len(line) for line in lines) <= 80
        # the run ends by itself: the last frame stays, with the summary and the run directory
        screen = t.wait_for("run ended", timeout=30)
        screen = t.wait_for("run directory:", timeout=10)
        flat = screen.replace("\n", "").replace(" ", "").replace("│", "")
        assert "summary" in screen and str(tmp_path / "run").replace(" ", "") in flat, screen
        assert "q close" in screen
        time.sleep(1.0)
        assert not done.exists()  # held: waiting for q
        t("send-keys", "-t", t.name, "q")
        assert _wait_exit(done) == "0"
        screen = t.wait_for("run directory:", timeout=10)  # printed after the dashboard closed
        assert "summary" in screen and "avg" in screen and "ema" in screen, screen
    finally:
        subprocess.run(["tmux", "-S", t.sock, "kill-server"], capture_output=True)


@pytest.mark.parametrize("how", ["--exit-on-end", "CI=1"])
def test_200x50_shows_every_panel_and_scripts_never_wait(tmp_path: Path, how: str) -> None:
    """--exit-on-end, or a CI environment: the dashboard closes by itself when the run ends."""
    t = Tmux(tmp_path)
    flag, env = (how, "") if how.startswith("--") else ("", how)
    done = _start_run(t, tmp_path, (200, 50), flag, env=env)
    try:
        screen = t.wait_for("5-sample")
        screen = t.wait_for("failed steals")
        for panel in (
            *PANELS,
            "· zoom ×1",
            "EMA",
            "peak",
        ):
            assert panel in screen, panel
        assert _wait_exit(done) == "0"  # no q needed
        screen = t.wait_for("run directory:", timeout=10)
        assert "summary" in screen and "avg" in screen
    finally:
        subprocess.run(["tmux", "-S", t.sock, "kill-server"], capture_output=True)
