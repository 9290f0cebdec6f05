"""Optional extras: ``needs`` turns a missing package into one line naming the extra, and every
extra the code names is one pyproject.toml declares (and ``[all]`` installs).

The real lean install (``pip install .``, no extras, in a fresh venv) is tests/test_install.py.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

from kcoro_stream._extras import needs
from kcoro_stream.errors import MissingExtra, UsageError

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
EXTRAS = PYPROJECT["project"]["optional-dependencies"]


def _needs_calls() -> dict[str, list[str]]:
    """extra → the files whose code says ``needs("extra", ...)``."""
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "kcoro_stream").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "needs":
                arg = node.args[0]
                assert isinstance(arg, ast.Constant), f"{path}: needs() takes the extra's name as a literal"
                found.setdefault(arg.value, []).append(path.name)
    return found


def test_every_extra_the_code_names_is_declared_and_in_all() -> None:
    named = _needs_calls()
    assert set(named) == {"tui", "web", "prometheus", "remote-write", "verdicts", "report", "history"}
    assert set(named) <= set(EXTRAS), sorted(set(named) - set(EXTRAS))
    (everything,) = EXTRAS["all"]
    assert re.fullmatch(r"kcoro-stream\[(.*)\]", everything)
    listed = set(re.fullmatch(r"kcoro-stream\[(.*)\]", everything).group(1).split(","))  # type: ignore[union-attr]
    assert listed == set(EXTRAS) - {"all", "test"}


def test_a_lean_install_keeps_only_what_records_replays_and_validates() -> None:
    core = {re.match(r"[A-Za-z0-9._-]+", d).group(0).lower() for d in PYPROJECT["project"]["dependencies"]}  # type: ignore[union-attr]
    assert core == {"trio", "msgspec", "reactivex", "cffi", "click", "zstandard", "ruamel.yaml"}


def test_a_missing_package_is_one_line_naming_the_extra() -> None:
    with pytest.raises(MissingExtra) as e, needs("report", "report"):
        import kcoro_stream_no_such_package  # noqa: F401
    assert isinstance(e.value, UsageError) and e.value.exit_code == 2
    assert str(e.value) == (
        "report needs the [report] extra (no module named 'kcoro_stream_no_such_package'): "
        "pip install 'kcoro-stream[report]'"
    )
    assert (e.value.extra, e.value.module) == ("report", "kcoro_stream_no_such_package")


def test_an_inner_surfaces_missing_extra_is_named_as_the_outer_one() -> None:
    """remote write imports the prometheus sink: its user installs [remote-write], which includes it."""
    with pytest.raises(MissingExtra) as e, needs("remote-write", "the remote_write sink"):
        with needs("prometheus", "the prometheus sink"):
            import kcoro_stream_no_such_client  # noqa: F401
    assert e.value.extra == "remote-write"
    assert str(e.value).endswith("pip install 'kcoro-stream[remote-write]'")


def test_a_missing_module_of_our_own_is_a_bug_not_an_extra() -> None:
    with pytest.raises(ModuleNotFoundError), needs("report", "report"):
        import kcoro_stream.no_such_module  # noqa: F401
