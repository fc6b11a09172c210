"""One ingest of one source: schema, records through the writer, rejects and
flags set aside, the source's watermark kept, cross-source links refreshed.

``read`` is the adapter call, given the state (watermarks) the previous ingest
of the same source left behind. graph/ never imports an adapter: the CLI
hands the adapter's records in.
"""

from __future__ import annotations

import json
import secrets
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from graph import linking, resolve, schema
from graph.connection import Graph
from graph.model import ingest_run as ingest_run_ref
from graph.model import source as source_ref
from graph.writer import DEFAULT_BATCH, Writer
from ingest.records import Edge, Flag, Node, Record, Reject, Watermark

REJECTS_BESIDE = "beside"  # write <input>.rejected.jsonl next to each input file
KEEP_REASONS = 200  # rejected/flag reasons kept on the IngestRun node


@dataclass
class Summary:
    kind: str
    uri: str
    ingest_run: str
    counts: dict[str, int] = field(default_factory=dict)
    rejected: list[Reject] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    links: dict[str, int] = field(default_factory=dict)
    rejects_files: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.rejected else 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "uri": self.uri,
            "ingest_run": self.ingest_run,
            "written": dict(sorted(self.counts.items())),
            "rejected": len(self.rejected),
            "rejects": [{"where": r.location(), "reason": r.reason} for r in self.rejected[:KEEP_REASONS]],
            "rejects_files": self.rejects_files,
            "flags": dict(Counter(f.kind for f in self.flags)),
            "links": self.links,
        }


def ingest(
    graph: Graph,
    *,
    kind: str,
    uri: str,
    read: Callable[[dict[str, Any]], Iterable[Record]],
    batch_size: int = DEFAULT_BATCH,
    rejects: str | Path | None = None,
) -> Summary:
    """Ingest one source. Records already written stay written if ``read`` fails
    half-way; the watermark is only saved after a complete pass."""
    schema.apply(graph)
    run_id = f"{kind}-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    summary = Summary(kind, uri, run_id)
    state = load_state(graph, uri)
    watermarks: dict[str, Any] = {}
    with Writer(graph, run_id, batch_size) as writer:
        for record in read(state):
            if isinstance(record, (Node, Edge)):
                writer.add(record)
            elif isinstance(record, Reject):
                summary.rejected.append(record)
            elif isinstance(record, Flag):
                summary.flags.append(record)
            elif isinstance(record, Watermark):
                watermarks[record.name] = record.value
    summary.counts = dict(writer.counts)
    summary.links = {**linking.run(graph), **resolve.run(graph)}
    schema.refresh_search(graph)
    summary.rejects_files = write_rejects(summary.rejected, rejects)
    record_ingest(graph, summary, {**state, **watermarks})
    return summary


def load_state(graph: Graph, uri: str) -> dict[str, Any]:
    rows = graph.read("MATCH (s:Source {uid: $uid}) RETURN s.state AS state", {"uid": source_ref(uri).uid})
    return json.loads(rows[0]["state"]) if rows and rows[0]["state"] else {}


def record_ingest(graph: Graph, summary: Summary, state: dict[str, Any]) -> None:
    """The Source (with its watermark) and the IngestRun (counts, reasons)."""
    now = datetime.now(timezone.utc).isoformat()
    details = summary.as_dict()
    graph.write(
        "MERGE (s:Node:Source {uid: $src}) ON CREATE SET s.first_seen = $now "
        "SET s.kind = $kind, s.name = $uri, s.state = $state, s.last_ingest = $run, s.last_seen = $now, "
        "s.placeholder = false "
        "MERGE (i:Node:IngestRun {uid: $iuid}) SET i.name = $run, i.kind = $kind, i.source_uri = $uri, "
        "i.started_at = $now, i.placeholder = false, i.written = $written, i.rejected = $rejected, "
        "i.rejects = $rejects, i.flags = $flags, i.links = $links "
        "MERGE (i)-[:PART_OF]->(s)",
        src=source_ref(summary.uri).uid,
        iuid=ingest_run_ref(summary.ingest_run).uid,
        run=summary.ingest_run,
        kind=summary.kind,
        uri=summary.uri,
        now=now,
        state=json.dumps(state, sort_keys=True, default=str),
        written=json.dumps(details["written"]),
        rejected=len(summary.rejected),
        rejects=json.dumps(details["rejects"]),
        flags=json.dumps([{"kind": f.kind, "message": f.message, "file": f.file, "line": f.line}
                          for f in summary.flags[:KEEP_REASONS]]),
        links=json.dumps(summary.links),
    )


def write_rejects(rejected: list[Reject], target: str | Path | None) -> list[str]:
    """Append rejects as JSON lines, to ``target`` or beside each input file."""
    if not rejected or target is None:
        return []
    by_file: dict[Path, list[Reject]] = {}
    for rej in rejected:
        path = Path(f"{rej.file}.rejected.jsonl") if target == REJECTS_BESIDE else Path(target)
        by_file.setdefault(path, []).append(rej)
    for path, rows in by_file.items():
        with path.open("w", encoding="utf-8") as out:
            for rej in rows:
                out.write(json.dumps({"file": rej.file, "line": rej.line, "reason": rej.reason, "raw": rej.raw}) + "\n")
    return [str(p) for p in by_file]
