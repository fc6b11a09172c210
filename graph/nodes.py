"""One node as a page shows it: its properties, and its direct edges with the
sources that asserted them and their time range; and the predictions made by
a set of model versions (the impact page's table)."""

from __future__ import annotations

from typing import Any

from provex.graph.connection import Graph

EDGES = """
MATCH (n:Node {uid: $uid})-[e]-(o)
RETURN type(e) AS type, CASE WHEN startNode(e) = n THEN 'out' ELSE 'in' END AS direction, o.uid AS other,
       [l IN labels(o) WHERE l <> 'Node'][0] AS other_kind, e.sources AS sources, e.first_ingest AS first_ingest,
       e.last_ingest AS last_ingest, e.valid_from AS valid_from, e.valid_to AS valid_to
ORDER BY type, direction, other LIMIT $limit
"""
PREDICTIONS_OF = """
MATCH (p:Prediction)-[:PREDICTED_BY]->(mv:ModelVersion) WHERE mv.uid IN $versions
RETURN p.uid AS prediction, p.timestamp AS timestamp, p.subject_id AS subject_id, p.output AS output,
       mv.uid AS model_version, 'predicted by ' + mv.uid AS via
ORDER BY timestamp, prediction
"""
PREDICTION_COLUMNS = ("prediction", "timestamp", "subject_id", "output", "model_version", "via")


def properties(graph: Graph, uid: str) -> dict[str, Any] | None:
    """The node's properties, or None when no node has that uid."""
    rows = graph.read("MATCH (n:Node {uid: $uid}) RETURN properties(n) AS p", {"uid": uid})
    return rows[0]["p"] if rows else None


def edges(graph: Graph, uid: str, limit: int = 200) -> list[dict[str, Any]]:
    """Direct edges, both ways, at most ``limit``."""
    return graph.read(EDGES, {"uid": uid, "limit": int(limit)})


def predictions_of(graph: Graph, versions: list[str], limit: int, timeout: float = 30) -> tuple[list[dict], bool]:
    """Predictions made by these model versions, oldest first, and whether the
    row limit cut them."""
    return graph.read_bounded(PREDICTIONS_OF, {"versions": versions}, limit=limit, timeout=timeout)
