"""Outputs you can watch: a new file is written in place, whole lines, flushed per window.

``tail -f`` (a real child process), ``zcat`` and ``zstdcat`` of a growing
``--out`` during a real run see samples; ``-j FILE`` too; a failed run keeps
the complete lines it wrote and its error says so; ``--force`` over an
existing file stays atomic.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from file_factory import make_sink, sample, temp_files

from kcoro_stream.sinks import open_output

REPO = Path(__file__).resolve().parents[2]
KS = [sys.executable, "-m", "kcoro_stream"]
PIPELINE = str(REPO / "pipelines" / "default.py")
RUN = [*KS, "run", PIPELINE, "--no-log", "--no-tui", "--no-stdout", "--mode", "tasks", "-d", "60"]


def _wait_for(path: Path, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, "the run ended before creating its output"
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _sample_lines(text: str, key: str = "type", value: str = "sample") -> list[dict]:
    out = []
    for line in text.splitlines():
        obj = json.loads(line)  # every line is whole
        if obj.get(key) == value:
            out.append(obj)
    return out


def test_tail_f_of_out_sees_samples_while_the_run_goes(tmp_path: Path) -> None:
    out = tmp_path / "live.ndjson"
    run = subprocess.Popen([*RUN, "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    tail: subprocess.Popen[bytes] | None = None
    try:
        _wait_for(out, run)
        assert temp_files(tmp_path) == []  # written under its own name, not a hidden temp file
        tail = subprocess.Popen(["tail", "-n", "+1", "-f", str(out)], stdout=subprocess.PIPE)
        assert tail.stdout is not None
        deadline = time.monotonic() + 60
        seen = 0
        while seen < 3:
            assert time.monotonic() < deadline and run.poll() is None
            line = tail.stdout.readline()
            if json.loads(line).get("type") == "sample":
                seen += 1
        assert run.poll() is None  # still running: tail saw samples of a live run
    finally:
        if tail is not None:
            tail.kill()
            tail.wait()
        _stop(run)


@pytest.mark.parametrize(("suffix", "tool"), [(".zst", ["zstdcat"]), (".gz", ["zcat"])])
def test_zstdcat_and_zcat_of_a_growing_out_see_samples(tmp_path: Path, suffix: str, tool: list[str]) -> None:
    out = tmp_path / f"live.ndjson{suffix}"
    run = subprocess.Popen([*RUN, "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(out, run)
        deadline = time.monotonic() + 60
        while True:
            assert time.monotonic() < deadline and run.poll() is None
            r = subprocess.run([*tool, str(out)], capture_output=True, timeout=30)
            if r.returncode == 0 and len(_sample_lines(r.stdout.decode())) >= 2:
                break
            time.sleep(0.2)
        assert run.poll() is None
    finally:
        _stop(run)
    r = subprocess.run([*tool, str(out)], capture_output=True, check=True, timeout=30)
    assert any(json.loads(x)["type"] == "summary" for x in r.stdout.decode().splitlines())


def test_legacy_j_file_is_tail_able_during_the_run(tmp_path: Path) -> None:
    out = tmp_path / "mon.json"
    run = subprocess.Popen([*RUN, "-j", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(out, run)
        deadline = time.monotonic() + 60
        while len([x for x in out.read_text().splitlines() if "tasks_sec" in json.loads(x)]) < 2:
            assert time.monotonic() < deadline and run.poll() is None
            time.sleep(0.1)
        assert out.read_text().endswith("\n")
        assert run.poll() is None
    finally:
        _stop(run)


FAILING = """
from reactivex import operators as rxo

from kcoro_stream import config
from kcoro_stream.errors import PipelineError
from kcoro_stream.pipeline import Pipeline

seen = [0]


def boom(event):
    if type(event).__name__ == "Sample":
        seen[0] += 1
        if seen[0] > 5:
            raise PipelineError("scripted failure after 5 samples")
    return event


analyses = config.analyses(window_ms=250)
pipeline = Pipeline(derive=lambda source: analyses(source).pipe(rxo.map(boom)), sinks=["stdout"])
"""


def test_a_failed_run_keeps_its_complete_lines_and_says_so(tmp_path: Path) -> None:
    pipe = tmp_path / "failing.py"
    pipe.write_text(FAILING)
    out = tmp_path / "kept.ndjson"
    r = subprocess.run(
        [
            *KS,
            "run",
            str(pipe),
            "--no-log",
            "--no-tui",
            "--no-stdout",
            "--mode",
            "tasks",
            "-d",
            "60",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode != 0
    lines = out.read_bytes().decode()
    assert lines.endswith("\n")
    kept = lines.splitlines()
    assert len(_sample_lines(lines)) == 5
    assert "scripted failure" in r.stderr
    assert f"{out} keeps the {len(kept)} complete lines written before the failure" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_a_run_that_fails_before_writing_leaves_no_file(tmp_path: Path) -> None:
    out = tmp_path / "never.ndjson"
    r = subprocess.run(
        [*KS, "run", PIPELINE, "--mode", "bogus", "--no-log", "--no-tui", "--no-stdout", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2, r.stderr
    assert os.listdir(tmp_path) == []


async def test_abort_of_an_in_place_file_keeps_whole_lines_and_notes_them(tmp_path: Path) -> None:
    out = tmp_path / "k.ndjson.gz"
    sink = make_sink({"sink": "ndjson", "path": str(out)})
    await sink.open()
    await sink.send([sample(0), sample(1)])
    sink.abort()  # type: ignore[attr-defined]
    await sink.aclose()
    r = subprocess.run(["zcat", str(out)], capture_output=True, check=True)
    assert len(r.stdout.splitlines()) == 2
    assert sink.failure_note() == f"{out} keeps the 2 complete lines written before the failure"


def test_in_place_output_holds_only_whole_lines_and_one_member_per_flush(tmp_path: Path) -> None:
    path = tmp_path / "w.ndjson.gz"
    out = open_output(path)
    out.write(b'{"a":1}\n{"b":')
    out.flush()
    first = path.read_bytes()
    assert subprocess.run(["zcat"], input=first, capture_output=True, check=True).stdout == b'{"a":1}\n'
    out.write(b"2}\n")
    out.flush()
    assert (
        subprocess.run(["zcat", str(path)], capture_output=True, check=True).stdout == b'{"a":1}\n{"b":2}\n'
    )
    out.close()


def test_force_over_an_existing_file_is_still_atomic(tmp_path: Path) -> None:
    """tail -f of the old file sees the new one only at the end (docs/sinks.md)."""
    path = tmp_path / "r.ndjson"
    path.write_bytes(b"old\n")
    out = open_output(path, force=True)
    out.write(b'{"a":1}\n')
    out.flush()
    assert path.read_bytes() == b"old\n"
    assert len(temp_files(tmp_path)) == 1
    out.close()
    assert path.read_bytes() == b'{"a":1}\n'
