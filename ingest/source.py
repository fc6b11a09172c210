"""Sources as a registry: each source kind is one small class (its kind, how it
is built from a ``[[source]]`` table of provex.toml, how it reads with a
watermark), registered by kind the way the OpenLineage client registers its
transports. The CLI's ``provex ingest KIND`` subcommands and the config runner
both build ``Source`` objects and hand them to the graph's ingest pipeline;
nothing turns a config table into command-line arguments.

A new adapter adds its class in its own package and one line to ``KINDS``
(a dotted path, so nothing heavy is imported before it is used).
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

from provex.vocab.errors import UsageError
from provex.vocab.records import Record
from provex.vocab.secrets import scrub_record, shown_uri

KINDS: dict[str, str] = {
    "dvc": "provex.ingest.dvc:DvcSource",
    "mlflow": "provex.ingest.mlflow:MlflowSource",
    "predictions": "provex.ingest.predictions:PredictionLogSource",
    "openlineage": "provex.ingest.openlineage:OpenLineageSource",
}
REMOTE_SCHEMES = ("sqlite:", "http:", "https:", "file:", "s3:", "gs:")
#: Keys of a ``[[source]]`` table whose value, when given, is one piece of text (of any kind of source).
TEXT_KEYS = ("kind", "path", "rev", "tracking_uri", "mapping", "model")


class Position:
    """How far a read has got, in the source's own units (the bytes of a log,
    the commits of a repository), for a progress display's ETA. The adapter
    says what the whole is and how to read how far it is (a function, so
    nothing is updated per record); ``total`` stays None when it is unknown
    (a gzipped log, a tracking server)."""

    def __init__(self) -> None:
        self.total: int | None = None
        self.unit = ""
        self._done: Callable[[], int] = lambda: 0

    def follow(self, total: int | None, unit: str, done: Callable[[], int]) -> None:
        self.total, self.unit, self._done = total, unit, done

    @property
    def done(self) -> int:
        return self._done()


class Source(ABC):
    """One source to ingest. ``uri`` scopes its watermark (the ``Source`` node);
    ``file_based`` sources get their rejected records written beside the input;
    ``position`` tells how far the current read is, where the adapter knows."""

    kind: ClassVar[str]
    file_based: ClassVar[bool] = False

    def __init__(self, uri: str) -> None:
        self.uri = shown_uri(uri)  # the Source node and IngestRun never hold credentials
        self.position = Position()

    @classmethod
    @abstractmethod
    def from_config(cls, table: dict[str, Any], base: Path) -> list[Source]:
        """The sources one ``[[source]]`` table describes (paths relative to ``base``)."""

    @abstractmethod
    def read(self, state: dict[str, Any]) -> Iterator[Record]:
        """The source's records; ``state`` is the watermark of its last ingest."""

    def records(self, state: dict[str, Any]) -> Iterator[Record]:
        """:meth:`read`, every record with the credentials of its URIs removed
        (:func:`provex.vocab.secrets.scrub_record`): what the pipeline is handed."""
        for record in self.read(state):
            yield scrub_record(record)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.uri!r})"


def source_class(kind: str) -> type[Source]:
    """The registered class for ``kind`` (imported on first use)."""
    if kind not in KINDS:
        raise UsageError(f"Unknown source kind {kind!r}; use one of {', '.join(KINDS)}.")
    module, _, name = KINDS[kind].partition(":")
    return getattr(importlib.import_module(module), name)


def from_config(table: dict[str, Any], base: Path, where: str) -> list[Source]:
    """The sources of one ``[[source]]`` table; ``where`` names it in errors."""
    if not isinstance(table, dict):
        raise UsageError(f"{where} is not a table; write it as [[source]] with kind = \"...\".")
    for key in TEXT_KEYS:
        if key in table and not isinstance(table[key], str):
            raise UsageError(f"{where}: {key!r} must be text (in quotes), got {table[key]!r}; "
                             f'write it as {key} = "{table[key]}".')
    kind = table.get("kind")
    if kind not in KINDS:
        raise UsageError(f"{where} has kind {kind!r}; use one of {', '.join(KINDS)}.")
    try:
        return source_class(kind).from_config(table, base)
    except KeyError as exc:
        raise UsageError(f"{where}: a {kind} source needs {exc.args[0]!r}.") from None
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{where}: {exc}") from None


def local(base: Path, path: str) -> str:
    """``path`` from a config file, made absolute against the file's folder
    (URIs with a scheme are left as they are)."""
    if not isinstance(path, str):
        raise ValueError(f"expected a path, got {path!r}")
    return path if path.startswith(REMOTE_SCHEMES) else str((base / path).resolve())


def strings(table: dict[str, Any], key: str, required: bool = False) -> list[str]:
    """A list-of-strings entry (a single string is accepted as a list of one);
    ``required``: missing or empty is a KeyError."""
    if required and not table.get(key):
        raise KeyError(key)
    value = table.get(key, [])
    value = [value] if isinstance(value, str) else value
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key!r} must be a list of strings, got {value!r}")
    return value
