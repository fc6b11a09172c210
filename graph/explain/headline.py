"""The headline of an explanation: one to three sentences, led by the first
cause, with what it reaches; computed from the ranked causes (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from provex.graph.explain.causes import reach_words
from provex.graph.explain.pairs import short
from provex.vocab import numbers as num


def _out(side: Mapping[str, Any]) -> str:
    return f"{short(side['uid'])} = {num.number(side['output'], num.BRIEF)}"


def opening(found: Mapping[str, Any]) -> str:
    """``cl-001528 = 210`` or ``cl-001528 = 210 vs cl-001370 = 4,280 (20.4x lower)``."""
    p, q = found["prediction"], found.get("against")
    text = _out(p)
    if q:
        text += f" vs {_out(q)}"
        words = num.factor_words(q.get("output"), p.get("output"))
        text += f" ({words})" if words and words != "the same" else ""
    return text


def headline(found: Mapping[str, Any], causes: Sequence[Mapping[str, Any]]) -> str:
    """``<opening> because <first cause>; <reach> share this cause.`` (+ the second cause, the limits)."""
    text = opening(found)
    if not causes:
        gaps = found.get("limits") or []
        why = " (" + gaps[0].rstrip(".") + ")" if gaps else ""
        return text + f": no cause found: nothing recorded differs{why}."
    first = causes[0]
    joint = ": " if first["kind"] == "input difference" and first["evidence"].get("same_model_versions") else " because "
    text += joint + first["statement"]
    reach = reach_words(first.get("reach"))
    text += f"; {reach}." if reach else "."
    second = next((c for c in causes[1:] if c["kind"] != first["kind"] or c["subject"] != first["subject"]), None)
    if second and second["weight"] >= 0.5 * first["weight"] and second["kind"] not in ("data anomaly upstream",):
        text += f" Also: {second['statement'].split(';')[0]}."
    return text
