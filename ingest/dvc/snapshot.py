"""One snapshot (a commit, or the plain folder) parsed into DVC structures:
resolved pipelines, lock entries and ``.dvc`` files. Parses are cached by the
blob ids of the files involved, so unchanged files are parsed once per ingest.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from provex.ingest.dvc import files as f
from provex.ingest.dvc import yamlfile
from provex.ingest.dvc.git import Snapshot
from provex.vocab.records import Reject


@dataclass
class Parsed:
    """Everything DVC-related in one snapshot."""

    pipelines: dict[str, f.Pipeline] = field(default_factory=dict)  # by dvc.yaml path
    locks: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # dvc.lock path -> name -> raw
    dvcfiles: list[f.DvcFile] = field(default_factory=list)
    broken: set[str] = field(default_factory=set)  # dvc.yaml files that could not be resolved at all
    rejects: list[Reject] = field(default_factory=list)

    def stage_for(self, lockfile: str, name: str) -> f.StageDef | None:
        pipeline = self.pipelines.get(f.join(f.dirname(lockfile), "dvc.yaml"))
        return pipeline.stages.get(name) if pipeline else None


class Parser:
    """Parses snapshots, caching per file content."""

    def __init__(self, root: str) -> None:
        self.root = root
        self._cache: dict[tuple, tuple[Any, list[Reject]]] = {}
        self._yaml = yamlfile.chunk_loader()  # unchanged pieces of a file (dvc.lock stages) parsed once
        self._hashed = yamlfile.chunk_loader(hashes_as_text=True)  # dvc.lock and .dvc: hashes as written

    def label(self, snap: Snapshot, path: str) -> str:
        """How a Reject names a file: its full path, plus the commit for history."""
        where = f"{self.root}/{path}"
        return where if snap.commit is None and snap.label == "snapshot" else f"{where}@{snap.label[:12]}"

    def parse(self, snap: Snapshot, locks_only: bool = False) -> Parsed:
        parsed = Parsed()
        for path in snap.dvc_files():
            name = path.rsplit("/", 1)[-1]
            if name == "dvc.lock":
                parsed.locks[path] = self._cached(snap, path, (), f.lock_entries, parsed)[0] or {}
            elif locks_only:
                continue
            elif name == "dvc.yaml":
                self._pipeline(snap, path, parsed)
            else:
                dvcfile = self._cached(snap, path, (), f.make_dvcfile, parsed)[0]
                if dvcfile is not None:
                    parsed.dvcfiles.append(dvcfile)
        return parsed

    def _pipeline(self, snap: Snapshot, path: str, parsed: Parsed) -> None:
        raw, _ = self._load(snap, path)
        extra = tuple(snap.blob(p) for p in sorted(f.vars_files(f.dirname(path), raw)))

        def resolve(p: str, data: Any) -> tuple[f.Pipeline, list[Reject]]:
            return f.resolve_pipeline(p, data, snap.read, self._yaml.load)

        pipeline, rejects = self._cached(snap, path, extra, resolve, parsed)
        if pipeline is None or (rejects and not pipeline.stages):
            parsed.broken.add(path)
        if pipeline is not None:
            parsed.pipelines[path] = pipeline

    def _load(self, snap: Snapshot, path: str) -> tuple[Any, list[Reject]]:
        name = path.rsplit("/", 1)[-1]
        key = ("yaml", name == "dvc.lock" or name.endswith(".dvc"), snap.blob(path))  # the files that hold hashes
        if key not in self._cache:
            loader = self._hashed if key[1] else self._yaml
            self._cache[key] = yamlfile.load_yaml(path, snap.read(path), loader.load)
        return self._cache[key]

    def _cached(self, snap: Snapshot, path: str, extra: tuple, build: Any, parsed: Parsed) -> tuple[Any, list[Reject]]:
        """``build(path, data)`` on the file's YAML, cached; rejects also land in ``parsed``."""
        key = (path, snap.blob(path), extra)
        if key not in self._cache:
            data, rejects = self._load(snap, path)
            value, more = build(path, data) if not rejects else (None, [])
            self._cache[key] = (value, rejects + more)
        value, rejects = self._cache[key]
        parsed.rejects.extend(replace(r, file=self.label(snap, path)) for r in rejects)
        return value, rejects
