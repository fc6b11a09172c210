"""The Cypher texts of the downstream questions: impact of a data version, a
library or a commit; which model served at a time; training/serving skew;
gaps in the lineage.

Downstream walks are bounded variable-length patterns (``*1..10``) over the
lineage edges that lead to model versions (never through predictions), and
prediction counts come from ``PredictionGroup.count`` where groups exist,
falling back to counting a version's predictions only when it has none.
"""

from __future__ import annotations

from provex.graph.questions.upstream import display, join, label
from provex.graph.refs import ts
from provex.vocab.model import prediction_group

# From a model version down to what it was trained on (reverse: what it depends on).
TRAINED_ON = "[:WAS_GENERATED_BY|USED|WAS_DERIVED_FROM|SAME_AS*1..10]"


# A version's groups have uids "prediction-group:<version uid>@<hour>" (vocab.model.prediction_group).
GROUP_UID_PREFIX = prediction_group("", "").uid.removesuffix("@")


def groups_of(mv: str, ret: str = "g", where: str = "true") -> str:
    """Cypher: the list of ``ret`` over the PredictionGroups PREDICTED_BY model
    version ``mv`` (and ``where``), found by their uid prefix in the uid index:
    walking ``mv``'s PREDICTED_BY edges would visit every one of its predictions."""
    return (f"COLLECT {{ MATCH (g:PredictionGroup) USING INDEX g:PredictionGroup(uid) "
            f"WHERE g.uid STARTS WITH '{GROUP_UID_PREFIX}' + {mv}.uid + '@' AND (g)-[:PREDICTED_BY]->({mv}) "
            f"AND {where} RETURN {ret} }}")


def prediction_count(mv: str, start: str = "null", end: str = "null") -> str:
    """Cypher: predictions by model version ``mv`` with a time in [start, end)
    (either bound may be null), from PredictionGroups when it has any: a group
    whose hour lies wholly inside counts its ``count``; one the bounds cut
    (e.g. an alias that moved at 09:30) counts its own predictions in range."""
    hour = ts("g.hour")
    g_full = f"({start} IS NULL OR {hour} >= {start}) AND ({end} IS NULL OR {hour} + duration('PT1H') <= {end})"
    g_overlap = f"({start} IS NULL OR {hour} + duration('PT1H') > {start}) AND ({end} IS NULL OR {hour} < {end})"
    p_in = f"({start} IS NULL OR {ts('p.timestamp')} >= {start}) AND ({end} IS NULL OR {ts('p.timestamp')} < {end})"
    count = f"CASE WHEN {g_full} THEN coalesce(g.count, 0) ELSE size([(p:Prediction)-[:PART_OF]->(g) WHERE {p_in} | 1]) END"
    return (
        f"CASE WHEN size({groups_of(mv, 'g.uid')}) > 0 "
        f"THEN reduce(s = 0, c IN {groups_of(mv, count, g_overlap)} | s + c) "
        f"ELSE size([(p:Prediction)-[:PREDICTED_BY]->({mv}) WHERE {p_in} | 1]) END"
    )


IMPACT_OF_DATA = f"""
MATCH (d:DataVersion {{uid: $data_version}})
MATCH path = (mv:ModelVersion)-{TRAINED_ON}->(d)
WITH mv, min(size([n IN nodes(path) WHERE n:Run])) AS runs_between
WITH mv, runs_between, {groups_of('mv', '[toStringOrNull(g.hour), g.count]')} AS groups
WITH mv, runs_between, CASE WHEN size(groups) > 0 THEN groups
     ELSE [(p:Prediction)-[:PREDICTED_BY]->(mv) | [toStringOrNull(p.timestamp), 1]] END AS buckets
UNWIND CASE WHEN size(buckets) = 0 THEN [[null, 0]] ELSE buckets END AS bucket
WITH mv, runs_between,
     CASE WHEN bucket[0] IS NULL THEN null WHEN $window = 'hour' THEN left(bucket[0], 13) ELSE left(bucket[0], 10) END AS window,
     sum(bucket[1]) AS predictions
RETURN mv.uid AS model_version, mv.name AS model, mv.version AS version, runs_between, window, predictions
ORDER BY model, version, window
"""


