"""``metric_steps.<k>``: how many values each metric of a run has logged (the
length of its history), for local stores. Used by :mod:`provex.ingest.mlflow.runs`.

A database store answers for 500 runs at once: one grouped count over MLflow's
own metrics table model (else MLflow's ``get_metric_history_bulk``, every
value, a query per metric key); other stores are asked run by run and key by
key (``get_metric_history``).
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
BULK_LIMIT = 2**62  # no cap: MLflow's bulk call does not page; a run's whole history is counted


def wanted(kind: str, keys: Iterable[str]) -> bool:
    """Whether step counts are read for a run with these metric keys."""
    return kind != "http" and len(list(keys)) <= MAX_HISTORY_METRICS


def bulk(client: Any, kind: str, found: list[Any]) -> dict[str, dict[str, int]]:
    """run_id -> {"metric_steps.<k>": n} for the runs a database store can
    answer in bulk; empty when it cannot (the runs are then asked one by one)."""
    store = getattr(getattr(client, "_tracking_client", None), "store", None)
    if kind not in ("sqlite", "sql") or store is None:
        return {}
    run_ids = [run.info.run_id for run in found if wanted(kind, run.data.metrics)]
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    try:
        with reading("metric histories"):
            for start in range(0, len(run_ids), CHUNK):
                for run_id, key, n in _counted(store, found, run_ids[start:start + CHUNK]):
                    counts[run_id][f"metric_steps.{key}"] = n
    except ReadFailed:
        return {}  # asked run by run instead, where a failure is flagged per run
    return counts


def _counted(store: Any, found: list[Any], run_ids: list[str]) -> Iterable[tuple[str, str, int]]:
    """(run_id, key, values logged) for these runs: one grouped count over
    MLflow's own metrics table model; else MLflow's ``get_metric_history_bulk``
    (every value, a query per key); else nothing (asked run by run)."""
    try:
        from mlflow.store.tracking.dbmodels.models import SqlMetric
        from sqlalchemy import func

        with store.ManagedSessionMaker() as session:
            return session.query(SqlMetric.run_uuid, SqlMetric.key, func.count()).filter(
                SqlMetric.run_uuid.in_(run_ids)).group_by(SqlMetric.run_uuid, SqlMetric.key).all()
    except (ImportError, AttributeError):
        pass
    if not hasattr(store, "get_metric_history_bulk"):
        return []
    chunk = set(run_ids)
    keys = {key for run in found if run.info.run_id in chunk for key in run.data.metrics}
    seen = Counter((m.run_id, key) for key in sorted(keys) for m in store.get_metric_history_bulk(run_ids, key, BULK_LIMIT))
    return [(run_id, key, n) for (run_id, key), n in seen.items()]


def one_run(client: Any, run_id: str, keys: list[str], errors: list[str]) -> dict[str, int]:
    """Step counts of one run, a request per metric (a failure is noted in ``errors``)."""
    try:
        with reading(run_id):
            return {f"metric_steps.{k}": len(client.get_metric_history(run_id, k)) for k in keys}
    except ReadFailed as exc:
        errors.append(str(exc))
        return {}
