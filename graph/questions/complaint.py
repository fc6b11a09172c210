"""The Cypher texts of the complaint questions: a subject's (or household's)
prediction history, two predictions side by side, and what changed in the
model version behind a prediction against the last known good one.

Each text is ONE read-only statement with ``$params`` only. The model
version diffs reuse the facts of ``diff-model-versions``
(:data:`provex.graph.questions.upstream.DIFF_FACTS`), keep only what
differs, and list the data versions that only one side used first.
"""

from __future__ import annotations

from provex.graph.questions.upstream import DIFF_FACTS, UPSTREAM_DATA, join
from provex.graph.refs import ts

# The commit that first recorded a raw data version (no producing run): "added by".
_ADDED_BY = f"""
  UNION ALL WITH mv
  MATCH (mv)-[:WAS_GENERATED_BY]->(:Run)-[:USED]->(d0:DataVersion)
  MATCH path = {UPSTREAM_DATA}
  WHERE d:DataVersion AND d.commit IS NOT NULL AND NOT EXISTS {{ (d)-[:WAS_GENERATED_BY]->() }}
  OPTIONAL MATCH (c:CodeVersion {{sha: d.commit}})
  RETURN DISTINCT 'data added by' AS aspect, d.path AS key, left(d.commit, 10) + coalesce(' ' + c.message, '') AS value
"""


def _num(expr: str) -> str:
    return f"(valueType({expr}) STARTS WITH 'INTEGER' OR valueType({expr}) STARTS WITH 'FLOAT')"


# Upstream facts of model versions ``ma`` and ``mb`` (same model), only those
# that differ; data used by one side only first (ord 10), then who added it.
PAIR_DIFF = f"""
  WITH ma, mb
  UNWIND [ma, mb] AS mv
  CALL {{ {DIFF_FACTS}{_ADDED_BY} }}
  WITH ma, mb, mv, aspect, key, value ORDER BY value
  WITH ma, mb, aspect, key, collect(DISTINCT CASE WHEN mv = ma THEN value END) AS av,
       collect(DISTINCT CASE WHEN mv = mb THEN value END) AS bv
  WITH ma, mb, aspect, key, {join('av')} AS a, {join('bv')} AS b
  WHERE coalesce(a, '') <> coalesce(b, '') AND NOT aspect IN ['model', 'run', 'metric']
  RETURN CASE WHEN aspect = 'data' AND (a IS NULL OR b IS NULL) THEN 10 WHEN aspect = 'data added by' THEN 11
              WHEN aspect = 'data' THEN 12 WHEN aspect = 'code' THEN 13 WHEN aspect = 'stage' THEN 14
              WHEN aspect = 'param' THEN 15 ELSE 16 END AS ord,
         aspect + ' (' + ma.name + ')' AS aspect, key, a, b
"""

def _override_text(var: str) -> str:
    """Cypher: a prediction map's override as ``rule: original -> final`` (null without one)."""
    return (f"CASE WHEN {var}.override IS NULL THEN null ELSE {var}.override.rule + ': ' "
            f"+ toStringOrNull({var}.override.original) + ' -> ' + toStringOrNull({var}.override.final) END")


# The predictions come from the store (``$history``: graph.facts.param maps, each
# with ``upstream_models``: the versions behind the predictions it used).
SUBJECT_HISTORY = f"""
UNWIND $history AS p
WITH p, {ts('p.timestamp')} AS at
WHERE (p.subject_id = $subject OR p.household_id = $subject)
  AND ($since IS NULL OR at >= datetime($since)) AND ($until IS NULL OR at < datetime($until))
OPTIONAL MATCH (mv:Node {{uid: p.model_version}})
RETURN p.timestamp AS timestamp, p.uid AS prediction, p.subject_id AS subject_id, p.household_id AS household_id,
       coalesce(mv.name, p.model_name, mv.path) AS model, mv.uid AS model_version, p.output AS output,
       {_override_text('p')} AS override, {join('p.upstream')} AS upstream,
       {join('p.upstream_models')} AS upstream_model_version
ORDER BY timestamp, prediction
"""

# Each side's chain (``$ca``, ``$cb``: the prediction and the upstream ones it
# used, from the store) with the model behind each (a registry version, or a
# run or model artifact the resolver found); the upstream diff pairs registry
# versions of one model.
_CHAIN_MODELS = ("COLLECT {{ UNWIND ${c} AS x MATCH (m:Node {{uid: x.model_version}}) "
                 "RETURN [coalesce(m.name, m.path, 'model'), x.uid, m.uid, x.output] }}")

