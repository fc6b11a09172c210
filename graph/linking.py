"""Cross-tool links inferred by evidence after each ingest (MLflow <-> DVC).

MLflow's dataset digest never equals DVC's md5, so an MLflow DataVersion
(``hash_kind = "mlflow-digest"``) is linked to a DVC DataVersion
(``hash_kind = "md5"``, with the ``commit`` that locked it) by evidence, as a
``SAME_AS {method, confidence}`` edge from the MLflow node to the DVC node.
Nodes are never merged. Methods, strongest first:

- ``path+md5`` (1.0): same path (equal, or the MLflow path ends with
  ``/<dvc path>``) and the MLflow adapter's recomputed ``file_md5`` equals
  the DVC hash.
- ``path+commit`` (0.9): same path, and the DVC version was locked at the git
  commit the MLflow run recorded (``mlflow.source.git.commit``).
- ``path+nearest-commit`` (0.6): same path, no version at that commit: the
  latest DVC version locked at or before the run's commit time (the
  CodeVersion's time, else the run's start time).

Then an MLflow run is linked to the DVC stage run that executed it, as
``SAME_AS {method: 'commit+inputs', confidence}`` from the MLflow Run to the
DVC Run (see :data:`RUN_CANDIDATES`): the DVC run must be the one of its stage
that is current at the MLflow run's git commit (DVC writes a run only when the
lock entry changed, so: the stage's run at that commit, else its latest run at
or before it) and must USE the DVC twin of at least one of the MLflow run's
inputs. The best candidate shares the most inputs; among equals, one that is
downstream of another (``evaluate`` uses the model ``train`` made) is dropped;
if still not exactly one, nothing is linked. Confidence 0.8 when every input
of the MLflow run that has a DVC twin is a dep of that run, else 0.5.

The run's git commit itself needs no inference: both adapters build the same
CodeVersion uid. Every query is parameterised; candidates are read first and
written in batches with MERGE, so re-running creates nothing new.
"""

from __future__ import annotations

from datetime import UTC, datetime

from provex.graph.connection import Graph

BATCH = 1_000
METHODS = {"path+md5": 1.0, "path+commit": 0.9, "path+nearest-commit": 0.6}
#: MLflow run -> DVC stage run: every twinned input is a dep, or only some.
RUN_METHOD, RUN_FULL, RUN_PARTIAL = "commit+inputs", 0.8, 0.5

#: Same path, or the MLflow path ends with "/<dvc path>" (``right()``, not
#: ENDS WITH: Neo4j 5 may plan a suffix seek on a range index and fail).
_PATH_MATCH = "(d.path = m.path OR right(m.path, size(d.path) + 1) = '/' + d.path)"
#: A CodeVersion's time, whichever name the commit's adapter used.
_TIME = "coalesce({v}.committed_at, {v}.date, {v}.authored_at, {v}.time)"
_ISO = "'^\\\\d{4}-\\\\d{2}-\\\\d{2}T.*'"

MD5_CANDIDATES = f"""
MATCH (m:DataVersion {{hash_kind: 'mlflow-digest'}}) WHERE m.file_md5 IS NOT NULL
MATCH (d:DataVersion {{hash_kind: 'md5'}}) WHERE d.hash = m.file_md5 AND {_PATH_MATCH}
  AND NOT (m)-[:SAME_AS {{method: 'path+md5'}}]->(d)
RETURN DISTINCT m.uid AS src, d.uid AS dst, d.commit AS commit
"""

COMMIT_CANDIDATES = f"""
MATCH (r:Run)-[:USED]->(m:DataVersion {{hash_kind: 'mlflow-digest'}}) WHERE r.git_commit IS NOT NULL
MATCH (d:DataVersion {{hash_kind: 'md5'}})
WHERE {_PATH_MATCH} AND (d.commit = r.git_commit OR r.git_commit IN coalesce(d.commits, []))
  AND NOT (m)-[:SAME_AS]->(d)
  AND NOT (m)-[:SAME_AS {{method: 'path+md5'}}]->(:DataVersion)
RETURN DISTINCT m.uid AS src, d.uid AS dst, r.git_commit AS commit
"""

NEAREST_CANDIDATES = f"""
MATCH (r:Run)-[:USED]->(m:DataVersion {{hash_kind: 'mlflow-digest'}})
WHERE r.git_commit IS NOT NULL AND NOT (m)-[:SAME_AS]->(:DataVersion)
OPTIONAL MATCH (rc:CodeVersion {{sha: r.git_commit}})
WITH m, r, coalesce({_TIME.format(v='rc')}, r.start_time) AS t WHERE t =~ {_ISO}
MATCH (d:DataVersion {{hash_kind: 'md5'}}) WHERE {_PATH_MATCH} AND d.commit IS NOT NULL
MATCH (dc:CodeVersion {{sha: d.commit}})
WITH m, d, t, {_TIME.format(v='dc')} AS dt WHERE dt =~ {_ISO} AND datetime(dt) <= datetime(t)
WITH m, d, dt ORDER BY datetime(dt) DESC
WITH m, collect(d)[0] AS best
RETURN m.uid AS src, best.uid AS dst, best.commit AS commit
"""

