"""OpenLineage events (RunEvent, JobEvent, DatasetEvent) -> lineage records.

Reads one file or a directory (walked for ``*.json``, ``*.jsonl``,
``*.ndjson``; not provex's own ``*.rejected.jsonl``). A file holds one JSON event, a JSON array of events, or JSON
lines. Events are parsed as plain dicts, tolerantly: unknown facets are
ignored, test-matcher placeholders (``${json-unit.any-string}``) are dropped
and flagged, and an event that lacks what the graph needs (a run id, a job
name, a parseable eventTime) becomes a :class:`Reject` with the reason. The
graph records themselves are built in :mod:`provex.ingest.openlineage.events`.
A run event comes as one :class:`Entry` claiming the run's job (and its
parent's): one runId sent with two jobs keeps the first, and the later event
is set aside as a conflict.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from openlineage.client.event_v2 import RunState

from provex.ingest import confine, isotime, jsontext
from provex.ingest.openlineage.events import dataset_event, job_event, run_event
from provex.ingest.source import Source, local, strings
from provex.vocab import values
from provex.vocab.errors import SourceError
from provex.vocab.records import Claim, Edge, Entry, Flag, Record, Reject

SUFFIXES = (".json", ".jsonl", ".ndjson")
LINE_SUFFIXES = (".jsonl", ".ndjson")
REJECTS_SUFFIX = ".rejected.jsonl"  # provex's own rejects, written beside each input: never read back as events
PLACEHOLDER = "${json-unit"
EVENT_TYPES = tuple(state.value for state in RunState)
RAW_KEEP = 2000
RUN_JOB = "openlineage-run-job"  # the kind of conflict: one runId sent with two jobs


class EventError(ValueError):
    """An event the graph cannot use; the message is the reject reason."""

    dropped = 0  # test-matcher placeholders dropped from it before it was refused


def read(path: str | Path, *, state: dict[str, Any] | None = None) -> Iterator[Record]:
    """Yield records for every event in a file or a directory of event files."""
    root = Path(path)
    if not root.exists():
        raise SourceError(f"OpenLineage path {root} does not exist. Give a .json/.jsonl file or a folder of them.")
    if not (root.is_file() or root.is_dir()):  # a FIFO or a device would block or never end
        raise SourceError(f"OpenLineage path {root} is not a regular file or folder. Give a .json/.jsonl file "
                          "or a folder of them.")
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.suffix.lower() in SUFFIXES
                                                 and not p.name.endswith(REJECTS_SUFFIX) and p.is_file())
    for file in files:
        if file is not root:  # a folder's files: never through a symlink that leaves it
            try:
                confine.inside(file, [root])
            except confine.Outside as exc:
                yield Reject(str(file), None, f"a symlink that leaves the folder {root}: {exc}")
                continue
        yield from read_file(file)


def read_file(file: Path) -> Iterator[Record]:
    """Every event of one file; a file that cannot be read at all is one Reject."""
    source = str(file)
    placeholders = 0
    for line, where, doc, error in _documents(file):
        if error is not None:
            yield Reject(source, line, error, doc if isinstance(doc, str) else "")
            continue
        if isinstance(doc, _Dupes):
            yield Flag("duplicate-key", f"{where or f'line {line}: '}{jsontext.duplicate_note(doc.keys)}", source, line)
            continue
        try:
            records, dropped = parse_event(doc, source)  # all or nothing per event
        except EventError as exc:
            placeholders += exc.dropped
            yield Reject(source, line, f"{where}{exc}", json.dumps(doc)[:RAW_KEEP])
            continue
        placeholders += dropped
        claims = job_claims(records)
        if claims:  # written only if no earlier event put the run (or its parent) in another job
            yield Entry(tuple(records), claims, source, line, json.dumps(doc)[:RAW_KEEP])
        else:
            yield from records
    if placeholders:
        yield Flag("test-placeholder", f"{placeholders} test-matcher placeholder values (${{json-unit...}}) "
                   "were dropped; this looks like a test fixture, not a real event", source)


def job_claims(records: list[Record]) -> tuple[Claim, ...]:
    """A run is an instance of one job: the first event that places a runId (its
    own, or a parent facet's) in a job stands; a later one naming another job
    is set aside as a conflict (graph/conflicts.py), never linked to both."""
    return tuple(Claim(RUN_JOB, r.type, r.src, r.dst) for r in records
                 if isinstance(r, Edge) and r.type == "INSTANCE_OF" and r.src.label == "Run")


class _Dupes:
    """Marks the keys that appeared twice in one object of the document before it."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = keys


def _documents(file: Path) -> Iterator[tuple[int | None, str, Any, str | None]]:
    """``(line, where, event or raw text, error)`` for each event in the file
    (a :class:`_Dupes` before a document that repeats a key)."""
    if file.suffix.lower() not in LINE_SUFFIXES:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            yield None, "", "", f"cannot read the file ({exc}); it must be UTF-8 JSON"
            return
        try:
            doc, dupes = jsontext.loads(text)
        except json.JSONDecodeError as exc:
            if exc.msg != "Extra data":
                yield exc.lineno, "", text[:RAW_KEEP], (f"not valid JSON ({exc.msg} at line {exc.lineno} column "
                                                    f"{exc.colno}); fix the file or write one event per line")
                return
        except jsontext.JSONTextError as exc:
            yield None, "", text[:RAW_KEEP], str(exc)
            return
        else:
            if dupes:
                yield 1, "", _Dupes(dupes), None
            if not isinstance(doc, list):
                yield 1, "", doc, None
                return
            for i, event in enumerate(doc, 1):
                yield None, f"event #{i} of the array: ", event, None
            return
    yield from _json_lines(file)


def _json_lines(file: Path) -> Iterator[tuple[int | None, str, Any, str | None]]:
    try:
        with file.open("rb") as fh:
            for number, raw in enumerate(fh, 1):
                text = raw.decode("utf-8", errors="replace").strip()
                if not text:
                    continue
                try:
                    doc, dupes = jsontext.loads(text)
                except json.JSONDecodeError as exc:
                    yield number, "", text[:RAW_KEEP], f"not valid JSON ({exc.msg} at column {exc.colno}); one event per line"
                    continue
                except jsontext.JSONTextError as exc:
                    yield number, "", text[:RAW_KEEP], str(exc)
                    continue
                if dupes:
                    yield number, "", _Dupes(dupes), None
                yield number, "", doc, None
    except OSError as exc:
        yield None, "", "", f"cannot read the file ({exc.strerror or exc})"


def parse_event(doc: Any, source: str) -> tuple[list[Record], int]:
    """The records of one decoded event and how many placeholders were dropped;
    EventError (the reject reason) when a value cannot be stored (:func:`provex.vocab.values.problem`:
    NaN, an integer beyond 64 bits, a NUL in a key, a lone surrogate, nesting past the limit)
    or the event lacks what the graph needs. The file adapter and ``serve-lineage`` both use it."""
    bad = values.problem(doc)
    if bad:
        raise EventError(f"the event {bad}")
    doc, dropped = strip_placeholders(doc)
    try:
        return list(event_records(doc, source)), dropped
    except EventError as exc:
        exc.dropped = dropped  # a fixture's placeholders are counted even when its event is set aside
        raise


def strip_placeholders(value: Any) -> tuple[Any, int]:
    """The value without test-matcher placeholder strings, and how many were dropped."""
    if isinstance(value, str):
        return (None, 1) if value.startswith(PLACEHOLDER) else (value, 0)
    if isinstance(value, dict):
        out, dropped = {}, 0
        for key, item in value.items():
            clean, n = strip_placeholders(item)
            dropped += n
            if clean is not None or item is None:
                out[key] = clean
        return out, dropped
    if isinstance(value, list):
        pairs = [strip_placeholders(item) for item in value]
        return [c for (c, _), item in zip(pairs, value) if c is not None or item is None], sum(n for _, n in pairs)
    return value, 0


def event_records(event: Any, source: str) -> Iterator[Record]:
    """Records for one event, by its kind; raises EventError when it is unusable."""
    if not isinstance(event, dict):
        raise EventError(f"an event must be a JSON object, got {type(event).__name__}")
    if "run" in event or "eventType" in event:
        run_id = _text(event.get("run"), "runId", "run.runId",
                       "every RunEvent needs run.runId (a UUID); partial fixtures without it cannot be placed")
        job = job_key(event.get("job"))
        event_type = event.get("eventType")
        if event_type is not None and event_type not in EVENT_TYPES:
            raise EventError(f"eventType {event_type!r} is not one of {', '.join(EVENT_TYPES)}")
        yield from run_event(event, run_id, job, event_type, event_time(event, required=True), source)
    elif "dataset" in event:
        dataset = event["dataset"]
        _text(dataset, "namespace", "dataset.namespace", "a DatasetEvent names its dataset")
        _text(dataset, "name", "dataset.name", "a DatasetEvent names its dataset")
        yield from dataset_event(event, event_time(event, required=False), source)
    elif "job" in event:
        yield from job_event(event, job_key(event["job"]), event_time(event, required=False), source)
    else:
        keys = ", ".join(sorted(event)[:8]) or "none"
        raise EventError(f"not an OpenLineage event (keys: {keys}); a RunEvent has run+job+eventTime, "
                         "a JobEvent has job, a DatasetEvent has dataset")


def job_key(job: Any) -> tuple[str, str]:
    """``(namespace, name)`` of an event's job."""
    hint = "the job is identified by job.namespace and job.name"
    return _text(job, "namespace", "job.namespace", hint), _text(job, "name", "job.name", hint)


def event_time(event: dict[str, Any], *, required: bool) -> str | None:
    """The eventTime as UTC ISO text (a time without zone is read as UTC)."""
    value = event.get("eventTime")
    if value is None:
        if required:
            raise EventError("eventTime is missing (or a test placeholder): add an ISO 8601 eventTime, "
                             "e.g. 2026-04-02T10:15:00Z")
        return None
    try:
        return isotime.normalise(value)[0]
    except isotime.TimeParseError as exc:
        raise EventError(f"eventTime: {exc}") from None


def _text(obj: Any, key: str, where: str, hint: str) -> str:
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, str) or not value.strip():
        problem = "is missing (or a test placeholder)" if value is None else f"must be a non-empty string, got {value!r}"
        raise EventError(f"{where} {problem}: {hint}")
    return value


class OpenLineageSource(Source):
    """``kind = "openlineage"``: ``paths``, files or folders of events (one source each)."""

    kind = "openlineage"
    file_based = True

    def __init__(self, path: str) -> None:
        super().__init__(str(Path(path).resolve()))
        self.path = path

    @classmethod
    def from_config(cls, table: dict[str, Any], base: Path) -> list[Source]:
        paths = strings(table, "paths", required=True)
        return [cls(local(base, p)) for p in paths]

    def read(self, state: dict[str, Any]) -> Iterator[Record]:
        return read(self.path, state=state)
