"""matplotlib and scipy are for report and compare only, protobuf and cramjam for the remote_write sink,
textual, hypercorn and prometheus-client for the surfaces: a plain headless run and a manifest run import
none of them (each sink's module is imported only when a run asks for it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

_PROBE = (
    "import atexit, json, sys\n"
    "atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.stderr))\n"
    "sys.argv = ['kcoro-stream', *sys.argv[1:]]\n"
    "from kcoro_stream.cli import main\n"
    "main()\n"
)
HEAVY = {
    "matplotlib", "scipy", "numpy", "google", "cramjam", "duckdb", "ruptures",
    "textual", "rich", "hypercorn", "wsproto", "prometheus_client",
}  # fmt: skip


def _modules_after(cwd: Path, *args: str) -> set[str]:
    r = subprocess.run(
        [sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, timeout=120, cwd=cwd
    )
    return {m.split(".")[0] for m in json.loads(r.stderr.strip().splitlines()[-1])}


def test_a_plain_run_and_a_manifest_run_import_no_chart_or_statistics_library(tmp_path: Path) -> None:
    plain = _modules_after(
        tmp_path, "run", "--producer", "synthetic", "-d", "0.3", "--no-tui", "--no-log", "--no-stdout"
    )
    assert "trio" in plain and not plain & HEAVY
    (tmp_path / "m.yaml").write_text("steps:\n  - {name: s, mode: tasks, duration: 300ms}\n")
    manifest = _modules_after(tmp_path, "manifest", "run", "m.yaml", "--out-dir", "out")
    assert (tmp_path / "out" / "index.json").is_file() and not manifest & HEAVY