def _in_window(var: str) -> str:
    """Cypher: prediction ``var``'s time lies in [$since, $until)."""
    return (f"($since IS NULL OR {ts(var + '.timestamp')} >= datetime($since)) "
            f"AND ($until IS NULL OR {ts(var + '.timestamp')} < datetime($until))")


_HOUR_IN_WINDOW = (f"($since IS NULL OR {ts('b.hour')} + duration('PT1H') > datetime($since)) "
                   f"AND ($until IS NULL OR {ts('b.hour')} < datetime($until))")
_AFFECTED_UPSTREAM = (f"(q)-[:USED*1..3]->(u:Prediction)-[:PREDICTED_BY]->(m) WHERE m IN mvs AND {_in_window('u')}")

# Bounded by the answer, not the graph: the affected versions' hourly groups
# are found by uid prefix and walked hour by hour in time order, each hour's
# predictions sorted on their own, so the row limit stops the walk early
# (sorting every affected prediction took 7 s at 1M). A version without
# groups is one bucket of all its predictions, last. A chained prediction
# (one that USED an affected one) is listed once: beside its own direct
# row if its version is affected too, else beside its earliest affected
# upstream prediction. The rows come in the walk's order: a final ORDER BY
# would sort every affected prediction again (tests/test_sample.py checks
# the order).
IMPACTED_PREDICTIONS = f"""
MATCH (d:DataVersion {{uid: $data_version}})
MATCH (mv:ModelVersion)-{TRAINED_ON}->(d)
WITH collect(DISTINCT mv) AS mvs
UNWIND mvs AS mv
WITH mvs, mv, {groups_of('mv')} AS groups
UNWIND CASE WHEN size(groups) = 0 THEN [{{hour: null, g: null, mv: mv}}]
            ELSE [g IN groups | {{hour: g.hour, g: g, mv: mv}}] END AS b
WITH mvs, b WHERE b.g IS NULL OR ({_HOUR_IN_WINDOW})
WITH mvs, b.hour AS hour, collect(b) AS bucket
ORDER BY hour
CALL {{
  WITH mvs, bucket
  UNWIND bucket AS b
  CALL {{
    WITH b WITH b.g AS g, b.mv AS mv WHERE g IS NOT NULL
    MATCH (p:Prediction)-[:PART_OF]->(g) WHERE (p)-[:PREDICTED_BY]->(mv) RETURN p
    UNION
    WITH b WITH b.mv AS mv WHERE b.g IS NULL
    MATCH (p:Prediction)-[:PREDICTED_BY]->(mv) RETURN p
  }}
  WITH mvs, p WHERE {_in_window('p')}
  CALL {{
    WITH p RETURN p AS q
    UNION
    WITH p, mvs
    MATCH (q:Prediction)-[:USED*1..3]->(p)
    WHERE NOT ({_in_window('q')} AND EXISTS {{ (q)-[:PREDICTED_BY]->(m) WHERE m IN mvs }})
      AND COLLECT {{ MATCH {_AFFECTED_UPSTREAM} RETURN u ORDER BY u.timestamp, u.uid LIMIT 1 }}[0] = p
    RETURN q
  }}
  WITH DISTINCT mvs, q
  WITH q, [(q)-[:PREDICTED_BY]->(m) WHERE m IN mvs AND {_in_window('q')} | 'predicted by ' + {display('m')}]
          + COLLECT {{ MATCH {_AFFECTED_UPSTREAM} RETURN DISTINCT 'uses a prediction of ' + {display('m')} AS v ORDER BY v }} AS vias
  RETURN q, vias ORDER BY q.timestamp, q.uid
}}
RETURN q.uid AS prediction, q.timestamp AS timestamp, q.subject_id AS subject_id, q.output AS output,
       [(q)-[:PREDICTED_BY]->(m) | m.uid][0] AS model_version, {join('vias')} AS via
"""

