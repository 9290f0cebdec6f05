"""The README and docs/ are checked: their commands run, and what they show is what they print.

* Every ``--flag`` the README or a page of docs/ mentions is an option of a kcoro-stream command
  or of the benchmark (``kcoro-stream bench --help``); a renamed flag fails.
* Every ``kcoro-stream …`` command in a console/sh block parses (click, with
  ``--help`` appended, so nothing runs) — fast, no benchmark.
* The slow test runs them all, in order (the README, then docs/guide.md, then
  the other pages by name), in one empty directory, with short
  durations and placeholders filled in (``runs/<id>`` is the run the tour
  made, ``old_run.ndjson`` a recording from bench_data/, ports are free ones),
  and compares the *shapes* the README shows with what it sees: the field
  names of JSON lines, which line types a run emits, the layout of
  ``log info`` and ``validate`` (numbers, ids, units and parenthesised details
  aside), and error lines exactly.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from kcoro_stream.cli import cli

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
# The README's tour goes on in docs/guide.md (it uses the README's runs); then every other page.
# docs/contracts.md is the design (it names things before they exist): not checked.
_OTHER_PAGES = sorted(p for p in (ROOT / "docs").glob("*.md") if p.name not in ("guide.md", "contracts.md"))
DOCS = [README, ROOT / "docs" / "guide.md", *_OTHER_PAGES]
BIN = Path(sys.executable).parent
MAX_DURATION = 2.0  # seconds: every documented run is cut to this
# Line types that appear only when something happens in the run (a rule fires, an outlier).
CONDITIONAL_TYPES = {"alert", "anomaly"}
# Flags in the README that belong to other programs, each with its reason.
FOREIGN_FLAGS = {
    "--ring": "the example producers' own flag (native/examples/*.c), after --exec --",
    "--inject-growth": "the synthetic producer's (native/testprod/synthetic_producer.c)",
    "--growth-from": "the synthetic producer's",
    "--growth-until": "the synthetic producer's",
    "--step-at": "the synthetic producer's",
    "--step-pct": "the synthetic producer's",
    "--check": "python -m kcoro_stream._codegen --check",
    "--root": "python -m kcoro_stream._codegen --root",
    "--no-build-isolation": "pip's",
    "--web": "Prometheus's --web.enable-remote-write-receiver",
    "--name": "a placeholder: the origin `flag --name` in config show",
    "--flag": "a placeholder: the benchmark's error line `kcoro-bench: --flag: reason`",
    "--full": "benchmarks/gate_calibration.py's own flag (docs/verdicts.md)",
    "--keep": "benchmarks/gate_calibration.py --keep DIR",
    "--planted": "benchmarks/gate_calibration.py's own flag (docs/verdicts.md)",
}


@dataclass
class Step:
    """One command of a README code block, and the output the README shows for it."""

    lang: str  # console | sh
    lineno: int
    command: str
    shown: list[str] = field(default_factory=list)


def parse_readme(text: str) -> list[Step]:
    """The commands of the console and sh blocks, in order."""
    steps: list[Step] = []
    lang: str | None = None
    for n, line in enumerate(text.splitlines(), 1):
        fence = re.match(r"^```(\w*)\s*$", line)
        if fence:
            lang = None if lang is not None else (fence.group(1) or "text")
            continue
        if lang == "console":
            if line.startswith("$ "):
                steps.append(Step("console", n, line[2:].strip()))
            elif steps and steps[-1].lang == "console" and line.strip():
                steps[-1].shown.append(line)
        elif lang == "sh":
            cmd = re.sub(r"\s+#\s.*$", "", line).strip()
            if cmd and not cmd.startswith("#"):
                steps.append(Step("sh", n, cmd))
    return steps


def shows_error(step: Step) -> bool:
    """A command the README shows failing (its output is the error line)."""
    return bool(step.shown) and step.shown[0].startswith("kcoro-stream: ")


def documented_flags(text: str) -> dict[str, int]:
    """Every ``--flag`` the README mentions (outside C and Python code and the error
    examples, which misspell flags on purpose), with its first line."""
    examples = {s.lineno for s in parse_readme(text) if shows_error(s)}
    found: dict[str, int] = {}
    lang: str | None = None
    for n, line in enumerate(text.splitlines(), 1):
        fence = re.match(r"^```(\w*)\s*$", line)
        if fence:
            lang = None if lang is not None else (fence.group(1) or "text")
            continue
        if lang in ("c", "python") or n in examples or line.startswith("kcoro-stream: "):
            continue
        if re.match(r"^\s*(\$ )?(\S*/)?python3?\s+benchmarks/", line):
            continue  # a benchmark script's own flags
        for flag in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", line):
            found.setdefault(flag, n)
    return found


def _click_flags(cmd: click.Command) -> set[str]:
    flags: set[str] = set()
    for p in cmd.params:
        flags.update(o for o in [*p.opts, *p.secondary_opts] if o.startswith("--"))
    if isinstance(cmd, click.Group):
        for sub in cmd.commands.values():
            flags |= _click_flags(sub)
    return flags


def _bench_flags() -> set[str]:
    r = subprocess.run([str(BIN / "kcoro-stream"), "bench", "--help"], capture_output=True, text=True)
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", r.stdout))


def unknown_flags(text: str, name: str = "README.md") -> list[str]:
    """Flags in a page that no command knows: ``PAGE:LINE: --flag``."""
    known = _click_flags(cli) | _bench_flags() | set(FOREIGN_FLAGS) | {"--help"}  # --help: click adds it
    return [f"{name}:{n}: {flag}" for flag, n in documented_flags(text).items() if flag not in known]


def page_name(path: Path) -> str:
    """A page as the failures name it: README.md, docs/guide.md."""
    return str(path.relative_to(ROOT))


def ks_args(command: str) -> list[str] | None:
    """The arguments of a ``kcoro-stream …`` command (up to a pipe, without a program after --)."""
    if not command.startswith("kcoro-stream "):
        return None
    words = shlex.split(command)
    words = words[: words.index("|")] if "|" in words else words
    words = words[: words.index("--")] if "--" in words else words
    return words[1:]


def parses(args: list[str]) -> tuple[bool, str]:
    """Whether click accepts ``args`` (every option known): ``--help`` appended, nothing runs."""
    if args and args[0] == "bench":
        return True, ""  # the benchmark parses its own flags (checked by unknown_flags)
    r = CliRunner().invoke(cli, [*args, "--help"], prog_name="kcoro-stream")
    return r.exit_code == 0, r.output.strip()


# ------------------------------------------------------------------ fast checks


def test_readme_has_commands_to_check() -> None:
    steps = parse_readme(README.read_text())
    assert sum(ks_args(s.command) is not None for s in steps) >= 5
    assert any(s.shown for s in steps)
    everywhere = [s for page in DOCS for s in parse_readme(page.read_text())]
    assert sum(ks_args(s.command) is not None for s in everywhere) >= 40


def test_readme_is_a_front_page() -> None:
    """The README is a front page (the reference lives in docs/) and links every docs page."""
    text = README.read_text()
    assert len(text.splitlines()) <= 200
    linked = set(re.findall(r"\(docs/([\w.-]+\.md)[)#]", text))
    assert {p.name for p in DOCS[1:]} | {"contracts.md"} <= linked


def test_every_documented_flag_exists() -> None:
    assert [u for page in DOCS for u in unknown_flags(page.read_text(), page_name(page))] == []


def test_every_documented_command_parses() -> None:
    bad = []
    for page in DOCS:
        for s in parse_readme(page.read_text()):
            args = ks_args(s.command)
            if args is not None and not shows_error(s):
                ok, out = parses(args)
                if not ok:
                    bad.append(f"{page_name(page)}:{s.lineno}: {s.command}: {out}")
    assert not bad, "\n".join(bad)


def test_every_contract_reference_resolves() -> None:
    """ "contract N" anywhere in the tree names a section of docs/contracts.md."""
    contracts = (ROOT / "docs" / "contracts.md").read_text()
    defined = set(re.findall(r'<a id="contract-(\d+)"></a>\n\n## Contract \1 ', contracts))
    assert defined >= {str(n) for n in range(1, 11)}
    cited: dict[str, str] = {}
    for sub in ("kcoro_stream", "native", "docs", "tests", "pipelines", "benchmarks"):
        for p in (ROOT / sub).rglob("*"):
            if p.suffix in (".py", ".md", ".c", ".h") and p.is_file():
                for n in re.findall(r"(?i)\bcontracts? (\d+)", p.read_text(errors="replace")):
                    cited.setdefault(n, str(p.relative_to(ROOT)))
    for top in ("README.md", "Makefile", "CHANGELOG.md"):
        for n in re.findall(r"(?i)\bcontracts? (\d+)", (ROOT / top).read_text()):
            cited.setdefault(n, top)
    assert cited and {n: f for n, f in cited.items() if n not in defined} == {}


def test_a_renamed_flag_fails_the_checks() -> None:
    """Proof the checks can fail: a page with --batch renamed, and a bogus flag in a command."""
    text = (ROOT / "docs" / "guide.md").read_text()
    assert "--batch" in text
    renamed = text.replace("--batch ", "--batches ")
    assert any(p.endswith(": --batches") for p in unknown_flags(renamed, "docs/guide.md"))
    bogus = parse_readme("```console\n$ kcoro-stream run --mode tasks --no-such-flag 3\n```\n")
    args = ks_args(bogus[0].command)
    assert args is not None
    ok, out = parses(args)
    assert not ok and "no such option --no-such-flag" in out


def test_pipeline_example_loads(tmp_path: Path) -> None:
    """The README's pipeline file is a valid pipeline."""
    from kcoro_stream.pipeline import Pipeline, load_pipeline

    text = README.read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S)
    assert code is not None
    f = tmp_path / "mine.py"
    f.write_text(code.group(1))
    assert isinstance(load_pipeline(f), Pipeline)


