"""The graph model: every label, how each node's ``uid`` is built, every edge kind.

This is the one place that defines the vocabulary. Adapters build references
with the functions below; the writer and the schema read the tables below.
Nothing here talks to Neo4j.

Direction rule (from W3C PROV): every lineage edge points from the dependent
thing to what it depends on. Upstream = follow outgoing lineage edges;
downstream impact = follow incoming ones.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

#: Every node also carries this label; ``uid`` is unique across all of them.
BASE_LABEL = "Node"


@dataclass(frozen=True)
class Kind:
    label: str
    prefix: str  # uid prefix, also the REF prefix a person types
    group: str  # PROV class: entity, activity, agent or meta
    lookup: tuple[str, ...] = ()  # properties that get a range index
    doc: str = ""


KINDS: dict[str, Kind] = {
    k.label: k
    for k in (
        Kind("Dataset", "dataset", "entity", ("path", "name"), "a logical data asset (a path or table)"),
        Kind("DataVersion", "data", "entity", ("hash", "path", "meta_file"), "one content-identified version of a dataset"),
        Kind("Model", "model", "entity", ("name",), "a registered model"),
        Kind("ModelVersion", "model", "entity", ("name", "version", "run_id", "model_id"), "a registry version"),
        Kind("LoggedModel", "logged-model", "entity", ("model_id", "run_id", "name"), "an MLflow 3 logged model"),
        Kind("Feature", "feature", "entity", ("name",), "a named input column"),
        Kind("Prediction", "prediction", "entity", ("prediction_id", "timestamp", "subject_id", "household_id", "resolved"), "one model output"),
        Kind("PredictionGroup", "prediction-group", "entity", ("hour", "count_stale"), "predictions of one model version in one hour"),
        Kind("Override", "override", "activity", ("rule",), "a guardrail that changed a prediction"),
        Kind("CodeVersion", "commit", "entity", ("sha",), "a git commit"),
        Kind("Environment", "env", "entity", ("digest",), "a set of library requirements"),
        Kind("Library", "library", "entity", ("name", "version"), "one library at one version"),
        Kind("Run", "run", "activity", ("run_id", "start_time", "name", "state_stale"), "an execution: DVC stage run, MLflow run, ..."),
        Kind("Stage", "stage", "activity", ("name",), "a step definition: DVC stage, OpenLineage job"),
        Kind("Experiment", "experiment", "activity", ("name",), "a group of runs"),
        Kind("Agent", "agent", "agent", ("name",), "a person or service"),
        Kind("Source", "source", "meta", ("kind",), "a place provex ingests from"),
        Kind("IngestRun", "ingest", "meta", ("started_at",), "one ingest of one source"),
        Kind("Conflict", "conflict", "meta", ("kind", "key"),
             "an input record set aside: its id was seen before with other content (the first stands)"),
        Kind("Reproduction", "reproduction", "activity", ("outcome", "started_at"), "one `provex reproduce --verify` run"),
        Kind("Replay", "replay", "activity", ("outcome", "started_at"), "one `provex replay` of a logged prediction"),
    )
}

#: Lineage edges: from the dependent thing to what it depends on.
LINEAGE_EDGES = ("USED", "WAS_GENERATED_BY", "WAS_DERIVED_FROM", "PREDICTED_BY", "OVERRIDDEN_BY")
#: Structure and identity edges: not followed by lineage traversal.
STRUCTURE_EDGES = (
    "VERSION_OF",  # DataVersion -> Dataset, ModelVersion -> Model
    "PART_OF",  # Run -> Experiment, Prediction -> PredictionGroup, Run -> Run (parent)
    "INSTANCE_OF",  # Run -> Stage
    "ASSOCIATED_WITH",  # Run/CodeVersion -> Agent
    "HAS_FEATURE",  # DataVersion/Dataset -> Feature
    "HAS_ALIAS",  # Model -> ModelVersion {alias, valid_from, valid_to}: time-ranged
    "REQUIRES",  # Environment -> Library
    "SAME_AS",  # inferred identity across tools {method, confidence}
    "REPRODUCES",  # Reproduction -> ModelVersion/DataVersion it rebuilt
    "REPLAYS",  # Replay -> Prediction it re-ran
)
EDGE_TYPES = LINEAGE_EDGES + STRUCTURE_EDGES

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Ref:
    """A typed pointer to one node: its label and its uid."""

    label: str
    uid: str

    def __post_init__(self) -> None:
        if self.label not in KINDS:
            raise ValueError(f"unknown label {self.label!r}; known: {', '.join(KINDS)}")


def is_identifier(name: str) -> bool:
    """Whether ``name`` may be spliced into Cypher as a label, type or key."""
    return bool(_NAME.match(name))


def _ref(label: str, key: str) -> Ref:
    return Ref(label, f"{KINDS[label].prefix}:{key}")


def dataset(path: str) -> Ref:
    return _ref("Dataset", path)


def data_version(path: str, content_hash: str) -> Ref:
    return _ref("DataVersion", f"{path}@{content_hash}")


def model(name: str) -> Ref:
    return _ref("Model", name)


def model_version(name: str, version: str | int) -> Ref:
    return _ref("ModelVersion", f"{name}@{version}")


def logged_model(model_id: str) -> Ref:
    return _ref("LoggedModel", model_id)


def feature(name: str) -> Ref:
    return _ref("Feature", name)


def prediction(prediction_id: str) -> Ref:
    return _ref("Prediction", prediction_id)


def prediction_group(model_version_uid: str, hour: str) -> Ref:
    return _ref("PredictionGroup", f"{model_version_uid}@{hour}")


def override(prediction_id: str, rule: str) -> Ref:
    return _ref("Override", f"{prediction_id}#{rule}")


def code_version(sha: str) -> Ref:
    return _ref("CodeVersion", sha)


def environment(digest: str) -> Ref:
    return _ref("Environment", digest)


def library(name: str, version: str) -> Ref:
    return _ref("Library", f"{normalize_library(name)}=={version}")


def normalize_library(name: str) -> str:
    """PEP 503 normalisation, so ``Scikit_Learn`` and ``scikit-learn`` meet."""
    return re.sub(r"[-_.]+", "-", name).lower()


def run(run_id: str) -> Ref:
    """An execution. Namespace ids that are not globally unique (``dvc:...``)."""
    return _ref("Run", run_id)


def stage(scope: str, name: str) -> Ref:
    return _ref("Stage", f"{scope}:{name}")


def experiment(scope: str, experiment_id: str) -> Ref:
    return _ref("Experiment", f"{scope}#{experiment_id}")


def agent(name: str) -> Ref:
    return _ref("Agent", name)


def source(uri: str) -> Ref:
    return _ref("Source", uri)


def ingest_run(run_id: str) -> Ref:
    return _ref("IngestRun", run_id)


def conflict(kind: str, key: str, later: str) -> Ref:
    """One conflicting record: what collided (``kind``), on which id (``key``),
    with which later value (by digest, so the same conflict seen again is one node)."""
    digest = hashlib.sha256(later.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return _ref("Conflict", f"{kind}:{key}#{digest}")


def reproduction(target_uid: str, started_at: str) -> Ref:
    """One verification of a model or data version, at one time."""
    return _ref("Reproduction", f"{target_uid}#{started_at}")


def replay(prediction_uid: str, model_version_uid: str, started_at: str) -> Ref:
    """One replay of a prediction through one model version, at one time."""
    return _ref("Replay", f"{prediction_uid}|{model_version_uid}#{started_at}")


def label_of_prefix(prefix: str) -> list[str]:
    """Labels whose uids start with ``prefix:`` (``model`` has two)."""
    return [k.label for k in KINDS.values() if k.prefix == prefix]
