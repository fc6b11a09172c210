"""The foundation against the real Neo4j: schema, the idempotent writer,
batch size, uniqueness, the read-only console, the pipeline's bookkeeping."""

from __future__ import annotations

import gc
import json

import pytest
from neo4j.exceptions import ConstraintError

from provex.graph import batch, console, pipeline, schema, search, status
from provex.graph.writer import Writer
from provex.vocab import model
from provex.vocab.errors import QueryError
from provex.vocab.records import Edge, Flag, Node, Reject, Watermark


def data_node(path: str = "data/raw/customers.csv", md5: str = "a" * 32, **props: object) -> Node:
    return Node(model.data_version(path, md5), {"path": path, "hash": md5, "hash_kind": "md5", **props}, "test")


def run_node(run_id: str = "r1", **props: object) -> Node:
    return Node(model.run(run_id), {"run_id": run_id, "name": run_id, **props}, "test")


def used(run_id: str = "r1", path: str = "data/raw/customers.csv", md5: str = "a" * 32) -> Edge:
    return Edge("USED", model.run(run_id), model.data_version(path, md5), {"role": "input"}, source="test")


def write(graph, records, batch_size: int = 100, run: str = "ingest-1") -> dict:
    with Writer(graph, run, batch_size) as writer:
        writer.add_all(records)
    return dict(writer.counts)


def snapshot(graph) -> tuple[list, list]:
    """Every node and edge with its properties, minus the two that move per ingest."""
    moving = ("last_seen", "last_ingest")
    nodes = graph.read("MATCH (n) RETURN n.uid AS uid, labels(n) AS labels, properties(n) AS p ORDER BY uid")
    edges = graph.read("MATCH (a)-[e]->(b) RETURN a.uid AS a, type(e) AS t, b.uid AS b, properties(e) AS p "
                       "ORDER BY a, t, b")
    for row in nodes + edges:
        row["labels"] = sorted(row.get("labels", []))
        row["p"] = {k: v for k, v in row["p"].items() if k not in moving}
    return nodes, edges


def test_schema_creates_constraints_and_indexes_idempotently(graph):
    schema.apply(graph)
    schema.apply(graph)
    constraints = {r["name"] for r in graph.read("SHOW CONSTRAINTS YIELD name RETURN name")}
    indexes = {r["name"]: r["type"] for r in graph.read("SHOW INDEXES YIELD name, type RETURN name, type")}
    assert {f"{label.lower()}_uid" for label in model.KINDS} | {"node_uid"} <= constraints
    assert indexes["provex_search"] == "FULLTEXT"
    assert "dataversion_hash" in indexes and "prediction_timestamp" in indexes


def test_writing_the_same_records_twice_changes_nothing(graph):
    records = [data_node(), run_node(), used(), data_node("data/prepared/train.csv", "b" * 32)]
    first = write(graph, records, run="ingest-1")
    before = snapshot(graph)
    second = write(graph, records, run="ingest-2")
    assert first == second == {"DataVersion": 2, "Run": 1, "USED": 1}
    assert snapshot(graph) == before
    last = graph.read("MATCH (n:Run) RETURN n.first_ingest AS first, n.last_ingest AS last")
    assert last == [{"first": "ingest-1", "last": "ingest-2"}]


def test_every_node_and_edge_records_its_source(graph):
    write(graph, [run_node(), used()])
    write(graph, [Node(model.run("r1"), {"status": "FINISHED"}, "mlflow:sqlite:///x.db")])
    node = graph.read("MATCH (n:Run) RETURN n.sources AS s, n.first_seen IS NOT NULL AS seen, n.status AS st")
    assert node == [{"s": ["test", "mlflow:sqlite:///x.db"], "seen": True, "st": "FINISHED"}]
    edge = graph.read("MATCH ()-[e:USED]->() RETURN e.sources AS s, e.first_ingest AS i")
    assert edge == [{"s": ["test"], "i": "ingest-1"}]


def test_edge_to_a_node_not_yet_ingested_makes_a_placeholder_that_fills_in_later(graph):
    write(graph, [run_node(), used()])
    assert graph.read("MATCH (n:DataVersion) RETURN n.placeholder AS p, n.path AS path") == [{"p": True, "path": None}]
    write(graph, [data_node()])
    assert graph.read("MATCH (n:DataVersion) RETURN n.placeholder AS p, n.path AS path") == [
        {"p": False, "path": "data/raw/customers.csv"}]
    assert graph.read("MATCH (n) RETURN count(n) AS c") == [{"c": 2}]


def test_fifty_thousand_records_in_batches(graph):
    records = [Node(model.prediction(f"p{i}"), {"prediction_id": f"p{i}", "output": float(i)}, "bulk")
               for i in range(50_000)]
    counts = write(graph, records, batch_size=5_000)
    assert counts == {"Prediction": 50_000}
    rows = graph.read("MATCH (n:Prediction) RETURN count(n) AS c, sum(n.output) AS total")
    assert rows == [{"c": 50_000, "total": float(sum(range(50_000)))}]


