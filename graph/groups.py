"""The graph's side of an ingest's prediction facts.

The store keeps every prediction (:mod:`provex.store`); the graph keeps what
relates them:

- a ``PredictionGroup`` per (model version, hour): count, first and last
  time, overrides, example uids, the store files that hold it,
  ``PREDICTED_BY`` its version and ``USED`` each input ``Feature``;
- chaining between groups: a group ``USED`` an upstream group ``{count}``;
- below a rate, a ``Prediction`` node per prediction, as logs were ingested
  before the store (``--prediction-nodes all`` always, ``none`` never).

Counts are set from the committed store, not added up, so re-running an
ingest or one that was interrupted leaves them right. A group of
predictions whose log named no registry version is keyed by the logged
reference (``ref:<reference>``) until the resolver links it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from provex.graph.writer import DEFAULT_BATCH, Writer
from provex.store import scan
from provex.store.append import Append
from provex.store.identity import Conflict
from provex.vocab import model
from provex.vocab.facts import REF_PARTITION
from provex.vocab.records import Conflict as ConflictRecord
from provex.vocab.records import Edge, Flag, Node, Reject

NODE_MODES = ("auto", "all", "none")
#: ``auto`` gives a node to each prediction of an hourly group (model version,
#: hour) of at most this many predictions (PROVEX_PREDICTION_NODE_RATE).
DEFAULT_NODE_RATE = 1_000
STORE_SOURCE = "provex:store"


@dataclass
class Settled:
    """What the facts of one ingest did to the store and the graph."""

    added: int = 0
    repeated: int = 0
    conflict_count: int = 0
    conflicts: list[Conflict] = field(default_factory=list)
    groups: int = 0
    nodes: bool = False
    written: dict[str, int] = field(default_factory=dict)  # graph nodes and edges written, by label / type
    notes: list[Reject | Flag] = field(default_factory=list)  # what the writer said about the records (capped props)


def settle(graph: Any, append: Append, *, mode: str, ingest_run: str, batch_size: int = DEFAULT_BATCH) -> Settled:
    """Settle an ingest's facts: identity and indexes, the commit, then groups,
    features, chaining and prediction nodes, all from the committed store."""
    outcome = append.finish()
    settled = Settled(outcome.added, outcome.repeated, outcome.conflict_count, outcome.conflicts)
    new_files = [path for path, meta in append.files.items() if meta["kind"] == "data"]
    append.commit()
    stats = scan.group_stats(graph.facts, outcome.groups)
    with Writer(graph, ingest_run, batch_size) as writer:
        for stat in stats:
            writer.add_all(group_records(stat))
        for g, hour, name in scan.features(graph.facts, new_files):
            group = model.prediction_group(g, hour)
            writer.add(Node(model.feature(name), {"name": name}, STORE_SOURCE))
            writer.add(Edge("USED", group, model.feature(name), source=STORE_SOURCE))
        for chain in scan.chains(graph.facts, outcome.groups):
            writer.add(Edge("USED", model.prediction_group(chain["partition"], chain["hour"]),
                            model.prediction_group(chain["up_partition"], chain["up_hour"]),
                            {"count": chain["count"]}, source=STORE_SOURCE))
    settled.written.update(writer.counts)
    settled.nodes = _prediction_nodes(graph, stats, mode, ingest_run, batch_size, settled)
    settled.groups = len(stats)
    return settled


def _prediction_nodes(graph: Any, stats: list[dict[str, Any]], mode: str, ingest_run: str, batch_size: int,
                      settled: Settled) -> bool:
    """A node per prediction for the touched groups that get them (``all``, or
    ``auto`` and at most the rate); ``auto`` groups past the rate lose theirs
    (a group's nodes follow its count in the store, however it was ingested)."""
    if mode == "none":
        return False
    rate = node_rate()
    wanted = [s for s in stats if mode == "all" or s["count"] <= rate]
    past = [model.prediction_group(s["g"], s["hour"]).uid for s in stats if mode == "auto" and s["count"] > rate]
    if past:
        graph.write_rows(_DROP_NODES, [{"group": uid} for uid in past], 50)
    if wanted:
        with Writer(graph, ingest_run, batch_size) as writer:
            for row in _rows(graph, wanted):
                for record in prediction_records(row):
                    note = writer.add(record)
                    if note is not None:
                        settled.notes.append(note)
        for name, n in writer.counts.items():
            settled.written[name] = settled.written.get(name, 0) + n
    return bool(wanted)


#: A group's prediction nodes and their overrides (the store keeps the predictions).
_DROP_NODES = """
UNWIND $rows AS r
MATCH (p:Prediction)-[:PART_OF]->(:PredictionGroup {uid: r.group})
OPTIONAL MATCH (p)-[:OVERRIDDEN_BY]->(o:Override)
DETACH DELETE p, o
"""


def node_rate() -> int:
    try:
        return max(0, int(os.environ.get("PROVEX_PREDICTION_NODE_RATE", DEFAULT_NODE_RATE)))
    except ValueError:
        return DEFAULT_NODE_RATE


def _rows(graph: Any, groups: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The stored predictions of these groups (effective version, hour)."""
    for stat in groups:
        start, end = scan.hour_bounds(stat["hour"])
        yield from scan.scan(graph.facts, [stat["g"]], start, end)


#: What a prediction can be PREDICTED_BY, by uid prefix: a registry version, or
#: (resolved by evidence, without a registry) a logged model, a model artifact, a run.
TARGET_LABELS = {model.KINDS[label].prefix: label for label in ("LoggedModel", "DataVersion", "Run")}


def target_ref(uid: str) -> model.Ref:
    """The node a group or prediction is PREDICTED_BY: its label from the uid's kind prefix."""
    return model.Ref(TARGET_LABELS.get(uid.split(":", 1)[0], "ModelVersion"), uid)


def group_records(stat: dict[str, Any]) -> list[Node | Edge]:
    """A group node (absolute figures from the store) and its model edge."""
    key = stat["g"]
    group = model.prediction_group(key, stat["hour"])
    resolved = not key.startswith(REF_PARTITION)
    props = {"hour": stat["hour"], "model": key, "count": stat["count"], "first": stat["first"], "last": stat["last"],
             "overrides": stat["overrides"], "examples": stat["examples"], "files": stat["files"],
             "count_stale": False, "resolved": resolved}
    if not resolved:
        props.update({k: stat[k] for k in ("model_ref", "model_name", "model_alias", "model_run_id", "model_id")})
    records: list[Node | Edge] = [Node(group, props, STORE_SOURCE)]
    if resolved:
        records.append(Edge("PREDICTED_BY", group, target_ref(key), source=STORE_SOURCE))
    return records


def prediction_records(row: dict[str, Any]) -> list[Node | Edge]:
    """A prediction's node and edges, as the graph held them before the store
    (``--prediction-nodes all``, or ``auto`` below the rate)."""
    source = row["source"]
    ref = model.prediction(row["prediction_id"])
    mv = row.get("model_version")  # as logged, or as resolved since
    group = model.prediction_group(mv or REF_PARTITION + (row.get("model_ref") or ""), row["hour"])
    records: list[Node | Edge] = [Node(ref, node_props(row), source), Edge("PART_OF", ref, group, source=source)]
    if mv:
        how = {"method": row["resolved_by"]} if row.get("resolved_by") not in (None, "logged") else {}
        records.append(Edge("PREDICTED_BY", ref, target_ref(mv), how, source=source))
    records.extend(Edge("USED", ref, model.Ref("Prediction", up), source=source) for up in row["upstream"])
    if row.get("override_rule"):
        over = model.override(row["prediction_id"], row["override_rule"])
        records.append(Node(over, {"rule": row["override_rule"], "original_output": row["original_output"],
                                   "final_output": row["output"]}, source))
        records.append(Edge("OVERRIDDEN_BY", ref, over, source=source))
    return records


def node_props(row: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = {
        "prediction_id": row["prediction_id"], "timestamp": row["timestamp"], "hour": row["hour"],
        "output": row["output"], "score": row["score"], "model_ref": row["model_ref"],
        "resolved": bool(row.get("model_version")), "resolved_by": _how(row), "model_name": row["model_name"],
        "model_version": row["logged_model_version"], "model_alias": row["model_alias"],
        "model_run_id": row["model_run_id"], "model_id": row["model_id"],
        "upstream": [u.removeprefix("prediction:") for u in row["upstream"]] or None,
        "original_output": row["original_output"],
    }
    props.update({k: row[k] for k in ("subject_id", "household_id", "input_hash", "feature_pipeline") if row.get(k)})
    props.update({f"extra.{k}": v for k, v in (row.get("extra") or {}).items()})
    props.update({f"input.{k}": v for k, v in (row.get("inputs") or {}).items()})
    return props


def _how(row: dict[str, Any]) -> str | None:
    """How a prediction's model was found, when the log did not name a registry version."""
    return None if row.get("resolved_by") in (None, "logged") else row["resolved_by"]


def as_conflict(conflict: Conflict) -> ConflictRecord:
    """A prediction id the store already held with other content, as the
    pipeline's conflict record: both values (where they differ), the first
    one's file and line, and the later record's place."""
    kept, later = conflict.kept, conflict.later
    differs = [name for name in ("timestamp", "model_ref", "output", "inputs", "score", "upstream", "override_rule",
                                 "original_output", "subject_id", "household_id", "input_hash", "feature_pipeline",
                                 "extra") if kept.get(name) != later.get(name)]
    first = "; ".join(f"{name} {_short(kept.get(name))}" for name in differs[:4]) or "other values"
    return ConflictRecord(kind="prediction-id", key=conflict.uid,
                  first=f"{first} (from {kept.get('source')}:{kept.get('line')})",
                  later="; ".join(f"{name} {_short(later.get(name))}" for name in differs[:4]) or "other values",
                  file=str(later.get("source") or ""), line=later.get("line"))


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    return text if len(text) <= 60 else text[:57] + "..."
