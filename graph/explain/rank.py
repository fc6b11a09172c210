"""Ranking the causes of a prediction: plain data in (what
:mod:`provex.graph.explain.collect` read, and the replay's numbers when model
code was allowed to run), ranked causes out. Pure: no graph, no model.

Each cause has a kind (:data:`KINDS`), a ``weight`` (its estimated share of
the difference, or of the output when there is nothing to compare with) and
the ``basis`` of that estimate:

- ``replay``: measured by running the model (one swap at a time, or the
  prediction replayed through the last known good version);
- ``exact``: follows from the logged facts alone (an override's change of
  the output; the inputs, when every model version on both sides is the same);
- ``lineage``: a prior from what differs upstream (a model version whose
  training data holds an anomalous data version weighs more than one retrained
  on new, ordinary data).

Causes are sorted by weight; ties by :data:`KINDS` order. Each cause's
``origin`` (where it came from), ``reach`` and ``action`` are filled in by
:mod:`provex.graph.explain.causes`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from provex.graph.explain import causes as make
from provex.graph.explain.pairs import substantive

MODEL, ANOMALY, INPUTS, OVERRIDE, UPSTREAM, ENVIRONMENT, TIMING = (
    "model version change", "data anomaly upstream", "input difference", "override", "upstream chained model",
    "environment/library change", "serving alias timing")
KINDS = (MODEL, ANOMALY, INPUTS, OVERRIDE, UPSTREAM, ENVIRONMENT, TIMING)

#: Lineage priors: a model version change by what its upstream says changed.
PRIOR = {"own": 0.5, "upstream": 0.3}
ORIGIN_BONUS = {"data anomaly": 0.3, "library": 0.2, "code": 0.15, "params": 0.1, "data": 0.05, "unknown": 0.0}
#: A model swap moving the output less than this factor (either way) does not explain it.
SMALL_EFFECT = 1.1
BIG_EFFECT = 1.5


def rank(found: Mapping[str, Any], replay: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The causes of ``found``'s prediction, most likely first, each with its ``rank``."""
    gap = difference(found)
    candidates = _override(found, gap) + _models(found, replay, gap) + _inputs(found, replay, gap)
    candidates += _anomalies(found, candidates) + _timing(found)
    candidates.sort(key=lambda c: (-round(c["weight"], 6), KINDS.index(c["kind"]), c["subject"] or ""))
    for i, cause in enumerate(candidates, start=1):
        cause["rank"] = i
    return candidates


def difference(found: Mapping[str, Any]) -> float | None:
    """The logged gap: the compared prediction's output minus the explained one's (None alone)."""
    p, q = found["prediction"], found.get("against")
    if not q or not _number(p.get("output")) or not _number(q.get("output")):
        return None
    return float(q["output"]) - float(p["output"])


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _share(effect: float | None, gap: float | None) -> float | None:
    if effect is None or not gap:
        return None
    return round(effect / gap, 4)


# ---- overrides --------------------------------------------------------------------------------


def _override_move(side: Mapping[str, Any] | None) -> float:
    over = (side or {}).get("override") or {}
    if _number(over.get("original")) and _number(over.get("final")):
        return float(over["final"]) - float(over["original"])
    return 0.0


def _override(found: Mapping[str, Any], gap: float | None) -> list[dict[str, Any]]:
    p, q = found["prediction"], found.get("against")
    mine, theirs = p.get("override"), (q or {}).get("override")
    if not mine and not theirs:
        return []
    if q is not None:
        part = _override_move(q) - _override_move(p)
        share = _share(part, gap)
        if not part:
            return []
        return [make.override(found, weight=abs(share or 0), share=share, basis="exact", effect=part)]
    original, final = (mine or {}).get("original"), (mine or {}).get("final")
    factor = abs(final / original) if _number(original) and _number(final) and original and final else 1.0
    weight = 0.9 if max(factor, 1 / factor if factor else 1) >= BIG_EFFECT else 0.4
    return [make.override(found, weight=weight, share=None, basis="exact", effect=_override_move(p))]


# ---- model versions ---------------------------------------------------------------------------


def origin_kind(found: Mapping[str, Any], pair: Mapping[str, Any]) -> str:
    """What most likely made the new side differ: an anomalous data version only it used,
    changed code, a library, params, new data, or unknown."""
    diff = pair["diff"]
    if any(not a["in_a"] and pair["b"] in a["in_b"] for a in found["anomalies"]):
        return "data anomaly"
    kinds = substantive(diff)
    if kinds == ["libraries"]:
        return "library"
    for kind, name in (("code", "code"), ("libraries", "library"), ("params", "params"), ("stages", "params"),
                       ("data", "data")):
        if kind in kinds:
            return name
    return "unknown"


