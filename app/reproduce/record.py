"""Recording verifications and replays in the graph: a ``Reproduction`` node
``-[:REPRODUCES]->`` the model or data version, a ``Replay`` node
``-[:REPLAYS]->`` the prediction; written through the batch writer."""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from provex.graph.connection import Graph
from provex.graph.writer import Writer
from provex.vocab import model
from provex.vocab.records import Edge, Node

SOURCE = "provex"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def versions(*names: str) -> dict[str, str]:
    """Installed versions of ``names`` (missing ones left out), plus provex and Python."""
    found = {"python": platform.python_version()}
    for name in ("provex", *names):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def _write(graph: Graph, run: str, records: list[Node | Edge]) -> None:
    with Writer(graph, ingest_run=run) as writer:
        writer.add_all(records)


def replay_records(result: dict[str, Any], started_at: str, env: dict[str, str], against: dict | None = None) -> list:
    ref = model.replay(result["prediction"], result.get("model_version") or "none", started_at)
    props = {
        "name": f"replay of {result['prediction'].split(':', 1)[-1]}", "started_at": started_at,
        "outcome": result["outcome"], "model_version": result.get("model_version"),
        "logged_model_version": result.get("logged_model_version"), "logged_output": result.get("logged_output"),
        "replayed_output": result.get("replayed_output"), "replayed_as_logged": result.get("replayed_as_logged"),
        "post_processing": result.get("post_processing") or None, "tolerance": result.get("tolerance") or None,
        "reason": result.get("reason") or None, "loaded_from": result.get("loaded_from") or None,
        "fed": result.get("fed") or None, "environment": env, "provex_version": env.get("provex"),
        "upstream": [u["prediction"] for u in result.get("upstream") or []] or None,
        "against": (against or {}).get("against"), "attribution": (against or {}).get("rows"),
    }
    return [Node(ref, props, SOURCE), Edge("REPLAYS", ref, model.Ref("Prediction", result["prediction"]),
                                           {"role": "replayed"}, source=SOURCE)]


def record_replay(graph: Graph, result: dict[str, Any], against: dict | None = None) -> str:
    """Write one Replay per replayed prediction (the chain's too); the top one's uid."""
    started, env = now(), versions("mlflow", "scikit-learn", "pandas")
    records = replay_records(result, started, env, against)
    stack = list(result.get("upstream") or [])
    while stack:
        up = stack.pop()
        records += replay_records(up, started, env)
        stack += up.get("upstream") or []
    _write(graph, records[0].ref.uid, records)
    return records[0].ref.uid


def record_reproduction(graph: Graph, target: dict[str, Any], report: dict[str, Any]) -> str:
    """One Reproduction node for a verification report."""
    ref = model.reproduction(target["uid"], report["started_at"])
    props = {
        "name": f"verification of {target['name']}", "started_at": report["started_at"],
        "finished_at": report.get("finished_at"), "outcome": report["outcome"], "reason": report.get("reason") or None,
        "commit": report.get("commit"), "stage": report.get("stage"), "command": report.get("command"),
        "environment": report.get("environment"), "library_note": report.get("library_note") or None,
        "provex_version": (report.get("environment") or {}).get("provex"),
        "outputs": report.get("outputs") or None, "metrics": report.get("metrics") or None,
        "differing": [o["path"] for o in report.get("outputs") or [] if not o.get("same")] or None,
        "models": [{k: m.get(k) for k in ("path", "verdict", "detail", "sample")} for m in report.get("models") or []]
        or None,
    }
    target_ref = model.Ref(target["label"], target["uid"])
    _write(graph, ref.uid, [Node(ref, props, SOURCE), Edge("REPRODUCES", ref, target_ref, {"role": "verified"}, source=SOURCE)])
    return ref.uid
