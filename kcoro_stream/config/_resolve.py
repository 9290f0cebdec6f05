"""One resolver: layers of values in, the effective configuration with origins out.

::

    defaults < $XDG_CONFIG_HOME/kcoro-stream/config.toml < ./kcoro-stream.toml
             (else [tool.kcoro-stream] in ./pyproject.toml) < --config PATH
             < what the pipeline file (or a manifest step) sets explicitly
             < KCORO_STREAM_<SECTION>_<KEY> < flags

Later layers win key by key; a list replaces the list of a lower layer. Every
value keeps its origin (``file:line``, ``env NAME``, ``flag --name``,
``pipeline FILE``, ``default``) for ``config show`` and for the record a run
writes into its log. Every error is one ``UsageError`` line naming the place
and the key, with "did you mean" when a known key is close.
"""

from __future__ import annotations

import json
import math
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import msgspec

from .._files import read_text
from ..errors import UsageError, did_you_mean, quote
from ._schema import SECTIONS, is_duration

__all__ = [
    "ENV_PREFIX",
    "Effective",
    "Layer",
    "Value",
    "check_nesting",
    "check_servers",
    "check_value",
    "defaults_layer",
    "env_layer",
    "file_layer",
    "parse_duration",
    "project_layer",
    "resolve",
    "standard_layers",
    "user_config_path",
]

ENV_PREFIX = "KCORO_STREAM_"
MAX_DEPTH = 32  # arrays and tables inside each other; the schema needs 3
PROJECT_FILE = "kcoro-stream.toml"
PYPROJECT_TABLE = ("tool", "kcoro-stream")


@dataclass(frozen=True)
class Value:
    """A value and where it came from."""

    value: Any
    origin: str


@dataclass
class Layer:
    """One source of values: ``{(section, key): Value}`` plus a name for messages."""

    name: str
    values: dict[tuple[str, str], Value] = field(default_factory=dict)


def parse_duration(value: Any) -> float:
    """3, 2.5, "3", "2.5s", "250ms", "2m", "1h" → seconds; ValueError says what is wrong."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 2s or 250ms, got {quote(value)}")
    if isinstance(value, int | float):
        try:
            out = float(value)
        except OverflowError:  # an integer of hundreds of digits
            out = math.inf
    elif isinstance(value, str):
        v = value.strip().lower()
        scale = 1.0
        for suffix, mul in (("ms", 1e-3), ("s", 1.0), ("m", 60.0), ("h", 3600.0)):
            if v.endswith(suffix):
                v, scale = v[: -len(suffix)], mul
                break
        try:
            out = float(v) * scale
        except ValueError:
            raise ValueError(f"bad duration {quote(value)} (examples: 3, 2.5s, 250ms, 1m)") from None
    else:
        raise ValueError(f"expected a duration such as 2s or 250ms, got {quote(value)}")
    if not math.isfinite(out) or out < 0 or out > 1e9:  # nan, 1e400: a duration, not any float
        raise ValueError(f"bad duration {quote(value)}: must be a finite time, not negative")
    return out


def _field_types(section: str) -> dict[str, Any]:
    return {f.name: f.type for f in msgspec.structs.fields(SECTIONS[section])}


def check_key(section: str, key: str, where: str) -> str:
    """The canonical key (dashes → underscores), or a UsageError naming ``where``."""
    if section not in SECTIONS:
        raise UsageError(f"{where}: unknown section [{section}]{did_you_mean(section, SECTIONS)}")
    k = key.replace("-", "_")
    types = _field_types(section)
    if k not in types:
        raise UsageError(f"{where}: unknown key {quote(key)} in [{section}]{did_you_mean(k, types)}")
    return k


def check_value(section: str, key: str, raw: Any, where: str, *, from_text: bool = False) -> Any:
    """Validate one value against its field's type; ``from_text``: an environment string."""
    tp = _field_types(section)[key]
    value = raw
    try:
        if is_duration(tp) and value is not None and not (from_text and value == ""):
            value = parse_duration(value)
        elif from_text:
            value = _from_text(value, tp, where)
        value = msgspec.convert(value, tp, strict=not from_text)
    except (ValueError, msgspec.ValidationError) as e:
        choices = _literal_choices(tp)
        if choices and isinstance(raw, str | int):
            hint = did_you_mean(str(raw), [str(c) for c in choices])
            listed = ", ".join(str(c) for c in choices)
            raise UsageError(
                f"{where}: {section}.{key}: expected one of {listed}, got {quote(raw)}{hint}"
            ) from None
        msg = str(e).replace("Expected", "expected")
        raise UsageError(f"{where}: {section}.{key}: {msg}, got {quote(raw)}") from None
    _check_run_value(section, key, value, where)
    return value


