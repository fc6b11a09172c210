"""Graph reads for ``provex reproduce``: the recipe of a model version (the
``reproduce-model`` catalog question) or of a data version produced by a
stage (the same query from another start), what a verification needs to know
(commit, stage, where the project was ingested from, the metrics to expect),
and the ``Reproduction`` nodes recorded so far."""

from __future__ import annotations

from typing import Any

from provex.graph.connection import Graph
from provex.graph.questions import upstream as up
from provex.vocab.errors import UsageError

REPRODUCE_DATA = up.reproduce("""
MATCH (d:DataVersion {uid: $data_version})
OPTIONAL MATCH (d)-[:WAS_GENERATED_BY]->(pr:Run)
WITH d, pr ORDER BY pr.start_time
WITH null AS mv, null AS r, collect(pr)[0] AS t0
""")

_TARGET = """
MATCH (n:Node {uid: $uid}) WHERE n:ModelVersion OR n:DataVersion
OPTIONAL MATCH (n:ModelVersion)-[:WAS_GENERATED_BY]->(r:Run)
OPTIONAL MATCH (r)-[:SAME_AS]-(dvc:Run {kind: 'dvc-stage'})
OPTIONAL MATCH (n:DataVersion)-[:WAS_GENERATED_BY]->(pr:Run)
WITH n, r, dvc, pr ORDER BY dvc.start_time, pr.start_time
WITH n, r, coalesce(collect(dvc)[0], collect(pr)[0], r) AS t0
RETURN n.uid AS uid, [l IN labels(n) WHERE l <> 'Node'][0] AS label,
       CASE WHEN n:ModelVersion THEN n.name + '@' + n.version ELSE n.path + '@' + left(n.hash, 8) END AS name,
       n.path AS path, n.hash AS hash,
       t0 {.uid, .name, .kind, .commit, .lockfile, .cmd, .sources, .project} AS run,
       r {.uid, .run_id, .name, .tracking_uri} AS training_run,
       [k IN keys(r) WHERE k STARTS WITH 'metric.' | [substring(k, 7), r[k]]] AS metrics,
       [(r)-[:PART_OF]->(e:Experiment) | e.name][0] AS experiment,
       [(n)-[:USED|WAS_GENERATED_BY*1..2]->(:Environment)-[:REQUIRES]->(l:Library) | [l.name, l.version]] AS libraries
"""

_REPRODUCTIONS = """
MATCH (x:Reproduction)-[:REPRODUCES]->(n:Node)
WHERE $uid IS NULL OR n.uid = $uid
RETURN x.uid AS reproduction, n.uid AS target, x.started_at AS started_at, x.outcome AS outcome,
       x.commit AS commit, x.stage AS stage, x.reason AS reason, x.differing AS differing,
       x.provex_version AS provex_version
ORDER BY started_at DESC LIMIT $limit
"""


def recipe(graph: Graph, target: dict[str, Any]) -> list[dict[str, Any]]:
    """The recipe rows (step, kind, item, command) of a model or data version."""
    if target["label"] == "ModelVersion":
        return graph.read(up.REPRODUCE_MODEL, {"model_version": target["uid"]})
    return graph.read(REPRODUCE_DATA, {"data_version": target["uid"]})


def target(graph: Graph, uid: str) -> dict[str, Any]:
    """What a verification of ``uid`` needs: the run to rebuild (stage, commit,
    where its lock file was read), the training run's metrics and libraries."""
    rows = graph.read(_TARGET, {"uid": uid})
    if not rows:
        raise UsageError(f"{uid} is neither a model version nor a data version; give e.g. model:credit-limit@5.")
    found = dict(rows[0])
    if not found["run"]:
        what = "no training run" if found["label"] == "ModelVersion" else "no producing stage run"
        raise UsageError(f"{uid} has {what} in the graph, so there is nothing to rebuild. "
                         "Ingest the DVC project or the MLflow store that made it (see `provex ask lineage-gaps`).")
    found["metrics"] = dict(found["metrics"] or [])
    found["libraries"] = dict(found["libraries"] or [])
    return found


def reproductions(graph: Graph, uid: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Recorded verifications (of ``uid``, or all), newest first."""
    return graph.read(_REPRODUCTIONS, {"uid": uid, "limit": limit})
