"""`provex serve-lineage`: the OpenLineage HTTP endpoint (see
:mod:`provex.app.lineage_server`)."""

from __future__ import annotations

import os
import signal
import stat
import sys
import threading
from pathlib import Path
from types import FrameType

import click

from provex.app.cli.base import Seconds
from provex.app.loopback import is_loopback
from provex.vocab.errors import UsageError

KEY_ENV = "PROVEX_API_KEY"


def default_spool() -> Path:
    return Path(os.environ.get("PROVEX_HOME", Path.home() / ".local/share/provex")) / "lineage-spool"


def api_key(key_file: str | None, no_auth: bool, host: str) -> str | None:
    """The bearer key clients must send, from PROVEX_API_KEY or a 0600 key file;
    None only with --no-auth on a loopback address."""
    if no_auth:
        if not is_loopback(host):
            raise UsageError(f"--no-auth is only allowed on a loopback address, not {host}; "
                             f"set {KEY_ENV} or give --api-key-file.")
        return None
    if key_file:
        path = Path(key_file)
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
            key = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"Cannot read the API key file {path}: {exc}.") from None
        if mode & 0o077:
            raise UsageError(f"The API key file {path} is readable by others (mode {mode:o}); "
                             f"run `chmod 600 {path}`.")
        if not key:
            raise UsageError(f"The API key file {path} is empty; write the key on its first line.")
        return key
    key = os.environ.get(KEY_ENV, "").strip()
    if not key:
        raise UsageError(f"No API key: set {KEY_ENV}, or give --api-key-file PATH (mode 0600); "
                         "on a loopback address, --no-auth serves without one.")
    return key


@click.command("serve-lineage")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=5000, show_default=True,
              help="Port to listen on (0: any free port, printed at start).")
@click.option("--spool", "spool_dir", type=click.Path(file_okay=False), default=None,
              help="Folder of accepted, not yet ingested events (default: $PROVEX_HOME/lineage-spool).")
@click.option("--api-key-file", type=click.Path(dir_okay=False), default=None,
              help=f"File (mode 0600) holding the bearer API key; default: the {KEY_ENV} variable.")
@click.option("--no-auth", is_flag=True, help="Accept events without an API key (loopback addresses only).")
@click.option("--every", type=Seconds(0.05), default=1.0, show_default=True,
              help="Seconds between background ingests of the spool.")
@click.option("--lock-wait", type=Seconds(0), default=60.0, show_default=True,
              help="How long a background ingest waits for another ingest's lock before retrying later.")
@click.option("--max-connections", type=click.IntRange(min=1), default=64, show_default=True,
              help="Open connections at once; one more is answered 503 (retry) and closed at once.")
@click.option("--header-timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds a client has to send a request's line and headers (also the keep-alive idle limit).")
@click.option("--body-timeout", type=click.FloatRange(min=0.1), default=60.0, show_default=True,
              help="Seconds a client has to send a request's body; then 408 and the connection is closed.")
def serve_lineage(host: str, port: int, spool_dir: str | None, api_key_file: str | None, no_auth: bool,
                  every: float, lock_wait: float, max_connections: int, header_timeout: float,
                  body_timeout: float) -> None:
    """OpenLineage over HTTP: accept POST /api/v1/lineage (as the OpenLineage
    HTTP transport sends it), spool each event durably, ingest in the background."""
    key = api_key(api_key_file, no_auth, host)
    if not is_loopback(host):
        click.echo(f"warning: listening on {host}, reachable from other machines; put TLS in front "
                   "(a reverse proxy) and keep the API key secret", err=True)
    stop = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        click.echo(f"{signal.Signals(signum).name}: ingesting what is spooled, then exiting", err=True)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handle)
    spool = Path(spool_dir) if spool_dir else default_spool()
    from provex.app.lineage_server import serve  # here: it loads the OpenLineage client (0.4 s), not for --help

    def ready(url: str) -> None:
        auth = "bearer API key" if key else "no auth (loopback)"
        click.echo(f"provex serve-lineage listening on {url} (spool {spool}, {auth})")
        sys.stdout.flush()

    serve(host, port, spool, key, stop, every=every, lock_wait=lock_wait,
          log=lambda line: click.echo(line, err=True), ready=ready, max_connections=max_connections,
          header_timeout=header_timeout, body_timeout=body_timeout)
    click.echo("stopped")


COMMANDS = [serve_lineage]