def test_uniqueness_constraint_refuses_a_duplicate_uid(graph):
    write(graph, [run_node()])
    with pytest.raises(ConstraintError):
        graph._driver.execute_query("CREATE (:Node:Run {uid: 'run:r1'})", database_=graph.settings.database)
    assert graph.read("MATCH (n {uid: 'run:r1'}) RETURN count(n) AS c") == [{"c": 1}]


def test_time_ranged_fact_closes_the_old_interval_instead_of_overwriting(graph):
    def alias(version: int, at: str) -> Edge:
        return Edge("HAS_ALIAS", model.model("credit-limit"), model.model_version("credit-limit", version),
                    {"alias": "production", "valid_from": at}, supersedes=("alias",), source="test")

    write(graph, [alias(1, "2026-01-01T00:00:00Z")])
    write(graph, [alias(1, "2026-01-05T00:00:00Z")])  # seen again, unmoved: no new interval
    write(graph, [alias(2, "2026-02-01T00:00:00Z")])
    rows = graph.read("MATCH (:Model)-[e:HAS_ALIAS]->(v) RETURN v.uid AS v, e.valid_from AS f, e.valid_to AS t "
                      "ORDER BY f")
    assert rows == [
        {"v": "model:credit-limit@1", "f": "2026-01-01T00:00:00Z", "t": "2026-02-01T00:00:00Z"},
        {"v": "model:credit-limit@2", "f": "2026-02-01T00:00:00Z", "t": None},
    ]


def test_console_refuses_writes_and_changes_nothing(graph):
    write(graph, [run_node()])
    for query in ("CREATE (n:X) RETURN n", "MATCH (n) SET n.x = 1", "MATCH (n) DETACH DELETE n",
                  "MERGE (n:X {a: 1})", "LOAD CSV FROM 'file:///etc/passwd' AS row RETURN row",
                  "CREATE INDEX foo FOR (n:X) ON (n.a)"):
        with pytest.raises(QueryError, match="Refused|not allowed|read-only"):
            console.run(graph, query)
    assert graph.read("MATCH (n) RETURN count(n) AS c") == [{"c": 1}]


def test_console_bounds_rows_and_reports_truncation(graph):
    rows, truncated = console.run(graph, "UNWIND range(1, 50) AS i RETURN i", limit=10)
    assert [r["i"] for r in rows] == list(range(1, 11)) and truncated
    rows, truncated = console.run(graph, "UNWIND range(1, 5) AS i RETURN i", limit=10)
    assert len(rows) == 5 and not truncated


def test_console_time_limit_stops_a_slow_query(graph):
    with pytest.raises(QueryError, match="time limit"):
        console.run(graph, "UNWIND range(1, 100000000) AS i WITH i WHERE i % 7 = 99 RETURN count(*)", timeout=0.5)


def test_search_finds_by_uid_name_path_and_hash_prefix(graph):
    write(graph, [data_node(md5="3f2a" + "c" * 28), run_node("train-scoring", name="train_scoring")])
    schema.apply(graph)  # waits for the full-text index to catch up
    assert search.search(graph, "3f2acc")[0]["ref"] == "data:data/raw/customers.csv@3f2a" + "c" * 28
    assert search.search(graph, "customers")[0]["label"] == "DataVersion"
    assert search.search(graph, "run:train-scoring")[0]["ref"] == "run:train-scoring"
    assert search.search(graph, "train_scoring")[0]["ref"] == "run:train-scoring"


def test_pipeline_keeps_good_records_sets_rejects_aside_and_saves_the_watermark(graph, tmp_path):
    log = tmp_path / "log.jsonl"
    log.write_text("{}\n")

    def read(state):
        yield run_node("a")
        yield Reject(str(log), 2, "missing prediction_id: add it", "{}")
        yield Flag("drift", "stage gone", "dvc.lock", 3)
        yield run_node("b")
        yield Watermark("lines", (state.get("lines") or 0) + 2)

    first = pipeline.ingest(graph, kind="predictions", uri="file-a", read=read, rejects=pipeline.REJECTS_BESIDE)
    assert first.exit_code == 1 and first.counts == {"Run": 2}
    rejected = [json.loads(line) for line in (tmp_path / "log.jsonl.rejected.jsonl").read_text().splitlines()]
    assert rejected == [{"file": str(log), "line": 2, "reason": "missing prediction_id: add it", "raw": "{}",
                         "source": "file-a"}]
    second = pipeline.ingest(graph, kind="predictions", uri="file-a", read=read)
    assert status.load_state(graph, "file-a") == {"lines": 4}
    runs = graph.read("MATCH (i:IngestRun)-[:PART_OF]->(s:Source) RETURN i.rejected AS r, i.flags AS f "
                      "ORDER BY i.started_at")
    assert [r["r"] for r in runs] == [1, 1] and json.loads(runs[0]["f"])[0]["kind"] == "drift"
    assert second.ingest_run != first.ingest_run


