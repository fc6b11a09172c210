"""Small read helpers the adapter tests share: a node's properties, the pairs
an edge type joins, a label's count."""

from __future__ import annotations

from typing import Any

from provex.graph.connection import Graph


def props(graph: Graph, uid: str) -> dict[str, Any]:
    rows = graph.read("MATCH (n {uid: $uid}) RETURN properties(n) AS p", {"uid": uid})
    assert rows, f"no node {uid}"
    return rows[0]["p"]


def edges(graph: Graph, etype: str) -> set[tuple[str, str]]:
    rows = graph.read(f"MATCH (a)-[:{etype}]->(b) WHERE NOT a:IngestRun RETURN a.uid AS a, b.uid AS b")
    return {(r["a"], r["b"]) for r in rows}


def count(graph: Graph, label: str) -> int:
    return graph.read(f"MATCH (n:{label}) RETURN count(n) AS c")[0]["c"]
