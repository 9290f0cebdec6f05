"""The layered configuration: files, environment, flags, origins, the record a run keeps, replay."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kcoro_stream.config import (
    CommandFlags,
    analysis_kwargs,
    env_layer,
    file_layer,
    parse_duration,
    plan_run,
    project_layer,
    recorded_config,
    resolve,
    standard_layers,
)
from kcoro_stream.config._resolve import _toml_lines
from kcoro_stream.errors import UsageError

KS = [sys.executable, "-m", "kcoro_stream"]


def ks(
    cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("KCORO_STREAM_")}
    e["XDG_CONFIG_HOME"] = str(cwd / ".xdg")  # never the developer's own config
    e.update(env or {})
    return subprocess.run([*KS, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=e)


def one_line_error(r: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("kcoro-stream:")]
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    return lines[0]


def summary(stdout: str) -> dict[str, object]:
    lines = [json.loads(ln) for ln in stdout.splitlines() if ln.strip()]
    return next(x for x in lines if x["type"] == "summary")


# ------------------------------------------------------------------ resolver


def test_layers_later_wins_and_lists_replace(tmp_path: Path) -> None:
    """defaults < user < project < --config < env < flags; a list replaces, never merges."""
    user = tmp_path / "xdg" / "kcoro-stream" / "config.toml"
    user.parent.mkdir(parents=True)
    user.write_text('[run]\nmode = "dual"\nout = ["a.ndjson", "b.ndjson"]\n[bench]\nbatch = 4\n')
    (tmp_path / "kcoro-stream.toml").write_text('[run]\nmode = "mixed"\n[bench]\nspin = 3\n')
    other = tmp_path / "other.toml"
    other.write_text('[run]\nout = ["c.ndjson"]\n[bench]\nspin = 5\n')
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "KCORO_STREAM_BENCH_SPIN": "7"}
    low, high = standard_layers(other, cwd=tmp_path, environ=env)
    eff = resolve([*low, *high])
    assert eff.get("run", "mode") == "mixed" and eff.origin("run", "mode").endswith("kcoro-stream.toml:2")
    assert eff.get("run", "out") == ["c.ndjson"] and eff.origin("run", "out") == f"{other}:2"
    assert eff.get("bench", "batch") == 4 and eff.origin("bench", "batch") == f"{user}:5"
    assert eff.get("bench", "spin") == 7 and eff.origin("bench", "spin") == "env KCORO_STREAM_BENCH_SPIN"
    assert eff.origin("bench", "workers") == "default"


def test_pyproject_table_is_the_fallback_and_kcoro_stream_toml_wins(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.kcoro-stream.run]\nmode = "dual"\n'
    )
    layer = project_layer(tmp_path)
    assert layer is not None
    v = layer.values[("run", "mode")]
    assert (v.value, v.origin) == ("dual", f"{tmp_path / 'pyproject.toml'}:5")
    (tmp_path / "kcoro-stream.toml").write_text('[run]\nmode = "tasks"\n')
    layer = project_layer(tmp_path)
    assert layer is not None and layer.values[("run", "mode")].value == "tasks"


def test_durations_and_json_files(tmp_path: Path) -> None:
    f = tmp_path / "c.json"
    f.write_text(
        '{\n  "run": {\n    "duration": "1m",\n    "interval": "250ms"\n  },\n  "window": {"length": 1}\n}\n'
    )
    eff = resolve([file_layer(f)])
    assert eff.get("run", "duration") == 60.0 and eff.get("run", "interval") == 0.25
    assert eff.origin("run", "interval") == f"{f}:4"
    assert analysis_kwargs(eff)["window_ms"] == 1000.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[run]\nmode = "tasks"\n[bench]\nbatchh = 3\n',
            ":4: unknown key 'batchh' in [bench] (did you mean 'batch'?)",
        ),
        ("[bnech]\nbatch = 3\n", ":1: unknown section [bnech] (did you mean 'bench'?)"),
        ('[bench]\nworkers = "two"\n', ":2: bench.workers: expected `int | null`"),
        ("[bench]\nworkers = 65\n", ":2: bench.workers: expected `int` <= 64"),
        ('[run]\nduration = "soon"\n', ":2: run.duration: bad duration 'soon'"),
        ('[run]\nmode = "fast"\n', ":2: run.mode: expected one of"),
        ('[run]\nmode = "tasks"\nmode = "dual"\n', ":3: TOML syntax error"),
        ("[run\nmode = 1\n", ":1: TOML syntax error"),
        ('[alerts]\nrules = ["nonsense"]\n', ": alert rule #1: cannot parse"),
        ("[kpi]\nfastpath_ratio = [0.2, 0.9]\n", ":2: kpi 'fastpath_ratio': green must be >= yellow"),
        # hostile values: each was a traceback (exit 1), or approved by check and refused by run
        ('[alerts]\nrules = ["x: tasks_per_s < 5 for 1e300s"]\n', ": alert rule 'x': for duration must be"),
        ("[run]\nout = " + "[" * 600 + "]" * 600 + "\n", ":2: nested more than 32 deep"),
        ("[run]\nout = " + "[" * 100_000 + "\n", ":2: nested more than 32 deep"),
        ("[bench]\nseed = " + "9" * 5000 + "\n", ":2: a number of more than 4300 digits"),
        ('[run]\nprometheus = "0.0.0.0:99999"\n', ":2: run.prometheus: bad port '99999'"),
        ('[run]\nwebsocket = "0.0.0.0:8080"\n', ":2: run.websocket: 0.0.0.0:8080: refusing to listen"),
        ('[run]\nremote_write = ["ftp://x"]\n', ":2: run.remote_write: 'ftp://x' is not an http"),
        ('[window]\nlength = "1e-300s"\n', ":2: window.length: expected `float` >= 0.001"),
        ('[run]\ninterval = "0.1ms"\n', ":2: run.interval: expected 1ms to 60s"),
        ('[run]\nduration = "100000000s"\n', ":2: run.duration: expected 0 to"),
        ('[run]\nsink = ["nope:x"]\n', ":2: run.sink: unknown sink 'nope'"),
        (
            '[run]\nout = ["/nonexistent/dir/x.ndjson"]\n',
            ":2: run.out: '/nonexistent/dir/x.ndjson': directory",
        ),
    ],
)
def test_bad_config_is_one_line_naming_file_line_and_key(tmp_path: Path, text: str, expected: str) -> None:
    """config check and run: one line with file:line and the key, exit 2, nothing starts or is written."""
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    r = ks(tmp_path, "config", "check", str(cfg))
    assert r.returncode == 2
    line = one_line_error(r)
    assert str(cfg) in line and expected in line, line
    (tmp_path / "kcoro-stream.toml").write_text(text)
    r = ks(tmp_path, "run", "--duration", "0.2", "--out", "x.ndjson")
    assert r.returncode == 2, r.stderr
    line = one_line_error(r)
    assert "kcoro-stream.toml" in line and expected in line, line
    assert not (tmp_path / "x.ndjson").exists() and not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"KCORO_STREAM_ALERTS_RULES": '["x: tasks_per_s < 5 for 1e300s"]'}, "for duration must be"),
        (
            {"KCORO_STREAM_KPI_BACKLOG": "[" * 5000 + "]" * 5000},
            "KCORO_STREAM_KPI_BACKLOG: nested more than 32",
        ),
        (
            {"KCORO_STREAM_KPI_BACKLOG": "[1, " + "9" * 5000 + "]"},
            "KCORO_STREAM_KPI_BACKLOG: a number of more",
        ),
        ({"KCORO_STREAM_WINDOW_LENGTH": "1e-300s"}, "KCORO_STREAM_WINDOW_LENGTH: window.length"),
        (
            {"KCORO_STREAM_RUN_PROMETHEUS": "[::1]:65536"},
            "KCORO_STREAM_RUN_PROMETHEUS: run.prometheus: bad port",
        ),
    ],
)
def test_hostile_environment_values_are_one_line(tmp_path: Path, env: dict[str, str], expected: str) -> None:
    r = ks(tmp_path, "run", "--duration", "0.2", "--out", "x.ndjson", env=env)
    assert r.returncode == 2, r.stderr
    assert expected in one_line_error(r)
    assert not (tmp_path / "x.ndjson").exists()


def test_deep_json_config_is_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "c.json"
    cfg.write_text('{"run": {\n"out": ' + "[" * 100_000 + "]" * 100_000 + "}}\n")
    r = ks(tmp_path, "config", "check", str(cfg))
    assert r.returncode == 2 and f"{cfg}:2: nested more than 32 deep" in one_line_error(r)


def test_json_duplicate_key_names_its_line(tmp_path: Path) -> None:
    cfg = tmp_path / "c.json"
    cfg.write_text('{"run": {\n "mode": "tasks",\n "mode": "dual"}}\n')
    with pytest.raises(UsageError, match=r"c\.json:3: duplicate key 'mode'"):
        file_layer(cfg)


def test_bad_environment_variable_is_named() -> None:
    with pytest.raises(UsageError, match=r"KCORO_STREAM_BENCH_WORKERS: bench\.workers"):
        env_layer({"KCORO_STREAM_BENCH_WORKERS": "lots"})
    with pytest.raises(
        UsageError, match=r"unknown key 'sloep' in \[backpressure\] \(did you mean 'slope'\?\)"
    ):
        env_layer({"KCORO_STREAM_BACKPRESSURE_SLOEP": "3"})
    layer = env_layer({"KCORO_STREAM_RUN_OUT": "a.ndjson, b.csv", "KCORO_STREAM_RING": "/dev/shm/x"})
    assert layer.values[("run", "out")].value == ["a.ndjson", "b.csv"]


# ------------------------------------------------------------------ real runs


def test_project_file_configures_a_run_and_flags_override(tmp_path: Path) -> None:
    """[run] mode/duration in ./kcoro-stream.toml drive a plain `run`; --mode wins; show names lines."""
    (tmp_path / "kcoro-stream.toml").write_text('# the project\n[run]\nmode = "channel"\nduration = "2s"\n')
    r = ks(tmp_path, "run", "--no-log", "--workers", "1")
    assert r.returncode == 0, r.stderr
    s = summary(r.stdout)
    assert s["mode"] == "channel" and 1.8 < float(s["duration_s"]) < 2.5  # type: ignore[arg-type]
    r = ks(tmp_path, "run", "--no-log", "--workers", "1", "--mode", "tasks")
    assert r.returncode == 0, r.stderr
    s = summary(r.stdout)
    assert s["mode"] == "tasks" and 1.8 < float(s["duration_s"]) < 2.5  # type: ignore[arg-type]
    r = ks(tmp_path, "config", "show")
    assert r.returncode == 0
    rows = {ln.split()[1]: ln.split()[0] for ln in r.stdout.splitlines()}
    assert rows["run.mode"] == "kcoro-stream.toml:3" and rows["run.duration"] == "kcoro-stream.toml:4"
    assert rows["bench.batch"] == "default"
    r = ks(tmp_path, "config", "show", env={"KCORO_STREAM_RUN_MODE": "dual"})
    assert 'env KCORO_STREAM_RUN_MODE  run.mode = "dual"' in r.stdout


def test_bench_section_reaches_run_started(tmp_path: Path) -> None:
    """[bench] keys become benchmark flags: RunStarted.config carries them; the log records origins."""
    (tmp_path / "kcoro-stream.toml").write_text(
        "[bench]\nbatch = 3\nbody_cost = 7\nworkers = 1\npin = true\nbody_ns = 50\n"
    )
    r = ks(tmp_path, "run", "--mode", "tasks", "--duration", "0.5", "--log", "r", "--no-stdout")
    assert r.returncode == 0, r.stderr
    from kcoro_stream.eventlog import open_log
    from kcoro_stream.events import RunStarted, decode_frame

    started = next(
        e
        for f in open_log(tmp_path / "r").frames(None, None)
        for e in decode_frame(f.payload)
        if isinstance(e, RunStarted)
    )
    assert (started.config["batch"], started.config["body_cost"], started.config["workers"]) == (3, 7, 1)
    assert started.config["body_ns"] == 50
    assert started.config["pin"] is True and started.capabilities["pinned_cpus"] == [
        min(os.sched_getaffinity(0))
    ]
    rec = recorded_config(tmp_path / "r")
    assert rec is not None
    assert rec["config"]["bench"]["batch"] == {"value": 3, "origin": "kcoro-stream.toml:2"}
    assert rec["config"]["run"]["mode"] == {"value": "tasks", "origin": "flag --mode"}


def test_replay_uses_the_recorded_analysis_configuration(tmp_path: Path) -> None:
    """Replayed where another ./kcoro-stream.toml lives: byte-identical; --config: the other analysis."""
    (tmp_path / "kcoro-stream.toml").write_text(
        '[window]\nlength = "200ms"\n[kpi]\nsteal_ratio = [0.9, 0.8]\n'
    )
    r = ks(
        tmp_path,
        "run",
        "--producer",
        "synthetic",
        "--duration",
        "1",
        "--log",
        "r",
        "--out",
        "live.ndjson",
        "--no-stdout",
    )
    assert r.returncode == 0, r.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "kcoro-stream.toml").write_text('[window]\nlength = "500ms"\n')
    r = ks(elsewhere, "replay", "../r")
    assert r.returncode == 0, r.stderr
    assert r.stdout == (tmp_path / "live.ndjson").read_text()
    assert "replay: analyses from the configuration recorded in ../r" in r.stderr
    windows = {json.loads(ln)["window_ns"] for ln in r.stdout.splitlines() if '"type":"sample"' in ln}
    assert windows == {200_000_000}
    r = ks(elsewhere, "replay", "../r", "--config", "kcoro-stream.toml")
    assert r.returncode == 0, r.stderr
    windows = {json.loads(ln)["window_ns"] for ln in r.stdout.splitlines() if '"type":"sample"' in ln}
    assert windows == {500_000_000}
    assert "overridden by --config kcoro-stream.toml" in r.stderr


def test_pipeline_file_sits_between_config_files_and_environment(tmp_path: Path) -> None:
    """What a pipeline file sets beats ./kcoro-stream.toml; KCORO_STREAM_* beats the pipeline file."""
    (tmp_path / "kcoro-stream.toml").write_text(
        '[run]\nmode = "channel"\ninterval = "20ms"\n[window]\nlength = "100ms"\n[outliers]\nz = 9.0\n'
    )
    (tmp_path / "p.py").write_text(
        "from kcoro_stream import config\n"
        "from kcoro_stream.pipeline import BenchSource, Pipeline\n"
        "pipeline = Pipeline(source=BenchSource(mode='tasks', producer='synthetic'),\n"
        "                    derive=config.analyses(window_ms=500), sinks=['stdout'])\n"
    )
    r = ks(
        tmp_path,
        "run",
        "p.py",
        "--duration",
        "1.2",
        "--log",
        "r",
        env={"KCORO_STREAM_WINDOW_LENGTH": "300ms"},
    )
    assert r.returncode == 0, r.stderr
    windows = {json.loads(ln)["window_ns"] for ln in r.stdout.splitlines() if '"type":"sample"' in ln}
    assert windows == {300_000_000}  # env > pipeline
    rec = recorded_config(tmp_path / "r")
    assert rec is not None
    c = rec["config"]
    assert c["run"]["mode"] == {"value": "tasks", "origin": "pipeline p.py"}
    assert c["run"]["interval"] == {"value": 0.02, "origin": "kcoro-stream.toml:3"}
    assert c["window"]["length"] == {"value": 0.3, "origin": "env KCORO_STREAM_WINDOW_LENGTH"}
    assert c["outliers"]["z"] == {"value": 9.0, "origin": "kcoro-stream.toml:7"}
    r = ks(tmp_path, "run", "p.py", "--duration", "1.2", "--no-log")
    windows = {json.loads(ln)["window_ns"] for ln in r.stdout.splitlines() if '"type":"sample"' in ln}
    assert windows == {500_000_000}  # pipeline > project file


# ------------------------------------------------------------------ properties

_names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
_values = st.one_of(
    st.integers(-5, 5).map(str),
    st.text("ab =[]{}#\"'", max_size=6).map(lambda s: '"' + s.replace("\\", "").replace('"', "") + '"'),
    st.lists(st.integers(0, 9).map(str), max_size=3).map(lambda xs: "[\n  " + ",\n  ".join(xs) + "\n]"),
    st.just('{ a = 1, b = "x = 2" }'),
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_names, st.dictionaries(_names, _values, max_size=4), max_size=4))
def test_every_key_is_found_on_the_line_it_was_written(doc: dict[str, dict[str, str]]) -> None:
    """The TOML position scan agrees with where each key was written, arrays and strings notwithstanding."""
    lines: list[str] = ["# generated"]
    expected: dict[tuple[str, ...], int] = {}
    for section, body in doc.items():
        lines.append(f"[{section}]")
        expected[(section,)] = len(lines)
        for key, value in body.items():
            lines.append(f"{key} = {value}")
            expected[(section, key)] = len(lines)
            lines.extend([""] * value.count("\n"))
            lines[-1 - value.count("\n") :] = (f"{key} = {value}").split("\n")
    text = "\n".join(lines) + "\n"
    tomllib.loads(text)  # the generator writes valid TOML
    found = _toml_lines(text)
    for path, line in expected.items():
        assert found[path] == line, (path, text)


@given(
    st.floats(0, 1e6, allow_nan=False), st.sampled_from([("ms", 1e-3), ("s", 1.0), ("m", 60.0), ("", 1.0)])
)
def test_durations_parse_with_their_unit(x: float, unit: tuple[str, float]) -> None:
    assert parse_duration(f"{x!r}{unit[0]}") == pytest.approx(x * unit[1])


def test_run_outputs_from_the_config_and_show_of_a_recorded_run(tmp_path: Path) -> None:
    """[run] out/no_stdout/log drive the outputs; `config show --run` prints what the run recorded."""
    (tmp_path / "kcoro-stream.toml").write_text(
        '[run]\nproducer = "synthetic"\nduration = "0.5s"\nout = ["a.ndjson"]\nno_stdout = true\nlog = "r"\n'
    )
    r = ks(tmp_path, "run")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "" and '"type":"summary"' in (tmp_path / "a.ndjson").read_text()
    r = ks(tmp_path, "config", "show", "--run", "r", "--set-only")
    assert r.returncode == 0, r.stderr
    assert 'kcoro-stream.toml:4  run.out = ["a.ndjson"]' in r.stdout
    r = ks(tmp_path, "run", "--config", "missing.toml")
    assert r.returncode == 2 and "missing.toml: no such configuration file" in one_line_error(r)


def test_quote_cuts_long_input_for_error_lines() -> None:
    from kcoro_stream.errors import quote

    assert quote("ab") == "'ab'"
    assert quote("x" * 500) == "'" + "x" * 76 + "..." and len(quote("x" * 500)) == 80
    assert len(quote("9" * 5000, limit=20)) == 20


# ------------------------------------------------------------------ the run plan


def _run_flags(*argv: str) -> CommandFlags:
    """The real ``run`` command's flags, as click parses ``argv``."""
    from kcoro_stream.commands.live import run

    ctx = run.make_context("run", list(argv))
    return CommandFlags.from_click(ctx, ctx.params)


