"""Issue 28, the dashboard as a person meets it: a real run in a real terminal at 80×24, 120×40, 200×50.

One run of the shipped benchmark and one tmux server serve the three sizes (CI
time): the run starts in channel mode at 200×50 and ``t`` switches it to tasks
(the switch that crashed with ``DuplicateIds 'pool-channel'``), then 50 keys
drawn from every binding (mode switches among them) land while the window is
resized through the three sizes. After every few keys the screen
(``capture-pane``) is checked: no traceback, no number cut by ``…``, no table
row wrapped onto a second line. At the end the held screen's header and run
pane agree (``run ended`` / ``state ended``), the summary has peak, average and
EMA, and the lines printed after ``q`` too.
"""

from __future__ import annotations

import random
import re
import sys
import time
from pathlib import Path

try:
    from .tmux_helpers import TmuxSession
except ImportError:  # tests/ run without package __init__ files
    from tmux_helpers import TmuxSession  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parents[2]
SIZES = ((200, 50), (120, 40), (80, 24))
# every binding but q / ctrl+c (they end the run), plus keys bound to nothing
KEYS = [
    "r",
    "c",
    "t",
    "h",
    "+",
    "-",
    "Left",
    "Right",
    "End",
    "[",
    "]",
    "Tab",
    "BTab",
    *"12345678",
    "x",
    "Space",
    "Enter",
    "Up",
    "Down",
]
DIGIT_CUT = re.compile(r"[\d,.]…|…[\d,.]")  # "8,892,…", "212,820,9…": a number cut short
BORDER = "│╭╮╰╯"


def cut_numbers(screen: str) -> list[str]:
    return [line for line in screen.splitlines() if DIGIT_CUT.search(line)]


def _rows_below(lines: list[str], i: int, x: int) -> list[str]:
    """The lines under line ``i`` of the pane whose text starts at column ``x``, up to its border or a blank."""
    border = lines[i].rfind("│", 0, x)
    left = border + 2 if border >= 0 else x
    rows = []
    for line in lines[i + 1 :]:
        if border >= 0 and line[border : border + 1] != "│":
            break  # the pane's bottom border
        cell = line[left:]
        end = min([cell.find(c) for c in BORDER if c in cell] or [len(cell)])
        text = cell[:end].rstrip()
        if not text.strip() or text.lstrip()[0] in BORDER:
            break
        rows.append(text.strip())
    return rows


def wrapped_rows(screen: str) -> list[str]:
    """Table rows continued on the next line: the OS table (each row starts with its worker) and the
    statistics (a row never starts with a figure)."""
    lines = screen.splitlines()
    bad: list[str] = []
    for i, line in enumerate(lines):
        for m in re.finditer(r"worker\s+cpu", line):
            for row in _rows_below(lines, i, m.start()):
                if row.startswith("*") or row.startswith("wait:"):
                    break
                if not re.match(r"(\w{1,4} )?w\d+ ", row):
                    bad.append(f"OS row {row!r} under {line.strip()!r}")
        for m in re.finditer(r"\bcurrent\b", line):
            for row in _rows_below(lines, i, m.start()):
                if re.match(r"[\d–.,%]", row):
                    bad.append(f"statistics row {row!r} under {line.strip()!r}")
    return bad


def drawn(tm: TmuxSession) -> str:
    """The screen once the dashboard has drawn itself at the window's size: the header's clock at
    the right edge (a frame of the old size leaves it elsewhere, or cut off)."""
    width = tm.size[0]

    def whole(screen: str) -> bool:
        head = screen.splitlines()[0][:width] if screen else ""
        return bool(re.search(r"\d\d:\d\d:\d\d\s*$", head)) and len(head.rstrip()) >= width - 2

    time.sleep(0.2)  # the resize's redraw (50 ms after the layout) has landed
    return tm.wait_for(whole, timeout=10)


def tabs(screen: str) -> str:
    """The compact screen's line of views (``pools workers os latency …``)."""
    return next((line for line in screen.splitlines() if "tab: next view" in line), "")


def check(screen: str, where: str) -> None:
    assert "Traceback" not in screen and "Error" not in screen, f"{where}:\n{screen}"
    assert not cut_numbers(screen), f"{where}: a number cut: {cut_numbers(screen)}\n{screen}"
    assert not wrapped_rows(screen), f"{where}: {wrapped_rows(screen)}\n{screen}"


