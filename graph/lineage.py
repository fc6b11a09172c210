"""Lineage: bounded upstream / downstream traversal from any REF, and the
shortest lineage path between two REFs.

Upstream follows outgoing lineage edges (provex.vocab.model: dependent -> dependency),
downstream the incoming ones. ``SAME_AS`` (inferred identity across tools) is
an identity hop followed in both directions, and ``HAS_ALIAS`` (Model ->
ModelVersion, time-ranged) is followed like a lineage edge so a Model's
lineage goes through the versions its aliases pointed at.

The traversal is a breadth-first search in Python with ONE read query per
depth level (frontier uids in, edges out, ``LIMIT cap + 1``), so a fan-out of
thousands of predictions is cut at the node cap and counted, never walked.
Rendering: :func:`to_mermaid`, :func:`to_dot`; exports live in graph.export.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from provex.graph import factlinks, facts
from provex.graph.connection import Graph
from provex.graph.refs import display_name, normalize_time, resolve, ts
from provex.vocab.errors import QueryError, UsageError
from provex.vocab.model import KINDS, LINEAGE_EDGES

MAX_DEPTH = 20
DEFAULT_DEPTH = 3
DEFAULT_NODE_CAP = 500
IDENTITY_EDGES = ("SAME_AS",)
ALIAS_EDGES = ("HAS_ALIAS",)
TRAVERSED = LINEAGE_EDGES + ALIAS_EDGES + IDENTITY_EDGES
DIRECTIONS = ("up", "down", "both")
_NODE_TIME = "coalesce(b.timestamp, b.start_time, b.created_at, b.valid_from, b.first)"

_AS_OF = (
    f"AND ($as_of IS NULL OR ("
    f"coalesce({ts('e.valid_from')} <= datetime($as_of), true) AND coalesce({ts('e.valid_to')} > datetime($as_of), true) "
    f"AND coalesce({ts(_NODE_TIME)} <= datetime($as_of), true) AND coalesce({ts('b.valid_to')} > datetime($as_of), true)))"
)


def _types(direction: str) -> tuple[str, str]:
    """(types followed as stored, types followed against their direction)."""
    forward = "|".join(TRAVERSED)
    identity = "|".join(IDENTITY_EDGES)
    return (forward, identity) if direction == "up" else (identity, forward)


def _level_query(direction: str, count: bool) -> str:
    """Edges from the frontier one hop further in ``direction``. Each side is
    a typed, directed expansion, so a node with 100,000 incoming predictions
    costs nothing when walking up from it."""
    out_types, in_types = _types(direction)
    head = (
        "UNWIND $frontier AS fuid MATCH (a:Node {uid: fuid}) "
        f"CALL {{ WITH a MATCH (a)-[e:{out_types}]->(b:Node) RETURN e, b "
        f"UNION ALL WITH a MATCH (a)<-[e:{in_types}]-(b:Node) RETURN e, b }} "
        "WITH a, e, b WHERE a <> b AND NOT b:Prediction AND NOT b.uid IN $exclude " + _AS_OF + " "
    )
    if count:
        return head + "WITH DISTINCT b RETURN [l IN labels(b) WHERE l <> 'Node'][0] AS label, count(*) AS n"
    return head + (
        "RETURN startNode(e).uid AS src, endNode(e).uid AS dst, type(e) AS type, "
        "properties(e) AS eprops, b.uid AS uid, [l IN labels(b) WHERE l <> 'Node'][0] AS label, "
        "properties(b) AS props LIMIT $limit"
    )


LEVEL_QUERIES = {(d, c): _level_query(d, c) for d in ("up", "down") for c in (False, True)}
ROOT_QUERY = (
    "MATCH (b:Node {uid: $uid}) RETURN b.uid AS uid, "
    "[l IN labels(b) WHERE l <> 'Node'][0] AS label, properties(b) AS props"
)


@dataclass(frozen=True)
class Subgraph:
    """A piece of the lineage graph, and what was left out of it."""

    root: str
    nodes: list[dict] = field(default_factory=list)
    edges: list[dict] = field(default_factory=list)
    truncated: bool = False
    notes: list[str] = field(default_factory=list)


def node_dict(uid: str, label: str | None, props: dict[str, Any]) -> dict[str, Any]:
    """The shape every Subgraph node has: uid, label, name, placeholder, props."""
    extra = {k: v for k, v in props.items() if k not in ("uid", "label", "name", "placeholder")}
    return {
        "uid": uid,
        "label": label,
        "name": display_name(label, props),
        "placeholder": bool(props.get("placeholder", False)),
        **extra,
    }


def edge_dict(src: str, dst: str, etype: str, props: dict[str, Any]) -> dict[str, Any]:
    extra = {k: v for k, v in props.items() if k not in ("src", "dst", "type")}
    return {"src": src, "dst": dst, "type": etype, **extra}


def _check(depth: int, node_cap: int, direction: str, kinds: Sequence[str]) -> None:
    if direction not in DIRECTIONS:
        raise UsageError(f"Unknown direction {direction!r}: use up, down or both.")
    if not 1 <= depth <= MAX_DEPTH:
        raise UsageError(f"Depth {depth} is out of range: give 1 to {MAX_DEPTH}.")
    if node_cap < 1:
        raise UsageError(f"Node cap {node_cap} is out of range: give 1 or more.")
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise UsageError(f"Unknown node kind(s) {', '.join(unknown)}; known: {', '.join(KINDS)}.")


class _Walk:
    """State of one bounded BFS: nodes, edges, what was cut."""

    def __init__(self, graph: Graph, root: dict[str, Any], node_cap: int, as_of: str | None, deadline: float):
        self.graph, self.node_cap, self.as_of, self.deadline = graph, node_cap, as_of, deadline
        self.nodes: dict[str, dict[str, Any]] = {root["uid"]: root}
        self.edges: dict[tuple, dict[str, Any]] = {}
        self.notes: list[str] = []
        self.truncated = False
        self._targets: set[str] | None = None

    def cut(self, note: str) -> None:
        self.truncated = True
        if note not in self.notes:
            self.notes.append(note)

    def run(self, direction: str, depth: int) -> None:
        query = LEVEL_QUERIES[(direction, False)]
        frontier, seen = [next(iter(self.nodes))], set(self.nodes)
        base = {"as_of": self.as_of}
        for level in range(1, depth + 1):
            if not frontier:
                return
            params = {**base, "frontier": [u for u in frontier if not factlinks.is_prediction(u)], "exclude": []}
            rows = self._read(query, {**params, "limit": self.node_cap + 1}, level, direction)
            if rows is None:
                return
            rows = rows + self._stored(frontier, direction)
            frontier = self._absorb(rows, seen, params, level, direction)
        probe = {**base, "frontier": frontier, "exclude": sorted(seen), "limit": 1}
        if frontier and self._read(query, probe, depth + 1, direction):
            self.cut(f"depth limit {depth} reached going {direction}: more lineage beyond it (raise the depth)")

    def _versions(self, frontier: list[str]) -> list[str]:
        """The models in the frontier: registry versions, and what references were resolved to."""
        if self._targets is None:
            self._targets = factlinks.targets(self.graph)
        return [u for u in frontier if self.nodes.get(u, {}).get("label") == "ModelVersion" or u in self._targets]

    def _stored(self, frontier: list[str], direction: str) -> list[dict]:
        """This level's prediction edges, from the store: those of predictions in
        the frontier, and (going down) the predictions of its model versions."""
        rows = factlinks.level(self.graph, [u for u in frontier if factlinks.is_prediction(u)], direction)
        if direction == "down":
            as_of = self.as_of and normalize_time(self.as_of)
            rows += factlinks.made_by(self.graph, self._versions(frontier), self.node_cap + 1, as_of)
        return rows

    def _read(self, query: str, params: dict[str, Any], level: int, direction: str) -> list[dict] | None:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            self.cut(f"time limit reached at depth {level} going {direction}: deeper lineage not shown")
            return None
        try:
            return self.graph.read(query, params, timeout=remaining)
        except QueryError as exc:
            if "time limit" not in str(exc) and time.monotonic() < self.deadline:
                raise
            self.cut(f"time limit reached at depth {level} going {direction}: deeper lineage not shown")
            return None

    def _absorb(self, rows: list[dict], seen: set[str], params: dict, level: int, direction: str) -> list[str]:
        """Add one level's edges and new nodes (up to the cap); the next frontier."""
        nxt: list[str] = []
        skipped = 0
        for row in rows[: self.node_cap]:
            uid = row["uid"]
            if uid not in self.nodes:
                if len(self.nodes) >= self.node_cap:
                    skipped += 1
                    continue
                self.nodes[uid] = node_dict(uid, row["label"], row["props"] or {})
            if uid not in seen:
                seen.add(uid)
                nxt.append(uid)
            eprops = row["eprops"] or {}
            key = (row["src"], row["dst"], row["type"], str(sorted(eprops.items())))
            self.edges.setdefault(key, edge_dict(row["src"], row["dst"], row["type"], eprops))
        if skipped or len(rows) > self.node_cap:
            shown = {r["uid"]: r["label"] for r in rows if r["uid"] in self.nodes}
            self._count_cut(params, level, direction, shown, stored=[r for r in rows if r["label"] == "Prediction"])
        return nxt

    def _count_cut(self, params: dict, level: int, direction: str, shown: dict[str, str], stored: list[dict]) -> None:
        """Say how many neighbours per kind the cap left out at this level."""
        counts = self._read(LEVEL_QUERIES[(direction, True)], params, level, direction) or []
        if direction == "down":
            versions = self._versions(params["frontier"])
            made = factlinks.made_by_count(self.graph, versions, self.as_of and normalize_time(self.as_of))
            others = len({r["uid"] for r in stored if r["type"] != "PREDICTED_BY"})
            if made + others:
                counts = [*counts, {"label": "Prediction", "n": made + others}]
        kept: dict[str, int] = {}
        for label in shown.values():
            kept[label] = kept.get(label, 0) + 1
        parts = []
        for row in sorted(counts, key=lambda r: -r["n"]):
            left = row["n"] - min(kept.get(row["label"], 0), row["n"])
            if left > 0:
                parts.append(f"{left:,} more {row['label']} nodes")
        detail = ", ".join(parts) if parts else "more edges"
        self.cut(f"node cap {self.node_cap} reached at depth {level} going {direction}: {detail} not shown")


