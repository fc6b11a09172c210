"""How far each candidate cause of an explanation reaches: how many other
predictions share it. Read through the question catalog and the store:

- a model version: the predictions it made (the store);
- an anomalous data version: ``impacted-predictions`` (every prediction that
  depends on it, chained ones included; the model versions trained on it are
  those whose own predictions it lists);
- a library version: ``impact-of-library`` (model versions requiring it and their predictions);
- a code commit: ``impact-of-commit``;
- an override rule: the predictions it overrode (the store).

Keys: ``model:<uid>``, ``data:<uid>``, ``library:<name>==<version>``,
``commit:<sha>``, ``rule:<name>``; values ``{predictions, model_versions, truncated}``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from provex.graph import facts
from provex.graph.explain.reads import parallel
from provex.graph.questions import ask
from provex.store import scan

LIMIT = 10_000  # impacted predictions counted one by one; past it the count says "at least"


def gather(graph: Any, found: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    tasks: dict[str, Callable[[], dict[str, Any]]] = {}
    for x in found["pairs"]:
        if x["b"]:
            tasks[f"model:{x['b']}"] = lambda v=x["b"]: {"predictions": facts.count_of(graph, [v]), "model_versions": 1,
                                                          "truncated": False}
        if not x["a"] or x["a"] == x["b"]:
            continue
        for lib in x["diff"]["libraries"]:
            if lib["b"]:
                tasks.setdefault(f"library:{lib['key']}=={lib['b']}", lambda n=lib["key"], v=lib["b"]: _library(graph, n, v))
        for sha in _code_commits(found, x):
            tasks.setdefault(f"commit:{sha}", lambda s=sha: _commit(graph, s))
    for anomaly in found["anomalies"]:
        if not anomaly["downstream_of"]:
            tasks.setdefault(f"data:{anomaly['data_version']}", lambda u=anomaly["data_version"]: _data(graph, u))
    for side in (found["prediction"], found["against"]):
        rule = ((side or {}).get("override") or {}).get("rule")
        if rule:
            tasks.setdefault(f"rule:{rule}", lambda r=rule: {"predictions": scan.count_rule(graph.facts, r),
                                                              "model_versions": None, "truncated": False})
    return dict(zip(tasks, parallel(*tasks.values())))


def _code_commits(found: Mapping[str, Any], pair: Mapping[str, Any]) -> list[str]:
    """The commits that made the new side's changed code files."""
    data = found["origins"]["data"]
    shas = []
    for entry in pair["diff"]["code"]:
        origin = data.get(f"data:{entry['path']}@{entry['b']}") if entry["b"] else None
        if origin and origin.get("commit"):
            shas.append(origin["commit"])
    return list(dict.fromkeys(shas))


def _library(graph: Any, name: str, version: str) -> dict[str, Any]:
    frame = ask(graph, "impact-of-library", {"library": name, "version": version}, limit=LIMIT)
    return {"predictions": int(frame["predictions"].fillna(0).sum()), "model_versions": int(frame["model_version"].nunique()),
            "truncated": bool(frame.attrs["truncated"])}


def _commit(graph: Any, sha: str) -> dict[str, Any]:
    frame = ask(graph, "impact-of-commit", {"commit": f"commit:{sha}"}, limit=LIMIT)
    models = frame[frame["kind"] == "ModelVersion"]
    return {"predictions": int(models["predictions"].fillna(0).sum()), "model_versions": int(models["ref"].nunique()),
            "truncated": bool(frame.attrs["truncated"])}


def _data(graph: Any, uid: str) -> dict[str, Any]:
    """Every prediction that depends on the data version; the versions trained on it are
    those whose own predictions are listed ``predicted by`` (the others only used one)."""
    impacted = ask(graph, "impacted-predictions", {"data_version": uid}, limit=LIMIT)
    direct = impacted[impacted["via"].fillna("").str.startswith("predicted by")]
    return {"predictions": len(impacted), "model_versions": int(direct["model_version"].nunique()),
            "by_versions": int(impacted["model_version"].nunique()), "truncated": bool(impacted.attrs["truncated"])}