def test_the_collector_is_paced_while_an_ingest_reads_and_restored_after(graph):
    seen = []

    def read(state):
        seen.append(gc.get_threshold())
        yield run_node("paced")

    before = gc.get_threshold()
    pipeline.ingest(graph, kind="predictions", uri="file-paced", read=read)
    assert seen == [pipeline.GC_THRESHOLDS] and gc.get_threshold() == before != pipeline.GC_THRESHOLDS

    def broken(state):
        yield run_node("paced")
        raise OSError("disk gone")

    with pytest.raises(OSError):
        pipeline.ingest(graph, kind="predictions", uri="file-paced", read=broken)
    assert gc.get_threshold() == before

    first, second = pipeline._paced_gc(), pipeline._paced_gc()  # two ingests in threads, ending out of order
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert gc.get_threshold() == pipeline.GC_THRESHOLDS  # the second is still reading
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before


class _StaleWriter(Writer):
    """A writer whose look-up says every node is absent: what it sees when another
    writer creates the same nodes between its look-up and its CREATE."""

    def _absent(self, tx, label, rows):
        return {row["uid"] for row in rows}


def test_a_node_another_writer_created_meanwhile_is_merged_not_duplicated(graph):
    write(graph, [run_node(status="RUNNING")], run="ingest-1")
    with _StaleWriter(graph, "ingest-2") as writer:
        writer.add_all([run_node(status="FINISHED"), used()])
    assert graph.read("MATCH (n:Run) RETURN count(n) AS c, collect(n.status) AS s") == [{"c": 1, "s": ["FINISHED"]}]
    assert graph.read("MATCH (:Run)-[e:USED]->(d:DataVersion) RETURN count(e) AS c, d.placeholder AS p") == [
        {"c": 1, "p": True}]
    assert dict(writer.counts) == {"Run": 1, "USED": 1}


def test_created_and_merged_records_look_the_same(graph):
    write(graph, [run_node(), used(), data_node()], run="ingest-1")  # all new: the CREATE path
    created = snapshot(graph)
    schema.clear(graph)
    write(graph, [run_node(), data_node()], run="ingest-1")
    with _StaleWriter(graph, "ingest-1") as writer:  # CREATE refused: the MERGE path
        writer.add_all([run_node(), used(), data_node()])
    merged = snapshot(graph)
    strip = ("first_seen",)
    for rows in (created, merged):
        for part in rows:
            for row in part:
                row["p"] = {k: v for k, v in row["p"].items() if k not in strip}
    assert created == merged


class _FailingWriter(Writer):
    def _write(self, nodes, edges):
        raise QueryError("Neo4j rejected the query: boom")


def test_an_error_in_the_writing_thread_reaches_the_caller(graph):
    writer = _FailingWriter(graph, "ingest-1")
    writer.add(run_node())
    with pytest.raises(QueryError, match="boom"):
        writer.close()


def test_new_nodes_are_created_targets_first_so_their_edges_go_with_them():
    def row(uid):
        return {"uid": uid, "props": {}, "source": "log"}

    def edge(src, dst):
        return {"src": src, "dst": dst, "props": {}, "source": "log"}

    nodes = {"Prediction": [row("prediction:a"), row("prediction:b")], "PredictionGroup": [row("prediction-group:g")]}
    edges = {("PART_OF", "Prediction", "PredictionGroup", (), ()): [edge("prediction:a", "prediction-group:g")],
             ("USED", "Prediction", "Prediction", (), ()): [edge("prediction:b", "prediction:a")],
             ("PREDICTED_BY", "Prediction", "ModelVersion", (), ()): [edge("prediction:a", "model:m@1")]}
    absent = {"Prediction": {"prediction:a", "prediction:b"}, "PredictionGroup": {"prediction-group:g"}}
    plan = batch.plan(nodes, edges, absent)
    assert list(plan.fresh) == ["PredictionGroup", "Prediction"]
    pairs, rows = plan.fresh["Prediction"]
    assert pairs == [("PART_OF", "PredictionGroup"), ("PREDICTED_BY", "ModelVersion")]
    out = {r["uid"]: [[e["dst"] for e in r[f"out{i}"]] for i in range(2)] for r in rows}
    assert out == {"prediction:a": [["prediction-group:g"], ["model:m@1"]], "prediction:b": [[], []]}
    assert plan.late == {("USED", "Prediction", "Prediction"): [edge("prediction:b", "prediction:a")]}
    assert plan.targets == {"ModelVersion": {"model:m@1"}}
    assert plan.merge_nodes == {"Prediction": [], "PredictionGroup": []}
