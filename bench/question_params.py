"""Realistic parameters for every catalog question, picked from the graph
(bench/questions.py): the model version with the most predictions (among
versions with an earlier one, so that what-changed has a before), one of its
generated predictions (``bench-...``, bench/predlog.py), the sample story's
complaining household (the same predictions at every scale: a generated
household has 1 prediction at 10k and 50 at 1M, so its answer, not the graph,
would set the ratio), the raw data version upstream of the model version whose impact
reaches the most predictions, the training commit, a library of its
environment, two profiled versions of one path.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from provex.graph import facts, questions
from provex.graph.connection import Graph

EXPECTED = Path(__file__).resolve().parent.parent / "sample_data/expected.json"

TOP_VERSION = """
MATCH (m:ModelVersion)
WHERE toInteger(m.version) > 1
OPTIONAL MATCH (m)<-[:PREDICTED_BY]-(g:PredictionGroup)
WITH m, sum(coalesce(g.count, 0)) AS n
RETURN m.uid AS uid, m.version AS version, [(m)-[:VERSION_OF]->(model) | model.uid][0] AS model, n
ORDER BY n DESC, uid LIMIT 1"""


OTHER_VERSION = """
MATCH (:ModelVersion {uid: $mv})-[:VERSION_OF]->(model)<-[:VERSION_OF]-(o:ModelVersion)
WHERE o.uid <> $mv
RETURN o.uid AS uid ORDER BY abs(toInteger(o.version) - toInteger($version)), o.uid LIMIT 1"""

TRAINING = """
MATCH (:ModelVersion {uid: $mv})-[:WAS_GENERATED_BY]->(r:Run)
OPTIONAL MATCH (r)-[:USED]->(c:CodeVersion)
OPTIONAL MATCH (:ModelVersion {uid: $mv})-[:USED]->(:Environment)-[:REQUIRES]->(l:Library)
RETURN c.uid AS commit, l.name AS library, l.version AS library_version
ORDER BY l.name = 'scikit-learn' DESC, l.name LIMIT 1"""

PROFILED_PAIR = """
MATCH (a:DataVersion), (b:DataVersion)
WHERE a.path = b.path AND a.uid < b.uid AND a.profile_status = 'profiled' AND b.profile_status = 'profiled'
  AND a.path STARTS WITH 'data/raw/'
WITH a, b ORDER BY a.path, a.uid LIMIT 1
RETURN a.uid AS a, b.uid AS b"""


def one_prediction(graph: Graph, mv: str) -> dict[str, Any]:
    """A generated prediction of the version, from the prediction store."""
    for row in facts.of_versions(graph, [mv], limit=1_000):
        if row["uid"].startswith("prediction:bench-"):
            return {"uid": row["uid"], "household": row["household_id"], "timestamp": row["timestamp"]}
    raise SystemExit(f"bench: no generated prediction of {mv} in the prediction store")


def one(graph: Graph, query: str, **params: Any) -> dict[str, Any]:
    rows = graph.read(query, params)
    if not rows:
        raise SystemExit(f"bench: nothing in the graph for {query.strip().splitlines()[0]} {params}")
    return rows[0]


def raw_inputs(graph: Graph, mv: str) -> list[str]:
    """Raw data versions upstream of the model version (no producing run)."""
    frame = questions.ask(graph, "model-training-data", {"model_version": mv})
    raw = frame[frame["path"].str.startswith("data/raw/") & frame["producer_run"].isna()]
    return sorted(set(raw["data_version"]))


def widest_impact(graph: Graph, mv: str) -> tuple[str, int]:
    """The raw data version upstream of ``mv`` that reaches the most predictions, and that count."""
    best = ("", -1)
    for uid in raw_inputs(graph, mv):
        frame = questions.ask(graph, "impact-of-data", {"data_version": uid}, limit=100_000)
        total = int(frame["predictions"].fillna(0).sum())
        if total > best[1]:
            best = (uid, total)
    return best


def pick(graph: Graph) -> dict[str, Any]:
    """Parameters per question, and how many predictions the impact questions reach."""
    top = one(graph, TOP_VERSION)
    mv = top["uid"]
    pred = one_prediction(graph, mv)
    other_mv = one(graph, OTHER_VERSION, mv=mv, version=str(top["version"]))["uid"]
    other = one_prediction(graph, other_mv)
    trained = one(graph, TRAINING, mv=mv)
    data_version, affected = widest_impact(graph, mv)
    pair = one(graph, PROFILED_PAIR)
    p, m = {"prediction": pred["uid"]}, {"model_version": mv}
    params = {
        "prediction-provenance": p, "model-training-data": m, "reproduce-model": m,
        "data-origin": {"data_version": data_version}, "impact-of-data": {"data_version": data_version},
        "impacted-predictions": {"data_version": data_version},
        "impact-of-library": {"library": trained["library"], "version": trained["library_version"]},
        "impact-of-commit": {"commit": trained["commit"]}, "diff-model-versions": {"a": other_mv, "b": mv},
        "serving-model-at": {"model": top["model"], "at": str(pred["timestamp"])},
        "training-serving-skew": m, "models-in-chain": p, "lineage-gaps": {},
        "data-profile": {"data_version": data_version}, "diff-data-versions": pair, "data-anomalies": {},
        "subject-history": {"subject": json.loads(EXPECTED.read_text())["complaint"]["household_id"]},
        "compare-predictions": {"a": other["uid"], "b": pred["uid"]},
        "what-changed": p,
        "explain": {"prediction": pred["uid"], "against": other["uid"]},
    }
    missing = set(questions.CATALOG) - set(params)
    if missing:
        raise SystemExit(f"bench: no parameters picked for {', '.join(sorted(missing))}")
    return {"params": params, "affected_predictions": affected, "model_version": mv}
