"""The replay's numbers for an explanation (model code runs here: only with
``--allow-run``): the prediction replayed as logged; against another
prediction, the one-at-a-time attribution (:mod:`provex.app.reproduce.attribution`);
alone, the prediction replayed through the last known good version of each
model of its chain that changed (``swaps``). The replay is recorded like
``provex replay`` records it (a ``Replay`` node)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from provex.app.reproduce import attribution, record
from provex.app.reproduce import replay as replay_mod
from provex.app.reproduce.models import Models


def _summary(result: replay_mod.Replay) -> dict[str, Any]:
    return {"prediction": result.prediction, "model_version": result.model_version, "outcome": result.outcome,
            "logged_output": result.logged_output, "replayed_output": result.replayed_output,
            "replayed_as_logged": result.replayed_as_logged, "reason": result.reason or None,
            "summary": result.summary()}


def replay_evidence(graph: Any, found: Mapping[str, Any], models: Models | None = None, *,
                    record_it: bool = True) -> dict[str, Any]:
    """Replay what ``found`` (:func:`provex.graph.explain.gather`) compares; the
    numbers :func:`provex.graph.explain.rank.rank` reads (``logged``,
    ``attribution`` or ``swaps``), and the uid of the recorded Replay (``record_it``)."""
    models = models or Models()
    p = found["prediction"]["uid"]
    logged = replay_mod.replay(graph, p, models=models)
    out: dict[str, Any] = {"logged": _summary(logged), "attribution": None, "swaps": []}
    against = found.get("against")
    if against:
        out["attribution"] = attribution.attribute(graph, p, against["uid"], models=models)
    else:
        base = logged.replayed_output if logged.replayed_output is not None else logged.logged_output
        for pair in found["pairs"]:
            if not pair["a"] or pair["a"] == pair["b"]:
                continue
            if pair["role"] == "own":
                swapped = replay_mod.replay(graph, p, model=pair["a"], models=models, depth=1)
            else:
                swapped = replay_mod.replay(graph, p, upstream_models={pair["prediction"]: pair["a"]}, models=models, depth=1)
            out["swaps"].append({"model_version": pair["a"], "instead_of": pair["b"], "prediction": pair["prediction"],
                                 "output": swapped.replayed_output, "logged": base, "reason": swapped.reason or None})
    out["replay"] = record.record_replay(graph, logged.as_dict(), out["attribution"]) if record_it else None
    return out
