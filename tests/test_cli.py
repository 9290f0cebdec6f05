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
from kcoro_stream.events import MonitorStatus, ProducerLost, RunStarted, decode_frame

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
    # one error line; a loaded machine may add a heartbeat-stall warning before the kill
    lines = [ln for ln in err.splitlines() if ln.startswith("kcoro-stream:") and ": warning:" not in ln]
    assert len(lines) == 1 and "killed by SIGKILL" in lines[0], err
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
    """kill -9 at random moments after the first flush, 20 trials: every log opens clean (at most a
    torn tail, reported), its frames a gap-free prefix, and `log info` reads it."""
    rng = random.Random(7)
    for trial in range(20):
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
        time.sleep(rng.uniform(0.0, 1.2))
        mon.kill()
        mon.wait()
        reader = open_log(run)
        seqs = [f.seq for f in reader.frames()]
        ring = [s for s in seqs if s < (1 << 63)]
        assert ring == list(range(len(ring)))
        for p in reader.problems:
            assert p.kind == "torn_tail"
        info = CliRunner().invoke(cli, ["log", "info", str(run)], prog_name="kcoro-stream")
        assert info.exit_code == 0, info.output  # in-process: 20 interpreter start-ups saved


def test_kill_9_before_the_first_flush_is_explained(tmp_path: Path) -> None:
    """Killed before its first flush: no segment, and `log info` says why in one line."""
    run = tmp_path / "run"
    mon = subprocess.Popen(
        [*KS, "run", str(synth_pipeline(tmp_path)), "--no-tui", "--log", str(run)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(2000):  # the run directory exists (lock taken), before any flush
        if (run / "writer.lock").exists():
            break
        time.sleep(0.002)
    mon.kill()
    mon.wait()
    assert (run / "writer.lock").exists() and not any(run.glob("segment-*"))  # killed before the flush
    info = ks("log", "info", str(run))
    assert info.returncode == 1
    assert (
        "nothing was recorded: the monitor" in one_line_error(info)
        and "before its first flush" in info.stderr
    )


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
    assert r.returncode == 2 and "--mode: 'bogus' is not one of" in one_line_error(r)
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


# ------------------------------------------------- a command line that keeps its promises


def test_usage_errors_are_one_line_with_a_hint() -> None:
    """click's own usage errors: one red line naming the problem and what to do, exit 2."""
    cases = {
        ("run", "--batchh", "3"): "no such option --batchh (did you mean --batch?)",
        ("run", "--channel-kind", "rendezvous"): "pass it as --bench-arg=--channel-kind=VALUE",
        ("run", "--batch", "0"): "--batch: expected an integer in [1, 65536], got '0'",
        ("run", "-P", "2000"): "--producers: expected an integer in [1, 1024], got '2000'",
        ("run", "--latency-sample", "3"): "--latency-sample: expected a power of two, got '3'",
        ("run", "--workers", "0"): "--workers: expected an integer in [1, 64], got '0'",
        ("run", "-m", "fast"): "--mode: 'fast' is not one of",
        ("run", "--interval", "2m"): "--interval: expected 1ms to 60s, got 120000ms",
        ("run", "-d", "25h"): "--duration: expected 0 to 86400 s, got 90000",
        ("run", "--max-delay", "1s"): "--max-delay: at most 250ms, got 1s",
        ("attach", "ring", "--max-delay", "-5ms"): "--max-delay:",
        ("replay",): "missing argument LOG (see 'kcoro-stream replay --help')",
        ("nosuchcommand",): "no such command 'nosuchcommand'",
    }
    for args, want in cases.items():
        r = CliRunner().invoke(cli, list(args), prog_name="kcoro-stream")
        assert r.exit_code == 2, (args, r.output)
        lines = r.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("kcoro-stream: "), (args, r.output)
        assert want in lines[0], (args, lines[0])


def test_bench_option_ranges_match_the_c_parser() -> None:
    """Every int option run checks in Python has native/bench/cli.c's range (no second opinion)."""
    import re

    from kcoro_stream.commands._options import BENCH_FLAG_OPTIONS, BENCH_INT_OPTIONS
    from kcoro_stream.knobs import MAX_WORKERS

    src = (ROOT / "native" / "bench" / "cli.c").read_text()
    case_of = {name: val for name, val in re.findall(r'\{"([a-z-]+)", \w+, 0, (\'.\'|OPT_\w+)\}', src)}
    ranges = {}
    for val, lo, hi in re.findall(
        r"case ('.'|OPT_\w+):\s*(?:\{)?\s*rc = parse_u(?:32|64)\(c, optarg, (\w[\w <>]*), ([^,]+),", src
    ):
        ranges[val] = (lo, hi)
    env = {"KCR_MAX_WORKERS": MAX_WORKERS, "UINT64_MAX": (1 << 64) - 1, "KCS_MIN_DATA_SIZE": 0}

    def value(expr: str) -> int:
        return int(eval(expr.replace("1u", "1"), {}, env))  # literals like 1u << 24, UINT64_MAX >> 1

    for flags, t, _ in [*BENCH_INT_OPTIONS, (("--workers",), None, "")]:
        name = max(flags, key=len).lstrip("-")
        lo, hi = ranges[case_of[name]]
        want = (value(lo), value(hi))
        got = (t.lo, t.hi) if t is not None else (1, MAX_WORKERS)
        assert got == want, f"--{name}: run checks {got}, the C parser {want}"
    for flag, _ in BENCH_FLAG_OPTIONS:
        assert f'{{"{flag[2:]}", no_argument' in src


def test_bench_knobs_reach_the_benchmark(tmp_path: Path) -> None:
    """--batch, --body-cost, --body-ns, -P ... are real run options: the run's recorded config shows them."""
    run = tmp_path / "run"
    r = ks(
        "run", "--mode", "mixed", "--duration", "0.3", "--no-tui", "--no-stdout", "--log", str(run),
        "--batch", "8", "--body-cost", "3", "--body-ns", "100", "-P", "2", "-C", "3", "-N", "512", "-c", "16", "-k", "32",
        "-s", "4", "--latency-sample", "16", "--seed", "7", "--workers", "2", "--imbalanced", "--adaptive",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    events = (e for f in open_log(run).frames() for e in decode_frame(f.payload))
    started = next(e for e in events if isinstance(e, RunStarted))
    cfg = started.config
    want = {
        "batch": 8, "body_cost": 3, "body_ns": 100, "producers": 2, "consumers": 3, "packets": 512, "capacity": 16,
        "packet_size": 32, "spin": 4, "latency_sample": 16, "seed": 7, "workers": 2, "imbalanced": True,
        "adaptive": True, "mode": "mixed",
    }  # fmt: skip
    assert {k: cfg[k] for k in want} == want


def test_packet_cost_reaches_the_channel_benchmark(tmp_path: Path) -> None:
    """--packet-cost (the channel's per-message body) is a run option; the recorded config shows it."""
    run = tmp_path / "run"
    r = ks("run", "--mode", "channel", "--duration", "0.3", "--no-tui", "--no-stdout", "--log", str(run),
           "--packet-cost", "3")  # fmt: skip
    assert r.returncode == 0, r.stderr
    events = (e for f in open_log(run).frames() for e in decode_frame(f.payload))
    started = next(e for e in events if isinstance(e, RunStarted))
    assert started.config["packet_cost"] == 3
    assert started.config["knobs"]["packet_cost"] == [0, 100_000_000]  # live: ctl set_knob may change it


def test_a_refused_benchmark_flag_is_printed_once() -> None:
    """A C-side flag error (here a combination only the benchmark checks) appears once, exit 2."""
    r = ks("run", "--mode", "tasks", "--zero-copy", "--duration", "1", "--no-tui", "--no-log")
    assert r.returncode == 2
    line = one_line_error(r)
    assert "--zero-copy: has no channel to apply to in --mode tasks" in line
    assert r.stderr.count("has no channel to apply to") == 1, r.stderr


def test_legacy_json_carries_producers_and_consumers_on_run_replay_attach(tmp_path: Path) -> None:
    """-j works on run, replay and attach; the old names include producers/consumers (-P/-C)."""
    run, live = tmp_path / "run", tmp_path / "live.ndjson"
    r = ks(
        "run", "-m", "channel", "-P", "2", "-C", "3", "-d", "1", "-H", "--log", str(run), "-j", str(live),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""  # -j PATH writes the file; stdout carries nothing (like kcoro_mon -j)
    rows = [json.loads(ln) for ln in live.read_text().splitlines()]
    samples = [x for x in rows if "type" not in x]
    assert samples and all(x["producers"] == 2 and x["consumers"] == 3 for x in samples)
    r = ks("replay", str(run), "-j", "-")
    assert r.returncode == 0, r.stderr
    replayed = [json.loads(ln) for ln in r.stdout.splitlines()]
    assert replayed == rows  # the same old-format lines from the recording
    r = ks("replay", str(run), "--json", str(tmp_path / "again.ndjson"), "--no-tui")
    assert r.returncode == 0 and r.stdout == "", r.stderr
    r = CliRunner().invoke(cli, ["attach", "--help"])
    assert "-j, --legacy-json, --json PATH" in r.output


def test_replay_out_keeps_stdout_quiet_unless_asked(tmp_path: Path) -> None:
    """replay --out FILE writes the file only; --stdout asks for both."""
    run = tmp_path / "run"
    r = ks("run", "--producer", "synthetic", "-d", "1", "--no-tui", "--no-stdout", "--log", str(run))
    assert r.returncode == 0, r.stderr
    out = tmp_path / "o.ndjson"
    r = ks("replay", str(run), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "" and out.read_text().count("\n") >= 3
    r = ks("replay", str(run), "--out", str(out), "--force", "--stdout")
    assert r.returncode == 0, r.stderr
    assert r.stdout == out.read_text()


def test_shipped_pipelines_by_name_and_listed() -> None:
    """`kcoro-stream pipelines` lists the shipped files; a name resolves to one, a path stays a path."""
    from kcoro_stream.pipeline import resolve_pipeline

    r = CliRunner().invoke(cli, ["pipelines"])
    assert r.exit_code == 0
    names = [ln.split()[0] for ln in r.output.splitlines()]
    assert names == sorted(p.stem for p in PIPELINES)
    assert "Latency pipeline:" in r.output
    assert resolve_pipeline(None).name == "default.py"
    assert resolve_pipeline("latency").read_text() == (ROOT / "pipelines" / "latency.py").read_text()
    assert resolve_pipeline("./latency") == Path("./latency")
    r = CliRunner().invoke(cli, ["run", "nosuch"])
    assert r.exit_code == 2
    assert "nosuch: no such pipeline file or shipped pipeline (shipped: alerts, default, latency)" in r.output


def test_default_pipeline_leaves_the_source_to_the_flags() -> None:
    """The shipped default sets no mode or knobs, so flags (and their defaults) decide."""
    from kcoro_stream.pipeline import launch_config, load_pipeline, resolve_pipeline

    p = load_pipeline(resolve_pipeline("default"))
    assert p.source is None
    assert launch_config(p, mode="dual").mode == "dual"


# Modules printed at exit (a probe around the real command line).
_PROBE = (
    "import atexit, json, sys\n"
    "atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.stderr))\n"
    "sys.argv = ['kcoro-stream', *sys.argv[1:]]\n"
    "from kcoro_stream.cli import main\n"
    "main()\n"
)


def _modules_after(*args: str) -> set[str]:
    r = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, timeout=120)
    return {m.split(".")[0] for m in json.loads(r.stderr.strip().splitlines()[-1])}


def test_help_and_plain_runs_import_only_what_they_use(tmp_path: Path) -> None:
    """--help imports no trio; a run without surfaces imports no textual, prometheus_client, hypercorn."""
    assert "trio" not in _modules_after("--help")
    plain = _modules_after(
        "run", "--producer", "synthetic", "-d", "0.3", "--no-tui", "--no-log", "--no-stdout"
    )
    assert "trio" in plain  # it did run
    assert not plain & {"textual", "prometheus_client", "hypercorn"}
