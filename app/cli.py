"""provex: the command line. Each command's help is its docstring.

Exit codes: 0 ok, 1 failure, 2 usage or bad input. Errors print one message
saying what failed and how to fix it, never a traceback.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

import click

from graph import console, schema
from graph import search as search_mod
from graph.connection import Graph, Settings
from graph.errors import ProvexError, UsageError
from graph.server import ManagedServer

from app.output import FORMATS, emit, emit_json


class Group(click.Group):
    """Turns provex errors into a message and an exit code."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ProvexError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


@contextlib.contextmanager
def connected() -> Iterator[Graph]:
    graph = Graph.connect()
    try:
        yield graph
    finally:
        graph.close()


def parse_params(pairs: tuple[str, ...]) -> dict[str, object]:
    """``k=v`` pairs; integers and floats are converted, the rest stay text."""
    params: dict[str, object] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"Bad --param {pair!r}: write it as name=value.")
        params[name] = _number(value)
    return params


def _number(value: str) -> object:
    for cast in (int, float):
        with contextlib.suppress(ValueError):
            return cast(value)
    return value


format_option = click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
                             help="Output format: table for people, json or csv for scripts.")


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """provex: ML provenance explorer. DVC, MLflow, prediction logs and
    OpenLineage joined in one Neo4j graph, for debugging bad predictions."""


@cli.group(cls=Group)
def neo4j() -> None:
    """The managed local Neo4j (or a check of the one NEO4J_URI names)."""


@neo4j.command()
@click.option("--port", type=int, default=None, help="Bolt port on 127.0.0.1 (default 7687 or PROVEX_NEO4J_PORT).")
@click.option("--pick-free-port", is_flag=True, help="If the port is taken, pick a free one instead of failing.")
def start(port: int | None, pick_free_port: bool) -> None:
    """Start the managed Neo4j (reuses a running one). With NEO4J_URI set, only
    check that server and report what was found."""
    if os.environ.get("NEO4J_URI"):
        with connected() as graph:
            agent = graph.verify()
        click.echo(f"NEO4J_URI is set: using {graph.settings.uri} ({agent}); nothing to start.")
        return
    status = ManagedServer.from_env().start(port=port, pick_free=pick_free_port)
    click.echo(f"Neo4j {status.version} {status.note}: {status.uri} (pid {status.pid})")
    click.echo(f"  data: {status.data}\n  password file: {status.password_file}")


@neo4j.command()
def stop() -> None:
    """Stop the managed Neo4j."""
    if os.environ.get("NEO4J_URI"):
        click.echo("NEO4J_URI is set: provex does not manage that server; nothing to stop.")
        return
    stopped = ManagedServer.from_env().stop()
    click.echo("Neo4j stopped." if stopped else "Neo4j was not running.")


@neo4j.command()
@format_option
def status(fmt: str) -> None:
    """Report the server: uri, pid, version, data folder."""
    if os.environ.get("NEO4J_URI"):
        settings = Settings.from_env()
        with connected() as graph:
            info = {"running": True, "managed": False, "uri": settings.uri, "agent": graph.verify()}
    else:
        info = {"managed": True, **ManagedServer.from_env().status().__dict__}
        info.pop("note", None)
    if fmt == "json":
        emit_json(info)
    else:
        click.echo("\n".join(f"{k:>14}: {v}" for k, v in info.items()))
    if not info["running"]:
        sys.exit(1)


@cli.command()
@format_option
def stats(fmt: str) -> None:
    """Node counts per label and edge counts per type."""
    with connected() as graph:
        nodes = graph.read("MATCH (n:Node) UNWIND [l IN labels(n) WHERE l <> 'Node'] AS label "
                           "RETURN label, count(*) AS count ORDER BY label")
        edges = graph.read("MATCH ()-[e]->() RETURN type(e) AS type, count(*) AS count ORDER BY type")
    if fmt == "json":
        emit_json({"nodes": {r["label"]: r["count"] for r in nodes}, "edges": {r["type"]: r["count"] for r in edges}})
        return
    emit([{"kind": "node", "name": r["label"], "count": r["count"]} for r in nodes]
         + [{"kind": "edge", "name": r["type"], "count": r["count"]} for r in edges], fmt)


@cli.command()
@click.argument("text")
@click.option("--limit", type=int, default=20, show_default=True, help="At most this many hits.")
@format_option
def search(text: str, limit: int, fmt: str) -> None:
    """Find nodes by id, name, path or hash prefix. Each hit's ref works as a
    REF in every other command."""
    with connected() as graph:
        emit(search_mod.search(graph, text, limit), fmt)


@cli.command()
@click.argument("query")
@click.option("--param", "params", multiple=True, metavar="K=V", help="A query parameter ($K in the query).")
@click.option("--limit", type=int, default=console.DEFAULT_LIMIT, show_default=True, help="Row limit.")
@click.option("--timeout", type=float, default=console.DEFAULT_TIMEOUT, show_default=True, help="Time limit, seconds.")
@format_option
def cypher(query: str, params: tuple[str, ...], limit: int, timeout: float, fmt: str) -> None:
    """Run read-only Cypher (writes are refused), bounded in rows and time."""
    with connected() as graph:
        rows, truncated = console.run(graph, query, parse_params(params), limit=limit, timeout=timeout)
    emit(rows, fmt, note=f"(stopped at {limit} rows: partial result)" if truncated else "")


@cli.command()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def reset(yes: bool) -> None:
    """Delete every node and edge from the graph (keeps the schema)."""
    if not yes:
        click.confirm("Delete the whole provex graph?", abort=True)
    with connected() as graph:
        schema.clear(graph)
    click.echo("Graph cleared.")


def _register_more() -> None:
    from app import cli_app, cli_ingest

    cli.add_command(cli_app.app)
    cli.add_command(cli_ingest.ingest)
    cli.add_command(cli_ingest.watch)
    from app import cli_questions

    for command in cli_questions.COMMANDS:
        cli.add_command(command)


_register_more()


def main() -> None:
    cli(prog_name="provex")
