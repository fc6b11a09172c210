"""A log's lines, read in blocks with every limit enforced on the bytes.

- Every line, the first included, is under ``MAX_LINE``; a longer one is
  skipped in bounded pieces and handed on as a :class:`LongLine` (its size
  only), never held whole.
- A gzip file may expand to ``PROVEX_MAX_LOG_BYTES`` (default 64 GiB) and,
  past its first 256 MiB, at most ``PROVEX_MAX_GZIP_RATIO`` times its
  compressed size (default 100): a decompression bomb stops with
  :class:`TooLarge`, naming the setting that raises the limit.
- Runs of blank lines are skipped a block at a time (a regular expression
  over the block, not a Python loop per line).
- Line ends are LF or CRLF; a file with CR only (its first KB has CR and no
  LF) is read with CR as the line end.
- Resuming: the bytes before the watermark's offset are read and hashed, not
  parsed; if they changed since (a line fixed in place, a file rewritten),
  :class:`Changed` is raised and the caller reads the file from the start.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from typing import IO

MAX_LINE = 16 * 1024 * 1024  # bytes in one line
BLOCK = 1024 * 1024
RATIO_AFTER = 256 * 1024 * 1024  # the ratio guard starts once this much was decompressed
_BLANKS = {b"\n": re.compile(rb"(?:[ \t\r]*\n)+"), b"\r": re.compile(rb"(?:[ \t]*\r)+")}


class TooLarge(Exception):
    """The decompressed log passed a limit; the message names the setting."""


class Changed(Exception):
    """The bytes before the watermark changed: read the file from the start."""


class LongLine(bytes):
    """The first bytes of a line longer than MAX_LINE; ``size`` is its real length."""

    size: int


def limit(name: str, default: int) -> int:
    """A positive integer setting from the environment (the default when unset or unusable)."""
    try:
        value = int(os.environ.get(name, default))
    except ValueError:
        return default
    return value if value > 0 else default


def newline_of(head: bytes) -> bytes:
    """CR when the head has CR line ends and no LF; LF otherwise."""
    return b"\r" if b"\r" in head and b"\n" not in head else b"\n"


class Lines:
    """``(line number, bytes)`` of the non-blank lines of ``fh`` from byte 0 or
    from a watermark; ``lines`` and ``offset`` count the complete lines (and
    their bytes) consumed so far, the blank ones included."""

    def __init__(self, fh: IO[bytes], *, name: str, newline: bytes = b"\n", raw: IO[bytes] | None = None,
                 max_line: int | None = None, start: bytes = b"") -> None:
        self.fh, self.name, self.newline, self.raw = fh, name, newline, raw
        self.max_line = max_line or MAX_LINE
        self.lines = 0
        self.offset = 0
        self.digest = hashlib.sha1()
        self.max_bytes = limit("PROVEX_MAX_LOG_BYTES", 64 * 1024**3)
        self.max_ratio = limit("PROVEX_MAX_GZIP_RATIO", 100)
        self._read = len(start)
        self._pending = start  # bytes already taken from fh, read first
        self._read1 = getattr(fh, "read1", fh.read)
        self._over = False

    def prefix_sha(self) -> str:
        """The hash of the bytes consumed so far (the watermark keeps it)."""
        return self.digest.hexdigest()

    def skip(self, offset: int, lines: int, expected_sha: str) -> None:
        """Move past the first ``offset`` bytes (``lines`` lines) without parsing
        them; :class:`Changed` if they are not the bytes the watermark saw."""
        left = offset
        while left:
            block = self._block(min(BLOCK, left))
            if not block:
                raise Changed
            self.digest.update(block)
            left -= len(block)
        if self.digest.hexdigest() != expected_sha:
            raise Changed
        self.lines, self.offset = lines, offset

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        newline, blanks = self.newline, _BLANKS[self.newline]
        buf = b""
        while block := self._block(BLOCK):
            buf = buf + block if buf else block
            pos = 0
            while True:
                skipped = blanks.match(buf, pos)
                if skipped:
                    self.lines += buf.count(newline, pos, skipped.end())
                    pos = skipped.end()
                nl = buf.find(newline, pos)
                if nl < 0:
                    break
                size, start, pos = nl + 1 - pos, pos, nl + 1
                self.lines += 1
                yield self.lines, (buf[start:pos] if size <= self.max_line else self._long(buf[start:start + 2000], size))
            self._hash(buf, pos)
            buf = buf[pos:]
            if len(buf) > self.max_line:
                yield self.lines + 1, self._rest_of_long_line(buf)
                buf = b""
        if buf.strip():
            yield self.lines + 1, buf  # a last line without its line end: not counted (read again next time)

    def _hash(self, buf: bytes, end: int) -> None:
        self.digest.update(memoryview(buf)[:end])
        self.offset += end

    def _long(self, head: bytes, size: int) -> LongLine:
        long = LongLine(head + self.newline)
        long.size = size
        return long

    def _rest_of_long_line(self, buf: bytes) -> LongLine:
        """Skip to the end of a line past MAX_LINE in bounded pieces."""
        head, size = buf[:2000], 0
        while True:
            nl = buf.find(self.newline)
            if nl >= 0:
                size += nl + 1
                self._hash(buf, nl + 1)
                self.lines += 1
                self._pending = buf[nl + 1:]
                return self._long(head, size)
            size += len(buf)
            self._hash(buf, len(buf))
            buf = self._block(BLOCK)
            if not buf:
                self.lines += 1
                return self._long(head, size)

    def _block(self, size: int) -> bytes:
        pending = self._pending
        if pending:
            self._pending = pending[size:]
            return pending[:size]
        block = b"" if self._over else self._read1(size)  # what it has: a truncated gzip keeps the lines before the cut
        if self.raw is not None and (self._over or self._read + len(block) > self.max_bytes):
            block, self._over = block[:self.max_bytes - self._read], True  # read up to the limit, stop after
            if not block:
                raise TooLarge(f"{self.name} expands to more than {self.max_bytes:,} bytes; the rest was not read. "
                               "Raise PROVEX_MAX_LOG_BYTES if the file is genuine")
        self._read += len(block)
        self._guard()
        return block

    def _guard(self) -> None:
        if self.raw is None:
            return
        if self._read > RATIO_AFTER:
            packed = max(self.raw.tell(), 1)
            if self._read / packed > self.max_ratio:
                raise TooLarge(f"{self.name} expands more than {self.max_ratio}x its compressed size "
                               f"({self._read:,} bytes from {packed:,}: a decompression bomb?); the rest was not read. "
                               "Raise PROVEX_MAX_GZIP_RATIO if the file is genuine")
