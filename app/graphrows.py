"""Nodes, relationships and paths found in Cypher result rows (the console's
answers) as Subgraph-style node and edge dicts, ready for
:func:`provex.app.graphview.build`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from provex.vocab.model import label_of_prefix


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