def traverse(
    graph: Graph,
    ref: str,
    *,
    direction: str = "up",
    depth: int = DEFAULT_DEPTH,
    node_cap: int = DEFAULT_NODE_CAP,
    kinds: Sequence[str] = (),
    as_of: str | None = None,
    time_limit: float = 10.0,
) -> Subgraph:
    """Lineage of ``ref`` within ``depth`` hops and ``node_cap`` nodes.

    ``direction``: ``up`` (what it depends on), ``down`` (what depends on it)
    or ``both``. ``kinds`` keeps only those node labels (plus the root), joined
    by ``LINEAGE_PATH {hops}`` edges where intermediate nodes were hidden.
    ``as_of`` (ISO time) hides facts not yet true or no longer true then.
    """
    _check(depth, node_cap, direction, kinds)
    as_of = normalize_time(as_of, "as_of") if as_of else None
    hit = resolve(graph, ref)
    root_row = _root(graph, hit["uid"])
    root = node_dict(root_row["uid"], root_row["label"], root_row["props"] or {})
    walk = _Walk(graph, root, node_cap, as_of, time.monotonic() + time_limit)
    for way in ("up", "down") if direction == "both" else (direction,):
        walk.run(way, depth)
    nodes, edges = list(walk.nodes.values()), list(walk.edges.values())
    if kinds:
        nodes, edges = _only_kinds(nodes, edges, set(kinds), root["uid"])
    return Subgraph(root["uid"], nodes, edges, walk.truncated, walk.notes)


