"""Exports of a lineage Subgraph: W3C PROV (built with the ``prov`` library) and GraphML
(written by networkx).

PROV is a mapping, not a rewrite: node kinds map to entity / activity / agent by
``provex.vocab.model.KINDS[label].group`` and lineage edges to the PROV relation
that fits their endpoints (``USED`` activity->entity is ``used``,
``WAS_GENERATED_BY`` entity->activity is ``wasGeneratedBy``, ``PREDICTED_BY``
is ``wasDerivedFrom`` with ``provex:type``, ...). Anything PROV has no word for
becomes ``wasInfluencedBy`` with ``provex:type`` naming the provex edge. The
one document serialises to every format ``prov`` offers: PROV-JSON, PROV-JSON-LD,
PROV-N, PROV-XML and PROV-O RDF (Turtle, N-Triples, RDF/XML; through rdflib).
"""

from __future__ import annotations

import json
import re
import warnings
from typing import Any
from urllib.parse import quote

from provex.graph.lineage import Subgraph
from provex.vocab.model import KINDS

PROVEX_NS = "https://provex.dev/ns#"
NODE_NS = "urn:provex:node:"
GRAPHML_NS = "http://graphml.graphdrawing.org/xmlns"
#: ``provex export --format`` -> (prov serializer, its options); graphml is written by networkx.
PROV_FORMATS: dict[str, tuple[str, dict[str, Any]]] = {
    "prov-json": ("json", {"indent": 2}),
    "prov-jsonld": ("jsonld", {}),
    "prov-n": ("provn", {}),
    "prov-xml": ("xml", {}),
    "prov-o": ("rdf", {"rdf_format": "turtle"}),
    "prov-o-nt": ("rdf", {"rdf_format": "nt"}),
    "prov-o-xml": ("rdf", {"rdf_format": "xml"}),
}
FORMATS = (*PROV_FORMATS, "graphml")

# (provex edge type, source group, target group) -> PROV relation
_RELATIONS: dict[tuple[str, str, str], str] = {
    ("USED", "activity", "entity"): "used",
    ("USED", "entity", "entity"): "wasDerivedFrom",
    ("WAS_GENERATED_BY", "entity", "activity"): "wasGeneratedBy",
    ("WAS_DERIVED_FROM", "entity", "entity"): "wasDerivedFrom",
    ("PREDICTED_BY", "entity", "entity"): "wasDerivedFrom",
    ("ASSOCIATED_WITH", "activity", "agent"): "wasAssociatedWith",
    ("ASSOCIATED_WITH", "entity", "agent"): "wasAttributedTo",
}
_SKIP_PROPS = {"uid", "label", "name", "sources"}


def group_of(label: str | None) -> str:
    """PROV class of a node kind; bookkeeping kinds (meta) export as entities."""
    kind = KINDS.get(label or "")
    return kind.group if kind and kind.group in ("entity", "activity", "agent") else "entity"


#: Formats written as XML: every character XML 1.0 does not allow is escaped in them.
XML_FORMATS = ("prov-xml", "prov-o-xml", "graphml")
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")  # XML 1.0's Char, negated
_SURROGATE = re.compile("[\ud800-\udfff]")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9._-]*")


def xml_text(text: str) -> str:
    """``text`` with each character XML 1.0 does not allow (C0 controls but tab
    and newlines, lone surrogates, U+FFFE/U+FFFF) written as a visible ``\\uXXXX``."""
    return _NOT_XML.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _unsurrogate(text: str) -> str:
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _cleaned(value: Any, clean: Any) -> Any:
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, (list, tuple)):
        return [_cleaned(v, clean) for v in value]
    if isinstance(value, dict):
        return {_cleaned(k, clean): _cleaned(v, clean) for k, v in value.items()}
    return value


def cleaned(sub: Subgraph, xml: bool) -> Subgraph:
    """The Subgraph with its text fit for the format: for XML, no character XML 1.0
    refuses (so the file parses with a strict parser); for the others, no lone surrogate
    (which no UTF-8 writer can encode). Nothing else changes."""
    clean = xml_text if xml else _unsurrogate
    return Subgraph(clean(sub.root), _cleaned(sub.nodes, clean), _cleaned(sub.edges, clean), sub.truncated,
                    _cleaned(sub.notes, clean))


