"""``--csv FILE`` on run, replay and attach (the old monitor's flag): CSV whatever the suffix, ``-`` for
stdout, a ``[run] csv`` key; each row carries its window's latency percentiles."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from kcoro_stream.cli import cli
from kcoro_stream.commands._sinks import OutputFlags, choose_sinks
from kcoro_stream.sinks.csv import COLUMNS

KS = [sys.executable, "-m", "kcoro_stream"]


def ks(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KS, *args], capture_output=True, text=True, timeout=120)


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_flag_picks_the_csv_sink_whatever_the_suffix_and_dash_is_stdout() -> None:
    f = OutputFlags(csv="samples.dat")
    assert choose_sinks(["stdout"], f, stdout_is_tty=False) == [{"sink": "csv", "path": "samples.dat"}]
    f = OutputFlags(csv="-")
    assert choose_sinks(["stdout"], f, stdout_is_tty=False) == [{"sink": "csv", "path": "-"}]
    f = OutputFlags(csv="s.dat", stdout=True)
    assert choose_sinks(["stdout"], f, stdout_is_tty=False) == ["stdout", {"sink": "csv", "path": "s.dat"}]


def test_csv_on_run_replay_and_attach_with_latency_percentiles_per_pool(tmp_path: Path) -> None:
    run, out = tmp_path / "run", tmp_path / "samples.dat"
    r = ks("run", "--mode", "dual", "-d", "1.2", "-H", "--log", str(run), "--csv", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""  # like -j PATH: the file takes stdout's place
    live = rows(out.read_text())
    assert list(live[0]) == list(COLUMNS)
    by_pool = {p: [x for x in live if x["pool"] == p] for p in ("channel", "tasks")}
    assert all(by_pool.values())
    # each pool's row has its own pool's latency: channel messages for channel, task starts for tasks
    assert all(float(x["chan_latency_ns_p99"]) > 0 for x in by_pool["channel"])
    assert all(x["chan_latency_ns_p99"] == "" for x in by_pool["tasks"])
    assert all(float(x["task_start_latency_ns_p50"]) > 0 for x in by_pool["tasks"])
    assert all(
        float(x["task_start_latency_ns_p50"]) <= float(x["task_start_latency_ns_p999"])
        for x in by_pool["tasks"]
    )
    assert sum(x["tick_jitter_ns_p99"] != "" for x in live) >= len(live) // 2

    r = ks("replay", str(run), "--csv", "-")
    assert r.returncode == 0, r.stderr
    replayed = rows(r.stdout)
    assert [x["ts_ns"] for x in replayed] == [x["ts_ns"] for x in live]
    assert [x["task_start_latency_ns_p99"] for x in replayed] == [
        x["task_start_latency_ns_p99"] for x in live
    ]

    help_text = CliRunner().invoke(cli, ["attach", "--help"]).output
    assert "--csv PATH" in help_text


def test_run_csv_config_key(tmp_path: Path) -> None:
    out = tmp_path / "from-config.csv.gz"
    cfg = tmp_path / "k.toml"
    cfg.write_text(f'[run]\ncsv = "{out}"\n')
    r = ks("run", "--producer", "synthetic", "-d", "0.6", "-H", "--no-log", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    text = subprocess.run(["zcat", str(out)], capture_output=True, text=True, check=True).stdout
    assert len(rows(text)) >= 1 and r.stdout == ""
