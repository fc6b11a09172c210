"""``metric_steps.<k>``: how many values each metric of a run has logged (the
length of its history), for local stores. Used by :mod:`provex.ingest.mlflow.runs`.

A database store answers for many runs at once (MLflow's own
``get_metric_history_bulk``: one query per metric key and chunk of runs);
other stores are asked run by run and key by key (``get_metric_history``).
Over HTTP nothing is read: one request per metric would be too slow.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from provex.ingest.mlflow.store import reading
from provex.vocab.errors import ReadFailed

MAX_HISTORY_METRICS = 50  # step counts are read only for runs with at most this many metrics
CHUNK = 500  # run ids per bulk query
BULK_LIMIT = 2**62  # no cap: MLflow's bulk call does not page, and a run's whole history is counted


def wanted(kind: str, keys: Iterable[str]) -> bool:
    """Whether step counts are read for a run with these metric keys."""
    return kind != "http" and len(list(keys)) <= MAX_HISTORY_METRICS


def bulk(client: Any, kind: str, found: list[Any]) -> dict[str, dict[str, int]]:
    """run_id -> {"metric_steps.<k>": n} for the runs a database store can
    answer in bulk; empty when it cannot (the runs are then asked one by one)."""
    store = getattr(getattr(client, "_tracking_client", None), "store", None)
    if kind not in ("sqlite", "sql") or not hasattr(store, "get_metric_history_bulk"):
        return {}
    by_key: dict[str, list[str]] = defaultdict(list)
    for run in found:
        if wanted(kind, run.data.metrics):
            for key in run.data.metrics:
                by_key[key].append(run.info.run_id)
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    try:
        with reading("metric histories"):
            for key, run_ids in by_key.items():
                for start in range(0, len(run_ids), CHUNK):
                    chunk = run_ids[start:start + CHUNK]
                    seen = Counter(m.run_id for m in store.get_metric_history_bulk(chunk, key, BULK_LIMIT))
                    for run_id in chunk:
                        counts[run_id][f"metric_steps.{key}"] = seen[run_id]
    except ReadFailed:
        return {}  # asked run by run instead, where a failure is flagged per run
    return counts


def one_run(client: Any, run_id: str, keys: list[str], errors: list[str]) -> dict[str, int]:
    """Step counts of one run, a request per metric (a failure is noted in ``errors``)."""
    try:
        with reading(run_id):
            return {f"metric_steps.{k}": len(client.get_metric_history(run_id, k)) for k in keys}
    except ReadFailed as exc:
        errors.append(str(exc))
        return {}
