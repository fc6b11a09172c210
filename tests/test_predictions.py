"""Prediction logs: JSONL / CSV / gzip through the real pipeline into the real
Neo4j, model resolution against a real MLflow registry, rejects, watermarks,
constant memory, and the corpus logs."""

from __future__ import annotations

import csv
import gzip
import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from graphcheck import count, edges, props

from provex.graph.connection import Graph
from provex.graph.pipeline import Summary, ingest
from provex.graph.questions import ask
from provex.graph.writer import Writer
from provex.ingest import predictions
from provex.store import query
from provex.vocab import model as m
from provex.vocab.facts import Facts
from provex.vocab.records import Edge, Node, Watermark

MV = m.model_version("credit-limit", "3").uid


def rec(pid: str = "cl-000123", **over: Any) -> dict[str, Any]:
    """A canonical prediction record; ``over`` replaces fields (None drops one)."""
    base: dict[str, Any] = {
        "prediction_id": pid, "timestamp": "2026-04-02T10:15:00Z",
        "model_name": "credit-limit", "model_version": "3",
        "inputs": {"income": 52000, "purchase_total_3m": 1834.5},
        "input_hash": "sha256:" + "ab" * 32, "output": 1500.0, "score": 0.83,
        "feature_pipeline": "9f1c2ab", "subject_id": "c-0042", "household_id": "h-0017",
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def write_jsonl(path: Path, records: list[Any], mode: str = "w") -> Path:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, mode + "t", encoding="utf-8") as fh:
        for r in records:
            fh.write((r if isinstance(r, str) else json.dumps(r)) + "\n")
    return path


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def run(graph: Graph, path: Path, **kw: Any) -> Summary:
    """One `provex ingest predictions` of ``path`` through the real pipeline."""
    return ingest(graph, kind="predictions", uri=str(path.resolve()),
                  read=lambda state: predictions.read(path, state=state, **kw))


def group_uid(mv_uid: str = MV, hour: str = "2026-04-02T10") -> str:
    return m.prediction_group(mv_uid, hour).uid


def facts_of(records: Any) -> list[dict[str, Any]]:
    """The predictions an adapter read yields (its fact batches), decoded."""
    from provex.store.query import decode

    return [decode(row) for r in records if isinstance(r, Facts) for row in r.rows()]


def uids_of(records: Any) -> list[str]:
    return [row["uid"] for row in facts_of(records)]


# --- the graph of one log -------------------------------------------------------------------


def test_full_record_becomes_prediction_model_group_override_and_chain(graph: Graph, tmp_path: Path) -> None:
    override = {"rule": "max-limit-cap", "original": 30000.0, "final": 25000.0}
    log = write_jsonl(tmp_path / "p.jsonl", [
        rec("sc-000122", model_name="spend-score", model_version="7", output=0.4, inputs={"income": 52000}),
        rec(timestamp="2026-04-02T12:15:00+02:00", upstream=["sc-000122"], override=override),
    ])
    summary = run(graph, log)
    assert summary.rejected == []
    p = props(graph, m.prediction("cl-000123").uid)
    assert p["timestamp"] == "2026-04-02T10:15:00Z"
    assert (p["output"], p["original_output"], p["score"]) == (25000.0, 30000.0, 0.83)
    assert (p["input.income"], p["input.purchase_total_3m"]) == (52000, 1834.5)
    assert (p["resolved"], p["model_ref"], p["subject_id"], p["household_id"]) == (True, "credit-limit@3", "c-0042", "h-0017")
    assert p["feature_pipeline"] == "9f1c2ab" and p["input_hash"] == "sha256:" + "ab" * 32
    other = m.model_version("spend-score", "7").uid
    assert edges(graph, "PREDICTED_BY") == {
        ("prediction:cl-000123", MV), ("prediction:sc-000122", other), (group_uid(), MV), (group_uid(other), other)}
    assert ("prediction:cl-000123", "prediction:sc-000122") in edges(graph, "USED")
    over_uid = m.override("cl-000123", "max-limit-cap").uid
    assert edges(graph, "OVERRIDDEN_BY") == {("prediction:cl-000123", over_uid)}
    o = props(graph, over_uid)
    assert (o["rule"], o["original_output"], o["final_output"]) == ("max-limit-cap", 30000.0, 25000.0)
    g = props(graph, group_uid())
    assert (g["hour"], g["model"], g["count"]) == ("2026-04-02T10", MV, 1)


