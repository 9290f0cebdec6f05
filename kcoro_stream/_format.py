"""Numbers as the tables show them (compare, history): 3 significant digits, k/M/G."""

from __future__ import annotations

__all__ = ["fmt_number"]


def fmt_number(x: float | None) -> str:
    if x is None:
        return "-"
    a = abs(x)
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            return f"{x / div:.3g}{unit}"
    return f"{x:.3g}"
