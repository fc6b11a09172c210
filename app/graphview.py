"""Turning a lineage Subgraph into something a person can look at.

:func:`build` is pure: it takes the nodes and edges of a
:class:`graph.lineage.Subgraph` (plain dicts) and returns display dicts —
a colour and a shape per node kind, a short readable label under every node
(file name with a short hash, stage name, ``model@version``, commit short
sha; a second line tells apart two nodes that would read the same), hover
text, edge labels, a legend — with large fan-outs collapsed into one group
node (9,812 predictions of one model version become one node "9,812
predictions") and at most ``node_cap`` nodes, saying what was left out.
Nodes flagged by data-anomalies, lineage gaps or a failed reproduction
(``marks``: uid -> reasons, :mod:`provex.graph.flags`) are marked, and a
``path`` (uids, e.g. from a prediction to the first cause) is drawn bold.
:mod:`provex.app.graphdraw` lays the view out and renders it with pyvis.
"""

from __future__ import annotations

import re
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from provex.app.graphdraw import PATH_COLOUR, Plan, plan
from provex.app.graphlabels import labels, short_label
from provex.vocab.model import KINDS

#: colour and vis-network shape per node kind (PROV: entities round, activities square, agents triangles);
#: every shape draws its label under the node.
STYLE: dict[str, tuple[str, str]] = {
    "Dataset": ("#9ecae1", "dot"),
    "DataVersion": ("#3182bd", "dot"),
    "Model": ("#fdd0a2", "diamond"),
    "ModelVersion": ("#e6550d", "diamond"),
    "LoggedModel": ("#fd8d3c", "diamond"),
    "Feature": ("#c7e9c0", "dot"),
    "Prediction": ("#756bb1", "dot"),
    "PredictionGroup": ("#bcbddc", "dot"),
    "Override": ("#de2d26", "star"),
    "CodeVersion": ("#31a354", "hexagon"),
    "Environment": ("#74c476", "triangleDown"),
    "Library": ("#a1d99b", "triangleDown"),
    "Run": ("#636363", "square"),
    "Stage": ("#969696", "square"),
    "Experiment": ("#d9d9d9", "square"),
    "Agent": ("#e7ba52", "triangle"),
    "Source": ("#bdbdbd", "square"),
    "IngestRun": ("#bdbdbd", "square"),
    "Reproduction": ("#9e9ac8", "square"),
    "Replay": ("#9e9ac8", "square"),
}
UNKNOWN_STYLE = ("#cccccc", "dot")
GROUP_SHAPE = "star"
ROOT_BORDER = "#d62728"  # the node a page is about
FLAG_BORDER = "#b30000"  # a node flagged by data-anomalies, a lineage gap or a failed reproduction
FLAG_SIGN = "\u26a0 "
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
    plan: Plan | None = None  # the layout (direction, spacing, canvas height) for these nodes


def style(label: str) -> tuple[str, str]:
    """(colour, shape) of a node kind."""
    return STYLE.get(label, UNKNOWN_STYLE)


def plural(label: str, count: int) -> str:
    """``9,812 predictions``, ``1 run``: a count with a readable kind name."""
    words = re.sub(r"(?<!^)([A-Z])", r" \1", label).lower()
    if count != 1:
        words = words[:-1] + "ies" if words.endswith("y") and not words.endswith("ey") else words + "s"
    return f"{count:,} {words}"


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
    marks: Mapping[str, Sequence[str]] | None = None,
    path: Sequence[str] = (),
    width: int | None = None,
) -> View:
    """Display dicts for a subgraph. Siblings of one kind that share exactly
    the same neighbours (the predictions of one model version) become one
    group node when there are more than ``collapse_over`` of them (``None``
    turns collapsing off); then at most ``node_cap`` nodes are kept, nearest
    to ``root`` first. ``marks`` (uid -> reasons) marks flagged nodes;
    ``path`` (uids in order) is drawn bold and never collapsed or capped away."""
    by_uid = {str(n["uid"]): dict(n) for n in nodes}
    plain_edges = [dict(e) for e in edges if str(e["src"]) in by_uid and str(e["dst"]) in by_uid]
    keep = {root, *map(str, path)}
    groups = fan_out_groups(by_uid, plain_edges, keep, collapse_over) if collapse_over is not None else {}
    members = {uid: gid for gid, uids in groups.items() for uid in uids}
    texts = labels([n for uid, n in by_uid.items() if uid not in members])
    shown = [_vis_node(n, root, texts[uid]) for uid, n in by_uid.items() if uid not in members]
    shown += [_group_node(gid, uids, by_uid) for gid, uids in groups.items()]
    vis_edges = _vis_edges(plain_edges, members, groups)
    view = View(shown, vis_edges, [], list(notes), {gid: len(uids) for gid, uids in groups.items()})
    for uids in groups.values():
        view.notes.append(_group_note(uids, by_uid, plain_edges))
    _apply_cap(view, root, node_cap, [str(u) for u in path])
    mark(view, marks or {}, groups)
    bold_path(view, [str(u) for u in path])
    view.legend = legend(view.nodes)
    view.plan = plan(view.nodes, view.edges, width) if width else plan(view.nodes, view.edges)
    return view


def mark(view: View, marks: Mapping[str, Sequence[str]], groups: Mapping[str, list[str]] | None = None) -> None:
    """Flagged nodes: a dark red border, a warning sign before the label, the reasons in the hover text
    (a group node when any of its members is flagged)."""
    for node in view.nodes:
        members = (groups or {}).get(node["id"], [node["id"]])
        reasons = [r for uid in members for r in marks.get(uid, ())]
        if not reasons:
            continue
        shown = list(dict.fromkeys(reasons))
        node["flags"] = shown
        node["label"] = FLAG_SIGN + node["label"]
        node["borderWidth"] = max(int(node.get("borderWidth", 1)), 4)
        node["color"] = {"background": _colour(node["color"]), "border": FLAG_BORDER,
                         "highlight": {"background": _colour(node["color"]), "border": FLAG_BORDER}}
        node["title"] = node.get("title", "") + "\nflagged:\n" + "\n".join(f"  {brief(r, 160)}" for r in shown[:8])


