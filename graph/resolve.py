"""Finishing touches after every ingest, all idempotent and batched:

- predictions whose log named their model only by MLflow run id, model id or
  ``models:/name@alias`` are resolved once the version is in the graph
  (:mod:`provex.graph.modelrefs`): the store's resolution table maps the
  logged reference to the version (an alias by the time it held it), their
  hourly groups move from ``ref:<reference>`` to that version's groups
  (counts from the store), and where predictions have nodes those are
  linked ``PREDICTED_BY`` it too;
- OpenLineage runs marked ``state_stale`` get their final ``state`` and
  ``end_time`` from the per-event-type times, by event time, not arrival order.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from provex.graph import modelrefs
from provex.graph.connection import Graph
from provex.vocab import model

READ_BATCH = 20_000
WRITE_BATCH = 2_000
#: OpenLineage runs carry ``event_time_<TYPE>`` (e.g. ``event_time_COMPLETE``) per event type seen.
EVENT_TIME_PREFIX = "event_time_"
TERMINAL = ("COMPLETE", "FAIL", "ABORT")

_CANDIDATES = """
MATCH (p:Prediction) WHERE p.resolved = false AND p.{key} IS NOT NULL
MATCH (mv:ModelVersion {{{prop}: p.{key}}}) WHERE coalesce(mv.placeholder, false) = false
WITH p, collect(mv.uid) AS versions WHERE size(versions) = 1
RETURN p.uid AS p, versions[0] AS mv, p.hour AS hour
LIMIT $limit
"""

_ALIAS_CANDIDATES = """
MATCH (p:Prediction) WHERE p.resolved = false AND p.model_alias IS NOT NULL AND p.timestamp IS NOT NULL
MATCH (:Model {name: p.model_name})-[a:HAS_ALIAS {alias: p.model_alias}]->(mv:ModelVersion)
WHERE datetime(a.valid_from) <= datetime(p.timestamp)
  AND (a.valid_to IS NULL OR datetime(p.timestamp) < datetime(a.valid_to))
  AND coalesce(mv.placeholder, false) = false
WITH p, collect(DISTINCT mv.uid) AS versions WHERE size(versions) = 1
RETURN p.uid AS p, versions[0] AS mv, p.hour AS hour
LIMIT $limit
"""

_LINK = """
UNWIND $rows AS r
MATCH (p:Prediction {uid: r.p}) MATCH (mv:ModelVersion {uid: r.mv})
MERGE (p)-[e:PREDICTED_BY]->(mv)
ON CREATE SET e.first_seen = $now, e.method = r.method, e.sources = ['provex:resolve']
SET p.resolved = true, p.resolved_by = r.method, e.last_seen = $now
MERGE (g:Node:PredictionGroup {uid: r.group})
ON CREATE SET g.first_seen = $now, g.sources = ['provex:resolve'], g.hour = r.hour, g.model = r.mv, g.placeholder = false
MERGE (p)-[:PART_OF]->(g)
WITH p, g
OPTIONAL MATCH (p)-[old:PART_OF]->(u:PredictionGroup) WHERE u <> g
DELETE old
"""

_STALE_RUNS = "MATCH (r:Run) WHERE r.state_stale = true RETURN r.uid AS uid, properties(r) AS props LIMIT $limit"
_SET_STATE = """
UNWIND $rows AS r MATCH (n:Run {uid: r.uid})
SET n.state = r.state, n.end_time = r.end_time, n.state_stale = false
"""


def run(graph: Graph) -> dict[str, int]:
    """Link what can now be resolved, refresh counts and run states; returns counts."""
    counts = {
        "prediction-groups-resolved": modelrefs.resolve(graph),
        "prediction-model-by-run-id": link_predictions(graph, "model_run_id", "run_id"),
        "prediction-model-by-model-id": link_predictions(graph, "model_id", "model_id"),
        "prediction-model-by-alias-at-time": link_candidates(graph, _ALIAS_CANDIDATES, "alias-at-time"),
        "openlineage-run-states": finish_run_states(graph),
    }
    return {name: count for name, count in counts.items() if count}


def link_predictions(graph: Graph, key: str, prop: str) -> int:
    """Unresolved predictions whose ``key`` equals exactly one ModelVersion's ``prop``
    (``key`` and ``prop`` are fixed names from this module, never input)."""
    assert model.is_identifier(key) and model.is_identifier(prop)
    return link_candidates(graph, _CANDIDATES.format(key=key, prop=prop), prop)


def link_candidates(graph: Graph, query: str, method: str) -> int:
    """Link the (prediction, model version) pairs ``query`` finds, in batches.
    A ``models:/name@alias`` prediction links to the version that held the
    alias at the prediction's timestamp (the HAS_ALIAS interval)."""
    now, total = _now(), 0
    while True:
        rows = graph.read(query, {"limit": READ_BATCH})
        if not rows:
            return total
        total += graph.write_rows(_LINK, [_link_row(r, method) for r in rows], WRITE_BATCH, now=now)
        if len(rows) < READ_BATCH:
            return total


def _link_row(row: dict[str, Any], method: str) -> dict[str, Any]:
    hour = row["hour"] or "unknown"
    return {"p": row["p"], "mv": row["mv"], "hour": hour, "method": method,
            "group": model.prediction_group(row["mv"], hour).uid}


def finish_run_states(graph: Graph) -> int:
    """Final ``state`` and ``end_time`` of runs whose event times changed."""
    total = 0
    while True:
        rows = graph.read(_STALE_RUNS, {"limit": READ_BATCH})
        if not rows:
            return total
        total += graph.write_rows(_SET_STATE, [final_state(r["uid"], r["props"]) for r in rows], WRITE_BATCH)
        if len(rows) < READ_BATCH:
            return total


def final_state(uid: str, props: dict[str, Any]) -> dict[str, Any]:
    """The latest event by time wins; at equal times a terminal state wins."""
    times = {key[len(EVENT_TIME_PREFIX):]: _parse(value) for key, value in props.items()
             if key.startswith(EVENT_TIME_PREFIX)}
    seen = sorted((moment, state in TERMINAL, state) for state, moment in times.items() if moment is not None)
    ends = [(moment, props[EVENT_TIME_PREFIX + state]) for moment, terminal, state in seen if terminal]
    return {"uid": uid, "state": seen[-1][2] if seen else props.get("state"),
            "end_time": max(ends)[1] if ends else props.get("end_time")}


def _parse(text: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _now() -> str:
    return datetime.now(UTC).isoformat()