COMPARE_PREDICTIONS = f"""
WITH $pa AS pa, $pb AS pb
WHERE pa.uid = $a AND pb.uid = $b
CALL {{
  WITH pa, pb
  UNWIND ['timestamp', 'subject_id', 'household_id'] AS k
  WITH pa, pb, k WHERE pa[k] IS NOT NULL OR pb[k] IS NOT NULL
  RETURN 0 AS ord, 'prediction' AS aspect, k AS key, pa[k] AS a, pb[k] AS b
  UNION ALL WITH pa, pb
  RETURN 1 AS ord, 'output' AS aspect, 'output' AS key, pa.output AS a, pb.output AS b
  UNION ALL WITH pa, pb
  UNWIND [i IN pa.inputs | i.key] + [i IN pb.inputs WHERE NOT i.key IN [j IN pa.inputs | j.key] | i.key] AS k
  RETURN 2 AS ord, 'input' AS aspect, k AS key, [i IN pa.inputs WHERE i.key = k | i.value][0] AS a,
         [i IN pb.inputs WHERE i.key = k | i.value][0] AS b
  UNION ALL WITH pa, pb
  RETURN 3 AS ord, 'override' AS aspect, 'override' AS key, {_override_text('pa')} AS a, {_override_text('pb')} AS b
  UNION ALL WITH pa, pb
  WITH pa, pb, {_CHAIN_MODELS.format(c='ca')} AS ca, {_CHAIN_MODELS.format(c='cb')} AS cb
  UNWIND [n IN reduce(s = [], r IN ca + cb | CASE WHEN r[0] IN s THEN s ELSE s + [r[0]] END)] AS name
  WITH pa, pb, name, [r IN ca WHERE r[0] = name][0] AS ra, [r IN cb WHERE r[0] = name][0] AS rb
  UNWIND [[4, 'model version', ra[2], rb[2]], [5, 'upstream prediction', ra[1], rb[1]],
          [6, 'upstream output', ra[3], rb[3]]] AS row
  WITH pa, pb, name, row WHERE row[0] = 4 OR NOT (row[0] IN [5, 6] AND (coalesce(ra[1], '') = pa.uid
                                                                     OR coalesce(rb[1], '') = pb.uid))
  RETURN row[0] AS ord, row[1] AS aspect, name AS key, row[2] AS a, row[3] AS b
  UNION ALL WITH pa, pb
  UNWIND $ca AS xa
  MATCH (ma:ModelVersion {{uid: xa.model_version}})
  UNWIND $cb AS xb
  MATCH (mb:ModelVersion {{uid: xb.model_version}})
  WITH ma, mb WHERE ma.name = mb.name AND ma <> mb
  WITH DISTINCT ma, mb
  {PAIR_DIFF}
}}
WITH ord, aspect, key, a, b,
     CASE WHEN {_num('a')} AND {_num('b')} AND a <> 0 THEN toFloat(b) / a END AS ratio
RETURN aspect, key, a, b, round(ratio, 4) AS ratio, round(ratio - 1, 4) AS change,
       coalesce(toString(a), '') <> coalesce(toString(b), '') AS differs
ORDER BY ord, aspect, key
"""

# The version serving before the prediction's own under the same alias (the
# last known good); without alias history, the previous version number.
WHAT_CHANGED = f"""
WITH $fact AS p WHERE p.uid = $prediction
MATCH (mb:ModelVersion {{uid: p.model_version}})
OPTIONAL MATCH (m:Model)-[cur:HAS_ALIAS]->(mb)
WHERE {ts('cur.valid_from')} <= {ts('p.timestamp')}
  AND (cur.valid_to IS NULL OR {ts('p.timestamp')} < {ts('cur.valid_to')})
WITH p, mb, m, cur ORDER BY cur.valid_from DESC
WITH p, mb, collect([m, cur])[0] AS held
WITH p, mb, held[0] AS m, held[1] AS cur
OPTIONAL MATCH (m)-[prev:HAS_ALIAS]->(before:ModelVersion)
WHERE prev.alias = cur.alias AND before <> mb AND {ts('prev.valid_from')} < {ts('cur.valid_from')}
WITH p, mb, cur, prev, before ORDER BY prev.valid_from DESC
WITH p, mb, cur, collect(CASE WHEN before IS NULL THEN null ELSE [prev, before] END)[0] AS last
OPTIONAL MATCH (older:ModelVersion {{name: mb.name}})
WHERE last IS NULL AND toIntegerOrNull(older.version) < toIntegerOrNull(mb.version)
WITH p, mb, cur, last, older ORDER BY toIntegerOrNull(older.version) DESC
WITH p, mb, cur, last, collect(older)[0] AS older
WITH p, mb, cur, last[0] AS prev, coalesce(last[1], older) AS ma
CALL {{
  WITH p, mb, cur, prev, ma
  RETURN 0 AS ord, 'model version' AS aspect, mb.name AS key, ma.uid AS a, mb.uid AS b
  UNION ALL WITH p, mb, cur, prev, ma
  RETURN 1 AS ord, 'basis' AS aspect, 'last known good' AS key,
         CASE WHEN prev IS NOT NULL THEN 'served before it under alias ' + cur.alias
              WHEN ma IS NOT NULL THEN 'previous version number (no alias history at the prediction time)'
              ELSE 'no earlier version known' END AS a,
         'made ' + p.uid + coalesce(' at ' + toStringOrNull(p.timestamp), '') AS b
  UNION ALL WITH p, mb, cur, prev, ma
  WITH cur, prev WHERE cur IS NOT NULL
  UNWIND [['served from', prev.valid_from, cur.valid_from], ['served until', prev.valid_to, cur.valid_to]] AS row
  RETURN 2 AS ord, 'serving (' + cur.alias + ')' AS aspect, row[0] AS key, toStringOrNull(row[1]) AS a,
         toStringOrNull(row[2]) AS b
  UNION ALL WITH p, mb, cur, prev, ma
  WITH ma, mb WHERE ma IS NOT NULL
  {PAIR_DIFF}
}}
RETURN aspect, key, a AS before, b AS after
ORDER BY ord, aspect, key
"""

# The causes come from provex.graph.explain (stored.explained), ranked.
EXPLAIN = """
UNWIND $causes AS c
WITH c WHERE $prediction IS NOT NULL AND coalesce($against, '') <> $prediction
RETURN c.rank AS rank, c.kind AS kind, c.cause AS cause, c.share AS share, c.basis AS basis, c.origin AS origin,
       c.reach AS reach, c.action AS action
ORDER BY rank
"""
