"""The Cypher texts of the question catalog: provenance, training data,
reproduction, data origin, diffs and model chains (upstream questions).

Each text is ONE read-only statement with ``$params`` only (never values
spliced in). The few Python helpers below only assemble fixed fragments.
Downstream (impact) questions live in :mod:`provex.graph.questions.impact`.
"""

from __future__ import annotations

# Upstream data closure of a data version: its SAME_AS twin, then through the
# runs that generated it to the data they used, at most 8 hops.
UPSTREAM_DATA = "(d0)-[:SAME_AS*0..1]-(:DataVersion)-[:WAS_GENERATED_BY|USED|WAS_DERIVED_FROM*0..8]->(d)"
# A model version's training run, or the DVC stage run that run is linked to
# (graph.linking: an MLflow run SAME_AS the DVC run that executed it): both
# runs' inputs are training data. From the linked run's deps, no SAME_AS hop
# (it would reach other MLflow runs' twins of the same DVC version).
TRAINED_BY = "(mv)-[:WAS_GENERATED_BY]->(r0:Run)-[:SAME_AS*0..1]->(tr:Run)"
NO_TWIN_HOP = "(tr = r0 OR length(path) = 0 OR type(relationships(path)[0]) <> 'SAME_AS')"


def join(expr: str) -> str:
    """Cypher: a list of values as one ``a, b`` text (null for an empty list)."""
    return (f"CASE WHEN size({expr}) = 0 THEN null ELSE "
            f"reduce(s = '', x IN {expr} | s + CASE WHEN s = '' THEN '' ELSE ', ' END + toStringOrNull(x)) END")


def text(expr: str) -> str:
    """Cypher: a property value as text; a list as ``[a, b]`` (toString gives null for lists)."""
    return (f"CASE WHEN valueType({expr}) STARTS WITH 'LIST' THEN '[' + coalesce({join(expr)}, '') + ']' "
            f"ELSE toStringOrNull({expr}) END")


def display(var: str) -> str:
    """Cypher: a short human name for node ``var``."""
    return (f"CASE WHEN {var}:ModelVersion THEN {var}.name + ' v' + toStringOrNull({var}.version) "
            f"WHEN {var}:DataVersion THEN {var}.path + '@' + left(coalesce({var}.hash, ''), 8) "
            f"WHEN {var}:CodeVersion THEN left({var}.sha, 10) "
            f"ELSE coalesce({var}.name, {var}.prediction_id, {var}.run_id, {var}.stage, {var}.uid) END")


def label(var: str) -> str:
    return f"[l IN labels({var}) WHERE l <> 'Node'][0]"


