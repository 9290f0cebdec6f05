"""The benchmark's knobs have one home (kcoro_stream/knobs.py): the run options, the [bench]
configuration section and the launch checks are built from it; what cannot be built is checked."""

from __future__ import annotations

import msgspec

from kcoro_stream.commands._options import BENCH_FLAG_OPTIONS, BENCH_INT_OPTIONS
from kcoro_stream.config._schema import BenchSection, RunSection
from kcoro_stream.knobs import FLAG_KNOBS, INT_KNOBS, MAX_WORKERS, MODES
from kcoro_stream.sources.launch import BENCH_MAX_WORKERS, BENCH_MODES


def _bench_fields() -> dict[str, msgspec.inspect.Type]:
    info = msgspec.inspect.type_info(BenchSection)
    assert isinstance(info, msgspec.inspect.StructType)
    return {f.name: f.type for f in info.fields}


def _not_none(t: msgspec.inspect.Type) -> msgspec.inspect.Type:
    if isinstance(t, msgspec.inspect.UnionType):
        (t,) = [x for x in t.types if not isinstance(x, msgspec.inspect.NoneType)]
    return t


def test_the_config_section_takes_every_knob_with_the_tables_range() -> None:
    fields = _bench_fields()
    for k in INT_KNOBS:
        t = _not_none(fields[k.name])
        if k.power_of_two:  # a Literal of the powers of two in range
            assert isinstance(t, msgspec.inspect.LiteralType), k.name
            assert set(t.values) == {1 << n for n in range(64) if k.lo <= 1 << n <= k.hi}, k.name
        else:
            assert isinstance(t, msgspec.inspect.IntType), k.name
            assert (t.ge, t.le) == (k.lo, k.hi), k.name
    for flag, _ in FLAG_KNOBS:
        assert isinstance(fields[flag[2:].replace("-", "_")], msgspec.inspect.BoolType), flag
    workers = _not_none(fields["workers"])
    assert isinstance(workers, msgspec.inspect.IntType) and workers.le == MAX_WORKERS
    mode = msgspec.inspect.type_info(RunSection)
    assert isinstance(mode, msgspec.inspect.StructType)
    (mode_type,) = [f.type for f in mode.fields if f.name == "mode"]
    assert isinstance(mode_type, msgspec.inspect.LiteralType) and set(mode_type.values) == set(MODES)


def test_the_run_options_and_the_launch_checks_are_the_table() -> None:
    assert [(flags, (t.lo, t.hi, t.power_of_two)) for flags, t, _ in BENCH_INT_OPTIONS] == [
        (k.flags, (k.lo, k.hi, k.power_of_two)) for k in INT_KNOBS
    ]
    assert BENCH_FLAG_OPTIONS == FLAG_KNOBS
    assert (BENCH_MODES, BENCH_MAX_WORKERS) == (MODES, MAX_WORKERS)


def test_the_run_sections_keys_are_run_options() -> None:
    """config/_apply.RUN_PARAMS (a [run] key per `run` option) is checked against both ends."""
    from kcoro_stream.commands.live import run
    from kcoro_stream.config._apply import RUN_PARAMS

    dests = {p.name for p in run.params}
    info = msgspec.inspect.type_info(RunSection)
    assert isinstance(info, msgspec.inspect.StructType)
    keys = {f.name for f in info.fields}
    # [run] no_stdout has no option of its own: `run` spells it --stdout/--no-stdout (dest "stdout")
    assert {n for n in RUN_PARAMS if n not in dests} == {"no_stdout"}
    assert {key for sec, key in RUN_PARAMS.values() if sec == "run"} == keys