def _root(graph: Graph, uid: str) -> dict[str, Any]:
    """The root node's row: a stored prediction, or a graph node."""
    if factlinks.is_prediction(uid):
        row = factlinks.node(graph, uid)
        if row is not None:
            return row
    return graph.read(ROOT_QUERY, {"uid": uid})[0]


def _only_kinds(nodes: list[dict], edges: list[dict], kinds: set[str], root: str) -> tuple[list[dict], list[dict]]:
    """Keep nodes of ``kinds`` and the root; connect kept nodes through hidden
    ones with LINEAGE_PATH edges (direction as stored, ``hops`` = length)."""
    keep = {n["uid"] for n in nodes if n["label"] in kinds or n["uid"] == root}
    out: dict[str, list[tuple[str, dict]]] = {}
    for e in edges:
        out.setdefault(e["src"], []).append((e["dst"], e))
    kept_edges = [e for e in edges if e["src"] in keep and e["dst"] in keep]
    direct = {(e["src"], e["dst"]) for e in kept_edges}
    for start in keep:
        for end, hops in _reach_through_hidden(start, out, keep).items():
            if (start, end) not in direct and end != start:
                kept_edges.append({"src": start, "dst": end, "type": "LINEAGE_PATH", "hops": hops})
    return [n for n in nodes if n["uid"] in keep], kept_edges


