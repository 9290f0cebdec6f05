"""Build glue: the cffi API-mode extensions (see kcoro_stream/_build_*.py)."""

from setuptools import setup

setup(
    cffi_modules=[
        "kcoro_stream/_build_ring.py:ffibuilder",
        "kcoro_stream/_build_bench.py:ffibuilder",
    ],
)
