"""The verdict packages' public names are all in __all__ (as tests/test_layout.py asks of the stages)."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("name", ["kcoro_stream.compare", "kcoro_stream.report"])
def test_public_all_is_complete(name: str) -> None:
    mod = importlib.import_module(name)
    exported = set(mod.__all__)
    assert all(hasattr(mod, n) for n in exported)
    public = {
        n
        for n, v in vars(mod).items()
        if not n.startswith("_")
        and getattr(v, "__module__", "").startswith(name)
        and not isinstance(v, type(importlib))
    }
    assert public <= exported, f"missing from __all__: {sorted(public - exported)}"
