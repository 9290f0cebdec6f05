"""summary.json, index.json and baselines are typed records with one reader each: an old index (no format,
no version) still reads, a new one says what it is, and a field of the wrong type is one line naming the
file and the field (history names the summary and lists the rest)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kcoro_stream.compare import load_baseline, load_results
from kcoro_stream.errors import UsageError
from kcoro_stream.events import ANALYSIS_VERSION
from kcoro_stream.history import SUMMARY_NAME
from kcoro_stream.manifest._run import _load_index, _write_index
from kcoro_stream.records import INDEX_FORMAT, INDEX_VERSION, IndexEntry, read_index

sys.path.insert(0, str(Path(__file__).resolve().parent / "history"))
from test_history import fake_run, ks

ENTRY = {"step": "a", "params": {"seed": 1}, "repeat": 1, "variant": "", "state": "ok", "dir": "a-r1"}


def test_an_index_written_before_format_and_version_reads_in_both_readers(tmp_path: Path) -> None:
    (tmp_path / "index.json").write_text(json.dumps({"manifest": {"name": "m"}, "runs": [ENTRY]}))
    res = load_results(tmp_path)
    assert res.name == "m" and [(r.step, r.repeat, r.dir.name) for r in res.runs] == [("a", 1, "a-r1")]
    (key, entry), *_ = _load_index(tmp_path / "index.json").items()
    assert key == ("a", '{"seed": 1}', 1, "") and entry.dir == "a-r1"


def test_a_new_index_says_its_format_and_version_and_reads_back(tmp_path: Path) -> None:
    from types import SimpleNamespace

    m = SimpleNamespace(name="m", path=tmp_path / "m.yaml", sha256="0" * 64, on_error="stop")
    entry = IndexEntry(step="a", params={"seed": 1}, repeat=1, dir="a-r1", state="ok")
    _write_index(tmp_path, m, [entry], {"host": "h"})  # type: ignore[arg-type]
    body = json.loads((tmp_path / "index.json").read_text())
    assert (body["format"], body["version"]) == (INDEX_FORMAT, INDEX_VERSION)
    assert list(body)[:2] == ["format", "version"] and "sequential" not in body
    assert read_index(tmp_path / "index.json").runs == [entry]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"repeat": "one"}, "$.runs[0].repeat"),
        ({"state": None}, "$.runs[0].state"),
        ({"params": [1]}, "$.runs[0].params"),
        ({"summary": "x"}, "$.runs[0].summary"),
    ],
)
def test_a_damaged_index_entry_is_one_line_naming_the_file_and_field(
    tmp_path: Path, change: dict[str, object], field: str
) -> None:
    index = tmp_path / "index.json"
    index.write_text(json.dumps({"runs": [ENTRY | change]}))
    for read in (load_results, lambda p: _load_index(p / "index.json")):
        with pytest.raises(UsageError) as e:
            read(tmp_path)
        assert str(e.value).startswith(f"{index}: ") and field in str(e.value) and "\n" not in str(e.value)


def test_another_index_version_is_refused(tmp_path: Path) -> None:
    (tmp_path / "index.json").write_text(json.dumps({"format": INDEX_FORMAT, "version": 2, "runs": []}))
    with pytest.raises(UsageError, match="results index version 2"):
        load_results(tmp_path)


def test_a_baseline_field_of_the_wrong_type_is_named(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    body = {
        "format": "kcoro-stream-baseline",
        "version": 1,
        "analysis_version": ANALYSIS_VERSION,
        "steps": {"tasks": {"metrics": {"tasks:tasks_per_s": [1e6]}, "noise_profile": "loud"}},
    }
    path.write_text(json.dumps(body))
    with pytest.raises(
        UsageError, match=r"b\.json: damaged baseline: \$\.steps\.tasks\.noise_profile: expected"
    ):
        load_baseline(path)


def test_history_names_a_summary_with_a_field_of_the_wrong_type_and_lists_the_rest(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    for i in range(2):
        fake_run(runs, i, 1e6 + i)
    bad = fake_run(runs, 2, 5.0) / SUMMARY_NAME
    body = json.loads(bad.read_text())
    body["workers"] = "two"  # was read (workers NULL) and its figures listed as a good run's
    bad.write_text(json.dumps(body) + "\n")
    r: subprocess.CompletedProcess[str] = ks(tmp_path, "history", "--json")
    assert r.returncode == 1, r.stderr
    assert [x["value"] for x in json.loads(r.stdout)["runs"]] == [1e6, 1e6 + 1]
    (line,) = r.stderr.strip().splitlines()
    assert f"{bad.parent.name}/summary.json: damaged run summary: $.workers: expected int" in line
