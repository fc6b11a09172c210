"""Compaction: small files merged, so a store fed by many small ingests (a
``watch`` every minute) stays a few files per partition and bucket.

- Data: a partition-month with MAX_SMALL or more files under SMALL rows has
  them merged into one, sorted by time. Rows move, so every index entry is
  mapped from its old (file, row) to its new one.
- Indexes: a bucket with MAX_SMALL or more files has them merged, sorted by key.

One manifest write makes the merged files live and the old ones retired;
retired files are deleted by a later sweep (a reader holding the old
manifest may still be reading them).
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from provex.store.files import sorted_writer, time_range, write_table
from provex.store.query import sql_list

SMALL = 1_000_000  # rows: data files under this are merged
MAX_SMALL = 8  # small files in one partition-month (or index files in one bucket) that trigger a merge


def due(store: Any) -> bool:
    """Whether a partition-month or a bucket has MAX_SMALL or more small files."""
    return bool(_small_data(store.manifest().files) or _crowded(store.manifest().files))


def _small_data(files: dict[str, dict[str, Any]]) -> dict[tuple[str, str], list[str]]:
    """Per partition-month with MAX_SMALL or more small files: the oldest small
    ones whose rows add up to at most SMALL (one merge holds at most that many)."""
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path, meta in sorted(files.items()):
        if meta["kind"] == "data" and meta["rows"] < SMALL:
            groups[(meta["partition"], meta["month"])].append(path)
    out = {}
    for key, paths in groups.items():
        if len(paths) < MAX_SMALL:
            continue
        taken, rows = [], 0
        for path in paths:
            if taken and rows + files[path]["rows"] > SMALL:
                break
            taken.append(path)
            rows += files[path]["rows"]
        if len(taken) > 1:
            out[key] = taken
    return out


def _crowded(files: dict[str, dict[str, Any]]) -> dict[tuple[str, str], list[str]]:
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path, meta in files.items():
        if meta["kind"] in ("ids", "keys"):
            groups[(meta["kind"], meta["bucket"])].append(path)
    return {key: sorted(paths) for key, paths in groups.items() if len(paths) >= MAX_SMALL}


def compact(store: Any, stamp: str | None = None) -> dict[str, int]:
    """Merge what is due; returns how many files went in and came out."""
    manifest = store.manifest()
    stamp = stamp or f"compact-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}"
    con = store.duck()
    merged_data = _small_data(manifest.files)
    new_files: dict[str, dict[str, Any]] = {}
    retired: list[str] = []
    con.execute("CREATE OR REPLACE TEMP TABLE moved (old_file VARCHAR, old_row BIGINT, new_file VARCHAR, new_row BIGINT)")
    for n, (_key, paths) in enumerate(sorted(merged_data.items())):
        relative = f"{paths[0].rsplit('/', 1)[0]}/{stamp}-{n:05d}.parquet"
        _merge_data(store, con, paths, relative, new_files)
        retired += paths
    moved = con.execute("SELECT count(*) FROM moved").fetchall()[0][0]
    crowded = set(_crowded(manifest.files)) | (_buckets(manifest.files) if moved else set())
    for kind, b in sorted(crowded):
        paths = manifest.index_files(kind, [b])
        relative = f"{kind}/b={b}/{stamp}.parquet"
        rows = _merge_index(store, con, kind, paths, relative)
        new_files[relative] = {"kind": kind, "bucket": b, "rows": rows, "ingest": stamp}
        retired += paths
    if not retired:
        return {"merged": 0, "written": 0}
    for path in retired:
        manifest.files.pop(path, None)
    manifest.files.update(new_files)
    manifest.retired.update(dict.fromkeys(retired, time.time()))
    store.manifests.save(manifest)
    store.sweep(manifest)
    return {"merged": len(retired), "written": len(new_files)}


def _buckets(files: dict[str, dict[str, Any]]) -> set[tuple[str, str]]:
    return {(meta["kind"], meta["bucket"]) for meta in files.values() if meta["kind"] in ("ids", "keys")}


def _merge_data(store: Any, con: Any, paths: list[str], relative: str, new_files: dict[str, dict[str, Any]]) -> None:
    """One file from several, sorted by time; (old file, old row) -> new row kept in ``moved``."""
    con.execute("CREATE OR REPLACE TEMP TABLE names (readable VARCHAR, relative VARCHAR)")
    con.executemany("INSERT INTO names VALUES (?, ?)", [(store.readable(p), p) for p in paths])
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE merging AS
        SELECT d.*, n.relative AS _old, row_number() OVER (ORDER BY d.moment, d.uid) - 1 AS _new
        FROM read_parquet({sql_list([store.readable(p) for p in paths])}, filename = true, file_row_number = true) d
        JOIN names n ON n.readable = d.filename""")
    con.execute("INSERT INTO moved SELECT _old, file_row_number, ?, _new FROM merging", [relative])
    data = con.sql("SELECT * EXCLUDE (filename, file_row_number, _old, _new) FROM merging ORDER BY _new").to_arrow_table()
    con.execute("DROP TABLE merging")
    write_table(store.location, relative, data)
    first = store.manifest().files[paths[0]]
    new_files[relative] = {"kind": "data", "partition": first["partition"], "month": first["month"],
                           "rows": data.num_rows, **time_range(data), "ingest": relative.rsplit("/", 1)[1]}


def _merge_index(store: Any, con: Any, kind: str, paths: list[str], relative: str) -> int:
    """One index file for a bucket, its entries pointing at moved rows' new places, sorted by key."""
    key = "uid" if kind == "ids" else "key"
    place = "coalesce(m.new_file, i.file) AS file, coalesce(m.new_row, i.row) AS row"
    select = f"uid, {place}, hour" if kind == "ids" else f"key, {place}"
    reader = con.sql(f"""
        SELECT {select} FROM read_parquet({sql_list([store.readable(p) for p in paths])}) i
        LEFT JOIN moved m ON m.old_file = i.file AND m.old_row = i.row
        ORDER BY {key}, file, row""").to_arrow_reader(65_536)
    rows = 0
    with sorted_writer(store.location, relative, reader.schema) as writer:
        for batch in reader:
            writer.write_batch(batch, row_group_size=16_384)
            rows += batch.num_rows
    return rows
