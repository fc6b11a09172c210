"""Logged model references that name no registry version, resolved against
the graph (after every ingest, so a version ingested after its log still
resolves its predictions).

A reference is what a prediction log said about its model when it was not
``name@version``: an MLflow run id, a logged model id, ``models:/name@alias``.
Each distinct reference in the store is matched here; one unambiguous match
becomes an entry of the store's resolution table ``{ref, target, valid_from,
valid_to, method}`` (an alias maps to each version for the time it held the
alias). The hourly groups of the reference's predictions then move to the
version's groups, with counts from the store.
"""

from __future__ import annotations

from typing import Any

from provex.graph.writer import Writer
from provex.store import scan
from provex.store.query import sql_list
from provex.vocab.facts import REF_PARTITION

_MATCH = """
UNWIND $refs AS r
CALL {
  WITH r
  OPTIONAL MATCH (mv:ModelVersion) WHERE r.run_id IS NOT NULL AND mv.run_id = r.run_id AND NOT coalesce(mv.placeholder, false)
  RETURN collect(DISTINCT mv.uid) AS by_run
}
CALL {
  WITH r
  OPTIONAL MATCH (mv:ModelVersion) WHERE r.model_id IS NOT NULL AND mv.model_id = r.model_id
                                        AND NOT coalesce(mv.placeholder, false)
  RETURN collect(DISTINCT mv.uid) AS by_id
}
CALL {
  WITH r
  OPTIONAL MATCH (:Model {name: r.name})-[a:HAS_ALIAS {alias: r.alias}]->(mv:ModelVersion)
  WHERE r.alias IS NOT NULL AND NOT coalesce(mv.placeholder, false)
  RETURN collect(CASE WHEN mv IS NULL THEN null
                      ELSE {target: mv.uid, valid_from: a.valid_from, valid_to: a.valid_to} END) AS by_alias
}
RETURN r.ref AS ref, by_run, by_id, by_alias
"""


def references(store: Any) -> list[dict[str, Any]]:
    """Each distinct unresolved reference in the store, with what it names."""
    parts = [p for p in store.manifest().partitions() if p.startswith(REF_PARTITION)]
    files = store.manifest().data_files(parts)
    if not files:
        return []
    rows = store.duck().execute(f"""
        SELECT model_ref, any_value(model_run_id), any_value(model_id), any_value(model_name), any_value(model_alias)
        FROM read_parquet({sql_list([store.readable(f) for f in files])})
        WHERE model_version_uid IS NULL GROUP BY model_ref ORDER BY model_ref""").fetchall()
    names = ("ref", "run_id", "model_id", "name", "alias")
    return [dict(zip(names, row)) for row in rows]


def entries(graph: Any, refs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The resolution table: each reference with one match, by the first way that finds one."""
    out: list[dict[str, Any]] = []
    for row in graph.read(_MATCH, {"refs": refs}):
        if len(row["by_run"]) == 1:
            out.append({"ref": row["ref"], "target": row["by_run"][0], "method": "run_id"})
        elif len(row["by_id"]) == 1:
            out.append({"ref": row["ref"], "target": row["by_id"][0], "method": "model_id"})
        elif row["by_alias"]:
            out.extend({"ref": row["ref"], "method": "alias-at-time", **held} for held in row["by_alias"])
    for entry in out:
        entry.setdefault("valid_from", None)
        entry.setdefault("valid_to", None)
    return sorted(out, key=lambda e: (e["ref"], e["target"], e["valid_from"] or ""))


def resolve(graph: Any) -> int:
    """Refresh the resolution table; move the groups of references whose entries
    changed. Returns how many references changed."""
    store = graph.facts
    refs = references(store)
    if not refs:
        return 0
    new, old = entries(graph, refs), store.resolution()
    if new == old:
        return 0
    store.set_resolution(new)
    changed = {e["ref"] for e in _differ(new, old)}
    _regroup(graph, store, changed, {e["target"] for e in new + old if e["ref"] in changed})
    return len(changed)


def _differ(new: list[dict[str, Any]], old: list[dict[str, Any]]) -> list[dict[str, Any]]:
    key = lambda e: tuple(sorted((k, str(v)) for k, v in e.items()))  # noqa: E731
    return [e for e in new if key(e) not in {key(o) for o in old}] + [e for e in old if key(e) not in {key(n) for n in new}]


def _regroup(graph: Any, store: Any, refs: set[str], targets: set[str]) -> None:
    """Recount the groups the changed references' predictions were or are in."""
    from provex.graph.groups import STORE_SOURCE, group_records
    from provex.vocab import model
    from provex.vocab.records import Edge, Node

    parts = [REF_PARTITION + r for r in sorted(refs)]
    files = store.manifest().data_files(parts)
    if not files:
        return
    hours = [h for (h,) in store.duck().execute(
        f"SELECT DISTINCT hour FROM read_parquet({sql_list([store.readable(f) for f in files])}) ORDER BY hour").fetchall()]
    wanted = [{"partition": key, "hour": h} for key in [*parts, *sorted(targets)] for h in hours]
    stats = scan.group_stats(store, wanted)
    kept = {model.prediction_group(s["g"], s["hour"]).uid for s in stats}
    gone = [model.prediction_group(w["partition"], w["hour"]).uid for w in wanted if w["partition"] in parts]
    graph.write("UNWIND $uids AS uid MATCH (g:PredictionGroup {uid: uid}) DETACH DELETE g",
                uids=[uid for uid in gone if uid not in kept])
    with Writer(graph, "provex:resolve") as writer:
        for stat in stats:
            writer.add_all(group_records(stat))
        for g, hour, name in scan.features(store, files):
            writer.add(Node(model.feature(name), {"name": name}, STORE_SOURCE))
            writer.add(Edge("USED", model.prediction_group(g, hour), model.feature(name), source=STORE_SOURCE))
