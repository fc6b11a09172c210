"""Exports of a lineage Subgraph: W3C PROV-JSON and GraphML.

PROV-JSON is a mapping, not a rewrite: node kinds map to entity / activity /
agent by ``provex.vocab.model.KINDS[label].group`` and lineage edges to the PROV
relation that fits their endpoints (``USED`` activity->entity is ``used``,
``WAS_GENERATED_BY`` entity->activity is ``wasGeneratedBy``, ``PREDICTED_BY``
is ``wasDerivedFrom`` with ``provex:type``, ...). Anything PROV has no word
for becomes ``wasInfluencedBy`` with ``provex:type`` naming the provex edge.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import quote

from provex.graph.lineage import Subgraph
from provex.vocab.model import KINDS

PROVEX_NS = "https://provex.dev/ns#"
NODE_NS = "urn:provex:node:"
GRAPHML_NS = "http://graphml.graphdrawing.org/xmlns"

# (provex edge type, source group, target group) -> (PROV relation, source role, target role)
_RELATIONS: dict[tuple[str, str, str], tuple[str, str, str]] = {
    ("USED", "activity", "entity"): ("used", "prov:activity", "prov:entity"),
    ("USED", "entity", "entity"): ("wasDerivedFrom", "prov:generatedEntity", "prov:usedEntity"),
    ("WAS_GENERATED_BY", "entity", "activity"): ("wasGeneratedBy", "prov:entity", "prov:activity"),
    ("WAS_DERIVED_FROM", "entity", "entity"): ("wasDerivedFrom", "prov:generatedEntity", "prov:usedEntity"),
    ("PREDICTED_BY", "entity", "entity"): ("wasDerivedFrom", "prov:generatedEntity", "prov:usedEntity"),
    ("ASSOCIATED_WITH", "activity", "agent"): ("wasAssociatedWith", "prov:activity", "prov:agent"),
    ("ASSOCIATED_WITH", "entity", "agent"): ("wasAttributedTo", "prov:entity", "prov:agent"),
}
_INFLUENCE = ("wasInfluencedBy", "prov:influencee", "prov:influencer")
_SKIP_PROPS = {"uid", "label", "name", "sources"}


def group_of(label: str | None) -> str:
    """PROV class of a node kind; bookkeeping kinds (meta) export as entities."""
    kind = KINDS.get(label or "")
    return kind.group if kind and kind.group in ("entity", "activity", "agent") else "entity"


def qname(uid: str) -> str:
    """A PROV qualified name for a provex uid (``node:`` + the escaped uid)."""
    return "node:" + quote(uid, safe="")


def _value(value: Any) -> Any:
    if isinstance(value, (str, bool, int, float)):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def _attributes(props: dict[str, Any]) -> dict[str, Any]:
    return {f"provex:{k}": _value(v) for k, v in sorted(props.items()) if v is not None and k not in _SKIP_PROPS}


def prov_json(sub: Subgraph) -> dict[str, Any]:
    """The Subgraph as a PROV-JSON document (a dict ready for ``json.dumps``)."""
    doc: dict[str, Any] = {"prefix": {"provex": PROVEX_NS, "node": NODE_NS}}
    groups: dict[str, str] = {}
    for node in sub.nodes:
        group = group_of(node["label"])
        groups[node["uid"]] = group
        record = {"prov:type": f"provex:{node['label']}", "prov:label": str(node["name"]), "provex:uid": node["uid"]}
        record.update(_attributes({k: v for k, v in node.items() if k != "placeholder" or v}))
        doc.setdefault(group, {})[qname(node["uid"])] = record
    for i, edge in enumerate(sub.edges):
        if edge["src"] not in groups or edge["dst"] not in groups:
            continue
        key = (edge["type"], groups[edge["src"]], groups[edge["dst"]])
        relation, src_role, dst_role = _RELATIONS.get(key, _INFLUENCE)
        record = {src_role: qname(edge["src"]), dst_role: qname(edge["dst"]), "provex:type": edge["type"]}
        record.update(_attributes({k: v for k, v in edge.items() if k not in ("src", "dst", "type")}))
        doc.setdefault(relation, {})[f"_:e{i}"] = record
    return doc


def graphml(sub: Subgraph) -> str:
    """The Subgraph as GraphML: every node and edge property as a string key
    (lists and dicts JSON-encoded)."""
    ET.register_namespace("", GRAPHML_NS)
    root = ET.Element(f"{{{GRAPHML_NS}}}graphml")
    node_keys = sorted({k for n in sub.nodes for k in n if k != "uid"})
    edge_keys = sorted({k for e in sub.edges for k in e if k not in ("src", "dst")})
    ids = {("node", name): f"n{i}" for i, name in enumerate(node_keys)}
    ids.update({("edge", name): f"e{i}" for i, name in enumerate(edge_keys)})
    for (target, name), key_id in ids.items():
        ET.SubElement(root, f"{{{GRAPHML_NS}}}key", {
            "id": key_id, "for": target, "attr.name": name, "attr.type": "string"})
    body = ET.SubElement(root, f"{{{GRAPHML_NS}}}graph", {"id": sub.root, "edgedefault": "directed"})
    for node in sub.nodes:
        element = ET.SubElement(body, f"{{{GRAPHML_NS}}}node", {"id": node["uid"]})
        _data(element, "node", ids, {k: v for k, v in node.items() if k != "uid"})
    for i, edge in enumerate(sub.edges):
        attrs = {"id": f"edge{i}", "source": edge["src"], "target": edge["dst"]}
        element = ET.SubElement(body, f"{{{GRAPHML_NS}}}edge", attrs)
        _data(element, "edge", ids, {k: v for k, v in edge.items() if k not in ("src", "dst")})
    if sub.truncated:
        root.insert(0, ET.Comment(" partial result: " + "; ".join(sub.notes).replace("--", "- -") + " "))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _data(element: ET.Element, target: str, ids: dict[tuple[str, str], str], props: dict[str, Any]) -> None:
    for name, value in sorted(props.items()):
        if value is None:
            continue
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        ET.SubElement(element, f"{{{GRAPHML_NS}}}data", {"key": ids[(target, name)]}).text = text
