"""Finding nodes by id, name, path or hash prefix, through the full-text index
and the uid / hash lookup indexes. Every hit carries a ``ref`` that every
other command accepts."""

from __future__ import annotations

import re
from typing import Any

from provex.graph.connection import Graph
from provex.graph.schema import FULLTEXT_INDEX
from provex.vocab.errors import UsageError

_WORDS = re.compile(r"[\s\-/:@]+")
_LUCENE_SPECIAL = re.compile(r'([+\-!(){}\[\]^"~*?:\\/&|])')

_EXACT = """
MATCH (n:Node) WHERE n.uid = $text OR n.uid STARTS WITH $text
RETURN n.uid AS ref, [l IN labels(n) WHERE l <> 'Node'][0] AS label, n.name AS name, 10.0 AS score
LIMIT $limit
UNION
MATCH (n:DataVersion) WHERE n.hash STARTS WITH $text
RETURN n.uid AS ref, 'DataVersion' AS label, n.path AS name, 9.0 AS score
LIMIT $limit
"""

_FULLTEXT = """
CALL db.index.fulltext.queryNodes($index, $lucene, {limit: $limit}) YIELD node, score
RETURN node.uid AS ref, [l IN labels(node) WHERE l <> 'Node'][0] AS label, node.name AS name, score
"""


def lucene_query(text: str) -> str:
    """Every word must match inside a token (``cust`` finds ``customers.csv``);
    words split where the index's analyzer splits (spaces, ``-``, ``/``, ``:``, ``@``)."""
    words = [_LUCENE_SPECIAL.sub(r"\\\1", w) for w in _WORDS.split(text.lower()) if w]
    return " AND ".join(f"*{w}*" if len(w) >= 3 else f"{w}*" for w in words)


def search(graph: Graph, text: str, limit: int = 20) -> list[dict[str, Any]]:
    text = text.strip()
    if not text:
        raise UsageError("Nothing to search for: give an id, a name, a path or a hash prefix.")
    hits: dict[str, dict[str, Any]] = {}
    for row in graph.read(_EXACT, {"text": text, "limit": limit}):
        hits.setdefault(row["ref"], row)
    for row in graph.read(_FULLTEXT, {"index": FULLTEXT_INDEX, "lucene": lucene_query(text), "limit": limit}):
        hits.setdefault(row["ref"], row)
    ranked = sorted(hits.values(), key=lambda h: (-h["score"], h["ref"]))
    return ranked[:limit]
