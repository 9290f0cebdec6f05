"""report through a real process over a real 3-step results directory (1 s runs)."""

from __future__ import annotations

import base64
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest

KS = [sys.executable, "-m", "kcoro_stream"]
THREE = """manifest: three
defaults: {duration: 1s, repeats: 2}
steps:
  - name: tasks
    mode: tasks
  - name: channel
    mode: channel
  - name: dual
    mode: dual
"""


def ks(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KCORO_STREAM_")}
    env["XDG_CONFIG_HOME"] = str(cwd / ".xdg")
    return subprocess.run([*KS, *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", "a PNG"
    w, h = struct.unpack(">II", data[16:24])
    return w, h


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("report")
    (tmp / "three.yaml").write_text(THREE)
    r = ks(tmp, "manifest", "run", "three.yaml", "--out-dir", "three")
    if r.returncode == 130:  # see tests/compare/test_compare_cli.py: rerun the one stopped run
        r = ks(tmp, "manifest", "run", "three.yaml", "--out-dir", "three")
    assert r.returncode == 0, r.stderr
    return tmp / "three"


def test_a_results_report_is_one_offline_html_page_with_every_chart(results: Path) -> None:
    out = results.parent / "rep"
    r = ks(results.parent, "report", str(results), "--out", str(out))
    assert r.returncode == 0, r.stderr
    names = {p.stem for p in out.glob("*.png")}
    assert {"throughput", "ratios", "latency", "resources", "steps-1"} <= names
    assert {p.stem for p in out.glob("*.svg")} == names
    assert len([n for n in names if n.startswith("heatmap-")]) == 3, "one heat-map per step"
    assert len([n for n in names if n.startswith("os-")]) == 3, (
        "one OS view per step (OsThread/OsCounters recorded)"
    )
    page = (out / "report.html").read_text()
    assert not re.search(r"""(src|href)=["'](?!data:)""", page), "nothing to fetch: readable offline"
    inlined = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(inlined) == len(names)
    for b64 in inlined:
        w, h = png_size(base64.b64decode(b64))
        assert w >= 600 and h >= 200
    md = (out / "summary.md").read_text()
    assert md.startswith("## kcoro-stream report") and md.count("| three | - |") >= 3
    for n in names:
        assert f"({n}.png)" in md
    again = ks(results.parent, "report", str(results), "--out", str(out))
    assert again.returncode == 1 and "exists" in again.stderr and len(again.stderr.splitlines()) == 1


def test_pngs_are_real_images_of_the_data(results: Path) -> None:
    """Each PNG is a sizeable image; two different runs draw different throughput images."""
    a, b = sorted(p for p in results.iterdir() if p.name.startswith("tasks-"))[:2]
    outs = []
    for run in (a, b):
        out = results.parent / f"one-{run.name}"
        r = ks(results.parent, "report", str(run), "--out", str(out))
        assert r.returncode == 0, r.stderr
        outs.append(out / "throughput.png")
    for p in outs:
        assert p.stat().st_size > 10_000
        assert png_size(p.read_bytes()) == (900, 600)
    assert outs[0].read_bytes() != outs[1].read_bytes()


def test_not_a_run_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    r = ks(tmp_path, "report", str(tmp_path / "nope"), "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_a_results_report_draws_a_facet_per_step_each_with_a_legend(results: Path) -> None:
    """throughput and latency: one row of axes per step, each titled and with a legend of its repeats."""
    out = results.parent / "rep-facets"
    r = ks(results.parent, "report", str(results), "--out", str(out))
    assert r.returncode == 0, r.stderr
    for name in ("throughput", "latency"):
        svg = (out / f"{name}.svg").read_text()
        titles = [t for t in ("three: tasks", "three: channel", "three: dual") if f"<!-- {t} -->" in svg]
        assert titles == ["three: tasks", "three: channel", "three: dual"], name
        legends = svg.count('<g id="legend_')
        assert legends >= 3, (name, legends)
        assert "r1" in svg and "r2" in svg  # the legend names each repeat