# ------------------------------------------------------------ running them all


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cap_durations(part: str) -> str:
    def cap(m: re.Match[str]) -> str:
        return f"{m.group(1)} {min(float(m.group(2)), MAX_DURATION):g}"

    part = re.sub(r"(?<!\S)(-d|--duration) (\d+(?:\.\d+)?)(?!\S)", cap, part)
    if part.split()[:2] == ["kcoro-stream", "run"] and not re.search(r"(?<!\S)(-d|--duration) ", part):
        part = part.replace("kcoro-stream run", "kcoro-stream run --duration 1", 1)
    return part


def runnable(command: str, cwd: Path, ports: dict[str, str]) -> str:
    """The README command as the test runs it: short, and with its placeholders filled in."""
    head, sep, program = command.partition(" -- ")  # after --exec --: the program's own arguments
    if head.split()[:2] in (["kcoro-stream", "run"], ["kcoro-stream", "bench"]):  # not `runs prune`
        head = _cap_durations(head)
    cmd = head.replace(" --tui", " --no-tui") + sep + program
    if "runs/<id>" in cmd:
        runs = sorted((cwd / "runs").glob("*"), key=lambda p: p.stat().st_mtime)
        assert runs, "the README uses runs/<id> before any run recorded one"
        cmd = cmd.replace("runs/<id>", f"runs/{runs[-1].name}")
    cmd = cmd.replace("old_run.ndjson", str(ROOT / "bench_data" / "legacy" / "channel_schema2.ndjson"))
    cmd = re.sub(r"(?<![\w/])bench_data/", f"{ROOT}/bench_data/", cmd)
    cmd = re.sub(r"(?<![\w/])native/", f"{ROOT}/native/", cmd)
    cmd = re.sub(r"(?<![\w/])profiles/", f"{ROOT}/profiles/", cmd)
    cmd = re.sub(r"make -C native\b", f"make -s -C {ROOT}/native", cmd)
    for old, new in ports.items():
        cmd = cmd.replace(old, new)
    return cmd


