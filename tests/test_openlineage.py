"""OpenLineage events through the real pipeline into the real Neo4j: runs,
jobs, datasets and versions, parent runs, code, column lineage, events out of
order, rejects, and every file of the corpus."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from graphcheck import edges, props

from provex.graph.connection import Graph
from provex.graph.pipeline import Summary, ingest
from provex.ingest import openlineage
from provex.vocab import model as m

RUN_ID = "0176a8c2-fe01-7439-87e6-56a1a1b4029f"
PARENT_ID = "0176a8c2-0000-7439-87e6-56a1a1b40000"
SHA = "5f3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b"


def dataset(name: str, namespace: str = "postgres://db:5432", **facets: Any) -> dict[str, Any]:
    return {"namespace": namespace, "name": name, "facets": facets}


def event(event_type: str | None = "COMPLETE", time: str = "2026-04-02T10:05:00Z", run_id: str | None = RUN_ID,
          job_name: str = "daily_features", **over: Any) -> dict[str, Any]:
    """A RunEvent with defaults; ``over`` replaces top-level keys (None drops one)."""
    base: dict[str, Any] = {
        "eventType": event_type, "eventTime": time,
        "run": {"runId": run_id} if run_id else {},
        "job": {"namespace": "airflow", "name": job_name},
        "inputs": [], "outputs": [],
        "producer": "https://github.com/OpenLineage/OpenLineage/tree/1.20.0/client/python",
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def write(path: Path, events: list[Any], lines: bool | None = None) -> Path:
    lines = path.suffix in (".jsonl", ".ndjson") if lines is None else lines
    text = "\n".join(e if isinstance(e, str) else json.dumps(e) for e in events) if lines else json.dumps(
        events[0] if len(events) == 1 else events)
    path.write_text(text + "\n")
    return path


def run(graph: Graph, path: Path, rejects: Path | None = None) -> Summary:
    return ingest(graph, kind="openlineage", uri=str(path.resolve()),
                  read=lambda state: openlineage.read(path, state=state), rejects=rejects)


def test_run_event_with_datasets_versions_parent_code_and_column_lineage(graph: Graph, tmp_path: Path) -> None:
    lineage = {"fields": {"spend_3m": {"inputFields": [
        {"namespace": "postgres://db:5432", "name": "public.transactions", "field": "amount",
         "transformations": [{"type": "DIRECT", "subtype": "AGGREGATION"}]}]}}}
    ev = event(
        run={"runId": RUN_ID, "facets": {"parent": {"run": {"runId": PARENT_ID},
                                                    "job": {"namespace": "airflow", "name": "daily"}},
                                         "nominalTime": {"nominalStartTime": "2026-04-02T10:00:00Z"}}},
        job={"namespace": "airflow", "name": "daily_features", "facets": {
            "sourceCodeLocation": {"type": "git", "url": "https://github.com/acme/etl", "path": "dags/f.py",
                                   "version": SHA},
            "sourceCode": {"language": "python", "sourceCode": "select 1"},
            "sql": {"query": "INSERT INTO features SELECT ..."}}},
        inputs=[dataset("public.transactions", version={"datasetVersion": "v42"}), dataset("public.customers")],
        outputs=[dataset("public.features", columnLineage=lineage,
                         schema={"fields": [{"name": "spend_3m", "type": "double"}]})],
    )
    summary = run(graph, write(tmp_path / "e.json", [ev]))
    assert summary.rejected == []
    run_uid, stage_uid = m.run(RUN_ID).uid, m.stage("airflow", "daily_features").uid
    stage = props(graph, stage_uid)
    assert (stage["kind"], stage["name"], stage["namespace"]) == ("openlineage-job", "daily_features", "airflow")
    assert (stage["source_code_language"], stage["sql"]) == ("python", "INSERT INTO features SELECT ...")
    r = props(graph, run_uid)
    assert (r["state"], r["end_time"], r["nominal_start_time"]) == ("COMPLETE", "2026-04-02T10:05:00Z", "2026-04-02T10:00:00Z")
    txn = "postgres://db:5432/public.transactions"
    txn_v = m.data_version(txn, "v42").uid
    features_ds = m.dataset("postgres://db:5432/public.features").uid
    assert edges(graph, "INSTANCE_OF") == {(run_uid, stage_uid), (m.run(PARENT_ID).uid, m.stage("airflow", "daily").uid)}
    assert edges(graph, "PART_OF") == {(run_uid, m.run(PARENT_ID).uid)}
    assert edges(graph, "USED") == {(run_uid, txn_v), (run_uid, m.dataset("postgres://db:5432/public.customers").uid),
                                    (run_uid, m.code_version(SHA).uid)}
    assert edges(graph, "WAS_GENERATED_BY") == {(features_ds, run_uid)}
    assert edges(graph, "VERSION_OF") == {(txn_v, m.dataset(txn).uid)}
    assert props(graph, m.code_version(SHA).uid)["repo_url"] == "https://github.com/acme/etl"
    out_f, in_f = m.feature("postgres://db:5432/public.features#spend_3m").uid, m.feature(f"{txn}#amount").uid
    assert edges(graph, "HAS_FEATURE") == {(features_ds, out_f), (m.dataset(txn).uid, in_f)}
    assert edges(graph, "WAS_DERIVED_FROM") == {(out_f, in_f)}
    rel = graph.read("MATCH ()-[e:WAS_DERIVED_FROM]->() RETURN e.transformations AS t, e.run_id AS r")[0]
    assert (rel["t"], rel["r"]) == (["DIRECT/AGGREGATION"], RUN_ID)
    assert props(graph, features_ds)["schema_fields"] == ["spend_3m"]


def test_events_out_of_order_merge_into_one_run_by_event_time(graph: Graph, tmp_path: Path) -> None:
    done = write(tmp_path / "complete.json", [event("COMPLETE", "2026-04-02T10:05:00Z")])
    early = write(tmp_path / "early.jsonl", [event("RUNNING", "2026-04-02T12:02:00+02:00"),
                                             event("START", "2026-04-02T10:00:00Z")])
    run(graph, done)
    run(graph, early)
    r = props(graph, m.run(RUN_ID).uid)
    assert (r["state"], r["start_time"], r["end_time"]) == ("COMPLETE", "2026-04-02T10:00:00Z", "2026-04-02T10:05:00Z")
    assert r["event_time_RUNNING"] == "2026-04-02T10:02:00Z"
    later_fail = write(tmp_path / "fail.json", [event("FAIL", "2026-04-02T10:09:00Z")])
    run(graph, later_fail)
    r = props(graph, m.run(RUN_ID).uid)
    assert (r["state"], r["end_time"]) == ("FAIL", "2026-04-02T10:09:00Z")
    assert graph.read("MATCH (r:Run) RETURN count(r) AS c")[0]["c"] == 1


def test_job_and_dataset_events(graph: Graph, tmp_path: Path) -> None:
    job_ev = {"eventTime": "2026-04-02T10:00:00Z", "job": {"namespace": "dbt", "name": "orders"},
              "inputs": [dataset("raw.orders")], "outputs": [dataset("mart.orders")]}
    ds_ev = {"eventTime": "2026-04-02T10:00:00Z",
             "dataset": dataset("mart.orders", version={"datasetVersion": "7"})}
    summary = run(graph, write(tmp_path / "e.json", [job_ev, ds_ev]))
    assert summary.rejected == []
    stage = m.stage("dbt", "orders").uid
    raw, mart = m.dataset("postgres://db:5432/raw.orders").uid, m.dataset("postgres://db:5432/mart.orders").uid
    assert edges(graph, "USED") == {(stage, raw)}
    assert edges(graph, "WAS_GENERATED_BY") == {(mart, stage)}
    assert edges(graph, "VERSION_OF") == {(m.data_version("postgres://db:5432/mart.orders", "7").uid, mart)}
    assert graph.read("MATCH (r:Run) RETURN count(r) AS c")[0]["c"] == 0


def test_directory_of_json_jsonl_and_ndjson_files(graph: Graph, tmp_path: Path) -> None:
    ids = [f"0176a8c2-fe01-7439-87e6-56a1a1b402{i:02d}" for i in range(4)]
    folder = tmp_path / "events"
    (folder / "sub").mkdir(parents=True)
    write(folder / "a.json", [event(run_id=ids[0]), event(run_id=ids[1])])
    write(folder / "sub" / "b.jsonl", [event(run_id=ids[2])])
    write(folder / "c.ndjson", [event(run_id=ids[3])])
    write(folder / "ignored.txt", [event(run_id="not-read")])
    summary = run(graph, folder)
    assert summary.rejected == []
    runs = {r["uid"] for r in graph.read("MATCH (r:Run) RETURN r.uid AS uid")}
    assert runs == {m.run(i).uid for i in ids}


def test_bad_events_are_rejected_with_reasons_and_the_rest_ingested(graph: Graph, tmp_path: Path) -> None:
    bad = [
        ("{broken", "not valid JSON"),
        (event(run_id=None), "run.runId is missing"),
        (event(run_id="${json-unit.any-string}"), "run.runId is missing (or a test placeholder)"),
        (event(job={"namespace": "airflow"}), "job.name is missing"),
        (event(time="{{RUN_START_TIME}}"), "eventTime"),
        (event(time=None), "eventTime is missing"),
        (event(event_type="FINISHED"), "eventType 'FINISHED' is not one of"),
        ({"columnLineage": {"fields": {}}}, "not an OpenLineage event"),
        ([1, 2], "must be a JSON object"),
    ]
    good = event(run_id="0176a8c2-fe01-7439-87e6-56a1a1b4aaaa")
    log = write(tmp_path / "e.jsonl", [good] + [b for b, _ in bad])
    summary = run(graph, log)
    reasons = {r.line: r.reason for r in summary.rejected}
    assert sorted(reasons) == list(range(2, len(bad) + 2))
    for line, (_, fragment) in enumerate(bad, 2):
        assert fragment in reasons[line], (line, reasons[line])
    assert {r["uid"] for r in graph.read("MATCH (r:Run) RETURN r.uid AS uid")} == {m.run(good["run"]["runId"]).uid}
    assert any(f.kind == "test-placeholder" for f in summary.flags)


def test_bad_parent_facet_is_flagged_not_fatal(graph: Graph, tmp_path: Path) -> None:
    ev = event(run={"runId": RUN_ID, "facets": {"parent": {"run": {"noRunId": "x"}, "job": {"namespace": "a", "name": "b"}}}})
    summary = run(graph, write(tmp_path / "e.json", [ev]))
    assert summary.rejected == [] and [f.kind for f in summary.flags] == ["bad-facet"]
    assert edges(graph, "PART_OF") == set()


def test_reingest_changes_no_counts_or_lineage(graph: Graph, tmp_path: Path) -> None:
    path = write(tmp_path / "e.json", [event(inputs=[dataset("a")], outputs=[dataset("b")])])
    query = ("MATCH (n) WHERE NOT n:Source AND NOT n:IngestRun OPTIONAL MATCH (n)-[e]->(x) "
             "RETURN n.uid AS uid, n.state AS state, type(e) AS t, x.uid AS x ORDER BY uid, t, x")
    run(graph, path)
    before = graph.read(query)
    run(graph, path)
    assert graph.read(query) == before


# --- the corpus -------------------------------------------------------------------------------


def corpus_events(path: Path) -> list[Any]:
    text = path.read_text(encoding="utf-8")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return doc if isinstance(doc, list) else [doc]


def real(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip()) and not value.startswith("${")


def usable_run(ev: dict[str, Any]) -> bool:
    """The test's own reading of the spec: what a RunEvent needs to be placed."""
    job, run_facet = ev.get("job") or {}, ev.get("run") or {}
    try:
        datetime.fromisoformat(ev.get("eventTime"))
    except (TypeError, ValueError):
        return False
    return (real(run_facet.get("runId")) and real(job.get("namespace")) and real(job.get("name"))
            and ev.get("eventType", "OTHER") in ("START", "RUNNING", "COMPLETE", "FAIL", "ABORT", "OTHER"))


