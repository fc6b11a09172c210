"""Logged model references that name no known registry version, resolved
against the graph (after every ingest, so a run or version ingested after its
log still resolves its predictions).

A reference is what a prediction log said about its model: an MLflow run id,
a logged model id, ``models:/name@alias``, a name, or ``name@version`` /
a bare version when no registry holds that version (a training timestamp, a
git sha, a run name...). Each one is matched here:

- a run id, a model id: the registry version of that run or logged model,
  else the run or logged model itself;
- an alias: each version for the time it held the alias;
- anything else by evidence (:mod:`provex.graph.evidence`): the version
  string or name matched against registered versions, run ids and names,
  tag and param values, logged model ids, artifact hashes, commits, and the
  values of small metadata files a pipeline stage wrote beside its model.

One unambiguous match becomes an entry of the store's resolution table
``{ref, partition, target, valid_from, valid_to, method, confidence,
evidence}``; the target is a ModelVersion, LoggedModel, model artifact
DataVersion or Run. Several are the store's ambiguity list (lineage-gaps
shows them with their candidates), never guessed. The hourly groups of
the reference's predictions then move to the target's groups, with counts
from the store; prediction nodes (where the volume gave them one) follow.
"""

from __future__ import annotations

from typing import Any

from provex.graph import evidence
from provex.graph.groups import STORE_SOURCE, group_records, prediction_records
from provex.graph.writer import Writer
from provex.store import query, scan
from provex.store.query import entry_partition, sql_list
from provex.vocab import model
from provex.vocab.facts import REF_PARTITION, partition_of
from provex.vocab.records import Edge, Node

VERSION_PREFIX = model.model_version("", "").uid.removesuffix("@")  # "model:"

_ALIAS = """
UNWIND $refs AS r
MATCH (:Model {name: r.name})-[a:HAS_ALIAS {alias: r.alias}]->(mv:ModelVersion)
WHERE NOT coalesce(mv.placeholder, false)
RETURN r.partition AS partition, mv.uid AS target, a.valid_from AS valid_from, a.valid_to AS valid_to
"""
_REAL = ("UNWIND $uids AS u MATCH (mv:ModelVersion {uid: u}) WHERE NOT coalesce(mv.placeholder, false) "
         "RETURN mv.uid AS uid")


def references(graph: Any, store: Any) -> list[dict[str, Any]]:
    """Each distinct reference in the store that no real registry version holds,
    with its partition and what it names (run id, model id, name, alias, version)."""
    manifest = store.manifest()
    parts = manifest.partitions()
    named = sorted(p for p in parts if not p.startswith(REF_PARTITION))
    real = {r["uid"] for r in graph.read(_REAL, {"uids": named})} if named else set()
    out = [_named(p) for p in named if p not in real and p.startswith(VERSION_PREFIX)]
    files = manifest.data_files(sorted(p for p in parts if p.startswith(REF_PARTITION)))
    if files:
        rows = store.duck().execute(f"""
            SELECT model_ref, any_value(model_run_id), any_value(model_id), any_value(model_name),
                   any_value(model_alias), any_value(model_version)
            FROM read_parquet({sql_list([store.readable(f) for f in files])})
            WHERE model_version_uid IS NULL GROUP BY model_ref ORDER BY model_ref""").fetchall()
        names = ("ref", "run_id", "model_id", "name", "alias", "version")
        out += [{**dict(zip(names, row)), "partition": REF_PARTITION + (row[0] or "")} for row in rows]
    return out


def _named(partition: str) -> dict[str, Any]:
    """A version the log named (``model:<name>@<version>``) that the graph knows only as a placeholder."""
    key = partition[len(VERSION_PREFIX):]
    name, _, version = key.rpartition("@")
    return {"ref": key, "partition": partition, "name": name or None, "version": version or None,
            "run_id": None, "model_id": None, "alias": None}


