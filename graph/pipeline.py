"""One ingest of one source: schema, records through the writer, rejects and
flags set aside, the source's watermark kept, cross-source links refreshed.

``read`` is the adapter call, given the state (watermarks) the previous ingest
of the same source left behind. graph/ never imports an adapter: the CLI
hands the adapter's records in.
"""

from __future__ import annotations

import contextlib
import gc
import json
import secrets
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from provex.graph import conflicts, linking, resolve, schema, status
from provex.graph.connection import Graph
from provex.graph.writer import DEFAULT_BATCH, Writer
from provex.vocab.records import Conflict, Edge, Flag, Node, Record, Reject, Watermark

REJECTS_BESIDE = "beside"  # write <input>.rejected.jsonl next to each input file
KEEP_REASONS = 200  # rejected/flag reasons kept on the IngestRun node
TICK_EVERY = 500  # records between progress ticks
#: Python's cyclic collector during an ingest: a full collection every ~1M
#: allocations instead of every ~70,000 (the default 700, 10, 10). Each full
#: collection walks every live object, and an ingest keeps many alive (a
#: page of MLflow runs, a flush of records): with the default, the collector
#: took ~40% of the CPU of an MLflow ingest and ~13% of a prediction log's
#: (bench/findings.md). Cycles are still collected, 14x less often.
GC_THRESHOLDS = (10_000, 10, 10)
Tick = Callable[[str, int], None]  # (phase, records read so far); may raise to stop the ingest


@dataclass
class Summary:
    kind: str
    uri: str
    ingest_run: str
    counts: dict[str, int] = field(default_factory=dict)
    rejected: list[Reject] = field(default_factory=list)  # the first KEEP_REASONS
    rejected_count: int = 0
    flags: list[Flag] = field(default_factory=list)  # the first KEEP_REASONS
    flag_counts: Counter = field(default_factory=Counter)
    links: dict[str, int] = field(default_factory=dict)
    rejects_files: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.rejected_count else 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "uri": self.uri,
            "ingest_run": self.ingest_run,
            "written": dict(sorted(self.counts.items())),
            "rejected": self.rejected_count,
            "rejects": [{"where": r.location(), "reason": r.reason} for r in self.rejected],
            "rejects_files": self.rejects_files,
            "flags": dict(self.flag_counts),
            "links": self.links,
        }


def ingest(
    graph: Graph,
    *,
    kind: str,
    uri: str,
    read: Callable[[dict[str, Any]], Iterable[Record]],
    batch_size: int = DEFAULT_BATCH,
    rejects: str | Path | TextIO | None = None,
    progress: Tick | None = None,
) -> Summary:
    """Ingest one source. Records already written stay written if ``read`` fails
    half-way; the watermark is only saved after a complete pass. ``progress``
    is called with the phase and the records read so far, every TICK_EVERY
    records and at each phase; an exception it raises stops the ingest there."""
    tick = progress or _no_tick
    tick("schema", 0)
    schema.apply(graph)
    run_id = f"{kind}-{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    summary = Summary(kind, uri, run_id)
    state = status.load_state(graph, uri)
    watermarks: dict[str, Any] = {}
    with _paced_gc(), Writer(graph, run_id, batch_size) as writer, RejectSink(rejects, uri) as sink:
        claims = conflicts.ClaimCheck(graph)
        seen = 0
        for seen, item in enumerate(read(state), 1):
            if seen % TICK_EVERY == 0:
                tick("read", seen)
                _set_aside(writer.take_rejects(), summary, sink)
            for record in claims.admit(item):  # an Entry waits until its claims are checked
                _take(record, writer, sink, summary, watermarks)
        for record in claims.drain():
            _take(record, writer, sink, summary, watermarks)
        writer.close()  # records too big to write even alone come back as rejects
        _set_aside(writer.take_rejects(), summary, sink)
    summary.counts = dict(writer.counts)
    summary.rejects_files = sink.paths
    tick("link", seen)
    summary.links = {**linking.run(graph), **resolve.run(graph)}
    schema.refresh_search(graph)
    status.record_ingest(graph, summary, {**state, **watermarks})
    tick("done", seen)
    return summary


class _Pacing:
    """GC_THRESHOLDS while any ingest of this process reads and writes; the
    thresholds from before the first of them once the last one ends (ingests
    in threads, or one inside another, overlap)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = 0
        self.before = gc.get_threshold()

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self.lock:
            if not self.active:
                self.before = gc.get_threshold()
                gc.set_threshold(*GC_THRESHOLDS)
            self.active += 1
        try:
            yield
        finally:
            with self.lock:
                self.active -= 1
                if not self.active:
                    gc.set_threshold(*self.before)


_paced_gc = _Pacing()


def _no_tick(phase: str, records: int) -> None:
    """No progress display."""


def _take(record: Record, writer: Writer, sink: RejectSink, summary: Summary, watermarks: dict[str, Any]) -> None:
    """One record of the adapter's (or of an Entry): written, set aside, counted or kept."""
    if isinstance(record, Conflict):  # the first record stands; this one is set aside, flagged and recorded
        _set_aside([conflicts.reject(record)], summary, sink)
        note = writer.add(conflicts.node(record))
        if isinstance(note, Reject):
            _set_aside([note], summary, sink)
        record = conflicts.flag(record)
    if isinstance(record, (Node, Edge)):
        record = writer.add(record)  # a Reject or Flag about it, or None
    if isinstance(record, Reject):
        _set_aside([record], summary, sink)
    elif isinstance(record, Flag):
        summary.flag_counts[record.kind] += 1
        _keep(summary.flags, record)
    elif isinstance(record, Watermark):
        watermarks[record.name] = record.value


def _set_aside(rejects: list[Reject], summary: Summary, sink: RejectSink) -> None:
    for rej in rejects:
        sink.add(rej)
        summary.rejected_count += 1
        _keep(summary.rejected, rej)


def _keep(items: list, item: object) -> None:
    """Keep the first KEEP_REASONS in memory; the rest are only counted (and written)."""
    if len(items) < KEEP_REASONS:
        items.append(item)


class RejectSink:
    """Writes rejects as JSON lines while the ingest streams (each row names its
    ``file`` and line and the ``source`` ingested): to one target file, or beside
    each input (``<input>.rejected.jsonl``), or nowhere (``None``). A target
    path is started afresh by the first reject of this ingest; an open text
    file (``TextIO``: the caller's, for the rejects of several ingests in one
    file) is appended to and left open."""

    def __init__(self, target: str | Path | TextIO | None, source: str = "") -> None:
        self.target = target
        self.source = source
        self._files: dict[Path, Any] = {}

    @property
    def paths(self) -> list[str]:
        return [str(p) for p in self._files]

    def __enter__(self) -> RejectSink:
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._files.values():
            if handle is not self.target:
                handle.close()

    def add(self, rej: Reject) -> None:
        if self.target is None:
            return
        handle = self._handle(rej)
        row = {"file": rej.file, "line": rej.line, "reason": rej.reason, "raw": rej.raw, "source": self.source}
        handle.write(json.dumps(row) + "\n")

    def _handle(self, rej: Reject) -> Any:
        if hasattr(self.target, "write"):
            path = Path(getattr(self.target, "name", "<rejects>"))
            self._files.setdefault(path, self.target)
            return self.target
        path = Path(f"{rej.file}.rejected.jsonl") if self.target == REJECTS_BESIDE else Path(self.target)  # type: ignore[arg-type]
        if path not in self._files:
            self._files[path] = path.open("w", encoding="utf-8")
        return self._files[path]
