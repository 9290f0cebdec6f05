"""Reading what the file sinks wrote, or older tools' files: plain, gzip or zstd.

``open_input(path)`` picks the codec by the file's magic bytes (plain, gzip,
zstd) and turns a corrupt or truncated compressed stream into an
``InputError`` at the point where it broke, instead of a silent short read
(zstandard's own stream reader accepts a truncated frame without complaint).
``-`` is standard input; anything else must be a regular file, opened
``O_NONBLOCK`` and judged by ``fstat`` (``open_regular_fd``), so a FIFO or a
device is refused at once instead of waited on or read forever.

``codec_for(path)`` is the one suffix rule (``.gz`` gzip, ``.zst`` zstd): the
file sinks write by it, and a file whose suffix promises compression its bytes
do not have is refused here.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import sys
import zlib
from typing import IO, Any, Literal

import zstandard

from .errors import InputError

__all__ = ["GZIP_MAGIC", "ZSTD_MAGIC", "Codec", "codec_for", "open_input", "open_regular_fd"]

Codec = Literal["none", "gzip", "zstd"]

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
# zstd input fed per decompress call: bounds the output of one call. A block
# takes at least 4 bytes and yields at most 128 KiB (an RLE block), so 64 bytes
# give at most 2 MiB: a 300 MB line in a 10 KB .zst is never inflated whole.
_ZSTD_FEED = 64
_ZSTD_READ_CHUNK = 1 << 16  # read from the file at a time, fed _ZSTD_FEED bytes per call


def codec_for(path: str | os.PathLike[str]) -> Codec:
    """The compression a path asks for, by suffix."""
    name = os.fspath(path)
    if name.endswith(".gz"):
        return "gzip"
    if name.endswith(".zst"):
        return "zstd"
    return "none"


class _DecodedRaw(io.RawIOBase):
    """Raw reader over a decompressor; decode errors become InputError."""

    def __init__(self, raw: IO[bytes], path: str, codec: Codec) -> None:
        self._raw = raw
        self._path = path
        self._codec = codec
        self._out = b""
        self._pos = 0
        self._eof = False
        self._chunk = memoryview(b"")  # zstd: read from the file, not fed yet
        if codec == "gzip":
            self._gz: gzip.GzipFile | None = gzip.GzipFile(fileobj=raw, mode="rb")
        else:
            self._gz = None
            self._zd = zstandard.ZstdDecompressor()
            self._zobj: Any = None
            self._carry = b""

    def readable(self) -> bool:
        return True

    def _error(self, what: str) -> InputError:
        try:
            at = f" near compressed byte {self._raw.tell() - len(self._chunk)}"
        except (OSError, ValueError):
            at = ""
        return InputError(f"{self._path}: {what}{at}")

    def _next_zstd(self) -> bytes:
        while True:
            if self._carry:
                data, self._carry = self._carry, b""
            else:
                if not self._chunk:
                    self._chunk = memoryview(self._raw.read(_ZSTD_READ_CHUNK) or b"")
                data, self._chunk = bytes(self._chunk[:_ZSTD_FEED]), self._chunk[_ZSTD_FEED:]
            if not data:
                if self._zobj is not None:
                    raise self._error("truncated zstd stream (ended inside a frame)")
                return b""
            if self._zobj is None:
                self._zobj = self._zd.decompressobj()
            try:
                out: bytes = self._zobj.decompress(data)
            except zstandard.ZstdError as e:
                raise self._error(f"corrupt zstd stream ({e})") from None
            if self._zobj.eof:
                self._carry = self._zobj.unused_data
                self._zobj = None
            if out:
                return out

    def _next_gzip(self, n: int) -> bytes:
        assert self._gz is not None
        try:
            return self._gz.read(n)
        except EOFError:
            raise self._error("truncated gzip stream") from None
        except (gzip.BadGzipFile, zlib.error) as e:
            raise self._error(f"corrupt gzip stream ({e})") from None

    def readinto(self, b: Any) -> int:
        if self._pos >= len(self._out):
            if self._eof:
                return 0
            out = self._next_gzip(max(len(b), 1 << 16)) if self._gz is not None else self._next_zstd()
            if not out:
                self._eof = True
                return 0
            self._out, self._pos = out, 0
        n = min(len(b), len(self._out) - self._pos)
        b[:n] = self._out[self._pos : self._pos + n]
        self._pos += n
        return n

    def close(self) -> None:
        if not self.closed:
            try:
                if self._gz is not None:
                    self._gz.close()
            finally:
                self._raw.close()
        super().close()


def open_regular_fd(p: str) -> int:
    """A read-only descriptor of the regular file ``p``; InputError for anything else.

    Opened O_NONBLOCK and judged by fstat, so a FIFO is refused at once instead
    of waiting for a writer, and /dev/zero is refused instead of read forever.
    """
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except IsADirectoryError:
        raise InputError(f"{p}: is a directory") from None
    except OSError as e:
        raise InputError(f"{p}: cannot open ({e.strerror or e})") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise InputError(f"{p}: is a directory")
        raise InputError(f"{p}: not a regular file (use - to read standard input)")
    os.set_blocking(fd, True)
    return fd


def open_input(path: str | os.PathLike[str]) -> IO[bytes]:
    """Open a plain, gzip or zstd file for binary reading (codec by magic bytes).

    ``-`` is standard input. Anything else must be a regular file (a FIFO or
    device is refused, never waited on or read forever). Raises InputError
    naming the path if it cannot be opened, or if its suffix
    promises compression the bytes do not have. Reads of a corrupt or truncated
    compressed stream raise InputError naming the path and the offset.
    """
    p = os.fspath(path)
    if p == "-":
        raw: Any = sys.stdin.buffer
    else:
        raw = os.fdopen(open_regular_fd(p), "rb")  # returned to the caller, who closes it
    head = raw.peek(4)[:4]
    codec: Codec
    if head.startswith(GZIP_MAGIC):
        codec = "gzip"
    elif head.startswith(ZSTD_MAGIC):
        codec = "zstd"
    else:
        codec = "none"
    wanted = codec_for(p)
    if wanted != "none" and codec != wanted and head:
        raw.close()
        raise InputError(f"{p}: not {wanted} data (suffix says {wanted})")
    if codec == "none":
        return raw
    return io.BufferedReader(_DecodedRaw(raw, p, codec), buffer_size=1 << 16)
