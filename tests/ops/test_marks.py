"""marks: raw Marks become derived lines in event order, with the run's wall clock."""

from __future__ import annotations

from factory import MS, T0, WALL0, drive, run_started, worker

from kcoro_stream import ops
from kcoro_stream.events import Mark, MarkEvent, encode_json_line


def test_marks_before_run_started_wait_for_its_clock() -> None:
    """A step mark logged before RunStarted comes out once RunStarted maps it to wall time."""
    step = Mark(T0 - 5 * MS, 0, name="step", detail='{"step": "a"}')
    config = Mark(T0 - 6 * MS, 0, name="config", detail="{}")
    note = Mark(T0 + 50 * MS, 0, name="note", detail="x")
    out = drive(ops.marks(), [[config], [step], [run_started()], [worker(T0 + 10 * MS, 0)], [note]])
    assert [(e.name, e.detail) for e in out] == [("step", '{"step": "a"}'), ("note", "x")]
    assert all(isinstance(e, MarkEvent) and e.run_id == "run-1" for e in out)
    assert out[0].ts == round((WALL0 - 5 * MS) / 1e9, 6)
    buf = bytearray()
    encode_json_line(out[0], buf)
    assert buf.startswith(b'{"type":"mark","schema":')


def test_marks_without_run_started_still_come_out_at_the_end() -> None:
    out = drive(ops.marks(), [[Mark(7, 0, name="lonely", detail="")]])
    assert [e.name for e in out] == ["lonely"]
