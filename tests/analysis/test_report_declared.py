"""``report --pipeline FILE`` charts the pipeline's declared metrics (a real replay, real matplotlib)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from kcoro_stream.cli import cli
from kcoro_stream.report import load_inputs
from kcoro_stream.report._charts import declared

OWN = Path(__file__).resolve().parent / "own_pipeline.py"
DUAL = Path(__file__).resolve().parents[2] / "bench_data" / "logs" / "dual-v1"


def test_report_draws_the_declared_metric_with_unit_and_version(tmp_path: Path) -> None:
    """The runs replayed through the pipeline (what ``report --pipeline`` reads) draw one panel per metric."""
    inp = load_inputs([DUAL], pipeline=OWN)
    chart = declared(inp, tmp_path)
    assert chart is not None and chart.name == "declared"
    svg = chart.svg.read_text()
    assert "cpu_time_per_task" in svg and "ns, v2" in svg
    assert chart.png.stat().st_size > 0
    # the recorded analyses declare nothing: no such chart
    assert declared(load_inputs([DUAL]), tmp_path / "none") is None


def test_a_broken_pipeline_is_one_line_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("pipeline = 1 +\n")
    r = CliRunner().invoke(cli, ["report", str(DUAL), "--pipeline", str(bad), "--out", str(tmp_path / "r")])
    assert r.exit_code == 2
    assert r.output.strip().splitlines() == [f"kcoro-stream: {DUAL}: {bad}:1: syntax error: invalid syntax"]
    assert not (tmp_path / "r").exists()
