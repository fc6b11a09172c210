"""The lineage edges of individual predictions, read from the prediction store
(they are not walked in the graph, so lineage is the same whether or not the
predictions also have nodes): a prediction was PREDICTED_BY its model version,
USED the upstream predictions it was fed, was OVERRIDDEN_BY a rule; and was
USED by later predictions. A model found by the resolver (a run, a model
artifact, a logged model) is the PREDICTED_BY end like a registry version,
and the edge carries the method, confidence and evidence. Rows have the shape of a lineage level's rows
(:mod:`provex.graph.lineage`)."""

from __future__ import annotations

from typing import Any

from provex.graph import facts
from provex.graph.groups import node_props, target_ref
from provex.store.query import downstream
from provex.vocab import model

PREFIX = model.prediction("").uid  # "prediction:"
_NODES = ("MATCH (b:Node) WHERE b.uid IN $uids RETURN b.uid AS uid, "
          "[l IN labels(b) WHERE l <> 'Node'][0] AS label, properties(b) AS props")


def is_prediction(uid: str) -> bool:
    return uid.startswith(PREFIX)


def node(graph: Any, uid: str) -> dict[str, Any] | None:
    """A stored prediction as a lineage node row (uid, label, props)."""
    row = facts.get(graph, uid)
    return None if row is None else {"uid": uid, "label": "Prediction", "props": node_props(row)}


def made_by(graph: Any, versions: list[str], limit: int, as_of: str | None = None) -> list[dict[str, Any]]:
    """Downstream of model versions: their predictions (oldest first, at most ``limit``)."""
    if not versions:
        return []
    rows = facts.of_versions(graph, versions, until=as_of, limit=limit)
    return [_row(r["uid"], r["model_version"], "PREDICTED_BY", _prediction(r["uid"], r), r["uid"], _how(r)) for r in rows]


def targets(graph: Any) -> set[str]:
    """What logged references were resolved to (runs, artifacts, logged models, versions): their predictions
    are downstream of them."""
    return {e["target"] for e in graph.facts.resolution()}


def made_by_count(graph: Any, versions: list[str], as_of: str | None = None) -> int:
    return facts.count_of(graph, versions, until=as_of) if versions else 0


def level(graph: Any, frontier: list[str], direction: str) -> list[dict[str, Any]]:
    """One level of lineage from these predictions, up or down."""
    rows = facts.many(graph, frontier)
    if direction == "down":
        pairs = downstream(graph.facts, [r["uid"] for r in rows])
        found = {r["uid"]: r for r in facts.many(graph, sorted({uid for _, uid in pairs}))}
        return [_row(uid, up, "USED", _prediction(uid, found.get(uid)), uid) for up, uid in pairs]
    out: list[dict[str, Any]] = []
    versions = {r["model_version"] for r in rows if r["model_version"]}
    known = {n["uid"]: n for n in graph.read(_NODES, {"uids": sorted(versions)})} if versions else {}
    ups = {r["uid"]: r for r in facts.many(graph, sorted({u for r in rows for u in r["upstream"]}))}
    for r in rows:
        mv = r["model_version"]
        if mv:
            out.append(_row(r["uid"], mv, "PREDICTED_BY", known.get(mv) or _placeholder(mv, target_ref(mv).label), mv,
                            _how(r)))
        for up in r["upstream"]:
            out.append(_row(r["uid"], up, "USED", _prediction(up, ups.get(up)), up))
        if r["override_rule"]:
            over = model.override(r["prediction_id"], r["override_rule"]).uid
            props = {"rule": r["override_rule"], "original_output": r["original_output"], "final_output": r["output"]}
            out.append(_row(r["uid"], over, "OVERRIDDEN_BY", {"uid": over, "label": "Override", "props": props}, over))
    return out


def _prediction(uid: str, row: dict[str, Any] | None) -> dict[str, Any]:
    if row is None:
        return _placeholder(uid, "Prediction")
    return {"uid": uid, "label": "Prediction", "props": node_props(row)}


def _placeholder(uid: str, label: str) -> dict[str, Any]:
    return {"uid": uid, "label": label, "props": {"placeholder": True}}


def _how(row: dict[str, Any]) -> dict[str, Any]:
    """A resolved prediction's edge to its model says how it was found."""
    if row.get("resolved_by") in (None, "logged"):
        return {}
    return {k: row.get(k) for k in ("evidence", "confidence") if row.get(k) is not None} | {"method": row["resolved_by"]}


def _row(src: str, dst: str, etype: str, other: dict[str, Any], uid: str, eprops: dict[str, Any] | None = None
         ) -> dict[str, Any]:
    return {"src": src, "dst": dst, "type": etype, "eprops": {"sources": ["provex:store"], **(eprops or {})}, "uid": uid,
            "label": other["label"], "props": other["props"]}
