"""Evidence for a logged model reference that names no registry version: every
place the graph holds an identifier equal to what the log said.

Teams without a registry name a model version by a training timestamp, a git
sha, a run name, an artifact hash, and write it into a tag, a param or a small
metadata file next to the model. A reference's *value* (its version as
logged, else the whole reference: a name, an id) is looked up in each
:data:`WAYS` below; each hit is a candidate ``{target, method, confidence,
evidence}``. Targets are what the predictions then hang on: a registry
``ModelVersion``, a ``LoggedModel``, a model artifact ``DataVersion`` (the
output beside a metadata file), or the training ``Run`` itself.

Candidates that are one training seen through several tools (a run and the
artifact it generated, an MLflow run and the DVC stage run it is ``SAME_AS``)
are one *cluster*. One cluster resolves the reference; several are
ambiguous, unless the logged model name appears in the evidence of exactly
one of them. Nothing is guessed: an ambiguous reference stays unresolved and
is reported with its candidates.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

#: method -> confidence (a tag, param or metadata value: under a version-like key;
#: ``OTHER_KEY`` when the key says nothing and only the value is distinctive).
WAYS: dict[str, float] = {
    "run_id": 1.0,  # the value is a run id (a registry version of that run, else the run)
    "model_id": 1.0,  # the value is a logged model id (its registry version, else the logged model)
    "alias-at-time": 1.0,  # models:/name@alias: the version holding the alias at the prediction's time
    "registry-version": 0.9,  # a registered version's version string (and name, when logged)
    "artifact-hash": 0.9,  # the content hash of a generated artifact (0.7 for a prefix of 7+ hex digits)
    "run-name": 0.8,  # the name of an MLflow or OpenLineage run (DVC runs are named by their stage)
    "run-tag": 0.8,  # a run tag's value
    "run-param": 0.8,  # a run param's value
    "metadata-file": 0.8,  # a value in a small JSON/YAML file a pipeline stage wrote beside the model
    "git-commit": 0.6,  # the commit (7+ hex digits) of the one run that made a model there
}
OTHER_KEY = 0.5
PREFIX_HASH = 0.7
#: Words of a key that say its value names a version (``model_version``, ``gitSha``, ``build-id``).
VERSION_WORDS = frozenset((
    "version", "ver", "vers", "v", "rev", "revision", "release", "build", "tag", "commit", "sha", "git", "hash",
    "digest", "checksum", "md5", "sha1", "sha256", "id", "uid", "uuid", "uri", "url", "timestamp", "trained",
    "created", "date", "time", "stamp", "run", "artifact", "snapshot", "checkpoint", "ckpt", "fingerprint",
))
#: Paths of model artifacts (a DVC output beside a metadata file).
MODEL_PATH = r"(?i).*\.(pkl|pickle|joblib|onnx|pt|pth|h5|hdf5|keras|safetensors|bin|cbm|ubj|model|pb|tflite|sav|pmml|mlmodel|gguf|zip)$"
_MODEL_PATH = re.compile(MODEL_PATH)
_KEY_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_HEX = re.compile(r"[0-9a-f]{7,128}")
_NUMBER = re.compile(r"[-+]?\d*\.\d+(e[-+]?\d+)?", re.I)
#: Kinds of target, most specific first: the one a cluster resolves to.
KIND_ORDER = ("ModelVersion", "LoggedModel", "DataVersion", "Run")


@dataclass
class Candidate:
    target: str
    method: str
    confidence: float
    evidence: str
    label: str = ""
    runs: set[str] = field(default_factory=set)


def key_words(key: str) -> set[str]:
    """The words of a key without its ``param.`` / ``tag.`` / ``meta.`` prefix."""
    bare = key.split(".", 1)[1] if key.split(".", 1)[0] in ("param", "tag", "meta") and "." in key else key
    return {w.lower() for w in _KEY_WORDS.findall(bare)}


def version_key(key: str) -> bool:
    return bool(key_words(key) & VERSION_WORDS) or any(w.startswith("version") for w in key_words(key))


def distinctive(value: str) -> bool:
    """A value unlikely to equal an identifier by chance: 8+ characters, not a decimal number or a word like true."""
    return len(value) >= 8 and not _NUMBER.fullmatch(value) and value.lower() not in ("true", "false", "none", "null")


def keyed(method: str, key: str, value: str) -> float | None:
    """A tag, param or metadata value's confidence (None: too weak to count)."""
    if version_key(key):
        return WAYS[method]
    return OTHER_KEY if distinctive(value) else None


