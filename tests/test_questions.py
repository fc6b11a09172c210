"""The question catalog against a miniature of the credit story, written
through the real writer into the real Neo4j:

DVC raw Jan data (+ bad Feb data at commit c2) -> prepare stage -> prepared
data -> (SAME_AS) MLflow training data -> training run -> credit-limit v1 / v2
-> production alias (v1, then v2) -> predictions (one chained on a
credit-scoring prediction, one overridden), plus a few gaps.
"""

from __future__ import annotations

import json
import os
import re

import logged
import pytest
from click.testing import CliRunner

from provex.app.cli import cli
from provex.graph import flags, schema
from provex.graph.connection import Graph
from provex.graph.questions import CATALOG, ask, cypher_params, derived_params, headlines
from provex.graph.writer import Writer
from provex.vocab import model as m
from provex.vocab.errors import UsageError
from provex.vocab.records import Edge, Node

C1, C2 = "c1" * 20, "c2" * 20
RAW_JAN = m.data_version("data/raw/tx-2026-01.csv", "a1" * 16)
RAW_FEB = m.data_version("data/raw/tx-2026-02.csv", "bad0" * 8)
PREP_1 = m.data_version("data/prepared/train.parquet", "p1" * 16)
PREP_2 = m.data_version("data/prepared/train.parquet", "p2" * 16)
ML_1, ML_2 = m.data_version("train.parquet", "dig1"), m.data_version("train.parquet", "dig2")
V1, V2 = m.model_version("credit-limit", 1), m.model_version("credit-limit", 2)
SCORING = m.model_version("credit-scoring", 1)
GHOST = m.model_version("ghost", 9)
NODES = os.environ.get("PROVEX_TEST_PREDICTION_NODES", "auto")  # the story's predictions: nodes or not


def node(ref: m.Ref, **props: object) -> Node:
    return Node(ref, props, source="test")


def edge(etype: str, src: m.Ref, dst: m.Ref, **props: object) -> Edge:
    return Edge(etype, src, dst, props, source="test")


def dvc_records(commit: str, prepared: m.Ref, raws: list[m.Ref]) -> list:
    stage, run = m.stage("repo", "prepare"), m.run(f"dvc:prepare@{commit}")
    out = [node(stage, name="prepare"),
           node(run, kind="dvc-stage", stage="prepare", commit=commit, cmd="python prepare.py", **{"param.min": 0}),
           node(m.code_version(commit), sha=commit, author="Dana Okafor", date="2026-01-05", message=f"commit {commit[:2]}"),
           edge("ASSOCIATED_WITH", m.code_version(commit), m.agent("Dana Okafor")),
           node(prepared, path=prepared.uid.split(":", 1)[1].split("@")[0], hash=prepared.uid.split("@")[1],
                hash_kind="md5", commit=commit),
           edge("INSTANCE_OF", run, stage), edge("USED", run, m.code_version(commit)),
           edge("WAS_GENERATED_BY", prepared, run)]
    for raw in raws:
        path, digest = raw.uid.split(":", 1)[1].split("@")
        out += [node(raw, path=path, hash=digest, hash_kind="md5", origin="dvc-add"), edge("USED", run, raw)]
    return out


def mlflow_records(run_id: str, commit: str, ml: m.Ref, prepared: m.Ref, mv: m.Ref, alpha: str,
                   features: list[str], libs: dict[str, str], created: str) -> list:
    run, env = m.run(run_id), m.environment(f"env-{run_id}")
    out = [node(run, run_id=run_id, kind="mlflow-run", status="FINISHED", start_time=created,
                git_commit=commit, **{"param.alpha": alpha, "metric.rmse": 100.0 if alpha == "1.0" else 80.0}),
           node(ml, path="train.parquet", hash=ml.uid.split("@")[1], hash_kind="mlflow-digest"),
           edge("USED", run, ml), edge("USED", run, m.code_version(commit)),
           edge("SAME_AS", ml, prepared, method="path+commit", confidence=0.9),
           node(mv, name="credit-limit", version=mv.uid.split("@")[1], run_id=run_id, created_at=created),
           edge("VERSION_OF", mv, m.model("credit-limit")), edge("WAS_GENERATED_BY", mv, run),
           node(env), edge("USED", mv, env)]
    out += [edge("HAS_FEATURE", ml, m.feature(f)) for f in features]
    out += [node(m.feature(f), name=f) for f in features]
    for name, version in libs.items():
        out += [node(m.library(name, version), name=name, version=version), edge("REQUIRES", env, m.library(name, version))]
    return out


