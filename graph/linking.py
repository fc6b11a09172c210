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

The run's git commit itself needs no inference: both adapters build the same
CodeVersion uid. Every query is parameterised; candidates are read first and
written in batches with MERGE, so re-running creates nothing new.
"""

from __future__ import annotations

from datetime import datetime, timezone

from graph.connection import Graph

BATCH = 1_000
METHODS = {"path+md5": 1.0, "path+commit": 0.9, "path+nearest-commit": 0.6}

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


def run(graph: Graph) -> dict[str, int]:
    """Create missing evidence links; returns how many were created per method."""
    now = datetime.now(timezone.utc).isoformat()
    counts: dict[str, int] = {}
    for method, query in (("path+md5", MD5_CANDIDATES), ("path+commit", COMMIT_CANDIDATES),
                          ("path+nearest-commit", NEAREST_CANDIDATES)):
        rows = [{**row, "method": method, "confidence": METHODS[method]}
                for row in graph.read(query) if row["dst"]]
        if rows:
            graph.write_rows(WRITE, rows, BATCH, now=now)
            counts[method] = len(rows)
    return counts
