"""The scripted test producer (native/testprod/synthetic_producer.c) as a program.

``python -m kcoro_stream.sources.synthetic --ring PATH [--rate N ...]`` runs
the C producer in this process; the ingester launches it as a child exactly as
it launches the real benchmark (kcoro_stream.sources.bench).
"""

from __future__ import annotations

from .._native import ffi, lib
from ._child import run_c_main


def main(argv: list[str] | None = None) -> int:
    """Run the scripted test producer with ``argv`` (default: ``sys.argv[1:]``)."""
    return run_c_main(lib.kcs_synthetic_main, ffi, "synthetic_producer", argv)


if __name__ == "__main__":
    raise SystemExit(main())
