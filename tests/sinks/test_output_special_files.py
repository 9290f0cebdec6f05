"""Output paths that are not plain files: FIFOs, devices and symlinks are never replaced.

Reproducers of "hostile input" finding A, through real files and the real CLI.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kcoro_stream.errors import SinkError
from kcoro_stream.sinks import open_output

REPO = Path(__file__).resolve().parents[2]
KS = [sys.executable, "-m", "kcoro_stream"]
PIPELINE = str(REPO / "pipelines" / "default.py")
PAYLOAD = b'{"a":1}\n'


def run_to(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    args = [*KS, "run", PIPELINE, "-d", ".3", "--no-log", "--no-tui", "--no-stdout", "--out", str(out)]
    return subprocess.run([*args, *extra], capture_output=True, text=True, timeout=120, cwd=out.parent)


def read_fifo(path: Path, into: list[bytes]) -> threading.Thread:
    def reader() -> None:
        with open(path, "rb") as f:
            into.append(f.read())

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    return t


def test_a_fifo_output_is_written_through_and_stays_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "f"
    os.mkfifo(fifo)
    got: list[bytes] = []
    t = read_fifo(fifo, got)
    out = open_output(fifo)  # no force needed: nothing is clobbered
    out.write(PAYLOAD)
    out.close()
    t.join(10)
    assert got == [PAYLOAD]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert [n for n in os.listdir(tmp_path) if n != "f"] == []


def test_a_character_device_output_is_written_through(tmp_path: Path) -> None:
    """/dev/null (through a symlink, so a regression replaces only the link) stays a device."""
    link = tmp_path / "null"
    link.symlink_to("/dev/null")
    out = open_output(link)
    out.write(PAYLOAD)
    out.close()
    assert link.is_symlink() and os.readlink(link) == "/dev/null"
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_symlink_output_writes_its_target_and_keeps_the_link(tmp_path: Path) -> None:
    (tmp_path / "target").write_bytes(b"old\n")
    link = tmp_path / "l"
    link.symlink_to("target")
    with pytest.raises(SinkError, match="exists"):
        open_output(link)
    out = open_output(link, force=True)
    out.write(PAYLOAD)
    out.close()
    assert link.is_symlink() and os.readlink(link) == "target"
    assert (tmp_path / "target").read_bytes() == PAYLOAD


def test_a_dangling_symlink_creates_its_target(tmp_path: Path) -> None:
    link = tmp_path / "l"
    link.symlink_to("sub-target.ndjson")
    out = open_output(link)
    out.write(PAYLOAD)
    out.close()
    assert link.is_symlink()
    assert (tmp_path / "sub-target.ndjson").read_bytes() == PAYLOAD


def test_a_socket_and_symlink_loop_are_refused_in_one_line(tmp_path: Path) -> None:
    import socket

    sock_path = tmp_path / "s"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(sock_path))
        with pytest.raises(SinkError, match="not a regular file, FIFO or character device"):
            open_output(sock_path, force=True)
    loop = tmp_path / "loop"
    loop.symlink_to("loop")
    with pytest.raises(SinkError, match="loop"):
        open_output(loop, force=True)


def test_a_fifo_without_reader_gives_up_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kcoro_stream.sinks import _output

    monkeypatch.setattr(_output, "FIFO_READER_WAIT_S", 0.1)
    fifo = tmp_path / "f"
    os.mkfifo(fifo)
    with pytest.raises(SinkError, match="FIFO has no reader"):
        open_output(fifo)


@pytest.mark.parametrize("kind", ["fifo", "chardev", "symlink"])
def test_a_cli_run_with_force_never_turns_a_special_file_into_a_regular_one(
    tmp_path: Path, kind: str
) -> None:
    """`run --out X --force` for X a FIFO, a character device, a symlink: X keeps its type."""
    got: list[bytes] = []
    t: threading.Thread | None = None
    target = tmp_path / "target"
    if kind == "fifo":
        x = tmp_path / "f"
        os.mkfifo(x)
        t = read_fifo(x, got)
    elif kind == "chardev":
        x = tmp_path / "n"
        try:
            os.mknod(x, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # /dev/null's numbers
        except PermissionError:
            x.unlink(missing_ok=True)
            x.symlink_to("/dev/null")  # unprivileged: a link to the real one
    else:
        target.write_bytes(b"old\n")
        x = tmp_path / "l"
        x.symlink_to("target")
    r = run_to(x, "--force")
    assert r.returncode == 0, r.stderr
    if kind == "fifo":
        assert t is not None
        t.join(30)
        assert stat.S_ISFIFO(os.lstat(x).st_mode)
        assert got and got[0].count(b"\n") >= 1
    elif kind == "chardev":
        assert stat.S_ISCHR(os.stat(x).st_mode)
    else:
        assert x.is_symlink()
        assert target.read_bytes().startswith(b"{")
    assert sorted(n for n in os.listdir(tmp_path) if n.endswith(".tmp")) == []