def value_of(ref: dict[str, Any]) -> str | None:
    """What a reference's predictions call their model: the version as logged, else the whole reference."""
    text = ref.get("version") or ref.get("ref") or ""
    text = str(text).strip()
    return text or None


def is_model_path(path: str | None) -> bool:
    return bool(path and _MODEL_PATH.match(path))


# ---- the lookups --------------------------------------------------------------------------------------

#: Index-backed lookups: ids, names, versions, hash and commit prefixes.
LOOKUP = """
UNWIND $values AS v
CALL {
  WITH v MATCH (x:ModelVersion) WHERE x.run_id = v RETURN x, 'run_id' AS method, 'run id' AS key
  UNION WITH v MATCH (x:Run) WHERE x.run_id = v AND NOT EXISTS { (:ModelVersion {run_id: v}) }
  RETURN x, 'run_id' AS method, 'run id' AS key
  UNION WITH v MATCH (x:ModelVersion) WHERE x.model_id = v RETURN x, 'model_id' AS method, 'model id' AS key
  UNION WITH v MATCH (x:LoggedModel) WHERE x.model_id = v AND NOT EXISTS { (:ModelVersion {model_id: v}) }
  RETURN x, 'model_id' AS method, 'logged model id' AS key
  UNION WITH v MATCH (x:ModelVersion) WHERE x.version = v RETURN x, 'registry-version' AS method, 'version' AS key
  UNION WITH v MATCH (x:Run) WHERE x.name = v AND coalesce(x.kind, '') <> 'dvc-stage'
  RETURN x, 'run-name' AS method, 'run name' AS key
  UNION WITH v MATCH (x:DataVersion) WHERE v IN $hex AND x.hash STARTS WITH v AND EXISTS { (x)-[:WAS_GENERATED_BY]->(:Run) }
  RETURN x, 'artifact-hash' AS method, CASE WHEN x.hash = v THEN 'hash' ELSE 'hash prefix' END AS key
  UNION WITH v MATCH (c:CodeVersion) WHERE v IN $hex AND c.sha STARTS WITH v
  MATCH (x:Run)-[:USED]->(c)
  WHERE EXISTS { (:ModelVersion|LoggedModel)-[:WAS_GENERATED_BY]->(x) }
     OR EXISTS { (o:DataVersion)-[:WAS_GENERATED_BY]->(x) WHERE o.path =~ $model_path OR o.meta_file IS NOT NULL }
  RETURN x, 'git-commit' AS method, 'commit' AS key
}
WITH v, x, method, key WHERE NOT coalesce(x.placeholder, false)
RETURN v, x.uid AS target, [l IN labels(x) WHERE l <> 'Node'][0] AS label, method, key,
       coalesce(x.name, x.path, x.run_id, x.uid) AS name, x.path AS path
"""

#: Run params and tags equal to a value (a scan of runs' properties: no index holds them).
RUN_VALUES = """
MATCH (r:Run) WHERE NOT coalesce(r.placeholder, false)
WITH r, [k IN keys(r) WHERE (k STARTS WITH 'param.' OR k STARTS WITH 'tag.') AND toStringOrNull(r[k]) IN $values] AS ks
WHERE size(ks) > 0
UNWIND ks AS k
RETURN toStringOrNull(r[k]) AS v, r.uid AS target, k AS key, coalesce(r.name, r.run_id, r.uid) AS name
"""

#: Values of small metadata files (DataVersion ``meta.*``, written by the DVC adapter),
#: with the runs that generated the file and those runs' other outputs.
META_VALUES = """
MATCH (d:DataVersion) WHERE d.meta_file IS NOT NULL AND NOT coalesce(d.placeholder, false)
WITH d, [k IN keys(d) WHERE k STARTS WITH 'meta.' AND toStringOrNull(d[k]) IN $values] AS ks
WHERE size(ks) > 0
OPTIONAL MATCH (d)-[:WAS_GENERATED_BY]->(r:Run)
OPTIONAL MATCH (o:DataVersion)-[:WAS_GENERATED_BY]->(r) WHERE o <> d
WITH d, ks, r, collect(DISTINCT o {.uid, .path, .is_dir}) AS outs
WITH d, ks, collect(CASE WHEN r IS NULL THEN null ELSE {run: r.uid, outs: outs} END) AS runs
UNWIND ks AS k
RETURN toStringOrNull(d[k]) AS v, d.uid AS meta, d.path AS path, coalesce(d.is_dir, false) AS is_dir,
       d.meta_file AS file, k AS key, runs
"""