def test_checks_catch_what_issue_28_saw() -> None:
    """The screen checks fail on the screens the issue reported (so a pass means something)."""
    assert cut_numbers("│ msgs/s   5,383,…  4,152,…  4,086,5… │") and cut_numbers("bytes_sent  898,367,4…")
    assert not cut_numbers("│ run bench-1796 · source liv… │ channel · imbalance… │")
    seen = (
        "╭─ OS ─────────────────────────────────╮\n"
        "│ worker cpu   wait  inv/s  mig/s      │\n"
        "│ pf/s  ipc                            │\n"
        "│ chan w0 0      86%     36    0.0     │\n"
        "│ 0    –                               │\n"
        "╰──────────────────────────────────────╯\n"
    )
    assert len(wrapped_rows(seen)) == 2  # the header's and the row's continuations
    fixed = seen.replace("│ pf/s  ipc                            │\n", "").replace(
        "│ 0    –                               │\n", ""
    )
    assert not wrapped_rows(fixed)


def test_dashboard_survives_random_keys_mode_switches_and_three_sizes() -> None:
    rng = random.Random(28)
    keys = [rng.choice(KEYS) for _ in range(50)]
    keys[5] = keys[20] = keys[38] = "t"  # mode switches at every size
    argv = [
        "env",
        "-u",
        "CI",
        sys.executable,
        "-m",
        "kcoro_stream",
        "run",
        "--mode",
        "channel",
        "-d",
        "4",
        "--no-log",
    ]
    with TmuxSession(argv, size=SIZES[0], cwd=ROOT) as tm:
        check(tm.wait_for(lambda s: "msgs/s" in s and "current" in s), "channel at 200×50")
        screen = tm.wait_for("msgs/s  ")
        assert not re.search(r"tasks/s\s+[\d–]", screen), "a channel pool has no tasks/s row\n" + screen
        tm.send_keys("t")  # the issue's crash: the first channel → tasks switch at 200×50
        check(tm.wait_for(lambda s: "pool all (tasks)" in s or "tasks/s  " in s), "after t at 200×50")
        tm.resize(80, 24)  # the OS pane is a view of its own, and 8 hides / shows it
        tm.wait_for(lambda s: " os " in tabs(s))
        tm.send_keys("8")
        tm.wait_for(lambda s: tabs(s) and " os " not in tabs(s))
        tm.send_keys("8")
        check(tm.wait_for(lambda s: "worker" in s and " os " in tabs(s)), "OS view at 80×24")
        tm.send_keys("Tab")  # back to the other views
        for n, key in enumerate(keys):
            if n in (0, 17, 34):
                tm.resize(*SIZES[n // 17])
            tm.send_keys(key)
            time.sleep(0.1)
            assert not tm.status_file.exists(), f"the dashboard ended on key {n} ({key!r}):\n{tm.screen()}"
            if n % 4 == 3:
                check(drawn(tm), f"after key {n} ({key!r}) at {tm.size}")
        tm.resize(*SIZES[0])
        if "PAUSED" in drawn(tm).splitlines()[0]:
            tm.send_keys("r")
        tm.wait_for("run ended", timeout=30)
        if "╭─ run " not in drawn(tm):  # a frame of this size: the key below toggles what it shows
            tm.send_keys("1")  # the random keys hid the run pane
        screen = tm.wait_for(lambda s: "state ended" in s and "ema" in s, timeout=10)
        check(screen, "held at 200×50")
        assert "state running" not in screen and "avg" in screen and "peak" in screen, screen
        for size in SIZES[1:]:
            tm.resize(*size)
            check(drawn(tm), f"held at {size}")
        tm.resize(*SIZES[0])
        tm.send_keys("q")
        assert tm.wait_exit() == 0
        after = tm._tmux("capture-pane", "-p", "-S", "-200", "-t", tm.name).stdout  # with the scrollback
    assert "Traceback" not in after and "summary" in after, after
    assert all(f"\n  {w} " in after for w in ("peak", "avg", "ema")), after  # printed after q, like --no-tui
