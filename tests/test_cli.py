"""The kcoro-stream command through real subprocesses (and click's CliRunner)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from kcoro_stream.cli import cli
from kcoro_stream.eventlog import open_log
from kcoro_stream.events import MonitorStatus, ProducerLost, decode_frame

ROOT = Path(__file__).resolve().parent.parent
PIPELINES = sorted((ROOT / "pipelines").glob("*.py"))
KS = [sys.executable, "-m", "kcoro_stream"]


def ks(*args: str, timeout: float = 120, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KS, *args], capture_output=True, text=True, timeout=timeout, **kw)  # type: ignore[call-overload]


def synth_pipeline(tmp_path: Path, sinks: str = "[]") -> Path:
    p = tmp_path / "synth.py"
    p.write_text(
        "from kcoro_stream import ops\n"
        "from kcoro_stream.pipeline import BenchSource, Pipeline\n"
        "pipeline = Pipeline(source=BenchSource(producer='synthetic', interval_ms=10),\n"
        f"                    derive=ops.default_analyses(window_ms=250), sinks={sinks})\n"
    )
    return p


def one_line_error(r: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("kcoro-stream:")]
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    return lines[0]


# ------------------------------------------------------------ live and replay


@pytest.mark.parametrize("pipeline", PIPELINES, ids=[p.stem for p in PIPELINES])
def test_replay_is_byte_identical_to_live(tmp_path: Path, pipeline: Path) -> None:
    """Every shipped pipeline: derived NDJSON of the live run == that of replaying its log."""
    live, again, run = tmp_path / "live.ndjson", tmp_path / "replay.ndjson", tmp_path / "run"
    r = ks(
        "run",
        str(pipeline),
        "--producer",
        "synthetic",
        "--duration",
        "2",
        "--no-tui",
        "--no-stdout",
        "--out",
        str(live),
        "--log",
        str(run),
    )
    assert r.returncode == 0, r.stderr
    r = ks("replay", str(run), str(pipeline), "--no-tui", "--no-stdout", "--out", str(again))
    assert r.returncode == 0, r.stderr
    a, b = live.read_bytes(), again.read_bytes()
    assert a.count(b"\n") >= 5  # several windows and a summary, not an empty file
    assert a == b


def test_live_run_writes_log_and_compressed_output(tmp_path: Path) -> None:
    out, run = tmp_path / "run.ndjson.zst", tmp_path / "run"
    r = ks(
        "run",
        str(synth_pipeline(tmp_path)),
        "--duration",
        "1",
        "--no-tui",
        "--out",
        str(out),
        "--log",
        str(run),
    )
    assert r.returncode == 0, r.stderr
    text = subprocess.run(["zstd", "-dc", str(out)], capture_output=True, check=True).stdout.decode()
    assert '"type":"sample"' in text and '"type":"summary"' in text
    info = ks("log", "info", str(run))
    assert info.returncode == 0 and "problems   0" in info.stdout
    v = ks("validate", str(out))
    assert v.returncode == 0, v.stdout + v.stderr


def test_existing_output_is_not_clobbered_without_force(tmp_path: Path) -> None:
    out = tmp_path / "keep.ndjson"
    out.write_text("precious\n")
    r = ks("run", str(synth_pipeline(tmp_path)), "--duration", "1", "--no-tui", "--no-log", "--out", str(out))
    assert r.returncode != 0
    assert "exists" in one_line_error(r)
    assert out.read_text() == "precious\n"
    r = ks(
        "run",
        str(synth_pipeline(tmp_path)),
        "--duration",
        "1",
        "--no-tui",
        "--no-log",
        "--out",
        str(out),
        "--force",
    )
    assert r.returncode == 0, r.stderr
    assert out.read_text() != "precious\n"


# ------------------------------------------------------------------ bad input


def test_pipeline_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.py"
    p.write_text("from kcoro_stream.pipeline import Pipeline\n\npipeline = Pipeline(\n  sinks=[\n")
    r = ks("run", str(p), "--no-tui")
    assert r.returncode == 2
    assert f"{p}:4: syntax error" in one_line_error(r) or f"{p}:3: syntax error" in one_line_error(r)


def test_pipeline_runtime_error_names_file_and_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.py"
    p.write_text("x = 1\ny = undefined_name\n")
    r = ks("run", str(p), "--no-tui")
    assert r.returncode == 2
    assert f"{p}:2: NameError" in one_line_error(r)


def test_pipeline_without_pipeline_object(tmp_path: Path) -> None:
    p = tmp_path / "empty.py"
    p.write_text("x = 1\n")
    r = ks("run", str(p), "--no-tui")
    assert r.returncode == 2 and "defines no `pipeline" in one_line_error(r)


def test_missing_pipeline_file(tmp_path: Path) -> None:
    r = ks("run", str(tmp_path / "nope.py"), "--no-tui")
    assert r.returncode == 2 and "cannot read pipeline file" in one_line_error(r)


def test_unknown_sink(tmp_path: Path) -> None:
    r = ks("run", str(synth_pipeline(tmp_path)), "--sink", "carrier-pigeon", "--no-tui", "--no-log")
    assert r.returncode == 2
    assert "unknown sink 'carrier-pigeon'" in one_line_error(r)


def test_bad_duration_and_speed(tmp_path: Path) -> None:
    r = ks("run", str(synth_pipeline(tmp_path)), "--duration", "soon", "--no-tui")
    assert r.returncode == 2 and "bad duration 'soon'" in one_line_error(r)
    r = ks("replay", str(tmp_path), str(synth_pipeline(tmp_path)), "--speed", "fast", "--no-tui")
    assert r.returncode == 2 and "--speed" in one_line_error(r)


def test_producer_bad_flag_is_a_usage_error(tmp_path: Path) -> None:
    r = ks("run", str(synth_pipeline(tmp_path)), "--bench-arg=--bogus", "--no-tui", "--no-log")
    assert r.returncode == 2
    assert "producer: synthetic_producer: unknown option '--bogus'" in one_line_error(r)


def test_replay_of_garbage(tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "segment-000001.kcslog").write_bytes(os.urandom(5000))
    r = ks("replay", str(junk), str(synth_pipeline(tmp_path)), "--no-tui")
    assert r.returncode != 0
    one_line_error(r)
    r = ks("replay", str(tmp_path / "absent"), str(synth_pipeline(tmp_path)), "--no-tui")
    assert r.returncode == 2 and "no such run directory" in one_line_error(r)


# ------------------------------------------------------------- process deaths


def test_killed_producer_exits_nonzero_and_finalizes_log(tmp_path: Path) -> None:
    run = tmp_path / "run"
    mon = subprocess.Popen(
        [*KS, "run", str(synth_pipeline(tmp_path)), "--no-tui", "--log", str(run)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    child = None
    for _ in range(500):
        out = subprocess.run(["pgrep", "-P", str(mon.pid)], capture_output=True, text=True).stdout.split()
        if out and any(open_log_frames(run)):
            child = int(out[0])
            break
        time.sleep(0.01)
    assert child is not None
    os.kill(child, signal.SIGKILL)
    t = time.monotonic()
    _, err = mon.communicate(timeout=30)
    assert time.monotonic() - t < 3
    assert mon.returncode == 1
    lines = [ln for ln in err.splitlines() if ln.startswith("kcoro-stream:")]
    assert len(lines) == 1 and "killed by SIGKILL" in lines[0]
    events = [e for f in open_log(run).frames() for e in decode_frame(f.payload)]
    # the loss, then the monitor's final account of the run
    assert isinstance(events[-2], ProducerLost)
    assert isinstance(events[-1], MonitorStatus) and events[-1].state == "lost"


def wait_for_log_frames(run: Path, proc: subprocess.Popen[str], timeout: float = 30) -> None:
    """Until the run's log holds a flushed frame (the run is under way), or fail."""
    deadline = time.monotonic() + timeout
    while not any(open_log_frames(run)):
        assert proc.poll() is None, "the monitor ended early"
        assert time.monotonic() < deadline, "no frame logged in time"
        time.sleep(0.02)


