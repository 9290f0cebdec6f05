"""Drive a terminal program under a real tmux: start, type keys, read the screen.

For the dashboard test against a real run (``kcoro-stream run`` with stdout a
terminal). Every session uses its own tmux server socket (``-L``), so tests
never touch a user's tmux and can run in parallel. Waiting is bounded polling
on the screen's content, never a fixed sleep.

    with TmuxSession(["kcoro-stream", "run", "pipelines/default.py"], size=(160, 50)) as tm:
        tm.wait_for("tasks/s")
        tm.send_keys("r")
        tm.wait_for("PAUSED")
        tm.send_keys("q")
        assert tm.wait_exit() == 0
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

import pytest


def need_tmux() -> str:
    path = shutil.which("tmux")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("tmux is not installed (CI must apt-get install tmux)")
        pytest.skip("tmux not installed")
    return path


class TmuxSession:
    """One detached tmux session running ``argv`` in a fixed-size window."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        size: tuple[int, int] = (160, 50),
        cwd: str | Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.tmux = need_tmux()
        self.socket = f"kcoro-test-{uuid.uuid4().hex[:12]}"
        self.name = "t"
        self.argv = list(argv)
        self.size = size
        self.cwd = str(cwd) if cwd is not None else None
        self.env = dict(env or {})
        self.status_file = Path(f"/tmp/{self.socket}.status")
        self.conf_file = Path(f"/tmp/{self.socket}.conf")

    def _tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.tmux, "-L", self.socket, "-f", str(self.conf_file), *args],
            capture_output=True,
            text=True,
            check=check,
            timeout=30,
        )

    def __enter__(self) -> TmuxSession:
        # the exit status is written to a file so wait_exit() can read it after the pane closes
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env.items())
        inner = f"{exports} {shlex.join(self.argv)}; echo $? > {shlex.quote(str(self.status_file))}"
        width, height = self.size
        # no client is ever attached: the window keeps exactly the size we give it
        self.conf_file.write_text(f"set -g default-size {width}x{height}\n")
        args = ["new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height)]
        if self.cwd:
            args += ["-c", self.cwd]
        # COLUMNS/LINES (pytest sets them) would override the pane size the program sees
        term = ["env", "-u", "COLUMNS", "-u", "LINES", "TERM=xterm-256color", "COLORTERM=truecolor"]
        self._tmux(*args, *term, "sh", "-c", inner)
        self._tmux("set-option", "-t", self.name, "remain-on-exit", "on")
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._tmux("kill-server", check=False)
        self.status_file.unlink(missing_ok=True)
        self.conf_file.unlink(missing_ok=True)

    def send_keys(self, *keys: str) -> None:
        """tmux key names: "q", "Left", "Right", "+", "-", "C-c", "Enter"."""
        self._tmux("send-keys", "-t", self.name, *keys)

    def resize(self, width: int, height: int) -> None:
        self._tmux("resize-window", "-t", self.name, "-x", str(width), "-y", str(height))
        self.size = (width, height)

    def screen(self) -> str:
        """The visible screen as plain text."""
        return self._tmux("capture-pane", "-p", "-t", self.name).stdout

    def wait_for(
        self, what: str | Callable[[str], bool], *, timeout: float = 30.0, interval: float = 0.1
    ) -> str:
        """Poll the screen until ``what`` appears (or the predicate holds); return the screen."""
        check = (lambda s: what in s) if isinstance(what, str) else what
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if check(screen):
                return screen
            time.sleep(interval)
        raise AssertionError(f"screen never showed {what!r} within {timeout}s; last screen:\n{screen}")

    def wait_exit(self, *, timeout: float = 30.0, interval: float = 0.1) -> int:
        """Wait for the program to end; return its exit status."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.status_file.exists():
                text = self.status_file.read_text().strip()
                if text:
                    return int(text)
            time.sleep(interval)
        raise AssertionError(f"program did not exit within {timeout}s; last screen:\n{self.screen()}")
