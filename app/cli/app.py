"""`provex app`: start the Streamlit app, on the loopback interface unless
told otherwise (``--host``; any other address prints a warning)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from provex.app import allow_run
from provex.app.loopback import is_loopback

APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"


LOOPBACK = "127.0.0.1"


def command_line(port: int | None, host: str = LOOPBACK) -> list[str]:
    """The `streamlit run` command for the app (port from --port, else
    STREAMLIT_SERVER_PORT, else Streamlit's default 8501); the toolbar in
    viewer mode (no Deploy button)."""
    args = [sys.executable, "-m", "streamlit", "run", str(APP),
            "--server.address", host, "--server.headless", "true",
            "--browser.gatherUsageStats", "false", "--client.toolbarMode", "viewer"]
    port = port or _env_port()
    if port:
        args += ["--server.port", str(port)]
    return args


def _env_port() -> int | None:
    value = os.environ.get("STREAMLIT_SERVER_PORT", "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise click.BadParameter(f"STREAMLIT_SERVER_PORT={value!r} is not a port number; unset it or give e.g. 8501.")
    return int(value)


@click.command()
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Port (default: STREAMLIT_SERVER_PORT, else 8501).")
@click.option("--host", default=LOOPBACK, show_default=True,
              help="Address to listen on. Anything but loopback exposes the graph (and the Cypher console) "
                   "to the network, without a login: a warning is printed.")
@click.option("--allow-run", "--allow-verify", "allow", is_flag=True,
              help="Enable the buttons that run code: Replay (prediction, compare and what-changed pages: it loads and "
                   "runs the model) and Verify now (Reproduce page: it runs the project's code). --allow-verify is "
                   "its old name.")
def app(port: int | None, host: str, allow: bool) -> None:
    """The Streamlit app: ask the debugging questions, search nodes, walk
    lineage graphs, impact, diff, reproduce, replay, read-only Cypher, ingest status.
    Uses the Neo4j named by NEO4J_URI, else the managed local server."""
    args = command_line(port, host)
    allow_run.set_allowed(allow)
    if not is_loopback(host):
        click.echo(f"warning: provex app listens on {host}, not on loopback: anyone who can reach this machine "
                   "can read the whole graph (the app has no login)"
                   + (" and, with --allow-run, run its models and the projects' code" if allow else "")
                   + ". Use --host 127.0.0.1 unless that is meant.", err=True)
    click.echo(f"provex app on http://{host}:{port or _env_port() or 8501} (Ctrl+C stops it)", err=True)
    os.execvp(args[0], args)


COMMANDS: list[click.Command] = [app]
