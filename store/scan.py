"""Aggregate reads over partitions: hourly groups, their features and
chaining, and predictions by model version and time window.

A fact's *effective* version is what its partition was resolved to at its
time (the store's resolution table, kept by the graph's resolver), else the
version its log named, else ``ref:<reference>``: every aggregate here groups
by it. (A partition named by a version gets an entry only while the graph
knows that version as a placeholder: a registry never ingested.)
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from provex.store.query import by_ref, decode, entry_partition, partitions_of, resolution_of, sql_list
from provex.vocab.facts import REF_PARTITION

PARTITION = f"coalesce(d.model_version_uid, '{REF_PARTITION}' || coalesce(d.model_ref, ''))"
EFFECTIVE = f"coalesce(res.target, {PARTITION})"
_JOIN = (f"LEFT JOIN res ON res.part = {PARTITION} "
         "AND (res.valid_from IS NULL OR d.moment >= res.valid_from) AND (res.valid_to IS NULL OR d.moment < res.valid_to)")
MAX_FEATURES = 1_000  # input names of one prediction linked as features


def connect(store: Any) -> Any:
    """A DuckDB cursor with the resolution table loaded as ``res``."""
    con = store.duck()
    con.execute("CREATE OR REPLACE TEMP TABLE res (part VARCHAR, target VARCHAR, valid_from TIMESTAMPTZ, "
                "valid_to TIMESTAMPTZ, method VARCHAR, confidence DOUBLE, evidence VARCHAR)")
    rows = [(entry_partition(e), e["target"], e.get("valid_from"), e.get("valid_to"), e.get("method"),
             e.get("confidence"), e.get("evidence")) for e in store.resolution()]
    if rows:
        con.executemany("INSERT INTO res VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    return con


def hour_bounds(hour: str) -> tuple[str, str]:
    start = datetime.strptime(hour, "%Y-%m-%dT%H").replace(tzinfo=UTC)
    return start.isoformat(timespec="microseconds"), (start + timedelta(hours=1)).isoformat(timespec="microseconds")


def _files_for(store: Any, groups: list[dict[str, Any]]) -> list[str]:
    """Data files that may hold facts of these (effective version, hour) groups."""
    manifest, res = store.manifest(), store.resolution()
    files: set[str] = set()
    for group in groups:
        parts = {group["partition"]} | {entry_partition(e) for e in res if e["target"] == group["partition"]}
        files.update(manifest.data_files(parts, *hour_bounds(group["hour"])))
    return sorted(files)


def group_stats(store: Any, groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each group's count, first and last time, overrides, example uids, the
    reference it was logged with and the files that hold it: absolute, from
    the committed store (so a re-run or an appended log keeps them right)."""
    files = _files_for(store, groups)
    if not files:
        return []
    con = connect(store)
    con.execute("CREATE OR REPLACE TEMP TABLE wanted (g VARCHAR, hour VARCHAR)")
    con.executemany("INSERT INTO wanted VALUES (?, ?)", sorted({(g["partition"], g["hour"]) for g in groups}))
    result = con.execute(f"""
        SELECT {EFFECTIVE} AS g, d.hour, count(*) AS count,
               arg_min(d.timestamp, struct_pack(m := d.moment, u := d.uid)) AS first,
               arg_max(d.timestamp, struct_pack(m := d.moment, u := d.uid)) AS last, count(d.override_rule) AS overrides,
               arg_min(d.uid, struct_pack(m := d.moment, u := d.uid), 5) AS examples, any_value(d.model_ref) AS model_ref,
               any_value(d.model_name) AS model_name, any_value(d.model_alias) AS model_alias,
               any_value(d.model_run_id) AS model_run_id, any_value(d.model_id) AS model_id,
               list(DISTINCT 'data/' || split_part(filename, '/data/', 2)) AS files
        FROM read_parquet({sql_list([store.readable(f) for f in files])}, filename = true) d {_JOIN}
        WHERE ({EFFECTIVE}, d.hour) IN (SELECT (g, hour) FROM wanted)
        GROUP BY ALL ORDER BY ALL""")
    names = [c[0] for c in result.description]
    return [dict(zip(names, row)) for row in result.fetchall()]


def features(store: Any, files: list[str]) -> list[tuple[str, str, str]]:
    """Distinct (effective version, hour, input name) of the facts in these data files."""
    if not files:
        return []
    con = connect(store)
    return con.execute(f"""
        SELECT DISTINCT {EFFECTIVE} AS g, d.hour, unnest(list_slice(json_keys(d.inputs), 1, {MAX_FEATURES})) AS name
        FROM read_parquet({sql_list([store.readable(f) for f in files])}) d {_JOIN}
        WHERE d.inputs IS NOT NULL ORDER BY ALL""").fetchall()


