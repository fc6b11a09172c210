"""Small JSON/YAML files a pipeline stage writes beside its model
(``models/metadata.json``, ``model_info.yaml``, ...), read into their data
version, so a model version named there (a training timestamp, a git sha)
resolves the predictions that log it and search finds what they say.

Each output of a stage run that is a ``.json`` / ``.yaml`` / ``.yml`` file of at
most :data:`MAX_BYTES` (and the few such files inside a folder output: its
``.dir`` manifest lists them) gets ``meta_file`` (its path) and its scalar
values as ``meta.<key>`` (nested keys joined by dots, list items by index;
at most :data:`MAX_KEYS`, values cut at :data:`MAX_VALUE` characters).
Metrics and plots outputs are not read here (the run holds its metrics).

The bytes are looked up, in order: the project's DVC cache by md5, git at the
commit being read (outputs kept in git), the work tree when the file there
has the locked md5. A hash is used only when it is 32 hex digits; every path
is resolved (symlinks followed) and read only inside the project root or its
DVC cache, and only a regular file no bigger than the cap. A file that cannot
be parsed is a Flag, never an error.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ruamel.yaml.error import YAMLError

from provex.ingest import jsontext
from provex.ingest.dvc import files as f
from provex.ingest.dvc import yamlfile
from provex.ingest.dvc.git import Snapshot
from provex.vocab import model, values
from provex.vocab.records import Flag, Node

MAX_BYTES = 64 * 1024  # a metadata file; bigger files are data, not read here
MAX_KEYS = 200  # values kept per file
MAX_VALUE = 256  # characters of one value
MAX_KEY = 128  # characters of one key
MAX_MEMBERS = 5  # metadata files read inside one folder output
MAX_MANIFEST = 4 * 1024 * 1024  # a folder's .dir manifest read to find them
SUFFIXES = (".json", ".yaml", ".yml")
PREFIX = "meta."
_MD5 = re.compile(r"[0-9a-f]{32}")
_HINTS = ("meta", "info", "version", "card", "manifest", "model")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def wanted(path: str) -> bool:
    return path.lower().endswith(SUFFIXES)


class MetadataReader:
    """Reads the metadata files of one DVC project during one ingest."""

    def __init__(self, root: str) -> None:
        self.root = Path(os.path.realpath(root))
        cache = Path(os.path.realpath(self.root / ".dvc" / "cache"))
        # a cache linked to the project itself or above it would widen what may be read: not used
        usable = cache.is_dir() and cache != self.root and cache not in self.root.parents and cache != Path(cache.anchor)
        self.cache = cache if usable else None
        self._done: set[str] = set()
        self._yaml = yamlfile.Loader()
        self.flags: list[Flag] = []

    def records(self, snap: Snapshot, out: f.Out, src: str, kind: str | None = None) -> Iterator[Node]:
        """The metadata of one stage output (once per content hash in an ingest)."""
        if kind in ("metrics", "plots") or not out.hash or out.hash in self._done or out.hash_kind != "md5":
            return
        if not (out.is_dir or wanted(out.path)):
            return
        self._done.add(out.hash)
        props = self._folder(out, src) if out.is_dir else self._file(snap, out, src)
        if props:
            yield Node(model.data_version(out.path, out.hash), props, src)

    # ---- one file, one folder -----------------------------------------------------------------------

    def _file(self, snap: Snapshot, out: f.Out, src: str) -> dict[str, Any]:
        if out.size is not None and out.size > MAX_BYTES:
            return {}
        raw = self._bytes(snap, out)
        if raw is None:
            return {}
        values = self._parse(out.path, raw, src)
        return {"meta_file": out.path, **values} if values else {}

    def _folder(self, out: f.Out, src: str) -> dict[str, Any]:
        manifest = self._cached(out.hash or "")
        if manifest is None:
            return {}
        try:
            entries = json.loads(manifest.read_bytes()) if manifest.stat().st_size <= MAX_MANIFEST else None
        except (OSError, ValueError):
            entries = None
        if not isinstance(entries, list):
            return {}
        members = sorted(((str(e.get("relpath")), e.get("md5")) for e in entries
                          if isinstance(e, dict) and wanted(str(e.get("relpath")))),
                         key=lambda m: (not any(h in m[0].lower() for h in _HINTS), m[0]))[:MAX_MEMBERS]
        props: dict[str, Any] = {}
        for rel, md5 in members:
            local = self._cached(md5) if isinstance(md5, str) else None
            raw = _small(local) if local else None
            values = self._parse(f"{out.path}/{rel}", raw, src) if raw is not None else {}
            if values:
                props.setdefault("meta_file", f"{out.path.rstrip('/')}/{rel}")
                props.setdefault("meta_files", []).append(f"{out.path.rstrip('/')}/{rel}")
                props.update({k: v for k, v in values.items() if k not in props})
        return props

    # ---- bytes, confined ----------------------------------------------------------------------------

    def _bytes(self, snap: Snapshot, out: f.Out) -> bytes | None:
        local = self._cached(out.hash or "")
        if local is not None:
            return _small(local)
        if snap.commit is not None and snap.exists(out.path):
            raw = snap.read(out.path)
            if raw is not None and len(raw) <= MAX_BYTES and _matches(raw, out):
                return raw
        local = self._inside(self.root / out.path, [self.root])
        raw = _small(local) if local else None
        return raw if raw is not None and _matches(raw, out) else None

    def _cached(self, md5: str) -> Path | None:
        """The cache object of a checked md5 (DVC 3 layout, then the older one), inside the cache."""
        if self.cache is None or not _MD5.fullmatch(md5.removesuffix(".dir")):
            return None
        for candidate in (self.cache / "files" / "md5" / md5[:2] / md5[2:], self.cache / md5[:2] / md5[2:]):
            found = self._inside(candidate, [self.cache])
            if found is not None:
                return found
        return None

    @staticmethod
    def _inside(path: Path, roots: list[Path]) -> Path | None:
        """``path`` resolved (symlinks followed) when it is a regular file inside one of ``roots``."""
        if "\x00" in str(path):
            return None
        target = Path(os.path.realpath(path))
        if not any(target == r or r in target.parents for r in roots):
            return None
        return target if target.is_file() else None

    # ---- values -------------------------------------------------------------------------------------

    def _parse(self, path: str, raw: bytes, src: str) -> dict[str, Any]:
        try:
            if path.lower().endswith(".json"):
                data, _ = jsontext.loads(raw)
            else:  # ruamel's safe loader; the shape (depth, alias bombs) is checked below, NaN allowed (and dropped)
                data = self._yaml.load(raw.decode("utf-8"))
        except (ValueError, YAMLError, RecursionError) as exc:  # UnicodeDecodeError and HostileYAML are ValueErrors
            self.flags.append(Flag("metadata-unreadable", f"{path}: {str(exc)[:200]}; its values are not used to "
                                   "resolve models or found by search", src))
            return {}
        if not isinstance(data, (dict, list)):
            return {}
        bad = values.problem(data, finite=False)  # nested too deep, an alias bomb, a NUL key
        if bad:
            self.flags.append(Flag("metadata-unreadable", f"{path}: the document {bad}; its values are not used", src))
            return {}
        out: dict[str, Any] = {}
        _flatten(PREFIX.rstrip("."), data, out)
        return out


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    """Scalar leaves as ``prefix.key.sub`` / ``prefix.list.0`` (at most MAX_KEYS)."""
    if len(out) >= MAX_KEYS:
        return
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}.{_CONTROL.sub('', str(key))[:MAX_KEY]}", inner, out)  # no NUL or control in a key
    elif isinstance(value, list):
        for i, inner in enumerate(value[:MAX_KEYS]):
            _flatten(f"{prefix}.{i}", inner, out)
    elif isinstance(value, str):
        out[prefix] = value[:MAX_VALUE]
    elif isinstance(value, bool) or (isinstance(value, int) and -(2**63) <= value < 2**63):
        out[prefix] = value
    elif isinstance(value, float):
        if math.isfinite(value):  # NaN and infinities are no identifiers (and no strict JSON): left out
            out[prefix] = value
    elif hasattr(value, "isoformat"):  # a date or time YAML parsed
        out[prefix] = value.isoformat()
    elif value is not None:
        out[prefix] = str(value)[:MAX_VALUE]  # big integers


def _small(path: Path) -> bytes | None:
    try:
        if path.stat().st_size > MAX_BYTES:
            return None
        with path.open("rb") as fh:
            return fh.read(MAX_BYTES + 1)[:MAX_BYTES]
    except OSError:
        return None


def _matches(raw: bytes, out: f.Out) -> bool:
    """The bytes are the locked version (DVC < 3 hashed text with CRLF turned to LF)."""
    if hashlib.md5(raw).hexdigest() == out.hash:
        return True
    return out.scheme == "md5-dos2unix" and hashlib.md5(raw.replace(b"\r\n", b"\n")).hexdigest() == out.hash
