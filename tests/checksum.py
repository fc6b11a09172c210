"""A checksum of the graph's content, for "the graph equals the graph of one
run": every node's uid, labels and properties, every edge with its endpoints
and properties; leaving out the ingest audit (IngestRun nodes and their edges,
the Source nodes' bookkeeping) and the stamps that move with each ingest."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from provex.graph.connection import Graph

MOVING = {"first_seen", "last_seen", "first_ingest", "last_ingest"}
NODES = ("MATCH (n:Node) WHERE NOT n:IngestRun "
         "RETURN n.uid AS uid, labels(n) AS labels, properties(n) AS p, n:Source AS source")
EDGES = ("MATCH (a:Node)-[e]->(b:Node) WHERE NOT a:IngestRun AND NOT b:IngestRun "
         "RETURN a.uid AS a, type(e) AS t, b.uid AS b, properties(e) AS p")


def content(graph: Graph) -> tuple[list[Any], list[Any]]:
    """Nodes and edges, sorted, without what moves per ingest."""
    nodes = []
    for row in graph.read(NODES):
        props = {k: v for k, v in row["p"].items() if k not in MOVING}
        if row["source"]:
            props = {k: props.get(k) for k in ("uid", "kind", "name")}
        nodes.append([row["uid"], sorted(row["labels"]), props])
    edges = [[r["a"], r["t"], r["b"], {k: v for k, v in r["p"].items() if k not in MOVING}]
             for r in graph.read(EDGES)]
    key = lambda item: json.dumps(item, sort_keys=True, default=str)  # noqa: E731
    return sorted(nodes, key=key), sorted(edges, key=key)


def checksum(graph: Graph) -> str:
    return hashlib.sha256(json.dumps(content(graph), sort_keys=True, default=str).encode()).hexdigest()
