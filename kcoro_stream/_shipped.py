"""Files kcoro-stream ships beside the code: ``pipelines/`` (and ``profiles/`` later).

These folders live at the top of the source tree, where users read and copy
them. A built package carries a copy of each under
``kcoro_stream/_shipped/<kind>/`` (setup.py's ``build_py`` puts it there), so an
installed kcoro-stream finds them from any directory. An editable install or a
checkout on ``PYTHONPATH`` has no copy; there the checkout's own folder is used.

::

    shipped_dir("pipelines")   → site-packages/kcoro_stream/_shipped/pipelines   (pip install .)
                               → <checkout>/pipelines                             (pip install -e .)
    shipped_files("pipelines") → {"alerts": Path, "default": Path, "latency": Path}
"""

from __future__ import annotations

import ast
from pathlib import Path

__all__ = ["SHIPPED_KINDS", "first_doc_line", "shipped_dir", "shipped_files"]

# Keep in step with SHIPPED in setup.py.
SHIPPED_KINDS = ("pipelines", "profiles")

_PACKAGE = Path(__file__).resolve().parent


def shipped_dir(kind: str) -> Path | None:
    """The folder holding the shipped ``kind`` files, or None when there is none."""
    if kind not in SHIPPED_KINDS:
        raise ValueError(f"unknown kind of shipped file {kind!r} (known: {', '.join(SHIPPED_KINDS)})")
    packaged = _PACKAGE / "_shipped" / kind
    if packaged.is_dir():
        return packaged
    checkout = _PACKAGE.parent
    # Only a kcoro-stream checkout: never a stray folder of that name beside site-packages.
    if (checkout / "pyproject.toml").is_file() and (checkout / kind).is_dir():
        return checkout / kind
    return None


def shipped_files(kind: str, suffix: str = ".py") -> dict[str, Path]:
    """Shipped ``kind`` files by name (file name without ``suffix``), sorted."""
    folder = shipped_dir(kind)
    if folder is None:
        return {}
    return {
        p.name.removesuffix(suffix): p
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name.endswith(suffix) and not p.name.startswith(("_", "."))
    }


def first_doc_line(path: Path) -> str:
    """The first line of a Python file's module docstring ("" when it has none or does not parse)."""
    try:
        doc = ast.get_docstring(ast.parse(path.read_text()))
    except (OSError, SyntaxError, ValueError):
        return ""
    return doc.strip().splitlines()[0] if doc and doc.strip() else ""