def _check_run_value(section: str, key: str, value: Any, where: str) -> None:
    """What ``run`` refuses in a value on its own, refused here (so ``config check`` does too):
    server addresses (port range), remote-write URLs, the bundled producers' ranges."""
    if section != "run" or value is None:
        return
    from ..sinks._address import check_http_url, split_host_port

    what = f"{where}: run.{key}"
    if key in ("prometheus", "websocket"):
        split_host_port(what, value, None)
    elif key == "remote_write":
        for url in value:
            check_http_url(what, url)
    elif key == "sink":
        from ..sinks import parse_spec

        for spec in value:
            try:
                parse_spec(spec)
            except UsageError as e:
                raise UsageError(f"{what}: {e}") from None
    elif key == "out":
        for out in value:
            parent = Path(out).parent
            if out != "-" and not parent.is_dir():
                raise UsageError(f"{what}: {quote(out)}: directory {parent} does not exist")
    elif key == "interval":
        from ..sources.launch import BENCH_INTERVAL_MS

        lo, hi = BENCH_INTERVAL_MS
        if not lo <= value * 1000 <= hi:
            raise UsageError(f"{what}: expected {lo:g}ms to {hi / 1000:g}s, got {value * 1000:g}ms")
    elif key == "duration":
        from ..sources.launch import MAX_BENCH_DURATION_S

        if value > MAX_BENCH_DURATION_S:
            raise UsageError(f"{what}: expected 0 to {MAX_BENCH_DURATION_S:g} s, got {value:g} s")


def check_servers(eff: Effective) -> None:
    """A non-loopback server address without ``allow_remote``: refused before the run starts,
    naming where the address was set (was a sink error at start-up, exit 1)."""
    from ..sinks._address import is_loopback, split_host_port

    if eff.get("run", "allow_remote"):
        return
    for key in ("prometheus", "websocket"):
        addr = eff.get("run", key)
        if not addr:
            continue
        host, port = split_host_port(f"run.{key}", addr, None)
        if not is_loopback(host):
            shown = f"[{host}]" if ":" in host else host
            raise UsageError(
                f"{eff.origin('run', key)}: run.{key}: {shown}:{port if port is not None else ''}: refusing "
                "to listen on a non-loopback address without allow_remote (--allow-remote)"
            )


def _literal_choices(tp: Any) -> list[Any]:
    if getattr(tp, "__origin__", None) is Literal:
        return list(tp.__args__)
    out: list[Any] = []
    for arg in getattr(tp, "__args__", ()) if getattr(tp, "__origin__", None) is not list else ():
        out += _literal_choices(arg)
    return out


def _from_text(text: str, tp: Any, where: str) -> Any:
    """An environment variable's text as the field wants it (lists: JSON or comma-separated).

    Scalars stay text: msgspec's non-strict conversion reads numbers and booleans from it.
    """
    if "list" in repr(tp):
        t = text.strip()
        if t.startswith("["):
            check_nesting(t, where, lines=False)
            try:
                return json.loads(t)
            except RecursionError as e:
                raise _parse_failure(e, t, where, lines=False) from None
            except ValueError as e:
                if isinstance(e, json.JSONDecodeError):
                    raise
                raise _parse_failure(e, t, where, lines=False) from None
        return [x.strip() for x in t.split(",") if x.strip()]
    if text.strip().lower() in ("none", "null") and "None" in repr(tp):
        return None
    return text


def defaults_layer() -> Layer:
    layer = Layer("default")
    for section, cls in SECTIONS.items():
        inst = cls()
        for f in msgspec.structs.fields(cls):
            layer.values[(section, f.name)] = Value(getattr(inst, f.name), "default")
    return layer


# ------------------------------------------------------------------ files

_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_KEY = re.compile(
    r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*="""
)


def _split_dotted(text: str) -> list[str]:
    parts = re.findall(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""", text)
    return [p.strip("\"'") for p in parts]


def _toml_lines(text: str) -> dict[tuple[str, ...], int]:
    """Line of every table header and key (full dotted path) in TOML text, first occurrence.

    tomllib keeps no positions, so the text is scanned: table headers and
    ``key =`` lines outside multi-line arrays and inline tables (whose keys
    are values, not configuration keys).
    """
    lines: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    depth = 0
    for n, line in enumerate(text.splitlines(), 1):
        if depth == 0:
            m = _HEADER.match(line)
            if m and not line.lstrip().startswith("[["):
                table = tuple(_split_dotted(m.group(1)))
                lines.setdefault(table, n)
                continue
            k = _KEY.match(line)
            if k:
                lines.setdefault(table + tuple(_split_dotted(k.group(1))), n)
                line = line[k.end() :]
        code = _STRINGS.sub("", line).split("#", 1)[0]
        depth = max(0, depth + code.count("[") + code.count("{") - code.count("]") - code.count("}"))
    return lines


