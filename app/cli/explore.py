"""`provex stats`, `search`, `cypher`, `reset`: looking around the graph."""

from __future__ import annotations

import click

from provex.app.cli.base import MIN_TIMEOUT, Seconds, connected, format_option, parse_params
from provex.app.output import emit, emit_json
from provex.graph import console, schema, status
from provex.graph import search as search_mod


@click.command()
@format_option
def stats(fmt: str) -> None:
    """Node counts per label and edge counts per type."""
    with connected() as graph:
        nodes, edges = status.node_counts(graph), status.edge_counts(graph)
    if fmt == "json":
        emit_json({"nodes": {r["label"]: r["count"] for r in nodes}, "edges": {r["type"]: r["count"] for r in edges}})
        return
    emit([{"kind": "node", "name": r["label"], "count": r["count"]} for r in nodes]
         + [{"kind": "edge", "name": r["type"], "count": r["count"]} for r in edges], fmt)


@click.command()
@click.argument("text")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="At most this many hits.")
@format_option
def search(text: str, limit: int, fmt: str) -> None:
    """Find nodes by what you know: a prediction, subject or household id, a
    run or model id or name, a data path, a commit sha or message, a hash
    prefix. Exact matches first, then prefix, then fuzzy ones; each hit's
    ref works as a REF in every other command. TEXT is at most 300
    characters."""
    with connected() as graph:
        emit(search_mod.search(graph, text, limit), fmt)


@click.command()
@click.argument("query")
@click.option("--param", "params", multiple=True, metavar="K=V", help="A query parameter ($K in the query).")
@click.option("--limit", type=click.IntRange(min=1), default=console.DEFAULT_LIMIT, show_default=True, help="Row limit.")
@click.option("--timeout", type=Seconds(MIN_TIMEOUT), default=console.DEFAULT_TIMEOUT, show_default=True,
              help="Time limit, seconds (at least 0.001).")
@format_option
def cypher(query: str, params: tuple[str, ...], limit: int, timeout: float, fmt: str) -> None:
    """Run read-only Cypher (writes are refused), bounded in rows and time."""
    values = parse_params(params)  # a bad value is a usage error before any connection
    with connected() as graph:
        rows, truncated = console.run(graph, query, values, limit=limit, timeout=timeout)
    emit(rows, fmt, note=f"(stopped at {limit} rows: partial result)" if truncated else "")


@click.command()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def reset(yes: bool) -> None:
    """Delete every node and edge from the graph (keeps the schema)."""
    if not yes:
        click.confirm("Delete the whole provex graph?", abort=True)
    with connected() as graph:
        schema.clear(graph)
    click.echo("Graph cleared.")

COMMANDS: list[click.Command] = [stats, search, cypher, reset]