def alias(mv: m.Ref, since: str) -> Edge:
    return Edge("HAS_ALIAS", m.model("credit-limit"), mv, {"alias": "production", "valid_from": since},
                key=("alias", "valid_from"), supersedes=("alias",), source="test")


def write_story(graph: Graph) -> None:
    """The miniature credit story (see the module docstring)."""
    records = [node(m.model("credit-limit"), name="credit-limit"), node(m.stage("repo", "evaluate"), name="evaluate")]
    records += dvc_records(C1, PREP_1, [RAW_JAN]) + dvc_records(C2, PREP_2, [RAW_JAN, RAW_FEB])
    records += mlflow_records("r1", C1, ML_1, PREP_1, V1, "1.0", ["income", "age"],
                              {"scikit-learn": "1.5.0", "pandas": "2.2.0"}, "2026-01-05T12:00:00Z")
    records += mlflow_records("r2", C2, ML_2, PREP_2, V2, "0.3", ["income", "share_essentials"],
                              {"scikit-learn": "1.6.1"}, "2026-03-09T12:00:00Z")
    records += [node(SCORING, name="credit-scoring", version="1")]
    with Writer(graph, "test-story") as writer:
        writer.add_all(records)
    logged.ingest(graph, [
        logged.line("p1", "credit-limit", 1, "2026-02-01T10:15:00Z", 5000.0, subject="cust-1", income=4000.0, age=41.0),
        logged.line("ps", "credit-scoring", 1, "2026-03-12T14:04:59Z", 0.82),
        logged.line("p2", "credit-limit", 2, "2026-03-12T14:05:00Z", 25000.0, subject="cust-1", upstream=["ps"],
                    override={"rule": "max-limit-cap", "original": 30000.0, "final": 25000.0}, income=4100.0, age=38.0),
        logged.line("orphan", "ghost", 9, "2026-03-12T15:00:00Z", 1.0),
    ], nodes=NODES)
    with Writer(graph, "test-alias-1") as writer:
        writer.add(alias(V1, "2026-01-06T09:00:00Z"))
    with Writer(graph, "test-alias-2") as writer:
        writer.add(alias(V2, "2026-03-10T09:30:00Z"))


@pytest.fixture(scope="module")
def story(session_graph: Graph) -> Graph:
    """Written once for this module: every test here only reads it."""
    schema.clear(session_graph)
    write_story(session_graph)
    return session_graph


def rows(graph: Graph, name: str, **params: object) -> list[dict]:
    df = ask(graph, name, params)
    assert list(df.columns) == list(CATALOG[name].columns)
    return df.astype(object).where(df.notna(), None).to_dict("records")


# ---- the catalog itself ----------------------------------------------------

def test_catalog_names_and_declared_params_match_cypher() -> None:
    assert set(CATALOG) >= {
        "prediction-provenance", "model-training-data", "reproduce-model", "data-origin", "impact-of-data",
        "impact-of-library", "impact-of-commit", "diff-model-versions", "serving-model-at",
        "training-serving-skew", "models-in-chain", "lineage-gaps"}
    for q in CATALOG.values():
        assert {p.name for p in q.params} | derived_params(q) == cypher_params(q), q.name
        assert q.title and q.description and q.columns
        assert all(p.type in ("ref", "str", "int", "datetime") for p in q.params)


