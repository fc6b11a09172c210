"""Turning a lineage Subgraph into something a person can look at.

:func:`build` is pure: it takes the nodes and edges of a
:class:`graph.lineage.Subgraph` (plain dicts) and returns display dicts —
a colour and a shape per node kind, short labels, hover text, edge labels,
a legend — with large fan-outs collapsed into one group node (9,812
predictions of one model version become one node "9,812 predictions") and at
most ``node_cap`` nodes, saying what was left out. :func:`render` turns those
dicts into a self-contained pyvis page (vis-network inlined: no CDN is
needed, none is reachable).
"""

from __future__ import annotations

import html
import json
import re
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from provex.vocab.model import KINDS, label_of_prefix

#: colour and vis-network shape per node kind (PROV: entities round, activities boxes, agents triangles)
STYLE: dict[str, tuple[str, str]] = {
    "Dataset": ("#9ecae1", "ellipse"),
    "DataVersion": ("#3182bd", "dot"),
    "Model": ("#fdd0a2", "ellipse"),
    "ModelVersion": ("#e6550d", "diamond"),
    "LoggedModel": ("#fd8d3c", "diamond"),
    "Feature": ("#c7e9c0", "dot"),
    "Prediction": ("#756bb1", "dot"),
    "PredictionGroup": ("#bcbddc", "dot"),
    "Override": ("#de2d26", "box"),
    "CodeVersion": ("#31a354", "hexagon"),
    "Environment": ("#74c476", "database"),
    "Library": ("#a1d99b", "database"),
    "Run": ("#636363", "box"),
    "Stage": ("#969696", "box"),
    "Experiment": ("#d9d9d9", "box"),
    "Agent": ("#e7ba52", "triangle"),
    "Source": ("#bdbdbd", "square"),
    "IngestRun": ("#bdbdbd", "square"),
}
UNKNOWN_STYLE = ("#cccccc", "dot")
GROUP_SHAPE = "star"
ROOT_BORDER = "#d62728"  # the node a page is about
LAYOUTS = ("hierarchical", "physics")
DEFAULT_COLLAPSE = 25
DEFAULT_NODE_CAP = 300
_HOVER_PROPS = ("name", "version", "path", "hash", "sha", "run_id", "timestamp", "subject_id", "output",
                "status", "start_time", "valid_from", "valid_to")
_PROVENANCE_PROPS = ("sources", "first_ingest", "last_ingest", "first_seen", "last_seen")
_EDGE_LABEL_PROPS = ("alias", "method", "confidence", "role")


@dataclass
class View:
    """What to draw: vis-network node/edge dicts, the legend, and what was left out."""

    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    legend: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    collapsed: dict[str, int] = field(default_factory=dict)  # group node id -> members hidden in it
    dropped: int = 0  # nodes left out by the node cap


def style(label: str) -> tuple[str, str]:
    """(colour, shape) of a node kind."""
    return STYLE.get(label, UNKNOWN_STYLE)


def plural(label: str, count: int) -> str:
    """``9,812 predictions``, ``1 run``: a count with a readable kind name."""
    words = re.sub(r"(?<!^)([A-Z])", r" \1", label).lower()
    if count != 1:
        words = words[:-1] + "ies" if words.endswith("y") and not words.endswith("ey") else words + "s"
    return f"{count:,} {words}"


def short_label(node: Mapping[str, Any]) -> str:
    """A few characters that identify a node on the canvas."""
    label, uid = node.get("label", ""), str(node.get("uid", ""))
    key = uid.split(":", 1)[1] if ":" in uid else uid
    if label == "DataVersion":
        path, _, digest = key.rpartition("@")
        return f"{path.rsplit('/', 1)[-1]}@{digest[:8]}" if path else key[:24]
    if label == "CodeVersion":
        return key[:8]
    if label in ("ModelVersion", "Library", "Prediction", "Feature", "Model"):
        return key
    name = node.get("name")
    text = str(name) if name else key
    return text if len(text) <= 28 else text[:26] + "…"


def hover(node: Mapping[str, Any]) -> str:
    """Plain-text hover details (vis-network shows titles as text)."""
    lines = [f"{node.get('label', '?')}  {node.get('uid', '')}"]
    if node.get("placeholder"):
        lines.append("placeholder: referenced but not ingested yet")
    lines += [f"{k}: {brief(node[k])}" for k in _HOVER_PROPS if node.get(k) not in (None, "")]
    lines += [f"{k}: {brief(node[k])}" for k in _PROVENANCE_PROPS if node.get(k) not in (None, "", [])]
    return "\n".join(lines)