PREDICTION_PROVENANCE = f"""
MATCH (p0:Prediction {{uid: $prediction}})
MATCH chain = (p0)-[:USED*0..5]->(p:Prediction)
WITH p, min(length(chain)) AS hop
CALL {{
  WITH p
  UNWIND ['output', 'original_output', 'timestamp', 'subject_id', 'household_id', 'feature_pipeline', 'resolved'] AS k
  WITH p, k WHERE p[k] IS NOT NULL
  RETURN 'prediction' AS aspect, k AS key, p[k] AS value, p.uid AS ref
  UNION ALL WITH p
  UNWIND [k IN keys(p) WHERE k STARTS WITH 'input.'] AS k
  RETURN 'input' AS aspect, substring(k, 6) AS key, p[k] AS value, null AS ref
  UNION ALL WITH p
  MATCH (p)-[:OVERRIDDEN_BY]->(o)
  RETURN 'override' AS aspect, o.rule AS key,
         toStringOrNull(o.original_output) + ' -> ' + toStringOrNull(o.final_output) AS value, o.uid AS ref
  UNION ALL WITH p
  MATCH (p)-[:PREDICTED_BY]->(m)
  RETURN 'model version' AS aspect, {label('m')} AS key, {display('m')} AS value, m.uid AS ref
  UNION ALL WITH p
  MATCH (p)-[:PREDICTED_BY]->(:ModelVersion)-[:WAS_GENERATED_BY]->(r:Run)
  RETURN 'training run' AS aspect, coalesce(r.kind, 'run') AS key, coalesce(r.run_id, r.name, r.uid) AS value, r.uid AS ref
  UNION ALL WITH p
  MATCH (p)-[:PREDICTED_BY]->(:ModelVersion)-[:WAS_GENERATED_BY]->(r:Run)
  UNWIND [k IN keys(r) WHERE k STARTS WITH 'param.'] AS k
  RETURN 'param' AS aspect, substring(k, 6) AS key, r[k] AS value, r.uid AS ref
  UNION ALL WITH p
  MATCH (p)-[:PREDICTED_BY]->(:ModelVersion)-[:WAS_GENERATED_BY]->(:Run)-[:USED]->(d:DataVersion)
  RETURN 'training data' AS aspect, d.path AS key, coalesce(d.hash_kind, 'hash') + ':' + d.hash AS value, d.uid AS ref
  UNION ALL WITH p
  MATCH (p)-[:PREDICTED_BY]->(:ModelVersion)-[:WAS_GENERATED_BY]->(:Run)-[:USED]->(:DataVersion)-[s:SAME_AS]-(t:DataVersion)
  RETURN 'training data (same as)' AS aspect, t.path AS key, coalesce(t.hash_kind, 'hash') + ':' + t.hash AS value, t.uid AS ref
  UNION ALL WITH p
  MATCH (p)-[:PREDICTED_BY]->(:ModelVersion)-[:WAS_GENERATED_BY]->(:Run)-[:USED]->(c:CodeVersion)
  RETURN 'code commit' AS aspect, c.sha AS key, c.message AS value, c.uid AS ref
  UNION ALL WITH p
  MATCH (p)-[:PREDICTED_BY]->(:ModelVersion)-[:WAS_GENERATED_BY]->(r:Run)
  WHERE r.git_commit IS NOT NULL AND NOT EXISTS {{ (r)-[:USED]->(:CodeVersion {{sha: r.git_commit}}) }}
  RETURN 'code commit' AS aspect, r.git_commit AS key, 'from the run tags' AS value, null AS ref
  UNION ALL WITH p
  MATCH (p)-[:PREDICTED_BY]->(:ModelVersion)-[:USED|WAS_GENERATED_BY*1..2]->(:Environment)-[:REQUIRES]->(l:Library)
  RETURN DISTINCT 'library' AS aspect, l.name AS key, l.version AS value, l.uid AS ref
}}
RETURN p.uid AS prediction, hop, aspect, key, value, ref
"""

MODEL_TRAINING_DATA = f"""
MATCH (mv:ModelVersion {{uid: $model_version}})
MATCH {TRAINED_BY}-[:USED]->(d0:DataVersion)
MATCH path = {UPSTREAM_DATA}
WHERE d:DataVersion AND {NO_TWIN_HOP}
WITH d, size([n IN nodes(path) WHERE n:Run]) AS depth,
     CASE WHEN size([n IN nodes(path) WHERE n:Run]) > 0 THEN [3, 'upstream, through stages']
          WHEN tr <> r0 THEN [2, 'dep of the linked DVC stage run ' + coalesce(tr.stage, tr.name, tr.uid)]
          WHEN length(path) = 0 THEN [0, 'used by the training run']
          ELSE [1, 'same as ' + d0.path] END AS via
ORDER BY depth, via[0]
WITH d, min(depth) AS depth, collect(via[1])[0] AS via
OPTIONAL MATCH (d)-[:WAS_GENERATED_BY]->(pr:Run)
OPTIONAL MATCH (pr)-[:INSTANCE_OF]->(st:Stage)
OPTIONAL MATCH (pr)-[:USED]->(c:CodeVersion)
WITH d, depth, via, collect(DISTINCT coalesce(st.name, pr.stage)) AS stages,
     collect(DISTINCT coalesce(c.sha, pr.commit)) AS commits, collect(DISTINCT pr.uid) AS runs
RETURN depth, d.path AS path, d.hash AS hash, d.hash_kind AS hash_kind, d.uid AS data_version, via,
       {join('stages')} AS stage, {join('commits')} AS commit, {join('runs')} AS producer_run
ORDER BY depth, path, hash
"""

