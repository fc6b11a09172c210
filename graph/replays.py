"""Graph reads and writes for replaying logged predictions (``provex replay``):
what a prediction was fed, which model version made it, which upstream
predictions it used, and the ``Replay`` nodes recorded for it.

Reads only; the model itself is loaded by :mod:`provex.app.reproduce.replay`.
"""

from __future__ import annotations

from typing import Any

from provex.graph.connection import Graph

MAX_CHAIN = 5  # upstream hops followed when replaying chained predictions

_PREDICTION = """
MATCH (p:Prediction {uid: $prediction})
OPTIONAL MATCH (p)-[:PREDICTED_BY]->(mv:ModelVersion)
OPTIONAL MATCH (p)-[:OVERRIDDEN_BY]->(o:Override)
WITH p, mv, collect(o {.rule, .original_output, .final_output})[0] AS override
RETURN p.uid AS uid, p.prediction_id AS prediction_id, p.output AS output, p.original_output AS original_output,
       p.timestamp AS timestamp, override,
       [k IN keys(p) WHERE k STARTS WITH 'input.' | [substring(k, 6), p[k]]] AS inputs,
       [(p)-[:USED]->(u:Prediction) | u.uid] AS upstream,
       mv {.uid, .name, .version, .tracking_uri, .source, .model_id, .run_id, .placeholder} AS model_version,
       [(mv)-[:WAS_DERIVED_FROM]->(lm:LoggedModel) | lm.artifact_location][0] AS logged_model_location,
       [(mv)-[:WAS_GENERATED_BY]->(r:Run) | r.artifact_uri][0] AS run_artifact_uri
"""

_MODEL_VERSION = """
MATCH (mv:ModelVersion {uid: $model_version})
RETURN mv {.uid, .name, .version, .tracking_uri, .source, .model_id, .run_id, .placeholder} AS model_version,
       [(mv)-[:WAS_DERIVED_FROM]->(lm:LoggedModel) | lm.artifact_location][0] AS logged_model_location,
       [(mv)-[:WAS_GENERATED_BY]->(r:Run) | r.artifact_uri][0] AS run_artifact_uri
"""

_REPLAYS = """
MATCH (x:Replay)-[:REPLAYS]->(p:Prediction {uid: $prediction})
RETURN x.uid AS replay, x.started_at AS started_at, x.model_version AS model_version, x.outcome AS outcome,
       x.logged_output AS logged_output, x.replayed_output AS replayed_output, x.post_processing AS post_processing
ORDER BY started_at DESC LIMIT $limit
"""


def prediction(graph: Graph, uid: str) -> dict[str, Any] | None:
    """A prediction's logged facts: inputs (name -> value), output, override,
    upstream prediction uids and its model version (with where its model lives)."""
    rows = graph.read(_PREDICTION, {"prediction": uid})
    if not rows:
        return None
    row = dict(rows[0])
    row["inputs"] = {k: v for k, v in sorted(row["inputs"])}
    row["upstream"] = sorted(row["upstream"])
    return row


def model_version(graph: Graph, uid: str) -> dict[str, Any] | None:
    """A model version's name, version, tracking URI and artifact locations."""
    rows = graph.read(_MODEL_VERSION, {"model_version": uid})
    return dict(rows[0]) if rows else None


def past_replays(graph: Graph, prediction_uid: str, limit: int = 50) -> list[dict[str, Any]]:
    """The recorded replays of a prediction, newest first."""
    return graph.read(_REPLAYS, {"prediction": prediction_uid, "limit": limit})