def _reach_through_hidden(start: str, out: dict[str, list[tuple[str, dict]]], keep: set[str]) -> dict[str, int]:
    """Kept nodes reachable from ``start`` whose path runs only through hidden nodes."""
    found: dict[str, int] = {}
    frontier, seen, hops = [start], {start}, 0
    while frontier:
        hops += 1
        nxt = []
        for uid in frontier:
            for dst, _ in out.get(uid, []):
                if dst in seen:
                    continue
                seen.add(dst)
                if dst in keep:
                    found.setdefault(dst, hops)
                else:
                    nxt.append(dst)
        frontier = nxt
    return {k: v for k, v in found.items() if v > 1}


_PATH_REL = "|".join(LINEAGE_EDGES + IDENTITY_EDGES)  # aliases are not dependencies
PATH_QUERY = (
    "MATCH (a:Node {{uid: $a}}), (b:Node {{uid: $b}}) "
    f"MATCH p = shortestPath((a)-[:{_PATH_REL}*..{{depth}}]-(b)) WHERE none(n IN nodes(p) WHERE n:Prediction) "
    "RETURN [n IN nodes(p) | {{uid: n.uid, label: [l IN labels(n) WHERE l <> 'Node'][0], props: properties(n)}}] AS nodes, "
    "[r IN relationships(p) | {{src: startNode(r).uid, dst: endNode(r).uid, type: type(r), props: properties(r)}}] AS edges"
)