def brief(value: Any, limit: int = 120) -> str:
    """A value as short text for a table cell or a hover line."""
    text = ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def edge_label(edge: Mapping[str, Any]) -> str:
    """The edge type plus the props that tell edges apart (alias, method, ...)."""
    extras = [f"{k}={edge[k]}" for k in _EDGE_LABEL_PROPS if edge.get(k) not in (None, "")]
    return " ".join([str(edge.get("type", ""))] + extras)


def build(
    nodes: Sequence[Mapping[str, Any]],
    edges: Sequence[Mapping[str, Any]],
    *,
    root: str | None = None,
    collapse_over: int | None = DEFAULT_COLLAPSE,
    node_cap: int = DEFAULT_NODE_CAP,
    notes: Iterable[str] = (),
) -> View:
    """Display dicts for a subgraph. Siblings of one kind that share exactly
    the same neighbours (the predictions of one model version) become one
    group node when there are more than ``collapse_over`` of them (``None``
    turns collapsing off); then at most ``node_cap`` nodes are kept, nearest
    to ``root`` first."""
    by_uid = {str(n["uid"]): dict(n) for n in nodes}
    plain_edges = [dict(e) for e in edges if str(e["src"]) in by_uid and str(e["dst"]) in by_uid]
    groups = fan_out_groups(by_uid, plain_edges, root, collapse_over) if collapse_over is not None else {}
    members = {uid: gid for gid, uids in groups.items() for uid in uids}
    shown = [_vis_node(n, root) for uid, n in by_uid.items() if uid not in members]
    shown += [_group_node(gid, uids, by_uid) for gid, uids in groups.items()]
    vis_edges = _vis_edges(plain_edges, members, groups)
    view = View(shown, vis_edges, [], list(notes), {gid: len(uids) for gid, uids in groups.items()})
    for uids in groups.values():
        view.notes.append(_group_note(uids, by_uid, plain_edges))
    _apply_cap(view, root, node_cap)
    view.legend = legend(view.nodes)
    return view


def _group_note(uids: list[str], by_uid: Mapping[str, Mapping[str, Any]],
                edges: Sequence[Mapping[str, Any]]) -> str:
    """``59 prediction groups shown as one group node (all linked to model:m@5)``:
    the shared neighbours tell two groups of the same size and kind apart."""
    first = uids[0]
    kind = by_uid[first].get("label")
    around = sorted({str(e["dst"]) if str(e["src"]) == first else str(e["src"])
                     for e in edges if first in (str(e["src"]), str(e["dst"]))})
    around = [uid for uid in around if by_uid.get(uid, {}).get("label") != kind] or around
    shared = ", ".join(around[:2]) + (f" and {len(around) - 2} more" if len(around) > 2 else "")
    return f"{plural(str(by_uid[first]['label']), len(uids))} shown as one group node (all linked to {shared})"


def fan_out_groups(
    by_uid: Mapping[str, Mapping[str, Any]], edges: Sequence[Mapping[str, Any]], root: str | None, over: int
) -> dict[str, list[str]]:
    """Group id -> member uids, for sets of more than ``over`` same-kind
    nodes with identical neighbourhoods, edges between nodes of the same kind
    left out (never the root)."""
    hood: dict[str, set[tuple[str, str, str]]] = defaultdict(set)
    kind = {uid: node.get("label") for uid, node in by_uid.items()}
    for e in edges:
        src, dst = str(e["src"]), str(e["dst"])
        if kind.get(src) == kind.get(dst):  # chained predictions: each uses another, still one fan-out
            continue
        hood[src].add(("out", str(e["type"]), dst))
        hood[dst].add(("in", str(e["type"]), src))
    buckets: dict[tuple, list[str]] = defaultdict(list)
    for uid, node in by_uid.items():
        if uid != root and hood.get(uid):
            buckets[(node.get("label"), frozenset(hood[uid]))].append(uid)
    groups: dict[str, list[str]] = {}
    for (label, signature), uids in buckets.items():
        if len(uids) > over:
            anchor = sorted(f"{d}:{t}:{o}" for d, t, o in signature)[0]
            groups[f"group:{label}:{anchor}"] = sorted(uids)
    return groups


def _vis_node(node: Mapping[str, Any], root: str | None) -> dict[str, Any]:
    colour, shape = style(str(node.get("label")))
    out = {"id": str(node["uid"]), "label": short_label(node), "title": hover(node), "color": colour,
           "shape": shape, "kind": node.get("label")}
    if node.get("placeholder"):
        out["shapeProperties"] = {"borderDashes": [4, 4]}
        out["color"] = {"background": "#ffffff", "border": colour}
    if root is not None and str(node["uid"]) == root:
        out["borderWidth"] = 5
        out["size"] = 32
        out["shadow"] = {"enabled": True, "color": ROOT_BORDER, "size": 22, "x": 0, "y": 0}
        out["font"] = {"size": 16, "bold": True, "color": ROOT_BORDER}
    return out


