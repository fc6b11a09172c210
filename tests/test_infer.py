"""Zero-config prediction logs: the field names and payload shapes of real serving
stacks, ingested without a mapping file. The payloads are the published examples of
the MLflow scoring server, KServe / the Open Inference Protocol v2, the Seldon
request logger and KServe's CloudEvents logger, wrapped the way a log keeps them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from graphcheck import count, edges, props

from provex.app.cli import cli
from provex.graph import status
from provex.graph.connection import Graph
from provex.graph.groups import node_props
from provex.graph.pipeline import Summary, ingest
from provex.ingest import predictions
from provex.store.query import decode
from provex.vocab import model as m
from provex.vocab.facts import Facts
from provex.vocab.records import Flag, Reject

TS = "2026-04-02T10:15:00Z"
# MLflow docs, "Deploy MLflow Model as a Local Inference Server" / scoring protocol
MLFLOW_SPLIT = {"columns": ["feature1", "feature2", "feature3", "feature4"], "data": [[1, 2, 3, 4], [5, 6, 7, 8]]}
MLFLOW_RECORDS = [{"a": "s1", "b": 1}, {"a": "s2", "b": 2}]
MLFLOW_INSTANCES = [[1, 2], [3, 4], [5, 6]]
MLFLOW_COLUMNS = {"a": ["s1", "s2", "s3"], "b": [1, 2, 3]}
# KServe docs, "Open Inference Protocol (V2)" sklearn iris example
OIP_REQUEST = {"inputs": [{"name": "input-0", "shape": [2, 4], "datatype": "FP32",
                           "data": [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]]}]}
OIP_RESPONSE = {"model_name": "sklearn-v2-iris", "model_version": None, "id": "823248cc-d770-4a51-9606-16803395569c",
                "parameters": None, "outputs": [{"name": "output-0", "shape": [2], "datatype": "INT64",
                                                 "parameters": None, "data": [1, 1]}]}
# Seldon Core's seldon-request-logger README: the Elasticsearch document it writes
SELDON_DOC = {
    "_index": "inference-log-seldon-default-seldon-single-model", "_type": "inferencerequest",
    "_id": "a8ea9850-7102-42c7-80d0-a6c26f1d8159", "found": True,
    "_source": {
        "response": {"payload": {"meta": {}, "data": {"names": ["proba"], "ndarray": [[0.1951846770138402]]}},
                     "dataType": "tabular", "elements": {"proba": [0.1951846770138402]},
                     "ce-time": "2020-01-31T11:01:23.607035762Z", "ce-source": "http://localhost:8000/"},
        "ServingEngine": "Seldon", "Predictor": "example", "Namespace": "default", "Model-Id": "classifier",
        "request": {"payload": {"meta": {}, "data": {"ndarray": [[1.0, 2.0]]}}, "dataType": "tabular", "elements": {},
                    "ce-time": "2020-01-31T11:01:23.593571905Z", "ce-source": "http://localhost:8000/"},
    },
}


def ce(kind: str, ident: str, data: Any, *, prefixed: bool = False, time: str = "2021-04-10T00:23:26.0789529Z") -> dict[str, Any]:
    """A KServe logger CloudEvent (its attributes as in the KServe logger docs), structured
    mode, or binary mode with the ``ce-`` headers kept as keys."""
    attrs = {"specversion": "1.0", "type": f"org.kubeflow.serving.inference.{kind}", "source": "http://localhost:9081/",
             "id": ident, "time": time, "inferenceservicename": "sklearn-iris", "namespace": "default", "endpoint": ""}
    if prefixed:
        attrs = {f"ce-{k}": v for k, v in attrs.items()}
    return {**attrs, "data": data}


def write(path: Path, records: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


def run(graph: Graph, path: Path, **kw: Any) -> Summary:
    return ingest(graph, kind="predictions", uri=str(path.resolve()),
                  read=lambda state: predictions.read(path, state=state, **kw))


def stored(path: Path, **kw: Any) -> tuple[dict[str, dict[str, Any]], list[Reject], list[Flag]]:
    """What read() yields, without a graph: prediction props by id, rejects, flags."""
    preds, rejects, flags = {}, [], []
    for r in predictions.read(path, **kw):
        if isinstance(r, Facts):
            preds.update({row["prediction_id"]: node_props(decode(row)) for row in r.rows()})
        elif isinstance(r, Reject):
            rejects.append(r)
        elif isinstance(r, Flag):
            flags.append(r)
    return preds, rejects, flags


def inferred(flags: list[Flag]) -> str:
    found = [f.message for f in flags if f.kind == "inferred-mapping"]
    assert len(found) == 1, flags
    return found[0]


# --- field names --------------------------------------------------------------------------------


def test_a_services_own_field_names_are_recognised_and_reported_on_the_ingest_run(graph: Graph, tmp_path: Path) -> None:
    log = write(tmp_path / "service.jsonl", [
        {"request_id": f"req-{i}", "timestamp": f"2026-04-02T10:1{i}:00Z", "prediction": "spam" if i else "ham",
         "confidence": 0.9 - i / 10, "model": "spam-filter@4", "text": f"message {i}"} for i in range(3)])
    summary = run(graph, log)
    assert summary.rejected == [] and summary.counts["Prediction"] == 3
    p = props(graph, m.prediction("req-1").uid)
    assert (p["output"], p["score"], p["timestamp"], p["extra.text"]) == ("spam", 0.8, "2026-04-02T10:11:00Z", "message 1")
    assert ("prediction:req-1", m.model_version("spam-filter", "4").uid) in edges(graph, "PREDICTED_BY")
    message = inferred(summary.flags)
    for note in ("prediction_id <- request_id (3 records)", "output <- prediction", "score <- confidence",
                 "model_name + model_version <- model"):
        assert note in message
    [run_row] = status.ingest_runs(graph)
    assert [f["message"] for f in run_row["flags"] if f["kind"] == "inferred-mapping"] == [message]


def test_the_issue_log_with_only_a_model_version_uses_the_model_option(tmp_path: Path) -> None:
    log = write(tmp_path / "svc.jsonl", [{"request_id": "r1", "timestamp": TS, "prediction": 1200, "confidence": 0.7,
                                          "model_version": "5", "text": "raise my limit"}])
    preds, rejects, _ = stored(log, model="credit-limit@5")
    assert rejects == []
    assert (preds["r1"]["model_name"], preds["r1"]["model_version"], preds["r1"]["output"]) == ("credit-limit", "5", 1200)


def test_csv_headers_with_other_names(tmp_path: Path) -> None:
    log = tmp_path / "p.csv"
    log.write_text("uuid,created_at,y_pred,probability,model_uri,input.income\n"
                   "007,2026-04-02T10:15:00Z,1500,0.83,models:/credit-limit/3,52000\n")
    preds, rejects, flags = stored(log)
    assert rejects == []
    p = preds["007"]  # the id stays text (leading zeros kept)
    assert (p["output"], p["score"], p["model_version"], p["input.income"]) == (1500, 0.83, "3", 52000)
    assert "prediction_id <- uuid" in inferred(flags) and "timestamp <- created_at" in inferred(flags)


def test_two_candidates_for_one_field_reject_the_record_naming_both(tmp_path: Path) -> None:
    log = write(tmp_path / "p.jsonl", [{"request_id": "a", "id": "b", "ts": TS, "label": 1},
                                       {"request_id": "c", "ts": TS, "label": 1}])
    preds, rejects, _ = stored(log)
    assert list(preds) == ["c"]
    [rej] = rejects
    assert rej.line == 1 and "ambiguous field 'prediction_id'" in rej.reason
    assert "'request_id', 'id'" in rej.reason and "mapping file" in rej.reason


def test_a_missing_essential_field_is_rejected_with_the_names_looked_for(tmp_path: Path) -> None:
    log = write(tmp_path / "p.jsonl", [{"request_id": "a", "when": TS, "label": 1}])
    preds, [rej], _ = stored(log)
    assert preds == {}
    assert "missing required field 'timestamp'" in rej.reason
    assert "ts, time, created_at, @timestamp" in rej.reason and "it has output, prediction_id, when" in rej.reason


def test_a_mapping_file_overrides_inference(tmp_path: Path) -> None:
    mapping = tmp_path / "map.toml"
    mapping.write_text('[fields]\nid = "prediction_id"\nwhen = "timestamp"\n')
    log = write(tmp_path / "p.jsonl", [{"request_id": "ignored", "id": "x1", "when": TS, "label": 3}])
    preds, rejects, flags = stored(log, mapping=mapping)
    assert rejects == [] and list(preds) == ["x1"]
    assert preds["x1"]["extra.request_id"] == "ignored"  # not inferred: the mapping names prediction_id
    assert inferred(flags) == "output <- label (1 record)"


def test_canonical_logs_report_nothing_inferred(tmp_path: Path) -> None:
    log = write(tmp_path / "p.jsonl", [{"prediction_id": "p", "timestamp": TS, "output": 1, "id": "other"}])
    preds, rejects, flags = stored(log)
    assert rejects == [] and preds["p"]["extra.id"] == "other"
    assert [f for f in flags if f.kind == "inferred-mapping"] == []


# --- MLflow scoring server --------------------------------------------------------------------


def test_mlflow_dataframe_split_batch_becomes_one_prediction_per_row(graph: Graph, tmp_path: Path) -> None:
    log = write(tmp_path / "mlflow.jsonl", [{"request_id": "b1", "timestamp": TS, "model_uri": "models:/credit-limit/3",
                                              "dataframe_split": MLFLOW_SPLIT, "predictions": [1500.0, 900.0]}])
    summary = run(graph, log)
    assert summary.rejected == [] and count(graph, "Prediction") == 2
    first, second = props(graph, "prediction:b1#0"), props(graph, "prediction:b1#1")
    assert (first["input.feature1"], first["input.feature4"], first["output"]) == (1, 4, 1500.0)
    assert (second["input.feature1"], second["output"]) == (5, 900.0)
    mv = m.model_version("credit-limit", "3").uid
    assert {("prediction:b1#0", mv), ("prediction:b1#1", mv)} <= edges(graph, "PREDICTED_BY")
    assert {dst for _, dst in edges(graph, "USED")} == {m.feature(f"feature{i}").uid for i in range(1, 5)}
    message = inferred(summary.flags)
    assert "payload: MLflow dataframe_split" in message and "payload: MLflow / KServe v1 predictions" in message
    assert "batches: one prediction per row, ids <id>#<row> (1 record)" in message


def test_mlflow_records_instances_and_column_inputs(tmp_path: Path) -> None:
    log = write(tmp_path / "mlflow.jsonl", [
        {"id": "r", "ts": TS, "dataframe_records": MLFLOW_RECORDS, "predictions": ["x", "y"]},
        {"id": "i", "ts": TS, "instances": MLFLOW_INSTANCES, "predictions": [0, 1, 0]},
        {"id": "c", "ts": TS, "inputs": MLFLOW_COLUMNS, "predictions": [[0.1, 0.9], [0.8, 0.2], [0.5, 0.5]]},
        {"id": "one", "ts": TS, "inputs": {"income": 52000, "history": [1, 2, 3]}, "predictions": [7]},
    ])
    preds, rejects, _ = stored(log)
    assert rejects == []
    assert (preds["r#1"]["input.a"], preds["r#1"]["input.b"], preds["r#1"]["output"]) == ("s2", 2, "y")
    assert (preds["i#2"]["input.instances"], preds["i#2"]["output"]) == ([5, 6], 0)
    assert (preds["c#0"]["input.a"], preds["c#0"]["input.b"], preds["c#0"]["output"]) == ("s1", 1, [0.1, 0.9])
    assert (preds["one"]["input.history"], preds["one"]["output"]) == ([1, 2, 3], 7)  # one row: no #0 suffix


def test_rows_and_predictions_that_do_not_pair_are_rejected(tmp_path: Path) -> None:
    log = write(tmp_path / "p.jsonl", [{"id": "x", "ts": TS, "dataframe_split": MLFLOW_SPLIT, "predictions": [1]}])
    _, [rej], _ = stored(log)
    assert "2 rows (MLflow dataframe_split)" in rej.reason and "1 predictions" in rej.reason


# --- KServe / Open Inference Protocol v2 -----------------------------------------------------------


def test_oip_v2_request_and_response_in_one_record(graph: Graph, tmp_path: Path) -> None:
    log = write(tmp_path / "v2.jsonl", [{"timestamp": TS, "request": OIP_REQUEST, "response": OIP_RESPONSE}])
    summary = run(graph, log)
    assert summary.rejected == []
    rid = OIP_RESPONSE["id"]
    p0, p1 = props(graph, f"prediction:{rid}#0"), props(graph, f"prediction:{rid}#1")
    assert (p0["input.input-0"], p0["output"]) == ([6.8, 2.8, 4.8, 1.4], 1)
    assert (p1["input.input-0"], p1["output"], p1["model_name"]) == ([6.0, 3.4, 4.5, 1.6], 1, "sklearn-v2-iris")
    assert "payload: Open Inference Protocol v2 inputs" in inferred(summary.flags)


def test_oip_v2_flat_row_major_tensors_split_by_shape(tmp_path: Path) -> None:
    request = {"id": "42", "inputs": [{"name": "input0", "shape": [2, 2], "datatype": "UINT32", "data": [1, 2, 3, 4]}],
               "outputs": [{"name": "output0"}]}
    response = {"id": "42", "model_name": "adder", "model_version": "2",
                "outputs": [{"name": "output0", "shape": [2, 2], "datatype": "FP32", "data": [1.0, 1.1, 2.0, 2.1]},
                            {"name": "probability", "shape": [2], "datatype": "FP32", "data": [0.6, 0.7]}]}
    log = write(tmp_path / "v2.jsonl", [{"time": TS, "request": request, "response": response}])
    preds, rejects, _ = stored(log)
    assert rejects == []
    p = preds["42#1"]
    assert (p["input.input0"], p["output"], p["extra.probability"], p["model_ref"]) == ([3, 4], [2.0, 2.1], 0.7, "adder@2")


# --- Seldon Core request logger -----------------------------------------------------------------


def test_seldon_request_logger_document(graph: Graph, tmp_path: Path) -> None:
    log = write(tmp_path / "seldon.jsonl", [SELDON_DOC])
    summary = run(graph, log)
    assert summary.rejected == []
    p = props(graph, "prediction:a8ea9850-7102-42c7-80d0-a6c26f1d8159")
    assert (p["output"], p["input.ndarray"], p["model_name"]) == (0.1951846770138402, [1.0, 2.0], "classifier")
    assert p["timestamp"] == "2020-01-31T11:01:23.593571Z"
    assert p["extra.Predictor"] == "example" and p["resolved"] is False
    message = inferred(summary.flags)
    assert "payload: Seldon protocol data" in message and "envelope: request and response in one record" in message


def test_seldon_named_columns_and_tensor(tmp_path: Path) -> None:
    doc = {"request_id": "s1", "@timestamp": TS,
           "request": {"data": {"names": ["a", "b"], "tensor": {"shape": [2, 2], "values": [1, 2, 3, 4]}}},
           "response": {"data": {"names": ["t:0", "t:1"], "ndarray": [[0.1, 0.9], [0.7, 0.3]]}}}
    preds, rejects, _ = stored(write(tmp_path / "s.jsonl", [doc]))
    assert rejects == []
    assert (preds["s1#1"]["input.a"], preds["s1#1"]["input.b"], preds["s1#1"]["output"]) == (3, 4, [0.7, 0.3])


# --- CloudEvents (KServe's logger) -----------------------------------------------------------------


def test_kserve_cloudevents_request_and_response_joined_by_id(graph: Graph, tmp_path: Path) -> None:
    instances = {"instances": [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]]}
    log = write(tmp_path / "ce.jsonl", [
        ce("request", "0009174a", instances),
        ce("response", "77777777", {"predictions": [2]}, prefixed=True),  # its request comes later
        ce("request", "3b2c", json.dumps({"instances": [[5.0, 3.0, 1.6, 0.2]]})),  # data as text, never answered
        ce("response", "0009174a", {"predictions": [1, 1]}),
        ce("request", "77777777", {"instances": [[5.1, 3.5, 1.4, 0.2]]}, prefixed=True),
        ce("response", "lonely", {"predictions": [0]}),
    ])
    summary = run(graph, log, model="sklearn-iris@1")
    p = props(graph, "prediction:0009174a#1")
    assert (p["input.instances"], p["output"], p["timestamp"]) == ([6.0, 3.4, 4.5, 1.6], 1, "2021-04-10T00:23:26.078952Z")
    assert p["model_name"] == "sklearn-iris" and p["extra.ce.namespace"] == "default"
    assert props(graph, "prediction:77777777")["input.instances"] == [5.1, 3.5, 1.4, 0.2]
    assert props(graph, "prediction:lonely")["output"] == 0  # kept without inputs
    assert count(graph, "Prediction") == 4
    [rej] = summary.rejected
    assert rej.line == 3 and "'3b2c' has no response event" in rej.reason
    message = inferred(summary.flags)
    assert "envelope: CloudEvents, request and response joined by id (2 records)" in message
    assert "response without its request" in message


# --- the preview --------------------------------------------------------------------------------


def test_dry_run_shows_the_inferred_mapping_and_first_records_without_a_graph(tmp_path: Path) -> None:
    log = write(tmp_path / "svc.jsonl", [{"request_id": f"r{i}", "ts": TS, "prediction": i} for i in range(9)]
                + ["not json"])
    env = {"NEO4J_URI": "bolt://127.0.0.1:1", "NEO4J_PASSWORD": "x"}  # never contacted
    result = CliRunner().invoke(cli, ["ingest", "predictions", "--dry-run", "--limit", "3", "--format", "json",
                                      str(log)], env=env)
    assert result.exit_code == 0, result.output
    [shown] = json.loads(result.output)
    assert [p["prediction_id"] for p in shown["predictions"]] == ["r0", "r1", "r2"]
    assert "prediction_id <- request_id (3 records)" in shown["inferred"]
    text = CliRunner().invoke(cli, ["ingest", "predictions", "--dry-run", str(log)], env=env)
    assert text.exit_code == 0 and "prediction_id <- request_id" in text.output and "r4" in text.output
