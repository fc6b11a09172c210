"""The one scrubber for credentials in URIs, wherever provex shows or stores one:
messages and logs, ``Source`` and ``IngestRun`` nodes, every record an adapter
yields, the app, ``NEO4J_URI``.

:func:`scrubbed` finds every ``scheme://...`` in a text and removes from it

- the userinfo (``user:password@``), cut at the *last* ``@`` of the authority,
  so a password holding ``@`` or ``:`` (``http://alice:se@cret@host``), or
  percent-encoded (``s%40cret``), goes whole;
- a malformed authority's credentials: when the authority has a ``:`` not
  followed by a port (``alice:pa/ss@host``: a raw ``/``, ``?``, ``#`` or
  space inside the password ended the authority early), everything up to
  the next ``@`` on the line goes too;
- the value of every query or fragment parameter whose name looks secret
  (``token``, ``access_token``, ``key``, ``password``, ``sig``, ``secret``,
  ``X-Amz-*`` ... matched after percent-decoding the name), as ``***``.

It never parses with :func:`urllib.parse.urlsplit` (which raises on a
malformed authority such as ``http://[::1:Secret@...``, and a caller that
falls back to the raw text prints the secret) and never raises. A text
without ``://`` is returned as it is (the fast path). A token stops at
whitespace, quotes, ``<>``, backticks and backslashes, so a URI inside JSON
text or a shell word is cut without breaking the JSON or the quoting.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any
from urllib.parse import unquote_plus

from provex.vocab.records import Conflict, Edge, Entry, Flag, Node, Record, Reject

MASK = "***"
_URI = re.compile(r"(?<![A-Za-z0-9+.\-])([A-Za-z][A-Za-z0-9+.\-]*://)([^\s'\"<>`\\]*)")
_PORT = re.compile(r"(?:\[[^\]]*\])?(?::\d*)?")  # what may follow the host: a bracketed IPv6 literal, a port
_SECRET_KEY = re.compile(r"token|secret|passw|pwd|key|sig|credential|auth|session|^x-amz-|^x-goog-|^code$", re.I)


def scrubbed(text: str) -> str:
    """``text`` with the credentials of every URI in it removed (see the module)."""
    if "://" not in text:
        return text
    out, pos = [], 0
    for match in _URI.finditer(text):
        if match.start() < pos:  # swallowed by the malformed authority before it
            continue
        scheme, rest = match.group(1), match.group(2)
        clean, end = _one(scheme, rest, text, match.end())
        out.append(text[pos:match.start()])
        out.append(clean)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def shown_uri(uri: str) -> str:
    """``uri`` as messages, nodes and logs show it: without credentials."""
    return scrubbed(uri)


def _one(scheme: str, rest: str, text: str, end: int) -> tuple[str, int]:
    """One URI (``scheme`` + ``rest``, ending at ``end`` in ``text``) scrubbed,
    and where in ``text`` the scrubbed part ends."""
    cut = _authority_end(rest)
    authority, tail = rest[:cut], rest[cut:]
    if "@" in authority:
        authority = authority.rsplit("@", 1)[1]
    elif _malformed(authority):
        at = tail.rfind("@")
        if at >= 0:
            authority, tail = "", tail[at + 1:]
        else:
            line_end = text.find("\n", end)
            line_end = len(text) if line_end < 0 else line_end
            later = text.find("@", end, line_end)
            if later >= 0 and "://" not in text[end:later]:  # a space inside the password ended the token
                rest_start = later + 1
                more = _URI_TAIL.match(text, rest_start)
                tail_text = more.group(0) if more else ""
                return scheme + _query(tail_text), rest_start + len(tail_text)
    return scheme + authority + _query(tail), end


_URI_TAIL = re.compile(r"[^\s'\"<>`\\]*")


def _authority_end(rest: str) -> int:
    for i, char in enumerate(rest):
        if char in "/?#":
            return i
    return len(rest)


def _malformed(authority: str) -> bool:
    """An authority with a ``:`` that is not a port (a password cut short), or an unclosed ``[``."""
    if not authority:
        return False
    if authority.startswith("[") and "]" not in authority:
        return True
    host = authority
    if host.startswith("["):
        host = host[host.index("]") + 1:]
        return _PORT.fullmatch(host) is None
    return ":" in host and _PORT.fullmatch(host[host.index(":"):]) is None


def _query(tail: str) -> str:
    """The path, query and fragment with the values of secret-looking parameters masked."""
    if "=" not in tail or not any(c in tail for c in "?#;"):
        return tail
    return re.sub(r"([?&#;])([^=&#;?]+)=([^&#;]*)", _mask, tail)


def _mask(match: re.Match[str]) -> str:
    sep, key, value = match.groups()
    return f"{sep}{key}={MASK}" if value and _SECRET_KEY.search(unquote_plus(key)) else match.group(0)


# ---- records -----------------------------------------------------------------------------------------


def scrub_record(record: Record) -> Record:
    """``record`` with every URI credential removed from its text: uids, property
    values (lists too), sources, reject reasons and raw text, flag messages.
    The same record object when there is nothing to remove (the common case)."""
    if isinstance(record, Node):
        props = _props(record.props)
        uid, source = _text(record.ref.uid), _text(record.source)
        if props is None and uid is record.ref.uid and source is record.source:
            return record
        return replace(record, ref=replace(record.ref, uid=uid), props=record.props if props is None else props,
                       source=source)
    if isinstance(record, Edge):
        props = _props(record.props)
        src, dst, source = _text(record.src.uid), _text(record.dst.uid), _text(record.source)
        if props is None and src is record.src.uid and dst is record.dst.uid and source is record.source:
            return record
        return replace(record, src=replace(record.src, uid=src), dst=replace(record.dst, uid=dst),
                       props=record.props if props is None else props, source=source)
    if isinstance(record, Reject):
        return replace(record, file=_text(record.file), reason=_text(record.reason), raw=_text(record.raw))
    if isinstance(record, Flag):
        return replace(record, file=_text(record.file), message=_text(record.message))
    if isinstance(record, Entry):  # an input record's records and the claims they stand on
        return replace(record, records=tuple(scrub_record(r) for r in record.records),
                       claims=tuple(replace(c, src=replace(c.src, uid=_text(c.src.uid)),
                                            dst=replace(c.dst, uid=_text(c.dst.uid))) for c in record.claims),
                       file=_text(record.file), raw=_text(record.raw))
    if isinstance(record, Conflict):
        return replace(record, key=_text(record.key), first=_text(record.first), later=_text(record.later),
                       file=_text(record.file), raw=_text(record.raw))
    return record  # Facts: scrubbed by the prediction store, a chunk at a time (store/table.py)


def _text(value: str) -> str:
    return scrubbed(value) if isinstance(value, str) and "://" in value else value


def _props(props: Any) -> dict[str, Any] | None:
    """Scrubbed props, or None when nothing changed."""
    changed = None
    for key, value in props.items():
        if type(value) is str:
            if "://" not in value:
                continue
            new: Any = scrubbed(value)
        elif type(value) is list and any(type(v) is str and "://" in v for v in value):
            new = [_text(v) for v in value]
        else:
            continue
        if new != value:
            changed = changed if changed is not None else dict(props)
            changed[key] = new
    return changed
