"""Predictions for the tests' small stories, logged the way a service logs them
and ingested through the real path (the prediction-log adapter, the store,
the graph's groups): a story never writes prediction nodes by hand, so it
reads the same in every ``--prediction-nodes`` mode."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from provex.graph import pipeline
from provex.graph.connection import Graph
from provex.ingest import predictions


def line(pid: str, model: str, version: int | str, ts: str, output: Any, *, subject: str | None = None,
         household: str | None = None, upstream: list[str] | None = None, override: dict | None = None,
         **inputs: Any) -> dict[str, Any]:
    """One log record (canonical names); ``model`` "" leaves the model out."""
    record: dict[str, Any] = {"prediction_id": pid, "timestamp": ts, "output": output}
    if model:
        record.update(model_name=model, model_version=str(version))
    extra = {"subject_id": subject, "household_id": household, "upstream": upstream, "override": override,
             "inputs": inputs or None}
    record.update({k: v for k, v in extra.items() if v is not None})
    return record


def ingest(graph: Graph, records: list[dict[str, Any]], *, nodes: str = "auto", name: str = "story.jsonl",
           folder: Path | None = None) -> pipeline.Summary:
    """Write the records as a JSON-lines log and ingest it; the summary."""
    folder = folder or Path(tempfile.mkdtemp(prefix="provex-log-"))
    path = folder / name
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    summary = pipeline.ingest(graph, kind="predictions", uri=str(path.resolve()),
                              read=lambda state: predictions.read(path, state=state), prediction_nodes=nodes)
    assert summary.rejected_count == 0, summary.rejected
    return summary


def ingest_file(graph: Graph, path: Path, *, nodes: str = "auto") -> pipeline.Summary:
    """One `provex ingest predictions PATH` of an existing log (its rejects kept in the summary)."""
    return pipeline.ingest(graph, kind="predictions", uri=str(path.resolve()),
                           read=lambda state: predictions.read(path, state=state), prediction_nodes=nodes)