_STRINGS = re.compile(r'"""[\s\S]*?"""|"(?:\\.|[^"\\])*"|\'[^\']*\'')
_NESTING = re.compile(r"[\[\]{}\n]")
_LONG_NUMBER = re.compile(r"[0-9_]{4301,}")


def check_nesting(text: str, label: str, *, lines: bool = True) -> None:
    """Refuse TOML or JSON text nested more than MAX_DEPTH deep, naming the line, before
    a parser recurses into it (RecursionError at 500 levels, a traceback)."""
    code = _STRINGS.sub(lambda m: "\n" * m.group().count("\n"), text)
    line, depth = 1, 0
    for m in _NESTING.finditer(code):
        c = m.group()
        if c == "\n":
            line += 1
        elif c in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                where = f"{label}:{line}" if lines else label
                raise UsageError(f"{where}: nested more than {MAX_DEPTH} deep")
        else:
            depth = max(0, depth - 1)


def _parse_failure(e: BaseException, text: str, label: str, *, lines: bool = True) -> UsageError:
    """A parser's RecursionError or digit-limit ValueError as one line naming the place."""
    m = _LONG_NUMBER.search(text)
    line = text.count("\n", 0, m.start()) + 1 if m else 1
    if isinstance(e, RecursionError):
        return UsageError(f"{label}{':1' if lines else ''}: nested more than {MAX_DEPTH} deep")
    return UsageError(f"{label}{f':{line}' if lines else ''}: a number of more than 4300 digits")


def load_text(text: str, label: str, *, is_json: bool) -> Any:
    """Parse configuration text (TOML, or JSON): bounded nesting and number sizes, one-line errors.

    Syntax errors are left to the caller (it names them with its own wording)."""
    check_nesting(text, label)
    try:
        if is_json:
            return json.loads(text, object_pairs_hook=_no_duplicates)
        return tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError, _Duplicate):
        raise
    except (RecursionError, ValueError) as e:  # ValueError: int() over 4300 digits
        raise _parse_failure(e, text, label) from None


def _json_lines(text: str, path: tuple[str, str]) -> int:
    m = re.search(rf'"{re.escape(path[0])}"\s*:', text)
    start = m.end() if m else 0
    k = re.search(rf'"{re.escape(path[1])}"\s*:', text[start:])
    pos = start + k.start() if k else start
    return text.count("\n", 0, pos) + 1


def file_layer(path: Path, *, table: tuple[str, ...] = (), name: str | None = None) -> Layer:
    """Values of a TOML (or, by suffix, JSON) file; ``table`` picks a sub-table (pyproject)."""
    label = name or str(path)
    text = read_text(path, label, "configuration file")
    is_json = path.suffix.lower() == ".json"
    data: Any
    if is_json:
        try:
            data = load_text(text, label, is_json=True)
        except json.JSONDecodeError as e:
            raise UsageError(f"{label}:{e.lineno}: JSON syntax error: {e.msg}") from None
        except _Duplicate as e:
            raise UsageError(f"{label}:{_json_key_line(text, str(e))}: duplicate key {str(e)!r}") from None
        where_line = {}
    else:
        try:
            data = load_text(text, label, is_json=False)
        except tomllib.TOMLDecodeError as e:
            m = re.search(r"\(at line (\d+), column (\d+)\)", str(e))
            line = int(m.group(1)) if m else 1
            msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(e))
            raise UsageError(f"{label}:{line}: TOML syntax error: {msg}") from None
        where_line = _toml_lines(text)
    for part in table:
        data = data.get(part, {}) if isinstance(data, dict) else {}
    if not isinstance(data, dict):
        raise UsageError(f"{label}: expected a table of sections ([run], [bench], ...)")

    def line_of(*keys: str) -> int:
        if is_json:
            return _json_lines(text, (keys[0], keys[-1]))
        return where_line.get(table + keys, where_line.get(table + keys[:1], 1))

    layer = Layer(label)
    for section, body in data.items():
        where = f"{label}:{line_of(section)}"
        if section not in SECTIONS:
            raise UsageError(f"{where}: unknown section [{section}]{did_you_mean(section, SECTIONS)}")
        if not isinstance(body, dict):
            raise UsageError(f"{where}: [{section}] must be a table of keys, got {quote(body)}")
        for key, raw in body.items():
            where = f"{label}:{line_of(section, key)}"
            k = check_key(section, key, where)
            layer.values[(section, k)] = Value(check_value(section, k, raw, where), where)
    return layer


