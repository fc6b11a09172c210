"""Finishing touches after every ingest, all idempotent and batched:

- predictions whose log named no known registry version (a run id, a model
  id, ``models:/name@alias``, a version string or name) are resolved once
  the graph holds what they name (:mod:`provex.graph.modelrefs`, by evidence:
  :mod:`provex.graph.evidence`): the store's resolution table maps the logged
  reference to its target (an alias by the time it held it), their hourly
  groups move to the target's groups (counts from the store), and where
  predictions have nodes those are linked ``PREDICTED_BY`` it too;
- OpenLineage runs marked ``state_stale`` get their final ``state`` and
  ``end_time`` from the per-event-type times, by event time, not arrival order.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from provex.graph import modelrefs
from provex.graph.connection import Graph

READ_BATCH = 20_000
WRITE_BATCH = 2_000
#: OpenLineage runs carry ``event_time_<TYPE>`` (e.g. ``event_time_COMPLETE``) per event type seen.
EVENT_TIME_PREFIX = "event_time_"
TERMINAL = ("COMPLETE", "FAIL", "ABORT")

_STALE_RUNS = "MATCH (r:Run) WHERE r.state_stale = true RETURN r.uid AS uid, properties(r) AS props LIMIT $limit"
_SET_STATE = """
UNWIND $rows AS r MATCH (n:Run {uid: r.uid})
SET n.state = r.state, n.end_time = r.end_time, n.state_stale = false
"""


def run(graph: Graph) -> dict[str, int]:
    """Link what can now be resolved, refresh counts and run states; returns counts."""
    counts = {**modelrefs.resolve(graph), "openlineage-run-states": finish_run_states(graph)}
    return {name: count for name, count in counts.items() if count}


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