def _json_keys(line: str) -> tuple[str, ...] | None:
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    return tuple(obj) if isinstance(obj, dict) else None


def _shape(line: str) -> str:
    s = re.sub(r"\([^)]*\)", "", line)  # parenthesised details (event types, ratios) vary
    s = re.sub(r"\d{8}-\d{6}-[0-9a-f]{6}", "ID", s)
    s = re.sub(r"\d{4}-\d\d-\d\dT[\d:.]+Z", "TIME", s)
    s = re.sub(r"\d+(\.\d+)?", "N", s)
    s = re.sub(r"\b[KMG]iB\b", "UNIT", s)
    return " ".join(s.split())


def compare(step: Step, out: str, page: str = "README.md") -> list[str]:
    """What a page shows for ``step`` vs its real output: a list of differences."""
    shown = [ln for ln in step.shown if ln.strip() != "..."]
    real = [ln for ln in out.splitlines() if ln.strip()]
    where = f"{page}:{step.lineno}"
    if not shown:
        return []
    if all(_json_keys(ln) is not None for ln in shown):
        seen = {_json_keys(ln) for ln in real}
        return [
            f"{where}: no line with fields {k}; saw {seen}" for k in map(_json_keys, shown) if k not in seen
        ]
    counts = [re.match(r"^\s*\d+ ([a-z_]+)$", ln) for ln in shown]
    if all(counts):
        want = {m.group(1) for m in counts if m} - CONDITIONAL_TYPES
        got = {ln.split()[-1] for ln in real} - CONDITIONAL_TYPES
        return [] if want == got else [f"{where}: line types {sorted(want)} shown, {sorted(got)} emitted"]
    a, b = [_shape(ln) for ln in shown], [_shape(ln) for ln in real]
    return [] if a == b else [f"{where}: layout differs:\n  shown: {a}\n  real:  {b}"]


# "What one run emits": the README counts the line types of a replayed bench_data recording.
_COUNTED = re.compile(r"^kcoro-stream replay (bench_data/\S+) \| jq -r \.type \| sort \| uniq -c$")