WRITE = """
UNWIND $rows AS r
MATCH (m:DataVersion {uid: r.src}) MATCH (d:DataVersion {uid: r.dst})
MERGE (m)-[e:SAME_AS {method: r.method}]->(d)
ON CREATE SET e.confidence = r.confidence, e.commit = r.commit, e.first_seen = $now,
              e.sources = ['provex:linking'], e.inferred = true
SET e.last_seen = $now
"""

#: (MLflow run, DVC run) pairs: the DVC run uses a twin of one of the MLflow
#: run's inputs and is its stage's current run at the MLflow run's commit.
#: ``linked`` = the MLflow run's inputs that have a twin, ``shared`` = those
#: the DVC run uses.
RUN_CANDIDATES = f"""
MATCH (r:Run {{kind: 'mlflow-run'}})-[:USED]->(m:DataVersion)-[:SAME_AS]->(:DataVersion)
WHERE r.git_commit IS NOT NULL AND NOT EXISTS {{ (r)-[:SAME_AS {{method: '{RUN_METHOD}'}}]->(:Run) }}
WITH r, count(DISTINCT m) AS linked
OPTIONAL MATCH (rc:CodeVersion {{sha: r.git_commit}})
WITH r, linked, coalesce({_TIME.format(v='rc')}, r.start_time) AS t
WITH r, linked, CASE WHEN t =~ {_ISO} THEN datetime(t) END AS t
MATCH (r)-[:USED]->(m:DataVersion)-[:SAME_AS]->(:DataVersion)<-[:USED]-(x:Run {{kind: 'dvc-stage'}})
MATCH (x)-[:INSTANCE_OF]->(s:Stage)
WITH r, linked, t, s, x, count(DISTINCT m) AS shared
CALL {{
  WITH r, t, s
  MATCH (y:Run {{kind: 'dvc-stage'}})-[:INSTANCE_OF]->(s) WHERE y.commit IS NOT NULL
  OPTIONAL MATCH (yc:CodeVersion {{sha: y.commit}})
  WITH r, t, y, coalesce({_TIME.format(v='yc')}, y.start_time) AS yt
  WITH y, y.commit = r.git_commit AS here, CASE WHEN yt =~ {_ISO} THEN datetime(yt) END AS yt, t
  WITH y, here, CASE WHEN yt <= t THEN yt END AS at WHERE here OR at IS NOT NULL
  RETURN y AS current ORDER BY here DESC, at DESC LIMIT 1
}}
WITH r, linked, x, shared WHERE current = x
RETURN r.uid AS src, x.uid AS dst, r.git_commit AS commit, linked, shared
"""

#: Which candidate pairs are upstream/downstream of each other (b depends on a).
DOWNSTREAM = """
UNWIND $pairs AS p
MATCH (b:Run {uid: p.b}) MATCH (a:Run {uid: p.a})
WHERE EXISTS { (b)-[:USED|WAS_GENERATED_BY|WAS_DERIVED_FROM*1..12]->(a) }
RETURN p.b AS b, p.a AS a
"""

RUN_WRITE = f"""
UNWIND $rows AS r
MATCH (m:Run {{uid: r.src}}) MATCH (d:Run {{uid: r.dst}})
MERGE (m)-[e:SAME_AS {{method: '{RUN_METHOD}'}}]->(d)
ON CREATE SET e.confidence = r.confidence, e.commit = r.commit, e.shared_inputs = r.shared,
              e.linked_inputs = r.linked, e.first_seen = $now, e.sources = ['provex:linking'], e.inferred = true
SET e.last_seen = $now
"""


def best_runs(graph: Graph, candidates: list[dict]) -> list[dict]:
    """One row per MLflow run whose best DVC candidate is unique (see the module doc)."""
    by_src: dict[str, list[dict]] = {}
    for row in candidates:
        by_src.setdefault(row["src"], []).append(row)
    tops = {src: [r for r in rows if r["shared"] == max(x["shared"] for x in rows)] for src, rows in by_src.items()}
    pairs = [{"b": b["dst"], "a": a["dst"]} for top in tops.values() if len(top) > 1
             for b in top for a in top if a is not b]
    downstream = {(p["b"], p["a"]) for p in graph.read(DOWNSTREAM, {"pairs": pairs})} if pairs else set()
    chosen = []
    for top in tops.values():
        left = [b for b in top if not any((b["dst"], a["dst"]) in downstream for a in top if a is not b)]
        if len(left) == 1:
            best = left[0]
            confidence = RUN_FULL if best["shared"] >= best["linked"] else RUN_PARTIAL
            chosen.append({**best, "confidence": confidence})
    return chosen


def run(graph: Graph) -> dict[str, int]:
    """Create missing evidence links; returns how many were created per method."""
    now = datetime.now(UTC).isoformat()
    counts: dict[str, int] = {}
    for method, query in (("path+md5", MD5_CANDIDATES), ("path+commit", COMMIT_CANDIDATES),
                          ("path+nearest-commit", NEAREST_CANDIDATES)):
        rows = [{**row, "method": method, "confidence": METHODS[method]}
                for row in graph.read(query) if row["dst"]]
        if rows:
            graph.write_rows(WRITE, rows, BATCH, now=now)
            counts[method] = len(rows)
    rows = best_runs(graph, graph.read(RUN_CANDIDATES))
    if rows:
        graph.write_rows(RUN_WRITE, rows, BATCH, now=now)
        counts[RUN_METHOD] = len(rows)
    return counts
