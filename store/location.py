"""Where the prediction store lives, and how its files are named.

``PROVEX_PREDICTIONS`` is the store's root: a local folder, or any URI a
pyarrow filesystem takes (``s3://bucket/prefix``, ``gs://bucket/prefix``,
``file:///...``). Without it, the store is ``$PROVEX_HOME/predictions``
(``~/.local/share/provex/predictions``). Point it at one store per graph.

Layout under the root (every file immutable, written under a temporary name
and renamed into place; only files the manifest lists are live)::

    manifest.json                            the live files (the commit point)
    data/part=<partition>/month=<YYYY-MM>/<ingest>-<n>.parquet   the facts
    ids/b=<x>/<ingest>.parquet               uid -> (file, row, hour)
    keys/b=<x>/<ingest>.parquet              subject/household/prediction id -> (file, row)
    links/<ingest>.parquet                   upstream uid -> downstream (chained predictions)
    dangling/<ingest>.parquet                upstream uids used but never logged (one live set)
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

from pyarrow import fs as pafs

from provex.vocab.errors import UsageError

BUCKETS = 16  # ids/ and keys/ are split by the first hex digit of md5(key)
MANIFEST = "manifest.json"


def default_root() -> str:
    home = os.environ.get("PROVEX_HOME") or str(Path.home() / ".local/share/provex")
    return os.environ.get("PROVEX_PREDICTIONS") or str(Path(home) / "predictions")


@dataclass(frozen=True)
class Location:
    """A store root on one filesystem. ``local`` roots are plain paths DuckDB reads directly."""

    uri: str
    filesystem: pafs.FileSystem
    root: str
    local: bool

    @staticmethod
    def of(uri: str | None = None) -> Location:
        uri = uri or default_root()
        if "://" not in uri:
            root = str(Path(uri).expanduser().resolve())
            return Location(uri, pafs.LocalFileSystem(), root, True)
        try:
            filesystem, root = pafs.FileSystem.from_uri(uri)
        except (ValueError, OSError) as exc:
            raise UsageError(f"PROVEX_PREDICTIONS={uri!r} is not a store location provex can open ({exc}); "
                             "give a local folder or an s3:// / gs:// URI.") from None
        return Location(uri, filesystem, root.rstrip("/"), isinstance(filesystem, pafs.LocalFileSystem))

    def path(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def readable(self, relative: str) -> str:
        """What DuckDB is given for a file: a local path, or the URI (DuckDB's httpfs reads s3:// and gs://)."""
        if self.local:
            return self.path(relative)
        scheme = self.uri.split("://", 1)[0]
        return f"{scheme}://{self.path(relative)}"


def bucket(key: str) -> str:
    """The bucket of an id: the first hex digit of its md5 (stable across versions of everything)."""
    return hashlib.md5(key.encode("utf-8", "surrogatepass")).hexdigest()[0]


def partition_dir(partition: str, month: str) -> str:
    return f"data/part={quote(partition, safe='')}/month={month}"


def partition_of_dir(name: str) -> str:
    return unquote(name.removeprefix("part="))
