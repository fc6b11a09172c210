"""`provex neo4j start|stop|status`: the managed local Neo4j."""

from __future__ import annotations

import os
import sys

import click

from provex.app.cli.base import Group, connected, format_option
from provex.app.output import emit_json
from provex.graph.connection import Settings
from provex.graph.server import ManagedServer
from provex.vocab.secrets import shown_uri


@click.group(cls=Group)
def neo4j() -> None:
    """The managed local Neo4j (or a check of the one NEO4J_URI names)."""


@neo4j.command()
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Bolt port on 127.0.0.1 (default 7687 or PROVEX_NEO4J_PORT).")
@click.option("--pick-free-port", is_flag=True, help="If the port is taken, pick a free one instead of failing.")
def start(port: int | None, pick_free_port: bool) -> None:
    """Start the managed Neo4j (reuses a running one). With NEO4J_URI set, only
    check that server and report what was found."""
    if os.environ.get("NEO4J_URI"):
        with connected() as graph:
            agent = graph.verify()
        click.echo(f"NEO4J_URI is set: using {shown_uri(graph.settings.uri)} ({agent}); nothing to start.")
        return
    status = ManagedServer.from_env().start(port=port, pick_free=pick_free_port)
    click.echo(f"Neo4j {status.version} {status.note}: {status.uri} (pid {status.pid})")
    click.echo(f"  data: {status.data}\n  password file: {status.password_file}")


@neo4j.command()
@format_option
def warm(fmt: str) -> None:
    """Ask every question of the catalog once about some node of the kind
    it takes, so the server has planned and run them all: the first answers
    after a start or a big ingest then come at once instead of after
    seconds of query planning. `make ingest-sample` runs it."""
    from provex.graph.warm import warm as warm_up

    with connected() as graph:
        report = warm_up(graph)
    if fmt == "json":
        emit_json(report)
        return
    click.echo(f"asked {len(report['asked'])} questions in {report['seconds']} s"
               + (f" (skipped, no node of their kind: {', '.join(report['skipped'])})" if report["skipped"] else ""))
    for name, why in report["failed"].items():
        click.echo(f"  could not ask {name}: {why}", err=True)
    if report["failed"]:
        sys.exit(1)


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
            info = {"running": True, "managed": False, "uri": shown_uri(settings.uri), "agent": graph.verify()}
    else:
        info = {"managed": True, **ManagedServer.from_env().status().__dict__}
        info.pop("note", None)
    if fmt == "json":
        emit_json(info)
    else:
        click.echo("\n".join(f"{k:>14}: {v}" for k, v in info.items()))
    if not info["running"]:
        sys.exit(1)


COMMANDS: list[click.Command] = [neo4j]
