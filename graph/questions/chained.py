"""impacted-predictions' rows from the store: the affected versions'
predictions in the window, by time, and the chained predictions that used
them (up to 3 hops), each listed once: beside its own row when its version is
affected too, else beside the earliest affected prediction it used."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from provex.graph import facts
from provex.store.query import downstream

HOPS = 3


def _within(row: dict[str, Any], since: str | None, until: str | None) -> bool:
    moment = _key(row)[0]
    return (since is None or moment >= datetime.fromisoformat(since)) and (until is None or moment < datetime.fromisoformat(until))


def _key(row: dict[str, Any]) -> tuple[datetime, str]:
    return datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00")), row["uid"]


def impacted_rows(graph: Any, versions: list[dict[str, Any]], since: str | None, until: str | None,
                  limit: int) -> tuple[list[dict[str, Any]], bool]:
    names = {v["model_version"]: v["name"] for v in versions}
    if not names:
        return [], False
    direct = facts.of_versions(graph, sorted(names), since, until, limit=limit + 1)
    truncated = len(direct) > limit
    direct = direct[:limit]
    affected = {r["uid"]: r for r in direct}
    anchors: dict[str, dict[str, Any]] = {}  # chained uid -> earliest affected prediction it used
    vias: dict[str, set[str]] = {}
    frontier = {uid: {uid} for uid in affected}  # reached uid -> the affected predictions behind it
    for _hop in range(HOPS):
        reached: dict[str, set[str]] = {}
        for up, uid in downstream(graph.facts, sorted(frontier)):
            reached.setdefault(uid, set()).update(frontier[up])
        for uid, sources in reached.items():
            for source in sources:
                vias.setdefault(uid, set()).add("uses a prediction of " + names[affected[source]["model_version"]])
                best = anchors.get(uid)
                if best is None or _key(affected[source]) < _key(best):
                    anchors[uid] = affected[source]
        frontier = reached
    chained = {r["uid"]: r for r in facts.many(graph, sorted(u for u in anchors if u not in affected))}
    out = []
    for row in direct:
        out.append((_key(row), 0, _key(row), row, ["predicted by " + names[row["model_version"]], *sorted(vias.get(row["uid"], ()))]))
    for uid, row in chained.items():
        if row["model_version"] in names and _within(row, since, until):
            continue  # a prediction of an affected version: listed on its own row (a later page)
        out.append((_key(anchors[uid]), 1, _key(row), row, sorted(vias[uid])))
    out.sort(key=lambda item: item[:3])
    rows = [{"prediction": row["uid"], "timestamp": row["timestamp"], "subject_id": row["subject_id"],
             "output": row["output"], "model_version": row["model_version"], "via": ", ".join(via)}
            for *_k, row, via in out]
    return rows[:limit], truncated or len(rows) > limit
