"""One identity rule (graph/conflicts.py): the first record of an id stands; a
later one with other content is set aside with both values, flagged on the
IngestRun and listed by lineage-gaps' conflicting-records row, never merged.
An exact duplicate is a silent no-op. OpenLineage runIds here; a Conflict
handed in directly is the path the prediction store takes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from checksum import snapshot
from graphcheck import edges

from provex.graph import conflicts, pipeline, status
from provex.graph.connection import Graph
from provex.graph.questions import ask
from provex.ingest import openlineage
from provex.vocab import model as m
from provex.vocab.records import Claim, Conflict, Edge, Entry, Node

RUN = "0176a8c2-fe01-7439-87e6-56a1a1b4029f"
CHILD = "11111111-fe01-7439-87e6-56a1a1b4029f"


def event(job: str, time: str = "2026-04-02T10:00:00Z", run: str = RUN, kind: str = "START",
          parent: tuple[str, str] | None = None) -> dict[str, Any]:
    ev: dict[str, Any] = {"eventType": kind, "eventTime": time, "producer": "test",
                          "run": {"runId": run, "facets": {}}, "job": {"namespace": "ns", "name": job},
                          "inputs": [{"namespace": "db", "name": f"in_{job}"}], "outputs": []}
    if parent:
        ev["run"]["facets"]["parent"] = {"run": {"runId": parent[0]}, "job": {"namespace": "ns", "name": parent[1]}}
    return ev


def write(path: Path, *events: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def ingest(graph: Graph, path: Path, rejects: Path | None = None) -> pipeline.Summary:
    return pipeline.ingest(graph, kind="openlineage", uri=str(path), rejects=rejects,
                           read=lambda state: openlineage.read(path, state=state))


def gap(graph: Graph) -> dict[str, Any]:
    return next(r for r in ask(graph, "lineage-gaps", {}).to_dict("records") if r["gap"] == "conflicting-records")


def test_a_runid_sent_with_another_job_keeps_the_first(graph: Graph, tmp_path: Path) -> None:
    first = write(tmp_path / "a.jsonl", event("jobA"), event("jobA", "2026-04-02T10:05:00Z", kind="COMPLETE"))
    later = write(tmp_path / "b.jsonl", event("jobB", "2026-04-02T11:00:00Z"))
    assert ingest(graph, first).rejected_count == 0
    summary = ingest(graph, later, rejects=tmp_path / "rejects.jsonl")
    assert summary.rejected_count == 1 and summary.flag_counts == {conflicts.FLAG: 1}
    assert {(a, b) for a, b in edges(graph, "INSTANCE_OF")} == {(m.run(RUN).uid, m.stage("ns", "jobA").uid)}
    assert not graph.read("MATCH (:Run)-[:USED]->(d:Dataset {name: 'in_jobB'}) RETURN d")  # nothing of it merged
    [row] = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    assert (row["file"], row["line"]) == (str(later), 1) and json.loads(row["raw"])["job"]["name"] == "jobB"
    assert "stage:ns:jobA" in row["reason"] and "stage:ns:jobB" in row["reason"]  # both values
    run = status.ingest_runs(graph, 1)[0]
    assert [f["kind"] for f in run["flags"]] == [conflicts.FLAG]
    assert json.loads(graph.read("MATCH (i:IngestRun {name: $n}) RETURN i.flag_counts AS c",
                                 {"n": run["ingest_run"]})[0]["c"]) == {conflicts.FLAG: 1}
    found = gap(graph)
    assert found["count"] == 1 and found["examples"][0].startswith(f"conflict:openlineage-run-job:{m.run(RUN).uid}#")
    node = graph.read("MATCH (c:Conflict) RETURN c.kind AS kind, c.key AS key, c.first AS first, c.later AS later")
    assert node == [{"kind": "openlineage-run-job", "key": m.run(RUN).uid, "first": "stage:ns:jobA",
                     "later": "stage:ns:jobB"}]
    again = ingest(graph, later)  # still a conflict, still one Conflict node
    assert again.rejected_count == 1 and gap(graph)["count"] == 1


def test_within_one_file_and_through_a_parent_facet(graph: Graph, tmp_path: Path) -> None:
    path = write(tmp_path / "events.jsonl", event("jobA"), event("jobB", kind="COMPLETE"),
                 event("child", run=CHILD, parent=(RUN, "jobC")), event("child", run=CHILD, parent=(RUN, "jobA")))
    summary = ingest(graph, path)
    assert [(r.line, "stage:ns:jobA" in r.reason) for r in summary.rejected] == [(2, True), (3, True)]
    assert edges(graph, "INSTANCE_OF") == {(m.run(RUN).uid, m.stage("ns", "jobA").uid),
                                           (m.run(CHILD).uid, m.stage("ns", "child").uid)}
    assert gap(graph)["count"] == 2


def test_an_exact_duplicate_is_a_silent_no_op(graph: Graph, tmp_path: Path) -> None:
    path = write(tmp_path / "events.jsonl", event("jobA"), event("jobA"), event("jobA"))
    first = ingest(graph, path)
    assert first.rejected_count == 0 and not first.flag_counts
    before = snapshot(graph)
    again = ingest(graph, path)
    assert again.rejected_count == 0 and not again.flag_counts
    assert snapshot(graph) == before and gap(graph)["count"] == 0


def test_claims_held_back_across_look_ups_keep_the_order(graph: Graph) -> None:
    """Entries wait for one look-up per batch; the first of two claims in the
    same batch stands, and records without claims pass at once."""
    check = conflicts.ClaimCheck(graph, every=3)
    run, a, b = m.run("r"), m.stage("ns", "a"), m.stage("ns", "b")

    def entry(stage: m.Ref, line: int) -> Entry:
        return Entry((Node(run, {}), Edge("INSTANCE_OF", run, stage)), (Claim("k", "INSTANCE_OF", run, stage),), "f", line)

    assert check.admit(Node(a, {})) == [Node(a, {})]
    assert check.admit(entry(a, 1)) == [] and check.admit(entry(b, 2)) == []
    out = check.admit(entry(a, 3))
    assert [type(r).__name__ for r in out] == ["Node", "Edge", "Conflict", "Node", "Edge"]
    assert out[2].line == 2 and (out[2].first, out[2].later) == (a.uid, b.uid)
    assert check.drain() == []


def test_a_conflict_handed_in_is_set_aside_flagged_and_listed(graph: Graph, tmp_path: Path) -> None:
    """The path a source that finds its own conflicts takes (the prediction store: a prediction_id logged again
    with another output): the pipeline sets it aside, flags it and records it in the same row."""
    found = Conflict("prediction-id", m.prediction("p1").uid, '{"output": 1.0}', '{"output": 2.0}',
                     str(tmp_path / "log.jsonl"), 7, '{"prediction_id": "p1", "output": 2.0}')
    summary = pipeline.ingest(graph, kind="predictions", uri="log", read=lambda state: [found],
                              rejects=tmp_path / "rejects.jsonl")
    assert summary.rejected_count == 1 and summary.exit_code == 1 and summary.flag_counts == {conflicts.FLAG: 1}
    [row] = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    assert row["line"] == 7 and '"output": 1.0' in row["reason"] and '"output": 2.0' in row["reason"]
    assert gap(graph)["count"] == 1
    assert graph.read("MATCH (c:Conflict) RETURN c.kind AS k") == [{"k": "prediction-id"}]
    assert not graph.read("MATCH (p:Prediction) RETURN p")  # recorded as a conflict, not as a prediction