def test_every_question_is_read_only_and_runs_on_the_story(story: Graph) -> None:
    samples = {"prediction": "prediction:p2", "model_version": V2.uid, "data_version": RAW_FEB.uid,
               "library": "scikit-learn", "commit": "commit:c2c2", "a": V1.uid, "b": V2.uid,
               "model": "model:credit-limit", "at": "2026-03-12T00:00:00Z", "subject": "cust-1"}
    per_question = {"compare-predictions": {"a": "p1", "b": "p2"},
                    "diff-data-versions": {"a": RAW_JAN.uid, "b": RAW_FEB.uid}}
    no_profiles_here = {"data-anomalies"}  # the story has no content profiles: tests/test_profiles.py
    for q in CATALOG.values():
        query_type, _ = story.query_type(q.cypher, {n: None for n in cypher_params(q)})
        assert query_type == "r", q.name
        params = {p.name: {**samples, **per_question.get(q.name, {})}[p.name] for p in q.params if p.required}
        answer = ask(story, q.name, params)
        assert answer.empty == (q.name in no_profiles_here), q.name
        assert q.headline is not headlines.generic_headline, f"{q.name} has no headline of its own"
        assert answer.attrs["headline"].strip() and len(answer.attrs["headline"]) < 800, q.name


# ---- each question on the story -------------------------------------------

def test_prediction_provenance_follows_chain_override_and_training(story: Graph) -> None:
    found = {(r["prediction"], r["aspect"], r["key"], str(r["value"])) for r in rows(story, "prediction-provenance", prediction="p2")}
    assert ("prediction:p2", "model version", "ModelVersion", "credit-limit v2") in found
    assert ("prediction:ps", "model version", "ModelVersion", "credit-scoring v1") in found
    assert ("prediction:p2", "override", "max-limit-cap", "30000.0 -> 25000.0") in found
    assert ("prediction:p2", "input", "income", "4100.0") in found
    assert ("prediction:p2", "param", "alpha", "0.3") in found
    assert ("prediction:p2", "training data", "train.parquet", "mlflow-digest:dig2") in found
    assert ("prediction:p2", "training data (same as)", "data/prepared/train.parquet", "md5:" + "p2" * 16) in found
    assert ("prediction:p2", "code commit", C2, "commit c2") in found
    assert ("prediction:p2", "library", "scikit-learn", "1.6.1") in found
    hops = {r["prediction"]: r["hop"] for r in rows(story, "prediction-provenance", prediction="p2")}
    assert hops == {"prediction:p2": 0, "prediction:ps": 1}


def test_model_training_data_reaches_dvc_twin_and_raw_data(story: Graph) -> None:
    got = {r["data_version"]: r for r in rows(story, "model-training-data", model_version=V2.uid)}
    assert set(got) == {ML_2.uid, PREP_2.uid, RAW_JAN.uid, RAW_FEB.uid}
    assert got[ML_2.uid]["via"] == "used by the training run" and got[ML_2.uid]["depth"] == 0
    assert got[PREP_2.uid]["stage"] == "prepare" and got[PREP_2.uid]["commit"] == C2
    assert got[PREP_2.uid]["producer_run"] == f"run:dvc:prepare@{C2}"
    assert got[RAW_FEB.uid]["depth"] == 1 and got[RAW_FEB.uid]["hash"] == "bad0" * 8


def test_reproduce_model_gives_ordered_steps(story: Graph) -> None:
    steps = rows(story, "reproduce-model", model_version=V2.uid)
    commands = [r["command"] for r in steps]
    assert commands[0] == f"git checkout {C2}"
    assert "pip install scikit-learn==1.6.1" in commands
    assert f"dvc pull data/raw/tx-2026-02.csv  # expect md5 {'bad0' * 8}" in commands
    assert "dvc repro --single-item --force prepare" in commands  # the DVC stage behind the training data
    assert "alpha=0.3" in commands and "expect rmse = 80.0" in commands
    assert len(commands) == len(set(commands))
    assert [r["step"] for r in steps] == sorted(r["step"] for r in steps)


def test_data_origin_marks_raw_and_produced(story: Graph) -> None:
    got = {r["data_version"]: r for r in rows(story, "data-origin", data_version=ML_2.uid)}
    assert got[ML_2.uid]["origin"] == "same as data/prepared/train.parquet"
    assert got[PREP_2.uid]["origin"] == "produced" and got[PREP_2.uid]["author"] == "Dana Okafor"
    assert got[PREP_2.uid]["command"] == "python prepare.py" and got[PREP_2.uid]["commit"] == C2
    assert got[RAW_FEB.uid]["origin"] == "raw (no producer recorded)"


