"""Serving alias timing: was a prediction made by a version that did not hold
its alias at that time, or in the window between the alias moves of two
chained models (the upstream one already new, its consumer still the version
trained with the old one)?

Pure functions of the alias history (``[{model, alias, model_version,
valid_from, valid_to}]``) and the chain: unit-tested without Neo4j.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

#: Two alias moves of a chain this close are one release done in two steps.
MOVE_WINDOW = timedelta(hours=24)


def moment(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))


def holds(history: Sequence[Mapping[str, Any]], model_version: str, at: datetime) -> bool | None:
    """Whether ``model_version`` held an alias at ``at`` (None: no alias history for it at all)."""
    mine = [h for h in history if h["model_version"] == model_version]
    if not mine:
        return None
    return any(moment(h["valid_from"]) <= at and (h["valid_to"] is None or at < moment(h["valid_to"])) for h in mine)


def moves(history: Sequence[Mapping[str, Any]], model: str, alias: str | None = None) -> list[tuple[datetime, str, str]]:
    """(time, alias, version that took it) of one model's alias moves, in time order."""
    return sorted((moment(h["valid_from"]), h["alias"], h["model_version"]) for h in history
                  if h["model"] == model and (alias is None or h["alias"] == alias))


def findings(history: Sequence[Mapping[str, Any]], at_text: str, own: Mapping[str, Any],
             upstream: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Timing findings for a prediction made at ``at_text`` by ``own`` ({model,
    model_version}) on the predictions of ``upstream`` (same shape, each with its
    ``prediction``)."""
    at = moment(at_text)
    if at is None or not own.get("model_version"):
        return []
    out = []
    if holds(history, own["model_version"], at) is False:
        held = [h for h in history if h["model_version"] == own["model_version"]]
        out.append({"kind": "stale", "model": own["model"], "model_version": own["model_version"],
                    "windows": [[h["alias"], h["valid_from"], h["valid_to"]] for h in held]})
    for up in upstream:
        found = _between(history, at, own, up)
        if found:
            out.append(found)
    return out


def _between(history: Sequence[Mapping[str, Any]], at: datetime, own: Mapping[str, Any],
             up: Mapping[str, Any]) -> dict[str, Any] | None:
    """The prediction fell between an alias move of its upstream model and the
    matching move of its own model (either order), less than MOVE_WINDOW apart."""
    for t_up, alias, v_up in moves(history, up["model"]):
        for t_own, _own_alias, v_own in moves(history, own["model"], alias):
            if abs(t_own - t_up) > MOVE_WINDOW or t_own == t_up:
                continue
            start, end = min(t_up, t_own), max(t_up, t_own)
            if not start <= at < end:
                continue
            # Between the moves the chain mixes generations: the side that moved first is new.
            if (t_up < t_own and v_up == up["model_version"] and v_own != own["model_version"]) or \
                    (t_own < t_up and v_own == own["model_version"] and v_up != up["model_version"]):
                return {"kind": "between moves", "alias": alias, "model": own["model"],
                        "model_version": own["model_version"], "upstream_model": up["model"],
                        "upstream_version": up["model_version"], "upstream_prediction": up.get("prediction"),
                        "from": _iso(start), "until": _iso(end), "next_version": v_own if t_up < t_own else v_up,
                        "minutes": round((end - start).total_seconds() / 60)}
    return None


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")
