"""What a source's files say about hashes and paths, checked before provex uses it.

A hash read from a file is an identity, and for DVC also a cache path
(``.dvc/cache/files/md5/ab/cdef...``): ``md5: ../etc/passwd`` in a dvc.lock
must never open that file. So every hash is checked against the form of
its kind (:data:`FORMS`) before any use; an invalid one is a
:class:`BadHash` naming the file and the key, which the adapter turns into
a Reject.

A path derived from file contents (a DVC output path, a cache object, an
MLflow artifact or dataset file, a symlink inside a source folder) is read
only through :func:`inside`: resolved, symlinks followed, it must lie inside
one of the allowed roots (the source's root, the DVC cache), else
:class:`Outside` and nothing is read.

Every adapter and ``provex reproduce --verify`` use these few functions;
nothing else in provex turns a value from a file into a hash or a path.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from provex.vocab.errors import ReadFailed

#: Hash kind -> its form (matched whole).
FORMS: dict[str, re.Pattern[str]] = {
    "md5": re.compile(r"[0-9a-f]{32}(?:\.dir)?"),  # DVC: 32 lowercase hex digits; a folder's ends in .dir
    "md5-file": re.compile(r"[0-9a-f]{32}"),  # a member of a DVC .dir manifest: a file, never a folder
    "etag": re.compile(r"[\x21-\x7e]{1,256}"),  # an object store's etag (S3 "<hex>-<parts>", quoted, 0x...)
    "checksum": re.compile(r"[\x21-\x7e]{1,256}"),  # DVC 0.x / HDFS checksums
    "git": re.compile(r"[0-9a-f]{7,64}"),  # a git commit id (SHA-1 or SHA-256, full or abbreviated)
    "mlflow-digest": re.compile(r"[0-9A-Za-z_\-]{1,128}"),  # MLflow's dataset digest (8 hex by default)
}
WHAT = {
    "md5": "a DVC md5 (32 lowercase hex digits, a folder's followed by .dir)",
    "md5-file": "a DVC md5 (32 lowercase hex digits)",
    "etag": "an etag (1-256 printable ASCII characters, no spaces)",
    "checksum": "a checksum (1-256 printable ASCII characters, no spaces)",
    "git": "a git commit id (7-64 lowercase hex digits)",
    "mlflow-digest": "an MLflow dataset digest (1-128 letters, digits, _ or -)",
}


class BadHash(ReadFailed):
    """A hash field whose value is not a hash of its kind; the message names the file and key."""


class Outside(ReadFailed):
    """A path derived from a file that leads outside every allowed root; nothing was read."""


def hash_problem(kind: str, value: Any) -> str | None:
    """Why ``value`` is not a hash of ``kind`` (None when it is)."""
    if not isinstance(value, str):
        return f"is {type(value).__name__} {_brief(value)}, not text"
    if not FORMS[kind].fullmatch(value):
        return f"{_brief(value)} is not {WHAT[kind]}"
    return None


def checked_hash(kind: str, value: Any, file: str, key: str) -> str:
    """``value`` when it is a hash of ``kind``; else BadHash naming ``file`` and ``key``."""
    problem = hash_problem(kind, value)
    if problem:
        raise BadHash(f"{file}: {key} {problem}; fix the value (a hash is never a path)")
    return value


def cache_object(cache: Path, md5: str) -> list[Path]:
    """Where DVC keeps the object of ``md5`` under ``cache`` (DVC 3's ``files/md5/``
    layout, then the older one), for a checked md5 only."""
    checked_hash("md5", md5, str(cache), "md5")
    return [cache / "files" / "md5" / md5[:2] / md5[2:], cache / md5[:2] / md5[2:]]


def inside(path: str | Path, roots: Iterable[str | Path], base: str | Path | None = None) -> Path:
    """``path`` (relative to ``base``, else to the first root) resolved, symlinks
    followed; Outside unless it lies inside one of ``roots`` (each resolved too)."""
    allowed = [Path(os.path.realpath(r)) for r in roots]
    start = Path(base) if base is not None else Path(allowed[0])
    text = str(path)
    if "\x00" in text:
        raise Outside(f"{_brief(text)}: a path with a NUL character; not read")
    target = Path(os.path.realpath(start / text))
    if not any(target == root or root in target.parents for root in allowed):
        raise Outside(f"{_brief(text)} leads to {target}, outside {' and '.join(map(str, allowed))}; not read")
    return target


def cache_root(project: str | Path) -> Path | None:
    """The project's DVC cache folder (``.dvc/cache``, resolved: it may be a link
    to another disk), or None when it is absent or would widen the roots to the
    project itself or above it (a linked ``.dvc/cache -> /``)."""
    link = Path(project) / ".dvc" / "cache"
    if not link.is_dir():
        return None
    real, top = Path(os.path.realpath(link)), Path(os.path.realpath(project))
    if real == top or real in top.parents or real == Path(real.anchor):
        return None
    return real


def _brief(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
