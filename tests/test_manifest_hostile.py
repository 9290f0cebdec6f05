"""Manifests against hostile input: colliding run directories, two runners on one --out-dir."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from test_manifest import index, ks, run_started, start_recording

from kcoro_stream.errors import UsageError
from kcoro_stream.manifest import load_manifest

QUICK = "defaults: {mode: tasks, duration: 0.3s, bench: {workers: 1}}\n"


def _one_line(r: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("matrix", "line", "what"),
    [
        ("{seed: [1, 1]}", 4, "seed=1"),
        ('{duration: ["1s", "1S"]}', 4, "duration="),
        ('{duration: ["1s", "1000ms"]}', 4, "duration="),
        ("{seed: [1], bench.seed: [2]}", 4, "'bench.seed'"),
    ],
)
def test_identical_planned_combinations_are_refused_everywhere(
    tmp_path: Path, matrix: str, line: int, what: str
) -> None:
    """Two combinations that configure the same run: check, plan and run say so in one line, exit 2."""
    m = tmp_path / "m.yaml"
    m.write_text(f"{QUICK}steps:\n  - name: a\n    matrix: {matrix}\n")
    for cmd in (
        ["manifest", "check", str(m)],
        ["manifest", "plan", str(m)],
        ["manifest", "run", str(m), "--out-dir", "out"],
    ):
        r = ks(tmp_path, *cmd)
        msg = _one_line(r)
        assert r.returncode == 2, (cmd, r.stderr)
        assert f"{m}:{line}:" in msg and what in msg, msg
    assert not (tmp_path / "out").exists()


def test_run_directory_names_are_injective(tmp_path: Path) -> None:
    """Distinct runs whose names would collide (another step's name, letter case) get distinct directories."""
    m = tmp_path / "m.yaml"
    m.write_text(
        f"{QUICK}steps:\n"
        "  - name: a-seed1\n"
        "  - name: a\n    matrix: {seed: [1, 2]}\n"
        "  - name: B\n"
        "  - name: b\n"
    )
    man = load_manifest(m)
    slugs = [r.slug for r in man.runs]
    assert len({s.casefold() for s in slugs}) == len(slugs) == 5, slugs
    # names that collide with nothing keep their plain form (old results directories still match)
    assert "a-seed2-r1" in slugs
    assert all(s.startswith(("a-seed1-", "a-seed2", "B-", "b-")) for s in slugs), slugs
    # the names are stable: the same manifest plans the same directories
    assert [r.slug for r in load_manifest(m).runs] == slugs


def test_colliding_names_run_into_their_own_directories(tmp_path: Path) -> None:
    """step a-seed1 beside step a with seed 1: both logs and summaries kept, the index names each dir."""
    m = tmp_path / "m.yaml"
    m.write_text(f"{QUICK}steps:\n  - name: a-seed1\n  - name: a\n    matrix: {{seed: [1]}}\n")
    out = tmp_path / "res"
    r = ks(tmp_path, "manifest", "run", str(m), "--out-dir", str(out))
    assert r.returncode == 0, r.stderr
    runs = index(out)["runs"]
    assert isinstance(runs, list) and len(runs) == 2
    assert len({x["dir"] for x in runs}) == 2
    for x in runs:
        assert x["state"] == "ok"
        assert run_started(out / x["dir"]).run_id == x["run_id"]
        assert json.loads((out / x["dir"] / "summary.json").read_text())["producer_run_id"] == x["run_id"]


def test_an_old_results_directory_resumes_from_the_dirs_its_index_names(tmp_path: Path) -> None:
    """index.json's dir is where an ok run lives, whatever the planned name is now: it is not run again."""
    m = tmp_path / "m.yaml"
    m.write_text(f"{QUICK}steps:\n  - name: a\n    repeats: 2\n")
    out = tmp_path / "res"
    assert ks(tmp_path, "manifest", "run", str(m), "--out-dir", str(out)).returncode == 0
    body = index(out)
    runs = body["runs"]
    assert isinstance(runs, list)
    os.rename(out / runs[0]["dir"], out / "named-by-an-older-version")
    runs[0]["dir"] = "named-by-an-older-version"
    (out / "index.json").write_text(json.dumps(body))
    r = ks(tmp_path, "manifest", "run", str(m), "--out-dir", str(out))
    assert r.returncode == 0 and "0 run(s), 2 already done" in r.stderr, r.stderr
    assert index(out)["runs"] == runs


def test_another_entrys_directory_is_never_removed(tmp_path: Path) -> None:
    """An edited manifest plans a run into a directory the index gives to another run: that run's data stays."""
    out = tmp_path / "res"
    first = tmp_path / "first.yaml"
    first.write_text(f"{QUICK}steps:\n  - name: a-seed1\n")
    assert ks(tmp_path, "manifest", "run", str(first), "--out-dir", str(out)).returncode == 0
    (old,) = index(out)["runs"]  # type: ignore[misc]
    kept = {p.name: p.read_bytes() for p in (out / old["dir"]).iterdir() if p.is_file()}
    second = tmp_path / "second.yaml"
    second.write_text(f"{QUICK}steps:\n  - name: a\n    matrix: {{seed: [1]}}\n")  # plans a-seed1-r1 too
    r = ks(tmp_path, "manifest", "run", str(second), "--out-dir", str(out))
    assert r.returncode == 0, r.stderr
    assert {p.name: p.read_bytes() for p in (out / old["dir"]).iterdir() if p.is_file()} == kept
    runs = index(out)["runs"]
    assert isinstance(runs, list) and len(runs) == 2 and old in runs
    new = next(x for x in runs if x["step"] == "a")
    assert new["dir"] != old["dir"] and new["state"] == "ok"
    assert run_started(out / new["dir"]).run_id == new["run_id"]


def test_a_directory_whose_writer_lock_is_held_is_never_removed(tmp_path: Path) -> None:
    """A failed earlier attempt's directory that someone is writing now: left alone, the run goes elsewhere."""
    m = tmp_path / "m.yaml"
    m.write_text(f"{QUICK}steps:\n  - name: a\n")
    out = tmp_path / "res"
    busy = out / "a-r1"
    busy.mkdir(parents=True)
    (busy / "data").write_text("someone's")
    fd = os.open(busy / "writer.lock", os.O_RDWR | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        r = ks(tmp_path, "manifest", "run", str(m), "--out-dir", str(out))
        assert r.returncode == 0, r.stderr
        assert (busy / "data").read_text() == "someone's"
        (run,) = index(out)["runs"]  # type: ignore[misc]
        assert run["dir"] != "a-r1" and run["state"] == "ok"
    finally:
        os.close(fd)


def test_a_second_runner_on_one_out_dir_is_refused_and_the_first_loses_nothing(tmp_path: Path) -> None:
    """Two `manifest run`s on one --out-dir: the second says so in one line, exit 1; the first finishes whole."""
    m = tmp_path / "m.yaml"
    m.write_text(
        "defaults: {mode: tasks, duration: 2s, bench: {workers: 1}}\nsteps:\n  - {name: a, repeats: 2}\n"
    )
    out = tmp_path / "res"
    p = start_recording(tmp_path, m, out, out / "a-r1")
    try:
        r = ks(tmp_path, "manifest", "run", str(m), "--out-dir", str(out), "--force")
        msg = _one_line(r)
        assert r.returncode != 0 and str(out) in msg and f"pid {p.pid}" in msg, msg
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
            p.wait(timeout=30)
    runs = index(out)["runs"]
    assert isinstance(runs, list) and [x["state"] for x in runs] == ["ok", "ok"]
    for x in runs:
        assert run_started(out / x["dir"]).run_id == x["run_id"]


def test_a_second_runner_after_the_first_ended_runs(tmp_path: Path) -> None:
    """The out-dir lock is the runner's own: it ends with the runner (kill -9 included)."""
    m = tmp_path / "m.yaml"
    m.write_text("defaults: {mode: tasks, duration: 30s, bench: {workers: 1}}\nsteps:\n  - {name: a}\n")
    out = tmp_path / "res"
    p = start_recording(tmp_path, m, out, out / "a-r1")
    p.kill()
    p.communicate(timeout=30)
    m.write_text(f"{QUICK}steps:\n  - {{name: a}}\n")
    r = ks(tmp_path, "manifest", "run", str(m), "--out-dir", str(out))
    assert r.returncode == 0, r.stderr
    (run,) = index(out)["runs"]  # type: ignore[misc]
    assert run["state"] == "ok"


def test_the_index_dir_must_be_a_name_in_the_out_dir(tmp_path: Path) -> None:
    """A hostile index.json naming '..' or a path as a run's dir is not trusted as that run's results."""
    m = tmp_path / "m.yaml"
    m.write_text(f"{QUICK}steps:\n  - name: a\n")
    out = tmp_path / "res"
    out.mkdir()
    entry = {"step": "a", "params": {}, "repeat": 1, "variant": "", "state": "ok", "dir": ".."}
    (out / "index.json").write_text(json.dumps({"runs": [entry]}))
    r = ks(tmp_path, "manifest", "run", str(m), "--out-dir", str(out))
    assert r.returncode == 0 and "1 run(s), 0 already done" in r.stderr, r.stderr


def test_load_manifest_refuses_duplicates_with_usage_error(tmp_path: Path) -> None:
    m = tmp_path / "m.yaml"
    m.write_text(f"{QUICK}steps:\n  - name: a\n    matrix: {{seed: [3, 4, 3]}}\n")
    with pytest.raises(UsageError, match=r"identical"):
        load_manifest(m)


def _bomb(depth: int) -> str:
    """A YAML alias bomb in flow style: 9**depth leaves in a few hundred bytes (shared when parsed)."""
    items = ["&a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    items += [f"&a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, depth + 1)]
    return f"[{', '.join(items)}]"


@pytest.mark.parametrize(
    "where",
    [
        "steps:\n  - name: a\n    duration: *a9\n",
        "steps:\n  - name: a\n    duration: 1s\n    matrix: {seed: *a9}\n",
        "steps:\n  - name: a\n    duration: 1s\n    bench: {workers: *a9}\n",
        "steps:\n  - name: *a9\n",
        "steps: *a9\n",
        "manifest: *a9\nsteps: []\n",
        "steps:\n  - name: a\n    duration: 1s\n    outputs: *a9\n",
        "steps:\n  - name: a\n    duration: 1s\n    repeats: *a9\n",
        "steps:\n  - name: a\n    duration: 1s\n    matrix: {seed: [1, 2]}\n    exclude: *a9\n",
    ],
)
def test_a_yaml_alias_bomb_is_one_short_line_at_once(tmp_path: Path, where: str) -> None:
    """Aliases are shared when parsed; an error quoting the value must not expand 9**9 leaves."""
    m = tmp_path / "bomb.yaml"
    m.write_text(where.replace("*a9", _bomb(9)))
    t = time.monotonic()
    r = ks(tmp_path, "manifest", "check", str(m), timeout=60)
    assert time.monotonic() - t < 10
    msg = _one_line(r)
    assert r.returncode == 2 and len(msg) < 400, msg


def test_a_matrix_too_large_to_plan_is_refused_at_once(tmp_path: Path) -> None:
    m = tmp_path / "big.yaml"
    values = ", ".join(str(i) for i in range(1, 1001))
    m.write_text(f"{QUICK}steps:\n  - name: a\n    matrix: {{seed: [{values}], batch: [{values}]}}\n")
    t = time.monotonic()
    r = ks(tmp_path, "manifest", "check", str(m), timeout=60)
    assert time.monotonic() - t < 10
    msg = _one_line(r)
    assert r.returncode == 2 and f"{m}:4:" in msg and "1000000" in msg.replace(",", ""), msg


def test_a_deeply_nested_manifest_is_one_line(tmp_path: Path) -> None:
    m = tmp_path / "deep.yaml"
    m.write_text("steps: " + "[" * 100_000 + "]" * 100_000 + "\n")
    r = ks(tmp_path, "manifest", "check", str(m), timeout=60)
    msg = _one_line(r)
    assert r.returncode == 2 and str(m) in msg and "deep" in msg, msg
