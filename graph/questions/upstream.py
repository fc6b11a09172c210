"""The Cypher texts of the question catalog: provenance, training data,
reproduction, data origin, diffs and model chains (upstream questions).

Each text is ONE read-only statement with ``$params`` only (never values
spliced in). The few Python helpers below only assemble fixed fragments.
Downstream (impact) questions live in :mod:`provex.graph.questions.impact`.
"""

from __future__ import annotations

from provex.graph.refs import ts

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


# A prediction's model: a registry version, or (resolved by evidence, without a
# registry) a logged model, a model artifact or the training run itself. Its
# training run is the run that generated it, or itself when it is a run.
def trained_by(m: str, r: str) -> str:
    """Cypher pattern: model ``m`` (any of those) and its training run ``r``."""
    return f"({m})-[:WAS_GENERATED_BY*0..1]->({r}:Run)"


# The prediction and its chain come from the store (``$chain``: graph.facts.param
# maps, each with its ``hop``); the graph supplies everything about its models.
PREDICTION_PROVENANCE = f"""
UNWIND $chain AS p
WITH p WHERE p.hop > 0 OR p.uid = $prediction
OPTIONAL MATCH (m:Node {{uid: p.model_version}})
CALL {{
  WITH p
  WITH p, ['output', 'original_output', 'timestamp', 'subject_id', 'household_id', 'feature_pipeline', 'resolved'] AS ks
  UNWIND range(0, size(ks) - 1) AS n
  WITH p, ks[n] AS k, n WHERE p[k] IS NOT NULL
  RETURN 1 + n / 1000.0 AS ord, 'prediction' AS aspect, k AS key, p[k] AS value, p.uid AS ref
  UNION ALL WITH p
  UNWIND range(0, size(p.inputs) - 1) AS n
  RETURN 2 + n / 1000000.0 AS ord, 'input' AS aspect, p.inputs[n].key AS key, p.inputs[n].value AS value, null AS ref
  UNION ALL WITH p
  WITH p WHERE p.override IS NOT NULL
  RETURN 3 AS ord, 'override' AS aspect, p.override.rule AS key,
         toStringOrNull(p.override.original) + ' -> ' + toStringOrNull(p.override.final) AS value, p.override.uid AS ref
  UNION ALL WITH p
  WITH p WHERE p.resolved_by IS NOT NULL AND p.resolved_by <> 'logged'
  RETURN 4 AS ord, 'model resolved by' AS aspect, p.resolved_by AS key,
         'logged ' + coalesce(p.model_ref, '?') + coalesce(': ' + p.evidence, '')
         + coalesce(' (confidence ' + toStringOrNull(p.confidence) + ')', '') AS value, p.model_version AS ref
  UNION ALL WITH m
  WITH m WHERE m IS NOT NULL
  RETURN 5 AS ord, 'model version' AS aspect, {label('m')} AS key, {display('m')} AS value, m.uid AS ref
  UNION ALL WITH m
  MATCH {trained_by('m', 'r')}
  RETURN 6 AS ord, 'training run' AS aspect, coalesce(r.kind, 'run') AS key, coalesce(r.run_id, r.name, r.uid) AS value, r.uid AS ref
  UNION ALL WITH m
  MATCH {trained_by('m', 'r')}
  UNWIND [k IN keys(r) WHERE k STARTS WITH 'param.'] AS k
  RETURN 7 AS ord, 'param' AS aspect, substring(k, 6) AS key, r[k] AS value, r.uid AS ref
  UNION ALL WITH m
  MATCH {trained_by('m', 'r')}-[:USED]->(d:DataVersion)
  RETURN 8 AS ord, 'training data' AS aspect, d.path AS key, coalesce(d.hash_kind, 'hash') + ':' + d.hash AS value, d.uid AS ref
  UNION ALL WITH m
  MATCH {trained_by('m', 'r')}-[:USED]->(:DataVersion)-[s:SAME_AS]-(t:DataVersion)
  RETURN 9 AS ord, 'training data (same as)' AS aspect, t.path AS key, coalesce(t.hash_kind, 'hash') + ':' + t.hash AS value, t.uid AS ref
  UNION ALL WITH m
  MATCH {trained_by('m', 'r')}-[:USED]->(c:CodeVersion)
  RETURN 10 AS ord, 'code commit' AS aspect, c.sha AS key, c.message AS value, c.uid AS ref
  UNION ALL WITH m
  MATCH {trained_by('m', 'r')}
  WHERE r.git_commit IS NOT NULL AND NOT EXISTS {{ (r)-[:USED]->(:CodeVersion {{sha: r.git_commit}}) }}
  RETURN 11 AS ord, 'code commit' AS aspect, r.git_commit AS key, 'from the run tags' AS value, null AS ref
  UNION ALL WITH m
  MATCH (m)-[:USED|WAS_GENERATED_BY*1..2]->(:Environment)-[:REQUIRES]->(l:Library)
  RETURN DISTINCT 12 AS ord, 'library' AS aspect, l.name AS key, l.version AS value, l.uid AS ref
}}
RETURN p.uid AS prediction, p.hop AS hop, aspect, key, value, ref
ORDER BY hop, prediction, ord, key, ref
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

# ---- reproduce: a minimal recipe that runs -----------------------------------
# The run to rebuild (t0) is the DVC stage run linked to the training run
# (graph.linking), else the training run itself. The plan: every run upstream
# of t0 through data (never later than t0, same project), one per stage (the
# latest, as its lock entry at t0's commit says). True inputs: DVC-tracked deps
# of the plan that no planned stage makes; files in git come with the checkout.
_RUN_OK = (f"(n:Run AND (t0.project IS NULL OR n.project = t0.project) AND "
           f"coalesce({ts('n.start_time')} <= {ts('t0.start_time')}, true))")
_PLAN = f"""
CALL {{
  WITH t0
  OPTIONAL MATCH p = (t0)-[:USED|WAS_GENERATED_BY|WAS_DERIVED_FROM|SAME_AS*0..16]->(x:Run)
  WHERE all(n IN nodes(p) WHERE n:DataVersion OR {_RUN_OK})
  WITH x, max(size([n IN nodes(p) WHERE n:Run])) AS depth WHERE x IS NOT NULL
  OPTIONAL MATCH (x)-[:INSTANCE_OF]->(st:Stage)
  WITH coalesce(st.uid, x.stage, x.name, x.uid) AS key, x, depth ORDER BY {ts('x.start_time')} DESC
  WITH key, collect(x)[0] AS run, max(depth) AS depth
  RETURN collect({{run: run, depth: depth}}) AS plan
}}
WITH mv, r, t0, plan, [s IN plan | s.run] AS runs
CALL {{
  WITH runs
  UNWIND runs AS run
  OPTIONAL MATCH (o:DataVersion)-[:WAS_GENERATED_BY]->(run)
  RETURN [pth IN collect(DISTINCT o.path) WHERE pth IS NOT NULL] AS made
}}
"""
_FINAL_COMMAND = ("CASE WHEN t0.kind = 'dvc-stage' THEN 'dvc repro --single-item --force ' + coalesce(t0.name, t0.stage) "
                  "WHEN t0.cmd IS NOT NULL THEN t0.cmd WHEN t0.source_name ENDS WITH '.py' THEN 'python ' + t0.source_name "
                  "ELSE '# run the training entry point of run ' + coalesce(t0.run_id, t0.uid) + ' with the params above' END")
_RECIPE_STEPS = f"""
CALL {{
  WITH r, t0
  WITH coalesce(t0.commit, [(t0)-[:USED]->(c:CodeVersion) | c.sha][0], r.git_commit,
                [(r)-[:USED]->(c:CodeVersion) | c.sha][0]) AS sha WHERE sha IS NOT NULL
  RETURN 1 AS step, 'code' AS kind, sha AS item, 'git checkout ' + sha AS command, 0 AS seq
  UNION ALL WITH mv
  MATCH (mv)-[:USED|WAS_GENERATED_BY*1..2]->(:Environment)-[:REQUIRES]->(l:Library)
  WITH DISTINCT l
  RETURN 2 AS step, 'library' AS kind, l.name + '==' + l.version AS item,
         'pip install ' + l.name + '==' + l.version AS command, 0 AS seq
  UNION ALL WITH runs, made
  UNWIND runs AS run
  MATCH (run)-[:USED]->(d:DataVersion)
  WHERE coalesce(d.hash_kind, 'md5') STARTS WITH 'md5' AND (d.cache = true OR d.origin STARTS WITH 'dvc-')
    AND NOT any(pth IN made WHERE d.path = pth OR d.path STARTS WITH pth + '/' OR pth STARTS WITH d.path + '/')
  WITH DISTINCT d
  RETURN 3 AS step, 'data' AS kind, d.path + ' md5 ' + d.hash AS item,
         'dvc pull ' + d.path + '  # expect md5 ' + d.hash AS command, 0 AS seq
  UNION ALL WITH plan, t0
  UNWIND plan AS s
  WITH s WHERE s.run <> t0
  RETURN 4 AS step, 'stage' AS kind, coalesce(s.run.name, s.run.stage, s.run.uid) AS item,
         CASE WHEN s.run.kind = 'dvc-stage' THEN 'dvc repro --single-item --force ' + coalesce(s.run.name, s.run.stage)
              ELSE coalesce(s.run.cmd, '# run ' + coalesce(s.run.name, s.run.uid)) END AS command, -s.depth AS seq
  UNION ALL WITH r, t0
  WITH coalesce(r, t0) AS pr WHERE pr IS NOT NULL
  UNWIND [k IN keys(pr) WHERE k STARTS WITH 'param.'] AS k
  RETURN 5 AS step, 'param' AS kind, substring(k, 6) AS item, substring(k, 6) + '=' + {text('pr[k]')} AS command, 0 AS seq
  UNION ALL WITH mv, t0
  WITH mv, t0 WHERE t0 IS NOT NULL
  RETURN CASE WHEN mv IS NULL THEN 4 ELSE 6 END AS step, CASE WHEN mv IS NULL THEN 'stage' ELSE 'train' END AS kind,
         coalesce(t0.name, t0.stage, t0.run_id) + coalesce(' @ ' + left(t0.commit, 10), '') AS item,
         {_FINAL_COMMAND} AS command, 0 AS seq
  UNION ALL WITH r, t0
  UNWIND [x IN [r, t0] WHERE x IS NOT NULL] AS x
  UNWIND [k IN keys(x) WHERE k STARTS WITH 'metric.'] AS k
  WITH DISTINCT substring(k, 7) AS name, x[k] AS value
  RETURN 7 AS step, 'check' AS kind, name AS item, 'expect ' + name + ' = ' + {text('value')} AS command, 0 AS seq
  UNION ALL WITH runs
  UNWIND runs AS run
  MATCH (o:DataVersion)-[:WAS_GENERATED_BY]->(run)
  WITH DISTINCT o
  RETURN 7 AS step, 'check' AS kind, o.path AS item,
         'expect ' + o.path + ' ' + coalesce(o.hash_kind, 'md5') + ' ' + o.hash AS command, 0 AS seq
}}
RETURN step, kind, item, command
ORDER BY step, seq, item
"""


def reproduce(start: str) -> str:
    """The recipe query after ``start``, a fragment binding ``mv`` (the model
    version or null), ``r`` (its training run or null) and ``t0`` (the run to rebuild)."""
    return start + _PLAN + _RECIPE_STEPS


REPRODUCE_MODEL = reproduce("""
MATCH (mv:ModelVersion {uid: $model_version})
OPTIONAL MATCH (mv)-[:WAS_GENERATED_BY]->(r:Run)
OPTIONAL MATCH (r)-[:SAME_AS]-(dvc:Run {kind: 'dvc-stage'})
WITH mv, r, dvc ORDER BY dvc.start_time
WITH mv, r, collect(dvc)[0] AS dvc
WITH mv, r, coalesce(dvc, r) AS t0
""")

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

MODELS_IN_CHAIN = f"""
UNWIND $chain AS p
WITH p WHERE p.hop > 0 OR p.uid = $prediction
OPTIONAL MATCH (m:Node {{uid: p.model_version}})
RETURN p.hop AS hop, p.uid AS prediction,
       CASE WHEN m:ModelVersion OR m IS NULL THEN coalesce(m.name, p.model_name) ELSE {display('m')} END AS model,
       coalesce(m.version, p.logged_version) AS version, m.uid AS model_version,
       coalesce(m.placeholder, m IS NULL) AS unresolved, p.output AS output, p.override.rule AS override
ORDER BY hop, prediction, model_version
"""
