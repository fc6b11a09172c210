"""Incremental YAML loading for files that change a little from commit to commit.

A ``dvc.lock`` (or ``params.yaml``) is rewritten at almost every commit, yet
only a few of its stages change. :class:`ChunkLoader` cuts the text into its
top-level keys, and ``stages:``-like sections (a key alone on its line, then
an indented mapping) into their entries, parses each piece on its own with the
same loader (the section's header line kept above an entry, the lines
unchanged) and caches the piece by its text. The document is the pieces
merged in order, then checked as a whole like any other
(:func:`provex.vocab.values.problem`).

This gives the very same value as parsing the file in one go only when no
YAML construct spans two pieces, so the loader cuts only texts made of plain
block YAML: no anchors, aliases, tags or directives, no document markers or
tabs, every quoted or flow (``[...]``, ``{...}``) value closed on its own line,
piece boundaries at plain keys only, and no key twice. Any other text, and any
piece that does not parse cleanly, is parsed whole, so errors (and the line
they name) are those of the whole file.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

#: A plain mapping key starting a line (after its indentation): where a piece may start.
_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@/+\-]*:(?: |$)")
#: A line's value: after the indentation, any ``- `` of a sequence entry and a ``key: ``.
_VALUE = re.compile(r"^ *(?:- +)*(?:[^\s#'\"\[\]{}&*!|>%@`?,:-][^#'\"\[\]{}]*?:(?: +|$))?(.*)$")
_NODE_START = set("&*!%@`?")  # anchors, aliases, tags, reserved indicators, explicit keys
_QUOTE_ESCAPES = {'"': "\\", "'": "'"}


class ChunkLoader:
    """``load(text)`` as ``whole(text)`` (which parses and checks a document),
    with ``parse(text)`` (the bare parser) applied to cached pieces."""

    def __init__(self, whole: Callable[[str], Any], parse: Callable[[str], Any],
                 check: Callable[[Any], None]) -> None:
        self.whole, self.parse, self.check = whole, parse, check
        self._pieces: dict[str, Any] = {}

    def load(self, text: str) -> Any:
        pieces = split(text)
        merged = self._merge(pieces) if pieces and (len(pieces) > 1 or pieces[0][0]) else None
        if merged is None:
            return self.whole(text)
        self.check(merged)
        return merged

    def _merge(self, pieces: list[tuple[str, list[str]]]) -> dict[Any, Any] | None:
        merged: dict[Any, Any] = {}
        for header, entries in pieces:
            parts = [self._piece(header + entry) for entry in entries] if header else [self._piece(entries[0])]
            if any(part is None for part in parts):
                return None
            key = next(iter(parts[0]))
            if key in merged:
                return None
            if not header:
                merged[key] = parts[0][key]
                continue
            section: dict[Any, Any] = {}
            for part in parts:
                inner = part.get(key)
                if not isinstance(inner, dict) or len(part) != 1 or len(inner) != 1 or next(iter(inner)) in section:
                    return None
                section.update(inner)
            merged[key] = section
        return merged

    def _piece(self, text: str) -> dict[Any, Any] | None:
        if text not in self._pieces:
            try:
                value = self.parse(text)
            except Exception:  # noqa: BLE001 - any failure: the whole file is parsed, and fails as a whole
                value = None
            self._pieces[text] = value if isinstance(value, dict) and len(value) == 1 else None
        return self._pieces[text]


def split(text: str) -> list[tuple[str, list[str]]] | None:
    """The pieces of ``text``: per top-level key, ``("", [its lines])``, or for
    a section that can be cut, ``(header line, [each entry's lines])``; None
    when the text is not plain enough to cut safely."""
    if "\t" in text or "\r" in text:
        return None
    lines = text.splitlines(keepends=True)
    if not all(_plain(line) for line in lines):
        return None
    tops = _blocks(lines, 0)
    if tops is None:
        return None
    pieces = []
    for block in tops:
        entries = _section(block)
        pieces.append((block[0], entries) if entries else ("", ["".join(block)]))
    return pieces


def _blocks(lines: list[str], indent: int) -> list[list[str]] | None:
    """``lines`` cut before each line that starts a key at ``indent``; comments
    and blank lines stay with the block above (the first block with the next)."""
    blocks: list[list[str]] = []
    pending: list[str] = []
    for line in lines:
        body = line.lstrip(" ")
        if not body.strip() or body.startswith("#"):
            (blocks[-1] if blocks else pending).append(line)
            continue
        depth = len(line) - len(body)
        if depth < indent:
            return None
        if depth == indent:
            if not _KEY.match(body):
                return None
            blocks.append(pending + [line])
            pending = []
        elif not blocks:
            return None
        else:
            blocks[-1].append(line)
    return blocks or None


def _section(block: list[str]) -> list[str] | None:
    """The entries of a ``key:``-alone section with a mapping below it, or None."""
    head, body = block[0], block[1:]
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.@/+\-]*: *\n?", head):
        return None
    first = next((line for line in body if line.strip() and not line.lstrip(" ").startswith("#")), None)
    if first is None:
        return None
    indent = len(first) - len(first.lstrip(" "))
    entries = _blocks(body, indent)
    if entries is None or len(entries) < 2:
        return None
    return ["".join(entry) for entry in entries]


def _plain(line: str) -> bool:
    """True when nothing on ``line`` may reach into another line or another piece."""
    if line.startswith(("%", "---", "...")):
        return False
    match = _VALUE.match(line.rstrip("\n"))
    value = match.group(1) if match else line
    if not value or value.startswith("#"):
        return True
    if value[0] in _NODE_START or "\x00" in value:
        return False
    if value[0] in "\"'":
        return _quoted_closes(value)
    if value[0] in "[{":
        return _flow_closes(value)
    return True


def _quoted_closes(value: str) -> bool:
    """A quoted scalar that ends on this line (then only spaces or a comment)."""
    quote, escape = value[0], _QUOTE_ESCAPES[value[0]]
    i = 1
    while i < len(value):
        char = value[i]
        if escape == "\\" and char == "\\":
            i += 2
            continue
        if char == quote:
            if escape == quote and value[i + 1:i + 2] == quote:
                i += 2
                continue
            rest = value[i + 1:].strip()
            return not rest or rest.startswith("#")
        i += 1
    return False


def _flow_closes(value: str) -> bool:
    """A flow collection without quotes, anchors or aliases that closes on this line."""
    if any(c in value for c in "\"'&*!"):
        return False
    depth = 0
    for i, char in enumerate(value):
        depth += (char in "[{") - (char in "]}")
        if depth == 0:
            rest = value[i + 1:].strip()
            return not rest or rest.startswith("#")
    return False
