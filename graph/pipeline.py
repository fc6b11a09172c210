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

from provex.graph import conflicts, contentlinks, groups, linking, resolve, schema, status
from provex.graph.connection import Graph
from provex.graph.writer import DEFAULT_BATCH, Writer
from provex.vocab.facts import Facts
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
    predictions: dict[str, Any] = field(default_factory=dict)  # what the facts did: stored, repeated, conflicts

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
            **({"predictions": self.predictions} if self.predictions else {}),
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
    prediction_nodes: str = "auto",
) -> Summary:
    """Ingest one source. Records already written stay written if ``read`` fails
    half-way; the watermark is only saved after a complete pass. ``progress``
    is called with the phase and the records read so far, every TICK_EVERY
    records and at each phase; an exception it raises stops the ingest there.
    Prediction facts go to the store beside the graph (:mod:`provex.graph.groups`);
    ``prediction_nodes`` (auto, all, none) says whether each also gets a node."""
    tick = progress or _no_tick
    tick("schema", 0)
    schema.apply(graph)
    run_id = f"{kind}-{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    summary = Summary(kind, uri, run_id)
    state = status.load_state(graph, uri)
    watermarks: dict[str, Any] = {}
    with _paced_gc(), Writer(graph, run_id, batch_size) as writer, RejectSink(rejects, uri) as sink:
        reading = _Reading(graph, run_id, writer, sink, summary, tick)
        try:
            for item in read(state):
                reading.take(item, watermarks)
            reading.drain(watermarks)
        except Exception:
            reading.keep_what_was_read(prediction_nodes, batch_size)
            raise
        seen = reading.seen
        writer.close()  # records too big to write even alone come back as rejects
        _set_aside(writer.take_rejects(), summary, sink)
        if reading.facts is not None:
            tick("store", seen)
            _settle(graph, reading.facts, summary, sink, prediction_nodes, run_id, batch_size)
    summary.counts = {**dict(writer.counts), **summary.counts}
    summary.rejects_files = sink.paths
    tick("link", seen)
    summary.links = {**linking.run(graph), **contentlinks.run(graph), **resolve.run(graph)}
    schema.refresh_search(graph)
    status.record_ingest(graph, summary, {**state, **watermarks})
    tick("done", seen)
    return summary


class _Reading:
    """One pass over an adapter's records: entries through the claim check,
    facts to the prediction store, the rest to the writer, the rejects or the
    summary; ticks the progress."""

    def __init__(self, graph: Graph, run_id: str, writer: Writer, sink: RejectSink, summary: Summary, tick: Tick) -> None:
        self.graph, self.run_id, self.writer, self.sink, self.summary, self.tick = graph, run_id, writer, sink, summary, tick
        self.claims = conflicts.ClaimCheck(graph)
        self.seen, self.next_tick = 0, TICK_EVERY
        self.facts: Any = None

    def take(self, item: Record, watermarks: dict[str, Any]) -> None:
        self.seen += len(item) if isinstance(item, Facts) else 1
        if self.seen >= self.next_tick:
            self.tick("read", self.seen)
            self.next_tick = self.seen + TICK_EVERY
            _set_aside(self.writer.take_rejects(), self.summary, self.sink)
        if isinstance(item, Facts):
            self.facts = self.facts or self.graph.facts.append(self.run_id)
            self.facts.add(item)
            return
        for record in self.claims.admit(item):  # an Entry waits until its claims are checked
            _take(record, self.writer, self.sink, self.summary, watermarks)

    def drain(self, watermarks: dict[str, Any]) -> None:
        for record in self.claims.drain():
            _take(record, self.writer, self.sink, self.summary, watermarks)

    def keep_what_was_read(self, mode: str, batch_size: int) -> None:
        """The ingest stopped (a graceful stop, a failing source): the facts
        read so far are settled, like the graph records already written; the
        watermark is not saved, so the next ingest reads them again (repeats
        are dropped). If settling fails too, the stop's own error is raised."""
        if self.facts is None:
            return
        with contextlib.suppress(Exception):
            self.writer.close()
            _settle(self.graph, self.facts, self.summary, self.sink, mode, self.run_id, batch_size)


def _settle(graph: Graph, facts: Any, summary: Summary, sink: RejectSink, mode: str, run_id: str,
            batch_size: int) -> None:
    """The ingest's prediction facts into the store and the graph; each
    conflicting record is a reject (both values) and flagged."""
    settled = groups.settle(graph, facts, mode=mode, ingest_run=run_id, batch_size=batch_size)
    summary.predictions = {"stored": settled.added, "repeated": settled.repeated,
                           "conflicting": settled.conflict_count, "groups": settled.groups,
                           "prediction_nodes": settled.nodes}
    for name, n in settled.written.items():
        summary.counts[name] = summary.counts.get(name, 0) + n
    for note in settled.notes:
        if isinstance(note, Reject):
            sink.add(note)
            summary.rejected_count += 1
            _keep(summary.rejected, note)
        else:
            summary.flag_counts[note.kind] += 1
            _keep(summary.flags, note)
    with Writer(graph, run_id, batch_size) as writer:
        for conflict in settled.conflicts:  # the first record stands; this one is set aside, flagged and recorded
            _take(groups.as_conflict(conflict), writer, sink, summary, {})
    unlisted = settled.conflict_count - len(settled.conflicts)
    if unlisted > 0:  # more than the store describes one by one: counted
        summary.rejected_count += unlisted
        summary.flag_counts[conflicts.FLAG] += unlisted


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
