"""Synthetic provenance at scale, shaped like the sample story: a DVC chain of
data versions, training runs, model versions, and many predictions per version."""

from __future__ import annotations

from collections.abc import Iterator

from provex.vocab import model
from provex.vocab.records import Edge, Node, Record


def story(versions: int, predictions_per_version: int, chain: int = 4) -> Iterator[Record]:
    """``versions`` model versions, each trained on its own chain of ``chain``
    data versions, each with ``predictions_per_version`` predictions."""
    for v in range(1, versions + 1):
        yield from _training(v, chain)
        yield from _predictions(v, predictions_per_version)


def _training(v: int, chain: int) -> Iterator[Record]:
    mv = model.model_version("bench-model", v)
    run = model.run(f"bench-train-{v}")
    yield Node(mv, {"name": "bench-model", "version": str(v), "run_id": f"bench-train-{v}"}, "bench")
    yield Node(run, {"run_id": f"bench-train-{v}", "kind": "mlflow-run"}, "bench")
    yield Edge("WAS_GENERATED_BY", mv, run, source="bench")
    previous = run
    for step in range(chain):
        dv = model.data_version(f"data/step{step}.csv", f"{v:08x}{step:024x}")
        yield Node(dv, {"path": f"data/step{step}.csv", "hash": f"{v:08x}{step:024x}", "hash_kind": "md5"}, "bench")
        yield Edge("USED", previous, dv, source="bench")
        producer = model.run(f"bench-stage-{v}-{step}")
        yield Node(producer, {"kind": "dvc-stage", "stage": f"step{step}"}, "bench")
        yield Edge("WAS_GENERATED_BY", dv, producer, source="bench")
        previous = producer


def _predictions(v: int, count: int) -> Iterator[Record]:
    mv = model.model_version("bench-model", v)
    for i in range(count):
        pid = f"bench-{v}-{i}"
        pred = model.prediction(pid)
        hour = f"2026-01-{1 + i % 28:02d}T{i % 24:02d}"
        yield Node(pred, {"prediction_id": pid, "timestamp": f"{hour}:00:00+00:00", "output": float(i)}, "bench")
        yield Edge("PREDICTED_BY", pred, mv, source="bench")
