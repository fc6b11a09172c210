"""One node as a page shows it: its properties, and its direct edges with the
sources that asserted them and their time range; and the predictions made by
a set of model versions (the impact page's table)."""

from __future__ import annotations

from typing import Any

from provex.graph import factlinks, facts
from provex.graph.connection import Graph
from provex.graph.groups import node_props

EDGES = """
MATCH (n:Node {uid: $uid})-[e]-(o)
RETURN type(e) AS type, CASE WHEN startNode(e) = n THEN 'out' ELSE 'in' END AS direction, o.uid AS other,
       [l IN labels(o) WHERE l <> 'Node'][0] AS other_kind, e.sources AS sources, e.first_ingest AS first_ingest,
       e.last_ingest AS last_ingest, e.valid_from AS valid_from, e.valid_to AS valid_to
ORDER BY type, direction, other LIMIT $limit
"""
PREDICTION_COLUMNS = ("prediction", "timestamp", "subject_id", "output", "model_version", "via")


def properties(graph: Graph, uid: str) -> dict[str, Any] | None:
    """The node's properties, or None when no node has that uid (a prediction's
    come from the prediction store, with the file and line it was logged at)."""
    if factlinks.is_prediction(uid):
        row = facts.get(graph, uid)
        if row is not None:
            return {"uid": uid, **node_props(row), "sources": [row["source"]], "line": row["line"],
                    "first_ingest": row["ingest"], "last_ingest": row["ingest"]}
    rows = graph.read("MATCH (n:Node {uid: $uid}) RETURN properties(n) AS p", {"uid": uid})
    return rows[0]["p"] if rows else None


def edges(graph: Graph, uid: str, limit: int = 200) -> list[dict[str, Any]]:
    """Direct edges, both ways, at most ``limit`` (a prediction's lineage edges from the store)."""
    if factlinks.is_prediction(uid):
        rows = [(r, "out") for r in factlinks.level(graph, [uid], "up")]
        rows += [(r, "in") for r in factlinks.level(graph, [uid], "down")]
        return [{"type": r["type"], "direction": way, "other": r["uid"], "other_kind": r["label"],
                 "sources": r["eprops"]["sources"], "first_ingest": None, "last_ingest": None,
                 "valid_from": None, "valid_to": None} for r, way in rows][:limit]
    return graph.read(EDGES, {"uid": uid, "limit": int(limit)})


def predictions_of(graph: Graph, versions: list[str], limit: int, timeout: float = 30) -> tuple[list[dict], bool]:
    """Predictions made by these model versions (from the prediction store),
    oldest first, and whether the row limit cut them."""
    rows = facts.of_versions(graph, versions, limit=limit + 1)
    shown = [{"prediction": r["uid"], "timestamp": r["timestamp"], "subject_id": r["subject_id"], "output": r["output"],
              "model_version": r["model_version"], "via": f"predicted by {r['model_version']}"} for r in rows[:limit]]
    return shown, len(rows) > limit