def expected(ev: Any) -> str:
    """'run', 'other' (a usable Job/Dataset event) or 'reject'."""
    if not isinstance(ev, dict):
        return "reject"
    if "run" in ev or "eventType" in ev:
        return "run" if usable_run(ev) else "reject"
    if "dataset" in ev:
        return "other" if real((ev["dataset"] or {}).get("name")) and real(ev["dataset"].get("namespace")) else "reject"
    if "job" in ev:
        return "other" if real(ev["job"].get("name")) and real(ev["job"].get("namespace")) else "reject"
    return "reject"


def job_claims(ev: dict[str, Any]) -> list[tuple[str, tuple[str, str]]]:
    """The (runId, job) pairs a usable run event places: its own run, and its parent
    facet's run when that names a job (placeholders dropped, as the adapter does)."""
    claims = [(ev["run"]["runId"], (ev["job"]["namespace"], ev["job"]["name"]))]
    facets = ev["run"].get("facets")
    parent = facets.get("parent") if isinstance(facets, dict) else None
    if isinstance(parent, dict) and isinstance(parent.get("run"), dict) and isinstance(parent.get("job"), dict):
        run_id, job = parent["run"].get("runId"), parent["job"]
        names = [job.get("namespace"), job.get("name")]
        if isinstance(run_id, str) and run_id and not run_id.startswith("${json-unit") and all(
                isinstance(n, str) and not n.startswith("${json-unit") for n in names):
            claims.append((run_id, (names[0], names[1])))
    return claims