#: The runs behind each target (itself, the run that generated it, through a
#: logged model or folder member) and their SAME_AS twins: one training, however seen.
RUNS = """
UNWIND $targets AS t
MATCH (x:Node {uid: t})
OPTIONAL MATCH (x)-[:WAS_GENERATED_BY|WAS_DERIVED_FROM*0..2]->(r:Run)
OPTIONAL MATCH (r)-[:SAME_AS]-(tw:Run)
WITH x, collect(DISTINCT r.uid) + collect(DISTINCT tw.uid) AS runs
RETURN x.uid AS target, [l IN labels(x) WHERE l <> 'Node'][0] AS label, runs
"""

#: Everything a cluster is called: target and run names, experiment names,
#: param and tag values, metadata values of what its runs wrote.
NAMES = """
UNWIND $targets AS t
MATCH (x:Node {uid: t})
OPTIONAL MATCH (x)-[:WAS_GENERATED_BY|WAS_DERIVED_FROM*0..2]->(r:Run)
OPTIONAL MATCH (r)-[:SAME_AS]-(tw:Run)
WITH x, [y IN collect(DISTINCT r) + collect(DISTINCT tw) WHERE y IS NOT NULL] AS runs
CALL {
  WITH runs UNWIND runs AS y
  OPTIONAL MATCH (y)-[:PART_OF]->(e:Experiment)
  OPTIONAL MATCH (m:DataVersion)-[:WAS_GENERATED_BY]->(y) WHERE m.meta_file IS NOT NULL
  WITH y, e, m
  RETURN collect(y.name) + collect(e.name)
         + reduce(s = [], z IN collect(y) | s + [k IN keys(z) WHERE k STARTS WITH 'param.' OR k STARTS WITH 'tag.'
                                                | toStringOrNull(z[k])])
         + reduce(s = [], z IN collect(m) | s + [k IN keys(z) WHERE k STARTS WITH 'meta.' | toStringOrNull(z[k])]) AS said
}
RETURN x.uid AS target, [n IN [x.name] + said WHERE n IS NOT NULL] AS names
"""


def candidates(graph: Any, values: Iterable[str]) -> dict[str, list[Candidate]]:
    """Every candidate of each value, by value."""
    wanted = sorted(set(values))
    if not wanted:
        return {}
    found: dict[str, list[Candidate]] = {v: [] for v in wanted}
    hexes = [v for v in wanted if _HEX.fullmatch(v)]
    for row in graph.read(LOOKUP, {"values": wanted, "hex": hexes, "model_path": MODEL_PATH}):
        found[row["v"]].append(_looked_up(row))
    for row in graph.read(RUN_VALUES, {"values": wanted}):
        method = "run-tag" if row["key"].startswith("tag.") else "run-param"
        confidence = keyed(method, row["key"], row["v"])
        if confidence is not None:
            kind, key = row["key"].split(".", 1)
            found[row["v"]].append(Candidate(row["target"], method, confidence, f"{kind} {key} of run {row['name']}",
                                             "Run"))
    for row in graph.read(META_VALUES, {"values": wanted}):
        confidence = keyed("metadata-file", row["key"], row["v"])
        if confidence is not None:
            found[row["v"]].extend(_from_metadata(row, confidence))
    return found


def _looked_up(row: dict[str, Any]) -> Candidate:
    confidence = WAYS[row["method"]]
    if row["key"] == "hash prefix":
        confidence = PREFIX_HASH
    what = {"run_id": "run id of", "model_id": "id of", "registry-version": "version of", "run-name": "name of run",
            "artifact-hash": f"{row['key']} of", "git-commit": "commit of run"}[row["method"]]
    return Candidate(row["target"], row["method"], confidence, f"{what} {row['name']}", row["label"])