def _models(found: Mapping[str, Any], replay: Mapping[str, Any] | None, gap: float | None) -> list[dict[str, Any]]:
    out = []
    for pair in found["pairs"]:
        if not pair["a"] or not pair["b"] or pair["a"] == pair["b"]:
            continue
        origin = origin_kind(found, pair)
        kind = ENVIRONMENT if origin == "library" else MODEL if pair["role"] == "own" else UPSTREAM
        weight = PRIOR[pair["role"]] + ORIGIN_BONUS[origin]
        measured = _measured(pair, replay, gap, found)
        if measured:
            weight = measured["weight"]
        out.append(make.model_change(found, pair, kind, origin, weight=weight, measured=measured))
        if origin != "library" and pair["diff"]["libraries"]:
            out.append(make.library_change(found, pair, weight=weight * 0.5))
    return out


def _measured(pair: Mapping[str, Any], replay: Mapping[str, Any] | None, gap: float | None,
              found: Mapping[str, Any]) -> dict[str, Any] | None:
    """The replay's numbers for swapping this pair's model version, if it ran."""
    if not replay:
        return None
    attribution = replay.get("attribution") or {}
    if attribution.get("outcome") == "attributed":
        change = "model version" if pair["role"] == "own" else "upstream model version"
        for row in attribution.get("rows") or []:
            if row["change"] == change and (pair["role"] == "own" or row["b"] == pair["a"]) and row["effect"] is not None:
                share = _share(row["effect"], gap)
                return {"basis": "replay", "weight": abs(share) if share is not None else 0.5, "share": share,
                        "effect": row["effect"], "replayed_output": row["output"], "through": row["b"]}
        return None
    for swap in replay.get("swaps") or []:
        if swap["model_version"] == pair["a"] and swap.get("prediction") == pair["prediction"] and swap.get("output") is not None:
            logged = swap.get("logged")
            factor = abs(swap["output"] / logged) if _number(logged) and logged and swap["output"] else None
            size = max(factor, 1 / factor) if factor else None
            weight = 0.15 if size is None or size < SMALL_EFFECT else 0.6 if size < BIG_EFFECT else 0.85
            if pair["role"] != "own":
                weight *= 0.9
            return {"basis": "replay", "weight": weight, "share": None, "effect": swap["output"] - (logged or 0),
                    "replayed_output": swap["output"], "through": pair["a"], "factor": factor}
    return None


# ---- inputs -----------------------------------------------------------------------------------


def chained_inputs(found: Mapping[str, Any]) -> set[str]:
    """Inputs that carry an upstream prediction's output (the same value, on either side)."""
    out = set()
    for side, chain in ((found["prediction"], found["chain"]), (found.get("against"), found.get("against_chain") or [])):
        if not side:
            continue
        outputs = [r["output"] for r in chain if r["hop"] == 1 and _number(r["output"])]
        for key, value in (side.get("inputs") or {}).items():
            if _number(value) and any(math.isclose(value, o, rel_tol=1e-9, abs_tol=1e-12) for o in outputs):
                out.add(key)
    return out


def _inputs(found: Mapping[str, Any], replay: Mapping[str, Any] | None, gap: float | None) -> list[dict[str, Any]]:
    deltas = found.get("inputs") or []
    if found.get("against") is None or not deltas:
        return []
    chained = chained_inputs(found)
    own = [d for d in deltas if d["input"] not in chained]
    models_same = all(p["a"] == p["b"] for p in found["pairs"] if p["b"])
    measured = None
    attribution = (replay or {}).get("attribution") or {}
    if attribution.get("outcome") == "attributed":
        rows = [r for r in attribution.get("rows") or [] if r["change"] == "all inputs"]
        rows = rows or [r for r in attribution.get("rows") or [] if r["change"] == "input"]
        if rows and rows[0]["effect"] is not None:
            share = _share(rows[0]["effect"], gap)
            measured = {"basis": "replay", "share": share, "effect": rows[0]["effect"],
                        "weight": abs(share) if share is not None else 0.3}
    if measured is None and models_same and gap:
        part = gap - (_override_move(found["against"]) - _override_move(found["prediction"]))
        share = _share(part, gap)
        measured = {"basis": "exact", "share": share, "effect": part, "weight": abs(share or 0)}
    if measured is None:
        weight = 0.25 if own else 0.1
        measured = {"basis": "lineage", "share": None, "effect": None, "weight": weight}
    if measured["weight"] == 0:
        return []
    return [make.inputs(found, deltas, chained, models_same, measured)]


# ---- anomalies and timing -------------------------------------------------------------------


def _anomalies(found: Mapping[str, Any], candidates: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Root anomalies only the explained side's models were trained on (the compared side's
    share them otherwise, and then they cannot explain a difference)."""
    out = []
    for anomaly in found["anomalies"]:
        if anomaly["downstream_of"] or anomaly["in_a"]:
            continue
        carriers = [c for c in candidates if c["kind"] in (MODEL, UPSTREAM, ENVIRONMENT)
                    and c.get("evidence", {}).get("model_version") in anomaly["in_b"]]
        weight = 0.9 * max((c["weight"] for c in carriers), default=0.55)
        out.append(make.anomaly(found, anomaly, weight=weight))
    return out


def _timing(found: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [make.timing(found, f, weight=0.5 if f["kind"] == "stale" else 0.45) for f in found.get("timing") or []]