def test_a_run_plan_is_a_value_of_the_flags_and_the_layers(tmp_path: Path) -> None:
    """plan_run fills the configured values into a copy of the flags (a given flag wins) and
    changes neither the flags nor the pipeline; the logged record names every origin."""
    from kcoro_stream.commands._common import pipeline_or_default

    conf = tmp_path / "c.toml"
    conf.write_text('[run]\nmode = "tasks"\nduration = "2s"\n[bench]\nbatch = 3\nspin = 5\n')
    layers = standard_layers(conf, cwd=tmp_path, environ={"XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    flags = _run_flags("--mode", "channel", "--spin", "9")
    p = pipeline_or_default(None)
    derive = p.derive
    plan = plan_run(flags, p, None, layers)
    assert (plan.flags["mode"], plan.flags["duration"]) == ("channel", "2.0")
    assert (plan.flags["batch"], plan.flags["spin"]) == (3, 9)
    assert (flags.values["mode"], flags.values["duration"], flags.values["batch"]) == ("channel", None, None)
    assert p.derive is derive and plan.derive is not derive  # the configuration's analyses, in the plan
    with pytest.raises(TypeError):
        plan.flags["mode"] = "tasks"  # type: ignore[index]  # the plan is read, never written
    origins = json.loads(plan.marks[0].detail)["config"]
    assert origins["run"]["duration"]["origin"] == f"{conf}:3"
    assert origins["run"]["mode"]["origin"] == "flag --mode" and origins["bench"]["spin"]["value"] == 9
    assert plan_run(flags, p, None, layers).flags == plan.flags  # the same inputs, the same plan


def test_a_run_plan_error_names_the_option_and_its_origin(tmp_path: Path) -> None:
    from kcoro_stream.commands._common import pipeline_or_default

    conf = tmp_path / "c.toml"
    conf.write_text('[alerts]\nrules = ["nonsense"]\n')
    layers = standard_layers(conf, cwd=tmp_path, environ={"XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    with pytest.raises(UsageError, match=rf"^{conf}:2: alert rule #1: cannot parse"):
        plan_run(_run_flags(), pipeline_or_default(None), None, layers)


def test_replay_analyses_are_returned_and_the_pipeline_left_alone(tmp_path: Path) -> None:
    from kcoro_stream.commands._common import pipeline_or_default
    from kcoro_stream.config import apply_to_replay

    old = tmp_path / "old.ndjson"
    old.write_text("")
    p = pipeline_or_default(None)
    before = p.derive
    derive, said = apply_to_replay({}, p, None, old)
    assert p.derive is before and callable(derive) and derive is not before
    assert said == f"{old} recorded no configuration: analyses from the current configuration"
