"""errors.first_error: the one unwrapper of exception groups, and the priorities its callers pass."""

from __future__ import annotations

import trio

from kcoro_stream.errors import ProducerError, SinkError, first_error


def test_our_errors_before_bugs_before_cancellation_and_ctrl_c() -> None:
    bug, ours = ValueError("bug"), SinkError("port in use")
    nested = BaseExceptionGroup("outer", [KeyboardInterrupt(), BaseExceptionGroup("inner", [bug, ours])])
    assert first_error(nested) is ours
    assert first_error(BaseExceptionGroup("g", [KeyboardInterrupt(), bug])) is bug
    interrupted = KeyboardInterrupt()
    assert first_error(BaseExceptionGroup("g", [interrupted])) is interrupted
    assert first_error(ours) is ours  # not a group: itself


def test_a_caller_chooses_its_priority() -> None:
    ctrl_c, failed = KeyboardInterrupt(), ProducerError("producer lost")
    group = BaseExceptionGroup("g", [failed, ctrl_c])
    assert first_error(group) is failed  # the command line: the failure, not the Ctrl-C it caused
    assert first_error(group, (KeyboardInterrupt, ProducerError)) is ctrl_c  # a manifest: stop
    oserror = OSError(98, "Address already in use")
    assert (
        first_error(BaseExceptionGroup("g", [ValueError(), ExceptionGroup("e", [oserror])]), (OSError,))
        is oserror
    )


def test_cancellation_is_the_last_choice() -> None:
    async def main() -> None:
        async def fail() -> None:
            raise SinkError("disk full")

        async with trio.open_nursery() as n:
            n.start_soon(trio.sleep_forever)
            n.start_soon(fail)

    try:
        trio.run(main)
    except BaseException as e:  # the group trio raises
        assert isinstance(first_error(e), SinkError)
    else:
        raise AssertionError("the nursery did not fail")
