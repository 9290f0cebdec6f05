"""cffi API-mode build of the native benchmark: module ``kcoro_stream._bench``.

It compiles the reference runtime (native/runtime) and the benchmark
(native/bench) into one extension that exports the benchmark's entry point,
so ``python -m kcoro_stream.sources.bench`` runs the same code as the
standalone ``native/build/kcoro_bench``. The build fingerprint that RunStarted
carries (flags, git describe) is fixed here, at build time.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from cffi import FFI

ROOT = Path(__file__).resolve().parent.parent
NATIVE = ROOT / "native"

CDEF = """
int kcs_bench_main(int argc, char **argv);
double kcs_bench_switch_ns(uint64_t iterations, int use_ucontext);
"""

FLAGS = ["-std=c11", "-O2", "-Wall", "-Wextra", "-D_GNU_SOURCE"]


def _git_describe() -> str:
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def _c_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


SOURCES = [
    "native/runtime/ctx.c",
    "native/runtime/clock.c",
    "native/runtime/stack.c",
    "native/runtime/sched.c",
    "native/runtime/wait.c",
    "native/runtime/stats.c",
    "native/runtime/chan.c",
    "native/runtime/view.c",
    "native/bench/cli.c",
    "native/bench/workload.c",
    "native/bench/sampler.c",
    "native/bench/coroview.c",
    "native/bench/perf.c",
    "native/bench/bench_main.c",
    "native/bench/knobs.c",
]

ffibuilder = FFI()
ffibuilder.cdef(CDEF)
ffibuilder.set_source(
    "kcoro_stream._bench",
    '#include "bench.h"\n',
    sources=SOURCES,
    include_dirs=[str(NATIVE / "include"), str(NATIVE / "runtime"), str(NATIVE / "bench")],
    define_macros=[
        ("KCS_BUILD_FLAGS", _c_string(" ".join(FLAGS) + " (cffi)")),
        ("KCS_GIT_DESCRIBE", _c_string(_git_describe())),
    ],
    extra_compile_args=FLAGS,
    libraries=["pthread", "m"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
