"""The store's part of the questions about predictions.

A question whose answer involves individual predictions reads them from the
prediction store (:mod:`provex.graph.facts`), never from Cypher, so it answers
the same whether or not the predictions also have nodes. Two kinds of step:

- **before** the question's Cypher (``Facts``): the predictions it starts
  from, handed in as ``$params`` (``$chain``, ``$history``, ``$pa`` ...);
- **after** it (``After``): the Cypher names model versions, and the store
  fills in their predictions or counts in a time window.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from provex.graph import facts
from provex.store import dangling as store_dangling
from provex.vocab.errors import UsageError

MAX_LOGGED = 1_000  # predictions whose input names training-serving-skew reads


@dataclass(frozen=True)
class Facts:
    """Store reads before a question's Cypher: ``read(graph, values)`` gives the ``gives`` params."""

    read: Callable[[Any, Mapping[str, Any]], dict[str, Any]]
    gives: tuple[str, ...]


After = Callable[[Any, list[dict[str, Any]], Mapping[str, Any], int], tuple[list[dict[str, Any]], bool]]


def _one(graph: Any, uid: str) -> dict[str, Any]:
    row = facts.get(graph, uid)
    if row is None:
        raise _missing(uid)
    return row


def _missing(uid: str) -> UsageError:
    return UsageError(f"No prediction {uid!r} in the prediction store. Try `provex search {uid.removeprefix('prediction:')}`.")


def chain(graph: Any, values: Mapping[str, Any]) -> dict[str, Any]:
    rows = facts.chain_param(graph, values["prediction"])  # the prediction itself first (hop 0), when it is held
    if not rows:
        raise _missing(values["prediction"])
    return {"chain": rows}


def history(graph: Any, values: Mapping[str, Any]) -> dict[str, Any]:
    rows = facts.about(graph, values["subject"], values.get("since"), values.get("until"))
    ups = {r["uid"]: r["model_version"] for r in facts.many(graph, sorted({u for row in rows for u in row["upstream"]}))}
    return {"history": [{**facts.param(r), "upstream_models": [ups[u] for u in r["upstream"] if ups.get(u)]}
                        for r in rows]}


def pair(graph: Any, values: Mapping[str, Any]) -> dict[str, Any]:
    a, b = _one(graph, values["a"]), _one(graph, values["b"])
    return {"pa": facts.param(a), "pb": facts.param(b),
            "ca": facts.chain_param(graph, a["uid"]), "cb": facts.chain_param(graph, b["uid"])}


def fact(graph: Any, values: Mapping[str, Any]) -> dict[str, Any]:
    """What what-changed reads of the prediction: its uid, version and time (all text: one plan
    on the server for every prediction, whatever its other fields hold)."""
    row = facts.param(_one(graph, values["prediction"]))
    return {"fact": {k: row[k] for k in ("uid", "model_version", "timestamp")}}


#: Questions answered by a module that asks the catalog's questions itself (so the catalog cannot
#: import it): name -> "module:function", imported on first use, as the source registry does.
COMPOSED = {"explain": "provex.graph.explain.question:rows"}


def composed(name: str) -> Callable[[Any, Mapping[str, Any]], dict[str, Any]]:
    """The store step of a composed question: its module's function, imported when first asked."""
    def read(graph: Any, values: Mapping[str, Any]) -> dict[str, Any]:
        module, _, function = COMPOSED[name].partition(":")
        return getattr(importlib.import_module(module), function)(graph, values)
    return read


def logged(graph: Any, values: Mapping[str, Any]) -> dict[str, Any]:
    rows = facts.of_versions(graph, [values["model_version"]], limit=MAX_LOGGED)
    return {"logged": sorted({name for row in rows for name in (row["inputs"] or {})})}


def dangling(graph: Any, values: Mapping[str, Any]) -> dict[str, Any]:
    """Upstream predictions used by logged ones but never logged themselves (the set the ingests keep)."""
    found = store_dangling.query(graph.facts)
    if found is None:
        return {"dangling": {"count": 0, "examples": []}}
    count, examples = graph.facts.duck().execute(
        f"SELECT count(*), list(upstream ORDER BY upstream)[1:5] FROM ({found})").fetchall()[0]
    return {"dangling": {"count": count, "examples": examples or []}}


MAX_AMBIGUOUS = 3  # ambiguous references spelled out in lineage-gaps' hint


def ambiguous(graph: Any) -> dict[str, Any]:
    """References matched to several trainings (the resolver's list): their partitions,
    how many predictions, the candidates and what each said."""
    found = graph.facts.ambiguous()
    if not found:
        return {"partitions": [], "count": 0, "candidates": [], "hint": "none: every reference matched at most one training"}
    count = facts.count_of(graph, [a["partition"] for a in found])
    said = "; ".join(f"{a['ref']!r} matches " + ", ".join(a["evidence"][:4]) for a in found[:MAX_AMBIGUOUS])
    more = f"; and {len(found) - MAX_AMBIGUOUS} more references" if len(found) > MAX_AMBIGUOUS else ""
    return {"partitions": [a["partition"] for a in found], "count": count,
            "candidates": sorted({c for a in found for c in a["candidates"]})[:10],
            "hint": f"{said}{more}. Nothing was guessed: log a version that names one of them (or its model name "
                    "too), or remove the duplicate tag, param or metadata value"}


def gaps(graph: Any, values: Mapping[str, Any]) -> dict[str, Any]:
    """The store's part of lineage-gaps: dangling upstream predictions, ambiguous references."""
    return {**dangling(graph, values), "ambiguous": ambiguous(graph)}


# ---- after the Cypher ---------------------------------------------------------------------------

def serving_counts(graph: Any, rows: list[dict[str, Any]], values: Mapping[str, Any], limit: int) -> tuple[list, bool]:
    """Each version's predictions while it held the alias and within the window, from the store."""
    out = []
    for row in rows:
        mv = [row["model_version"]]
        out.append({**{k: v for k, v in row.items() if k not in ("held_from", "held_to", "w0", "w1")},
                    "predictions_while_serving": facts.count_of(graph, mv, row["held_from"], row["held_to"]),
                    "predictions_in_window": facts.count_of(graph, mv, row["w0"], row["w1"])})
    return out, False


def impacted(graph: Any, rows: list[dict[str, Any]], values: Mapping[str, Any], limit: int) -> tuple[list, bool]:
    """The predictions of the affected versions in the window, by time, and the
    chained ones that used them (each listed once, beside the earliest
    affected prediction it used)."""
    from provex.graph.questions.chained import impacted_rows

    return impacted_rows(graph, rows, values.get("since"), values.get("until"), limit)
