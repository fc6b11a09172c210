"""The idempotent batch writer: records in, ``UNWIND $rows ... MERGE`` out.

Nodes are grouped by label and edges by (type, endpoint labels, identity
keys); each group is written in chunks through ``execute_write``. Every node
and edge records where it came from: ``sources`` (every source that asserted
it), ``first_seen`` / ``first_ingest`` (set once) and ``last_seen`` /
``last_ingest`` (moved by each ingest that asserts it again). Nothing is ever
deleted; an edge endpoint not yet ingested is created as a placeholder
(``placeholder = true``) that the real node fills in later.

Every record is checked before it is buffered (:func:`provex.vocab.values.problem`):
one Neo4j cannot store (a NUL in a key, a 2^64 integer, a lone surrogate) is
handed back as a :class:`Reject` and never reaches the batch, so it cannot
fail the good records written with it. A record with more than
``MAX_PROPS`` properties keeps the first ``MAX_PROPS`` as properties and the
rest as JSON text in ``props_overflow`` (each new property key is a schema
token in Neo4j: 200,000 of them stall the server), with a :class:`Flag`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from provex.graph.connection import Graph
from provex.vocab import values
from provex.vocab.model import BASE_LABEL, EDGE_TYPES, KINDS, is_identifier
from provex.vocab.records import Edge, Flag, Node, Reject

DEFAULT_BATCH = 2_000
MAX_PROPS = 1_000  # properties stored one by one per node or edge; the rest go to props_overflow

_STAMP_NEW = "{v}.first_seen = $now, {v}.first_ingest = $run"
_STAMP = (
    "{v}.last_seen = $now, {v}.last_ingest = $run, "
    "{v}.sources = CASE WHEN r.source IN coalesce({v}.sources, []) THEN {v}.sources "
    "ELSE coalesce({v}.sources, []) + r.source END"
)


def node_query(label: str) -> str:
    return (
        f"UNWIND $rows AS r MERGE (n:{BASE_LABEL}:{label} {{uid: r.uid}}) "
        f"ON CREATE SET {_STAMP_NEW.format(v='n')} "
        f"SET n += r.props, n.placeholder = false, {_STAMP.format(v='n')}"
    )


def _endpoint(var: str, label: str, uid: str) -> str:
    return (
        f"MERGE ({var}:{BASE_LABEL}:{label} {{uid: {uid}}}) "
        f"ON CREATE SET {var}.placeholder = true, {_STAMP_NEW.format(v=var)} "
    )


def edge_query(edge_type: str, src_label: str, dst_label: str, key: tuple[str, ...]) -> str:
    ident = ", ".join(f"{k}: r.props.{k}" for k in key)
    pattern = f"[e:{edge_type} {{{ident}}}]" if key else f"[e:{edge_type}]"
    return (
        "UNWIND $rows AS r "
        + _endpoint("a", src_label, "r.src")
        + _endpoint("b", dst_label, "r.dst")
        + f"MERGE (a)-{pattern}->(b) "
        f"ON CREATE SET {_STAMP_NEW.format(v='e')} "
        f"SET e += r.props, {_STAMP.format(v='e')}"
    )


def temporal_edge_query(edge_type: str, src_label: str, dst_label: str, slot: tuple[str, ...]) -> str:
    """A fact with a time range (a slot: same ``src``, type and ``slot`` props),
    one row at a time, each row atomic: the row first write-locks ``src``, so
    two writers racing on the same slot are serialised by Neo4j and each sees
    the other's intervals. Then:

    - if the interval covering ``valid_from`` already points at ``dst`` (the
      fact seen again, unmoved, or this very row written before), nothing new;
    - else that covering interval is closed at ``valid_from`` and a new one
      opened to ``dst``, ending where the next later interval of the slot
      starts (open when there is none).

    Replays and racing writers therefore never add an interval twice."""
    same = " AND ".join(f"{{v}}.{k} = r.props.{k}" for k in slot) or "true"
    return (
        "UNWIND $rows AS r CALL { WITH r "
        + _endpoint("a", src_label, "r.src")
        + _endpoint("b", dst_label, "r.dst")
        + "SET a._provex_lock = true WITH a, b, r "
        f"OPTIONAL MATCH (a)-[prev:{edge_type}]->(px) WHERE {same.format(v='prev')} "
        "AND prev.valid_from <= r.props.valid_from AND (prev.valid_to IS NULL OR prev.valid_to > r.props.valid_from) "
        "WITH a, b, r, prev, px ORDER BY prev.valid_from DESC, (px = b) DESC LIMIT 1 "
        f"OPTIONAL MATCH (a)-[nxt:{edge_type}]->() WHERE {same.format(v='nxt')} AND nxt.valid_from > r.props.valid_from "
        "WITH a, b, r, prev, coalesce(px = b, false) AS covered, min(nxt.valid_from) AS next_from "
        f"FOREACH (_ IN CASE WHEN covered THEN [1] ELSE [] END | SET {_STAMP.format(v='prev')}) "
        "FOREACH (_ IN CASE WHEN NOT covered AND prev IS NOT NULL THEN [1] ELSE [] END | "
        "SET prev.valid_to = r.props.valid_from) "
        f"FOREACH (_ IN CASE WHEN covered THEN [] ELSE [1] END | CREATE (a)-[e:{edge_type}]->(b) "
        f"SET e += r.props, e.valid_to = next_from, {_STAMP_NEW.format(v='e')}, {_STAMP.format(v='e')}) "
        "REMOVE a._provex_lock }"
    )


def plain_props(props: Mapping[str, Any]) -> dict[str, Any]:
    """Neo4j property values: primitives and homogeneous lists; the rest as JSON."""
    out: dict[str, Any] = {}
    for name, value in props.items():
        if value is None:
            continue
        if isinstance(value, (str, int, float, bool)):
            out[name] = value
        elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            out[name] = list(value)
        elif isinstance(value, (list, tuple)) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            out[name] = list(value)
        elif isinstance(value, datetime):
            out[name] = value.astimezone(UTC).isoformat()
        else:
            out[name] = json.dumps(value, sort_keys=True, default=str)
    return out


class Writer:
    """Buffers records and writes them in batches. Use as a context manager,
    or call :meth:`flush` at the end."""

    def __init__(self, graph: Graph, ingest_run: str, batch_size: int = DEFAULT_BATCH) -> None:
        self.graph = graph
        self.ingest_run = ingest_run
        self.batch_size = batch_size
        self.now = datetime.now(UTC).isoformat()
        self.counts: dict[str, int] = defaultdict(int)
        self._nodes: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._edges: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
        self._pending = 0

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.flush()

    def add(self, record: Node | Edge) -> Reject | Flag | None:
        """Buffer one record. Returns a Reject when Neo4j could not store it (it
        is not buffered), a Flag when its properties were capped, else None."""
        what = _describe(record)
        bad = values.problem({"uid": record.ref.uid} if isinstance(record, Node) else
                             {"src": record.src.uid, "dst": record.dst.uid}) or values.problem(
                                 dict(record.props), finite=False)  # Neo4j stores NaN (an MLflow metric may be one)
        if bad:
            return Reject(record.source, None, f"{what} {bad}; it was not written")
        props, note = _capped(plain_props(record.props), what, record.source)
        if isinstance(record, Node):
            self._add_node(record, props)
        else:
            self._add_edge(record, props)
        self._pending += 1
        if self._pending >= self.batch_size * 4:
            self.flush()
        return note

    def add_all(self, records: Iterable[Node | Edge]) -> None:
        for record in records:
            self.add(record)

    def _add_node(self, node: Node, props: dict[str, Any]) -> None:
        row = {"uid": node.ref.uid, "props": props, "source": node.source}
        self._nodes[node.ref.label].append(row)

    def _add_edge(self, edge: Edge, props: dict[str, Any]) -> None:
        if edge.type not in EDGE_TYPES:
            raise ValueError(f"unknown edge type {edge.type!r}; add it to graph/model.py")
        for name in edge.key + edge.supersedes:
            if not is_identifier(name):
                raise ValueError(f"edge key {name!r} is not a plain identifier")
        group = (edge.type, edge.src.label, edge.dst.label, edge.key, edge.supersedes)
        row = {"src": edge.src.uid, "dst": edge.dst.uid, "props": props, "source": edge.source}
        self._edges[group].append(row)

    def flush(self) -> None:
        """Write everything buffered: nodes first, then edges."""
        for label, rows in self._nodes.items():
            assert label in KINDS
            self._write(node_query(label), _dedupe(rows, ("uid",)))
            self.counts[label] += len(rows)
        for (etype, src, dst, key, slot), rows in self._edges.items():
            query = temporal_edge_query(etype, src, dst, slot) if slot else edge_query(etype, src, dst, key)
            ordered = sorted(rows, key=lambda r: (r["src"], str(r["props"].get("valid_from"))))
            self._write(query, ordered if slot else _dedupe(rows, ("src", "dst"), key))
            self.counts[etype] += len(rows)
        self._nodes.clear()
        self._edges.clear()
        self._pending = 0

    def _write(self, query: str, rows: list[dict[str, Any]]) -> None:
        self.graph.write_rows(query, rows, self.batch_size, now=self.now, run=self.ingest_run)


def _describe(record: Node | Edge) -> str:
    if isinstance(record, Node):
        return f"{record.ref.label} {record.ref.uid[:200]!r}"
    return f"{record.type} edge {record.src.uid[:100]!r} -> {record.dst.uid[:100]!r}"


def _capped(props: dict[str, Any], what: str, source: str) -> tuple[dict[str, Any], Flag | None]:
    """At most MAX_PROPS properties; the rest as JSON text in ``props_overflow``."""
    if len(props) <= MAX_PROPS:
        return props, None
    names = list(props)
    kept = {k: props[k] for k in names[:MAX_PROPS]}
    rest = {k: props[k] for k in names[MAX_PROPS:]}
    kept["props_overflow"] = json.dumps(rest, sort_keys=True)
    kept["props_capped"] = len(rest)
    return kept, Flag("props-capped", f"{what} has {len(props):,} properties; the first {MAX_PROPS:,} are stored "
                      f"one by one, the other {len(rest):,} as JSON text in props_overflow", source)


def _dedupe(rows: list[dict[str, Any]], fields: tuple[str, ...], key: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Merge rows for the same identity (later props win) so one batch never
    MERGEs the same thing twice."""
    merged: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        ident = tuple(row[f] for f in fields) + tuple(json.dumps(row["props"].get(k)) for k in key)
        if ident in merged:
            merged[ident]["props"] = {**merged[ident]["props"], **row["props"]}
        else:
            merged[ident] = {**row, "props": dict(row["props"])}
    return list(merged.values())