REPRODUCE_MODEL = f"""
MATCH (mv:ModelVersion {{uid: $model_version}})
OPTIONAL MATCH (mv)-[:WAS_GENERATED_BY]->(r:Run)
OPTIONAL MATCH (r)-[:SAME_AS]->(dvc:Run {{kind: 'dvc-stage'}})
OPTIONAL MATCH (dvc)-[:INSTANCE_OF]->(dst:Stage)
WITH mv, r, [l IN collect(DISTINCT [dvc, coalesce(dst.address, dvc.stage, dvc.name)]) WHERE l[0] IS NOT NULL] AS linked
CALL {{
  WITH mv, r
  OPTIONAL MATCH (r)-[:USED]->(c:CodeVersion)
  WITH DISTINCT coalesce(c.sha, r.git_commit) AS sha WHERE sha IS NOT NULL
  RETURN 1 AS step, 'code' AS kind, sha AS item, 'git checkout ' + sha AS command, 0 AS seq
  UNION ALL WITH mv, r
  MATCH (mv)-[:USED|WAS_GENERATED_BY*1..2]->(:Environment)-[:REQUIRES]->(l:Library)
  WITH DISTINCT l
  RETURN 2 AS step, 'library' AS kind, l.name + '==' + l.version AS item,
         'pip install ' + l.name + '==' + l.version AS command, 0 AS seq
  UNION ALL WITH mv, r
  MATCH {TRAINED_BY}-[:USED]->(d0:DataVersion)
  MATCH path = {UPSTREAM_DATA}
  WHERE d:DataVersion AND {NO_TWIN_HOP} AND coalesce(d.hash_kind, 'md5') = 'md5'
  WITH d, max(size([n IN nodes(path) WHERE n:Run])) AS depth
  WITH d, depth, EXISTS {{ (d)-[:WAS_GENERATED_BY|WAS_DERIVED_FROM]->() }} OR d.origin STARTS WITH 'dvc-' AS in_dvc_cache
  RETURN 3 AS step, 'data' AS kind, d.path + ' md5 ' + d.hash AS item,
         CASE WHEN in_dvc_cache THEN 'dvc pull ' + d.path ELSE '# ' + d.path + ' comes with the git checkout' END
         + '  # expect md5 ' + d.hash AS command, -depth AS seq
  UNION ALL WITH mv, r
  MATCH {TRAINED_BY}-[:USED]->(d0:DataVersion)
  MATCH path = {UPSTREAM_DATA}
  MATCH (d)-[:WAS_GENERATED_BY]->(pr:Run) WHERE {NO_TWIN_HOP}
  OPTIONAL MATCH (pr)-[:INSTANCE_OF]->(st:Stage)
  WITH pr, coalesce(st.name, pr.stage, pr.name) AS stage, max(size([n IN nodes(path) WHERE n:Run])) AS depth
  RETURN 4 AS step, 'stage' AS kind, stage + coalesce(' @ ' + left(pr.commit, 10), '') AS item,
         coalesce(pr.cmd, 'dvc repro ' + stage) AS command, -depth AS seq
  UNION ALL WITH mv, r
  UNWIND [k IN keys(r) WHERE k STARTS WITH 'param.'] AS k
  RETURN 5 AS step, 'param' AS kind, substring(k, 6) AS item, substring(k, 6) + '=' + toStringOrNull(r[k]) AS command, 0 AS seq
  UNION ALL WITH mv, r, linked
  UNWIND linked AS l
  WITH l[0] AS dvc, l[1] AS stage
  RETURN 6 AS step, 'train' AS kind, stage + coalesce(' @ ' + left(dvc.commit, 10), '') AS item,
         'dvc repro ' + stage + coalesce('  # runs: ' + dvc.cmd, '') AS command, 0 AS seq
  UNION ALL WITH mv, r, linked
  WITH mv, r WHERE r IS NOT NULL AND (r.cmd IS NOT NULL OR size(linked) = 0)
  RETURN 6 AS step, 'train' AS kind, coalesce(r.run_id, r.uid) AS item,
         coalesce(r.cmd, 'run the training entry point of run ' + coalesce(r.run_id, r.uid) + ' with the params above') AS command, 0 AS seq
  UNION ALL WITH mv, r
  UNWIND [k IN keys(r) WHERE k STARTS WITH 'metric.'] AS k
  RETURN 7 AS step, 'check' AS kind, substring(k, 7) AS item,
         'expect ' + substring(k, 7) + ' = ' + toStringOrNull(r[k]) AS command, 0 AS seq
}}
RETURN step, kind, item, command
ORDER BY step, seq, item
"""

