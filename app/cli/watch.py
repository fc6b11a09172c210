"""`provex watch`: the scheduled ingest, run for real.

Each round takes the ingest lock, ingests every source that is due, records
the round as an IngestRun (kind ``round``) and reports stale sources. SIGTERM
or SIGINT stops at the next batch boundary (nothing half-written, the
interrupted source's watermark not advanced, so a restart re-reads it), then
exits. A failing source backs off exponentially (capped) without stopping the
others.
"""

from __future__ import annotations

import secrets
import signal
import sys
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import click

from provex.app.cli.base import Seconds, connected
from provex.app.cli.ingest import held_lock, ingest_one, load_config, print_summary
from provex.app.progress import IngestProgress
from provex.graph import status
from provex.graph.writer import DEFAULT_BATCH
from provex.ingest.source import Source
from provex.vocab.errors import ProvexError

EXIT_STOPPED = 0  # a watch stopped by a signal ends cleanly
MIN_EVERY = 1.0  # seconds: a shorter round interval would loop, writing an IngestRun per round


class Stopped(Exception):
    """Raised at a batch boundary after SIGTERM / SIGINT."""


class StopFlag:
    """Set by SIGTERM / SIGINT; a second signal stops at once."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._previous[sig] = signal.signal(sig, self._handle)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.event.is_set():
            raise KeyboardInterrupt
        click.echo(f"{signal.Signals(signum).name}: finishing the current batch, then exiting", err=True)
        self.event.set()

    def check(self) -> None:
        if self.event.is_set():
            raise Stopped


@dataclass
class Backoff:
    """Per source: consecutive failures and when it is due again (round time, seconds)."""

    every: float
    cap: float
    failures: dict[str, int] = field(default_factory=dict)
    due: dict[str, float] = field(default_factory=dict)

    def ready(self, uri: str, now: float) -> bool:
        return self.due.get(uri, 0.0) <= now

    def failed(self, uri: str, now: float) -> float:
        """Record a failure; the delay before the next try."""
        n = self.failures.get(uri, 0) + 1
        self.failures[uri] = n
        delay = min(self.cap, max(self.every, 1.0) * 2 ** min(n - 1, 64))  # the power capped: no float overflow
        self.due[uri] = now + delay
        return delay

    def ok(self, uri: str) -> None:
        self.failures.pop(uri, None)
        self.due.pop(uri, None)


@click.command()
@click.option("--config", "config", required=True, type=click.Path(exists=True, dir_okay=False),
              help="provex.toml listing the sources.")
@click.option("--every", type=Seconds(MIN_EVERY), required=True, help=f"Seconds between ingests (at least {MIN_EVERY:g}).")
@click.option("--times", type=click.IntRange(min=0), default=0, help="Stop after this many rounds (0: run until SIGTERM/SIGINT).")
@click.option("--max-backoff", type=Seconds(MIN_EVERY), default=3600.0, show_default=True,
              help="Longest wait (seconds) before retrying a failing source; the wait doubles per failure.")
@click.option("--stale-after", type=Seconds(0, above=True), default=None,
              help="Report a source stale after this many seconds without a success (default: 3 x --every, "
                   "at least 1 hour).")
@click.option("--batch-size", type=click.IntRange(min=1), default=DEFAULT_BATCH, show_default=True,
              help="Rows per write transaction (a signal stops at a batch boundary).")
@click.option("--wait", type=Seconds(0), default=None, metavar="SECONDS",
              help="How long a round waits for another ingest's lock (default: --every); the round is "
                   "skipped if it is still held.")
def watch(config: str, every: float, times: int, max_backoff: float, stale_after: float | None,
          batch_size: int, wait: float | None) -> None:
    """Ingest every source in the config, again every SECONDS (a scheduled job).
    SIGTERM or SIGINT finishes the current batch, then exits."""
    stop = StopFlag()
    stop.install()
    backoff = Backoff(every, max_backoff)
    stale = stale_after if stale_after is not None else max(3 * every, 3600.0)
    clock = _Clock()
    rounds, code = 0, 0
    try:
        while not stop.event.is_set():
            rounds += 1
            code = run_round(Path(config), rounds, backoff, stop, clock(), stale,
                             wait=every if wait is None else wait, batch_size=batch_size)
            code = max(code, 1 if backoff.failures else 0)  # a source backing off is still failing
            if stop.event.is_set():
                break
            click.echo(f"round {rounds} done (exit {code}); next in {every:g}s")
            if times and rounds >= times:
                break
            stop.event.wait(every)
    finally:
        stop.restore()
    if stop.event.is_set():
        click.echo(f"stopped after round {rounds}", err=True)
        sys.exit(EXIT_STOPPED)
    sys.exit(code)


class _Clock:
    """Seconds since the watch started."""

    def __init__(self) -> None:
        self.start = datetime.now(UTC)

    def __call__(self) -> float:
        return (datetime.now(UTC) - self.start).total_seconds()


def run_round(config: Path, number: int, backoff: Backoff, stop: StopFlag, now: float, stale: float, *,
              wait: float, batch_size: int = DEFAULT_BATCH) -> int:
    """One round: every due source (a failure backs that one off), the round's
    IngestRun, stale sources reported. The exit code is the worst source's."""
    started = datetime.now(UTC).isoformat()
    try:
        items = load_config(config)
    except ProvexError as exc:
        click.echo(f"error: {exc}", err=True)
        return exc.exit_code
    done: dict[str, Any] = {"config": str(config), "round": number, "started_at": started, "ok": [],
                            "failed": {}, "backing_off": [], "rejected": 0}
    runs: list[str] = []
    code = 0
    try:
        with connected() as graph:
            with held_lock(graph, wait, command=f"provex watch --config {config}"), IngestProgress() as shown:
                code = _ingest_due(graph, items, backoff, stop, now, shown, done, runs, batch_size)
            status.record_round(graph, f"round-{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}", done, runs)
            _report_stale(graph, items, stale)
    except ProvexError as exc:
        click.echo(f"error: round {number}: {exc}", err=True)
        return exc.exit_code
    return code


