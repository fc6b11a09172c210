"""Graph reads and writes for replaying logged predictions (``provex replay``):
what a prediction was fed, which model version made it, which upstream
predictions it used, and the ``Replay`` nodes recorded for it.

Reads only; the model itself is loaded by :mod:`provex.app.reproduce.replay`.
"""

from __future__ import annotations

from typing import Any

from provex.graph import facts
from provex.graph.connection import Graph

MAX_CHAIN = 5  # upstream hops followed when replaying chained predictions

_MODEL_VERSION = """
MATCH (mv:ModelVersion {uid: $model_version})
RETURN mv {.uid, .name, .version, .tracking_uri, .source, .model_id, .run_id, .placeholder} AS model_version,
       [(mv)-[:WAS_DERIVED_FROM]->(lm:LoggedModel) | lm.artifact_location][0] AS logged_model_location,
       [(mv)-[:WAS_GENERATED_BY]->(r:Run) | r.artifact_uri][0] AS run_artifact_uri
"""

_REPLAYS = """
MATCH (x:Replay)-[:REPLAYS]->(p:Node {uid: $prediction})
RETURN x.uid AS replay, x.started_at AS started_at, x.model_version AS model_version, x.outcome AS outcome,
       x.logged_output AS logged_output, x.replayed_output AS replayed_output, x.post_processing AS post_processing
ORDER BY started_at DESC LIMIT $limit
"""


def prediction(graph: Graph, uid: str) -> dict[str, Any] | None:
    """A prediction's logged facts (from the prediction store): inputs (name ->
    value), output, override, upstream prediction uids and its model version
    (with where its model lives, from the graph)."""
    row = facts.get(graph, uid)
    if row is None:
        return None
    version = model_version(graph, row["model_version"]) if row["model_version"] else None
    override = None
    if row["override_rule"]:
        override = {"rule": row["override_rule"], "original_output": row["original_output"], "final_output": row["output"]}
    return {"uid": row["uid"], "prediction_id": row["prediction_id"], "output": row["output"],
            "original_output": row["original_output"] if override else None, "timestamp": row["timestamp"],
            "override": override, "inputs": dict(sorted((row["inputs"] or {}).items())),
            "upstream": sorted(row["upstream"]),
            "model_version": version["model_version"] if version else None,
            "logged_model_location": version["logged_model_location"] if version else None,
            "run_artifact_uri": version["run_artifact_uri"] if version else None}


def model_version(graph: Graph, uid: str) -> dict[str, Any] | None:
    """A model version's name, version, tracking URI and artifact locations."""
    rows = graph.read(_MODEL_VERSION, {"model_version": uid})
    return dict(rows[0]) if rows else None


def past_replays(graph: Graph, prediction_uid: str, limit: int = 50) -> list[dict[str, Any]]:
    """The recorded replays of a prediction, newest first."""
    return graph.read(_REPLAYS, {"prediction": prediction_uid, "limit": limit})
