"""Cross-tool links inferred by evidence after each ingest (MLflow <-> DVC):
each link is a SAME_AS / USED edge with ``method`` and ``confidence``, never a
silent merge. Filled in by the MLflow ingest work (issue 4)."""

from __future__ import annotations

from graph.connection import Graph


def run(graph: Graph) -> dict[str, int]:
    """Create missing evidence links; returns counts per method."""
    return {}
