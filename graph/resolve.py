"""Finishing touches after every ingest, all idempotent and batched:

- predictions whose log named their model only by MLflow run id or model id
  (``resolved = false``) are linked ``PREDICTED_BY`` the ``ModelVersion``
  carrying that ``run_id`` / ``model_id`` once it is in the graph, and move
  from the ``unresolved`` hourly group to that version's group;
- ``PredictionGroup.count`` is recomputed for groups marked ``count_stale``
  (from their ``PART_OF`` edges, so re-ingest and appended logs keep it right);
- OpenLineage runs marked ``state_stale`` get their final ``state`` and
  ``end_time`` from the per-event-type times, by event time, not arrival order.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

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
RETURN p.uid AS p, versions[0] AS mv, p.hour AS hour,
       [k IN keys(p) WHERE k STARTS WITH 'input.' | substring(k, 6)] AS inputs
LIMIT $limit
"""

_ALIAS_CANDIDATES = """
MATCH (p:Prediction) WHERE p.resolved = false AND p.model_alias IS NOT NULL AND p.timestamp IS NOT NULL
MATCH (:Model {name: p.model_name})-[a:HAS_ALIAS {alias: p.model_alias}]->(mv:ModelVersion)
WHERE datetime(a.valid_from) <= datetime(p.timestamp)
  AND (a.valid_to IS NULL OR datetime(p.timestamp) < datetime(a.valid_to))
  AND coalesce(mv.placeholder, false) = false
WITH p, collect(DISTINCT mv.uid) AS versions WHERE size(versions) = 1
RETURN p.uid AS p, versions[0] AS mv, p.hour AS hour,
       [k IN keys(p) WHERE k STARTS WITH 'input.' | substring(k, 6)] AS inputs
LIMIT $limit
"""

_LINK = """
UNWIND $rows AS r
MATCH (p:Prediction {uid: r.p}) MATCH (mv:ModelVersion {uid: r.mv})
MERGE (p)-[e:PREDICTED_BY]->(mv)
ON CREATE SET e.first_seen = $now, e.method = r.method, e.sources = ['provex:resolve']
SET p.resolved = true, p.resolved_by = r.method, e.last_seen = $now
MERGE (g:Node:PredictionGroup {uid: r.group})
ON CREATE SET g.first_seen = $now, g.sources = ['provex:resolve']
SET g.hour = r.hour, g.model = r.mv, g.placeholder = false, g.count_stale = true, g.last_seen = $now
MERGE (g)-[:PREDICTED_BY]->(mv)
MERGE (p)-[:PART_OF]->(g)
FOREACH (f IN r.features |
  MERGE (fn:Node:Feature {uid: f.uid}) ON CREATE SET fn.name = f.name, fn.placeholder = false, fn.first_seen = $now
  MERGE (g)-[:USED]->(fn))
WITH p, g
OPTIONAL MATCH (p)-[old:PART_OF]->(u:PredictionGroup) WHERE u <> g
SET u.count_stale = true
DELETE old
"""

_STALE_GROUPS = "MATCH (g:PredictionGroup) WHERE g.count_stale = true RETURN g.uid AS uid LIMIT $limit"
_RECOUNT = """
UNWIND $rows AS r MATCH (g:PredictionGroup {uid: r.uid})
SET g.count = COUNT { (g)<-[:PART_OF]-() }, g.count_stale = false
"""

_STALE_RUNS = "MATCH (r:Run) WHERE r.state_stale = true RETURN r.uid AS uid, properties(r) AS props LIMIT $limit"
_SET_STATE = """
UNWIND $rows AS r MATCH (n:Run {uid: r.uid})
SET n.state = r.state, n.end_time = r.end_time, n.state_stale = false
"""


def run(graph: Graph) -> dict[str, int]:
    """Link what can now be resolved, refresh counts and run states; returns counts."""
    counts = {
        "prediction-model-by-run-id": link_predictions(graph, "model_run_id", "run_id"),
        "prediction-model-by-model-id": link_predictions(graph, "model_id", "model_id"),
        "prediction-model-by-alias-at-time": link_candidates(graph, _ALIAS_CANDIDATES, "alias-at-time"),
        "prediction-groups-recounted": recount_groups(graph),
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
    return {
        "p": row["p"], "mv": row["mv"], "hour": hour, "method": method,
        "group": model.prediction_group(row["mv"], hour).uid,
        "features": [{"uid": model.feature(name).uid, "name": name} for name in row["inputs"]],
    }


def recount_groups(graph: Graph) -> int:
    """Set ``count`` on every group marked stale, from its PART_OF edges."""
    total = 0
    while True:
        rows = graph.read(_STALE_GROUPS, {"limit": READ_BATCH})
        if not rows:
            return total
        total += graph.write_rows(_RECOUNT, rows, WRITE_BATCH)
        if len(rows) < READ_BATCH:
            return total


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
