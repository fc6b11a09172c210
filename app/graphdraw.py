"""Drawing a lineage view: a layout that uses the canvas, the vis-network
options, and the self-contained pyvis page (vis-network inlined: no CDN is
needed, none is reachable).

The layout is planned in Python from the graph's shape (pure,
:func:`plan`): lineage is a layered DAG, so the levels (how deep) and the
widest level (how many side by side) decide whether it reads best left to
right (few levels) or top down (many levels: the thing asked about on top,
its causes below), how far apart levels and nodes sit so that every label
fits, and how tall the canvas is, so that the drawing fills it at a scale
where the labels stay readable.
"""

from __future__ import annotations

import html
import json
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

LAYOUTS = ("hierarchical", "physics")
#: The width of the canvas a page gives the drawing (a wide page at 1500 px), and its tallest height.
CANVAS_WIDTH, MAX_HEIGHT, MIN_HEIGHT = 1040, 1200, 360
FONT = 16  # node labels, canvas pixels
CHAR = 0.52  # width of one character, in font sizes (sans-serif, mostly lower case)
PATH_COLOUR = "#d62728"


@dataclass(frozen=True)
class Plan:
    """How to lay a view out: the direction, the spacing and the canvas height."""

    direction: str  # vis-network hierarchical direction: "RL" (left to right) or "UD" (top down)
    level_separation: int
    node_spacing: int
    height: int
    levels: int
    widest: int
    scale: float  # the expected zoom once the drawing is fitted to the canvas