def open_log_frames(run: Path) -> list[object]:
    try:
        return list(open_log(run).frames())
    except Exception:
        return []


def test_sigint_stops_cleanly_with_summary(tmp_path: Path) -> None:
    out, run = tmp_path / "o.ndjson", tmp_path / "run"
    mon = subprocess.Popen(
        [*KS, "run", str(synth_pipeline(tmp_path)), "--no-tui", "--out", str(out), "--log", str(run)],
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for_log_frames(run, mon)  # the run is under way (and its signal watch installed)
    mon.send_signal(signal.SIGINT)
    _, err = mon.communicate(timeout=30)
    assert mon.returncode == 0, err
    text = out.read_text()
    assert '"type":"summary"' in text
    assert open_log(run).info().problems == []


def test_kill_9_of_the_monitor_leaves_a_readable_log(tmp_path: Path) -> None:
    """kill -9 at random moments: the log opens, reports any torn tail, frames are a gap-free prefix."""
    rng = random.Random(7)
    for trial in range(6):
        run = tmp_path / f"run{trial}"
        mon = subprocess.Popen(
            [*KS, "run", str(synth_pipeline(tmp_path)), "--no-tui", "--log", str(run)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(1000):  # until the first segment exists, then a random moment
            if any(run.glob("segment-*")):
                break
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 2.0))
        mon.kill()
        mon.wait()
        reader = open_log(run)
        seqs = [f.seq for f in reader.frames()]
        ring = [s for s in seqs if s < (1 << 63)]
        assert ring == list(range(len(ring)))
        for p in reader.problems:
            assert p.kind == "torn_tail"
        info = ks("log", "info", str(run))
        assert info.returncode == 0, info.stderr


# --------------------------------------------------------------- CliRunner


def test_list_names_sources_operators_and_sinks() -> None:
    r = CliRunner().invoke(cli, ["list"])
    assert r.exit_code == 0, r.output
    for word in (
        "sources:",
        "launch",
        "attach",
        "replay",
        "legacy",
        "bench",
        "synthetic",
        "operators:",
        "default_analyses",
        "sinks:",
        "ndjson",
        "csv",
    ):
        assert word in r.output


def test_help_mentions_old_monitor_flags() -> None:
    r = CliRunner().invoke(cli, ["run", "--help"])
    assert r.exit_code == 0
    for flag in ("-P,", "-C,", "-N,", "-c,", "-k,", "-s,", "-m,", "-j,", "-H,", "-d,"):
        assert flag in r.output


# ------------------------------------------------------------------- attach


def _external_ring(tmp_path: Path) -> Path:
    """A ring created by 'another runtime' (here: this test), left for the monitor to attach to."""
    from kcoro_stream.ingest import RingReader

    path = tmp_path / "external.ring"
    RingReader.create(path, data_size=1 << 20).close(unlink=False)
    return path


def test_attach_reads_a_ring_made_elsewhere(tmp_path: Path) -> None:
    ring, out = _external_ring(tmp_path), tmp_path / "attach.ndjson"
    producer = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kcoro_stream.sources.synthetic",
            "--ring",
            str(ring),
            "--frames",
            "150",
            "--interval-ms",
            "5",
        ]
    )
    r = ks("attach", str(ring), str(synth_pipeline(tmp_path)), "--no-tui", "--no-log", "--out", str(out))
    assert producer.wait(timeout=30) == 0
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert text.count('"type":"sample"') >= 2 and '"type":"summary"' in text
    assert ring.exists()  # attach never removes a ring it did not create


