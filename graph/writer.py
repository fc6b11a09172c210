"""The idempotent batch writer: records in, batched ``UNWIND $rows`` statements out.

Nodes are grouped by label and edges by (type, endpoint labels, identity
keys); each group is written in chunks through ``execute_write``, by a
writing thread while the caller reads on. Nodes not yet in the graph (one
index lookup per flush tells) are CREATEd together with their edges in one
statement; everything else is MERGEd (:mod:`provex.graph.batch`,
:mod:`provex.graph.statements`), so writing the same records twice changes
nothing. Every node and edge records where it came from: ``sources`` (every
source that asserted it), ``first_seen`` / ``first_ingest`` (set once) and
``last_seen`` / ``last_ingest`` (moved by each ingest that asserts it again).
Nothing is ever
deleted; an edge endpoint not yet ingested is created as a placeholder
(``placeholder = true``) that the real node fills in later.

Every record is checked before it is buffered (:func:`provex.vocab.values.problem`):
one Neo4j cannot store (a NUL in a key, a 2^64 integer, a lone surrogate) is
handed back as a :class:`Reject` and never reaches the batch, so it cannot
fail the good records written with it. A record with more than
``MAX_PROPS`` properties keeps the first ``MAX_PROPS`` as properties and the
rest as JSON text in ``props_overflow`` (each new property key is a schema
token in Neo4j: 200,000 of them stall the server), with a :class:`Flag`.

A flush too big for one transaction (Neo4j's transaction memory) is written
again in halves, down to single records; only a record too big on its own is
given up, as a :class:`Reject` the caller collects with :meth:`Writer.take_rejects`.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from provex.graph import batch, statements
from provex.graph.connection import Graph, Transaction
from provex.vocab import values
from provex.vocab.errors import ConnectionFailed, QueryError, TooLarge
from provex.vocab.model import EDGE_TYPES, KINDS, is_identifier
from provex.vocab.records import Edge, Flag, Node, Reject

DEFAULT_BATCH = 2_000
MAX_PROPS = 1_000  # properties stored one by one per node or edge; the rest go to props_overflow
FLUSH_EVERY = 10  # batches of records buffered per flush (one transaction), handed to the writing thread


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
    or call :meth:`close` at the end.

    With ``background`` (the default) each flush is written by one writing
    thread while the caller goes on reading and parsing: at most one flush is
    in flight and one buffering, so memory stays flat, and flushes are written
    in order. An error in the writing thread is raised in the caller by the
    next :meth:`flush` or by :meth:`close`."""

    def __init__(self, graph: Graph, ingest_run: str, batch_size: int = DEFAULT_BATCH,
                 background: bool = True, in_flight: int = 1) -> None:
        self.graph = graph
        self.ingest_run = ingest_run
        self.batch_size = batch_size
        self.now = datetime.now(UTC).isoformat()
        self.counts: dict[str, int] = defaultdict(int)
        self._nodes: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._edges: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
        self._pending = 0
        self._pool = ThreadPoolExecutor(in_flight, thread_name_prefix="provex-writer") if background else None
        self._in_flight = in_flight  # flushes written at once (more than 1: bench/levers.py measures it)
        self._futures: list[Future] = []
        self._lock = threading.Lock()  # guards _rejects, appended to by the writing thread
        self._rejects: list[Reject] = []

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.close()
        else:  # what is in flight still lands; the caller's error is the one raised
            with contextlib.suppress(Exception):
                self._wait()
            self._shutdown()

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
        if self._pending >= self.batch_size * FLUSH_EVERY:
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
        """Hand everything buffered to the writing thread (after the previous
        flush has landed), or write it here without one."""
        nodes, edges = dict(self._nodes), dict(self._edges)
        self._nodes, self._edges, self._pending = defaultdict(list), defaultdict(list), 0
        if not nodes and not edges:
            return
        self._wait(self._in_flight - 1)
        if self._pool is None:
            self._write(nodes, edges)
        else:
            self._futures.append(self._pool.submit(self._write, nodes, edges))

    def close(self) -> None:
        """Write what is buffered and wait until it has landed."""
        try:
            self.flush()
            self._wait()
        finally:
            self._shutdown()

    def _wait(self, keep: int = 0) -> None:
        """Until at most ``keep`` flushes are in flight (the oldest land first)."""
        while len(self._futures) > keep:
            self._futures.pop(0).result()

    def _shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def take_rejects(self) -> list[Reject]:
        """The records given up while writing since the last call (see :meth:`_write_parts`)."""
        with self._lock:
            taken, self._rejects = self._rejects, []
        return taken

    def _write(self, nodes: dict[str, list[dict[str, Any]]], edges: dict[tuple, list[dict[str, Any]]]) -> None:
        for label in nodes:
            assert label in KINDS
        self._write_parts(batch.deduped_nodes(nodes), edges)

    def _write_parts(self, nodes: dict[str, list[dict[str, Any]]], edges: dict[tuple, list[dict[str, Any]]],
                     tries: int = 2) -> None:
        """A flush that Neo4j refuses as too big for one transaction (its
        transaction memory), or that loses the connection while Neo4j still
        answers, is cut in halves and each written on its own, down to single
        records (a node with its outgoing edges). Only a record that fails
        alone, twice, is given up: a Reject naming it, the rest written."""
        try:
            self._write_flush(nodes, edges)
            return
        except (TooLarge, ConnectionFailed) as exc:
            if isinstance(exc, ConnectionFailed):
                self.graph.verify()  # Neo4j gone: that error is raised (the flush was not too big)
            failure = exc
        parts = batch.halves(nodes, edges)
        if parts is None and tries > 1 and isinstance(failure, ConnectionFailed):
            self._write_parts(nodes, edges, tries - 1)
        elif parts is None:
            self._give_up(nodes, edges, failure)
        else:
            for part in parts:
                self._write_parts(*part)

    def _give_up(self, nodes: dict[str, list[dict[str, Any]]], edges: dict[tuple, list[dict[str, Any]]],
                 failure: Exception) -> None:
        node = next(((label, row) for label, rows in nodes.items() for row in rows), None)
        edge = next(((group, row) for group, rows in edges.items() for row in rows), None)
        n_edges = sum(len(rows) for rows in edges.values())
        if node is not None:
            what, source = f"{node[0]} {node[1]['uid'][:200]!r} (with its {n_edges} edges)", node[1]["source"]
        else:
            (etype, *_), row = edge  # type: ignore[misc]
            what, source = f"{etype} edge {row['src'][:100]!r} -> {row['dst'][:100]!r}", row["source"]
        why = ("is too big for one Neo4j transaction" if isinstance(failure, TooLarge)
               else "lost the connection to Neo4j each time it was written, while Neo4j answered otherwise")
        with self._lock:
            self._rejects.append(Reject(source, None, f"{what} {why}, so it was not written; the rest was. {failure} "
                                        "Make the record smaller (or raise the server's limit), then ingest again."))

    def _write_flush(self, nodes: dict[str, list[dict[str, Any]]], edges: dict[tuple, list[dict[str, Any]]]) -> None:
        """One flush, in one transaction: nodes not in the graph are CREATEd with
        their edges, the rest MERGEd (:mod:`provex.graph.batch`). If another
        writer created one of those nodes meanwhile, the CREATE is refused by
        the uniqueness constraint, the transaction rolls back, and the flush is
        planned again from a fresh look-up; after a second refusal it is
        written all MERGE."""
        for create in (True, True, False):
            try:
                self.graph.write_transaction(lambda tx, c=create: self._write_in(tx, nodes, edges, c))
                break
            except QueryError as exc:
                if not create or "ConstraintValidationFailed" not in str(exc):
                    raise
        for label, rows in nodes.items():
            self.counts[label] += len(rows)
        for (etype, *_), rows in edges.items():
            self.counts[etype] += len(rows)

    def _write_in(self, tx: Transaction, nodes: dict[str, list[dict[str, Any]]], edges: dict[tuple, list[dict[str, Any]]],
                  create: bool) -> None:
        absent = {label: self._absent(tx, label, rows) for label, rows in nodes.items()} if create else {}
        plan = batch.plan(nodes, edges, absent)
        steps: list[tuple[str, list[dict[str, Any]]]] = [
            *((statements.node_query(label), rows) for label, rows in plan.merge_nodes.items()),
            *((statements.placeholders_query(label), sorted(uids)) for label, uids in plan.targets.items()),
            *((statements.fresh_node_query(label, out), rows) for label, (out, rows) in plan.fresh.items()),
            *((statements.fresh_edge_query(*group), rows) for group, rows in plan.late.items()),
            *((statements.edge_query(t, src, dst, key), rows) for (t, src, dst, key, _), rows in plan.merge_edges.items()),
            *((statements.temporal_edge_query(t, src, dst, slot), rows)
              for (t, src, dst, _, slot), rows in plan.temporal.items()),
        ]
        for query, rows in steps:
            self._send(tx, query, rows)

    def _absent(self, tx: Transaction, label: str, rows: list[dict[str, Any]]) -> set[str]:
        """The uids not in the graph, asked in the writing transaction (so, in a
        cluster, of the leader, which has every earlier flush)."""
        return set(tx.run(statements.absent_query(label), uids=[row["uid"] for row in rows])[0]["absent"])

    def _send(self, tx: Transaction, query: str, rows: list[Any]) -> None:
        for start in range(0, len(rows), self.batch_size):
            tx.run(query, rows=rows[start:start + self.batch_size], now=self.now, run=self.ingest_run)


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
