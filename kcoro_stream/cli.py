"""The ``kcoro-stream`` command line: the click group and the one place errors become exit codes.

The commands live in ``kcoro_stream.commands`` (one module per group); each callback returns its
exit code or raises. Every KcoroStreamError becomes one red line on stderr and its exit code;
anything else is a bug and says so in one line (``KCORO_STREAM_DEBUG=1`` shows the traceback);
click's own usage errors are one line too, with a hint. Old kcoro_mon flags
(-P -C -N -c -k -s -m -j -H -d) work on ``run``; the benchmark's knobs are ``run`` options whose
ranges are checked before anything starts (the same ranges as native/bench/cli.c; a test compares
them).
"""

from __future__ import annotations

import errno
import functools
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import click

from .commands import COMMANDS
from .commands._common import CONTEXT
from .commands._options import BENCH_ONLY_FLAGS
from .errors import KcoroStreamError, first_error

__all__ = ["cli", "main"]


def _fail(msg: str, code: int) -> None:
    click.secho(f"kcoro-stream: {msg}", fg="red", err=True)
    sys.exit(code)


def _execute(call: Callable[[], int | None]) -> None:
    """Run ``call``; every error becomes one line and an exit code."""
    try:
        code = call()
    except BaseException as e:  # the one place errors become exit codes
        err = first_error(e)
        if isinstance(err, KcoroStreamError):
            notes = dict.fromkeys([*getattr(err, "__notes__", ()), *getattr(e, "__notes__", ())])
            _fail("; ".join([str(err), *notes]), err.exit_code)
        if isinstance(err, KeyboardInterrupt):
            _fail("interrupted", 130)
        if isinstance(err, SystemExit):
            raise err from None
        if isinstance(err, OSError):
            _stdout_failed(err)  # our stdout could not be written: one line; any other: a bug (70)
        if os.environ.get("KCORO_STREAM_DEBUG"):
            raise
        _fail(f"internal error: {type(err).__name__}: {err} (set KCORO_STREAM_DEBUG=1 for a traceback)", 70)
    sys.exit(code)


def _exit_codes(cmd: click.Command) -> click.Command:
    """Route a command's callback (and every subcommand's) through ``_execute``."""
    if isinstance(cmd, click.Group):
        for sub in cmd.commands.values():
            _exit_codes(sub)
    elif cmd.callback is not None and not getattr(cmd.callback, "_exit_codes", False):
        callback = cmd.callback

        @functools.wraps(callback)
        def call(*args: Any, **kwargs: Any) -> None:
            _execute(lambda: callback(*args, **kwargs))

        call._exit_codes = True  # type: ignore[attr-defined]
        cmd.callback = call
    return cmd


def _usage_line(e: click.UsageError) -> str:
    """click's usage error as one line, with a hint."""
    where = e.ctx.command_path if e.ctx is not None else "kcoro-stream"
    if isinstance(e, click.NoSuchOption):
        name = e.option_name.split("=", 1)[0]
        if e.possibilities:
            return f"no such option {name} (did you mean {' or '.join(sorted(e.possibilities))}?)"
        if name in BENCH_ONLY_FLAGS:
            return f"no such option {name} (a benchmark flag: pass it as --bench-arg={name}=VALUE)"
        return f"no such option {name} (see '{where} --help')"
    if isinstance(e, click.MissingParameter) and e.param is not None:
        kind = "option" if e.param.param_type_name == "option" else "argument"
        return f"missing {kind} {_param_name(e.param)} (see '{where} --help')"
    if isinstance(e, click.BadParameter) and e.param is not None:
        return f"{_param_name(e.param)}: {e.message.rstrip('.')}"
    msg = e.format_message().rstrip(".")
    return f"{msg[:1].lower()}{msg[1:]} (see '{where} --help')"


def _param_name(param: click.Parameter) -> str:
    if param.param_type_name != "option":
        return param.human_readable_name
    return max([o for o in param.opts if o.startswith("--")] or param.opts, key=len)


class _Cli(click.Group):
    """The command group; every usage error is one line (see ``_usage_line``), exit 2."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        super().add_command(_exit_codes(cmd), name)

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as e:
            click.echo(e.ctx.get_help() if e.ctx is not None else e.format_message())
            sys.exit(0)
        except click.UsageError as e:
            _fail(_usage_line(e), 2)
        except click.ClickException as e:
            _fail(e.format_message(), e.exit_code)
        except click.Abort:
            _fail("interrupted", 130)
        sys.exit(rv if isinstance(rv, int) else 0)


@click.group(cls=_Cli, context_settings=CONTEXT)
@click.version_option(package_name="kcoro-stream")
def cli() -> None:
    """kcoro-stream: live monitor and telemetry pipeline for the KCoro coroutine runtime."""


for _command in COMMANDS:
    cli.add_command(_command)


_STDOUT_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EPIPE, errno.EBADF, errno.EFBIG)


def _stdout_failed(e: OSError) -> None:
    """Our own stdout could not be written (disk full, closed pipe): one line, not a traceback.

    Only an OSError without a file name and with a write errno is taken for
    that; any other escaped OSError is a bug and reported as one (exit 70).
    """
    if e.filename is not None or e.errno not in _STDOUT_ERRNOS:
        if os.environ.get("KCORO_STREAM_DEBUG"):
            raise e
        _fail(f"internal error: {type(e).__name__}: {e} (set KCORO_STREAM_DEBUG=1 for a traceback)", 70)
    try:  # the interpreter's final flush must not fail again ("Exception ignored ...")
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
    if isinstance(e, BrokenPipeError):
        sys.exit(0)  # the reader left (| head): nothing to report
    _fail(f"cannot write to standard output ({e.strerror or e})", 1)


def _stop_signals_like_ctrl_c() -> None:
    """SIGTERM and SIGHUP (a closed terminal or SSH session) end any command the way Ctrl-C does.

    Outside a run loop they go to whatever handles SIGINT at that moment
    (Python's KeyboardInterrupt, or trio's), so files being written are
    cleaned up or published as on Ctrl-C; inside a run loop ``watch_signals``
    takes all three and ends the run cleanly. A signal that is ignored (SIGHUP
    under nohup) stays ignored.
    """
    import signal

    def like_sigint(_signum: int, frame: Any) -> None:
        handler = signal.getsignal(signal.SIGINT)
        if callable(handler):
            handler(signal.SIGINT, frame)
        else:
            raise KeyboardInterrupt

    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) == signal.SIG_DFL:
            signal.signal(sig, like_sigint)


def main() -> None:
    code: Any = 0
    _stop_signals_like_ctrl_c()
    try:
        cli(prog_name="kcoro-stream")
    except SystemExit as e:
        code = e.code
    except OSError as e:
        _stdout_failed(e)
    try:
        sys.stdout.flush()
    except OSError as e:
        _stdout_failed(e)
    sys.exit(code)


if __name__ == "__main__":
    main()
