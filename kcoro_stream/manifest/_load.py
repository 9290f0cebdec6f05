"""Reading a run-profile manifest (YAML) and expanding it into planned runs.

::

    manifest: ci                    # a name (optional; default: the file's stem)
    on_error: continue              # or stop: what follows a failed run
    defaults: {duration: 2s, repeats: 5}   # or repeats: auto (an A/B: pairs until decided),
                                           # with max_repeats: 30 and a time budget: 3m per step
    steps:
      - name: tasks
        mode: tasks
        warmup: 500ms               # left out of each run's summary
        bench: {batch: 16}          # the keys of [bench]
        matrix: {workers: [1, 2], batch: [1, 64]}     # cross product ...
        exclude: [{workers: 1, batch: 64}]            # ... minus these
        outputs: [derived.ndjson]   # written in each run's directory
        pipeline: pipelines/latency.py
    variants:                       # optional: A/B runs, repeats interleaved (A B, B A, A B ...)
      base: {}                      # the step as written
      cand: {bench: {body_cost: 8}} # knob sets over the step's, or
      other: {exec: [./other-bench, --ring, "{ring}"]}   # another build's producer, or
      main: {python: ../main/.venv/bin/python}     # the bundled benchmark of another install

A step takes what it does not set from ``defaults:``, then from the
configuration (files, --config); the environment and flags still win, as for
a pipeline file. Every error is one line ``file:line: ...`` (YAML syntax,
duplicate keys, unknown keys with "did you mean", wrong types, an empty
matrix, an unknown mode), found before anything runs.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from .._files import read_text
from ..config import Effective, Layer, Value, check_value, parse_duration, resolve, standard_layers
from ..config._resolve import check_key
from ..config._schema import BenchSection
from ..errors import KcoroStreamError, UsageError, did_you_mean, quote

__all__ = ["AutoRepeats", "Manifest", "PlannedRun", "load_manifest", "plan_text"]

STEP_KEYS = (
    "name", "mode", "duration", "warmup", "repeats", "max_repeats", "budget", "interval", "pipeline",
    "outputs", "bench",
)  # fmt: skip
TOP_KEYS = ("manifest", "on_error", "defaults", "steps", "variants")
VARIANT_KEYS = ("bench", "exec", "python")
BENCH_KEYS = tuple(f.name for f in msgspec.structs.fields(BenchSection))
MATRIX_STEP_KEYS = ("mode", "duration", "warmup", "interval")
# step key → configuration key
STEP_CONFIG = {
    "mode": ("run", "mode"),
    "duration": ("run", "duration"),
    "interval": ("run", "interval"),
    "warmup": ("summary", "warmup"),
}
OUTPUT_SUFFIX = re.compile(r"\.(ndjson|csv)(\.gz|\.zst)?$")
MAX_REPEATS = 10_000
MAX_DEPTH = 100  # nesting of a manifest's flow collections; a real one has 3 or 4
MAX_PLANNED_RUNS = 10_000  # a manifest's runs in all: beyond, planning alone takes minutes
AUTO_MAX_REPEATS = 30  # repeats: auto without max_repeats


@dataclass(frozen=True)
class AutoRepeats:
    """``repeats: auto``: interleaved pairs until every gated metric is decided (compare/_sequential.py)."""

    max_repeats: int
    budget_s: float | None  # wall time for the step's runs (None: max_repeats decides)


@dataclass
class PlannedRun:
    """One run of the expanded manifest."""

    step: str
    params: dict[str, Any]
    repeat: int  # 1-based
    repeats: int
    config: Effective
    pipeline: str | None
    outputs: list[str]
    slug: str  # the run's directory name under --out-dir
    variant: str = ""  # the A/B variant ("" when the manifest names none)
    command: list[str] | None = None  # the variant's own producer (exec:)
    python: str | None = None  # the interpreter (another install) that runs the bundled benchmark
    auto: AutoRepeats | None = None  # repeats: auto (``repeats`` is then max_repeats)
    gated: int = 1  # the step's gated metrics (compare._results.gated_metric: 2 in dual mode)

    @property
    def key(self) -> tuple[str, str, int, str]:
        return (self.step, json.dumps(self.params, sort_keys=True), self.repeat, self.variant)


@dataclass
class Manifest:
    path: Path
    name: str
    on_error: str
    sha256: str
    runs: list[PlannedRun] = field(default_factory=list)

    @property
    def sequential(self) -> bool:
        """Some step has ``repeats: auto``: verdicts follow the alpha-spending plan (compare/_sequential.py)."""
        return any(r.auto is not None for r in self.runs)

    @property
    def gated_metrics(self) -> int:
        """Gated metrics over the whole manifest: per step and matrix combination, per compared variant."""
        seen = {(r.step, json.dumps(r.params, sort_keys=True)): r.gated for r in self.runs}
        variants = len({r.variant for r in self.runs})
        return sum(seen.values()) * max(1, variants - 1)


def _pos(node: Any, key: Any = None, index: int | None = None) -> int:
    """1-based line of a mapping key / sequence item / node (ruamel keeps 0-based positions)."""
    lc = getattr(node, "lc", None)
    try:
        if lc is not None and key is not None:
            return int(lc.key(key)[0]) + 1
        if lc is not None and index is not None:
            return int(lc.item(index)[0]) + 1
        if lc is not None:
            return int(lc.line) + 1
    except (KeyError, IndexError, TypeError, AttributeError):
        pass
    return 1


def _parse_yaml(path: Path) -> tuple[Any, str]:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    text = read_text(path, str(path), "manifest")
    if _flow_depth(text) > MAX_DEPTH:  # the pure-Python parser takes seconds to find out by recursing
        raise UsageError(f"{path}: YAML: nested too deeply (over {MAX_DEPTH} levels)")
    yaml = YAML(typ="rt", pure=True)  # round-trip nodes keep line/column; builds no Python objects
    yaml.allow_duplicate_keys = False
    try:
        return yaml.load(text), text
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else 1
        col = mark.column + 1 if mark is not None else 1
        what = (e.problem or e.context or "syntax error").strip()
        if "duplicate key" in what:
            what = f"duplicate key {what.split('duplicate key', 1)[1].strip()}"
        raise UsageError(f"{path}:{line}:{col}: YAML: {what}") from None
    except YAMLError as e:
        raise UsageError(f"{path}: YAML: {quote(str(e).splitlines()[0], 200)}") from None
    except RecursionError:
        raise UsageError(f"{path}: YAML: nested too deeply") from None


_FLOW = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"\\]|\\.)*\"|#[^\n]*|[\[\]{}]")


def _flow_depth(text: str) -> int:
    """The deepest nesting of [ ] and { } in ``text``, outside quoted strings and comments."""
    depth = top = 0
    for m in _FLOW.finditer(text):
        c = m.group()
        if c in "[{":
            depth += 1
            top = max(top, depth)
        elif c in "]}":
            depth -= 1
    return top


def _mapping(node: Any, where: str, what: str) -> dict[str, Any]:
    if not isinstance(node, dict):
        raise UsageError(f"{where}: {what} must be a mapping, got {type(node).__name__}")
    return node


def load_manifest(path: Path, config_path: Path | None = None) -> Manifest:
    """Parse, validate and expand ``path``; every planned run's configuration is resolved and checked."""
    data, text = _parse_yaml(path)
    top = _mapping(data, f"{path}:1", "a manifest")
    for k in top:
        if k not in TOP_KEYS:
            raise UsageError(f"{path}:{_pos(top, k)}: unknown key {quote(k)}{did_you_mean(k, TOP_KEYS)}")
    name = top.get("manifest", path.stem)
    if not isinstance(name, str) or not name:
        raise UsageError(f"{path}:{_pos(top, 'manifest')}: manifest: expected a name, got {quote(name)}")
    on_error = top.get("on_error", "continue")
    if on_error not in ("stop", "continue"):
        raise UsageError(
            f"{path}:{_pos(top, 'on_error')}: on_error: expected stop or continue, got {quote(on_error)}"
            f"{did_you_mean(on_error, ('stop', 'continue'))}"
        )
    defaults = top.get("defaults") or {}
    _mapping(defaults, f"{path}:{_pos(top, 'defaults')}", "defaults")
    steps = top.get("steps")
    if not isinstance(steps, list) or not steps:
        raise UsageError(
            f"{path}:{_pos(top, 'steps') if 'steps' in top else 1}: steps: expected a non-empty list"
        )
    low, high = standard_layers(config_path)
    variants = _variants(path, top)
    m = Manifest(path, name, str(on_error), hashlib.sha256(text.encode()).hexdigest())
    seen: set[str] = set()
    for i, step in enumerate(steps):
        where = f"{path}:{_pos(steps, index=i)}"
        _mapping(step, where, f"step #{i + 1}")
        for k in step:
            if k not in (*STEP_KEYS, "matrix", "exclude"):
                raise UsageError(
                    f"{path}:{_pos(step, k)}: unknown key {quote(k)} in step{did_you_mean(k, (*STEP_KEYS, 'matrix', 'exclude'))}"
                )
        sname = step.get("name", f"step{i + 1}")
        if not isinstance(sname, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", sname):
            raise UsageError(
                f"{path}:{_pos(step, 'name')}: name: expected a word (letters, digits, - _ .), got {quote(sname)}"
            )
        if sname in seen:
            raise UsageError(f"{path}:{_pos(step, 'name')}: step {quote(sname)} defined twice")
        seen.add(sname)
        m.runs += _expand(path, defaults, step, sname, low, high, variants)
        if len(m.runs) > MAX_PLANNED_RUNS:
            raise UsageError(f"{where}: step {sname}: the manifest plans more than {MAX_PLANNED_RUNS} runs")
    if len(variants) < 2 and m.sequential:
        _solo(m)
    _injective_slugs(path, m.runs)
    return m


def _solo(m: Manifest) -> None:
    """``repeats: auto`` without an A/B: nothing to decide while running, so as many repeats as an exact
    comparison with a baseline needs to reach the run's level (α over every gated metric: 7 for 5)."""
    from ..compare._exact import min_p_unpaired
    from ..compare._stats import ALPHA

    k = m.gated_metrics
    n = next(n for n in range(2, MAX_REPEATS) if min_p_unpaired(n, n) < ALPHA / k)
    kept = []
    for r in m.runs:
        if r.auto is None:
            kept.append(r)
        elif r.repeat <= n:
            r.repeats, r.auto = n, None
            kept.append(r)
    m.runs = kept


Variant = tuple[str, Layer, "list[str] | None", "str | None"]


def _variants(path: Path, top: dict[str, Any]) -> list[Variant]:
    """``variants:`` → [(name, its [bench] layer, its exec command)]; [("", empty, None)] when absent."""
    if "variants" not in top:
        return [("", Layer("variant"), None, None)]
    where = f"{path}:{_pos(top, 'variants')}"
    body = _mapping(top["variants"], where, "variants")
    if len(body) < 2:
        raise UsageError(f"{where}: variants: name at least two (e.g. base: {{}} and cand: {{...}})")
    out: list[Variant] = []
    for name, spec in body.items():
        vwhere = f"{path}:{_pos(body, name)}"
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
            raise UsageError(f"{vwhere}: variants: expected a word as the name, got {quote(name)}")
        spec = _mapping(spec if spec is not None else {}, vwhere, f"variant {name}")
        layer = Layer("variant")
        command: list[str] | None = None
        python: str | None = None
        for k, v in spec.items():
            kwhere = f"{path}:{_pos(spec, k)}"
            if k == "bench":
                knobs = _mapping(v, kwhere, "bench")
                for bk, bv in knobs.items():
                    bwhere = f"{path}:{_pos(knobs, bk)}"
                    key = check_key("bench", str(bk), bwhere)
                    layer.values[("bench", key)] = Value(
                        check_value("bench", key, bv, bwhere), f"manifest variant {name} {bwhere}"
                    )
            elif k == "exec":
                if not isinstance(v, list) or not v or not all(isinstance(x, str) and x for x in v):
                    raise UsageError(
                        f"{kwhere}: exec: expected a non-empty list of strings (a command), got {quote(v)}"
                    )
                command = list(v)
            elif k == "python":
                if not isinstance(v, str) or not Path(v).is_file():
                    raise UsageError(f"{kwhere}: python: expected the path of an interpreter, got {quote(v)}")
                python = v
            else:
                raise UsageError(
                    f"{kwhere}: unknown key {quote(k)} in variant {name}{did_you_mean(k, VARIANT_KEYS)}"
                )
        if command is not None and python is not None:
            raise UsageError(f"{vwhere}: variant {name}: exec and python exclude each other")
        out.append((name, layer, command, python))
    return out


def _settings(path: Path, node: dict[str, Any], *, is_defaults: bool) -> tuple[Layer, dict[str, Any]]:
    """A step's (or defaults') configuration layer and its own keys (repeats, pipeline, outputs)."""
    layer = Layer("manifest")
    own: dict[str, Any] = {}
    for k, v in node.items():
        if k in ("name", "matrix", "exclude") and not is_defaults:
            continue  # the step's own structure, read by _expand
        where = f"{path}:{_pos(node, k)}"
        if is_defaults and k not in STEP_KEYS[1:]:
            raise UsageError(f"{where}: unknown key {quote(k)} in defaults{did_you_mean(k, STEP_KEYS[1:])}")
        if k in STEP_CONFIG:
            sec, key = STEP_CONFIG[k]
            layer.values[(sec, key)] = Value(check_value(sec, key, v, f"{where}: {k}"), f"manifest {where}")
        elif k == "bench":
            body = _mapping(v, where, "bench")
            for bk, bv in body.items():
                bwhere = f"{path}:{_pos(body, bk)}"
                key = check_key("bench", str(bk), bwhere)
                layer.values[("bench", key)] = Value(
                    check_value("bench", key, bv, bwhere), f"manifest {bwhere}"
                )
        elif k == "repeats":
            if v != "auto" and (isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= MAX_REPEATS):
                raise UsageError(
                    f"{where}: repeats: expected auto or an integer in [1, {MAX_REPEATS}], got {quote(v)}"
                )
            own[k] = v
        elif k == "max_repeats":
            if isinstance(v, bool) or not isinstance(v, int) or not 2 <= v <= MAX_REPEATS:
                raise UsageError(
                    f"{where}: max_repeats: expected an integer in [2, {MAX_REPEATS}], got {quote(v)}"
                )
            own[k] = (v, where)
        elif k == "budget":
            try:
                budget = parse_duration(v)
            except ValueError as e:
                raise UsageError(f"{where}: budget: {e}") from None
            if budget <= 0:
                raise UsageError(f"{where}: budget: expected a time above 0 (e.g. 3m), got {quote(v)}")
            own[k] = (budget, where)
        elif k == "pipeline":
            if not isinstance(v, str) or not v:
                raise UsageError(f"{where}: pipeline: expected a path, got {quote(v)}")
            if not Path(v).is_file():
                raise UsageError(f"{where}: pipeline: {v}: no such file")
            own[k] = (v, where)
        elif k == "outputs":
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                raise UsageError(f"{where}: outputs: expected a list of file names, got {quote(v)}")
            for x in v:
                if "/" in x or x.startswith(".") or not OUTPUT_SUFFIX.search(x):
                    raise UsageError(
                        f"{where}: outputs: {quote(x)}: a file name in the run's directory ending in "
                        ".ndjson or .csv (+ .gz/.zst)"
                    )
                if v.count(x) > 1:  # two sinks on one file: every run would fail at its start
                    raise UsageError(f"{where}: outputs: {quote(x)} listed twice")
            own[k] = list(v)
    return layer, own


def _expand(
    path: Path,
    defaults: dict[str, Any],
    step: dict[str, Any],
    name: str,
    low: list[Layer],
    high: list[Layer],
    variants: list[Variant],
) -> list[PlannedRun]:
    dlayer, down = _settings(path, defaults, is_defaults=True)
    slayer, sown = _settings(path, step, is_defaults=False)
    own = {**down, **sown}
    combos = [({}, f"{path}:{_pos(step)}")] if "matrix" not in step else _matrix(path, step)
    runs: list[PlannedRun] = []
    pipeline = own.get("pipeline")
    if pipeline is not None:
        from ..pipeline import load_pipeline

        try:
            load_pipeline(Path(pipeline[0]))
        except KcoroStreamError as e:
            raise UsageError(f"{pipeline[1]}: pipeline: {e}") from None
    planned: dict[str, dict[str, Any]] = {}  # the checked values of each combination → its raw params
    for params, pwhere in combos:
        play = Layer("matrix")
        for k, v in params.items():
            if k in STEP_CONFIG:
                sec, key = STEP_CONFIG[k]
            else:
                sec, key = "bench", k
            play.values[(sec, key)] = Value(
                check_value(sec, key, v, f"{pwhere}: matrix {k}"), f"manifest {pwhere}"
            )
        same = json.dumps(
            {f"{s}.{k}": v.value for (s, k), v in play.values.items()}, sort_keys=True, default=str
        )
        if same in planned:
            raise UsageError(
                f"{pwhere}: matrix: step {quote(name)} plans identical runs ({_params_text(planned[same])} and "
                f"{_params_text(params)}): give each value once"
            )
        planned[same] = params
        effs = {
            vname: resolve([*low, dlayer, slayer, play, vlayer, *high]) for vname, vlayer, _, _ in variants
        }
        eff = next(iter(effs.values()))
        where = f"{path}:{_pos(step)}"
        if eff.get("run", "duration") in (None, 0):
            raise UsageError(
                f"{where}: step {quote(name)}: no duration (set duration: in the step, defaults: or [run])"
            )
        from ..config import build_analyses

        build_analyses(eff)  # rules and KPIs checked now, not mid-manifest
        auto = _auto(own, name)
        repeats = auto.max_repeats if auto is not None else int(own.get("repeats", 1))
        gated = 2 if eff.get("run", "mode") == "dual" else 1
        if len(runs) + repeats * len(variants) > MAX_PLANNED_RUNS:
            raise UsageError(
                f"{where}: step {quote(name)}: more than {MAX_PLANNED_RUNS} planned runs "
                f"({len(combos)} combination(s) x {repeats} repeat(s) x {len(variants)} variant(s))"
            )
        slug_params = "-".join(f"{k}{_slug(v)}" for k, v in params.items())
        for r in range(1, repeats + 1):
            # Interleaved, and each repeat starts one variant later (A B C, B C A, C A B, ...): drifting
            # load hits every variant, and no variant always follows the same one (a run's after-effects
            # on the next, e.g. a spinning variant before the baseline, would otherwise bias every pair).
            turn = (r - 1) % len(variants)
            for (
                vname,
                _layer,
                command,
                python,
            ) in [*variants[turn:], *variants[:turn]]:
                slug = f"{name}{'-' + slug_params if slug_params else ''}{'-' + vname if vname else ''}-r{r}"
                runs.append(
                    PlannedRun(
                        step=name,
                        params=dict(params),
                        repeat=r,
                        repeats=repeats,
                        config=effs[vname],
                        pipeline=pipeline[0] if pipeline else None,
                        outputs=own.get("outputs", ["derived.ndjson"]),
                        slug=slug,
                        variant=vname,
                        command=command,
                        python=python,
                        auto=auto,
                        gated=gated,
                    )
                )
    return runs


def _auto(own: dict[str, Any], name: str) -> AutoRepeats | None:
    """The step's ``repeats: auto`` settings (max_repeats and budget only go with it). Without
    ``variants:`` there is nothing to decide: repeats until max_repeats or the budget."""
    if own.get("repeats") != "auto":
        for k in ("max_repeats", "budget"):
            if k in own:
                raise UsageError(f"{own[k][1]}: {k}: goes with repeats: auto (step {quote(name)})")
        return None
    max_repeats = own["max_repeats"][0] if "max_repeats" in own else AUTO_MAX_REPEATS
    return AutoRepeats(max_repeats, own["budget"][0] if "budget" in own else None)


def _params_text(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={quote(v)}" for k, v in params.items())


def _injective_slugs(path: Path, runs: list[PlannedRun]) -> None:
    """Give every run its own directory name, also where the file system ignores letter case.

    A name no other run shares stays as planned (results directories of
    earlier versions keep matching); runs whose names collide — step
    ``a-seed1`` beside step ``a`` with ``seed: 1``, steps ``B`` and ``b`` — each
    get a short hash of what they are (step, params, repeat, variant) before
    ``-r<N>``, the same on every plan.
    """
    by_name: dict[str, list[PlannedRun]] = {}
    for r in runs:
        by_name.setdefault(r.slug.casefold(), []).append(r)
    for group in by_name.values():
        if len(group) > 1:
            for r in group:
                digest = hashlib.sha256(json.dumps(r.key).encode()).hexdigest()[:8]
                head, _, rep = r.slug.rpartition("-")
                r.slug = f"{head}-{digest}-{rep}"
    seen: dict[str, PlannedRun] = {}
    for r in runs:
        other = seen.setdefault(r.slug.casefold(), r)
        if other is not r:  # a hash that matches another run's plain name: rename a step
            raise UsageError(
                f"{path}: runs of steps {quote(other.step)} and {quote(r.step)} would share the directory {r.slug}"
            )


def _slug(v: Any) -> str:
    return re.sub(r"[^A-Za-z0-9_.]+", "_", str(v).lower())


def _matrix(path: Path, step: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    matrix = step["matrix"]
    where = f"{path}:{_pos(step, 'matrix')}"
    _mapping(matrix, where, "matrix")
    if not matrix:
        raise UsageError(f"{where}: matrix: empty (give at least one key with a list of values)")
    allowed = (*MATRIX_STEP_KEYS, *BENCH_KEYS)
    keys: list[str] = []
    raw_keys: list[Any] = []
    for k, values in matrix.items():
        kwhere = f"{path}:{_pos(matrix, k)}"
        if not isinstance(k, str):
            raise UsageError(f"{kwhere}: matrix: expected a knob's name as the key, got {quote(k)}")
        key = k.removeprefix("bench.").replace("-", "_")
        if key not in allowed:
            raise UsageError(f"{kwhere}: matrix: unknown key {quote(k)}{did_you_mean(key, allowed)}")
        if not isinstance(values, list) or not values:
            raise UsageError(
                f"{kwhere}: matrix: {k}: expected a non-empty list of values, got {quote(values)}"
            )
        if key in keys:
            raise UsageError(
                f"{kwhere}: matrix: {quote(k)} names the same knob as {quote(raw_keys[keys.index(key)])}"
            )
        keys.append(key)
        raw_keys.append(k)
    size = math.prod(len(matrix[k]) for k in raw_keys)
    if size > MAX_PLANNED_RUNS:
        raise UsageError(
            f"{where}: matrix: {size} combinations; a manifest plans at most {MAX_PLANNED_RUNS} runs"
        )
    combos = [
        dict(zip(keys, vals, strict=True)) for vals in itertools.product(*(matrix[k] for k in raw_keys))
    ]
    excludes = step.get("exclude") or []
    if not isinstance(excludes, list):
        raise UsageError(f"{path}:{_pos(step, 'exclude')}: exclude: expected a list of mappings")
    for j, ex in enumerate(excludes):
        ewhere = f"{path}:{_pos(excludes, index=j)}"
        _mapping(ex, ewhere, "exclude item")
        norm = {str(k).removeprefix("bench.").replace("-", "_"): v for k, v in ex.items()}
        for k in norm:
            if k not in keys:
                raise UsageError(f"{ewhere}: exclude: {quote(k)} is not a matrix key{did_you_mean(k, keys)}")
        combos = [c for c in combos if not all(c[k] == v for k, v in norm.items())]
    if not combos:
        raise UsageError(f"{where}: matrix: every combination is excluded")
    return [(c, where) for c in combos]


def plan_text(m: Manifest) -> str:
    """The expanded runs, one line each."""
    lines = [f"manifest {m.name} ({m.path}): {len(m.runs)} run(s), on_error={m.on_error}"]
    autos = {r.step: r.auto for r in m.runs if r.auto is not None}  # (an A/B: up to so many runs)
    for step, auto in autos.items():
        budget = f", budget {auto.budget_s:g}s" if auto.budget_s is not None else ""
        lines.append(f"      {step}: repeats: auto (pairs until decided, at most {auto.max_repeats}{budget})")
    for i, r in enumerate(m.runs, 1):
        eff = r.config
        bench = " ".join(
            f"{k}={v.value}"
            for k, v in eff.values["bench"].items()
            if v.origin != "default" and v.value is not None
        )
        warm = eff.get("summary", "warmup")
        lines.append(
            f"{i:>4}  {r.slug:<32} mode={eff.get('run', 'mode')} duration={eff.get('run', 'duration'):g}s"
            + (f" warmup={warm:g}s" if warm else "")
            + (f" {bench}" if bench else "")
            + (f" pipeline={r.pipeline}" if r.pipeline else "")
            + (f" exec={' '.join(r.command)}" if r.command else "")
            + (f" python={r.python}" if r.python else "")
        )
    return "\n".join(lines)
