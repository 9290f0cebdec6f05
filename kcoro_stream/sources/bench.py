"""The bundled benchmark (native/bench on the native/runtime coroutine runtime).

``python -m kcoro_stream.sources.bench --ring PATH [--mode tasks ...]`` runs
the C benchmark in this process through the cffi module ``kcoro_stream._bench``;
the ingester launches it as a child this way. Flags are parsed once, by the C
side (``kcoro-bench --help``); a bad flag prints one line and exits 2.
"""

from __future__ import annotations

import sys

from .._bench import ffi, lib  # type: ignore[import-not-found]  # built by setup.py (cffi)

PROGRAM = "kcoro-bench"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark with ``argv`` (default: ``sys.argv[1:]``); return its exit code."""
    args = [PROGRAM.encode(), *(a.encode() for a in (sys.argv[1:] if argv is None else argv))]
    keep = [ffi.new("char[]", a) for a in args]
    c_argv = ffi.new("char *[]", [*keep, ffi.NULL])
    sys.stdout.flush()
    return int(lib.kcs_bench_main(len(args), c_argv))


if __name__ == "__main__":
    raise SystemExit(main())
