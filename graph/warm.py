"""Warming the server: the first answers after Neo4j starts (or after an
ingest changed its statistics) are mostly query planning and the server's
first runs of its operators, seconds for the catalog's bigger questions.
``warm`` asks every question of the catalog once about some node of the kind
it takes (a prediction from the store, a model version, a data version ...),
which also runs what ``explain`` reads, so the server has planned and run it
all when a person asks. Plans are kept per statement and parameter shape, and
only a statement that found something is kept warm: hence real nodes, not
parameters that match nothing.

``provex neo4j warm`` runs it; ``make ingest-sample`` runs it after the ingest.
"""

from __future__ import annotations

import time
from typing import Any

from provex.graph import facts
from provex.graph.connection import Graph
from provex.graph.questions import CATALOG, Question, ask
from provex.store import query as stored
from provex.vocab.errors import ProvexError

TIMEOUT = 60.0  # seconds for one answer
_ANY = "MATCH (n:{label}) WHERE coalesce(n.placeholder, false) = false RETURN n.uid AS uid ORDER BY n.uid LIMIT 1"
_LIBRARY = "MATCH (l:Library) RETURN l.name AS name ORDER BY name LIMIT 1"
LABELS = ("ModelVersion", "DataVersion", "CodeVersion", "Model")


def picks(graph: Graph) -> dict[str, Any]:
    """One node of each kind the questions take (a prediction with an upstream one when there is)."""
    out: dict[str, Any] = {}
    for label in LABELS:
        found = graph.read(_ANY.format(label=label))  # label: a fixed name from LABELS, never input
        if found:
            out[label] = found[0]["uid"]
    some = stored.uid_prefix(graph.facts, "prediction:", 50)
    rows = facts.many(graph, some)
    chained = [r for r in rows if r["upstream"] and r["model_version"]] or rows
    if chained:
        one = chained[0]
        out["Prediction"] = one["uid"]
        out["subject"] = one["subject_id"] or one["household_id"]
        out["at"] = one["timestamp"]
        name = (one["model_version"] or "").rsplit("@", 1)[0]
        other = [r for r in rows if r["uid"] != one["uid"] and (r["model_version"] or "").rsplit("@", 1)[0] == name
                 and r["model_version"] != one["model_version"]]
        out["Prediction2"] = (other or [r for r in rows if r["uid"] != one["uid"]] or [one])[0]["uid"]
    library = graph.read(_LIBRARY)
    if library:
        out["library"] = library[0]["name"]
    return out


def params(q: Question, picked: dict[str, Any]) -> dict[str, Any] | None:
    """Parameters for ``q`` from the picks; None when a required one has no node of its kind."""
    out: dict[str, Any] = {}
    for p in q.params:
        value = picked.get(p.label) if p.type == "ref" else picked.get(p.name) if p.name in ("subject", "at", "library") else None
        if value is None and p.required:
            return None
        if value is not None and not (p.optional and p.name != "prediction"):
            out[p.name] = value
    if q.params and q.params[0].name == "a" and q.params[0].label == "Prediction":
        out["a"] = picked.get("Prediction2", out["a"])  # two predictions, of two versions where there are
    return out


def warm(graph: Graph, timeout: float = TIMEOUT) -> dict[str, Any]:
    """Ask every question once; which were asked, which were skipped (no node of their kind), and failures."""
    started, picked = time.perf_counter(), picks(graph)
    asked, skipped, failed = [], [], {}
    for q in CATALOG.values():
        given = params(q, picked)
        if given is None:
            skipped.append(q.name)
            continue
        try:
            ask(graph, q.name, given, limit=100, timeout=timeout)
            asked.append(q.name)
        except ProvexError as exc:
            failed[q.name] = str(exc)
    if "Prediction2" in picked and "explain" in asked:  # explain against another prediction reads other things
        try:
            ask(graph, "explain", {"prediction": picked["Prediction"], "against": picked["Prediction2"]}, timeout=timeout)
        except ProvexError as exc:
            failed["explain --against"] = str(exc)
    return {"asked": asked, "skipped": skipped, "failed": failed, "seconds": round(time.perf_counter() - started, 2)}
