"""The graph a prediction log made before the prediction store: a node per
prediction with its edges, hourly groups and features, as Node/Edge records
(for the naive-writer and neo4j-admin baselines, so they load the same graph
the old design wrote, measured in the same run as the store)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from provex.graph.groups import STORE_SOURCE, prediction_records
from provex.ingest.predictions import read
from provex.store.query import decode
from provex.vocab import model
from provex.vocab.facts import Facts
from provex.vocab.records import Edge, Node


def records(log: Path) -> Iterator[Node | Edge]:
    groups: set[str] = set()
    linked: set[tuple[str, str]] = set()
    for batch in read(log):
        if not isinstance(batch, Facts):
            continue
        for raw in batch.rows():
            row = decode(raw)
            yield from prediction_records(row)
            key = row["model_version"] or "ref:" + (row["model_ref"] or "")
            group = model.prediction_group(key, row["hour"])
            if group.uid not in groups:
                groups.add(group.uid)
                yield Node(group, {"hour": row["hour"], "model": key}, STORE_SOURCE)
                if row["model_version"]:
                    yield Edge("PREDICTED_BY", group, model.Ref("ModelVersion", key), source=STORE_SOURCE)
            for name in row["inputs"] or {}:
                if (group.uid, name) not in linked:
                    linked.add((group.uid, name))
                    yield Node(model.feature(name), {"name": name}, STORE_SOURCE)
                    yield Edge("USED", group, model.feature(name), source=STORE_SOURCE)
