"""The prediction store: every ingested prediction, as Parquet files beside the
graph, read in-process with DuckDB (DESIGN, "Facts beside the graph").

The graph keeps lineage and hourly groups; individual predictions are read
from here: by uid, by subject or household, by model version and time, by id
prefix. Files are standard Parquet (pandas, DuckDB, Spark or Trino read them);
``manifest.json`` lists the live ones. See :mod:`provex.store.location` for
the layout, :mod:`provex.store.append` for how an ingest writes.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from pyarrow import fs as pafs

from provex.store.append import Append
from provex.store.files import STAGING
from provex.store.location import Location
from provex.store.manifest import Manifest, Manifests, write_atomically
from provex.vocab.errors import SourceError

RESOLUTION = "resolution.json"
AMBIGUOUS = "ambiguous.json"  # logged references with several candidates (lineage-gaps lists them)
RETIRE_AFTER = 600.0  # seconds a file merged away stays for readers that hold an older manifest


class Store:
    """One store root. Cheap to make; DuckDB is started on first read."""

    def __init__(self, location: str | None = None) -> None:
        self.location = Location.of(location)
        self.manifests = Manifests(self.location)
        self._duck: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Store({self.location.uri!r})"

    def duck(self) -> Any:
        """A DuckDB cursor of this store's in-process database (one per call: threads may share the store)."""
        with self._lock:
            if self._duck is None:
                import duckdb

                spill = Path(tempfile.gettempdir()) / f"provex-duckdb-{os.getpid()}"
                self._duck = duckdb.connect(config={"threads": 2, "memory_limit": "512MB", "temp_directory": str(spill),
                                                    "preserve_insertion_order": False})
            return self._duck.cursor()

    def append(self, ingest: str) -> Append:
        self.location.filesystem.create_dir(self.location.root, recursive=True)
        return Append(self, ingest)

    def manifest(self) -> Manifest:
        try:
            return self.manifests.load()
        except (OSError, ValueError) as exc:
            raise SourceError(f"Cannot read the prediction store at {self.location.uri}: {exc}. "
                              "Check PROVEX_PREDICTIONS (or remove a damaged manifest.json).") from None

    def readable(self, relative: str) -> str:
        return self.location.readable(relative)

    # ---- resolution: unresolved references -> model versions, kept beside the files

    def resolution(self) -> list[dict[str, Any]]:
        return self._json(RESOLUTION)

    def set_resolution(self, rows: list[dict[str, Any]]) -> None:
        self._set_json(RESOLUTION, rows)

    def ambiguous(self) -> list[dict[str, Any]]:
        """References the resolver found several candidates for: ``{ref, partition, candidates, evidence}``."""
        return self._json(AMBIGUOUS)

    def set_ambiguous(self, rows: list[dict[str, Any]]) -> None:
        self._set_json(AMBIGUOUS, rows)

    def _json(self, name: str) -> list[dict[str, Any]]:
        fs, path = self.location.filesystem, self.location.path(name)
        if fs.get_file_info(path).type == pafs.FileType.NotFound:
            return []
        with fs.open_input_stream(path) as fh:
            return json.loads(fh.read())

    def _set_json(self, name: str, rows: list[dict[str, Any]]) -> None:
        self.location.filesystem.create_dir(self.location.root, recursive=True)
        write_atomically(self.location, name, json.dumps(rows, sort_keys=True).encode())

    # ---- housekeeping

    def sweep(self, manifest: Manifest) -> int:
        """Remove the files no reader can need: those an interrupted ingest left
        (no manifest entry), and retired ones (merged by compaction) once
        RETIRE_AFTER has passed. Called after each commit (one writer at a time)."""
        fs, removed, now = self.location.filesystem, 0, time.time()
        live = set(manifest.files)
        for top in ("data", "ids", "keys", "links", "dangling", STAGING):
            base = self.location.path(top)
            if fs.get_file_info(base).type == pafs.FileType.NotFound:
                continue
            for info in fs.get_file_info(pafs.FileSelector(base, recursive=True)):
                relative = info.path[len(self.location.root) + 1:]
                if info.type != pafs.FileType.File or relative in live:
                    continue
                since = manifest.retired.get(relative)
                if since is None or now - since >= RETIRE_AFTER:
                    fs.delete_file(info.path)
                    removed += 1
        kept = {p: t for p, t in manifest.retired.items() if now - t < RETIRE_AFTER}
        if kept != manifest.retired:
            manifest.retired = kept
            self.manifests.save(manifest)
        return removed

    def clear(self) -> None:
        """Delete every prediction (tests, ``provex reset``)."""
        fs = self.location.filesystem
        if fs.get_file_info(self.location.root).type != pafs.FileType.NotFound:
            fs.delete_dir_contents(self.location.root)
        self.manifests = Manifests(self.location)

    # ---- reads (provex.store.query)

    def rows_at(self, where: list[tuple[str, int]]) -> dict[tuple[str, int], dict[str, Any]]:
        from provex.store.query import rows_at

        return rows_at(self, where)

    def get(self, uids: list[str]) -> list[dict[str, Any]]:
        from provex.store.query import get

        return get(self, uids)


__all__ = ["Store", "Append", "Manifest"]
