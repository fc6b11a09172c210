"""Read-only Cypher for people: refused unless EXPLAIN says it only reads,
run in a read transaction with a row limit and a time limit."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from provex.graph.connection import Graph
from provex.vocab.errors import QueryError

DEFAULT_LIMIT = 1_000
DEFAULT_TIMEOUT = 30.0
_REFUSED_OPERATORS = ("LoadCSV",)


def check_read_only(graph: Graph, query: str, params: Mapping[str, Any] | None = None,
                    timeout: float | None = None) -> None:
    """Raise QueryError for anything that could write or read files."""
    if not query.strip():
        raise QueryError("Empty query: give a Cypher MATCH ... RETURN ... statement.")
    query_type, operators = graph.query_type(query, params, timeout=timeout)
    if query_type != "r":
        raise QueryError(
            "Refused: this console is read-only and the query would change the graph or the schema "
            f"(query type {query_type!r}). Use MATCH ... RETURN ...; provex writes only through `provex ingest`."
        )
    if any(op.startswith(_REFUSED_OPERATORS) for op in operators):
        raise QueryError("Refused: LOAD CSV is not allowed in the read-only console.")


def run(
    graph: Graph,
    query: str,
    params: Mapping[str, Any] | None = None,
    *,
    limit: int = DEFAULT_LIMIT,
    timeout: float = DEFAULT_TIMEOUT,
) -> tuple[list[dict[str, Any]], bool]:
    """Rows (plain dicts) and whether the row limit cut any. The time limit
    holds for the whole call: what the read-only check (EXPLAIN) took is
    taken off the query's own limit."""
    start = time.monotonic()
    check_read_only(graph, query, params, timeout=timeout)
    left = max(0.001, timeout - (time.monotonic() - start))
    return graph.read_bounded(query, params, limit=limit, timeout=left)
