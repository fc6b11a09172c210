"""The Cypher texts of the downstream questions: impact of a data version, a
library or a commit; which model served at a time; training/serving skew;
gaps in the lineage.

Downstream walks are bounded variable-length patterns (``*1..10``) over the
lineage edges that lead to model versions (never through predictions), and
prediction counts come from ``PredictionGroup.count`` (every ingested
prediction is in an hourly group; counts cut by a time inside an hour, and
the predictions themselves, come from the store: graph/questions/stored.py).
"""

from __future__ import annotations

from provex.graph.questions.upstream import display, label
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


def prediction_count(mv: str) -> str:
    """Cypher: how many predictions model version ``mv`` made (its groups' counts)."""
    return f"reduce(s = 0, c IN {groups_of(mv, 'coalesce(g.count, 0)')} | s + c)"


# A model: a registry version, or what predictions were resolved to without a
# registry (a run, a logged model, a model artifact: it has prediction groups).
IS_MODEL = "(mv:ModelVersion OR EXISTS { (:PredictionGroup)-[:PREDICTED_BY]->(mv) })"

IMPACT_OF_DATA = f"""
MATCH (d:DataVersion {{uid: $data_version}})
MATCH path = (mv)-{TRAINED_ON}->(d) WHERE {IS_MODEL}
WITH mv, min(size([n IN nodes(path) WHERE n:Run])) AS runs_between
WITH mv, runs_between, {groups_of('mv', '[toStringOrNull(g.hour), g.count]')} AS buckets
UNWIND CASE WHEN size(buckets) = 0 THEN [[null, 0]] ELSE buckets END AS bucket
WITH mv, runs_between,
     CASE WHEN bucket[0] IS NULL THEN null WHEN $window = 'hour' THEN left(bucket[0], 13) ELSE left(bucket[0], 10) END AS window,
     sum(bucket[1]) AS predictions
RETURN mv.uid AS model_version, coalesce(mv.name, mv.path) AS model, mv.version AS version, runs_between, window,
       predictions
ORDER BY model, version, window
"""


# The model versions trained on the data version (directly, through SAME_AS
# twins or downstream stages); graph/questions/stored.py lists their
# predictions (and the chained ones that used them) from the store.
IMPACTED_PREDICTIONS = f"""
MATCH (d:DataVersion {{uid: $data_version}})
MATCH (mv)-{TRAINED_ON}->(d) WHERE {IS_MODEL}
WITH DISTINCT mv
WHERE $since IS NULL OR $until IS NULL OR datetime($since) < datetime($until)
RETURN mv.uid AS model_version, {display('mv')} AS name
ORDER BY model_version
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
       toStringOrNull(held_from) AS held_from, toStringOrNull(held_to) AS held_to,
       toStringOrNull(w0) AS w0, toStringOrNull(w1) AS w1
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
WITH training, grouped + $logged AS serving
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
     # Counted by hourly group (every prediction is in one): a group whose log
     # named no version that resolved, or one linked to a placeholder version,
     # unless its reference is ambiguous (the next row); plus the upstream
     # predictions used but never logged ($dangling, from the store).
     "MATCH (x:PredictionGroup) WHERE (x.resolved = false OR (x.resolved AND EXISTS { "
     "(x)-[:PREDICTED_BY]->(m:ModelVersion) WHERE coalesce(m.placeholder, false) })) "
     "AND NOT x.model IN $ambiguous.partitions",
     "log the model version (models:/name/version, a run id, or the version your metadata file or run tags "
     "hold) with each prediction, then ingest the registry, the MLflow runs or the DVC pipeline that made it"),
    # References the resolver matched to several trainings ($ambiguous, from the store):
    # their predictions, the candidates as examples, what each candidate said in the hint.
    ("prediction with an ambiguous model", "WITH $ambiguous AS x", "$ambiguous.hint"),
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
     "MATCH (x:Node) WHERE x.placeholder = true AND NOT x:Prediction AND NOT x:PredictionGroup",
     "ingest the source that defines these nodes"),
    # One row for every kind of conflict (graph/conflicts.py): a Conflict node per
    # later record of an id that came with other content (x.kind says what collided).
    ("conflicting-records",
     "MATCH (x:Conflict)",
     "an id came again with other content: the first record stands, the later one is in the rejects file; "
     "fix the id or the content at the source, then ingest again"),
]

#: How a gap counts its rows and picks examples: nodes by default; prediction
#: groups by the predictions in them (their example uids), with the dangling
#: upstream references the store found.
_AGGREGATE = {
    "prediction without a resolvable model":
        "RETURN sum(x.count) + $dangling.count AS c{i}, "
        "(reduce(s = [], g IN collect(x) | s + coalesce(g.examples, [])) + $dangling.examples)[..5] AS e{i}",
    "prediction with an ambiguous model": "RETURN x.count AS c{i}, x.candidates AS e{i}",
}

# One CALL per gap, each aggregating to exactly one row (a UNION ALL of
# aggregations dropped empty branches on Neo4j 5.26), then one row per gap.
LINEAGE_GAPS = "\n".join(
    f"CALL {{ {match} " + _AGGREGATE.get(gap, "RETURN count(x) AS c{i}, collect(x.uid)[..5] AS e{i}").format(i=i) + " }"
    for i, (gap, match, _) in enumerate(_GAPS)
) + "\nUNWIND [" + ",\n  ".join(
    f"{{gap: '{gap}', count: c{i}, examples: e{i}, hint: {hint if hint.startswith('$') else repr(hint)}}}"
    for i, (gap, _, hint) in enumerate(_GAPS)
) + "] AS row\nRETURN row.gap AS gap, row.count AS count, row.examples AS examples, row.hint AS hint"
