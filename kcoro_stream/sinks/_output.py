"""Shared I/O for the file and terminal sinks: outputs and buffering.

Writing (``open_output``)::

    path ─► codec by suffix ─► what the name is now (``_classify``)
            .gz gzip           no file   ─► "inplace": created O_EXCL under its own name and written
            .zst zstd                        there, whole lines only, one gzip member / zstd frame per
            else plain;                      flush (``tail -f``, ``zcat``, ``zstdcat`` of the growing
            "-" is stdout                    file work); a failed run keeps the complete lines
                                             it wrote (an empty file is removed) and says so
                                 regular file (needs force) ─► "replace": temp file, same directory,
                                     .NAME.PID.XXXXXXXX.tmp; close(): fsync + os.replace (atomic:
                                     a reader sees the old file or the new one; ``tail -f`` sees
                                     the new file only at the end); abort(): temp removed, the old
                                     file untouched
                                 FIFO, character device ─► "through": written in place, never
                                     replaced

Temp files left by a killed process (their PID is gone) are removed the next
time an output of the same name is opened in that directory.

An existing output is never clobbered unless ``force``: it is refused at open
(``PATH: exists (use --force to overwrite)``); a new file is created with
O_EXCL, so a file that appears between the check and the open is not
clobbered either.

What the path names decides how it is written (``_classify``, the one place)::

    no file                  ─► in place (above)
    regular file             ─► temp file + atomic replace (with force)
    FIFO, character device   ─► written through (no temp, never replaced, no --force
                                 needed: nothing is clobbered); a FIFO waits up to
                                 FIFO_READER_WAIT_S for a reader
    symlink                  ─► its target, by the same rules (the link stays)
    directory, socket, block device ─► SinkError

Reading is not here: ``kcoro_stream._input.open_input`` (validate, replay of old files).

``BufferedOutput`` is the async side every output sink shares: the sink
encodes events into ``buf`` (a reused bytearray); ``maybe_flush`` hands the
bytes to a worker thread when the buffer is over ``buffer_bytes`` or when
pending data is older than ``flush_interval_s`` (checked on each ``send``), so
compression and a slow pipe never run on the event loop.
"""

from __future__ import annotations

import errno
import gzip
import io
import os
import secrets
import stat
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any, Literal

import trio
import zstandard

from .. import _files
from .._input import Codec, codec_for
from ..errors import SinkError, UsageError
from ..events import DerivedEvent, encode_json_line, json_encoder
from ._base import Sink, SinkContext

DEFAULT_BUFFER_BYTES = 1 << 16
DEFAULT_FLUSH_INTERVAL_S = 1.0
# How long opening a FIFO output waits for a reader before giving up.
FIFO_READER_WAIT_S = 10.0

WriteMode = Literal["inplace", "replace", "through"]
# An in-place output emits its pending complete lines once this many bytes wait (between flushes).
INPLACE_EMIT_BYTES = 1 << 20


def _why(e: OSError) -> str:
    return e.strerror or str(e)


# ------------------------------------------------------------------ outputs


class Output:
    """A synchronous byte sink; methods may run in a worker thread."""

    path: str
    codec: Codec = "none"
    # True when abort() can take the output back (a temp file not yet
    # published); False for stdout, FIFOs and devices, which are written through.
    discardable: bool = False

    def __init__(self) -> None:
        self.bytes_in = 0  # uncompressed bytes accepted

    def write(self, data: bytes | bytearray | memoryview) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        """Push everything written so far to the OS (readable up to here)."""

    def close(self) -> None:
        """Finish and publish; idempotent."""

    def abort(self) -> None:
        """Give up: leave no partial output behind; idempotent."""

    def run_failed(self) -> None:
        """The run failed; an output that cannot be taken back keeps what it has (``failure_note``)."""

    def failure_note(self) -> str | None:
        """After ``close`` of a failed run: what this output kept, for the run's error line."""
        return None


