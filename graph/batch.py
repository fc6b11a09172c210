"""One flush of the writer, planned: which rows are MERGEd and which CREATEd.

The writer buffers node rows per label and edge rows per group ``(type,
source label, target label, identity keys, slot)``. Given which node uids are
absent from the graph (one read per label), :func:`plan` sorts every row into
one of five lists, written in this order:

1. ``merge_nodes``: nodes that may exist -> MERGE;
2. ``targets``: the targets of the edges in 3, each MERGEd as a placeholder
   if it is not there yet;
3. ``fresh``: absent nodes -> CREATE, label by label (:func:`creation_order`),
   each with its edges to nodes that exist by then (in the node's row);
4. ``late``: the other edges between two nodes created in 3 -> CREATE;
5. ``merge_edges`` / ``temporal``: every other edge -> MERGE (or the slot
   statement for time-ranged facts).

A flush too big for one Neo4j transaction is cut in :func:`halves` (by record:
a node with its outgoing edges) and each half written on its own.

See :mod:`provex.graph.statements` for why CREATE is safe there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

Group = tuple[str, str, str, tuple[str, ...], tuple[str, ...]]  # type, src label, dst label, key, slot
Rows = list[dict[str, Any]]


@dataclass
class Plan:
    merge_nodes: dict[str, Rows] = field(default_factory=dict)
    targets: dict[str, set[str]] = field(default_factory=dict)
    fresh: dict[str, tuple[list[tuple[str, str]], Rows]] = field(default_factory=dict)  # label -> (out pairs, rows)
    late: dict[tuple[str, str, str], Rows] = field(default_factory=dict)
    merge_edges: dict[Group, Rows] = field(default_factory=dict)
    temporal: dict[Group, Rows] = field(default_factory=dict)


def deduped_nodes(nodes: dict[str, Rows]) -> dict[str, Rows]:
    return {label: dedupe(rows, ("uid",)) for label, rows in nodes.items()}


def plan(nodes: dict[str, Rows], edges: dict[Group, Rows], absent: dict[str, set[str]]) -> Plan:
    """Sort deduplicated rows (``nodes`` from :func:`deduped_nodes`) by how they are written."""
    out = Plan()
    outs: dict[str, dict[tuple[str, str], dict[str, Rows]]] = {}  # label -> (type, dst) -> src uid -> rows
    order = creation_order(edges, absent)
    for label, rows in nodes.items():
        gone = absent.get(label, set())
        out.merge_nodes[label] = [r for r in rows if r["uid"] not in gone]
    for group, rows in edges.items():
        etype, src, dst, key, slot = group
        if slot:
            out.temporal[group] = sorted(rows, key=lambda r: (r["src"], str(r["props"].get("valid_from"))))
            continue
        for row in dedupe(rows, ("src", "dst"), key):
            dst_fresh = row["dst"] in absent.get(dst, ())
            if row["src"] not in absent.get(src, ()):
                out.merge_edges.setdefault(group, []).append(row)
            elif dst_fresh and order[dst] >= order[src]:  # its target is created with it or after it
                out.late.setdefault((etype, src, dst), []).append(row)
            else:
                outs.setdefault(src, {}).setdefault((etype, dst), {}).setdefault(row["src"], []).append(row)
                if not dst_fresh:
                    out.targets.setdefault(dst, set()).add(row["dst"])
    for label in sorted(nodes, key=lambda name: order.get(name, 0)):
        gone = absent.get(label, set())
        fresh = [r for r in nodes[label] if r["uid"] in gone]
        if fresh:
            out.fresh[label] = _with_edges(fresh, outs.get(label, {}))
    return out


def creation_order(edges: dict[Group, Rows], absent: dict[str, set[str]]) -> dict[str, int]:
    """A rank per label: targets before the labels whose edges point at them, so
    most edges between two new nodes are created with their start node. A
    cycle is cut where the walk meets it; those edges (and edges within one
    label) are written after all new nodes (``late``)."""
    needs: dict[str, set[str]] = {}
    for (_etype, src, dst, _key, slot) in edges:
        needs.setdefault(src, set())
        if not slot and src != dst and absent.get(src) and absent.get(dst):
            needs[src].add(dst)
    order: dict[str, int] = {}
    visiting: set[str] = set()

    def visit(label: str) -> None:
        if label in order or label in visiting:
            return
        visiting.add(label)
        for target in sorted(needs.get(label, ())):
            visit(target)
        order[label] = len(order)

    for label in sorted(set(needs) | set(absent)):
        visit(label)
    return order


def _with_edges(rows: Rows, outs: dict[tuple[str, str], dict[str, Rows]]) -> tuple[list[tuple[str, str]], Rows]:
    """Node rows with field ``out<i>``: the ``i``-th (type, target) pair's edges from that node."""
    pairs = sorted(outs)
    shaped = []
    for row in rows:
        extra = {f"out{i}": [{"dst": e["dst"], "props": e["props"], "source": e["source"]} for e in outs[pair].get(row["uid"], ())]
                 for i, pair in enumerate(pairs)}
        shaped.append({**row, **extra})
    return pairs, shaped


def dedupe(rows: Rows, fields: tuple[str, ...], key: tuple[str, ...] = ()) -> Rows:
    """Merge rows for the same identity (later props win) so one batch never
    writes the same thing twice."""
    merged: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        ident = tuple(row[f] for f in fields) + tuple(json.dumps(row["props"].get(k)) for k in key)
        if ident in merged:
            merged[ident]["props"] = {**merged[ident]["props"], **row["props"]}
        else:
            merged[ident] = {**row, "props": dict(row["props"])}
    return list(merged.values())


Part = tuple[dict[str, Rows], dict[Group, Rows]]  # (nodes by label, edges by group): a flush or a piece of one


def halves(nodes: dict[str, Rows], edges: dict[Group, Rows]) -> tuple[Part, Part] | None:
    """A flush cut in two, for writing again in parts when it was too big for
    one transaction; None when it is one record. A record is a node with the
    edges that start at it (written or given up together), or an edge whose
    start node is not in the flush. Order is kept: the first half is written first."""
    units = records(nodes, edges)
    if len(units) < 2:
        return None
    mid = len(units) // 2
    return assembled(units[:mid]), assembled(units[mid:])


Unit = tuple[list[tuple[str, dict[str, Any]]], list[tuple[Group, dict[str, Any]]]]


def records(nodes: dict[str, Rows], edges: dict[Group, Rows]) -> list[Unit]:
    """The flush as records: ``([(label, node row)], [(group, edge row), ...])`` each."""
    units: list[Unit] = []
    owner: dict[str, int] = {}
    for label, rows in nodes.items():
        for row in rows:
            owner[row["uid"]] = len(units)
            units.append(([(label, row)], []))
    for group, rows in edges.items():
        for row in rows:
            at = owner.get(row["src"])
            if at is None:
                units.append(([], [(group, row)]))
            else:
                units[at][1].append((group, row))
    return units


def assembled(units: list[Unit]) -> Part:
    nodes: dict[str, Rows] = {}
    edges: dict[Group, Rows] = {}
    for node_rows, edge_rows in units:
        for label, row in node_rows:
            nodes.setdefault(label, []).append(row)
        for group, row in edge_rows:
            edges.setdefault(group, []).append(row)
    return nodes, edges
