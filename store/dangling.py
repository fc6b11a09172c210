"""Upstream predictions that logged predictions used but that were never
logged themselves (lineage-gaps' "dangling" row), kept at ingest time.

Finding them at question time meant an anti-join of every link against the
whole id index: 0.9 s at 10M predictions, growing with the store. Instead
each ingest that settles facts and changes the set writes the whole set as
one small file (``dangling/<ingest>.parquet``, kind ``dangling`` in the
manifest):

    the set before  minus  the uids this ingest added
    plus  the upstream uids of this ingest's links that are neither added
          by it nor held by the store

and the commit retires the set before. A store written before this file
existed has no set: its first ingest computes it in full (the old way).
Only the new links are looked up in the id index, so an ingest pays for the
links it brings, and the question reads one small file.
"""

from __future__ import annotations

from typing import Any

from provex.store.files import write_table
from provex.store.query import sql_list

KIND = "dangling"


def update(append: Any, con: Any, links: str | None) -> None:
    """Write the dangling set with this ingest's facts in it (``staged``: its
    rows; ``links``: the path of its new links file, if any). A set that did
    not change is not written again (a re-ingest writes nothing)."""
    store = append.store
    manifest = store.manifest()
    live = _live(store, manifest)
    before = live or full(store, manifest)
    if before is None and links is None:
        return  # no links anywhere: nothing can dangle
    parts = []
    if before is not None:
        parts.append(f"SELECT upstream FROM ({before}) WHERE upstream NOT IN (SELECT uid FROM staged)")
    if links is not None:
        con.execute(f"CREATE OR REPLACE TEMP VIEW links_new AS SELECT DISTINCT upstream FROM read_parquet("
                    f"{sql_list([append.location.readable(links)])}) WHERE upstream NOT IN (SELECT uid FROM staged)")
        held = [store.readable(f) for f in manifest.index_files("ids")]
        parts.append("SELECT upstream FROM links_new" + (
            f" EXCEPT SELECT uid FROM read_parquet({sql_list(held)}) WHERE uid IN (SELECT upstream FROM links_new)"
            if held else ""))
    table = con.sql(f"SELECT DISTINCT upstream FROM ({' UNION '.join(parts)}) ORDER BY upstream").to_arrow_table()
    if live and table.equals(con.sql(f"SELECT upstream FROM ({live}) ORDER BY upstream").to_arrow_table()):
        return
    relative = f"{KIND}/{append.ingest}.parquet"
    write_table(append.location, relative, table)
    append.files[relative] = {"kind": KIND, "rows": table.num_rows, "ingest": append.ingest}


def _live(store: Any, manifest: Any) -> str | None:
    """A query for the committed set, None when the store has no set file."""
    live = [store.readable(f) for f, _ in manifest.of_kind(KIND)]
    return f"SELECT upstream FROM read_parquet({sql_list(live)})" if live else None


def full(store: Any, manifest: Any) -> str | None:
    """The dangling set computed from every link and the whole id index."""
    links = [store.readable(f) for f, _ in manifest.of_kind("links")]
    if not links:
        return None
    ids = [store.readable(f) for f in manifest.index_files("ids")]
    query = f"SELECT DISTINCT upstream FROM read_parquet({sql_list(links)})"
    return query + (f" EXCEPT SELECT uid FROM read_parquet({sql_list(ids)})" if ids else "")


def retire(manifest: Any, files: dict[str, dict[str, Any]]) -> list[str]:
    """At a commit that brings a new set: the sets before it leave the manifest (returned, to retire)."""
    if not any(meta["kind"] == KIND for meta in files.values()):
        return []
    old = [path for path, _ in manifest.of_kind(KIND) if path not in files]
    for path in old:
        manifest.files.pop(path)
    return old


def query(store: Any) -> str | None:
    """What lineage-gaps reads: the committed set (or, for a store from before it,
    the full computation); None when the store holds no link."""
    manifest = store.manifest()
    return _live(store, manifest) or full(store, manifest)