def bold_path(view: View, path: Sequence[str]) -> None:
    """The edges between consecutive ``path`` nodes drawn bold, the path's nodes outlined;
    a note when a step of the path is not drawn."""
    if len(path) < 2:
        return
    ids = {n["id"] for n in view.nodes}
    steps = {frozenset(pair) for pair in zip(path, path[1:], strict=False)}
    found = set()
    for e in view.edges:
        pair = frozenset((e["from"], e["to"]))
        if pair in steps:
            found.add(pair)
            e.update(path=True, width=5, color={"color": PATH_COLOUR, "highlight": PATH_COLOUR}, dashes=False)
    for node in view.nodes:
        if node["id"] in path:
            node["path"] = True
            node["borderWidth"] = max(int(node.get("borderWidth", 1)), 3)
            node["font"] = {**node.get("font", {}), "color": PATH_COLOUR, "size": 17}
    missing = [" -> ".join(sorted(p)) for p in steps - found if p <= ids] or (
        [] if set(path) <= ids else [f"{len(set(path) - ids)} of its nodes are not drawn"])
    if missing:
        view.notes.append("the marked path is not fully drawn: " + "; ".join(missing[:3]))


def _colour(value: Any) -> str:
    return str(value.get("background", "#cccccc")) if isinstance(value, Mapping) else str(value)


def upstream_path(edges: Sequence[Mapping[str, Any]], start: str, goal: str) -> list[str]:
    """The shortest chain of lineage edges from ``start`` up to ``goal``
    (following dependent -> dependency, SAME_AS either way); empty when none."""
    links: dict[str, list[str]] = defaultdict(list)
    for e in edges:
        links[str(e["src"])].append(str(e["dst"]))
        if e.get("type") == "SAME_AS":
            links[str(e["dst"])].append(str(e["src"]))
    before: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        uid = queue.popleft()
        if uid == goal:
            chain = [uid]
            while before[chain[-1]] is not None:
                chain.append(str(before[chain[-1]]))
            return chain[::-1]
        for nxt in links[uid]:
            if nxt not in before:
                before[nxt] = uid
                queue.append(nxt)
    return []


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
    by_uid: Mapping[str, Mapping[str, Any]], edges: Sequence[Mapping[str, Any]], keep: str | set | None, over: int
) -> dict[str, list[str]]:
    """Group id -> member uids, for sets of more than ``over`` same-kind
    nodes with identical neighbourhoods, edges between nodes of the same kind
    left out (never the root, nor a node in ``keep``)."""
    keep = {keep} if isinstance(keep, str) or keep is None else keep
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
        if uid not in keep and hood.get(uid):
            buckets[(node.get("label"), frozenset(hood[uid]))].append(uid)
    groups: dict[str, list[str]] = {}
    for (label, signature), uids in buckets.items():
        if len(uids) > over:
            anchor = sorted(f"{d}:{t}:{o}" for d, t, o in signature)[0]
            groups[f"group:{label}:{anchor}"] = sorted(uids)
    return groups


def _vis_node(node: Mapping[str, Any], root: str | None, text: str | None = None) -> dict[str, Any]:
    colour, shape = style(str(node.get("label")))
    out = {"id": str(node["uid"]), "label": text or short_label(node), "title": hover(node), "color": colour,
           "shape": shape, "kind": node.get("label")}
    if node.get("placeholder"):
        out["shapeProperties"] = {"borderDashes": [4, 4]}
        out["color"] = {"background": "#ffffff", "border": colour}
    if root is not None and str(node["uid"]) == root:
        out["borderWidth"] = 5
        out["size"] = 32
        out["shadow"] = {"enabled": True, "color": ROOT_BORDER, "size": 22, "x": 0, "y": 0}
        out["font"] = {"size": 17, "color": ROOT_BORDER}
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


def _apply_cap(view: View, root: str | None, cap: int, path: Sequence[str] = ()) -> None:
    """Keep the ``cap`` nodes nearest the root (and the path's); drop the rest and their edges."""
    if len(view.nodes) <= cap:
        return
    on_path = {n["id"] for n in view.nodes if n["id"] in set(path)}
    keep = on_path | set(nearest(view.nodes, view.edges, root, max(cap - len(on_path), 1)))
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


def legend(nodes: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One entry per node kind present: kind, colour, shape, how many drawn."""
    counts: dict[str, int] = defaultdict(int)
    for n in nodes:
        counts[str(n.get("kind"))] += int(n.get("count", 1))
    order = list(KINDS)
    out = [{"kind": k, "color": style(k)[0], "shape": style(k)[1], "count": counts[k], "doc": KINDS[k].doc if k in KINDS else ""}
           for k in sorted(counts, key=lambda k: (order.index(k) if k in order else len(order), k))]
    nodes = list(nodes)
    flagged = sum(1 for n in nodes if n.get("flags"))
    if flagged:
        out.append({"kind": FLAG_SIGN + "flagged", "color": "#ffffff", "border": FLAG_BORDER, "shape": "border",
                    "count": flagged, "doc": "data anomaly, lineage gap or failed reproduction (hover for why)"})
    on_path = sum(1 for n in nodes if n.get("path"))
    if on_path:
        out.append({"kind": "marked path", "color": PATH_COLOUR, "shape": "bold edge", "count": on_path,
                    "doc": "the path this page is about, drawn bold"})
    return out
