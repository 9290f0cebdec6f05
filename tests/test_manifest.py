"""Run-profile manifests through real processes: plan, check, run, index.json, skip, Ctrl-C, bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kcoro_stream.eventlog import open_log
from kcoro_stream.events import RunStarted, decode_frame

ROOT = Path(__file__).resolve().parent.parent
KS = [sys.executable, "-m", "kcoro_stream"]


def env_for(cwd: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("KCORO_STREAM_")}
    e["XDG_CONFIG_HOME"] = str(cwd / ".xdg")
    return e


def ks(cwd: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*KS, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env_for(cwd)
    )


def index(out: Path) -> dict[str, object]:
    return json.loads((out / "index.json").read_text())


def run_started(run_dir: Path) -> RunStarted:
    for f in open_log(run_dir).frames(None, None):
        for e in decode_frame(f.payload):
            if isinstance(e, RunStarted):
                return e
    raise AssertionError(f"{run_dir}: no RunStarted")


def start_recording(cwd: Path, m: Path, out: Path, log_dir: Path) -> subprocess.Popen[str]:
    """``manifest run M --out-dir OUT`` in the background, once its run in ``log_dir`` is recording."""
    p = subprocess.Popen(
        [*KS, "manifest", "run", str(m), "--out-dir", str(out)],
        cwd=cwd, env=env_for(cwd), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not any(log_dir.glob("segment-*")) and time.monotonic() < deadline:
        time.sleep(0.05)  # synchronise on the run's log appearing
    assert any(log_dir.glob("segment-*")), p.poll()
    return p


def test_ci_profile_runs_indexes_replays_and_skips_on_the_second_call(tmp_path: Path, ci_results) -> None:
    """profiles/ci.yaml: every expanded run ok with its summary; each log replays; a rerun does nothing.

    Without variants its ``repeats: auto`` is what an exact comparison with a baseline needs at the
    run's level (α = 0.01 over 5 gated metrics: 7 repeats a step). The first call is the session's
    ``ci_results`` (tests/conftest.py; the README tour starts from a copy of it)."""
    out = ci_results.out
    r = ks(tmp_path, "manifest", "plan", str(ROOT / "profiles/ci.yaml"))
    assert r.returncode == 0 and "28 run(s)" in r.stdout
    r = ci_results.result
    assert r.returncode == 0, r.stderr
    assert ci_results.seconds < 90 * 28 / 20  # was 90 s for 20 runs of 2 s
    runs = index(out)["runs"]
    assert isinstance(runs, list) and len(runs) == 28
    assert {(x["step"], x["repeat"]) for x in runs} == {
        (m, n) for m in ("channel", "tasks", "mixed", "dual") for n in range(1, 8)
    }
    for x in runs:
        assert x["state"] == "ok" and x["error"] is None and x["run_id"], x
        assert x["summary"] and x["summary"][0]["type"] == "summary"
        assert x["fingerprint"]["config"]["mode"] == x["step"]
        assert run_started(out / x["dir"]).run_id == x["run_id"]
    one = out / runs[-1]["dir"]
    r = ks(tmp_path, "replay", str(one))
    assert r.returncode == 0, r.stderr
    assert r.stdout == (one / "derived.ndjson").read_text()
    t0 = time.monotonic()
    r = ks(tmp_path, "manifest", "run", str(ROOT / "profiles/ci.yaml"), "--out-dir", str(out))
    assert r.returncode == 0 and "0 run(s), 28 already done" in r.stderr, r.stderr
    assert time.monotonic() - t0 < 10
    assert index(out)["runs"] == runs


def test_matrix_puts_the_knobs_into_each_run_started(tmp_path: Path) -> None:
    """A 2 x 2 matrix over workers and batch: 4 runs, each RunStarted.config carrying its pair; warm-up marked."""
    m = tmp_path / "m.yaml"
    m.write_text(
        "defaults: {mode: tasks, duration: 1s}\n"
        "steps:\n"
        "  - name: sweep\n"
        "    warmup: 400ms\n"
        "    matrix:\n"
        "      workers: [1, 2]\n"
        "      bench.batch: [1, 32]\n"
    )
    out = tmp_path / "res"
    r = ks(tmp_path, "manifest", "run", str(m), "--out-dir", str(out))
    assert r.returncode == 0, r.stderr
    runs = index(out)["runs"]
    assert isinstance(runs, list)
    pairs = set()
    for x in runs:
        started = run_started(out / x["dir"])
        assert (started.config["workers"], started.config["batch"]) == (
            x["params"]["workers"],
            x["params"]["batch"],
        )
        pairs.add((started.config["workers"], started.config["batch"]))
        lines = [json.loads(ln) for ln in (out / x["dir"] / "derived.ndjson").read_text().splitlines()]
        names = [ln["name"] for ln in lines if ln["type"] == "mark"]
        assert names[:2] == ["step", "warmup"]
        samples = sum(1 for ln in lines if ln["type"] == "sample")
        assert 0 < x["summary"][0]["samples"] < samples  # the warm-up windows are not in the summary
        assert x["summary"][0]["duration_s"] <= 1.0 - 0.4 + 0.05
    assert pairs == {(1, 1), (1, 32), (2, 1), (2, 32)}


def test_a_failed_run_continues_or_stops_and_exits_1(tmp_path: Path) -> None:
    """on_error: continue runs the rest; stop ends there; both exit 1 and keep the error in the index."""
    body = (
        "defaults: {duration: 0.5s}\n"
        "steps:\n"
        "  - {name: bad, mode: channel, bench: {channel_kind: buffered, capacity: 0}}\n"
        "  - {name: good, mode: tasks, bench: {workers: 1}}\n"
    )
    for on_error, expect in (("continue", ["failed", "ok"]), ("stop", ["failed"])):
        m = tmp_path / f"{on_error}.yaml"
        m.write_text(f"on_error: {on_error}\n" + body)
        out = tmp_path / on_error
        r = ks(tmp_path, "manifest", "run", str(m), "--out-dir", str(out))
        assert r.returncode == 1, r.stderr
        runs = index(out)["runs"]
        assert [x["state"] for x in runs] == expect  # type: ignore[union-attr]
        assert "capacity" in runs[0]["error"]  # type: ignore[index]


def test_ctrl_c_ends_the_current_run_keeps_the_rest_and_exits_130(tmp_path: Path) -> None:
    m = tmp_path / "m.yaml"
    m.write_text(
        "defaults: {mode: tasks, duration: 30s, bench: {workers: 1}}\nsteps:\n  - {name: long, repeats: 3}\n"
    )
    out = tmp_path / "res"
    log_dir = out / "long-r1"
    p = start_recording(tmp_path, m, out, log_dir)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    runs = index(out)["runs"]
    assert [x["state"] for x in runs] == ["interrupted"]  # type: ignore[union-attr]
    assert not (out / "long-r2").exists()
    r = ks(tmp_path, "replay", str(log_dir))  # the interrupted run's log is whole
    assert r.returncode == 0, r.stderr


BAD = {
    "unknown_top_key": ("stepz: []\n", ":1:", "unknown key 'stepz' (did you mean 'steps'?)"),
    "unknown_step_key": (
        "steps:\n  - name: a\n    duraton: 1s\n",
        ":3:",
        "unknown key 'duraton' in step (did you mean 'duration'?)",
    ),
    "unknown_bench_key": (
        "steps:\n  - name: a\n    duration: 1s\n    bench: {bacth: 2}\n",
        ":4:",
        "unknown key 'bacth' in [bench] (did you mean 'batch'?)",
    ),
    "wrong_type": (
        "steps:\n  - name: a\n    duration: 1s\n    repeats: many\n",
        ":4:",
        "repeats: expected auto or an integer",
    ),
    "bad_duration": ("steps:\n  - name: a\n    duration: soon\n", ":3:", "bad duration 'soon'"),
    "unknown_mode": (
        "steps:\n  - name: a\n    duration: 1s\n    mode: turbo\n",
        ":4:",
        "run.mode: expected one of channel, tasks, mixed, dual",
    ),
    "empty_matrix": ("steps:\n  - name: a\n    duration: 1s\n    matrix: {}\n", ":4:", "matrix: empty"),
    "empty_matrix_list": (
        "steps:\n  - name: a\n    duration: 1s\n    matrix: {workers: []}\n",
        ":4:",
        "expected a non-empty list",
    ),
    "yaml_syntax": ("steps:\n  - name: a\n    duration: [1s\n", ":4:", "YAML"),
    "duplicate_key": ("steps:\n  - name: a\n    duration: 1s\n    duration: 2s\n", ":4:", "duplicate key"),
    "no_duration": ("steps:\n  - name: a\n", ":2:", "no duration"),
    "bench_range": (
        "steps:\n  - name: a\n    duration: 1s\n    bench: {workers: 99}\n",
        ":4:",
        "bench.workers",
    ),
    # approved by check once, then every run failed
    "interval_out_of_range": (
        "steps:\n  - name: a\n    duration: 1s\n    matrix: {interval: [0.1ms, 1h]}\n",
        ":4:",
        "run.interval: expected 1ms to 60s, got 0.1ms",
    ),
    "duplicate_outputs": (
        "steps:\n  - name: a\n    duration: 1s\n    outputs: [x.ndjson, x.ndjson]\n",
        ":4:",
        "outputs: 'x.ndjson' listed twice",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_manifests_are_one_line_exit_2_and_nothing_written(tmp_path: Path, case: str) -> None:
    text, where, what = BAD[case]
    m = tmp_path / "bad.yaml"
    m.write_text(text)
    for cmd in (
        ["manifest", "check", str(m)],
        ["manifest", "plan", str(m)],
        ["manifest", "run", str(m), "--out-dir", "out"],
    ):
        r = ks(tmp_path, *cmd)
        assert r.returncode == 2, (cmd, r.stderr)
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
        assert f"{m}{where}" in lines[0] and what in lines[0], lines[0]
    assert not (tmp_path / "out").exists()


def test_rerun_retries_what_failed_and_force_reruns_what_was_ok(tmp_path: Path) -> None:
    """A second call skips ok runs (same step, params, repeat) but retries failed ones; --force reruns all."""
    m = tmp_path / "m.yaml"
    m.write_text(
        "defaults: {duration: 0.3s, bench: {workers: 1}}\n"
        "steps:\n"
        "  - {name: ok, mode: tasks}\n"
        "  - {name: bad, mode: channel, bench: {channel_kind: buffered, capacity: 0}}\n"
    )
    out = tmp_path / "res"
    assert ks(tmp_path, "manifest", "run", str(m), "--out-dir", str(out)).returncode == 1
    first = index(out)["runs"]
    r = ks(tmp_path, "manifest", "run", str(m), "--out-dir", str(out))
    assert r.returncode == 1 and "1 run(s), 1 already done, 1 failed" in r.stderr, r.stderr
    assert index(out)["runs"][0] == first[0]  # type: ignore[index]
    r = ks(tmp_path, "manifest", "run", str(m), "--out-dir", str(out), "--force")
    assert r.returncode == 1 and "2 run(s), 0 already done" in r.stderr, r.stderr
    assert index(out)["runs"][0]["run_id"] != first[0]["run_id"]  # type: ignore[index]


def test_a_progress_line_per_run_on_a_terminal_only(tmp_path: Path, read_pty: Callable[[int], bytes]) -> None:
    """stderr a terminal (a pty): one line per run's start and end; piped: only the closing tally."""
    import pty

    m = tmp_path / "m.yaml"
    m.write_text(
        "defaults: {mode: tasks, duration: 0.3s, repeats: 2, bench: {workers: 1}}\nsteps:\n  - name: p\n"
    )
    master, slave = pty.openpty()
    p = subprocess.Popen(
        [*KS, "manifest", "run", str(m), "--out-dir", "a"],
        cwd=tmp_path, env=env_for(tmp_path), stdout=subprocess.DEVNULL, stderr=slave,
    )  # fmt: skip
    os.close(slave)
    seen = read_pty(master)
    os.close(master)
    assert p.wait(timeout=60) == 0
    text = seen.decode()
    assert "[1/2] p-r1: running" in text and "[2/2] p-r2: ok in" in text, text
    r = ks(tmp_path, "manifest", "run", str(m), "--out-dir", "b")
    assert r.returncode == 0 and "running" not in r.stderr and r.stderr.count("\n") == 1, r.stderr
