"""The app's footer: how big the graph is and when it was last fed.

Read through :mod:`provex.graph.status` (the same counts as ``provex stats``);
the text is built by a pure function so it can be checked without a browser.
"""

from __future__ import annotations

from typing import Any

from provex.graph import status
from provex.graph.connection import Graph


def facts(graph: Graph) -> dict[str, Any]:
    """Node and edge totals and the newest IngestRun's start time (None before any ingest)."""
    nodes = sum(r["count"] for r in status.node_counts(graph) if r["label"] not in ("Source", "IngestRun"))
    edges = sum(r["count"] for r in status.edge_counts(graph))
    runs = status.ingest_runs(graph, limit=1)
    return {"nodes": nodes, "edges": edges, "last_ingest": runs[0]["started_at"] if runs else None,
            "last_source": f"{runs[0]['kind']} {runs[0]['source']}" if runs else None}


def text(info: dict[str, Any]) -> str:
    """``12,345 nodes · 40,210 edges · last ingest 2026-04-02 10:15 UTC (dvc /path)``."""
    when = "no ingest yet"
    if info["last_ingest"]:
        stamp = str(info["last_ingest"]).replace("T", " ")[:16]
        when = f"last ingest {stamp} UTC ({info['last_source']})"
    return f"{info['nodes']:,} nodes · {info['edges']:,} edges · {when}"
