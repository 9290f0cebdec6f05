"""The bundled benchmark (native/bench on the native/runtime coroutine runtime).

``python -m kcoro_stream.sources.bench --ring PATH [--mode tasks ...]`` runs
the C benchmark in this process through the cffi module ``kcoro_stream._bench``;
the ingester launches it as a child this way. Flags are parsed once, by the C
side (``kcoro-bench --help``); a bad flag prints one line and exits 2. When the
launching monitor dies, the parent watch (``_child``) sends SIGTERM, which ends
the run cleanly (RunEnded "signal", ring closed).
"""

from __future__ import annotations

from .._bench import ffi, lib  # built by setup.py (cffi, kcoro_stream/_build_bench.py)
from ._child import run_c_main

PROGRAM = "kcoro-bench"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark with ``argv`` (default: ``sys.argv[1:]``); return its exit code."""
    return run_c_main(lib.kcs_bench_main, ffi, PROGRAM, argv)


if __name__ == "__main__":
    raise SystemExit(main())