class StreamOutput(Output):
    """Writes to an already open binary stream (stdout); never closes it.

    OSErrors (``BrokenPipeError`` in particular) propagate unchanged: the sink
    decides what a closed reader means.
    """

    def __init__(self, stream: IO[bytes] | IO[str], name: str = "<stdout>") -> None:
        super().__init__()
        self.stream: Any = stream
        self.path = name
        # A text stream without a binary side (io.StringIO, some test runners) gets str.
        self._text = isinstance(stream, io.TextIOBase)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        try:
            if self._text:
                self.stream.write(bytes(data).decode("utf-8", "replace"))
            else:
                self.stream.write(data)
        except BrokenPipeError:
            raise
        except (OSError, ValueError) as e:
            raise SinkError(f"{self.path}: write failed ({e})") from None
        self.bytes_in += len(data)

    def flush(self) -> None:
        try:
            self.stream.flush()
        except BrokenPipeError:
            raise
        except (OSError, ValueError) as e:
            raise SinkError(f"{self.path}: flush failed ({e})") from None

    def close(self) -> None:
        self.flush()

    def abort(self) -> None:
        pass


def _classify(path: Path) -> tuple[Path, WriteMode]:
    """Where and how to write ``path``: the one place output paths are judged.

    Returns the path to write (a symlink's target for regular files) and
    ``"inplace"`` (no file yet: created and written under its name),
    ``"replace"`` (an existing file: temp + atomic publish) or ``"through"``
    (FIFO, character device: written in place, never replaced). Raises
    SinkError otherwise.
    """
    try:
        st = os.stat(path)  # follows symlinks: we judge what the name leads to
    except FileNotFoundError:
        if os.path.islink(path):  # a dangling link: create the file it names
            return Path(os.path.realpath(path)), "inplace"
        return path, "inplace"
    except OSError as e:
        raise SinkError(f"{path}: cannot use as output ({_why(e)})") from None
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        raise SinkError(f"{path}: is a directory")
    if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode):
        return path, "through"
    if stat.S_ISREG(mode):
        return (Path(os.path.realpath(path)) if os.path.islink(path) else path), "replace"
    raise SinkError(f"{path}: not a regular file, FIFO or character device; refusing to write to it")


def _open_through(path: Path, wait_s: float) -> IO[bytes]:
    """Open a FIFO or character device for writing in place (no O_TRUNC, no O_CREAT).

    A FIFO without a reader is retried until ``wait_s`` passes. The opened
    descriptor is checked again (fstat), so a regular file swapped in after
    ``_classify`` is never overwritten in place.
    """
    flags = os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fd = os.open(path, flags)
            break
        except OSError as e:
            if e.errno == errno.ENXIO and time.monotonic() < deadline:
                time.sleep(0.05)  # a FIFO with no reader yet
                continue
            if e.errno == errno.ENXIO:
                raise SinkError(f"{path}: FIFO has no reader (waited {wait_s:g} s)") from None
            raise SinkError(f"{path}: cannot open ({_why(e)})") from None
    mode = os.fstat(fd).st_mode
    if not (stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)):
        os.close(fd)
        raise SinkError(f"{path}: changed while being opened; refusing to write to it")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "wb", buffering=1 << 16)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def sweep_stale_temps(directory: Path, name: str) -> list[str]:
    """Remove ``.NAME.<pid>.<hex>.tmp`` files whose owner process is gone; return their names.

    What a kill -9 leaves behind (the temp file of an output never published).
    Only regular files of that exact pattern for this output name are touched;
    a temp whose pid is alive (ours or anyone's) is left alone.
    """
    prefix = f".{name}."
    removed: list[str] = []
    try:
        entries = os.listdir(directory)
    except OSError:
        return removed
    for entry in entries:
        if not entry.startswith(prefix) or not entry.endswith(".tmp"):
            continue
        pid_text, _, token = entry[len(prefix) : -len(".tmp")].partition(".")
        if not pid_text.isdigit() or len(token) != 8 or not all(c in "0123456789abcdef" for c in token):
            continue
        if int(pid_text) == os.getpid() or _pid_alive(int(pid_text)):
            continue
        path = directory / entry
        try:
            if stat.S_ISREG(os.lstat(path).st_mode):
                os.unlink(path)
                removed.append(entry)
        except OSError:
            pass
    return removed