def local_name(key: str) -> str:
    """A property key as the local part of a ``provex:`` name: kept when it is a plain
    name, else each character outside ``[A-Za-z0-9._-]`` written ``_xHHHH_`` (a space in an
    MLflow param name would make an invalid XML element name and RDF predicate)."""
    if _NAME.fullmatch(key):
        return key
    out = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else f"_x{ord(c):04X}_" for c in key)
    return out if _NAME.match(out) else f"_x{ord(out[0]):04X}_{out[1:]}" if out else "_"


def qname(uid: str) -> str:
    """A PROV qualified name for a provex uid (``node:`` + the escaped uid)."""
    return "node:" + quote(uid, safe="")


def _value(value: Any) -> Any:
    if isinstance(value, (str, bool, int, float)):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def _attributes(props: dict[str, Any]) -> dict[str, Any]:
    return {f"provex:{local_name(str(k))}": _value(v) for k, v in sorted(props.items())
            if v is not None and k not in _SKIP_PROPS}


def prov_document(sub: Subgraph) -> Any:
    """The Subgraph as a :class:`prov.model.ProvDocument`."""
    from prov.model import PROV_LABEL, PROV_TYPE, ProvDocument

    doc = ProvDocument()
    provex = doc.add_namespace("provex", PROVEX_NS)
    doc.add_namespace("node", NODE_NS)
    groups: dict[str, str] = {}
    for node in sub.nodes:
        group = group_of(node["label"])
        groups[node["uid"]] = group
        attrs = {PROV_TYPE: provex[str(node["label"])], PROV_LABEL: str(node["name"]), "provex:uid": node["uid"],
                 **_attributes({k: v for k, v in node.items() if k != "placeholder" or v})}
        getattr(doc, group)(qname(node["uid"]), other_attributes=attrs)
    for edge in sub.edges:
        if edge["src"] not in groups or edge["dst"] not in groups:
            continue
        relation = _RELATIONS.get((edge["type"], groups[edge["src"]], groups[edge["dst"]]), "wasInfluencedBy")
        attrs = {"provex:type": edge["type"], **_attributes({k: v for k, v in edge.items() if k not in ("src", "dst", "type")})}
        getattr(doc, relation)(qname(edge["src"]), qname(edge["dst"]), other_attributes=attrs)
    return doc


def prov_json(sub: Subgraph) -> dict[str, Any]:
    """The Subgraph as a PROV-JSON document (a dict ready for ``json.dumps``)."""
    return json.loads(prov_document(cleaned(sub, xml=False)).serialize(format="json"))


def serialize(sub: Subgraph, fmt: str) -> str:
    """The Subgraph in one of :data:`FORMATS` (text ending in a newline); an XML
    format never holds a character XML 1.0 does not allow."""
    sub = cleaned(sub, xml=fmt in XML_FORMATS)
    if fmt == "graphml":
        return graphml(sub)
    name, options = PROV_FORMATS[fmt]
    with warnings.catch_warnings():  # rdflib's N-Triples writer warns that it always writes UTF-8
        warnings.simplefilter("ignore", UserWarning)
        text = prov_document(sub).serialize(format=name, **options)
    text = text.decode("utf-8") if isinstance(text, bytes) else text
    return text if text.endswith("\n") else text + "\n"


def graphml(sub: Subgraph) -> str:
    """The Subgraph as GraphML (networkx): every node and edge property as a string
    key (lists and dicts JSON-encoded); a cut result says so in the graph's ``partial`` key."""
    import networkx as nx

    g = nx.MultiDiGraph(id=sub.root)
    if sub.truncated:
        g.graph["partial"] = "; ".join(sub.notes)
    for node in sub.nodes:
        g.add_node(node["uid"], **_strings({k: v for k, v in node.items() if k != "uid"}))
    for i, edge in enumerate(sub.edges):
        g.add_edge(edge["src"], edge["dst"], key=f"edge{i}", **_strings({k: v for k, v in edge.items() if k not in ("src", "dst")}))
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + "\n".join(nx.generate_graphml(g, prettyprint=True)) + "\n"


def _strings(props: dict[str, Any]) -> dict[str, str]:
    return {k: v if isinstance(v, str) else json.dumps(v, default=str) for k, v in sorted(props.items()) if v is not None}