def test_attach_reports_a_lost_producer(tmp_path: Path) -> None:
    ring = _external_ring(tmp_path)
    producer = subprocess.Popen(
        [sys.executable, "-m", "kcoro_stream.sources.synthetic", "--ring", str(ring), "--interval-ms", "5"]
    )
    mon = subprocess.Popen(
        [*KS, "attach", str(ring), str(synth_pipeline(tmp_path, '["stdout"]')), "--no-tui", "--no-log"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert mon.stdout is not None
    assert '"type":' in mon.stdout.readline()  # attached and deriving
    producer.kill()
    producer.wait()
    t = time.monotonic()
    _, err = mon.communicate(timeout=30)
    assert time.monotonic() - t < 3  # heartbeat bound 0.5 s + pid check
    assert mon.returncode == 1
    lines = [ln for ln in err.splitlines() if ln.startswith("kcoro-stream:")]
    assert len(lines) == 1 and f"process {producer.pid} is gone" in lines[0]


def test_attach_to_a_foreign_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(b"x" * 8192)
    r = ks("attach", str(junk), "--no-tui", "--no-log")
    assert r.returncode == 1 and "bad ring magic" in one_line_error(r)


# ------------------------------------------------------- the real benchmark


@pytest.mark.parametrize("mode", ["tasks", "channel", "mixed", "dual"])
def test_real_benchmark_through_the_spine_piped_to_jq(tmp_path: Path, mode: str) -> None:
    """`kcoro-stream run pipelines/default.py --mode M --duration S | jq` prints samples whose numbers move."""
    run = tmp_path / "run"
    ks_cmd = [
        *KS,
        "run",
        str(ROOT / "pipelines" / "default.py"),
        "--mode",
        mode,
        "--duration",
        "1.5",
        "--log",
        str(run),
    ]
    mon = subprocess.Popen(ks_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    jq = subprocess.run(
        ["jq", "-c", 'select(.type=="sample")'], stdin=mon.stdout, capture_output=True, timeout=120
    )
    assert mon.stdout is not None
    mon.stdout.close()
    assert mon.wait(timeout=120) == 0, mon.stderr.read() if mon.stderr else ""
    assert jq.returncode == 0
    samples = [json.loads(line) for line in jq.stdout.splitlines()]
    key = "msgs_per_s" if mode == "channel" else "tasks_per_s"
    values = [s[key] for s in samples if s.get(key)]
    assert len(values) >= 3, samples
    assert all(v > 0 for v in values) and len(set(values)) > 1  # real, moving numbers
    if mode == "dual":
        assert {s["pool"] for s in samples} >= {"channel", "tasks"}
    assert ks("log", "info", str(run)).returncode == 0


# ------------------------------------------------ bad input before anything starts


def test_a_bad_mode_leaves_an_existing_output_untouched(tmp_path: Path) -> None:
    """`--mode bogus` is refused before any output is opened: k.ndjson keeps its content."""
    out = tmp_path / "k.ndjson"
    out.write_text("good\n")
    r = ks("run", "--mode", "bogus", "--out", str(out), "--force", "--no-tui", "--no-log", cwd=tmp_path)
    assert r.returncode == 2 and "unknown mode 'bogus'" in one_line_error(r)
    assert out.read_text() == "good\n"


@pytest.mark.parametrize(
    ("body", "expect"),
    [
        (b"import sys\nsys.exit(0)\n", ":2: the pipeline file called sys.exit(0)"),
        (b"class Boom(BaseException): pass\nraise Boom('x')\n", ":2: Boom: x"),
        (b"x = 1\n\xff\xfe = 2\n", ":2: not UTF-8 text"),
        (
            b"from kcoro_stream.pipeline import Pipeline\npipeline = Pipeline(derive=lambda s: 42)\n",
            "derive must return an Observable",
        ),
        (
            b"from kcoro_stream.pipeline import Pipeline\npipeline = Pipeline(derive=lambda s: 1 / 0)\n",
            "pipeline derive failed: ZeroDivisionError",
        ),
        (
            b"from kcoro_stream.pipeline import Pipeline\npipeline = Pipeline(source='nope')\n",
            "expected a source",
        ),
    ],
)
def test_hostile_pipeline_files_are_one_line_errors(tmp_path: Path, body: bytes, expect: str) -> None:
    p = tmp_path / "p.py"
    p.write_bytes(body)
    r = ks("run", str(p), "-d", "0.2", "--no-tui", "--no-log", cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert expect in one_line_error(r)


@pytest.mark.parametrize("value", ["nan", "1e20", "0", "-1"])
def test_non_finite_or_out_of_range_intervals_are_usage_errors(tmp_path: Path, value: str) -> None:
    r = ks("run", "--interval", value, "-d", "0.2", "--no-tui", "--no-log", cwd=tmp_path)
    assert r.returncode == 2 and "--interval" in one_line_error(r), r.stderr
