"""Individual predictions, read from the store beside the graph, shaped for
the questions, lineage, replay and export.

Every reader of a single prediction goes through here, never through
Cypher: the answer is the same whether or not the ingest also wrote a node
per prediction (``--prediction-nodes``). A prediction comes back as a plain
dict (:func:`provex.store.query.decode`); :func:`param` shapes it as a Cypher
parameter map (inputs as ``[{key, value}]``, the override as a map) for the
question catalog's statements.
"""

from __future__ import annotations

from typing import Any

from provex.store import query, scan
from provex.vocab import model

MAX_HOPS = 5  # upstream predictions followed from one prediction (as USED*0..5 did)


def uid_of(ref: str) -> str:
    """``prediction:<id>`` for an id or a uid."""
    return ref if ref.startswith("prediction:") else model.prediction(ref).uid


def get(graph: Any, uid: str) -> dict[str, Any] | None:
    rows = query.get(graph.facts, [uid])
    return rows[0] if rows else None


def many(graph: Any, uids: list[str]) -> list[dict[str, Any]]:
    return query.get(graph.facts, uids)


def chain(graph: Any, uid: str, hops: int = MAX_HOPS) -> list[dict[str, Any]]:
    """The prediction and the upstream predictions it used (transitively, up to
    ``hops``), each with ``hop``: its distance, the shortest one."""
    seen: dict[str, dict[str, Any]] = {}
    frontier, hop = [uid], 0
    while frontier and hop <= hops:
        found = many(graph, frontier)
        for row in found:
            seen[row["uid"]] = {**row, "hop": hop}
        frontier = sorted({u for row in found for u in row["upstream"] if u not in seen})
        hop += 1
    return sorted(seen.values(), key=lambda r: (r["hop"], r["uid"]))


def param(row: dict[str, Any]) -> dict[str, Any]:
    """A prediction as a Cypher parameter map."""
    over = None
    if row.get("override_rule"):
        over = {"rule": row["override_rule"], "original": row["original_output"], "final": row["output"],
                "uid": model.override(row["prediction_id"], row["override_rule"]).uid}
    return {
        "uid": row["uid"], "prediction_id": row["prediction_id"], "hop": row.get("hop", 0),
        "timestamp": row["timestamp"], "hour": row["hour"], "output": row["output"],
        "original_output": row["original_output"] if over else None, "score": row["score"],
        "subject_id": row["subject_id"], "household_id": row["household_id"],
        "feature_pipeline": row["feature_pipeline"], "input_hash": row["input_hash"],
        "resolved": row["model_version"] is not None, "model_version": row["model_version"],
        "model_ref": row["model_ref"], "model_name": row["model_name"], "logged_version": row.get("logged_model_version"),
        "resolved_by": row.get("resolved_by"), "confidence": row.get("confidence"), "evidence": row.get("evidence"),
        "inputs": [{"key": k, "value": v} for k, v in (row["inputs"] or {}).items()],
        "override": over, "upstream": row["upstream"],
    }


def chain_param(graph: Any, uid: str) -> list[dict[str, Any]]:
    return [param(row) for row in chain(graph, uid)]


def about(graph: Any, subject: str, since: str | None = None, until: str | None = None) -> list[dict[str, Any]]:
    """Predictions about a subject or household in [since, until), oldest first."""
    rows = query.by_keys(graph.facts, [subject])
    rows = [r for r in rows if subject in (r["subject_id"], r["household_id"])]
    if since or until:
        rows = [r for r in rows if query._within(r["timestamp"], since, until)]
    return rows


def of_versions(graph: Any, versions: list[str], since: str | None = None, until: str | None = None,
                limit: int | None = None, offset: int = 0) -> list[dict[str, Any]]:
    """Predictions made by these model versions (as logged or resolved), by time."""
    return scan.scan(graph.facts, versions, since, until, limit, offset)


def count_of(graph: Any, versions: list[str], since: str | None = None, until: str | None = None) -> int:
    return scan.count(graph.facts, versions, since, until)
