"""The lineage picture as a static SVG (for the decision record: no script, no
external asset). Takes a :class:`provex.app.graphview.View` (labels, colours,
shapes, flags, the bold path) and lays it out in columns: what the
prediction depends on to the left, the prediction to the right, each column
ordered to keep edges short. Every text is escaped."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from provex.app.graphdraw import PATH_COLOUR, levels
from provex.app.graphview import FLAG_BORDER

FONT = 11
CHAR = 0.58  # width of a character, in font sizes
ROW = 58
NODE = 9  # node radius
EDGE_COLOUR = "#9e9e9e"
MAX_LABEL = 40  # characters of a label line


def _colour(value: Any) -> str:
    return str(value.get("background", "#cccccc")) if isinstance(value, Mapping) else str(value or "#cccccc")


def _lines(label: str) -> list[str]:
    return [line if len(line) <= MAX_LABEL else line[: MAX_LABEL - 1] + "\u2026" for line in str(label).split("\n")][:3]


def layout(nodes: Sequence[Mapping[str, Any]], edges: Sequence[Mapping[str, Any]]) -> dict[str, tuple[float, float]]:
    """Node id -> (x, y): columns by lineage level (dependencies left), rows ordered by the
    mean row of each node's neighbours (two sweeps)."""
    ids = [str(n["id"]) for n in nodes]
    level = levels(ids, edges)
    deepest = max(level.values(), default=0)
    columns: dict[int, list[str]] = defaultdict(list)
    for uid in sorted(ids):
        columns[deepest - level[uid]].append(uid)
    near: dict[str, list[str]] = defaultdict(list)
    for e in edges:
        a, b = str(e["from"]), str(e["to"])
        if a in level and b in level:
            near[a].append(b)
            near[b].append(a)
    row = {uid: float(i) for col in columns.values() for i, uid in enumerate(col)}
    for _ in range(2):
        for col in sorted(columns):
            mean = {u: sum(row[v] for v in near[u]) / len(near[u]) if near[u] else row[u] for u in columns[col]}
            columns[col].sort(key=lambda u: (mean[u], u))
            row.update({u: float(i) for i, u in enumerate(columns[col])})
    width = max((len(line) for n in nodes for line in _lines(n.get("label", ""))), default=10) * FONT * CHAR + 40
    tallest = max((len(c) for c in columns.values()), default=1)
    out = {}
    for col, members in columns.items():
        offset = (tallest - len(members)) * ROW / 2
        for i, uid in enumerate(members):
            out[uid] = (30 + width / 2 + col * width, 30 + offset + i * ROW)
    return out


def _shape(shape: str, x: float, y: float, fill: str, stroke: str, stroke_width: float) -> str:
    r = NODE
    style = f'fill="{escape(fill)}" stroke="{escape(stroke)}" stroke-width="{stroke_width}"'
    if shape in ("square", "box"):
        return f'<rect x="{x - r:.1f}" y="{y - r:.1f}" width="{2 * r}" height="{2 * r}" {style}/>'
    corners = {"diamond": [(0, -1.3), (1.3, 0), (0, 1.3), (-1.3, 0)],
               "triangle": [(0, -1.2), (1.1, 0.8), (-1.1, 0.8)], "triangleDown": [(0, 1.2), (1.1, -0.8), (-1.1, -0.8)],
               "hexagon": [(1, 0), (0.5, 0.87), (-0.5, 0.87), (-1, 0), (-0.5, -0.87), (0.5, -0.87)],
               "star": [(0, -1.3), (0.35, -0.4), (1.25, -0.4), (0.55, 0.15), (0.8, 1.1), (0, 0.55), (-0.8, 1.1),
                        (-0.55, 0.15), (-1.25, -0.4), (-0.35, -0.4)]}.get(shape)
    if corners:
        points = " ".join(f"{x + dx * r:.1f},{y + dy * r:.1f}" for dx, dy in corners)
        return f'<polygon points="{points}" {style}/>'
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}" {style}/>'


def render(nodes: Sequence[Mapping[str, Any]], edges: Sequence[Mapping[str, Any]], *, title: str = "lineage") -> str:
    """The picture as one ``<svg>`` element (inline: no external reference)."""
    where = layout(nodes, edges)
    if not where:
        return '<svg xmlns="http://www.w3.org/2000/svg" width="300" height="40"><text x="10" y="24">Nothing to draw.</text></svg>'
    width = max(x for x, _ in where.values()) + 200
    height = max(y for _, y in where.values()) + 70
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{escape(title)}" width="{width:.0f}" '
             f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" font-family="sans-serif" font-size="{FONT}">',
             f"<title>{escape(title)}</title>",
             f'<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" '
             f'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="{EDGE_COLOUR}"/></marker>'
             f'<marker id="arrow-path" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="5" markerHeight="5" '
             f'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="{PATH_COLOUR}"/></marker></defs>']
    for e in edges:
        a, b = where.get(str(e["from"])), where.get(str(e["to"]))
        if not a or not b:
            continue
        bold = bool(e.get("path"))
        colour, wide, marker = (PATH_COLOUR, 4, "arrow-path") if bold else (EDGE_COLOUR, 1, "arrow")
        dash = ' stroke-dasharray="4 3"' if e.get("dashes") and not bold else ""
        parts.append(f'<line x1="{a[0]:.1f}" y1="{a[1]:.1f}" x2="{b[0] + (NODE + 2 if b[0] < a[0] else -NODE - 2):.1f}" '
                     f'y2="{b[1]:.1f}" stroke="{colour}" stroke-width="{wide}"{dash} marker-end="url(#{marker})">'
                     f"<title>{escape(str(e.get('label', '')))}</title></line>")
    for n in nodes:
        x, y = where[str(n["id"])]
        flagged, on_path = bool(n.get("flags")), bool(n.get("path"))
        stroke = FLAG_BORDER if flagged else PATH_COLOUR if on_path else "#555555"
        parts.append(f'<g class="node{" flagged" if flagged else ""}{" path" if on_path else ""}" '
                     f'data-id="{escape(str(n["id"]))}"><title>{escape(str(n.get("title") or n["id"]))}</title>')
        parts.append(_shape(str(n.get("shape", "dot")), x, y, _colour(n.get("color")), stroke, 3 if flagged or on_path else 1))
        fill = PATH_COLOUR if on_path else "#222222"
        weight = ' font-weight="bold"' if on_path or flagged else ""
        for i, line in enumerate(_lines(n.get("label", ""))):
            parts.append(f'<text x="{x:.1f}" y="{y + NODE + 13 + i * (FONT + 2):.1f}" text-anchor="middle" '
                         f'fill="{fill}"{weight}>{escape(line)}</text>')
        parts.append("</g>")
    parts.append("</svg>")
    return "\n".join(parts)
