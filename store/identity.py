"""The identity rule, applied when an ingest's facts are settled, and the
indexes written for them.

A prediction id has one record: the first one ingested. A later record of
the same id with the same content (its digest) is an exact repeat, dropped
without a word; one with other content is a conflict: set aside with both
values, never merged. "Later" is against the committed store first, then in
the order the ingest read its lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from provex.store import dangling
from provex.store.files import STAGING, sorted_writer, time_range, write_table
from provex.store.table import DIGEST

KEEP_CONFLICTS = 200  # conflicts returned with both values; the rest are counted


@dataclass(frozen=True)
class Conflict:
    """A later record of a prediction id already held, with other content."""

    uid: str
    kept: dict[str, Any]  # the first record (its source, line and content)
    later: dict[str, Any]


@dataclass
class Outcome:
    """What an append's settling found: rows new to the store, exact repeats, conflicts."""

    added: int = 0
    repeated: int = 0
    conflicts: list[Conflict] = field(default_factory=list)
    conflict_count: int = 0
    groups: list[dict[str, Any]] = field(default_factory=list)  # (partition, hour) touched by this ingest


def settle(append: Any) -> Outcome:
    """Drop repeats, find conflicts, write the indexes; returns the outcome."""
    outcome = Outcome()
    if not append.staged:
        return outcome
    store = append.store
    con = store.duck()
    staged = [append.location.readable(p) for p in append.staged]
    con.execute(f"CREATE OR REPLACE TEMP VIEW staged AS SELECT * FROM read_parquet({_list(staged)})")
    repeats = _repeats(con, store)
    if repeats:
        _drop(append, con, repeats, outcome)
    outcome.added = con.execute("SELECT count(*) FROM staged").fetchall()[0][0]
    outcome.groups = [{"partition": p, "hour": h} for p, h in
                      con.execute("SELECT DISTINCT part, hour FROM staged UNION SELECT part, hour FROM dropped_groups "
                                  "ORDER BY ALL").fetchall()]
    _write_indexes(append, con)
    return outcome