def chains(store: Any, groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For these groups: how many of their facts used a fact of each upstream group."""
    files = _files_for(store, groups)
    ids = [store.readable(f) for f in store.manifest().index_files("ids")]
    if not files or not ids:
        return []
    con = connect(store)
    con.execute("CREATE OR REPLACE TEMP TABLE wanted (g VARCHAR, hour VARCHAR)")
    con.executemany("INSERT INTO wanted VALUES (?, ?)", sorted({(g["partition"], g["hour"]) for g in groups}))
    rows = con.execute(f"""
        WITH down AS (
          SELECT {EFFECTIVE} AS g, d.hour, unnest(d.upstream) AS up
          FROM read_parquet({sql_list([store.readable(f) for f in files])}) d {_JOIN}
          WHERE d.upstream IS NOT NULL AND ({EFFECTIVE}, d.hour) IN (SELECT (g, hour) FROM wanted))
        SELECT down.g, down.hour, i.file, i.hour AS up_hour, count(*) AS n
        FROM down JOIN read_parquet({sql_list(ids)}) i ON i.uid = down.up
        GROUP BY ALL ORDER BY ALL""").fetchall()
    return _upstream_groups(store, rows)


def _upstream_groups(store: Any, rows: list[tuple]) -> list[dict[str, Any]]:
    meta = store.manifest().files
    table = by_ref(store)
    counts: dict[tuple[str, str, str, str], int] = defaultdict(int)
    for g, hour, file, up_hour, n in rows:
        part = meta.get(file, {}).get("partition")
        if part is None:
            continue
        if part in table:  # resolved at the hour's start (an alias moved within it: documented)
            entry = resolution_of({"model_version_uid": part, "timestamp": hour_bounds(up_hour)[0]}, table)
            part = entry["target"] if entry else part
        counts[(g, hour, part, up_hour)] += n
    return [{"partition": g, "hour": h, "up_partition": up, "up_hour": uh, "count": n}
            for (g, h, up, uh), n in sorted(counts.items())]


def scan(store: Any, model_versions: list[str], since: str | None = None, until: str | None = None,
         limit: int | None = None, offset: int = 0) -> list[dict[str, Any]]:
    """Predictions of these versions (logged or resolved) in [since, until), by time then uid."""
    parts, _entries = partitions_of(store, model_versions)
    files = store.manifest().data_files(parts, since, until)
    if not files:
        return []
    con = connect(store)
    result = con.execute(f"""
        SELECT d.* EXCLUDE (moment), {EFFECTIVE} AS effective, res.method AS resolved_by,
               res.confidence AS confidence, res.evidence AS evidence
        FROM read_parquet({sql_list([store.readable(f) for f in files])}) d {_JOIN}
        WHERE {EFFECTIVE} IN (SELECT unnest(?::VARCHAR[]))
          AND (?::TIMESTAMPTZ IS NULL OR d.moment >= ?::TIMESTAMPTZ) AND (?::TIMESTAMPTZ IS NULL OR d.moment < ?::TIMESTAMPTZ)
        ORDER BY d.moment, d.uid LIMIT {int(limit) if limit is not None else 'ALL'} OFFSET {int(offset)}""",
                         [model_versions, since, since, until, until])
    names = [c[0] for c in result.description]
    rows = []
    for values in result.fetchall():
        row = dict(zip(names, values))
        effective_version = row.pop("effective")
        how = {k: row.pop(k) for k in ("resolved_by", "confidence", "evidence")}
        resolved = None if effective_version.startswith(REF_PARTITION) else effective_version
        out = decode(row)
        if how["resolved_by"] is not None:
            out.update(how)
        rows.append({**out, "model_version": resolved})
    return rows


def count(store: Any, model_versions: list[str], since: str | None = None, until: str | None = None) -> int:
    parts, _entries = partitions_of(store, model_versions)
    files = store.manifest().data_files(parts, since, until)
    if not files:
        return 0
    con = connect(store)
    return con.execute(f"""
        SELECT count(*) FROM read_parquet({sql_list([store.readable(f) for f in files])}) d {_JOIN}
        WHERE {EFFECTIVE} IN (SELECT unnest(?::VARCHAR[]))
          AND (?::TIMESTAMPTZ IS NULL OR d.moment >= ?::TIMESTAMPTZ) AND (?::TIMESTAMPTZ IS NULL OR d.moment < ?::TIMESTAMPTZ)""",
                       [model_versions, since, since, until, until]).fetchall()[0][0]


def count_rule(store: Any, rule: str, since: str | None = None, until: str | None = None) -> int:
    """Predictions whose output an override rule changed (any version), in [since, until)."""
    files = store.manifest().data_files(None, since, until)
    if not files:
        return 0
    return store.duck().execute(f"""
        SELECT count(*) FROM read_parquet({sql_list([store.readable(f) for f in files])}) d
        WHERE d.override_rule = ?
          AND (?::TIMESTAMPTZ IS NULL OR d.moment >= ?::TIMESTAMPTZ) AND (?::TIMESTAMPTZ IS NULL OR d.moment < ?::TIMESTAMPTZ)""",
                                [rule, since, since, until, until]).fetchall()[0][0]
