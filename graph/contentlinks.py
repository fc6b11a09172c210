"""Cross-tool identity through content: a run that logged a dataset's hash
(an MLflow param or tag such as ``dataset_sha256``, ``data_hash``) is linked
to that data version, by evidence, after each ingest:

- ``param-hash`` (0.95): the value equals a DVC data version's md5;
- ``metadata-hash`` (0.8): the value equals a hash in a small metadata file
  a DVC stage wrote (``meta.*`` of its data version, read by the DVC
  adapter): the data version that file describes, which is the one of the
  stage run's data inputs whose path the file also names, else its only
  data input (code and config files are not data).

The link is a ``USED {inferred: true, method, confidence, evidence}`` edge
from the run to the data version, so training-data questions follow it like
a logged input. Only values that look like content hashes (32 to 128 hex
digits, optionally ``sha256:``-prefixed) count, and only when one side's key
names data (``dataset``, ``data``, ``train``, ``input``...) and neither names
a model or code (``model_sha256``, ``git_commit``). DVC stage runs are left
out: their inputs are declared. Every query is parameterised; re-running
creates nothing new.
"""

from __future__ import annotations

import posixpath
import re
from datetime import UTC, datetime
from typing import Any

from provex.graph.connection import Graph
from provex.graph.evidence import key_words

BATCH = 1_000
METHODS = {"param-hash": 0.95, "metadata-hash": 0.8}
HASHLIKE = r"(?i)((sha|md)[0-9]*:)?[0-9a-f]{32,128}"
DATA_WORDS = frozenset(("data", "dataset", "datasets", "train", "training", "input", "inputs", "features", "feature",
                        "table", "file", "csv", "parquet", "sample", "samples", "corpus", "source", "raw"))
NOT_DATA_WORDS = frozenset(("model", "commit", "git", "code", "weights", "artifact", "checkpoint", "ckpt", "image",
                            "docker", "container", "config", "params"))
#: Inputs of a stage run that are code or configuration, never the data a metadata file describes.
NOT_DATA = re.compile(r"(?i).*(\.(py|ipynb|sh|bash|r|jl|scala|java|js|ts|go|rs|c|cc|cpp|h|sql|toml|cfg|ini|lock)"
                      r"|(^|/)(params|dvc|config)\.ya?ml|(^|/)requirements[^/]*\.txt)$")

RUN_HASHES = f"""
MATCH (r:Run) WHERE coalesce(r.kind, '') <> 'dvc-stage' AND NOT coalesce(r.placeholder, false)
UNWIND [k IN keys(r) WHERE (k STARTS WITH 'param.' OR k STARTS WITH 'tag.') AND toStringOrNull(r[k]) =~ '{HASHLIKE}'] AS k
RETURN r.uid AS run, coalesce(r.name, r.run_id, r.uid) AS name, k AS key, toStringOrNull(r[k]) AS value
"""

META_HASHES = f"""
MATCH (m:DataVersion) WHERE m.meta_file IS NOT NULL AND NOT coalesce(m.placeholder, false)
UNWIND [k IN keys(m) WHERE k STARTS WITH 'meta.' AND toStringOrNull(m[k]) =~ '{HASHLIKE}'] AS k
MATCH (m)-[:WAS_GENERATED_BY]->(:Run)-[:USED]->(d:DataVersion)
WITH m, k, collect(DISTINCT d {{.uid, .path}}) AS inputs
RETURN m.uid AS meta, m.meta_file AS file, k AS key, toStringOrNull(m[k]) AS value, inputs,
       [x IN keys(m) WHERE x STARTS WITH 'meta.' | toStringOrNull(m[x])] AS said
"""

DATA_HASHES = """
UNWIND $values AS v
MATCH (d:DataVersion {hash: v}) WHERE coalesce(d.hash_kind, 'md5') STARTS WITH 'md5' AND NOT coalesce(d.placeholder, false)
RETURN v AS value, d.uid AS data
"""