def _from_metadata(row: dict[str, Any], confidence: float) -> list[Candidate]:
    """A metadata file's value points at the model beside it: the folder that holds
    the file, else the one model artifact its run wrote in the same folder, else the run."""
    key = row["key"].removeprefix("meta.")
    said = f"{key} in {row['file']}"
    if row["is_dir"] or not row["runs"]:
        return [Candidate(row["meta"], "metadata-file", confidence, said, "DataVersion")]
    out = []
    for made in row["runs"]:
        beside = [o for o in made["outs"] if posixpath.dirname(o["path"] or "") == posixpath.dirname(row["path"])
                  and (o.get("is_dir") or is_model_path(o["path"]))]
        if len(beside) == 1:
            out.append(Candidate(beside[0]["uid"], "metadata-file", confidence, f"{said} (beside {beside[0]['path']})",
                                 "DataVersion"))
        else:
            out.append(Candidate(made["run"], "metadata-file", confidence, f"{said} (written by the run)", "Run"))
    return out


# ---- clusters ----------------------------------------------------------------------------------------


def annotate(graph: Any, found: list[Candidate]) -> None:
    """Each candidate's label and the runs behind it (one read for all)."""
    targets = sorted({c.target for c in found})
    info = {r["target"]: r for r in graph.read(RUNS, {"targets": targets})} if targets else {}
    for c in found:
        row = info.get(c.target, {})
        c.label = row.get("label") or c.label
        c.runs = {u for u in row.get("runs") or [] if u} | {c.target}


def clusters(found: list[Candidate]) -> list[list[Candidate]]:
    """Candidates (annotated) grouped by the training they stand for: shared runs or target."""
    groups: list[list[Candidate]] = []
    for c in found:
        joined = [g for g in groups if any(c.runs & x.runs for x in g)]
        merged = [c] + [x for g in joined for x in g]
        groups = [g for g in groups if g not in joined] + [merged]
    return sorted(groups, key=lambda g: sorted(x.target for x in g))


def _kind(c: Candidate) -> int:
    return KIND_ORDER.index(c.label) if c.label in KIND_ORDER else len(KIND_ORDER)


def best(cluster: list[Candidate]) -> Candidate:
    """The target a cluster resolves to: the most specific kind, then the strongest evidence."""
    return min(cluster, key=lambda c: (_kind(c), -c.confidence, c.target, c.method, c.evidence))


def rivals(cluster: list[Candidate]) -> list[Candidate]:
    """The distinct targets of the cluster's most specific kind (two registry
    versions of one run are two models: more than one is ambiguous)."""
    top = min(_kind(c) for c in cluster)
    return [best([c for c in cluster if c.target == t]) for t in sorted({c.target for c in cluster if _kind(c) == top})]


def named(graph: Any, groups: list[list[Candidate]], name: str) -> list[list[Candidate]]:
    """The clusters whose evidence also says the logged model name."""
    targets = sorted({c.target for g in groups for c in g})
    names = {r["target"]: set(r["names"]) for r in graph.read(NAMES, {"targets": targets})}
    return [g for g in groups if any(name in names.get(c.target, ()) for c in g)]


@dataclass
class Outcome:
    """One reference's resolution: a target (with method, confidence, evidence), or the candidates."""

    target: Candidate | None = None
    ambiguous: list[Candidate] = field(default_factory=list)


def decide(graph: Any, found: list[Candidate], name: str | None) -> Outcome:
    """One cluster resolves; several are narrowed by the logged name, else ambiguous."""
    groups = [part for g in clusters(found) for part in ([g] if len(rivals(g)) == 1 else [[c] for c in rivals(g)])]
    if len(groups) > 1 and name:
        narrowed = named(graph, groups, name)
        if len(narrowed) == 1:
            chosen = best(narrowed[0])
            return Outcome(Candidate(chosen.target, chosen.method, chosen.confidence,
                                     f"{chosen.evidence}; the only candidate that also says {name!r}", chosen.label))
    if len(groups) == 1:
        chosen = best(groups[0])
        others = sorted({c.evidence for c in groups[0] if c is not chosen})
        evidence = chosen.evidence + (f"; also {', '.join(others[:3])}" if others else "")
        confidence = max(c.confidence for c in groups[0])
        return Outcome(Candidate(chosen.target, chosen.method, confidence, evidence, chosen.label))
    return Outcome(ambiguous=[best(g) for g in groups])
