"""``provex explain`` for people: the explanation of :mod:`provex.graph.explain`,
with the replay's numbers when model code may run (:mod:`.evidence`), as a
table, JSON, or a decision record (:mod:`.decision`, one self-contained HTML
file with the static lineage picture of :mod:`.svg`)."""

from __future__ import annotations

from typing import Any

from provex.graph import explain as explain_mod


def explain(graph: Any, prediction: str, against: str | None = None, *, allow_run: bool = False,
            record_it: bool = True) -> dict[str, Any]:
    """The explanation of ``prediction`` (against ``against``); ``allow_run`` replays the models
    (recorded as a Replay node unless ``record_it`` is false)."""
    found = explain_mod.gather(graph, prediction, against)
    replay = None
    if allow_run:
        from provex.app.explain.evidence import replay_evidence

        replay = replay_evidence(graph, found, record_it=record_it)
    return explain_mod.build(found, replay)


def causes_table(explanation: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per cause for a table: rank, kind, share, basis, the cause, its reach and the next action."""
    rows = []
    for c in explanation["causes"]:
        reach = c.get("reach") or {}
        rows.append({"rank": c["rank"], "kind": c["kind"], "share": c["share"], "basis": c["basis"], "cause": c["statement"],
                     "reach": reach.get("predictions"), "action": c["action"]})
    return rows
