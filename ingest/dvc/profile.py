"""Content profiles of DVC data versions (see :mod:`provex.ingest.profile`).

The bytes of a version are looked up, in order: the local DVC cache by hash
(``.dvc/cache/files/md5/ab/cdef…`` for DVC 3, ``.dvc/cache/ab/cdef…`` for
older caches; a ``.dir`` hash is a JSON manifest whose members are read from
the cache too), git at the commit being read (outputs kept in git, e.g.
``cache: false``), and the work tree when the file there has the locked size
and md5. Each content hash is profiled once: within an ingest, and across
ingests through the ``profiled`` watermark.

A version that cannot be profiled (bytes absent, binary, malformed, over the
size cap) gets ``profile_status = "skipped"`` with the reason, and a Flag;
never an error.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from provex.ingest import confine
from provex.ingest import profile as p
from provex.ingest.dvc import files as f
from provex.ingest.dvc.git import Snapshot
from provex.vocab.records import Flag

#: At most this many examples in the one flag about versions whose bytes were not found.
EXAMPLES = 5


class Profiler:
    """Profiles the data versions of one DVC project during one ingest."""

    def __init__(self, root: str, done: set[str] | None = None, sample_rows: int = p.SAMPLE_ROWS,
                 max_bytes: int = p.MAX_BYTES) -> None:
        self.root = Path(root)
        cache = confine.cache_root(self.root)
        self.roots = [self.root, *([cache] if cache else [])]  # the only places a profile reads from
        self.done = done if done is not None else set()  # hashes profiled by an earlier ingest
        self.sample_rows, self.max_bytes = sample_rows, max_bytes
        self._by_hash: dict[str, p.Profile] = {}
        self.missing: list[str] = []
        self.flags: list[Flag] = []

    def props(self, snap: Snapshot, out: f.Out, where: str) -> dict[str, Any]:
        """The profile properties of ``out`` (empty when its hash was profiled before)."""
        if not out.hash or out.hash in self.done:
            return {}
        if out.hash not in self._by_hash:
            self._by_hash[out.hash] = found = self._profile(snap, out, where)
            if found.status == "skipped" and "not found" not in found.reason:
                self.flags.append(Flag("profile-skipped", f"{out.path}@{out.hash[:12]}: {found.reason}; the "
                                       "version is ingested without a profile", where))
        found = self._by_hash[out.hash]
        if found.status != "skipped" or "not found" not in found.reason:
            self.done.add(out.hash)
        return found.props()

    def end_flags(self) -> Iterator[Flag]:
        """The flags of the ingest: one per unreadable file, one for all versions without bytes."""
        yield from self.flags
        if self.missing:
            shown = ", ".join(self.missing[:EXAMPLES]) + (" ..." if len(self.missing) > EXAMPLES else "")
            yield Flag("profile-no-bytes", f"{len(self.missing)} tabular data version(s) not profiled: their bytes "
                       f"are neither in the local DVC cache nor in git ({shown}); run `dvc pull` (or `dvc fetch`) "
                       "in the project before ingesting them", str(self.root))

    # ---- one version ------------------------------------------------------------------------------

    def _profile(self, snap: Snapshot, out: f.Out, where: str) -> p.Profile:
        try:
            if out.is_dir:
                return self._folder(out, where)
            if p.file_format(out.path) is None:
                return p.size_only(out.path, out.size)
            if out.size is not None and out.size > self.max_bytes:  # known from dvc.lock: nothing to read
                return p.skipped(out.path, out.size, f"{out.size} bytes is over the profile size cap "
                                 f"({self.max_bytes}); raise profile_max_bytes to profile it")
            local = self._cached(out.hash or "") if out.hash_kind == "md5" else None  # etags name no cache object
            if local is not None:
                return p.profile_file(out.path, local, self.sample_rows, self.max_bytes)
            # git at that commit (a plain folder's files are read below, from disk, once their size matches)
            raw = snap.read(out.path) if snap.commit is not None and snap.exists(out.path) else None
            if raw is not None and _md5(raw) == out.hash:
                return p.profile_bytes(out.path, raw, self.sample_rows, self.max_bytes)
            local = self._workspace(out)
            if local is not None:
                return p.profile_file(out.path, local, self.sample_rows, self.max_bytes)
        except confine.Outside as exc:
            self.flags.append(Flag("path-outside-root", f"{out.path}@{(out.hash or '')[:12]}: {exc}; the version is "
                                   "ingested without a profile", where))
            return p.skipped(out.path, out.size, str(exc))
        except (p.Unprofilable, confine.BadHash, OSError) as exc:
            return p.skipped(out.path, out.size, str(exc))
        except Exception as exc:  # a profile is an extra: whatever pandas raises, never fail the ingest for it
            return p.skipped(out.path, out.size, f"cannot profile it ({type(exc).__name__}: {exc})")
        self.missing.append(f"{out.path}@{(out.hash or '')[:8]}")
        return p.skipped(out.path, out.size, "bytes not found in the DVC cache, git or the work tree")

    def _folder(self, out: f.Out, where: str) -> p.Profile:
        manifest = self._cached(out.hash or "")
        if manifest is None:
            return p.size_only(out.path, out.size, kind="directory", files=out.nfiles)
        try:
            entries = json.loads(manifest.read_bytes())
        except ValueError:
            raise p.Unprofilable(f"{manifest}: the .dir manifest is not JSON") from None
        if not isinstance(entries, list):
            raise p.Unprofilable(f"{manifest}: the .dir manifest is not a list of files")
        members = [(str(e.get("relpath")), self._cached(confine.checked_hash("md5-file", e.get("md5"), str(manifest),
                                                                             f"entry {i} md5")))
                   for i, e in enumerate(entries) if isinstance(e, dict)]
        tables = [(rel, local) for rel, local in members if p.file_format(rel)]
        if not tables or len(tables) < len(members):
            return p.size_only(out.path, out.size, kind="directory", files=len(members))
        if any(local is None for _, local in tables):
            self.missing.append(f"{out.path}@{(out.hash or '')[:8]}")
            return p.skipped(out.path, out.size, "some folder members not found in the DVC cache")
        return p.profile_tables(out.path, tables, self.sample_rows, self.max_bytes)  # type: ignore[arg-type]

    def _cached(self, md5: str) -> Path | None:
        """The cache object of a checked md5 (BadHash for anything else), inside the project or its cache."""
        for candidate in confine.cache_object(self.root / ".dvc" / "cache", md5):
            if candidate.is_file():
                return confine.inside(candidate, self.roots)
        return None

    def _workspace(self, out: f.Out) -> Path | None:
        """The work tree's file of ``out`` when it holds the locked bytes; Outside when
        its path (or a symlink on the way) leads out of the project and its cache."""
        local = confine.inside(out.path, self.roots, base=self.root)
        try:
            if not local.is_file() or (out.size is not None and local.stat().st_size != out.size):
                return None
            digest = hashlib.md5()
            with local.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
        except OSError:
            return None
        return local if digest.hexdigest() == out.hash else None


def _md5(raw: bytes) -> str:
    return hashlib.md5(raw).hexdigest()
