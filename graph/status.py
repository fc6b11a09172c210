"""What was ingested, from where, when and with what result: the ``Source``
nodes (one per source URI, holding its watermark) and the ``IngestRun`` nodes
(one per ingest: counts, the first rejects and flags). Written here after each
ingest and read here for the CLI and the app, so the encoding lives in one place."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from provex.graph.connection import Graph
from provex.vocab.model import ingest_run as ingest_run_ref
from provex.vocab.model import source as source_ref
from provex.vocab.secrets import scrubbed, shown_uri

SOURCES = """
MATCH (s:Source)
OPTIONAL MATCH (i:IngestRun)-[:PART_OF]->(s)
RETURN s.kind AS kind, s.name AS source, s.last_ingest AS last_ingest, s.last_seen AS last_seen,
       coalesce(s.last_success_at, s.last_seen) AS last_success, s.last_failure_at AS last_failure,
       s.last_error AS last_error, coalesce(s.failures, 0) AS failures,
       count(i) AS ingests, sum(coalesce(i.rejected, 0)) AS rejected
ORDER BY kind, source
"""
RUNS = """
MATCH (i:IngestRun)
RETURN i.name AS ingest_run, i.kind AS kind, i.source_uri AS source, i.started_at AS started_at,
       i.written AS written, i.rejected AS rejected, i.rejects AS rejects, i.flags AS flags,
       i.predictions AS predictions
ORDER BY started_at DESC LIMIT $limit
"""
NODE_COUNTS = """
MATCH (n:Node) UNWIND [l IN labels(n) WHERE l <> 'Node'] AS label
RETURN label, count(*) AS count, sum(CASE WHEN n.placeholder THEN 1 ELSE 0 END) AS placeholders ORDER BY label
"""
EDGE_COUNTS = "MATCH ()-[e]->() RETURN type(e) AS type, count(*) AS count ORDER BY type"


def load_state(graph: Graph, uri: str) -> dict[str, Any]:
    rows = graph.read("MATCH (s:Source {uid: $uid}) RETURN s.state AS state", {"uid": source_ref(shown_uri(uri)).uid})
    return json.loads(rows[0]["state"]) if rows and rows[0]["state"] else {}


def record_ingest(graph: Graph, summary: Any, state: dict[str, Any]) -> None:
    """The Source (with its watermark) and the IngestRun (counts, reasons)."""
    now = datetime.now(UTC).isoformat()
    details = summary.as_dict()
    uri = shown_uri(summary.uri)  # a Source node never holds credentials, whoever calls
    graph.write(
        "MERGE (s:Node:Source {uid: $src}) ON CREATE SET s.first_seen = $now "
        "SET s.kind = $kind, s.name = $uri, s.state = $state, s.last_ingest = $run, s.last_seen = $now, "
        "s.last_success_at = $now, s.failures = 0, s.placeholder = false "
        "MERGE (i:Node:IngestRun {uid: $iuid}) SET i.name = $run, i.kind = $kind, i.source_uri = $uri, "
        "i.started_at = $now, i.placeholder = false, i.written = $written, i.rejected = $rejected, "
        "i.rejects = $rejects, i.flags = $flags, i.flag_counts = $flag_counts, i.links = $links, i.predictions = $predictions "
        "MERGE (i)-[:PART_OF]->(s)",
        src=source_ref(uri).uid,
        iuid=ingest_run_ref(summary.ingest_run).uid,
        run=summary.ingest_run,
        kind=summary.kind,
        uri=uri,
        now=now,
        state=json.dumps(state, sort_keys=True, default=str),
        written=json.dumps(details["written"]),
        rejected=summary.rejected_count,
        rejects=scrubbed(json.dumps(details["rejects"])),
        flags=scrubbed(json.dumps([{"kind": f.kind, "message": f.message, "file": f.file, "line": f.line}
                                   for f in summary.flags])),
        flag_counts=json.dumps(dict(summary.flag_counts), sort_keys=True),  # every flag counted, e.g. conflicting-record
        links=json.dumps(summary.links),
        predictions=json.dumps(details.get("predictions") or {}),
    )


def record_failure(graph: Graph, kind: str, uri: str, error: str) -> None:
    """A failed ingest of a source: when, the error, consecutive failures so far."""
    uri = shown_uri(uri)
    graph.write(
        "MERGE (s:Node:Source {uid: $src}) ON CREATE SET s.first_seen = $now, s.placeholder = false "
        "SET s.kind = $kind, s.name = $uri, s.last_failure_at = $now, s.last_error = $error, "
        "s.failures = coalesce(s.failures, 0) + 1",
        src=source_ref(uri).uid, kind=kind, uri=uri, now=datetime.now(UTC).isoformat(), error=scrubbed(error)[:2000],
    )


def record_round(graph: Graph, name: str, details: dict[str, Any], runs: list[str]) -> None:
    """One round of a scheduled ingest (``provex watch``) as an IngestRun of kind
    ``round``; each source's own IngestRun is PART_OF it."""
    graph.write(
        "MERGE (w:Node:IngestRun {uid: $uid}) SET w.name = $name, w.kind = 'round', w.source_uri = $config, "
        "w.started_at = $started, w.finished_at = $now, w.placeholder = false, w.written = '{}', "
        "w.rejected = $rejected, w.rejects = '[]', w.flags = '[]', w.round = $details "
        "WITH w UNWIND $runs AS run MATCH (i:IngestRun {uid: run}) MERGE (i)-[:PART_OF]->(w)",
        uid=ingest_run_ref(name).uid, name=name, config=details.get("config", ""), started=details["started_at"],
        now=datetime.now(UTC).isoformat(), rejected=int(details.get("rejected", 0)),
        details=json.dumps(details, sort_keys=True, default=str), runs=[ingest_run_ref(r).uid for r in runs],
    )