def test_features_linked_once_per_group_not_per_prediction(graph: Graph, tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "p.jsonl", [rec(f"cl-{i}", timestamp=f"2026-04-02T10:{i:02d}:00Z") for i in range(50)])
    run(graph, log)
    used = edges(graph, "USED")
    assert used == {(group_uid(), m.feature("income").uid), (group_uid(), m.feature("purchase_total_3m").uid)}
    assert props(graph, group_uid())["count"] == 50
    assert count(graph, "Prediction") == 50


def test_csv_gzip_with_input_columns_upstream_and_override(graph: Graph, tmp_path: Path) -> None:
    header = ["prediction_id", "timestamp", "model_uri", "input.income", "input.zip", "output", "score",
              "upstream", "override.rule", "override.original", "override.final", "subject_id"]
    log = write_csv(tmp_path / "p.csv.gz", header, [
        ["cl-1", "2026-04-02T10:15:00Z", "models:/credit-limit/3", "52000", "01234", "1500.0", "0.83",
         "sc-1;sc-2", "", "", "", "007"],
        ["cl-2", "2026-04-02T10:16:00Z", "models:/credit-limit/3", "1.5e3", "x", "", "",
         "", "max-limit-cap", "30000", "25000", "008"],
    ])
    summary = run(graph, log)
    assert summary.rejected == []
    one, two = props(graph, "prediction:cl-1"), props(graph, "prediction:cl-2")
    assert (one["input.income"], one["input.zip"], one["output"], one["score"], one["subject_id"]) == (
        52000, "01234", 1500.0, 0.83, "007")
    assert (two["input.income"], two["output"], two["original_output"]) == (1500.0, 25000, 30000)
    assert {("prediction:cl-1", "prediction:sc-1"), ("prediction:cl-1", "prediction:sc-2")} <= edges(graph, "USED")
    assert edges(graph, "OVERRIDDEN_BY") == {("prediction:cl-2", m.override("cl-2", "max-limit-cap").uid)}
    assert props(graph, group_uid())["count"] == 2


def test_epoch_text_timestamp_and_override_without_original(tmp_path: Path) -> None:
    log = write_csv(tmp_path / "p.csv", ["prediction_id", "timestamp", "output", "override.rule"],
                    [["a", "1775124900", "5", "cap"]])
    [row] = facts_of(predictions.read(log))
    assert row["timestamp"] == "2026-04-02T10:15:00Z"
    assert (row["output"], row["override_rule"], row["original_output"]) == (5, "cap", 5)


def test_gzip_detected_by_magic_bytes_without_suffix(tmp_path: Path) -> None:
    log = tmp_path / "p.log"
    log.write_bytes(gzip.compress((json.dumps(rec()) + "\n").encode()))
    assert uids_of(predictions.read(log)) == ["prediction:cl-000123"]


def test_mapping_file_and_model_option(graph: Graph, tmp_path: Path) -> None:
    mapping = tmp_path / "map.toml"
    mapping.write_text('[fields]\nrequest_id = "prediction_id"\nts = "timestamp"\nyhat = "output"\n'
                       'age = "input.age"\n[defaults]\nfeature_pipeline = "fp-{stem}-{line}"\n')
    log = write_jsonl(tmp_path / "serving.jsonl", [{"request_id": "r1", "ts": 1775124900, "yhat": 3, "age": 41}])
    run(graph, log, mapping=str(mapping), model="churn@2")
    p = props(graph, "prediction:r1")
    assert (p["timestamp"], p["output"], p["input.age"], p["feature_pipeline"]) == ("2026-04-02T10:15:00Z", 3, 41, "fp-serving-1")
    assert edges(graph, "PREDICTED_BY") >= {("prediction:r1", m.model_version("churn", "2").uid)}