def entries(graph: Any, refs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The resolution table (each reference with one match) and the ambiguous references."""
    out: list[dict[str, Any]] = []
    by_part = {r["partition"]: r for r in refs}
    aliased = [r for r in refs if r.get("alias") and r.get("name")]
    for held in graph.read(_ALIAS, {"refs": aliased}) if aliased else []:
        out.append(_entry(by_part[held["partition"]], held["target"], "alias-at-time", evidence.WAYS["alias-at-time"],
                          f"alias {by_part[held['partition']]['alias']}", held["valid_from"], held["valid_to"]))
    valued = {r["partition"]: r.get("run_id") or r.get("model_id") or evidence.value_of(r) for r in refs
              if not r.get("alias")}
    found = evidence.candidates(graph, [v for v in valued.values() if v])
    evidence.annotate(graph, [c for cands in found.values() for c in cands])
    unsure: list[dict[str, Any]] = []
    for part, value in sorted(valued.items()):
        ref = by_part[part]
        cands = found.get(value or "", [])
        if ref.get("run_id") or ref.get("model_id"):  # an id names one thing: no value elsewhere counts
            cands = [c for c in cands if c.method in ("run_id", "model_id")]
        if not cands:
            continue
        outcome = evidence.decide(graph, cands, ref.get("name"))
        if outcome.target is not None:
            t = outcome.target
            out.append(_entry(ref, t.target, t.method, t.confidence, t.evidence))
        else:
            unsure.append({"ref": ref["ref"], "partition": part, "candidates": [c.target for c in outcome.ambiguous],
                           "evidence": [f"{c.target}: {c.evidence}" for c in outcome.ambiguous]})
    return sorted(out, key=lambda e: (e["partition"], e["target"], e["valid_from"] or "")), unsure


def _entry(ref: dict[str, Any], target: str, method: str, confidence: float, said: str,
           valid_from: str | None = None, valid_to: str | None = None) -> dict[str, Any]:
    return {"ref": ref["ref"], "partition": ref["partition"], "target": target, "valid_from": valid_from,
            "valid_to": valid_to, "method": method, "confidence": confidence, "evidence": said}


def resolve(graph: Any) -> dict[str, int]:
    """Refresh the resolution table and the ambiguity list; move the groups of
    references whose entries changed. Counts: references changed, and
    prediction nodes linked, by method."""
    store = graph.facts
    refs = references(graph, store)
    old = store.resolution()
    if not refs and not old:
        return {}
    new, unsure = entries(graph, refs)
    if unsure != store.ambiguous():
        store.set_ambiguous(unsure)
    if new == old:
        return {}
    store.set_resolution(new)
    changed = {entry_partition(e) for e in _differ(new, old)}
    linked = _regroup(graph, store, changed, {e["target"] for e in new + old if entry_partition(e) in changed})
    return {"prediction-groups-resolved": len(changed), **linked}


def _differ(new: list[dict[str, Any]], old: list[dict[str, Any]]) -> list[dict[str, Any]]:
    key = lambda e: tuple(sorted((k, str(v)) for k, v in e.items()))  # noqa: E731
    return [e for e in new if key(e) not in {key(o) for o in old}] + [e for e in old if key(e) not in {key(n) for n in new}]


_NODES_OF = ("UNWIND $uids AS uid MATCH (p:Prediction)-[:PART_OF]->(:PredictionGroup {uid: uid}) "
             "RETURN DISTINCT p.uid AS uid")
_UNLINK = ("UNWIND $rows AS r MATCH (p:Prediction {uid: r.uid}) REMOVE p.resolved_by "
           "WITH p MATCH (p)-[e:PART_OF|PREDICTED_BY]->() DELETE e")
_ORPHANS = ("UNWIND $uids AS uid MATCH (mv:ModelVersion {uid: uid}) WHERE mv.placeholder = true "
            "AND NOT EXISTS { (mv)--() } DELETE mv")


def _regroup(graph: Any, store: Any, parts: set[str], targets: set[str]) -> dict[str, int]:
    """Recount the groups the changed partitions' predictions were or are in;
    their prediction nodes follow. Returns prediction nodes linked, by method."""
    files = store.manifest().data_files(sorted(parts))
    if not files:
        return {}
    hours = [h for (h,) in store.duck().execute(
        f"SELECT DISTINCT hour FROM read_parquet({sql_list([store.readable(f) for f in files])}) ORDER BY hour").fetchall()]
    wanted = [{"partition": key, "hour": h} for key in [*sorted(parts), *sorted(targets)] for h in hours]
    stats = scan.group_stats(store, wanted)
    kept = {model.prediction_group(s["g"], s["hour"]).uid for s in stats}
    groups = [model.prediction_group(w["partition"], w["hour"]).uid for w in wanted]
    nodes = [r["uid"] for r in graph.read(_NODES_OF, {"uids": groups})]
    rows = [r for r in query.get(store, nodes) if partition_of(r) in parts]
    graph.write_rows(_UNLINK, [{"uid": r["uid"]} for r in rows], 2_000)
    gone = {model.prediction_group(w["partition"], w["hour"]).uid for w in wanted if w["partition"] in parts}
    graph.write("UNWIND $uids AS uid MATCH (g:PredictionGroup {uid: uid}) DETACH DELETE g",
                uids=sorted(gone - kept))
    linked: dict[str, int] = {}
    with Writer(graph, "provex:resolve") as writer:
        for stat in stats:
            writer.add_all(group_records(stat))
        for g, hour, name in scan.features(store, files):
            writer.add(Node(model.feature(name), {"name": name}, STORE_SOURCE))
            writer.add(Edge("USED", model.prediction_group(g, hour), model.feature(name), source=STORE_SOURCE))
        for row in rows:
            writer.add_all(prediction_records(row))
            if row["model_version"]:
                key = "prediction-model-by-" + str(row["resolved_by"]).replace("_", "-")
                linked[key] = linked.get(key, 0) + 1
    graph.write(_ORPHANS, uids=sorted(p for p in parts if not p.startswith(REF_PARTITION)))
    return linked