WRITE = """
UNWIND $rows AS r
MATCH (run:Run {uid: r.run}) MATCH (d:DataVersion {uid: r.data})
WITH run, d, r WHERE NOT EXISTS { (run)-[u:USED]->(d) WHERE u.method IS NULL }
MERGE (run)-[e:USED {method: r.method}]->(d)
ON CREATE SET e.confidence = r.confidence, e.evidence = r.evidence, e.inferred = true, e.first_seen = $now,
              e.sources = ['provex:linking']
SET e.last_seen = $now
"""


def normal(value: str) -> str:
    """A hash as compared: lower case, without an ``sha256:`` / ``md5:`` prefix."""
    return value.lower().rsplit(":", 1)[-1]


def about_data(*keys: str) -> bool:
    """One key names data, and none names a model or code."""
    words = [key_words(k) for k in keys]
    return any(w & DATA_WORDS for w in words) and not any(w & NOT_DATA_WORDS for w in words)


def described(row: dict[str, Any]) -> str | None:
    """The data version a metadata file's hash is about: the data input of its run
    whose path the file names, else the only data input."""
    data = [d for d in row["inputs"] if not NOT_DATA.match(d["path"] or "")]
    said = [str(s) for s in row["said"] if s]
    named = [d for d in data if any(s == d["path"] or s.endswith("/" + d["path"]) or d["path"].endswith("/" + s)
                                    or s == posixpath.basename(d["path"]) for s in said)]
    pick = named if len({d["uid"] for d in named}) == 1 else data
    uids = sorted({d["uid"] for d in pick})
    return uids[0] if len(uids) == 1 else None


def candidates(graph: Graph) -> list[dict[str, Any]]:
    """(run, data version) links the hashes support, one per pair (the strongest method)."""
    runs = graph.read(RUN_HASHES)
    if not runs:
        return []
    found: dict[tuple[str, str], dict[str, Any]] = {}
    values = sorted({normal(r["value"]) for r in runs})
    by_hash = {row["value"]: row["data"] for row in graph.read(DATA_HASHES, {"values": values})}
    metas: dict[str, list[dict[str, Any]]] = {}
    for row in graph.read(META_HASHES):
        metas.setdefault(normal(row["value"]), []).append(row)
    for run in runs:
        value, key = normal(run["value"]), run["key"]
        where = f"{key.split('.', 1)[0]} {key.split('.', 1)[1]} of run {run['name']}"
        if value in by_hash and not (key_words(key) & NOT_DATA_WORDS):
            _keep(found, run["run"], by_hash[value], "param-hash", f"{where} is its md5")
        for meta in metas.get(value, []):
            data = described(meta)
            if data and about_data(key, meta["key"]):
                _keep(found, run["run"], data, "metadata-hash",
                      f"{where} = {meta['key'].removeprefix('meta.')} in {meta['file']}")
    return sorted(found.values(), key=lambda r: (r["run"], r["data"]))


def _keep(found: dict[tuple[str, str], dict[str, Any]], run: str, data: str, method: str, evidence: str) -> None:
    old = found.get((run, data))
    if old is None or METHODS[method] > old["confidence"]:
        found[(run, data)] = {"run": run, "data": data, "method": method, "confidence": METHODS[method],
                              "evidence": evidence}


EXISTING = """
UNWIND $rows AS r
MATCH (:Run {uid: r.run})-[e:USED]->(:DataVersion {uid: r.data}) WHERE e.method IS NULL OR e.method = r.method
RETURN DISTINCT r.run AS run, r.data AS data
"""


def run(graph: Graph) -> dict[str, int]:
    """Create the links the content supports that are not there yet; returns how many per method."""
    rows = candidates(graph)
    if rows:
        there = {(r["run"], r["data"]) for r in graph.read(EXISTING, {"rows": rows})}
        rows = [r for r in rows if (r["run"], r["data"]) not in there]
    if not rows:
        return {}
    graph.write_rows(WRITE, rows, BATCH, now=datetime.now(UTC).isoformat())
    counts: dict[str, int] = {}
    for row in rows:
        counts[f"run-data-by-{row['method']}"] = counts.get(f"run-data-by-{row['method']}", 0) + 1
    return counts
