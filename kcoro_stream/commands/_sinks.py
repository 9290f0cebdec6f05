"""Which sinks a run gets: a pure function of the pipeline's sinks, the output flags and the terminal.

The policy (docs/commands.md, "Output options"): a file output (``--out``, ``-j PATH``,
``--csv PATH``) takes the place of stdout unless ``--stdout`` asks for both; ``-j -`` writes old
kcoro_mon lines to stdout instead of NDJSON, ``--csv -`` CSV rows; ``--prometheus``/``--websocket``/``--remote-write`` add their surfaces; stdout
becomes the terminal dashboard when it is a terminal (or with ``--tui``), never with ``--no-tui``
or ``-H``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import UsageError

__all__ = ["OutputFlags", "choose_sinks", "out_sink", "wants_tui"]


@dataclass(frozen=True)
class OutputFlags:
    """The output flags of ``run``, ``attach`` and ``replay`` (after the configuration filled them in)."""

    outs: tuple[str, ...] = ()
    sinks: tuple[Any, ...] = ()
    only_sinks: bool = False
    stdout: bool | None = None
    legacy_json: str | None = None
    csv: str | None = None
    prometheus: str | None = None
    websocket: str | None = None
    remote_write: tuple[str, ...] = ()
    allow_remote: bool = False
    allowed_hosts: tuple[str, ...] = ()
    tui: bool | None = None
    headless: bool = False

    @classmethod
    def from_kw(cls, kw: Mapping[str, Any]) -> OutputFlags:
        """From a command's keyword arguments (flags a command does not have keep their default)."""
        names = cls.__dataclass_fields__
        given: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list | tuple) else v
            for k, v in kw.items()
            if k in names and v is not None
        }
        return cls(**given)


def out_sink(path: str, legacy: bool = False) -> dict[str, Any]:
    """``--out PATH``: CSV or NDJSON by suffix (compression by the sink)."""
    kind = "csv" if path.endswith((".csv", ".csv.gz", ".csv.zst")) else "ndjson"
    spec: dict[str, Any] = {"sink": kind, "path": path}
    if legacy:
        spec["legacy"] = True
    return spec


def _surface_sinks(f: OutputFlags) -> list[Any]:
    from ..sinks._address import split_host_port

    extra: list[Any] = []
    for name, addr in (("prometheus", f.prometheus), ("websocket", f.websocket)):
        if addr:
            host, port = split_host_port(f"--{name}", addr, None)
            spec: dict[str, Any] = {"sink": name, "host": host}
            if port is not None:  # else the sink's default port
                spec["port"] = port
            if f.allow_remote:
                spec["allow_remote"] = True
            if f.allowed_hosts:
                spec["allowed_hosts"] = list(f.allowed_hosts)
            extra.append(spec)
    return extra


def _stdout_choice(
    specs: list[Any], tui: bool | None, stdout_is_tty: bool, tui_available: Callable[[], bool]
) -> list[Any]:
    """stdout sink: NDJSON when piped; the dashboard when a terminal (unless --no-tui)."""
    use_tui = tui if tui is not None else stdout_is_tty
    if not use_tui:
        return [s for s in specs if s != "tui"]
    if not tui_available():  # asked only now: it imports the surfaces
        if tui:
            raise UsageError("--tui: the terminal dashboard is not available in this build")
        return specs
    out = ["tui" if s == "stdout" else s for s in specs]
    return out if "tui" in out else [*out, "tui"]


def choose_sinks(
    file_sinks: Sequence[Any],
    f: OutputFlags,
    *,
    stdout_is_tty: bool,
    tui_available: Callable[[], bool] = lambda: True,
) -> list[Any]:
    """The sink specs of a run: the pipeline file's ``sinks`` and the output flags; ``tui_available``
    is asked only when the dashboard would be chosen."""
    specs: list[Any] = [] if f.only_sinks else list(file_sinks)
    legacy = f.legacy_json
    to_stdout = f.stdout
    if to_stdout is None:  # a file output replaces stdout unless --stdout asks for both
        to_stdout = not (f.outs or (legacy and legacy != "-") or (f.csv and f.csv != "-"))
    if not to_stdout:
        specs = [s for s in specs if s != "stdout"]
    elif f.stdout and "stdout" not in specs:
        specs.append("stdout")
    specs += [out_sink(o) for o in f.outs]
    specs += list(f.sinks)
    if legacy == "-":
        specs = [s for s in specs if s != "stdout"] + [{"sink": "stdout", "legacy": True}]
    elif legacy:
        specs.append(out_sink(legacy, legacy=True))
    if f.csv == "-":  # CSV on stdout takes stdout's place
        specs = [s for s in specs if s != "stdout"] + [{"sink": "csv", "path": "-"}]
    elif f.csv:
        specs.append({"sink": "csv", "path": f.csv})
    specs += _surface_sinks(f)
    specs += [{"sink": "remote_write", "url": url} for url in f.remote_write]
    return _stdout_choice(specs, False if f.headless else f.tui, stdout_is_tty, tui_available)


def wants_tui(specs: Sequence[Any]) -> bool:
    """Whether the run shows the terminal dashboard (it then hosts trio as a guest)."""
    return any(s == "tui" or (isinstance(s, dict) and s.get("sink") == "tui") for s in specs)
