"""Reading predictions from the store: by uid, by subject or household, by
model version and time window, by id prefix (DuckDB over the indexes and
data files; a point read decodes the one row group that holds its row).

Every read picks its files from the manifest first (an id's bucket, a model
version's partitions, the files whose time range meets the window), so it
opens only what can hold the answer. Rows come back as plain dicts with
their JSON fields decoded and ``model_version`` set: the version the log
named, or what its reference was resolved to later (``resolution``: a
registry version, a run, a logged model or a model artifact), with
``resolved_by`` (the method), ``confidence`` and ``evidence``.

A resolution entry applies to one partition (``partition``: ``ref:<reference>``,
or a version the log named that the graph only knows as a placeholder);
entries written before partitions were recorded are ``ref:<ref>``.
"""

from __future__ import annotations

import bisect
import json
import threading
from collections import defaultdict
from datetime import datetime
from typing import Any

import pyarrow.parquet as pq

from provex.store.location import bucket
from provex.vocab.facts import JSON_FIELDS, REF_PARTITION, partition_of

COLUMNS = ("uid", "prediction_id", "timestamp", "hour", "model_ref", "model_name", "model_version", "model_alias",
           "model_run_id", "model_id", "model_version_uid", "subject_id", "household_id", "input_hash",
           "feature_pipeline", "inputs", "output", "score", "upstream", "override_rule", "original_output", "extra",
           "source", "line", "ingest")
MAX_IN = 10_000  # ids per IN list


def sql_list(paths: list[str]) -> str:
    """A DuckDB list literal of file paths (paths come from the manifest, quoted here)."""
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def decode(row: dict[str, Any], resolved: dict[str, list[dict[str, Any]]] | None = None) -> dict[str, Any]:
    """A stored row as a prediction: JSON fields decoded, ``model_version`` the
    effective model (uid), ``resolved_by`` / ``confidence`` / ``evidence`` how it was found."""
    out = dict(row)
    for name in JSON_FIELDS:
        text = out.get(name)
        out[name] = json.loads(text) if text is not None else None
    out["logged_model_version"] = out.pop("model_version", None)
    entry = resolution_of(out, resolved or {})
    out.update(explained(entry, out.get("model_version_uid")))
    out["upstream"] = list(out.get("upstream") or [])
    return out


def explained(entry: dict[str, Any] | None, logged: str | None) -> dict[str, Any]:
    """``model_version`` and how it was found: a resolution entry, else the version the log named."""
    if entry is not None:
        return {"model_version": entry["target"], "resolved_by": entry.get("method"),
                "confidence": entry.get("confidence"), "evidence": entry.get("evidence")}
    return {"model_version": logged, "resolved_by": "logged" if logged else None,
            "confidence": 1.0 if logged else None, "evidence": None}


def entry_partition(entry: dict[str, Any]) -> str:
    """The partition a resolution entry applies to."""
    return entry.get("partition") or REF_PARTITION + entry["ref"]


def resolution_of(row: dict[str, Any], resolved: dict[str, list[dict[str, Any]]]) -> dict[str, Any] | None:
    """The resolution entry of a row's partition that holds at the row's time, if any."""
    for entry in resolved.get(partition_of(row), ()):
        if _within(row["timestamp"], entry.get("valid_from"), entry.get("valid_to")):
            return entry
    return None


def effective(row: dict[str, Any], resolved: dict[str, list[dict[str, Any]]]) -> str | None:
    """What a row's reference was resolved to at its time, if anything."""
    entry = resolution_of(row, resolved)
    return entry["target"] if entry else None


def _within(stamp: str, start: str | None, end: str | None) -> bool:
    moment = _moment(stamp)
    return (start is None or moment >= _moment(start)) and (end is None or moment < _moment(end))


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def by_ref(store: Any) -> dict[str, list[dict[str, Any]]]:
    """The resolution table by partition."""
    table: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in store.resolution():
        table[entry_partition(entry)].append(entry)
    return table


def rows_at(store: Any, where: list[tuple[str, int]]) -> dict[tuple[str, int], dict[str, Any]]:
    """Raw rows at (file, row number). A point read decodes only the row groups
    holding the rows (pyarrow, the file's footer cached: data files never change)."""
    per_group: dict[tuple[str, int], set[int]] = defaultdict(set)
    for file, row in where:
        meta, starts = _footer(store.location, file)
        if 0 <= int(row) < meta.num_rows:
            per_group[(file, bisect.bisect_right(starts, int(row)) - 1)].add(int(row))
    out = {}
    for (file, group), rows in per_group.items():
        meta, starts = _footer(store.location, file)
        with store.location.filesystem.open_input_file(store.location.path(file)) as handle:
            table = pq.ParquetFile(handle, metadata=meta).read_row_group(group, columns=list(COLUMNS))
        ordered = sorted(rows)
        for row, record in zip(ordered, table.take([r - starts[group] for r in ordered]).to_pylist()):
            out[(file, row)] = record
    return out


_FOOTERS: dict[tuple[str, str], tuple[Any, list[int]]] = {}
_FOOTERS_LOCK = threading.Lock()  # the app reads from several threads
MAX_FOOTERS = 512


def _footer(location: Any, file: str) -> tuple[Any, list[int]]:
    """A data file's Parquet footer and the first row number of each row group
    (cached: a data file never changes once it is in the manifest)."""
    key = (location.root, file)
    found = _FOOTERS.get(key)
    if found is None:
        with location.filesystem.open_input_file(location.path(file)) as handle:
            meta = pq.ParquetFile(handle).metadata
        starts, at = [], 0
        for i in range(meta.num_row_groups):
            starts.append(at)
            at += meta.row_group(i).num_rows
        found = (meta, starts)
        with _FOOTERS_LOCK:
            while len(_FOOTERS) >= MAX_FOOTERS:
                _FOOTERS.pop(next(iter(_FOOTERS)))
            _FOOTERS[key] = found
    return found