def test_impact_of_bad_data_counts_predictions_per_window(story: Graph) -> None:
    got = rows(story, "impact-of-data", data_version="data:data/raw/tx-2026-02.csv@bad0")
    assert [(r["model_version"], r["window"], r["predictions"]) for r in got] == [(V2.uid, "2026-03-12", 1)]
    hourly = rows(story, "impact-of-data", data_version=RAW_JAN.uid, window="hour")
    assert {(r["model_version"], r["window"], r["predictions"]) for r in hourly} == {
        (V1.uid, "2026-02-01T10", 1), (V2.uid, "2026-03-12T14", 1)}
    listed = rows(story, "impacted-predictions", data_version=RAW_FEB.uid)
    assert {(r["prediction"], r["model_version"]) for r in listed} == {("prediction:p2", V2.uid)}
    assert rows(story, "impacted-predictions", data_version=RAW_FEB.uid, until="2026-03-01") == []


def test_impact_of_library_and_commit(story: Graph) -> None:
    got = rows(story, "impact-of-library", library="Scikit_Learn", version="1.5.0")
    assert [(r["model_version"], r["predictions"]) for r in got] == [(V1.uid, 1)]
    assert {r["model_version"] for r in rows(story, "impact-of-library", library="scikit-learn")} == {V1.uid, V2.uid}
    hit = {(r["kind"], r["ref"]): r for r in rows(story, "impact-of-commit", commit="commit:c2c2")}
    assert set(hit) == {("Run", f"run:dvc:prepare@{C2}"), ("Run", "run:r2"), ("DataVersion", PREP_2.uid),
                        ("DataVersion", ML_2.uid), ("ModelVersion", V2.uid)}
    assert hit[("ModelVersion", V2.uid)]["predictions"] == 1


def test_diff_model_versions(story: Graph) -> None:
    got = {(r["aspect"], r["key"]): r for r in rows(story, "diff-model-versions", a=V1.uid, b=V2.uid)}
    assert (got[("param", "alpha")]["a"], got[("param", "alpha")]["b"], got[("param", "alpha")]["differs"]) == ("1.0", "0.3", True)
    assert got[("library", "pandas")]["b"] is None and got[("library", "pandas")]["differs"]
    assert got[("data", "data/raw/tx-2026-01.csv (md5)")]["differs"] is False
    assert got[("data", "data/raw/tx-2026-02.csv (md5)")]["a"] is None
    assert got[("code", "commit")]["a"] == C1 and got[("code", "commit")]["b"] == C2
    assert got[("stage", "prepare command")]["differs"] is False


def test_serving_model_at_follows_the_moved_alias(story: Graph) -> None:
    before = rows(story, "serving-model-at", model="model:credit-limit", at="2026-02-15T00:00:00Z")
    after = rows(story, "serving-model-at", model="model:credit-limit", at="2026-03-12T00:00:00Z", alias="production")
    assert [(r["model_version"], r["valid_to"]) for r in before] == [(V1.uid, "2026-03-10T09:30:00Z")]
    assert [(r["model_version"], r["predictions_while_serving"], r["predictions_in_window"]) for r in after] == [(V2.uid, 1, 1)]
    narrow = rows(story, "serving-model-at", model="model:credit-limit", at="2026-03-10T10:00:00Z", window_hours=1)
    assert narrow[0]["predictions_in_window"] == 0
    assert rows(story, "serving-model-at", model="model:credit-limit", at="2025-12-01") == []


def test_training_serving_skew(story: Graph) -> None:
    got = {r["feature"]: r["status"] for r in rows(story, "training-serving-skew", model_version=V2.uid)}
    assert got == {"income": "both", "share_essentials": "training only", "age": "serving only"}


def test_models_in_chain(story: Graph) -> None:
    got = [(r["hop"], r["model_version"], r["override"]) for r in rows(story, "models-in-chain", prediction="p2")]
    assert got == [(0, V2.uid, "max-limit-cap"), (1, SCORING.uid, None)]


