"""A/B variants in a manifest: planned interleaved, checked before anything runs (no runs here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kcoro_stream.errors import UsageError
from kcoro_stream.manifest import load_manifest

AB = """manifest: ab
defaults: {duration: 1s, repeats: 3}
variants:
  base: {}
  cand: {bench: {body_cost: 8}}
  other: {exec: [/bin/true, x]}
steps:
  - name: tasks
    mode: tasks
"""


def test_variants_interleave_their_repeats_with_their_own_knobs(tmp_path: Path) -> None:
    p = tmp_path / "ab.yaml"
    p.write_text(AB)
    m = load_manifest(p)
    assert [(r.variant, r.repeat) for r in m.runs[:6]] == [
        ("base", 1),
        ("cand", 1),
        ("other", 1),
        ("cand", 2),  # each repeat starts one variant later: no variant always follows the same one
        ("other", 2),
        ("base", 2),
    ]
    assert [r.slug for r in m.runs[:2]] == ["tasks-base-r1", "tasks-cand-r1"]
    by = {r.variant: r for r in m.runs}
    assert by["cand"].config.get("bench", "body_cost") == 8
    assert by["base"].config.get("bench", "body_cost") in (None, 0)
    assert by["other"].command == ["/bin/true", "x"] and by["base"].command is None
    assert len({r.key for r in m.runs}) == 9


@pytest.mark.parametrize(
    ("variants", "message"),
    [
        ("variants: {only: {}}", "at least two"),
        ("variants: {a: {}, b: {bnech: {}}}", "did you mean 'bench'"),
        ("variants: {a: {}, b: {bench: {body_cost: -1}}}", "body_cost"),
        ("variants: {a: {}, b: {exec: []}}", "exec: expected a non-empty list"),
        ("variants: [a, b]", "must be a mapping"),
    ],
)
def test_bad_variants_are_one_line_usage_errors(tmp_path: Path, variants: str, message: str) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text(AB.split("variants:")[0] + variants + "\nsteps:\n  - name: tasks\n    mode: tasks\n")
    with pytest.raises(UsageError) as e:
        load_manifest(p)
    assert message in str(e.value) and "\n" not in str(e.value) and str(p) in str(e.value)


def test_a_python_variant_runs_the_bundled_benchmark_of_another_install(tmp_path: Path) -> None:
    """python: PATH plans runs whose interpreter is that install's (checked to exist before anything runs)."""
    import sys

    p = tmp_path / "py.yaml"
    p.write_text(AB.replace("other: {exec: [/bin/true, x]}", f"other: {{python: {sys.executable}}}"))
    by = {r.variant: r for r in load_manifest(p).runs}
    assert by["other"].python == sys.executable and by["other"].command is None
    p.write_text(AB.replace("other: {exec: [/bin/true, x]}", "other: {python: /no/such/python}"))
    with pytest.raises(UsageError, match="python: expected the path of an interpreter"):
        load_manifest(p)
