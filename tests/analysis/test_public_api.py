"""The public analysis API is what docs/analyses.md lists: a listed name that disappears fails here,
and so does an exported name the page does not list."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "analyses.md"


def listed() -> dict[str, list[str]]:
    """{module: [names]} from the tables under "## The public API"."""
    text = DOC.read_text().split("## The public API", 1)[1]
    out: dict[str, list[str]] = {}
    module = ""
    for line in text.splitlines():
        m = re.fullmatch(r"`(kcoro_stream\.[a-z_.]+)`:", line.strip())
        if m:
            module = m.group(1)
            continue
        m = re.match(r"\| `([A-Za-z_]+)` \|", line)
        if m and module:
            out.setdefault(module, []).append(m.group(1))
    return out


def test_the_page_lists_both_modules() -> None:
    names = listed()
    assert set(names) == {"kcoro_stream.analysis", "kcoro_stream.pipeline"}
    assert {"metric", "event", "Metric", "EventType", "Sample"} <= set(names["kcoro_stream.analysis"])


@pytest.mark.parametrize(("module", "name"), [(m, n) for m, ns in listed().items() for n in ns])
def test_every_listed_name_is_exported(module: str, name: str) -> None:
    mod = importlib.import_module(module)
    assert name in mod.__all__, f"{module}.{name} is listed in docs/analyses.md but not exported"
    assert getattr(mod, name) is not None


def test_analysis_exports_exactly_what_the_page_lists() -> None:
    import kcoro_stream.analysis as analysis

    assert sorted(analysis.__all__) == sorted(listed()["kcoro_stream.analysis"])
