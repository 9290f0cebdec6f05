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


def test_dashboard_under_tmux_keys_and_resize(tmp_path: Path) -> None:
    t = Tmux(tmp_path)
    done = tmp_path / "exit"
    cmd = (
        f"cd {ROOT} && env -u COLUMNS -u LINES {sys.executable} -m kcoro_stream run pipelines/default.py --producer synthetic "
        f"--duration 60 --log {tmp_path / 'run'}; echo $? > {done}; sleep 60"
    )
    t("new-session", "-d", "-s", t.name, "-x", "160", "-y", "48", cmd)
    t("resize-window", "-t", t.name, "-x", "160", "-y", "48")  # detached: pin the size (window-size manual)
    try:
        screen = t.wait_for("fastpath")  # the ratio sparklines appear with the first sample
        for panel in (
            "run",
            "monitor",
            "workers",
            "latency",
            "channel counters",
            "alerts",
            "fastpath",
            "steal",
        ):
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
        deadline = time.monotonic() + 30
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert done.read_text().strip() == "0"
        # the dashboard is gone: the summary and the run directory stay on the terminal
        screen = t.wait_for("run directory:", timeout=10)
        assert "SUMMARY" in screen and str(tmp_path / "run") in screen.replace("\n", ""), screen
    finally:
        subprocess.run(["tmux", "-S", t.sock, "kill-server"], capture_output=True)
