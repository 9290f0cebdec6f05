"""cffi API-mode build of the ring reader (native/reader) and the scripted test producer.

The cdef is read from native/reader/kcs_reader.h, the one header Python calls
through; in API mode the C compiler checks every declared struct field and
signature against the real definitions, so Python never mirrors the layout.
"""

from __future__ import annotations

import re
from pathlib import Path

from cffi import FFI

ROOT = Path(__file__).resolve().parent.parent
NATIVE = ROOT / "native"


def _cdef_from_header(path: Path) -> str:
    text = path.read_text()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    return "\n".join(lines)


ffibuilder = FFI()
ffibuilder.cdef(_cdef_from_header(NATIVE / "reader" / "kcs_reader.h"))
ffibuilder.set_source(
    "kcoro_stream._native",
    '#include "kcs_reader.h"\n',
    sources=[
        str((NATIVE / "reader" / "kcs_reader.c").relative_to(ROOT)),
        str((NATIVE / "testprod" / "synthetic_producer.c").relative_to(ROOT)),
    ],
    include_dirs=[str(NATIVE / "include"), str(NATIVE / "reader")],
    extra_compile_args=["-std=c11", "-O2", "-Wall", "-Wextra", "-D_GNU_SOURCE"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