def shown_counts(step: Step) -> dict[str, int]:
    """The ``uniq -c`` lines a page shows for ``step``: {line type: count}."""
    out = {}
    for line in step.shown:
        m = re.match(r"^\s*(\d+) ([a-z_]+)$", line)
        assert m, f"README.md:{step.lineno}: not a `uniq -c` line: {line!r}"
        out[m.group(2)] = int(m.group(1))
    return out


def replayed_counts(recording: Path) -> dict[str, int]:
    """Line types of ``recording`` replayed (deterministic: the recorded analyses, event time)."""
    r = subprocess.run(
        [sys.executable, "-m", "kcoro_stream", "replay", str(recording), "--out", "-"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    counts: dict[str, int] = {}
    for line in r.stdout.splitlines():
        kind = json.loads(line)["type"]
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def test_the_readme_counts_what_a_replayed_recording_emits() -> None:
    """The README's counts of line types are a bench_data recording's, replayed, number for number."""
    (step,) = [s for s in parse_readme(README.read_text()) if _COUNTED.match(s.command)]
    m = _COUNTED.match(step.command)
    assert m
    got = replayed_counts(ROOT / m.group(1))
    assert shown_counts(step) == got, (
        f"README.md:{step.lineno}: shows {shown_counts(step)}, replay emits {got}"
    )
    # the check can fail: a count off by one is caught
    wrong = Step(step.lang, step.lineno, step.command, [f"{n + 1:7} {k}" for k, n in got.items()])
    assert shown_counts(wrong) != got


def test_the_csv_column_count_in_docs_is_the_sinks() -> None:
    from kcoro_stream.sinks.csv import COLUMNS

    stated = re.findall(r"\((\d+) columns; `len\(COLUMNS\)`\)", (ROOT / "docs" / "sinks.md").read_text())
    assert stated == [str(len(COLUMNS))]


# The tour's first `manifest run profiles/ci.yaml --out-dir results/ci` starts from the session's run of
# the same command (tests/conftest.py ci_results, checked in tests/test_manifest.py): here it is the
# documented second call, which skips what finished ok.
_CI_RUN = re.compile(r"^kcoro-stream manifest run \S*profiles/ci\.yaml --out-dir results/ci\b")


@pytest.mark.slow
@pytest.mark.timeout(900)  # ~90 s on a quiet machine; over 300 s when the machine is shared
def test_readme_commands_run_and_print_what_it_shows(tmp_path: Path, ci_results) -> None:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    ports = {":9464": f":{_free_port()}", ":8765": f":{_free_port()}"}
    problems: list[str] = []
    ran = 0
    steps = [(page_name(page), s) for page in DOCS for s in parse_readme(page.read_text())]
    for page, step in steps:
        runs_it = step.lang == "console" or step.command.startswith(
            ("kcoro-stream ", "make -C native ", "printf ")
        )
        if not runs_it:
            continue  # make run/test themselves, curl and xdg-open against a server already gone
        cmd = runnable(step.command, tmp_path, ports)
        if _CI_RUN.match(cmd) and not (tmp_path / "results" / "ci").exists():
            assert ci_results.result.returncode == 0, ci_results.result.stderr
            shutil.copytree(ci_results.out, tmp_path / "results" / "ci", symlinks=True)
        r = subprocess.run(
            ["bash", "-o", "pipefail", "-c", cmd],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        ran += 1
        where = f"{page}:{step.lineno}: {cmd}"
        if shows_error(step):
            if r.returncode != 2 or r.stderr.strip().splitlines() != step.shown:
                problems.append(f"{where}: exit {r.returncode}, stderr {r.stderr!r}, shown {step.shown}")
            continue
        if r.returncode != 0:
            problems.append(f"{where}: exit {r.returncode}: {r.stderr.strip()[-500:]}")
            continue
        problems += compare(step, r.stdout, page)
    assert ran >= 15
    assert not problems, "\n".join(problems)


def test_compare_sees_a_changed_shape() -> None:
    """The output comparison fails on a renamed field, a missing line type, a changed layout."""
    js = Step("console", 1, "x", ['{"ts":1.5,"tasks_per_sec":2}'])
    assert compare(js, '{"ts":2.5,"tasks_per_sec":7}\n') == []
    assert compare(js, '{"ts":2.5,"tasks_per_s":7}\n')
    types = Step("console", 1, "x", ["      4 kpi", "      2 sample", "      1 alert"])
    assert compare(types, "   9 kpi\n   5 sample\n") == []  # alert: only when a rule fires
    assert compare(types, "   9 kpi\n   5 sample\n   1 summary\n")
    info = Step("console", 1, "x", ["frames     307", "events     4207  (gauge 2100)"])
    assert compare(info, "frames     12\nevents     99  (tick 99)\n") == []
    assert compare(info, "frames     12\nevent count 99\n")
