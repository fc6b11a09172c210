"""Ingest progress for people: a live rich display on a terminal (records,
rate, the current source and phase, and where the size is known — a log's
bytes, a repository's commits — a bar with the time remaining), one line per
source otherwise (cron, CI, pipes). Progress goes to stderr, so
``--format json`` on stdout is unchanged.

The graph's pipeline reports through a plain callback ``tick(phase, records)``.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from typing import IO

import click
from rich.console import Console
from rich.markup import escape as markup_escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from provex.app import terminal
from provex.ingest.source import Position

Tick = Callable[[str, int], None]


class IngestProgress:
    """``with progress.source(kind, uri) as tick: pipeline.ingest(..., progress=tick)``."""

    def __init__(self, stream: IO[str] | None = None, live: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self._rich: Progress | None = None

    def __enter__(self) -> IngestProgress:
        if self.live:
            self._rich = Progress(
                TextColumn("[bold]{task.fields[source]}"), TextColumn("{task.fields[phase]:<7}"), BarColumn(),
                TextColumn("{task.fields[records]:,} records"), TextColumn("{task.fields[rate]:,.0f}/s"),
                TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                console=Console(file=terminal.raw(self.stream)), transient=False)  # its own codes; labels made visible
            self._rich.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._rich is not None:
            self._rich.stop()
            self._rich = None

    @contextlib.contextmanager
    def source(self, kind: str, uri: str, position: Position | None = None) -> Iterator[Tick]:
        """A tick for one source's ingest; the closing line (no TTY) when it ends.
        ``position``: how far the adapter has read, for the bar and the ETA."""
        label = terminal.shown(f"{kind} {_short(uri)}")
        started = time.monotonic()
        seen = {"records": 0, "phase": "start"}
        task: TaskID | None = None
        if self._rich is not None:
            task = self._rich.add_task(label, total=None, source=markup_escape(label), phase="start", rate=0.0,
                                       records=0)  # the source column is rich markup: "[link=...]" stays text

        def tick(phase: str, records: int) -> None:
            seen.update(records=records, phase=phase)
            if self._rich is not None and task is not None:
                rate = records / max(time.monotonic() - started, 1e-6)
                known = position is not None and position.total
                self._rich.update(task, phase=phase, rate=rate, records=records,
                                  total=position.total if known else None, completed=position.done if known else 0)

        outcome = "failed"
        try:
            yield tick
            outcome = "done"
        finally:
            elapsed = time.monotonic() - started
            rate = seen["records"] / max(elapsed, 1e-6)
            if self._rich is not None and task is not None:
                self._rich.update(task, phase=outcome, total=1, completed=1, records=seen["records"])
            else:
                click.echo(f"{label}: {outcome} ({seen['phase']}), {seen['records']:,} records in {elapsed:.1f}s "
                           f"({rate:,.0f}/s)", file=self.stream)


def _short(uri: str, width: int = 60) -> str:
    return uri if len(uri) <= width else "..." + uri[-(width - 3):]