class InPlaceOutput(Output):
    """A new file written under its own name as the run goes: whole lines, one member/frame per emit.

    Created with O_EXCL|O_NOFOLLOW (never an existing file, never through a
    symlink). Bytes wait in ``_pending`` until ``flush`` (or more than
    INPLACE_EMIT_BYTES wait); then the complete lines among them are encoded
    on their own (plain, one gzip member, one zstd frame) and appended, so the
    file always ends at a line boundary and a growing ``.gz``/``.zst`` reads
    back with ``zcat``/``zstdcat``. A failed write truncates the file back to
    the last complete emit. After a failed run (``run_failed``) ``close`` still
    writes the complete lines it holds and ``failure_note`` says how many the
    file keeps; an empty file of ours is removed.
    """

    def __init__(self, target: Path, *, shown: str, level: int | None = None) -> None:
        super().__init__()
        self.path = shown
        self.codec = codec_for(target)
        self._target = target
        self._level = level
        self._pending = bytearray()
        self._good = 0  # file offset after the last complete emit
        self.lines = 0
        self._failed_run = False
        self._fd: int | None = None
        self._cctx: Any = None
        try:
            if self.codec == "gzip":
                zlib.compressobj(6 if level is None else level)
            elif self.codec == "zstd":
                self._cctx = zstandard.ZstdCompressor(
                    level=3 if level is None else level, write_checksum=True
                )
        except (ValueError, zlib.error, zstandard.ZstdError):
            raise SinkError(f"{shown}: bad {self.codec} compression level {level}") from None
        parent = target.parent if str(target.parent) else Path(".")
        if not parent.is_dir():
            raise SinkError(f"{target}: directory {parent} does not exist")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            self._fd = os.open(target, flags, 0o666)
        except FileExistsError:
            raise SinkError(f"{shown}: exists (use --force to overwrite)") from None
        except OSError as e:
            raise SinkError(f"{target}: cannot create ({_why(e)})") from None
        self._ino = os.fstat(self._fd).st_ino
        sweep_stale_temps(parent, target.name)  # a killed --force replacement of this name

    def _encode(self, data: bytes) -> bytes:
        if self.codec == "gzip":
            return gzip.compress(data, compresslevel=6 if self._level is None else self._level, mtime=0)
        if self.codec == "zstd":
            return bytes(self._cctx.compress(data))
        return data

    def _emit(self, *, final: bool) -> None:
        """Append the complete lines waiting (everything when ``final``) as one unit."""
        if self._fd is None:
            return
        cut = len(self._pending) if final else self._pending.rfind(b"\n") + 1
        if cut <= 0:
            return
        data = bytes(self._pending[:cut])
        try:
            chunk = self._encode(data)
            _files.write_all(self._fd, chunk)
        except (OSError, zstandard.ZstdError) as e:
            try:
                os.ftruncate(self._fd, self._good)  # no torn line or member stays behind
            except OSError:
                pass
            why = _why(e) if isinstance(e, OSError) else str(e)
            raise SinkError(f"{self._target}: write failed ({why})") from None
        self._good += len(chunk)
        self.lines += data.count(b"\n")
        del self._pending[:cut]

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._fd is None:
            raise SinkError(f"{self._target}: write after close")
        self._pending += data
        self.bytes_in += len(data)
        if len(self._pending) >= INPLACE_EMIT_BYTES:
            self._emit(final=False)

    def flush(self) -> None:
        self._emit(final=False)

    def run_failed(self) -> None:
        self._failed_run = True

    def close(self) -> None:
        if self._fd is None:
            return
        try:
            self._emit(final=True)
            os.fsync(self._fd)
        except OSError as e:
            self.abort()
            raise SinkError(f"{self._target}: close failed ({_why(e)})") from None
        except BaseException:
            self.abort()
            raise
        self._release()

    def abort(self) -> None:
        """Stop writing: the file keeps the complete lines emitted so far (none: it is removed)."""
        self._pending.clear()
        self._release()

    def _release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        os.close(fd)
        if self._good == 0 and self._failed_run:
            self._remove_if_ours()  # a failed run that wrote nothing leaves no empty file behind

    def _remove_if_ours(self) -> None:
        try:
            if os.lstat(self._target).st_ino == self._ino:
                os.unlink(self._target)
        except OSError:
            pass

    def failure_note(self) -> str | None:
        if not self._failed_run or self._good == 0:
            return None
        return f"{self.path} keeps the {self.lines} complete lines written before the failure"