class _Duplicate(Exception):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _Duplicate(k)
        out[k] = v
    return out


def _json_key_line(text: str, key: str) -> int:
    hits = [m.start() for m in re.finditer(rf'"{re.escape(key)}"\s*:', text)]
    pos = hits[1] if len(hits) > 1 else (hits[0] if hits else 0)
    return text.count("\n", 0, pos) + 1


def user_config_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", str(Path.home()))) / ".config")
    return Path(base) / "kcoro-stream" / "config.toml"


def project_layer(cwd: Path) -> Layer | None:
    """./kcoro-stream.toml, else [tool.kcoro-stream] of ./pyproject.toml (None if neither)."""
    own = cwd / PROJECT_FILE
    if own.is_file():
        return file_layer(own, name=PROJECT_FILE if cwd == Path() else str(own))
    py = cwd / "pyproject.toml"
    if py.is_file():
        try:
            data = tomllib.loads(py.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError):
            return None  # not ours to judge: pyproject.toml belongs to the project
        if isinstance(data.get("tool"), dict) and "kcoro-stream" in data["tool"]:
            return file_layer(py, table=PYPROJECT_TABLE, name="pyproject.toml" if cwd == Path() else str(py))
    return None


def env_layer(environ: Mapping[str, str] | None = None) -> Layer:
    """``KCORO_STREAM_<SECTION>_<KEY>`` variables (other KCORO_STREAM_* names are not ours)."""
    env = os.environ if environ is None else environ
    layer = Layer("environment")
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX) :].lower()
        for section in SECTIONS:
            if rest.startswith(section + "_"):
                key = rest[len(section) + 1 :]
                k = check_key(section, key, name)
                raw = env[name]
                if raw == "":
                    break  # set but empty: as if unset (the backpressure operator reads it so too)
                layer.values[(section, k)] = Value(
                    check_value(section, k, raw, name, from_text=True), f"env {name}"
                )
                break
    return layer


def standard_layers(
    config_path: Path | None = None,
    *,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
    files: bool = True,
) -> tuple[list[Layer], list[Layer]]:
    """(below-pipeline layers, above-pipeline layers): files then --config; env.

    ``files=False`` leaves out the defaults, user and project files (a replay
    puts the recording's configuration there instead).
    """
    low: list[Layer] = []
    if files:
        low.append(defaults_layer())
        user = user_config_path(environ)
        if user.is_file():
            low.append(file_layer(user))
        proj = project_layer(cwd or Path())
        if proj is not None:
            low.append(proj)
    if config_path is not None:
        low.append(file_layer(config_path))
    return low, [env_layer(environ)]


class Effective:
    """The effective configuration: every key of every section with its value and origin."""

    def __init__(self, values: dict[str, dict[str, Value]]) -> None:
        self.values = values

    def get(self, section: str, key: str) -> Any:
        return self.values[section][key].value

    def origin(self, section: str, key: str) -> str:
        return self.values[section][key].origin

    def section(self, name: str) -> Any:
        """The section as its typed Struct."""
        return msgspec.convert({k: v.value for k, v in self.values[name].items()}, SECTIONS[name])

    def is_set(self, section: str, key: str) -> bool:
        return self.values[section][key].origin != "default"

    def to_builtins(self, sections: Iterable[str] | None = None) -> dict[str, Any]:
        names = list(sections) if sections is not None else list(self.values)
        return {
            s: {k: {"value": v.value, "origin": v.origin} for k, v in self.values[s].items()} for s in names
        }

    @classmethod
    def from_builtins(cls, data: Mapping[str, Any], *, prefix: str = "") -> Layer:
        """A recorded configuration (``to_builtins``) as a layer; origins keep ``prefix``."""
        layer = Layer(prefix or "recorded")
        for section, body in data.items():
            if section not in SECTIONS or not isinstance(body, dict):
                continue
            types = _field_types(section)
            for key, item in body.items():
                if key not in types or not isinstance(item, dict):
                    continue
                try:
                    value = msgspec.convert(item.get("value"), types[key])
                except msgspec.ValidationError:
                    continue  # a value this version no longer accepts: the default stands
                layer.values[(section, key)] = Value(value, f"{prefix}{item.get('origin', '?')}")
        return layer


def resolve(layers: Iterable[Layer]) -> Effective:
    """Apply ``layers`` in order (later wins, lists replace) over the built-in defaults."""
    values: dict[str, dict[str, Value]] = {}
    for (section, key), v in defaults_layer().values.items():
        values.setdefault(section, {})[key] = v
    for layer in layers:
        for (section, key), v in layer.values.items():
            values[section][key] = v
    return Effective(values)
