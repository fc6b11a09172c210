"""Resolving predictions to model versions after each ingest: a prediction
that names its model by ``models:/`` URI, run id or MLflow model_id links to
the registry version once that version is in the graph. Filled in by the
predictions ingest work (issue 5)."""

from __future__ import annotations

from graph.connection import Graph


def run(graph: Graph) -> dict[str, int]:
    """Link what can now be resolved; returns counts."""
    return {}