def test_lineage_gaps(story: Graph) -> None:
    got = {r["gap"]: r for r in rows(story, "lineage-gaps")}
    assert set(got["model version without a source run"]["examples"]) == {SCORING.uid, GHOST.uid}
    assert got["prediction without a resolvable model"]["examples"] == ["prediction:orphan"]
    assert got["stage never run"]["examples"] == ["stage:repo:evaluate"]
    assert set(got["data version without a producer"]["examples"]) == {RAW_JAN.uid, RAW_FEB.uid}
    assert got["run without a data input"]["count"] == 0 and got["run without a code commit"]["count"] == 0
    assert set(got["referenced but never ingested (placeholder)"]["examples"]) >= {GHOST.uid}


def test_a_picture_flags_each_nodes_own_gaps(story: Graph) -> None:
    found = flags.node_flags(story, [SCORING.uid, GHOST.uid, "prediction:orphan", "stage:repo:evaluate",
                                     RAW_JAN.uid, V1.uid, "no:such-node"])
    assert found[SCORING.uid] == ["lineage gap: model version without a source run"]
    assert set(found[GHOST.uid]) == {"lineage gap: model version without a source run",
                                     "lineage gap: referenced but never ingested (placeholder)"}
    assert found["prediction:orphan"] == ["lineage gap: prediction without a resolvable model"]
    assert found["stage:repo:evaluate"] == ["lineage gap: stage never run"]
    assert set(found) == {SCORING.uid, GHOST.uid, "prediction:orphan", "stage:repo:evaluate"}  # raw data: not a gap


# ---- parameter checking and the CLI ----------------------------------------

def test_bad_params_are_usage_errors(story: Graph) -> None:
    with pytest.raises(UsageError, match="needs --param model_version"):
        ask(story, "model-training-data", {})
    with pytest.raises(UsageError, match="no parameter 'nope'"):
        ask(story, "lineage-gaps", {"nope": 1})
    with pytest.raises(UsageError, match="must be an integer"):
        ask(story, "serving-model-at", {"model": "model:credit-limit", "at": "2026-03-01", "window_hours": "x"})
    with pytest.raises(UsageError, match="ISO 8601"):
        ask(story, "serving-model-at", {"model": "model:credit-limit", "at": "yesterday"})
    with pytest.raises(UsageError, match="not a ModelVersion"):
        ask(story, "model-training-data", {"model_version": "model:credit-limit"})
    with pytest.raises(UsageError, match="ambiguous"):
        ask(story, "model-training-data", {"model_version": "model:credit-limit@"})
    with pytest.raises(UsageError, match="one of day, hour"):
        ask(story, "impact-of-data", {"data_version": RAW_FEB.uid, "window": "week"})


def test_cli_lists_questions_and_reports_usage_errors(story: Graph) -> None:
    runner = CliRunner()
    listing = runner.invoke(cli, ["ask"])
    assert listing.exit_code == 0
    assert all(re.search(rf"^{name}\b", listing.output, re.M) for name in CATALOG)
    missing = runner.invoke(cli, ["ask", "model-training-data"])
    assert missing.exit_code == 2 and "Traceback" not in missing.output
    assert "model_version" in missing.output
    unknown = runner.invoke(cli, ["ask", "no-such-question"])
    assert unknown.exit_code == 2 and "lineage-gaps" in unknown.output


def test_cli_ask_json_and_csv(story: Graph) -> None:
    runner = CliRunner()
    out = runner.invoke(cli, ["ask", "models-in-chain", "--param", "prediction=p2", "--format", "json"])
    assert out.exit_code == 0, out.output
    assert [r["model_version"] for r in json.loads(out.stdout)] == [V2.uid, SCORING.uid]
    csv = runner.invoke(cli, ["ask", "training-serving-skew", "--param", f"model_version={V2.uid}", "--format", "csv"])
    assert csv.exit_code == 0 and csv.stdout.splitlines()[0] == "feature,in_training,in_serving,status"