def levels(ids: Sequence[str], edges: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Each node's level as vis-network's ``directed`` sort makes it: the
    longest chain of edges from a node no edge points at (cycles cut)."""
    level = {i: 0 for i in ids}
    pairs = [(str(e["from"]), str(e["to"])) for e in edges if e["from"] in level and e["to"] in level]
    for _ in range(len(level)):
        moved = False
        for src, dst in pairs:
            if level[dst] < level[src] + 1 < len(level):
                level[dst], moved = level[src] + 1, True
        if not moved:
            break
    return level


def by_level(ids: Sequence[str], edges: Sequence[Mapping[str, Any]], sweeps: int = 2) -> dict[int, list[str]]:
    """Level -> its nodes in an order that keeps edges short: each node placed at the
    mean position of its neighbours, level by level, ``sweeps`` times (from a sorted start,
    so the order never depends on the order nodes came in)."""
    level = levels(ids, edges)
    rows: dict[int, list[str]] = defaultdict(list)
    for uid in sorted(level):
        rows[level[uid]].append(uid)
    near: dict[str, list[str]] = defaultdict(list)
    for e in edges:
        a, b = str(e["from"]), str(e["to"])
        if a in level and b in level and a != b:
            near[a].append(b)
            near[b].append(a)
    place = {uid: float(i) for row in rows.values() for i, uid in enumerate(row)}
    for _ in range(sweeps):
        for lvl in sorted(rows):
            mean = {u: sum(place[v] for v in near[u]) / len(near[u]) if near[u] else place[u] for u in rows[lvl]}
            rows[lvl].sort(key=lambda u: (mean[u], u))
            place.update({u: float(i) for i, u in enumerate(rows[lvl])})
    return dict(rows)


def ordered(nodes: Sequence[Mapping[str, Any]], edges: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The nodes level by level, in :func:`by_level`'s order: vis-network's hierarchical layout
    places them in the order they are added, so the drawing (and its width) no longer
    depends on the order a traversal returned them in."""
    by_id = {str(n["id"]): n for n in nodes}
    rows = by_level(list(by_id), edges)
    return [by_id[uid] for lvl in sorted(rows) for uid in rows[lvl]]


def label_width(label: str) -> float:
    """Canvas pixels the widest line of a label takes."""
    return max((len(line) for line in str(label).split("\n")), default=0) * FONT * CHAR


def plan(nodes: Sequence[Mapping[str, Any]], edges: Sequence[Mapping[str, Any]],
         width: int = CANVAS_WIDTH) -> Plan:
    """The direction, spacing and height that show ``nodes`` at the largest scale on a canvas ``width`` wide."""
    level = levels([str(n["id"]) for n in nodes], edges)
    per_level: dict[int, int] = defaultdict(int)
    for value in level.values():
        per_level[value] += 1
    depth, widest = max(per_level, default=0) + 1, max(per_level.values(), default=1)
    lines = max((len(str(n.get("label", "")).split("\n")) for n in nodes), default=1)
    label = max((label_width(n.get("label", "")) for n in nodes), default=60.0)
    across = int(max(80, label + 16))  # room for a label beside its neighbours
    tall = int(32 + lines * FONT * 1.25 + 18)  # a node, its label below, a gap
    options = []
    for direction, w, h, sep, spacing in (("RL", depth * across, widest * tall, across, tall),
                                          ("UD", widest * across, depth * (tall + 25), tall + 25, across)):
        scale = min(1.0, width / max(w, 1), MAX_HEIGHT / max(h, 1))
        options.append((scale, direction == "RL", direction, sep, spacing, h))
    scale, _, direction, sep, spacing, h = max(options)
    height = int(min(MAX_HEIGHT, max(MIN_HEIGHT, h * scale + 80)))
    return Plan(direction, sep, spacing, height, depth, widest, round(scale, 3))


def options(layout: str = "hierarchical", layout_plan: Plan | None = None) -> str:
    """vis-network options (JSON text) for a layout in :data:`LAYOUTS`. Edges
    point from the dependent thing to its dependency, so ``RL`` with the
    ``directed`` sort puts dependencies (raw data) left and dependents
    (models, predictions) right; ``UD`` puts dependents on top. Labels are
    drawn under every node, however far the view is zoomed out."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; known: {', '.join(LAYOUTS)}")
    p = layout_plan or Plan("RL", 260, 70, 600, 1, 1, 1.0)
    opts: dict[str, Any] = {
        "edges": {"font": {"size": 10, "align": "middle", "color": "#666666"}, "color": {"color": "#9a9a9a"},
                  "scaling": {"label": {"drawThreshold": 9}}},
        "nodes": {"font": {"size": FONT, "face": "sans-serif", "color": "#222222",
                           "background": "rgba(255,255,255,0.85)"},
                  "size": 14, "scaling": {"label": {"enabled": True, "drawThreshold": 1, "maxVisible": 26}}},
        "interaction": {"hover": True, "tooltipDelay": 100},
    }
    if layout == "hierarchical":
        opts["layout"] = {"hierarchical": {"enabled": True, "direction": p.direction, "sortMethod": "directed",
                                           "shakeTowards": "roots", "levelSeparation": p.level_separation,
                                           "nodeSpacing": p.node_spacing, "treeSpacing": p.node_spacing,
                                           "parentCentralization": True}}
        force = "horizontal" if p.direction in ("RL", "LR") else "vertical"
        opts["edges"]["smooth"] = {"type": "cubicBezier", "forceDirection": force, "roundness": 0.4}
        opts["physics"] = {"enabled": False}
    else:
        opts["edges"]["smooth"] = False
        opts["physics"] = {"enabled": True, "stabilization": {"iterations": 200},
                           "barnesHut": {"springLength": 160, "avoidOverlap": 0.5}}
    return json.dumps(opts)


_REMOTE = re.compile(
    r"<link[^>]*href=\"https?://[^\"]*\"[^>]*>|<script[^>]*src=\"https?://[^\"]*\"[^>]*>\s*</script>", re.S)
# pyvis' empty headings (they push the canvas down) and its link to a stylesheet that is not there
_CLUTTER = re.compile(r"<center>\s*<h1>\s*</h1>\s*</center>|<link[^>]*href=\"\.\./node_modules/[^\"]*\"[^>]*>", re.S)
#: What the page adds around the canvas: the legend strip and the margins (an iframe must be this much taller).
CHROME = 64
# vis-network fits the drawing to the canvas once, when drawn; an iframe that is laid out (or resized)
# after that would keep a scale fitted to another width: fit again whenever the canvas changes size.
_REFIT = ('<script>if (typeof network !== "undefined" && network) '
          '{ network.on("resize", function () { network.fit(); }); }</script>')
_NODE_KEYS = ("id", "label", "shape", "color", "kind", "count")


def render(nodes: Sequence[Mapping[str, Any]], edges: Sequence[Mapping[str, Any]], *,
           height: int | None = None, legend_entries: Sequence[Mapping[str, Any]] = (),
           layout: str = "hierarchical", layout_plan: Plan | None = None) -> str:
    """A self-contained HTML page drawing the graph with vis-network (pyvis,
    JavaScript inlined, every remote tag removed): the layout planned for
    these nodes (:func:`plan`) unless ``layout_plan`` is given; ``physics``
    is the force-directed drawing."""
    from pyvis.network import Network

    layout_plan = layout_plan or plan(nodes, edges)
    net = Network(height=f"{height or layout_plan.height}px", width="100%", directed=True, cdn_resources="in_line")
    for n in ordered(nodes, edges) if layout == "hierarchical" else nodes:
        extra = {k: v for k, v in n.items() if k not in _NODE_KEYS}
        if isinstance(extra.get("title"), str):  # pyvis puts a title holding "href" into innerHTML: never let it
            extra["title"] = extra["title"].replace("href", "h\u200bref")
        net.add_node(n["id"], label=n["label"], shape=n.get("shape", "dot"), color=n.get("color", "#97c2fc"), **extra)
    for e in edges:
        net.add_edge(e["from"], e["to"], **{k: v for k, v in e.items() if k not in ("from", "to")})
    net.set_options(options(layout, layout_plan))
    page = _CLUTTER.sub("", _REMOTE.sub("", net.generate_html(notebook=False)))
    top = '<body style="margin:4px">' + (legend_html(legend_entries) if legend_entries else "")
    page = page.replace("<body>", top, 1)
    at = page.rfind("</body>")
    return page[:at] + _REFIT + page[at:]


def legend_html(entries: Sequence[Mapping[str, Any]]) -> str:
    """A one-line legend strip placed above the canvas (marks included)."""
    items = "".join(
        f'<span style="margin-right:12px;white-space:nowrap"><span style="display:inline-block;width:11px;'
        f'height:11px;border-radius:2px;background:{html.escape(str(e["color"]))};margin-right:4px;'
        f'{"border:2px solid " + html.escape(str(e["border"])) + ";" if e.get("border") else ""}"></span>'
        f'{html.escape(str(e["kind"]))} ({int(e["count"]):,})</span>'
        for e in entries)
    return f'<div id="legend" style="font:12px sans-serif;padding:4px">{items}</div>'
