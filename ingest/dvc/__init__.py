"""`provex ingest dvc PATH [--rev RANGE]`: a DVC project into records.

PATH is the top of a git repository (its history is read: every commit that
touched ``dvc.yaml`` / ``dvc.lock`` / ``*.dvc``, oldest first) or a plain
folder (one snapshot). See docs/ingest-dvc.md for the graph it produces.

Modules: :mod:`provex.ingest.dvc.git` (commits and files), :mod:`provex.ingest.dvc.files`
(parsing, DVC templating), :mod:`provex.ingest.dvc.snapshot` (one snapshot parsed,
cached by content), :mod:`provex.ingest.dvc.build` (records).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from provex.ingest.dvc.build import Builder
from provex.ingest.dvc.git import FolderReader, GitReader, open_source
from provex.ingest.dvc.snapshot import Parser
from provex.ingest.source import Source, local
from provex.vocab.records import Record, Watermark

#: Watermark names: the shas already ingested, and the data versions written.
COMMITS = "commits"
DATA_VERSIONS = "data_versions"


def read(path: str | Path, rev: str | None = None, state: dict[str, Any] | None = None) -> Iterator[Record]:
    """Records of the DVC project at ``path``; ``rev`` limits the git history
    (``v1..main``, ``HEAD~5..``, a branch); ``state`` is what the previous
    ingest of the same path left (skips commits already ingested)."""
    source = open_source(path)
    root = str(Path(path).resolve())
    if isinstance(source, FolderReader):
        yield from _snapshot(source, root)
        return
    try:
        yield from _history(source, root, rev, state or {})
    finally:
        source.close()


def _snapshot(source: FolderReader, root: str) -> Iterator[Record]:
    snap = source.snapshot()
    builder = Builder(root, Path(root).name, set())
    yield from builder.records(snap, Parser(root).parse(snap), None, final=True)


def _history(source: GitReader, root: str, rev: str | None, state: dict[str, Any]) -> Iterator[Record]:
    done = set(state.get(COMMITS) or [])
    seen = set(state.get(DATA_VERSIONS) or [])
    commits = [c for c in source.commits(rev) if c.sha not in done]
    builder, parser = Builder(root, source.scope(), seen), Parser(root)
    for i, commit in enumerate(commits):
        snap = source.snapshot(commit)
        # The very first commit ever ingested has nothing before it: all its lock entries are runs.
        parent = None if (i == 0 and not done) else source.parent_snapshot(commit)
        before = parser.parse(parent, locks_only=True) if parent else None
        yield from builder.records(snap, parser.parse(snap), before, final=i == len(commits) - 1)
    done.update(c.sha for c in commits)
    yield Watermark(COMMITS, sorted(done))
    yield Watermark(DATA_VERSIONS, sorted(seen))


class DvcSource(Source):
    """``kind = "dvc"``: ``path`` (a git repository or a plain folder), optional ``rev``."""

    kind = "dvc"

    def __init__(self, path: str, rev: str | None = None) -> None:
        super().__init__(str(Path(path).resolve()))
        self.path, self.rev = path, rev

    @classmethod
    def from_config(cls, table: dict[str, Any], base: Path) -> list[Source]:
        return [cls(local(base, table["path"]), table.get("rev"))]

    def read(self, state: dict[str, Any]) -> Iterator[Record]:
        return read(self.path, rev=self.rev, state=state)
