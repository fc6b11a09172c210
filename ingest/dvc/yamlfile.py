"""Reading YAML safely: ruamel's safe loader (YAML 1.2, as DVC), a Reject
naming the line of a syntax error, and the shape check (no alias bombs, no
nesting deeper than :data:`provex.vocab.values.MAX_DEPTH`) before anything
walks a document. :func:`chunk_loader` gives a loader that parses the unchanged
pieces of a file once per ingest (:mod:`provex.ingest.dvc.chunks`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import ScalarNode

from provex.ingest.dvc.chunks import ChunkLoader
from provex.vocab import values
from provex.vocab.records import Reject

Load = Callable[[str], Any]


def load_yaml(file: str, raw: bytes | None, load: Load | None = None) -> tuple[Any, list[Reject]]:
    """Parsed YAML (or JSON) or a Reject naming the line of the error; ``load``
    parses the text (:func:`safe_load`, or a :class:`ChunkLoader`'s ``load``)."""
    label = file
    if raw is None:
        return None, [Reject(label, None, "cannot read the file; check it exists and is readable")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, [Reject(label, None, "not UTF-8 text; save the file as UTF-8 YAML")]
    try:
        return (load or safe_load)(text), []
    except HostileYAML as exc:
        return None, [Reject(label, None, f"{exc}; provex does not read it", text[:200])]
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        reason = f"invalid YAML: {exc.problem or exc.context}; fix the syntax at that line"
        return None, [Reject(label, line, reason, _line_text(text, line))]
    except (YAMLError, ValueError) as exc:
        return None, [Reject(label, None, f"invalid YAML: {exc}; fix the file", text[:200])]


class HostileYAML(ValueError):
    """A YAML document too big once expanded, or too deep, to read safely."""


def safe_load(text: str) -> Any:
    """ruamel's safe load, then the shape check; raises HostileYAML or YAMLError."""
    return _checked(_YAML.load, text)


def _checked(load: Load, text: str) -> Any:
    try:
        data = load(text)
    except RecursionError:
        raise HostileYAML(f"YAML nested too deeply to read (more than {values.MAX_DEPTH} levels)") from None
    check_shape(data)
    return data


def check_shape(data: Any) -> None:
    """HostileYAML when a parsed document is too big once expanded, or too deep."""
    bad = values.problem(data)
    if bad:
        raise HostileYAML(f"the YAML {bad}")


def chunk_loader(hashes_as_text: bool = False) -> ChunkLoader:
    """A :func:`safe_load` that parses each unchanged piece of a file once (see
    :mod:`.chunks`); ``hashes_as_text``: hash fields read as written (dvc.lock, .dvc files)."""
    loader = Loader(hashes_as_text)
    whole = (lambda text: _checked(loader.load, text)) if hashes_as_text else safe_load
    return ChunkLoader(whole, loader.load, check_shape)


#: Keys whose value is a hash: read as the text written in the file, never as a YAML number.
HASH_KEYS = frozenset({"md5", "etag", "checksum", "rev_lock"})
_TEXT_TAGS = {"tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null"}


class HashConstructor(SafeConstructor):
    """ruamel's safe constructor, except that a plain scalar under a hash key
    (:data:`HASH_KEYS`) stays the text written: ``md5: 00000000000000000000000000000e10``
    is a hash, not the float 0.0, and ``md5: 0123...`` keeps its leading zero.
    An empty value stays null (no hash); a mapping or list stays one (and the
    hash check refuses it)."""

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        mapping = super().construct_mapping(node, deep=deep)
        for key_node, value_node in node.value:
            if (isinstance(key_node, ScalarNode) and key_node.value in HASH_KEYS and isinstance(value_node, ScalarNode)
                    and value_node.tag in _TEXT_TAGS and value_node.value not in ("", "~", "null", "Null", "NULL")):
                mapping[key_node.value] = value_node.value
        return mapping


class Loader:
    """ruamel's safe loader (YAML 1.2), replaced after any failure: ruamel keeps
    a failed document's half-built state, and the next load would go on with it
    (another file's duplicate key reported for this one)."""

    def __init__(self, hashes_as_text: bool = False) -> None:
        self.hashes_as_text = hashes_as_text
        self._yaml = self._new()

    def _new(self) -> YAML:
        yaml = YAML(typ="safe", pure=False)
        if self.hashes_as_text:
            yaml.Constructor = HashConstructor
        return yaml

    def load(self, text: str) -> Any:
        try:
            return self._yaml.load(text)
        except BaseException:
            self._yaml = self._new()
            raise


_YAML = Loader()


def _line_text(text: str, line: int | None) -> str:
    lines = text.splitlines()
    return lines[line - 1] if line and 0 < line <= len(lines) else ""


def load_values(path: str, raw: bytes | None) -> Any:
    """A metrics/params file's content (JSON or YAML), or None if unreadable."""
    if raw is None:
        return None
    try:
        data = json.loads(raw) if path.endswith(".json") else safe_load(raw.decode("utf-8"))
    except (ValueError, YAMLError, RecursionError):  # UnicodeDecodeError and HostileYAML are ValueErrors
        return None
    return None if values.problem(data) else data
