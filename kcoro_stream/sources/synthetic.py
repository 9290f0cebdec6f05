"""The example producer (native/examples/synthetic_producer.c) as a program.

``python -m kcoro_stream.sources.synthetic --ring PATH [--rate N ...]`` runs
the C example in this process; the ingester launches it as a child exactly as
it launches the real benchmark (kcoro_stream.sources.bench).
"""

from __future__ import annotations

import sys

from .._native import ffi, lib


def main(argv: list[str] | None = None) -> int:
    args = [b"synthetic_producer", *(a.encode() for a in (sys.argv[1:] if argv is None else argv))]
    keep = [ffi.new("char[]", a) for a in args]
    c_argv = ffi.new("char *[]", [*keep, ffi.NULL])
    return int(lib.kcs_synthetic_main(len(args), c_argv))


if __name__ == "__main__":
    raise SystemExit(main())
