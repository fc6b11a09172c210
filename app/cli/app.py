"""`provex app`: start the Streamlit app on the loopback interface."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"
ALLOW_VERIFY_ENV = "PROVEX_ALLOW_VERIFY"  # read by app_pages/reproduce.py


def command_line(port: int | None) -> list[str]:
    """The `streamlit run` command for the app (port from --port, else
    STREAMLIT_SERVER_PORT, else Streamlit's default 8501); the toolbar in
    viewer mode (no Deploy button)."""
    args = [sys.executable, "-m", "streamlit", "run", str(APP),
            "--server.address", "127.0.0.1", "--server.headless", "true",
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
              help="Port on 127.0.0.1 (default: STREAMLIT_SERVER_PORT, else 8501).")
@click.option("--allow-verify", is_flag=True,
              help="Enable the Reproduce page's Verify now button (it runs the projects' code).")
def app(port: int | None, allow_verify: bool) -> None:
    """The Streamlit app: ask the debugging questions, search nodes, walk
    lineage graphs, impact, diff, reproduce, read-only Cypher, ingest status.
    Uses the Neo4j named by NEO4J_URI, else the managed local server."""
    args = command_line(port)
    os.environ[ALLOW_VERIFY_ENV] = "1" if allow_verify else "0"
    click.echo(f"provex app on http://127.0.0.1:{port or _env_port() or 8501} (Ctrl+C stops it)", err=True)
    os.execvp(args[0], args)


COMMANDS: list[click.Command] = [app]
