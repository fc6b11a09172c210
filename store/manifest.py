"""The manifest: which files of the store are live. Writing it is the commit
point of an ingest or a compaction, so a reader sees all of an ingest's facts
or none: files an interrupted ingest left behind are not in it (and are
removed by the next commit). One writer at a time: the pipeline holds the
graph's ingest lock while it appends.

Each entry says what a reader needs to pick files without opening them:
a data file's partition, month, rows and first/last time; an index file's bucket.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pyarrow import fs as pafs

from provex.store.location import MANIFEST, Location


@dataclass
class Manifest:
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    version: int = 0
    retired: dict[str, float] = field(default_factory=dict)  # files no longer live, and since when (epoch s)

    def of_kind(self, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
        return ((path, meta) for path, meta in self.files.items() if meta["kind"] == kind)

    def data_files(self, partitions: Iterable[str] | None = None, since: str | None = None,
                   until: str | None = None) -> list[str]:
        """Data files of these partitions (all when None) that may hold a time in [since, until)."""
        wanted = None if partitions is None else set(partitions)
        return sorted(path for path, meta in self.of_kind("data")
                      if (wanted is None or meta["partition"] in wanted)
                      and (since is None or meta["last"] >= since) and (until is None or meta["first"] < until))

    def index_files(self, kind: str, buckets: Iterable[str] | None = None) -> list[str]:
        wanted = None if buckets is None else set(buckets)
        return sorted(path for path, meta in self.of_kind(kind) if wanted is None or meta["bucket"] in wanted)

    def partitions(self) -> set[str]:
        return {meta["partition"] for _, meta in self.of_kind("data")}

    def rows(self) -> int:
        return sum(meta["rows"] for _, meta in self.of_kind("data"))


class Manifests:
    """Reads the manifest (again only when it changed) and writes it atomically."""

    def __init__(self, location: Location) -> None:
        self.location = location
        self._cached: tuple[Any, Manifest] | None = None

    def load(self) -> Manifest:
        fs, path = self.location.filesystem, self.location.path(MANIFEST)
        info = fs.get_file_info(path)
        if info.type == pafs.FileType.NotFound:
            return Manifest()
        stamp = (info.mtime_ns, info.size)
        if self._cached and self._cached[0] == stamp and self.location.local:
            return self._cached[1]
        with fs.open_input_stream(path) as fh:
            doc = json.loads(fh.read())
        manifest = Manifest(doc.get("files", {}), int(doc.get("version", 0)), doc.get("retired", {}))
        self._cached = (stamp, manifest)
        return manifest

    def save(self, manifest: Manifest) -> None:
        manifest.version += 1
        body = json.dumps({"version": manifest.version, "files": manifest.files, "retired": manifest.retired},
                          sort_keys=True).encode()
        write_atomically(self.location, MANIFEST, body)
        self._cached = None


def write_atomically(location: Location, relative: str, body: bytes) -> None:
    """Write a small file under a temporary name, then rename it into place
    (on object storage one PUT is atomic: written directly)."""
    fs, final = location.filesystem, location.path(relative)
    if not location.local:
        with fs.open_output_stream(final) as fh:
            fh.write(body)
        return
    temp = final + ".tmp"
    with fs.open_output_stream(temp) as fh:
        fh.write(body)
    fs.move(temp, final)