def _list(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def _repeats(con: Any, store: Any) -> list[dict[str, Any]]:
    """Every staged row of a uid seen twice (in this ingest or in the store), with the committed one."""
    committed = [store.location.readable(p) for p in store.manifests.load().index_files("ids")]
    con.execute("CREATE OR REPLACE TEMP TABLE dropped_groups (part VARCHAR, hour VARCHAR)")
    held = (f"SELECT uid, file, row FROM read_parquet({_list(committed)}) WHERE uid IN (SELECT uid FROM staged)"
            if committed else "SELECT NULL::VARCHAR AS uid, NULL AS file, NULL::BIGINT AS row WHERE false")
    con.execute(f"CREATE OR REPLACE TEMP TABLE held AS SELECT *, NULL::VARCHAR AS digest FROM ({held})")
    _digests(con, store)
    rows = con.execute("""
        WITH again AS (SELECT uid FROM staged GROUP BY uid HAVING count(*) > 1 UNION SELECT uid FROM held)
        SELECT s.uid, s.digest, s.ord, s.file, s.row, s.part, s.hour, false AS committed FROM staged s SEMI JOIN again USING (uid)
        UNION ALL
        SELECT h.uid, h.digest, -1 AS ord, h.file, h.row, NULL, NULL, true FROM held h
        ORDER BY uid, ord""").fetchall()
    names = ("uid", "digest", "ord", "file", "row", "part", "hour", "committed")
    return [dict(zip(names, r)) for r in rows]


def _digests(con: Any, store: Any) -> None:
    """The digest of each held (committed) row, recomputed from its content in
    its data file (rows held again are few: the common ingest holds none)."""
    for (file,) in con.execute("SELECT DISTINCT file FROM held").fetchall():
        con.execute(f"""
            UPDATE held SET digest = d.digest FROM (
              SELECT file_row_number AS row, {DIGEST} AS digest FROM read_parquet(?, file_row_number = true)
              WHERE file_row_number IN (SELECT row FROM held WHERE file = ?)) d
            WHERE held.file = ? AND held.row = d.row""", [store.readable(file), file, file])


def _drop(append: Any, con: Any, repeats: list[dict[str, Any]], outcome: Outcome) -> None:
    """Remove every repeat but the first of its uid from the staged rows and
    the data files; conflicts keep both values (up to KEEP_CONFLICTS)."""
    drops: list[dict[str, Any]] = []
    first: dict[str, dict[str, Any]] = {}
    for row in repeats:
        if row["uid"] not in first:
            first[row["uid"]] = row
        else:
            drops.append(row)
    conflicts = [(first[d["uid"]], d) for d in drops if d["digest"] != first[d["uid"]]["digest"]]
    outcome.repeated = len(drops) - len(conflicts)
    outcome.conflict_count = len(conflicts)
    outcome.conflicts = _described(append, conflicts[:KEEP_CONFLICTS])
    con.execute("CREATE OR REPLACE TEMP TABLE drops (file VARCHAR, row BIGINT)")
    con.executemany("INSERT INTO drops VALUES (?, ?)", [(d["file"], d["row"]) for d in drops])
    con.executemany("INSERT INTO dropped_groups VALUES (?, ?)", [(d["part"], d["hour"]) for d in drops])
    renamed = _rewrite(append, {d["file"] for d in drops}, con)
    con.execute("CREATE OR REPLACE TEMP TABLE renamed (old VARCHAR, new VARCHAR)")
    con.executemany("INSERT INTO renamed VALUES (?, ?)", list(renamed.items()))
    con.execute("""
        CREATE OR REPLACE TEMP TABLE staged_kept AS
        SELECT s.* REPLACE (coalesce(r.new, s.file) AS file,
                          CASE WHEN r.new IS NULL THEN s.row
                               ELSE row_number() OVER (PARTITION BY s.file ORDER BY s.row) - 1 END AS row)
        FROM staged s ANTI JOIN drops d ON s.file = d.file AND s.row = d.row
        LEFT JOIN renamed r ON r.old = s.file""")
    con.execute("CREATE OR REPLACE TEMP VIEW staged AS SELECT * FROM staged_kept")


def _rewrite(append: Any, files: set[str], con: Any) -> dict[str, str]:
    """Each data file holding a dropped row, written again without it (a new name)."""
    renamed: dict[str, str] = {}
    fs = append.location.filesystem
    for old in sorted(files):
        rows = [r[0] for r in con.execute("SELECT row FROM drops WHERE file = ?", [old]).fetchall()]
        table = pq.read_table(append.location.path(old), filesystem=fs)
        keep = pc.invert(pc.is_in(pa.array(range(table.num_rows), pa.int64()), pa.array(rows, pa.int64())))
        table = table.filter(keep)
        meta = append.files.pop(old)
        fs.delete_file(append.location.path(old))
        if not table.num_rows:
            renamed[old] = ""
            continue
        new = old.removesuffix(".parquet") + "r.parquet"
        write_table(append.location, new, table)
        append.files[new] = {**meta, "rows": table.num_rows, **time_range(table)}
        renamed[old] = new
    return renamed


def _described(append: Any, pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[Conflict]:
    wanted = [(side["file"], side["row"]) for pair in pairs for side in pair]
    rows = append.store.rows_at(wanted)
    out = []
    for kept, later in pairs:
        out.append(Conflict(kept["uid"], rows.get((kept["file"], kept["row"]), {}),
                            rows.get((later["file"], later["row"]), {})))
    return out


def _write_indexes(append: Any, con: Any) -> None:
    """ids/ (uid -> file, row, hour) and keys/ (subject or household ->
    file, row), one file per bucket, sorted; links/ (upstream uid -> uid)."""
    _bucketed(append, con, "ids", "SELECT uid, file, row, hour, left(md5(uid), 1) AS b FROM staged WHERE file <> '' "
                                  "ORDER BY b, uid")
    _bucketed(append, con, "keys", """
        SELECT key, file, row, left(md5(key), 1) AS b FROM (
          SELECT subject_id AS key, file, row FROM staged WHERE subject_id IS NOT NULL AND file <> ''
          UNION SELECT household_id, file, row FROM staged WHERE household_id IS NOT NULL AND file <> '')
        ORDER BY b, key, file, row""")
    links = con.sql("""
        SELECT unnest(upstream) AS upstream, uid, part, hour FROM staged WHERE len(upstream) > 0 AND file <> ''
        ORDER BY upstream""").to_arrow_table()
    relative = None
    if links.num_rows:
        relative = f"links/{append.ingest}.parquet"
        write_table(append.location, relative, links)
        append.files[relative] = {"kind": "links", "rows": links.num_rows, "ingest": append.ingest}
    dangling.update(append, con, relative)
    append.location.filesystem.delete_dir_contents(append.location.path(STAGING, append.ingest), missing_dir_ok=True)


def _bucketed(append: Any, con: Any, kind: str, query: str) -> None:
    reader = con.sql(query).to_arrow_reader(65_536)
    current, writer_cm, writer, rows = None, None, None, 0
    for batch in reader:
        for b in pc.unique(batch.column("b")).to_pylist():
            part = batch.filter(pc.equal(batch.column("b"), b)).drop_columns(["b"])
            if b != current:
                if writer_cm is not None:
                    writer_cm.__exit__(None, None, None)
                    _register(append, kind, current, rows)
                current, rows = b, 0
                writer_cm = sorted_writer(append.location, f"{kind}/b={b}/{append.ingest}.parquet", part.schema)
                writer = writer_cm.__enter__()
            writer.write_batch(part, row_group_size=16_384)
            rows += part.num_rows
    if writer_cm is not None:
        writer_cm.__exit__(None, None, None)
        _register(append, kind, current, rows)


def _register(append: Any, kind: str, b: str, rows: int) -> None:
    append.files[f"{kind}/b={b}/{append.ingest}.parquet"] = {"kind": kind, "bucket": b, "rows": rows,
                                                              "ingest": append.ingest}