class FileOutput(Output):
    """An existing file replaced at close (temp + atomic publish), or a FIFO/device written through."""

    def __init__(
        self,
        path: Path,
        *,
        force: bool,
        level: int | None = None,
        where: tuple[Path, WriteMode] | None = None,
    ) -> None:
        super().__init__()
        self.path = str(path)
        self.codec = codec_for(path)
        self._force = force
        self._closed = False
        self._target, self.mode = where if where is not None else _classify(path)
        self._tmp: Path | None = None
        self.discardable = self.mode == "replace"
        if self.mode == "through":
            self._raw = _open_through(self._target, FIFO_READER_WAIT_S)
        else:
            self._check_target()
            self._tmp, self._raw = self._create_temp()
        try:
            self._enc: Any = self._encoder(level)
        except (ValueError, zlib.error, zstandard.ZstdError):
            self.abort()
            raise SinkError(f"{path}: bad {self.codec} compression level {level}") from None
        except BaseException:
            self.abort()
            raise

    # -- set-up

    def _check_target(self) -> None:
        t = self._target
        parent = t.parent if str(t.parent) else Path(".")
        if not parent.is_dir():
            raise SinkError(f"{t}: directory {parent} does not exist")
        if (t.exists() or t.is_symlink()) and not self._force:
            raise SinkError(f"{self.path}: exists (use --force to overwrite)")

    def _create_temp(self) -> tuple[Path, IO[bytes]]:
        parent = self._target.parent
        sweep_stale_temps(parent, self._target.name)
        for _ in range(100):
            tmp = parent / f".{self._target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
            except FileExistsError:
                continue
            except OSError as e:
                raise SinkError(f"{self._target}: cannot create ({_why(e)})") from None
            return tmp, os.fdopen(fd, "wb", buffering=1 << 16)
        raise SinkError(f"{self._target}: cannot create a temporary file")  # pragma: no cover

    def _encoder(self, level: int | None) -> Any:
        if self.codec == "gzip":
            # mtime=0 and the final name: the same events give the same bytes.
            name = self._target.name.removesuffix(".gz")
            return gzip.GzipFile(
                filename=name,
                mode="wb",
                fileobj=self._raw,
                compresslevel=6 if level is None else level,
                mtime=0,
            )
        if self.codec == "zstd":
            cctx = zstandard.ZstdCompressor(level=3 if level is None else level, write_checksum=True)
            return cctx.stream_writer(self._raw, closefd=False)
        return self._raw

    # -- writing (SinkError on every OS failure, naming the target)

    def _fail(self, what: str, e: Exception) -> SinkError:
        why = _why(e) if isinstance(e, OSError) else str(e)
        return SinkError(f"{self._target}: {what} failed ({why})")

    def write(self, data: bytes | bytearray | memoryview) -> None:
        try:
            self._enc.write(data)
        except BrokenPipeError as e:
            if self._tmp is None:
                raise  # a FIFO whose reader left: counted like stdout's broken pipe
            raise self._fail("write", e) from None
        except (OSError, zstandard.ZstdError) as e:
            raise self._fail("write", e) from None
        self.bytes_in += len(data)

    def flush(self) -> None:
        try:
            if self.codec == "gzip":
                self._enc.flush(zlib.Z_SYNC_FLUSH)
            elif self.codec == "zstd":
                self._enc.flush(zstandard.FLUSH_BLOCK)
            self._raw.flush()
        except BrokenPipeError as e:
            if self._tmp is None:
                raise
            raise self._fail("flush", e) from None
        except (OSError, zstandard.ZstdError) as e:
            raise self._fail("flush", e) from None

    def close(self) -> None:
        if self._closed:
            return
        try:
            if self._enc is not self._raw:
                self._enc.close()  # gzip trailer / zstd frame end; leaves _raw open
            self._raw.flush()
            if self._tmp is None:  # FIFO or device: nothing to sync or publish
                self._raw.close()
                self._closed = True
                return
            os.fsync(self._raw.fileno())
            self._raw.close()
            self._publish()
        except (OSError, zstandard.ZstdError) as e:
            self.abort()
            raise self._fail("close", e) from None
        except BaseException:
            self.abort()
            raise
        self._closed = True

    def _publish(self) -> None:
        assert self._tmp is not None
        if self._force:
            os.replace(self._tmp, self._target)
        else:
            try:
                os.link(self._tmp, self._target)  # atomic and never overwrites
            except FileExistsError:
                raise SinkError(f"{self._target}: exists (use --force to overwrite)") from None
            except OSError as e:
                if e.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                    raise
                # No hard links here (some FUSE/SMB mounts): check, then rename.
                if self._target.exists():
                    raise SinkError(f"{self._target}: exists (use --force to overwrite)") from None
                os.rename(self._tmp, self._target)
                return
            os.unlink(self._tmp)
        self._fsync_dir()

    def _fsync_dir(self) -> None:
        try:
            fd = os.open(self._target.parent, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass  # directories cannot be fsynced on some filesystems
        finally:
            os.close(fd)

    def abort(self) -> None:
        if self._closed:
            return
        self._closed = True
        for closer in (getattr(self, "_enc", None), self._raw):
            if closer is None:
                continue
            try:
                closer.close()
            except Exception:  # best effort; the temp file goes anyway
                pass
        if self._tmp is None:
            return  # written through: what a FIFO's reader got cannot be taken back
        try:
            os.unlink(self._tmp)
        except OSError:
            pass  # nothing more we can do; the name starts with "." and ends ".tmp"


def binary_stream(stream: Any | None) -> IO[bytes]:
    """The binary side of a text stream, else the stream itself (default: the process stdout)."""
    target: Any = sys.stdout if stream is None else stream
    binary: IO[bytes] = getattr(target, "buffer", target)
    return binary


def open_output(
    path: str | os.PathLike[str],
    *,
    force: bool = False,
    stdout: Any | None = None,
    level: int | None = None,
) -> Output:
    """Open ``path`` for writing (``-``: ``stdout`` or the process stdout).

    Raises SinkError (one line naming the path) when the path exists and
    ``force`` is false, its directory is missing or not writable, or it is a
    directory. A new file is written in place as the run goes
    (``InPlaceOutput``); an existing one (``force``) is replaced atomically at
    ``close()``; a FIFO or device is written through.
    """
    if os.fspath(path) == "-":
        if stdout is not None and hasattr(stdout, "flush"):
            stdout.flush()  # text written before us comes first
        return StreamOutput(binary_stream(stdout))
    where = _classify(Path(path))
    if where[1] == "inplace":
        return InPlaceOutput(where[0], shown=os.fspath(path), level=level)
    return FileOutput(Path(path), force=force, level=level, where=where)


def quiet_stdout_after_broken_pipe(stream: IO[bytes]) -> None:
    """After EPIPE on the process's stdout, point fd 1 at /dev/null.

    Python flushes ``sys.stdout`` at exit; without this the interpreter prints
    "Exception ignored ... BrokenPipeError" (see the signal module docs).
    """
    try:
        fd = stream.fileno()
    except (OSError, ValueError, AttributeError):
        return
    if fd != 1:
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    except OSError:
        pass


class BufferedOutput:
    """Bounded buffer + flush policy in front of an ``Output`` (one per sink).

    The sink appends encoded events to ``buf`` and calls ``add(n)``, then
    ``await maybe_flush()``. Accounting goes back to the sink through
    ``on_written(n)`` and ``on_lost(reason, n)``. After a broken pipe the
    output is ``broken``: the sink counts later batches as lost.
    """

    def __init__(
        self,
        output: Output,
        *,
        on_written: Callable[[int], None],
        on_lost: Callable[[str, int], None],
        buffer_bytes: int = DEFAULT_BUFFER_BYTES,
        flush_interval_s: float = DEFAULT_FLUSH_INTERVAL_S,
    ) -> None:
        self.output = output
        self.buf = bytearray()
        self.buffer_bytes = buffer_bytes
        self.flush_interval_s = flush_interval_s
        self.broken = False
        self.failed = False
        self.flushes = 0
        self._on_written = on_written
        self._on_lost = on_lost
        self._pending = 0  # events whose bytes are in buf
        self._dirty = False  # bytes handed to the output since its last flush
        self._deadline: float | None = None  # pending data must be flushed by then

    def add(self, n_events: int) -> None:
        """``n_events`` more events were encoded into ``buf``."""
        if self._deadline is None and (n_events or self.buf):
            self._deadline = trio.current_time() + self.flush_interval_s
        self._pending += n_events

    async def maybe_flush(self, *, force: bool = False) -> None:
        """Write the buffer if it is full; flush if forced or pending data is due."""
        if self.broken or self.failed:
            return
        due = force or (self._deadline is not None and trio.current_time() >= self._deadline)
        if len(self.buf) >= self.buffer_bytes or (due and (self.buf or self._dirty)):
            await trio.to_thread.run_sync(self._write_out, due)

    def _write_out(self, flush: bool) -> None:
        n, self._pending = self._pending, 0
        try:
            if self.buf:
                self.output.write(self.buf)
                self._dirty = True
            if flush:
                self.output.flush()
                self.flushes += 1
                self._dirty = False
                self._deadline = None
            self._on_written(n)
        except BrokenPipeError:
            self.broken = True
            self._on_lost("broken_pipe", n)
            if isinstance(self.output, StreamOutput):
                quiet_stdout_after_broken_pipe(self.output.stream)
        except BaseException:
            self.failed = True
            self._on_lost("output_error", n)
            raise
        finally:
            self.buf.clear()

    def close(self) -> None:
        """Write what is left and publish (synchronous: safe under cancellation).

        After a write error the output is aborted instead: no partial file.
        """
        if self.failed:
            self.output.abort()
            return
        if not self.broken:
            try:
                self._write_out(flush=False)
            except BaseException:
                self.output.abort()
                raise
        if self.broken:
            self.output.abort()
            return
        self.output.close()

    def abort(self) -> None:
        """Discard everything: buffered bytes and the unpublished output (synchronous).

        A written-through output (stdout, a FIFO, a device) cannot be taken
        back, so it is left to ``close`` as usual: its reader gets every line;
        so is a file written in place, which keeps its complete lines
        (``failure_note``).
        """
        if not self.output.discardable:
            self.output.run_failed()
            return
        self.buf.clear()
        self._pending = 0
        self.failed = True  # close() after abort publishes nothing
        self.output.abort()

    def statistics(self) -> dict[str, Any]:
        return {
            "path": self.output.path,
            "codec": self.output.codec,
            "bytes_written": self.output.bytes_in,
            "flushes": self.flushes,
            "broken_pipe": self.broken,
        }


# --------------------------------------------------------------- spec args


def parse_path_arg(
    arg: str,
    *,
    sink: str,
    flags: tuple[str, ...] = (),
    ints: tuple[str, ...] = (),
    floats: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Parse ``PATH[,opt...]`` where opt is a flag name or ``key=value``.

    Options are taken from the right while they look like known options, so a
    path that itself contains a comma still works.
    """
    fields: dict[str, Any] = {}
    parts = arg.split(",")
    while len(parts) > 1:
        key, eq, value = parts[-1].partition("=")
        key = key.strip()
        if not eq and key in flags:
            fields[key] = True
        elif eq and key in flags:
            fields[key] = _parse_bool(sink, key, value)
        elif eq and key in ints:
            try:
                fields[key] = int(value)
            except ValueError:
                raise UsageError(f"sink {sink!r}: {key}={value!r} is not an integer") from None
        elif eq and key in floats:
            try:
                fields[key] = float(value)
            except ValueError:
                raise UsageError(f"sink {sink!r}: {key}={value!r} is not a number") from None
        else:
            break
        parts.pop()
    path = ",".join(parts)
    if not path:
        raise UsageError(f"sink {sink!r}: missing output path")
    fields["path"] = path
    return fields


def _parse_bool(sink: str, key: str, value: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off"):
        return False
    raise UsageError(f"sink {sink!r}: {key}={value!r} is not a boolean")


def encode_meta(ctx: SinkContext, buf: bytearray, legacy: bool) -> None:
    """Begin an NDJSON output with the pipeline's ``meta`` line when it declares anything (not in
    legacy output: kcoro_mon had no such line)."""
    if ctx.declarations is not None and not legacy:
        json_encoder.encode_into(ctx.declarations, buf, len(buf))
        buf.extend(b"\n")


def encode_lines(
    batch: Sequence[DerivedEvent],
    buf: bytearray,
    to_legacy: Callable[[Any], dict[str, Any] | None] | None,
    legacy_encoder: Any,
    count_drop: Callable[[str], None],
) -> int:
    """Append ``batch`` to ``buf`` as NDJSON (or old kcoro_mon lines); return lines written."""
    if to_legacy is None:
        for event in batch:
            encode_json_line(event, buf)
        return len(batch)
    n = 0
    for event in batch:
        obj = to_legacy(event)
        if obj is None:
            count_drop("no_legacy_form")
            continue
        legacy_encoder.encode_into(obj, buf, len(buf))
        buf.extend(b"\n")
        n += 1
    return n


class BufferedSink(Sink):
    """Base of the sinks that write through one ``BufferedOutput`` (ndjson, csv, stdout)."""

    def __init__(self, config: Any, ctx: SinkContext) -> None:
        super().__init__(config, ctx)
        self._out: BufferedOutput | None = None

    def _attach_output(self, output: Output, **policy: Any) -> BufferedOutput:
        """Wrap ``output`` so its accounting comes back to this sink."""
        self._out = BufferedOutput(output, on_written=self._count_written, on_lost=self.count_drop, **policy)
        return self._out

    def _count_written(self, n: int) -> None:
        self._written += n

    async def aclose(self) -> None:
        if self._out is not None:
            self._out.close()

    def abort(self) -> None:
        """The run failed: publish nothing and leave an existing output untouched.

        Call it before ``aclose`` (which then only releases resources). A
        FIFO or device output was written through and cannot be taken back.
        """
        if self._out is not None:
            self._out.abort()

    def failure_note(self) -> str | None:
        return self._out.output.failure_note() if self._out is not None else None

    def own_statistics(self) -> dict[str, Any]:
        """Sink-specific figures; the output's are added by ``extra_statistics``."""
        return {}

    def extra_statistics(self) -> dict[str, Any]:
        stats = self.own_statistics()
        if self._out is not None:
            stats.update(self._out.statistics())
        return stats