DATA_ORIGIN = f"""
MATCH (d0:DataVersion {{uid: $data_version}})
MATCH path = (d0)-[:SAME_AS*0..1]-(:DataVersion)-[:WAS_GENERATED_BY|USED|WAS_DERIVED_FROM*0..16]->(d)
WHERE d:DataVersion OR d:Dataset
WITH d, min(size([n IN nodes(path) WHERE n:Run])) AS depth
OPTIONAL MATCH (d)-[:WAS_GENERATED_BY]->(pr:Run)
OPTIONAL MATCH (pr)-[:INSTANCE_OF]->(st:Stage)
OPTIONAL MATCH (pr)-[:USED]->(c:CodeVersion)
OPTIONAL MATCH (c)-[:ASSOCIATED_WITH]->(ag:Agent)
WITH d, depth, collect(DISTINCT coalesce(st.name, pr.stage)) AS stages, collect(DISTINCT pr.cmd) AS cmds,
     collect(DISTINCT pr.kind) AS kinds, collect(DISTINCT coalesce(c.sha, pr.commit)) AS commits,
     collect(DISTINCT coalesce(ag.name, c.author)) AS authors, min(c.date) AS date, count(pr) AS producers
// No producer run: the commit that first recorded the data (e.g. `dvc add`), and its author.
OPTIONAL MATCH (added:CodeVersion {{sha: d.commit}}) WHERE producers = 0
OPTIONAL MATCH (added)-[:ASSOCIATED_WITH]->(adder:Agent)
WITH d, depth, stages, cmds, kinds, producers, commits, authors, date,
     collect(DISTINCT coalesce(adder.name, added.author)) AS adders, min(added.date) AS added_on
WITH d, depth, stages, cmds, kinds, producers,
     CASE WHEN producers = 0 AND d.commit IS NOT NULL THEN [d.commit] ELSE commits END AS commits,
     CASE WHEN producers = 0 THEN adders ELSE authors END AS authors,
     CASE WHEN producers = 0 THEN added_on ELSE date END AS date
WITH d, depth, stages, cmds, commits, authors, date, producers,
     size([x IN kinds + stages WHERE toLower(toString(x)) CONTAINS 'import']) > 0 AS imported,
     [(d)-[:SAME_AS]-(t:DataVersion) WHERE EXISTS {{ (t)-[:WAS_GENERATED_BY]->() }} | t.path][0] AS twin,
     [(d)-[e:WAS_DERIVED_FROM]->() | coalesce(e.method, 'derived')][0] AS derived
RETURN depth, d.path AS path, d.hash AS hash, d.uid AS data_version,
       CASE WHEN producers = 0 AND twin IS NOT NULL THEN 'same as ' + twin
            WHEN producers = 0 AND derived IS NOT NULL THEN 'derived (' + derived + ')'
            WHEN producers = 0 THEN 'raw (no producer recorded)'
            WHEN imported THEN 'import'
            ELSE 'produced' END AS origin,
       {join('stages')} AS stage, {join('cmds')} AS command, {join('commits')} AS commit,
       {join('authors')} AS author, date
ORDER BY depth, path, hash
"""