def test_every_corpus_event_is_ingested_or_rejected(graph: Graph, corpus: Path, tmp_path: Path) -> None:
    """The corpus's test fixtures reuse runIds across jobs: the first event that
    places a runId in a job stands, each later one naming another job is a
    conflict (a reject), and no run is ever an instance of two jobs."""
    root = corpus / "openlineage"
    summary = run(graph, root, rejects=tmp_path / "rejects.jsonl")
    lines = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    assert len(lines) == summary.rejected_count and all(r["reason"] for r in lines)
    rejected = Counter(r["file"] for r in lines)
    want_runs: dict[str, tuple[str, str]] = {}
    placed: dict[str, tuple[str, str]] = {}  # runId -> its job, as the events place them (parents included)
    conflicts = 0
    for path in sorted(root.rglob("*.json")):
        events = corpus_events(path)
        kinds = [expected(ev) for ev in events]
        for i, (ev, kind) in enumerate(zip(events, kinds)):
            if kind != "run":
                continue
            mine: dict[str, tuple[str, str]] = {}
            if any(mine.setdefault(run_id, placed.get(run_id, job)) != job for run_id, job in job_claims(ev)):
                kinds[i] = "conflict"
                continue
            placed.update(mine)
            want_runs.setdefault(ev["run"]["runId"], mine[ev["run"]["runId"]])
        conflicts += kinds.count("conflict")
        assert rejected[str(path)] == kinds.count("reject") + kinds.count("conflict"), path
    assert want_runs and conflicts and summary.flag_counts["conflicting-record"] == conflicts
    instance = edges(graph, "INSTANCE_OF")
    for run_id, job in want_runs.items():
        assert (m.run(run_id).uid, m.stage(*job).uid) in instance, run_id
    jobs_of = Counter(src for src, dst in instance if src.startswith("run:"))
    assert max(jobs_of.values()) == 1  # never linked to both
    states = graph.read("MATCH (r:Run) WHERE r.kind = 'openlineage-run' AND r.state IS NOT NULL "
                        "RETURN r.run_id AS id, r.state AS state")
    assert {s["id"] for s in states} <= set(want_runs)