def path_between(graph: Graph, ref_a: str, ref_b: str, *, max_depth: int = MAX_DEPTH, time_limit: float = 10.0) -> Subgraph:
    """The shortest lineage path between two REFs, whichever way the
    dependencies point; empty (with a note) when there is none within ``max_depth``.
    A prediction joins the graph at its model version (its edge from the store)."""
    if not 1 <= int(max_depth) <= MAX_DEPTH:
        raise UsageError(f"Max depth {max_depth} is out of range: give 1 to {MAX_DEPTH}.")
    a, b = resolve(graph, ref_a), resolve(graph, ref_b)
    if a["uid"] == b["uid"]:
        row = _root(graph, a["uid"])
        return Subgraph(a["uid"], [node_dict(row["uid"], row["label"], row["props"] or {})], [], False,
                        ["both REFs name the same node"])
    ends = [_anchor(graph, a["uid"]), _anchor(graph, b["uid"])]
    if None in ends:
        return Subgraph(a["uid"], [], [], False, [f"no lineage path between {a['uid']} and {b['uid']}: "
                                                   "a prediction without a known model version"])
    (start, head, head_edge), (end, tail, tail_edge) = ends
    hops = int(max_depth) - bool(head_edge) - bool(tail_edge)
    nodes, edges = [], []
    if start != end:
        rows = graph.read(PATH_QUERY.format(depth=max(hops, 1)), {"a": start, "b": end}, timeout=time_limit) if hops > 0 else []
        if not rows:
            return Subgraph(a["uid"], [], [], False,
                            [f"no lineage path between {a['uid']} and {b['uid']} within {max_depth} hops"])
        nodes = [node_dict(n["uid"], n["label"], n["props"] or {}) for n in rows[0]["nodes"]]
        edges = [edge_dict(e["src"], e["dst"], e["type"], e["props"] or {}) for e in rows[0]["edges"]]
    else:
        row = _root(graph, start)
        nodes = [node_dict(row["uid"], row["label"], row["props"] or {})]
    nodes = head + nodes + tail
    edges = [e for e in (head_edge, tail_edge) if e] + edges
    return Subgraph(a["uid"], nodes, edges, False, [])


def _anchor(graph: Graph, uid: str) -> tuple[str, list[dict], dict | None] | None:
    """Where a path from ``uid`` enters the graph: itself, or a prediction's model version."""
    if not factlinks.is_prediction(uid):
        return uid, [], None
    row = factlinks.node(graph, uid)
    version = facts.get(graph, uid)["model_version"] if row else None
    if version is None:
        return None
    edge = edge_dict(uid, version, "PREDICTED_BY", {"sources": ["provex:store"]})
    return version, [node_dict(uid, "Prediction", row["props"])], edge


# ---- rendering -------------------------------------------------------------

def _short(text: str, width: int = 48) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def to_mermaid(sub: Subgraph) -> str:
    """A Mermaid flowchart: arrows point from dependent to dependency."""
    ids = {n["uid"]: f"n{i}" for i, n in enumerate(sub.nodes)}
    lines = ["flowchart LR"]
    for note in sub.notes:
        lines.append(f"  %% {note}")
    for n in sub.nodes:
        text = f"{n['label']}<br/>{_short(str(n['name']))}".replace('"', "#quot;")
        shape = f'(["{text}"])' if n["uid"] == sub.root else f'["{text}"]'
        lines.append(f"  {ids[n['uid']]}{shape}")
    for e in sub.edges:
        if e["src"] in ids and e["dst"] in ids:
            label = e["type"] + (f" {e['alias']}" if e.get("alias") else "")
            lines.append(f"  {ids[e['src']]} -->|{label}| {ids[e['dst']]}")
    for n in sub.nodes:
        if n.get("placeholder"):
            lines.append(f"  style {ids[n['uid']]} stroke-dasharray: 5 5")
    return "\n".join(lines) + "\n"


def _dot_quote(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(sub: Subgraph) -> str:
    """Graphviz DOT: one node per uid, edges labelled with their type."""
    lines = ["digraph lineage {", "  rankdir=LR;", '  node [shape=box, fontname="Helvetica"];']
    for note in sub.notes:
        lines.append(f"  // {note}")
    for n in sub.nodes:
        attrs = [f"label={_dot_quote(n['label'] + chr(10) + _short(str(n['name'])))}"]
        if n["uid"] == sub.root:
            attrs.append("penwidth=2")
        if n.get("placeholder"):
            attrs.append("style=dashed")
        lines.append(f"  {_dot_quote(n['uid'])} [{', '.join(attrs)}];")
    for e in sub.edges:
        lines.append(f"  {_dot_quote(e['src'])} -> {_dot_quote(e['dst'])} [label={_dot_quote(e['type'])}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
