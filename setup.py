"""Build glue: the cffi API-mode extensions (see kcoro_stream/_build_*.py), and the
top-level folders shipped inside the package (see kcoro_stream/_shipped.py)."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

# Top-level folders a built package carries under kcoro_stream/_shipped/<name>/ so an
# installed kcoro-stream finds them from any directory (`kcoro-stream run latency`).
# Keep in step with SHIPPED_KINDS in kcoro_stream/_shipped.py.
SHIPPED = ("pipelines", "profiles")


def _shipped_files() -> list[Path]:
    files: list[Path] = []
    for top in SHIPPED:
        if Path(top).is_dir():
            files += [
                p
                for p in sorted(Path(top).rglob("*"))
                if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
            ]
    return files


class BuildPyWithShipped(build_py):
    """build_py, plus a copy of the shipped folders inside the package."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the checkout's folders directly
        for f in _shipped_files():
            dest = Path(self.build_lib, "kcoro_stream", "_shipped", f)
            self.mkpath(str(dest.parent))
            self.copy_file(str(f), str(dest))

    def get_source_files(self) -> list[str]:
        # the sdist carries them too (no MANIFEST.in line per folder, no warning for one not there yet)
        return [*super().get_source_files(), *map(str, _shipped_files())]


setup(
    cmdclass={"build_py": BuildPyWithShipped},
    cffi_modules=[
        "kcoro_stream/_build_ring.py:ffibuilder",
        "kcoro_stream/_build_bench.py:ffibuilder",
    ],
)