def staleness(rows: list[dict[str, Any]], stale_after: float, now: datetime | None = None) -> list[dict[str, Any]]:
    """``rows`` (from :func:`sources`) with ``since_success_s`` and ``stale``: no
    success for longer than ``stale_after`` seconds (or never)."""
    now = now or datetime.now(UTC)
    out = []
    for row in rows:
        last = _parse_time(row.get("last_success"))
        age = (now - last).total_seconds() if last else None
        out.append({**row, "since_success_s": round(age, 1) if age is not None else None,
                    "stale": age is None or age > stale_after})
    return out


def _parse_time(text: Any) -> datetime | None:
    try:
        value = datetime.fromisoformat(str(text))
    except (TypeError, ValueError):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _loads(text: Any, default: Any) -> Any:
    """JSON kept on an IngestRun node (tolerates missing or bad values)."""
    try:
        return json.loads(text) if text else default
    except (TypeError, ValueError):
        return default


def sources(graph: Graph) -> list[dict[str, Any]]:
    """One row per source: kind, URI, last ingest, how many ingests and rejects."""
    return graph.read(SOURCES)


def ingest_runs(graph: Graph, limit: int = 100) -> list[dict[str, Any]]:
    """The latest ingests, newest first, with ``written`` (label -> count),
    ``rejects`` and ``flags`` (lists of dicts) decoded."""
    runs = graph.read(RUNS, {"limit": int(limit)})
    for run in runs:
        written = _loads(run["written"], {})
        run["written"] = written if isinstance(written, dict) else {}
        stored = _loads(run.get("predictions"), {})
        run["predictions"] = stored if isinstance(stored, dict) else {}
        for field in ("rejects", "flags"):
            items = _loads(run[field], [])
            run[field] = [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
    return runs


def node_counts(graph: Graph) -> list[dict[str, Any]]:
    """Nodes per label (and how many of them are placeholders)."""
    return graph.read(NODE_COUNTS)


def edge_counts(graph: Graph) -> list[dict[str, Any]]:
    """Edges per type."""
    return graph.read(EDGE_COUNTS)
