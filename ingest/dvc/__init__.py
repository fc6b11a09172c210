"""`provex ingest dvc PATH [--rev RANGE]`: a DVC project into records.

PATH is the top of a git repository (its history is read: every commit that
touched ``dvc.yaml`` / ``dvc.lock`` / ``*.dvc``, oldest first) or a plain
folder (one snapshot). See docs/ingest-dvc.md for the graph it produces.

Modules: :mod:`provex.ingest.dvc.git` (commits and files), :mod:`provex.ingest.dvc.files`
(parsing, DVC templating), :mod:`provex.ingest.dvc.yamlfile` and :mod:`provex.ingest.dvc.chunks`
(YAML read safely, unchanged pieces parsed once), :mod:`provex.ingest.dvc.snapshot` (one snapshot parsed,
cached by content), :mod:`provex.ingest.dvc.build` (records), :mod:`provex.ingest.dvc.profile`
(content profiles of new data versions), :mod:`provex.ingest.dvc.metadata` (small metadata files beside
models: the versions they name).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from provex.ingest.dvc.build import Builder
from provex.ingest.dvc.git import FolderReader, GitReader, is_dvc_file, open_source
from provex.ingest.dvc.metadata import MetadataReader
from provex.ingest.dvc.profile import Profiler
from provex.ingest.dvc.snapshot import Parser
from provex.ingest.source import Position, Source, local
from provex.vocab.records import Record, Reject, Watermark

#: Watermark names: the shas already ingested, and the data versions written.
COMMITS = "commits"
DATA_VERSIONS = "data_versions"
PROFILED = "profiled"  # content hashes already profiled


def read(path: str | Path, rev: str | None = None, state: dict[str, Any] | None = None,
         profile: dict[str, Any] | bool = True, position: Position | None = None) -> Iterator[Record]:
    """Records of the DVC project at ``path``; ``rev`` limits the git history
    (``v1..main``, ``HEAD~5..``, a branch); ``state`` is what the previous
    ingest of the same path left (skips commits already ingested).
    ``profile``: content profiles of new data versions (True), with options of
    :class:`Profiler` (a dict: ``sample_rows``, ``max_bytes``), or off (False).
    ``position`` follows the commits read (of a git repository)."""
    source = open_source(path)
    root = str(Path(path).resolve())
    state = state or {}
    options = {} if profile is True else profile
    profiler = Profiler(root, set(state.get(PROFILED) or []), **options) if options is not False else None
    metadata = MetadataReader(root)
    if isinstance(source, FolderReader):
        yield from _snapshot(source, root, profiler, metadata)
    else:
        try:
            yield from _history(source, root, rev, state, profiler, metadata, position or Position())
        finally:
            source.close()
    yield from metadata.flags
    if profiler is not None:
        yield from profiler.end_flags()
        yield Watermark(PROFILED, sorted(profiler.done))


def _snapshot(source: FolderReader, root: str, profiler: Profiler | None, metadata: MetadataReader) -> Iterator[Record]:
    snap = source.snapshot()
    for path, why in sorted(source.outside.items()):  # symlinks out of the folder: never read
        if is_dvc_file(path):
            yield Reject(f"{root}/{path}", None, f"a symlink that leaves the project: {why}")
    builder = Builder(root, Path(root).name, set(), profiler, metadata)
    yield from builder.records(snap, Parser(root).parse(snap), None, final=True)


def _history(source: GitReader, root: str, rev: str | None, state: dict[str, Any],
             profiler: Profiler | None, metadata: MetadataReader, position: Position) -> Iterator[Record]:
    done = set(state.get(COMMITS) or [])
    seen = set(state.get(DATA_VERSIONS) or [])
    commits = [c for c in source.commits(rev) if c.sha not in done]
    builder, parser = Builder(root, source.scope(), seen, profiler, metadata), Parser(root)
    read_so_far = [0]
    position.follow(len(commits), "commits", lambda: read_so_far[0])
    for i, commit in enumerate(commits):
        snap = source.snapshot(commit)
        # The very first commit ever ingested has nothing before it: all its lock entries are runs.
        parent = None if (i == 0 and not done) else source.parent_snapshot(commit)
        before = parser.parse(parent, locks_only=True) if parent else None
        yield from builder.records(snap, parser.parse(snap), before, final=i == len(commits) - 1)
        read_so_far[0] = i + 1
    done.update(c.sha for c in commits)
    yield Watermark(COMMITS, sorted(done))
    yield Watermark(DATA_VERSIONS, sorted(seen))


class DvcSource(Source):
    """``kind = "dvc"``: ``path`` (a git repository or a plain folder), optional ``rev``;
    content profiles are on unless ``profile = false``; ``profile_max_bytes`` (bigger
    files are not read: skipped with a flag) and ``profile_sample_rows`` (rows read per file)."""

    kind = "dvc"

    def __init__(self, path: str, rev: str | None = None, profile: dict[str, Any] | bool = True) -> None:
        super().__init__(str(Path(path).resolve()))
        self.path, self.rev, self.profile = path, rev, profile

    @classmethod
    def from_config(cls, table: dict[str, Any], base: Path) -> list[Source]:
        return [cls(local(base, table["path"]), table.get("rev"), profile_options(table))]

    def read(self, state: dict[str, Any]) -> Iterator[Record]:
        return read(self.path, rev=self.rev, state=state, profile=self.profile, position=self.position)


def profile_options(table: dict[str, Any]) -> dict[str, Any] | bool:
    """The profiler options of a ``[[source]]`` table (False: ``profile = false``)."""
    if not isinstance(table.get("profile", True), bool):
        raise ValueError(f"'profile' must be true or false, got {table['profile']!r}")
    if table.get("profile", True) is False:
        return False
    options = {}
    for key, name in (("profile_max_bytes", "max_bytes"), ("profile_sample_rows", "sample_rows")):
        if key in table:
            value = table[key]
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{key!r} must be a positive integer, got {value!r}")
            options[name] = value
    return options