def _group_node(gid: str, uids: list[str], by_uid: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    label = str(by_uid[uids[0]].get("label"))
    colour, _ = style(label)
    sample = ", ".join(uids[:5]) + (" …" if len(uids) > 5 else "")
    return {"id": gid, "label": plural(label, len(uids)), "title": f"{plural(label, len(uids))} (collapsed)\n{sample}",
            "color": colour, "shape": GROUP_SHAPE, "kind": label, "count": len(uids), "size": 30}


def _vis_edges(edges: Sequence[Mapping[str, Any]], members: Mapping[str, str],
               groups: Mapping[str, list[str]]) -> list[dict[str, Any]]:
    counted: dict[tuple[str, str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for e in edges:
        src, dst = members.get(str(e["src"]), str(e["src"])), members.get(str(e["dst"]), str(e["dst"]))
        if src == dst and src in groups:
            continue  # between two members of one group
        counted[(src, dst, edge_label(e))].append(e)
    out = []
    for (src, dst, label), same in counted.items():
        text = label if len(same) == 1 else f"{label} ×{len(same):,}"
        title = "\n".join(f"{k}: {brief(v)}" for k, v in same[0].items() if k not in ("src", "dst")) if len(same) == 1 else text
        dashed = same[0].get("type") == "SAME_AS" or same[0].get("valid_to") not in (None, "")
        out.append({"from": src, "to": dst, "label": text, "title": title, "arrows": "to", "dashes": bool(dashed)})
    return out


def _apply_cap(view: View, root: str | None, cap: int) -> None:
    """Keep the ``cap`` nodes nearest the root; drop the rest and their edges."""
    if len(view.nodes) <= cap:
        return
    keep = set(nearest(view.nodes, view.edges, root, cap))
    view.dropped = len(view.nodes) - len(keep)
    view.nodes = [n for n in view.nodes if n["id"] in keep]
    view.edges = [e for e in view.edges if e["from"] in keep and e["to"] in keep]
    view.notes.append(f"display cap {cap:,} nodes: {view.dropped:,} more nodes not drawn")


def nearest(nodes: Sequence[Mapping[str, Any]], edges: Sequence[Mapping[str, Any]], root: str | None,
            cap: int) -> list[str]:
    """Node ids in breadth-first order from ``root`` (either direction), at most ``cap``."""
    ids = [str(n["id"]) for n in nodes]
    links: dict[str, list[str]] = defaultdict(list)
    for e in edges:
        links[e["from"]].append(e["to"])
        links[e["to"]].append(e["from"])
    order: list[str] = []
    seen: set[str] = set()
    for start in ([root] if root in ids else []) + ids:
        queue = deque([start])
        while queue and len(order) < cap:
            uid = queue.popleft()
            if uid in seen:
                continue
            seen.add(uid)
            order.append(uid)
            queue.extend(n for n in links[uid] if n not in seen)
        if len(order) >= cap:
            break
    return order


def from_rows(rows: Iterable[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Nodes, relationships and paths found in Cypher result rows (as
    :func:`graph.connection.to_plain` gives them), as Subgraph-style dicts."""
    nodes: dict[str, dict[str, Any]] = {}
    edges: dict[tuple, dict[str, Any]] = {}

    def visit(value: Any) -> None:
        if isinstance(value, Mapping) and "_labels" in value and value.get("uid"):
            labels = [lbl for lbl in value["_labels"] if lbl != "Node"]
            nodes.setdefault(str(value["uid"]), {**{k: v for k, v in value.items() if k != "_labels"},
                                                 "label": labels[0] if labels else "Node"})
        elif isinstance(value, Mapping) and "_type" in value and value.get("_start") and value.get("_end"):
            edge = {"src": value["_start"], "dst": value["_end"], "type": value["_type"],
                    **{k: v for k, v in value.items() if not k.startswith("_")}}
            edges.setdefault((edge["src"], edge["dst"], edge["type"]), edge)
        elif isinstance(value, Mapping):
            for inner in value.values():
                visit(inner)
        elif isinstance(value, (list, tuple)):
            for inner in value:
                visit(inner)

    for row in rows:
        visit(row)
    for edge in edges.values():  # endpoints of relationships returned without their nodes
        for uid in (edge["src"], edge["dst"]):
            nodes.setdefault(str(uid), {"uid": str(uid), "label": label_of_uid(str(uid))})
    return list(nodes.values()), list(edges.values())


def label_of_uid(uid: str) -> str:
    """The node kind a uid's prefix names (``Node`` when unknown)."""
    prefix, _, key = uid.partition(":")
    labels = label_of_prefix(prefix) if key else []
    if len(labels) > 1:  # "model": a version has "@<version>"
        return next((lbl for lbl in labels if lbl.endswith("Version")) if "@" in key else iter(labels), labels[0])
    return labels[0] if labels else "Node"


def legend(nodes: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One entry per node kind present: kind, colour, shape, how many drawn."""
    counts: dict[str, int] = defaultdict(int)
    for n in nodes:
        counts[str(n.get("kind"))] += int(n.get("count", 1))
    order = list(KINDS)
    return [{"kind": k, "color": style(k)[0], "shape": style(k)[1], "count": counts[k], "doc": KINDS[k].doc if k in KINDS else ""}
            for k in sorted(counts, key=lambda k: (order.index(k) if k in order else len(order), k))]


_REMOTE = re.compile(
    r"<link[^>]*href=\"https?://[^\"]*\"[^>]*>|<script[^>]*src=\"https?://[^\"]*\"[^>]*>\s*</script>", re.S)


def render(nodes: Sequence[Mapping[str, Any]], edges: Sequence[Mapping[str, Any]], *,
           height: int = 600, legend_entries: Sequence[Mapping[str, Any]] = (), layout: str = "hierarchical") -> str:
    """A self-contained HTML page drawing the graph with vis-network
    (pyvis, JavaScript inlined, every remote tag removed). ``layout``:
    ``hierarchical`` (default) draws the DAG left to right the way lineage
    tools do — what things depend on to the left, what depends on them to
    the right — with spacing that keeps labels apart; ``physics`` is the
    force-directed drawing."""
    from pyvis.network import Network

    net = Network(height=f"{height}px", width="100%", directed=True, cdn_resources="in_line")
    for n in nodes:
        extra = {k: v for k, v in n.items() if k not in ("id", "label", "shape", "color", "kind", "count")}
        if isinstance(extra.get("title"), str):  # pyvis puts a title holding "href" into innerHTML: never let it
            extra["title"] = extra["title"].replace("href", "h\u200bref")
        net.add_node(n["id"], label=n["label"], shape=n.get("shape", "dot"), color=n.get("color", "#97c2fc"), **extra)
    for e in edges:
        net.add_edge(e["from"], e["to"], **{k: v for k, v in e.items() if k not in ("from", "to")})
    net.set_options(options(layout))
    page = _REMOTE.sub("", net.generate_html(notebook=False))
    return page.replace("<body>", "<body>" + legend_html(legend_entries), 1) if legend_entries else page


def legend_html(entries: Sequence[Mapping[str, Any]]) -> str:
    """A one-line legend strip placed above the canvas."""
    items = "".join(
        f'<span style="margin-right:12px;white-space:nowrap"><span style="display:inline-block;width:11px;'
        f'height:11px;border-radius:2px;background:{html.escape(str(e["color"]))};margin-right:4px"></span>'
        f'{html.escape(str(e["kind"]))} ({int(e["count"]):,})</span>'
        for e in entries)
    return f'<div id="legend" style="font:12px sans-serif;padding:4px">{items}</div>'


def options(layout: str = "hierarchical") -> str:
    """vis-network options (JSON text) for a layout in :data:`LAYOUTS`.
    Edges point from the dependent thing to its dependency, so ``RL`` with
    the ``directed`` sort puts dependencies (raw data) left and dependents
    (models, predictions) right."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; known: {', '.join(LAYOUTS)}")
    opts: dict[str, Any] = {
        "edges": {"font": {"size": 9, "align": "middle"}, "color": {"color": "#888888"}},
        "nodes": {"font": {"size": 12}},
        "interaction": {"hover": True, "tooltipDelay": 100},
    }
    if layout == "hierarchical":
        opts["layout"] = {"hierarchical": {"enabled": True, "direction": "RL", "sortMethod": "directed",
                                           "shakeTowards": "roots", "levelSeparation": 260, "nodeSpacing": 70,
                                           "treeSpacing": 90, "parentCentralization": True}}
        opts["edges"]["smooth"] = {"type": "cubicBezier", "forceDirection": "horizontal", "roundness": 0.4}
        opts["physics"] = {"enabled": False}
    else:
        opts["edges"]["smooth"] = False
        opts["physics"] = {"enabled": True, "stabilization": {"iterations": 200},
                           "barnesHut": {"springLength": 140, "avoidOverlap": 0.3}}
    return json.dumps(opts)