def _ingest_due(graph: Any, items: list[Source], backoff: Backoff, stop: StopFlag, now: float,
                shown: IngestProgress, done: dict[str, Any], runs: list[str], batch_size: int) -> int:
    code = 0
    for src in items:
        if not backoff.ready(src.uri, now):
            done["backing_off"].append(src.uri)
            continue
        try:
            summary = ingest_one(graph, src, shown, batch_size=batch_size, check=stop.check)
        except Stopped:
            done["failed"][src.uri] = "stopped by a signal"
            break
        except Exception as exc:  # noqa: BLE001 - one failing source must not stop the others
            delay = backoff.failed(src.uri, now)
            if not isinstance(exc, ProvexError):
                status.record_failure(graph, src.kind, src.uri, f"{type(exc).__name__}: {exc}")
            click.echo(f"error: {src.kind} {src.uri}: {exc} (retrying in {delay:g}s)", err=True)
            done["failed"][src.uri] = str(exc)[:500]
            code = max(code, getattr(exc, "exit_code", 1))
            continue
        backoff.ok(src.uri)
        print_summary(summary, "table")
        runs.append(summary.ingest_run)
        done["ok"].append(src.uri)
        done["rejected"] += summary.rejected_count
        code = max(code, summary.exit_code)
    return code


def _report_stale(graph: Any, items: list[Source], stale: float) -> None:
    wanted = {src.uri for src in items}
    rows = {row["source"]: row for row in status.staleness(status.sources(graph), stale)}
    for uri in sorted(wanted):
        row = rows.get(uri)
        if row is None or row["stale"]:
            since = "never succeeded" if row is None or row["since_success_s"] is None else \
                f"no success for {row['since_success_s']:.0f}s"
            error = f"; last error: {row['last_error']}" if row and row.get("last_error") else ""
            click.echo(f"stale: {uri}: {since} (threshold {stale:g}s){error}", err=True)


COMMANDS: list[click.Command] = [watch]
