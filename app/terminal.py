"""Text for a terminal: nothing an ingested file says reaches it as a control.

Any text that came from a source (an id, a path, a reason quoting a line) may
hold terminal controls: ``ESC[2J`` clears the screen, ``ESC]0;...BEL`` sets the
window title, ``ESC]8;;URL`` makes a hidden hyperlink, a C1 ``\\x9b`` is CSI
on its own, a bidi override reorders what is shown. :func:`visible` replaces
every C0 and C1 control, DEL and the bidi controls by a visible escape
(``\\u001b``, ``\\n``); escape *sequences* are harmless once their introducer is
text.

While a command runs, ``sys.stdout`` and ``sys.stderr`` are :class:`Guard`
streams (:func:`guarded`, installed by the CLI's group): whatever is written
(tables, summaries, headlines, progress lines, errors, on a TTY or piped)
has URI credentials removed (:func:`provex.vocab.secrets.scrubbed`) and its
controls made visible, newlines and tabs kept. ``--format json`` never holds
a raw control (JSON escapes them: ``\\u001b``), and the escapes used here are
JSON's own, so a JSON document stays valid even so. Formats whose bytes are
data for another program (csv, sh) are written :func:`exact` when piped:
credentials still removed, controls kept as they are. rich, which draws its
own escape codes, writes to the stream under the guard (:func:`raw`); the
cells it is given are made visible first (:func:`provex.app.output.cell`).
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Iterator
from typing import IO, Any

from provex.vocab.secrets import scrubbed

_SHORT = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}
_BIDI = [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_CONTROLS = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), *_BIDI]
#: Every control -> its visible escape; the guard's table keeps newlines and tabs.
_ALL = {c: _SHORT.get(chr(c), f"\\u{c:04x}") for c in _CONTROLS}
_LINES = {c: e for c, e in _ALL.items() if chr(c) not in "\n\t"}


def visible(text: str, *, lines: bool = False) -> str:
    """``text`` with every control shown as an escape; ``lines``: newlines and tabs kept."""
    return text.translate(_LINES if lines else _ALL)


def shown(text: Any) -> str:
    """Data as one line of terminal text: credentials removed, every control visible."""
    return visible(scrubbed(str(text)))


class Guard(io.TextIOBase):
    """A text stream that writes ``scrubbed`` and ``visible`` text to ``inner``."""

    def __init__(self, inner: IO[str]) -> None:
        super().__init__()
        self.inner = inner
        self.exact = False

    def write(self, text: str) -> int:
        clean = scrubbed(text)
        if not (self.exact and not self.inner.isatty()):
            clean = visible(clean, lines=True)
        self.inner.write(clean)
        return len(text)

    def flush(self) -> None:
        self.inner.flush()

    def isatty(self) -> bool:
        return self.inner.isatty()

    def fileno(self) -> int:
        return self.inner.fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.inner, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self.inner, "errors", None)

    def close(self) -> None:  # never closes the real stream
        self.flush()


@contextlib.contextmanager
def guarded() -> Iterator[None]:
    """``sys.stdout`` / ``sys.stderr`` guarded for the duration (once: nested calls do nothing)."""
    if isinstance(sys.stdout, Guard) or isinstance(sys.stderr, Guard):
        yield
        return
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = Guard(saved[0]), Guard(saved[1])
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        sys.stdout, sys.stderr = saved


@contextlib.contextmanager
def exact(stream: IO[str] | None = None) -> Iterator[None]:
    """Data for another program (csv, a shell script): written as it is when
    piped (credentials still removed); made visible on a terminal, as any text."""
    target = stream if stream is not None else sys.stdout
    if not isinstance(target, Guard):
        yield
        return
    before, target.exact = target.exact, True
    try:
        yield
    finally:
        target.exact = before


def raw(stream: IO[str]) -> IO[str]:
    """The stream under a guard, for rich (which writes its own escape codes;
    what it is given must be made :func:`visible` first)."""
    return stream.inner if isinstance(stream, Guard) else stream