DIFF_FACTS = f"""
  WITH mv
  MATCH (mv)-[:WAS_GENERATED_BY]->(r:Run)
  RETURN 'run' AS aspect, 'run' AS key, coalesce(r.run_id, r.uid) AS value
  UNION ALL WITH mv
  UNWIND ['status', 'created_at', 'run_id'] AS k
  WITH mv, k WHERE mv[k] IS NOT NULL
  RETURN 'model' AS aspect, k AS key, toStringOrNull(mv[k]) AS value
  UNION ALL WITH mv
  MATCH (mv)-[:WAS_GENERATED_BY]->(r:Run)
  OPTIONAL MATCH (r)-[:USED]->(c:CodeVersion)
  WITH coalesce(c.sha, r.git_commit) AS sha WHERE sha IS NOT NULL
  RETURN 'code' AS aspect, 'commit' AS key, sha AS value
  UNION ALL WITH mv
  MATCH (mv)-[:WAS_GENERATED_BY]->(r:Run)
  UNWIND [k IN keys(r) WHERE k STARTS WITH 'param.' OR k STARTS WITH 'metric.'] AS k
  RETURN split(k, '.')[0] AS aspect, substring(k, size(split(k, '.')[0]) + 1) AS key, {text('r[k]')} AS value
  UNION ALL WITH mv
  MATCH (mv)-[:WAS_GENERATED_BY]->(:Run)-[:USED]->(d0:DataVersion)
  MATCH path = {UPSTREAM_DATA}
  WHERE d:DataVersion
  RETURN DISTINCT 'data' AS aspect, d.path + ' (' + coalesce(d.hash_kind, 'hash') + ')' AS key, d.hash AS value
  UNION ALL WITH mv
  MATCH (mv)-[:WAS_GENERATED_BY]->(:Run)-[:USED]->(d0:DataVersion)
  MATCH path = {UPSTREAM_DATA}
  MATCH (d)-[:WAS_GENERATED_BY]->(pr:Run) WHERE pr.cmd IS NOT NULL
  OPTIONAL MATCH (pr)-[:INSTANCE_OF]->(st:Stage)
  WITH DISTINCT pr, coalesce(st.name, pr.stage, pr.name) AS stage
  UNWIND [['command', pr.cmd]] + [k IN keys(pr) WHERE k STARTS WITH 'param.' | [k, pr[k]]] AS kv
  RETURN DISTINCT 'stage' AS aspect, stage + ' ' + kv[0] AS key, {text('kv[1]')} AS value
  UNION ALL WITH mv
  MATCH (mv)-[:USED|WAS_GENERATED_BY*1..2]->(:Environment)-[:REQUIRES]->(l:Library)
  RETURN DISTINCT 'library' AS aspect, l.name AS key, l.version AS value
  UNION ALL WITH mv
  MATCH (mv)-[:WAS_GENERATED_BY]->(:Run)-[:USED]->(d0:DataVersion)
  MATCH path = {UPSTREAM_DATA}
  WHERE d:DataVersion AND d.profile_status = 'profiled'
  WITH DISTINCT d
  UNWIND [['rows', d.profile_rows]] + [i IN range(0, size(d.profile_columns) - 1) WHERE NOT isNaN(d.profile_mean[i])
                                       | [d.profile_columns[i] + ' mean', d.profile_mean[i]]] AS kv
  RETURN DISTINCT 'data profile' AS aspect, d.path + ' ' + kv[0] AS key, toStringOrNull(kv[1]) AS value
"""

DIFF_MODEL_VERSIONS = f"""
UNWIND [$a, $b] AS side
MATCH (mv:ModelVersion {{uid: side}})
CALL {{ {DIFF_FACTS} }}
WITH aspect, key, side, value ORDER BY value
WITH aspect, key, collect(DISTINCT CASE WHEN side = $a THEN value END) AS av,
     collect(DISTINCT CASE WHEN side = $b THEN value END) AS bv
WITH aspect, key, {join('av')} AS a, {join('bv')} AS b
// Profiles (statistics of the upstream data) only where they differ.
WHERE aspect <> 'data profile' OR coalesce(a, '') <> coalesce(b, '')
RETURN aspect, key, a, b, coalesce(a, '') <> coalesce(b, '') AS differs
ORDER BY CASE aspect WHEN 'model' THEN 0 WHEN 'run' THEN 1 WHEN 'code' THEN 2 WHEN 'data' THEN 3
         WHEN 'data profile' THEN 4 WHEN 'stage' THEN 5 WHEN 'param' THEN 6 WHEN 'library' THEN 7 ELSE 8 END, key
"""

MODELS_IN_CHAIN = """
MATCH (p0:Prediction {uid: $prediction})
MATCH chain = (p0)-[:USED*0..5]->(p:Prediction)
WITH p, min(length(chain)) AS hop
OPTIONAL MATCH (p)-[:PREDICTED_BY]->(m)
OPTIONAL MATCH (p)-[:OVERRIDDEN_BY]->(o:Override)
WITH hop, p, m, collect(DISTINCT o.rule) AS rules
RETURN hop, p.uid AS prediction, m.name AS model, m.version AS version, m.uid AS model_version,
       coalesce(m.placeholder, m IS NULL) AS unresolved, p.output AS output,
       CASE WHEN size(rules) = 0 THEN null ELSE rules[0] END AS override
ORDER BY hop, prediction, model_version
"""