def test_bad_mapping_is_a_usage_error(tmp_path: Path) -> None:
    from provex.vocab.errors import UsageError

    mapping = tmp_path / "map.toml"
    mapping.write_text('[fields]\nrequest_id = "predictionid"\n')
    log = write_jsonl(tmp_path / "p.jsonl", [rec()])
    with pytest.raises(UsageError, match="predictionid"):
        list(predictions.read(log, mapping=str(mapping)))
    with pytest.raises(UsageError, match="NAME@VERSION"):
        list(predictions.read(log, model="churn"))


# --- model resolution -------------------------------------------------------------------------


def registry(tmp_path: Path) -> tuple[str, Any, str]:
    """A real MLflow SQLite store with one registered pyfunc version:
    (tracking URI, the ModelVersion, the logged model's model_id)."""
    import mlflow
    from mlflow.pyfunc import PythonModel

    class Double(PythonModel):
        def predict(self, context, model_input, params=None):  # noqa: ANN001, ANN201 (MLflow reads hints)
            return model_input * 2

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    artifacts = (tmp_path / "artifacts").as_uri()  # not ./mlruns in the working directory
    mlflow.set_experiment(experiment_id=mlflow.create_experiment("credit", artifact_location=artifacts))
    try:
        with mlflow.start_run() as active:
            info = mlflow.pyfunc.log_model(name="model", python_model=Double())
        version = mlflow.register_model(info.model_uri, "credit-limit")
    finally:  # MLflow's URIs are process globals: leave them as found (test_mlflow's stores follow)
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
    assert version.run_id == active.info.run_id
    return uri, version, info.model_id


def test_unresolved_predictions_link_when_mlflow_version_arrives(graph: Graph, tmp_path: Path) -> None:
    from provex.ingest import mlflow as mlflow_adapter

    uri, version, model_id = registry(tmp_path)
    mv_uid = m.model_version(version.name, version.version).uid
    log = write_jsonl(tmp_path / "p.jsonl", [
        rec("by-run", model_name=None, model_version=None, run_id=version.run_id),
        rec("by-model-id", model_name=None, model_version=None, model_id=model_id),
        rec("by-alias", model_name=None, model_version=None, model_uri="models:/credit-limit@champion"),
    ])
    first = run(graph, log)
    assert {f.kind for f in first.flags} == {"unresolved-model"}
    assert len(first.flags) == 3
    assert [props(graph, f"prediction:{p}")["resolved"] for p in ("by-run", "by-model-id", "by-alias")] == [False] * 3
    by_ref = {ref: group_uid(f"ref:{ref}") for ref in (f"run:{version.run_id}", f"model_id:{model_id}",
                                                         "models:/credit-limit@champion")}
    assert [props(graph, uid)["count"] for uid in by_ref.values()] == [1, 1, 1]
    assert gap_examples(graph) == ["prediction:by-alias", "prediction:by-model-id", "prediction:by-run"]

    second = ingest(graph, kind="mlflow", uri=uri, read=lambda state: mlflow_adapter.read(uri, state=state))
    assert second.links["prediction-groups-resolved"] == 2
    assert second.links["prediction-model-by-run-id"] == 1
    assert second.links["prediction-model-by-model-id"] == 1
    assert {(a, b) for a, b in edges(graph, "PREDICTED_BY") if a.startswith("prediction:")} == {
        ("prediction:by-run", mv_uid), ("prediction:by-model-id", mv_uid)}
    assert props(graph, "prediction:by-run")["resolved"] is True
    assert props(graph, "prediction:by-alias")["resolved"] is False
    assert props(graph, "prediction:by-alias")["model_alias"] == "champion"
    resolved_group, unresolved = group_uid(mv_uid), by_ref["models:/credit-limit@champion"]
    assert edges(graph, "PART_OF") >= {("prediction:by-run", resolved_group), ("prediction:by-alias", unresolved)}
    assert (props(graph, resolved_group)["count"], props(graph, unresolved)["count"]) == (2, 1)
    assert count(graph, "PredictionGroup") == 2  # the run id's and the model id's groups moved to the version's
    assert (resolved_group, mv_uid) in edges(graph, "PREDICTED_BY")
    assert (resolved_group, m.feature("income").uid) in edges(graph, "USED")
    assert gap_examples(graph) == ["prediction:by-alias"]
    assert ask(graph, "models-in-chain", {"prediction": "by-run"}).loc[0, "model_version"] == mv_uid


