"""``python -m kcoro_stream`` is the ``kcoro-stream`` command."""

from .cli import main

main()