IMPACT_OF_LIBRARY = f"""
MATCH (l:Library)
WHERE (l.name = $library
       OR l.uid STARTS WITH 'library:' + toLower(replace(replace($library, '_', '-'), '.', '-')) + '==')
  AND ($version IS NULL OR l.version = $version)
MATCH (mv:ModelVersion)-[:USED|WAS_GENERATED_BY*1..2]->(:Environment)-[:REQUIRES]->(l)
WITH DISTINCT l, mv
RETURN l.name AS library, l.version AS version, mv.uid AS model_version, mv.name AS model,
       mv.version AS model_version_number, {prediction_count('mv')} AS predictions
ORDER BY library, version, model, model_version_number
"""

IMPACT_OF_COMMIT = f"""
MATCH (c:CodeVersion {{uid: $commit}})
CALL {{
  WITH c MATCH (r:Run)-[:USED]->(c) RETURN r
  UNION
  WITH c MATCH (r:Run) WHERE r.commit = c.sha OR r.git_commit = c.sha RETURN r
}}
MATCH path = (x)-[:WAS_GENERATED_BY|USED|WAS_DERIVED_FROM|SAME_AS*0..10]->(r)
WHERE x:Run OR x:DataVersion OR x:ModelVersion
WITH x, min(length(path)) + 1 AS hops
RETURN {label('x')} AS kind, x.uid AS ref, {display('x')} AS name, hops,
       CASE WHEN x:ModelVersion THEN {prediction_count('x')} END AS predictions
ORDER BY CASE kind WHEN 'Run' THEN 0 WHEN 'DataVersion' THEN 1 ELSE 2 END, hops, ref
"""

SERVING_MODEL_AT = f"""
MATCH (m:Model {{uid: $model}})-[h:HAS_ALIAS]->(mv:ModelVersion)
WHERE ($alias IS NULL OR h.alias = $alias)
  AND coalesce({ts('h.valid_from')} <= datetime($at), true)
  AND coalesce({ts('h.valid_to')} > datetime($at), true)
WITH m, h, mv, {ts('h.valid_from')} AS held_from, {ts('h.valid_to')} AS held_to,
     datetime($at) - duration({{hours: $window_hours}}) AS w0, datetime($at) + duration({{hours: $window_hours}}) AS w1
RETURN m.name AS model, h.alias AS alias, mv.uid AS model_version, mv.version AS version,
       h.valid_from AS valid_from, h.valid_to AS valid_to,
       {prediction_count('mv', 'held_from', 'held_to')} AS predictions_while_serving,
       {prediction_count('mv', 'w0', 'w1')} AS predictions_in_window
ORDER BY alias
"""

TRAINING_SERVING_SKEW = """
MATCH (mv:ModelVersion {uid: $model_version})
CALL {
  WITH mv
  OPTIONAL MATCH (mv)-[:WAS_GENERATED_BY]->(:Run)-[:USED]->(:DataVersion)-[:SAME_AS*0..1]-(:DataVersion)
                 -[:HAS_FEATURE]->(f:Feature)
  RETURN collect(DISTINCT coalesce(f.name, substring(f.uid, 8))) AS training
}
CALL {
  WITH mv
  UNWIND """ + groups_of("mv") + """ AS g
  OPTIONAL MATCH (g)-[:USED]->(f:Feature)
  RETURN collect(DISTINCT coalesce(f.name, substring(f.uid, 8))) AS grouped
}
CALL {
  WITH mv
  OPTIONAL MATCH (p:Prediction)-[:PREDICTED_BY]->(mv)
  WITH p LIMIT 1000
  UNWIND CASE WHEN p IS NULL THEN [] ELSE [k IN keys(p) WHERE k STARTS WITH 'input.' | substring(k, 6)] END AS k
  RETURN collect(DISTINCT k) AS logged
}
WITH training, grouped + logged AS serving
UNWIND training + serving AS feature
WITH DISTINCT feature, training, serving
WITH feature, feature IN training AS in_training, feature IN serving AS in_serving
RETURN feature, in_training, in_serving,
       CASE WHEN in_training AND in_serving THEN 'both' WHEN in_training THEN 'training only'
            ELSE 'serving only' END AS status
ORDER BY status, feature
"""