def gap_examples(graph: Graph) -> list[str]:
    """lineage-gaps' predictions without a resolvable model."""
    gaps = ask(graph, "lineage-gaps", {}).to_dict("records")
    return sorted(next(g["examples"] for g in gaps if g["gap"] == "prediction without a resolvable model"))


def test_alias_predictions_resolve_to_the_version_holding_the_alias_at_their_time(graph: Graph, tmp_path: Path) -> None:
    model_ref = m.model("credit-limit")
    v1, v2 = m.model_version("credit-limit", 1), m.model_version("credit-limit", 2)
    with Writer(graph, "registry") as writer:
        writer.add_all([
            Node(model_ref, {"name": "credit-limit"}), Node(v1, {"name": "credit-limit", "version": "1"}),
            Node(v2, {"name": "credit-limit", "version": "2"}),
            Edge("HAS_ALIAS", model_ref, v1, {"alias": "production", "valid_from": "2026-01-01T00:00:00Z",
                                              "valid_to": "2026-02-01T00:00:00Z"}, key=("alias", "valid_from")),
            Edge("HAS_ALIAS", model_ref, v2, {"alias": "production", "valid_from": "2026-02-01T00:00:00Z"},
                 supersedes=("alias",)),
        ])
    uri = "models:/credit-limit@production"
    log = write_jsonl(tmp_path / "p.jsonl", [
        rec("jan", model_name=None, model_version=None, model_uri=uri, timestamp="2026-01-15T10:00:00Z"),
        rec("feb", model_name=None, model_version=None, model_uri=uri, timestamp="2026-02-15T10:00:00+00:00"),
        rec("before", model_name=None, model_version=None, model_uri=uri, timestamp="2025-12-15T10:00:00Z"),
    ])
    summary = run(graph, log)
    assert summary.links["prediction-model-by-alias-at-time"] == 2
    linked = {(a, b) for a, b in edges(graph, "PREDICTED_BY") if a.startswith("prediction:")}
    assert linked == {("prediction:jan", v1.uid), ("prediction:feb", v2.uid)}
    assert props(graph, "prediction:before")["resolved"] is False
    assert props(graph, "prediction:feb")["resolved_by"] == "alias-at-time"


def test_predictions_ingested_after_the_registry_resolve_at_once(graph: Graph, tmp_path: Path) -> None:
    from provex.ingest import mlflow as mlflow_adapter

    uri, version, _ = registry(tmp_path)
    ingest(graph, kind="mlflow", uri=uri, read=lambda state: mlflow_adapter.read(uri, state=state))
    log = write_jsonl(tmp_path / "p.jsonl", [rec("late", model_name=None, model_version=None, run_id=version.run_id),
                                             rec("uri", model_name=None, model_version=None,
                                                 model_uri=f"models:/{version.name}/{version.version}")])
    summary = run(graph, log)
    mv_uid = m.model_version(version.name, version.version).uid
    assert summary.links["prediction-model-by-run-id"] == 1
    assert {("prediction:late", mv_uid), ("prediction:uri", mv_uid)} <= edges(graph, "PREDICTED_BY")
    assert props(graph, group_uid(mv_uid))["count"] == 2
    assert count(graph, "PredictionGroup") == 1  # no group of unresolved predictions is left


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(("line", "fragment"), [
    ("{not json", "not valid JSON"),
    ('["a list"]', "not an object"),
    (json.dumps(rec("x", output=None)), "missing required field 'output'"),
    (json.dumps(rec("x", timestamp=None)), "missing required field 'timestamp'"),
    (json.dumps(rec(None)), "missing required field 'prediction_id'"),
    (json.dumps(rec("x", timestamp="yesterday")), "field 'timestamp'"),
    (json.dumps(rec("x", score="high")), "field 'score' must be a number"),
    (json.dumps(rec("x", inputs=[1, 2])), "field 'inputs' must be an object"),
    (json.dumps(rec("x", upstream={"a": 1})), "field 'upstream' must be a list"),
    (json.dumps(rec("x", override={"original": 1})), "override.rule"),
    (json.dumps(rec("x", output={"a": 1})), "field 'output' must be"),
])
def test_bad_json_line_is_rejected_and_the_rest_ingested(graph: Graph, tmp_path: Path, line: str, fragment: str) -> None:
    log = write_jsonl(tmp_path / "p.jsonl", [rec("good-1"), line, rec("good-2")])
    summary = run(graph, log)
    assert [(r.line, fragment in r.reason) for r in summary.rejected] == [(2, True)]
    assert summary.rejected[0].raw == line
    assert count(graph, "Prediction") == 2


