"""A third party's sink, declared by entry point, is found by name like kcoro-stream's own.

The package is docs/sinks.md's example ("A sink of your own"), taken from the page
as it is written, built and installed by pip into a directory of its own (a real
dist-info with entry_points.txt), and used by a real run through ``--sink count:PATH``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "sinks.md"
KS = [sys.executable, "-m", "kcoro_stream"]


def _example() -> dict[str, str]:
    """The files of the doc's example, by the name in their first-line comment."""
    section = DOC.read_text().split("## A sink of your own", 1)[1]
    files = {}
    for block in re.findall(r"```(?:toml|python)\n(.*?)```", section, re.S):
        first, _, _ = block.partition("\n")
        files[first.removeprefix("# ").strip()] = block
    assert set(files) == {"pyproject.toml", "kcoro_count_sink.py"}, sorted(files)
    return files


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example package, installed by pip into a directory put on PYTHONPATH."""
    src, target = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("site")
    for name, text in _example().items():
        (src / name).write_text(text)
    # --no-deps: kcoro-stream is the one under test, already here
    r = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(src)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert list(target.glob("kcoro_count_sink-*.dist-info/entry_points.txt"))
    return target


def _env(site: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(site)}


def test_a_sink_installed_by_entry_point_is_listed_and_runs(installed: Path, tmp_path: Path) -> None:
    r = subprocess.run([*KS, "list"], capture_output=True, text=True, env=_env(installed), timeout=120)
    assert r.returncode == 0, r.stderr
    assert re.search(r"^  count\s+block\s+events per type", r.stdout, re.M), r.stdout

    out = tmp_path / "counts.json"
    r = subprocess.run(
        [*KS, "run", "--producer", "synthetic", "-d", "1", "--no-log", "--no-tui", "--no-stdout",
         "--sink", f"count:{out}"],
        capture_output=True, text=True, env=_env(installed), cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    counts = json.loads(out.read_text())
    assert counts["Sample"] >= 2 and counts["Summary"] >= 1, counts


def test_without_the_package_the_name_is_unknown(tmp_path: Path) -> None:
    r = subprocess.run(
        [*KS, "run", "--producer", "synthetic", "-d", "0.3", "--no-log", "--no-tui", "--no-stdout",
         "--sink", f"count:{tmp_path / 'c.json'}"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert r.returncode == 2
    assert (
        r.stderr.strip().splitlines()[-1].startswith("kcoro-stream: unknown sink 'count' (known: csv, log,")
    )


def test_a_name_taken_twice_is_one_line(installed: Path, tmp_path: Path) -> None:
    """A second package claiming ``ndjson`` is refused, naming both, instead of one silently winning."""
    clash = tmp_path / "clash-0.1.dist-info"
    clash.mkdir()
    (clash / "METADATA").write_text("Metadata-Version: 2.1\nName: clash\nVersion: 0.1\n")
    (clash / "entry_points.txt").write_text("[kcoro_stream.sinks]\nndjson = kcoro_count_sink:CountSink\n")
    r = subprocess.run(
        [*KS, "run", "--producer", "synthetic", "-d", "0.3", "--no-log", "--no-tui", "--no-stdout",
         "--sink", f"ndjson:{tmp_path / 'x.ndjson'}"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
        env={**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{installed}"},
    )  # fmt: skip
    assert r.returncode == 2, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("kcoro-stream: sink 'ndjson' is installed twice ("), last
    assert "kcoro_count_sink:CountSink" in last and "kcoro_stream.sinks.ndjson:NdjsonSink" in last
