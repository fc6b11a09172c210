"""Which part of the input mattered: a one-at-a-time substitution attribution
between two predictions A and B.

Starting from A replayed as logged, swap in one thing from B at a time (the
model version, the version of each chained upstream model, each input that
differs, then all inputs at once) and report how far each swap moves A's
output, largest first. Effects of single swaps need not add up to the whole
difference (interactions); the remainder is shown.
"""

from __future__ import annotations

import math
from typing import Any

from provex.app.reproduce.models import Models
from provex.app.reproduce.replay import facts_of, replay
from provex.graph.connection import Graph
from provex.vocab import numbers as num

CAVEAT = ("One-at-a-time substitution attribution: each row swaps ONE thing from B into A and re-runs the model. "
          "It shows sensitivity around A, not a causal proof; effects need not add up (see the remainder).")


def attribute(graph: Graph, a: str, b: str, *, models: Models | None = None) -> dict[str, Any]:
    """The effect on A's output of swapping in each part of B, largest first."""
    models = models or Models()
    base, target = replay(graph, a, models=models, depth=1), replay(graph, b, models=models, depth=1)
    if base.replayed_output is None or target.replayed_output is None:
        failed = base if base.replayed_output is None else target
        return {"against": b, "outcome": "could-not-run", "reason": f"{failed.prediction}: {failed.reason}",
                "rows": [], "headline": f"Could not attribute: {failed.prediction} could not be replayed: {failed.reason}",
                "caveat": CAVEAT}
    y_a, total = base.replayed_output, target.replayed_output - base.replayed_output
    fa, fb = facts_of(graph, a), facts_of(graph, b)
    rows = []

    def row(change: str, what: str, a_value: Any, b_value: Any, **how: Any) -> None:
        got = replay(graph, a, models=models, depth=1, **how)
        effect = None if got.replayed_output is None else got.replayed_output - y_a
        rows.append({"change": change, "what": what, "a": a_value, "b": b_value, "output": got.replayed_output,
                     "effect": effect, "share_of_difference": _share(effect, total), "note": got.reason or None})

    mv_a, mv_b = base.model_version, target.model_version
    if mv_a != mv_b:
        row("model version", "the model", mv_a, mv_b, model=mv_b)
    for up_a, up_b in zip(base.upstream, target.upstream):
        if up_a.model_version != up_b.model_version:
            row("upstream model version", f"model of {up_a.prediction}", up_a.model_version, up_b.model_version,
                upstream_models={up_a.prediction: up_b.model_version})
    inputs_b = dict(fb["inputs"])
    differing = sorted(k for k in set(fa["inputs"]) | set(inputs_b) if fa["inputs"].get(k) != inputs_b.get(k))
    for key in differing:
        if key in inputs_b:
            row("input", key, fa["inputs"].get(key), inputs_b[key], substitute={key: inputs_b[key]})
    if len(differing) > 1:
        row("all inputs", f"{len(differing)} inputs together", "A's", "B's", substitute=inputs_b)
    rows.sort(key=lambda r: -abs(r["effect"] or 0))
    rows.append(_remainder(rows, total))
    return {"against": b, "outcome": "attributed", "a": {"prediction": a, "model_version": mv_a, "output": y_a},
            "b": {"prediction": b, "model_version": mv_b, "output": target.replayed_output},
            "difference": total, "rows": rows, "headline": _headline(a, b, y_a, target.replayed_output, rows),
            "caveat": CAVEAT}


def _remainder(rows: list[dict[str, Any]], total: float) -> dict[str, Any]:
    """What the model swap and the whole-input swap leave unexplained: their interaction."""
    inputs = [r for r in rows if r["change"] == "all inputs"] or [r for r in rows if r["change"] == "input"]
    parts = [r for r in rows if r["change"] in ("model version", "upstream model version")] + inputs[:1]
    effect = total - sum(r["effect"] or 0 for r in parts)
    return {"change": "remainder", "what": "interactions (difference minus the model and all-input swaps)",
            "a": None, "b": None, "output": None, "effect": effect, "share_of_difference": _share(effect, total),
            "note": None}


def _share(effect: float | None, total: float) -> float | None:
    if effect is None or total == 0 or not math.isfinite(total):
        return None
    return round(effect / total, 4)


def _signed(value: float) -> str:
    return ("+" if value > 0 else "") + num.number(value, num.BRIEF)


def _headline(a: str, b: str, y_a: float, y_b: float, rows: list[dict[str, Any]]) -> str:
    text = (f"A {a} replays to {num.number(y_a, num.BRIEF)}, B {b} to {num.number(y_b, num.BRIEF)} "
            f"(difference {_signed(y_b - y_a)}).")
    if rows and rows[0]["share_of_difference"] is not None:
        top = rows[0]
        text += (f" Largest single swap: {top['change']} {top['what']} ({top['a']} -> {top['b']}) moves A by "
                 f"{_signed(top['effect'])}, {num.percent(top['share_of_difference'], 2)} of the difference.")
    return text