def locate(store: Any, uids: list[str]) -> dict[str, tuple[str, int]]:
    """uid -> (file, row) through the ids index (only the buckets the uids fall in)."""
    manifest, con, found = store.manifest(), store.duck(), {}
    per_bucket: dict[str, list[str]] = defaultdict(list)
    for uid in dict.fromkeys(uids):
        per_bucket[bucket(uid)].append(uid)
    for b, wanted in per_bucket.items():
        files = manifest.index_files("ids", [b])
        for start in range(0, len(wanted), MAX_IN):
            if not files:
                break
            part = wanted[start:start + MAX_IN]
            rows = con.execute(f"SELECT uid, file, row FROM read_parquet({sql_list([store.readable(f) for f in files])}) "
                               f"WHERE uid IN (SELECT unnest(?::VARCHAR[]))", [part]).fetchall()
            found.update({uid: (file, row) for uid, file, row in rows})
    return found


def get(store: Any, uids: list[str]) -> list[dict[str, Any]]:
    """The predictions with these uids, in the order asked (missing ones left out)."""
    places = locate(store, uids)
    rows = rows_at(store, list(places.values()))
    resolved = by_ref(store)
    return [decode(rows[places[uid]], resolved) for uid in dict.fromkeys(uids) if uid in places and places[uid] in rows]


def by_keys(store: Any, keys: list[str], limit: int | None = None) -> list[dict[str, Any]]:
    """Predictions about these subjects or households, oldest first."""
    manifest, con = store.manifest(), store.duck()
    places: set[tuple[str, int]] = set()
    per_bucket: dict[str, list[str]] = defaultdict(list)
    for key in dict.fromkeys(keys):
        per_bucket[bucket(key)].append(key)
    for b, wanted in per_bucket.items():
        files = manifest.index_files("keys", [b])
        if files:
            places.update(con.execute(f"SELECT file, row FROM read_parquet({sql_list([store.readable(f) for f in files])}) "
                                      "WHERE key IN (SELECT unnest(?::VARCHAR[]))", [wanted]).fetchall())
    resolved = by_ref(store)
    rows = [decode(r, resolved) for r in rows_at(store, sorted(places)).values()]
    rows.sort(key=lambda r: (_moment(r["timestamp"]), r["uid"]))
    return rows[:limit] if limit else rows


def partitions_of(store: Any, model_versions: list[str]) -> tuple[list[str], list[dict[str, Any]]]:
    """The partitions holding predictions of these versions: their own, and
    the references resolved to them (with the resolution entries)."""
    wanted = set(model_versions)
    entries = [e for e in store.resolution() if e["target"] in wanted]
    return sorted(wanted | {entry_partition(e) for e in entries}), entries


def downstream(store: Any, uids: list[str]) -> list[tuple[str, str]]:
    """(upstream uid, uid) for every stored prediction that used one of ``uids``."""
    links = [store.readable(f) for f, _ in store.manifest().of_kind("links")]
    if not links or not uids:
        return []
    return store.duck().execute(f"SELECT upstream, uid FROM read_parquet({sql_list(links)}) "
                                "WHERE upstream IN (SELECT unnest(?::VARCHAR[])) ORDER BY ALL", [list(uids)]).fetchall()


def _prefix_range(prefix: str) -> tuple[str, str]:
    return prefix, prefix + "\U0010ffff"


def _starting(store: Any, kind: str, column: str, prefix: str, limit: int) -> list[str]:
    """Distinct values of an index's key column starting with ``prefix``, sorted
    (the sorted index files are pruned by range)."""
    files = [store.readable(f) for f in store.manifest().index_files(kind)]
    if not files:
        return []
    return [v for (v,) in store.duck().execute(
        f"SELECT DISTINCT {column} FROM read_parquet({sql_list(files)}) WHERE {column} >= ? AND {column} < ? "
        f"ORDER BY {column} LIMIT {int(limit)}", list(_prefix_range(prefix))).fetchall()]


def uid_prefix(store: Any, prefix: str, limit: int) -> list[str]:
    """Stored prediction uids starting with ``prefix``."""
    return _starting(store, "ids", "uid", prefix, limit)


def key_prefix(store: Any, prefix: str, limit: int) -> list[str]:
    """Subject and household ids starting with ``prefix``."""
    return _starting(store, "keys", "key", prefix, limit)


def logged_models(store: Any, text: str, limit: int, prefix: bool = False) -> list[dict[str, Any]]:
    """How predictions logged their model, where the reference, the version or the
    name as logged is ``text`` (or starts with it): one row per (partition, reference,
    name, version) with how many predictions, an example uid and the log it came
    from. Row-group statistics skip the files that cannot hold it."""
    files = [store.readable(f) for f, _ in store.manifest().of_kind("data")]
    if not files:
        return []
    low, high = _prefix_range(text) if prefix else (text, text)
    test = "({c} >= ? AND {c} < ?)" if prefix else "{c} = ?"
    where = " OR ".join(test.format(c=c) for c in ("model_ref", "model_version", "model_name"))
    args = [low, high] * 3 if prefix else [low] * 3
    result = store.duck().execute(f"""
        SELECT coalesce(model_version_uid, '{REF_PARTITION}' || coalesce(model_ref, '')) AS partition, model_ref,
               model_name, model_version, count(*) AS count, min(uid) AS example, min(source) AS source
        FROM read_parquet({sql_list(files)}) WHERE {where}
        GROUP BY ALL ORDER BY count DESC, partition LIMIT {int(limit)}""", args)
    names = [c[0] for c in result.description]
    return [dict(zip(names, row)) for row in result.fetchall()]
