"""A checksum of the whole graph, for crash and order tests: every node's uid,
labels and properties, every edge's type, endpoints and properties. Left out:
the audit trail of ingests (IngestRun and Source nodes and their edges) and
the time stamps that say *when* something was written, which differ between
any two runs (``first_seen``, ``last_seen``, ``first_ingest``, ``last_ingest``,
and the ``valid_from`` of an alias observed at ingest time)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from provex.graph.connection import Graph

AUDIT_LABELS = ("IngestRun", "Source")
STAMPS = ("first_seen", "last_seen", "first_ingest", "last_ingest")
#: Where in the prediction store a group's predictions are: file names carry the ingest that wrote them.
STORE_PLACES = ("files",)


def _clean(props: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in props.items() if k not in STAMPS and k not in STORE_PLACES}
    if out.get("evidence") == "observed at ingest":
        out.pop("valid_from", None)
    if isinstance(out.get("sources"), list):
        out["sources"] = sorted(out["sources"])
    return out


def snapshot(graph: Graph) -> dict[str, Any]:
    """Nodes and edges as sorted plain data (what :func:`checksum` hashes)."""
    nodes = graph.read("MATCH (n:Node) WHERE NONE(l IN labels(n) WHERE l IN $audit) "
                       "RETURN n.uid AS uid, labels(n) AS labels, properties(n) AS props", {"audit": AUDIT_LABELS})
    edges = graph.read("MATCH (a:Node)-[e]->(b:Node) WHERE NONE(l IN labels(a) + labels(b) WHERE l IN $audit) "
                       "RETURN type(e) AS type, a.uid AS src, b.uid AS dst, properties(e) AS props",
                       {"audit": AUDIT_LABELS})
    dump = lambda row: json.dumps(row, sort_keys=True, default=str)  # noqa: E731
    facts = stored(graph)
    return {
        "nodes": sorted(dump({**n, "labels": sorted(n["labels"]), "props": _clean(n["props"])}) for n in nodes),
        "edges": sorted(dump({**e, "props": _clean(e["props"])}) for e in edges),
        "uids": len(nodes), "distinct_uids": len({n["uid"] for n in nodes}),
        "facts": facts, "facts_count": len(facts), "distinct_facts": len({f.split(" ", 1)[0] for f in facts}),
    }


def stored(graph: Graph) -> list[str]:
    """Every prediction in the store beside the graph, as ``uid digest`` (the
    live files only: what the manifest lists)."""
    from provex.store.query import sql_list
    from provex.store.table import DIGEST

    store = graph.facts
    files = [store.readable(f) for f in store.manifest().data_files()]
    if not files:
        return []
    rows = store.duck().execute(f"SELECT uid, {DIGEST} AS digest FROM read_parquet({sql_list(files)}) ORDER BY ALL").fetchall()
    return [f"{uid} {digest}" for uid, digest in rows]


def checksum(graph: Graph) -> str:
    """sha256 over :func:`snapshot`, and the counts it covers, as one string."""
    snap = snapshot(graph)
    digest = hashlib.sha256("\n".join(snap["nodes"] + ["--"] + snap["edges"] + ["--"] + snap["facts"]).encode()).hexdigest()
    return f"{digest[:16]} ({len(snap['nodes'])} nodes, {len(snap['edges'])} edges, {snap['facts_count']} predictions stored)"
