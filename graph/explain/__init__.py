"""Why a prediction is what it is, in one answer: a ranked list of causes.

``gather`` reads what provex already knows (:mod:`.collect`: what-changed or
compare-predictions, data-anomalies in the prediction's upstream, impact
counts, alias history, lineage gaps), ``build`` ranks it (:mod:`.rank`,
pure) with the replay's numbers when the model could be run (the app layer
runs it: :mod:`provex.app.explain`) and writes the headline. The answer is
plain data with a stable schema (``SCHEMA``): ``causes[]`` each with
``rank``, ``kind``, ``evidence``, ``origin``, ``reach``, ``action``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from provex.graph.explain import rank
from provex.graph.explain.collect import gather
from provex.graph.explain.headline import headline
from provex.graph.explain.rank import KINDS

SCHEMA = "provex.explain/1"
CAUSE_FIELDS = ("rank", "kind", "statement", "share", "basis", "weight", "subject", "evidence", "origin", "reach", "action")

__all__ = ["KINDS", "SCHEMA", "build", "explain", "gather"]


def build(found: Mapping[str, Any], replay: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The explanation of what ``gather`` found (and the replay's numbers, if any)."""
    causes = [{k: c.get(k) for k in CAUSE_FIELDS} for c in rank.rank(found, replay)]
    p, q = found["prediction"], found.get("against")
    shared = [a for a in found["anomalies"] if a["in_a"] and not a["downstream_of"]]
    return {
        "schema": SCHEMA,
        "prediction": _side(p, found["chain"]),
        "against": _side(q, found.get("against_chain") or []) if q else None,
        "difference": (q["output"] - p["output"]) if q and _num(q.get("output")) and _num(p.get("output")) else None,
        "headline": headline(found, causes),
        "causes": causes,
        "compared": [{k: x.get(k) for k in ("model", "role", "prediction", "against", "a", "b", "basis")} for x in found["pairs"]],
        "context": [f"{a['path']}@{str(a['hash'])[:8]} ({a['column']}: {a['kind']}) is upstream of both sides: it cannot "
                    "explain the difference." for a in shared],
        "limits": list(found["limits"]) + ([] if replay else [
            "Model code was not run: shares of the difference come from lineage, not from a replay "
            "(run with --allow-run to replay)."]),
        "replay": _replay_summary(replay),
    }


def explain(graph: Any, prediction: str, against: str | None = None) -> dict[str, Any]:
    """Gather and build without running any model code."""
    return build(gather(graph, prediction, against))


def _num(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _side(p: Mapping[str, Any], chain: list[Mapping[str, Any]]) -> dict[str, Any]:
    return {"uid": p["uid"], "id": p["id"], "output": p["output"], "model_version": p["model_version"],
            "timestamp": p["timestamp"], "subject_id": p["subject_id"], "household_id": p["household_id"],
            "override": p["override"], "inputs": p["inputs"], "input_hash": p["input_hash"],
            "feature_pipeline": p["feature_pipeline"],
            "chain": [{k: r.get(k) for k in ("hop", "uid", "model_version", "output")} for r in chain]}


def _replay_summary(replay: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not replay:
        return None
    return {k: replay.get(k) for k in ("logged", "attribution", "swaps", "reason")}
