"""One identity rule: the first record of an id stands. A later record with
other content is a conflict: set aside with both values, flagged, recorded in
the graph; never merged. An exact duplicate changes nothing.

Two ways in:

- an adapter groups the records of one input record in an
  :class:`~provex.vocab.records.Entry` with the :class:`~provex.vocab.records.Claim` s
  they stand on (an OpenLineage run event: ``run -[:INSTANCE_OF]-> its job``).
  :class:`ClaimCheck` holds entries back until it has checked their claims,
  against the claims made earlier in this ingest and, in batches, against the
  graph; an entry that contradicts one becomes a :class:`~provex.vocab.records.Conflict`;
- an adapter (or the prediction store) that finds a conflict itself hands the
  :class:`~provex.vocab.records.Conflict` in directly.

The pipeline turns each Conflict into a Reject (with both values, in the
rejects file), a ``conflicting-record`` Flag (on the IngestRun), and a
``Conflict`` node (kind, key, first, later, file, line), which the
``conflicting-records`` row of ``provex ask lineage-gaps`` lists.
"""

from __future__ import annotations

from typing import Any

from provex.graph.connection import Graph
from provex.vocab import model
from provex.vocab.model import EDGE_TYPES, KINDS
from provex.vocab.records import Claim, Conflict, Entry, Flag, Node, Record, Reject

FLAG = "conflicting-record"
CHECK_EVERY = 500  # entries held back per look-up in the graph
KEEP = 2_000  # characters of each value kept on the Conflict node


class ClaimCheck:
    """Entries in, records out, in the order they came: an entry's records once
    its claims hold, or one Conflict. Other records pass straight through."""

    def __init__(self, graph: Graph, every: int = CHECK_EVERY) -> None:
        self.graph = graph
        self.every = every
        self.known: dict[tuple[str, str], str] = {}  # (edge type, src uid) -> dst uid, claimed in this ingest
        self.pending: list[Entry] = []

    def admit(self, record: Record) -> list[Record]:
        """What can go on now (nothing while an entry waits for its look-up)."""
        if not isinstance(record, Entry):
            return [record]
        if not record.claims:
            return list(record.records)
        self.pending.append(record)
        return self.drain() if len(self.pending) >= self.every else []

    def drain(self) -> list[Record]:
        """Every waiting entry decided (one look-up in the graph)."""
        entries, self.pending = self.pending, []
        stored = self._stored([c for e in entries for c in e.claims if (c.type, c.src.uid) not in self.known])
        out: list[Record] = []
        for entry in entries:
            out.extend(self._decide(entry, stored))
        return out

    def _decide(self, entry: Entry, stored: dict[tuple[str, str], set[str]]) -> list[Record]:
        mine: dict[tuple[str, str], str] = {}
        for claim in entry.claims:
            key = (claim.type, claim.src.uid)
            first = mine.get(key) or self.known.get(key)
            firsts = {first} if first else stored.get(key, set())
            if firsts and claim.dst.uid not in firsts:
                return [Conflict(claim.kind, claim.src.uid, ", ".join(sorted(firsts)), claim.dst.uid,
                                 entry.file, entry.line, entry.raw)]
            mine[key] = claim.dst.uid
        self.known.update(mine)
        return list(entry.records)

    def _stored(self, claims: list[Claim]) -> dict[tuple[str, str], set[str]]:
        """The targets the graph already has for the claims' (type, src): one read per (type, src label)."""
        groups: dict[tuple[str, str], set[str]] = {}
        for claim in claims:
            if claim.type not in EDGE_TYPES or claim.src.label not in KINDS:
                raise ValueError(f"claim on an unknown edge type or label: {claim.type!r}, {claim.src.label!r}")
            groups.setdefault((claim.type, claim.src.label), set()).add(claim.src.uid)
        found: dict[tuple[str, str], set[str]] = {}
        for (etype, label), uids in groups.items():
            rows = self.graph.read(f"UNWIND $uids AS uid MATCH (s:{label} {{uid: uid}})-[:{etype}]->(d) "
                                   "RETURN uid, collect(DISTINCT d.uid) AS dsts", {"uids": sorted(uids)})
            for row in rows:
                found[(etype, row["uid"])] = set(row["dsts"])
        return found


def reject(conflict: Conflict) -> Reject:
    """The later record, set aside, with both values."""
    return Reject(conflict.file, conflict.line,
                  f"conflicting record ({conflict.kind}): {conflict.key} was first recorded with {conflict.first[:500]}; "
                  f"this record says {conflict.later[:500]}. The first stands and this one was set aside, not merged: "
                  "fix the id (or the content) at the source, then ingest again.", conflict.raw)


def flag(conflict: Conflict) -> Flag:
    return Flag(FLAG, f"{conflict.key}: first {conflict.first[:200]}, then {conflict.later[:200]} (set aside)",
                conflict.file, conflict.line)


def node(conflict: Conflict) -> Node:
    """The conflict as a graph node (one per contested id and later value)."""
    props: dict[str, Any] = {"kind": conflict.kind, "key": conflict.key, "name": conflict.key,
                             "first": conflict.first[:KEEP], "later": conflict.later[:KEEP],
                             "file": conflict.file, "line": conflict.line}
    return Node(model.conflict(conflict.kind, conflict.key, conflict.later), props, conflict.file)