def test_bad_csv_rows_are_rejected(graph: Graph, tmp_path: Path) -> None:
    log = tmp_path / "p.csv"
    log.write_text("prediction_id,timestamp,output\n"
                   "a,2026-04-02T10:00:00Z,1\n"
                   "b,2026-04-02T10:00:00Z,1,extra\n"
                   "c,,2\n"
                   'd,2026-04-02T10:00:00Z,"unterminated\n')
    summary = run(graph, log)
    reasons = {r.line: r.reason for r in summary.rejected}
    assert set(reasons) == {3, 4, 5}
    assert "3 cells but the header has 3" not in reasons[3] and "4 cells" in reasons[3]
    assert "timestamp" in reasons[4]
    assert "quoting" in reasons[5]
    assert count(graph, "Prediction") == 1


def test_corrupt_gzip_keeps_lines_before_and_rejects_the_rest(graph: Graph, tmp_path: Path) -> None:
    whole = gzip.compress("".join(json.dumps(rec(f"p{i}")) + "\n" for i in range(2000)).encode())
    log = tmp_path / "p.jsonl.gz"
    log.write_bytes(whole[: len(whole) // 2])
    summary = run(graph, log)
    assert len(summary.rejected) == 1
    assert "gzip data is corrupt or truncated" in summary.rejected[0].reason
    ingested = summary.predictions["stored"]
    assert 0 < ingested < 2000 and summary.rejected[0].line == ingested + 1
    assert props(graph, group_uid())["count"] == ingested
    not_gzip = tmp_path / "q.jsonl.gz"
    not_gzip.write_text(json.dumps(rec()) + "\n")
    assert [type(r).__name__ for r in predictions.read(not_gzip)] == ["Reject"]


# --- re-ingest and append ---------------------------------------------------------------------


def snapshot(graph: Graph) -> dict[str, Any]:
    rows = graph.read("MATCH (n) WHERE NOT n:Source AND NOT n:IngestRun RETURN n.uid AS uid, properties(n) AS p")
    rels = graph.read("MATCH (a)-[e]->(b) WHERE NOT a:IngestRun RETURN a.uid AS a, type(e) AS t, b.uid AS b, "
                      "properties(e) AS p")
    return {"nodes": {r["uid"]: r["p"] for r in rows},
            "edges": sorted(json.dumps(r, sort_keys=True, default=str) for r in rels)}


def test_same_file_reingest_changes_nothing(graph: Graph, tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "p.jsonl", [rec(f"p{i}", upstream=[f"p{i - 1}"]) for i in range(1, 30)])
    run(graph, log)
    before = snapshot(graph)
    again = run(graph, log)
    assert again.counts == {} and again.rejected == []
    assert snapshot(graph) == before


def test_appended_lines_add_only_the_new_predictions(graph: Graph, tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "p.jsonl", [rec(f"p{i}") for i in range(40)])
    run(graph, log)
    write_jsonl(log, [rec(f"p{i}") for i in range(40, 55)], mode="a")
    second = run(graph, log)
    assert second.predictions["stored"] == 15
    assert count(graph, "Prediction") == 55
    assert props(graph, group_uid())["count"] == 55


def test_appended_gzip_and_csv_resume_after_the_last_line(tmp_path: Path) -> None:
    header = ["prediction_id", "timestamp", "output"]
    for name in ("p.csv", "p.csv.gz"):
        log = write_csv(tmp_path / name, header, [[f"a{i}", "2026-04-02T10:00:00Z", i] for i in range(30)])
        mark = next(r for r in predictions.read(log) if isinstance(r, Watermark))
        with (gzip.open if name.endswith(".gz") else open)(log, "at", newline="") as fh:
            csv.writer(fh).writerow(["b0", "2026-04-02T11:00:00Z", 5])
        new = uids_of(predictions.read(log, state={mark.name: mark.value}))
        assert new == ["prediction:b0"], name


def test_changed_head_reads_everything_again(tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "p.jsonl", [rec(f"p{i}") for i in range(5)])
    mark = next(r for r in predictions.read(log) if isinstance(r, Watermark))
    write_jsonl(log, [rec(f"q{i}") for i in range(6)])
    new = uids_of(predictions.read(log, state={mark.name: mark.value}))
    assert new == [f"prediction:q{i}" for i in range(6)]


def test_read_streams_a_large_log_in_constant_memory(tmp_path: Path) -> None:
    """100k lines through read() (no Neo4j): memory is bounded by one batch of
    facts, not by the lines read. tracemalloc watches the last quarter of the
    file (tracing all of it takes minutes): a per-line accumulation would stay
    held after the last batch is handed over."""
    lines, watched = 100_000, 30_000
    log = tmp_path / "big.jsonl"
    with log.open("w") as fh:
        for i in range(lines):
            fh.write(json.dumps(rec(f"p{i}", timestamp=f"2026-04-02T{i // 10_000:02d}:{i % 60:02d}:00Z",
                                    upstream=[f"p{i - 1}"])) + "\n")
    records = predictions.read(log)
    seen = 0
    for r in records:
        if isinstance(r, Facts):
            seen += len(r)
            if seen >= lines - watched:
                break
    tracemalloc.start()
    try:
        for r in records:
            seen += len(r) if isinstance(r, Facts) else 0
            del r
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == lines
    assert peak < 40_000_000, f"peak {peak / 1e6:.1f} MB while reading {watched} lines (one batch of facts is ~15 MB)"
    assert current < 1_000_000, f"{current / 1e6:.1f} MB still held after {watched} lines"


# --- the corpus -------------------------------------------------------------------------------

CORPUS_MAPPING = """
[fields]
prompt = "input.prompt"
prediction = "output"
[defaults]
prediction_id = "groq-{parent}-{stem}-{line}"
timestamp = "2025-01-01T00:00:00Z"
"""


def corpus_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line, record) pairs read independently of provex."""
    if path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            assert reader.fieldnames  # reads the header line
            out = []
            line = reader.line_num
            for row in reader:
                out.append((line + 1, row))
                line = reader.line_num
            return out
    return [(i, json.loads(t)) for i, t in enumerate(path.read_text().splitlines(), 1) if t.strip()]


def same_value(actual: Any, raw: str) -> bool:
    return str(actual) == raw or (isinstance(actual, (int, float)) and float(raw) == actual)


def test_corpus_prediction_logs_ingest_or_are_rejected(graph: Graph, corpus: Path, tmp_path: Path) -> None:
    mapping = tmp_path / "groq.toml"
    mapping.write_text(CORPUS_MAPPING)
    files = sorted(p for p in (corpus / "predictions").rglob("*") if p.suffix in (".csv", ".jsonl"))
    assert files
    for path in files:
        summary = run(graph, path, mapping=str(mapping))
        rows = corpus_rows(path)
        with_output = [(line, r) for line, r in rows if (r.get("prediction") or "").strip()]
        assert len(summary.rejected) == len(rows) - len(with_output), path
        assert all("output" in r.reason or "quoting" in r.reason for r in summary.rejected), path
        stored = {r["uid"]: r for r in query.get(graph.facts, [f"prediction:groq-{path.parent.name}-{path.stem}-{line}"
                                                                for line, _ in with_output])}
        for line, row in with_output:
            p = stored[f"prediction:groq-{path.parent.name}-{path.stem}-{line}"]
            assert p["inputs"]["prompt"] == row["prompt"].strip() and same_value(p["output"], str(row["prediction"]).strip())
            assert p["model_version"] is None
        if with_output:
            assert {f.kind for f in summary.flags} == {"unresolved-model"}


# --- one record per prediction id ------------------------------------------------------------------


def test_a_prediction_id_seen_again_with_other_content_is_set_aside_with_both_values(graph: Graph, tmp_path: Path) -> None:
    """Within one log, across logs, and made equal by a mapping: the first
    record stands, the later one is a reject naming both values, flagged and
    listed by lineage-gaps; an exact repeat changes nothing."""
    first = write_jsonl(tmp_path / "a.jsonl", [rec("dup", output=4280.0), rec("dup", output=4280.0),
                                                rec("dup", output=210.0), rec("other")])
    summary = run(graph, first)
    assert summary.predictions == {"stored": 2, "repeated": 1, "conflicting": 1, "groups": 1, "prediction_nodes": True}
    [reject] = summary.rejected
    assert (reject.file, reject.line) == (str(first), 3)
    assert "output 4280.0" in reject.reason and "210.0" in reject.reason and f"{first}:1" in reject.reason
    assert summary.flag_counts["conflicting-record"] == 1
    later = write_jsonl(tmp_path / "b.jsonl", [rec("dup", model_version="5", output=210.0)])
    again = run(graph, later)
    assert again.predictions["conflicting"] == 1 and again.rejected[0].line == 1
    assert query.get(graph.facts, ["prediction:dup"])[0]["output"] == 4280.0
    assert edges(graph, "PREDICTED_BY") >= {("prediction:dup", MV)}
    assert ("prediction:dup", m.model_version("credit-limit", "5").uid) not in edges(graph, "PREDICTED_BY")
    chain = ask(graph, "models-in-chain", {"prediction": "dup"})
    assert list(chain["model_version"]) == [MV]
    mapping = tmp_path / "map.toml"
    mapping.write_text('[fields]\nrequest = "prediction_id"\n')
    mapped = write_jsonl(tmp_path / "c.jsonl", [{**rec(None, output=1.0), "request": "other"}])
    assert run(graph, mapped, mapping=str(mapping)).predictions["conflicting"] == 1
    gaps = {g["gap"]: g for g in ask(graph, "lineage-gaps", {}).to_dict("records")}
    assert gaps["conflicting-records"]["count"] == 3
    assert any("prediction:dup" in uid for uid in gaps["conflicting-records"]["examples"])


def test_store_files_hold_only_their_own_partition_and_month() -> None:
    """The store writes one file per (partition, month) of a chunk: each row lands
    in its own, however pyarrow orders the groups (its group_by does not keep the
    sorted order here: slicing by it put run-id references in other partitions)."""
    import pyarrow as pa

    from provex.store.table import split

    parts = ["model:a@2", "ref:run:x", "ref:run:z", "ref:run:x", "model:a@1", "ref:run:y", "ref:run:z", "model:a@1",
             "model:a@2", "ref:run:z"]
    months = ["2026-04", "2026-03", "2026-04", "2026-01", "2026-04", "2026-01", "2026-03", "2026-04", "2026-02", "2026-02"]
    table = pa.table({"part": parts, "month": months, "moment": list(range(10)), "uid": [str(i) for i in range(10)]})
    got = split(table)
    assert [(p, mo) for p, mo, _ in got] == sorted(set(zip(parts, months)))
    for part, month, rows in got:
        assert set(rows["uid"].to_pylist()) == {str(i) for i in range(10) if (parts[i], months[i]) == (part, month)}
    assert split(table.slice(0, 0)) == []