_GAPS = [
    ("model version without a source run",
     "MATCH (x:ModelVersion) WHERE NOT EXISTS { (x)-[:WAS_GENERATED_BY]->(r:Run) WHERE NOT coalesce(r.placeholder, false) }",
     "ingest the MLflow tracking store that logged the run of the version"),
    ("run without a data input",
     "MATCH (x:Run) WHERE NOT coalesce(x.placeholder, false) AND NOT EXISTS { (x)-[:USED]->(:DataVersion|Dataset) }",
     "log the training data (mlflow.log_input) or declare deps in the DVC stage"),
    ("run without a code commit",
     "MATCH (x:Run) WHERE NOT coalesce(x.placeholder, false) AND NOT EXISTS { (x)-[:USED]->(:CodeVersion) } "
     "AND x.commit IS NULL AND x.git_commit IS NULL",
     "run training from a git checkout so the commit is recorded"),
    ("prediction without a resolvable model",
     # Only these can lack one (bounded by the gap, not every prediction): the
     # adapter links a prediction whose log names name@version (resolved = true),
     # perhaps to a placeholder version; resolve.py links the others later and
     # sets resolved = true; a prediction only referenced (USED) is a placeholder.
     "CALL { MATCH (x:Prediction) WHERE x.resolved = false RETURN x "
     "UNION MATCH (:ModelVersion {placeholder: true})<-[:PREDICTED_BY]-(x:Prediction) RETURN x "
     "UNION MATCH (x:Node) WHERE x.placeholder = true AND x:Prediction RETURN x } "
     "WITH x WHERE NOT EXISTS { (x)-[:PREDICTED_BY]->(m:ModelVersion) WHERE NOT coalesce(m.placeholder, false) }",
     "log the model version (models:/name/version or run id) with each prediction, then ingest the registry"),
    ("stage never run",
     "MATCH (x:Stage) WHERE NOT EXISTS { (:Run)-[:INSTANCE_OF]->(x) }",
     "run `dvc repro` and commit dvc.lock, or ingest the OpenLineage events of the job"),
    ("data version without a producer",
     "MATCH (x:DataVersion) WHERE NOT EXISTS { (x)-[:WAS_GENERATED_BY|WAS_DERIVED_FROM]->() } "
     "AND NOT EXISTS { (x)-[:SAME_AS]-(:DataVersion)-[:WAS_GENERATED_BY|WAS_DERIVED_FROM]->() }",
     "expected for raw inputs; otherwise ingest the pipeline that wrote it"),
    ("model version never verified",
     "MATCH (x:ModelVersion) WHERE NOT coalesce(x.placeholder, false) "
     "AND NOT EXISTS { (r:Reproduction)-[:REPRODUCES]->(x) WHERE r.outcome <> 'could-not-run' }",
     "run provex reproduce model:NAME@VERSION --verify (it runs the project code) to rebuild it hash by hash"),
    ("referenced but never ingested (placeholder)",
     "MATCH (x:Node) WHERE x.placeholder = true",
     "ingest the source that defines these nodes"),
    # One row for every kind of conflict (graph/conflicts.py): a Conflict node per
    # later record of an id that came with other content (x.kind says what collided).
    ("conflicting-records",
     "MATCH (x:Conflict)",
     "an id came again with other content: the first record stands, the later one is in the rejects file; "
     "fix the id or the content at the source, then ingest again"),
]

# One CALL per gap, each aggregating to exactly one row (a UNION ALL of
# aggregations dropped empty branches on Neo4j 5.26), then one row per gap.
LINEAGE_GAPS = "\n".join(
    f"CALL {{ {match} RETURN count(x) AS c{i}, collect(x.uid)[..5] AS e{i} }}" for i, (_, match, _) in enumerate(_GAPS)
) + "\nUNWIND [" + ",\n  ".join(
    f"{{gap: '{gap}', count: c{i}, examples: e{i}, hint: '{hint}'}}" for i, (gap, _, hint) in enumerate(_GAPS)
) + "] AS row\nRETURN row.gap AS gap, row.count AS count, row.examples AS examples, row.hint AS hint"
