"""The general path: one log line or CSV row read, mapped and checked as
a record (strict JSON, inference, mapping, value checks), its fact added to
the batch; and the pass's state (:class:`Progress`). The fast path
(:mod:`.fastpath`) takes the lines of a shape it has seen here."""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provex.ingest import jsontext
from provex.ingest.predictions import lines as linereader
from provex.ingest.predictions.facts import Batch, fact
from provex.ingest.predictions.fastpath import FastPath
from provex.ingest.predictions.infer import Inference
from provex.ingest.predictions.mapping import Mapping, RecordError, canonical, parse_record
from provex.vocab import values
from provex.vocab.facts import Facts
from provex.vocab.records import Flag, Record, Reject

RAW_KEEP = 2000  # characters of a rejected line kept in the rejects file
MAX_TRACKED_REFS = 10_000  # bound on the refs counted per pass (constant memory)
MAX_LINE = linereader.MAX_LINE  # bytes; a longer line is rejected without being held in memory
MAX_INPUT_KEYS = 10_000  # distinct input names in one file before a flag says the log is unusually wide
MAX_FEATURES = 1_000  # inputs of one record linked as Feature nodes (all are kept in the store)


@dataclass
class Progress:
    """What one pass has seen: line count and bytes (from the reader), facts gathered, notes."""

    lines: int = 0  # complete lines consumed
    offset: int = 0  # uncompressed bytes of those lines
    failed: bool = False  # the pass stopped at a read error or a limit: no watermark (read again next time)
    reader: linereader.Lines | None = None
    batch: Batch | None = None
    batch_size: int = 10_000  # facts per batch handed on (a batch of Python rows is ~1.5 KB a fact)
    input_keys: set[str] = field(default_factory=set)
    input_shapes: set[tuple[str, ...]] = field(default_factory=set)
    wide: int = 0  # records with more than MAX_FEATURES inputs
    fast: FastPath | None = None
    unresolved: Counter = field(default_factory=Counter)
    naive_times: int = 0
    inferred: Inference = field(default_factory=lambda: Inference(Mapping()))  # names and shapes (infer.py)

    def sync(self) -> None:
        if self.reader is not None:
            self.lines, self.offset = self.reader.lines, self.reader.offset


def _decode(number: int, raw: bytes, source: str) -> str | Reject:
    if isinstance(raw, linereader.LongLine):
        return Reject(source, number, f"line is {raw.size:,} bytes long, more than the {MAX_LINE:,} provex reads "
                      "in one line; split the record or move its large fields out of the log",
                      raw.decode("utf-8", errors="replace"))
    try:
        return raw.decode("utf-8").lstrip("\ufeff") if number == 1 else raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Reject(source, number, f"line is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                      "re-encode the log as UTF-8", raw[:RAW_KEEP].decode("utf-8", errors="replace"))


def json_records(lines: Iterator[tuple[int, bytes]], spec: Mapping, path: Path, progress: Progress,
                  source: str) -> Iterator[Record | Facts]:
    fast, batch = progress.fast, progress.batch
    for number, raw in lines:
        values = fast.row(raw, source, number) if fast is not None and not isinstance(raw, linereader.LongLine) else None
        if values is not None:
            if fast.last_inputs:
                count_inputs(progress, fast.last_inputs)
            batch.add(values)
            if len(batch) >= progress.batch_size:
                yield batch.take()
            continue
        text = _decode(number, raw, source)
        if isinstance(text, Reject):
            yield text
            continue
        if not text.strip():
            continue
        try:
            doc, dupes = jsontext.loads(text)
        except json.JSONDecodeError as exc:
            yield Reject(source, number, f"not valid JSON ({exc.msg} at column {exc.colno}){_cr_hint(text)}; "
                         "each line must be one JSON object", text[:RAW_KEEP].rstrip("\r\n"))
            continue
        except jsontext.JSONTextError as exc:
            yield Reject(source, number, str(exc), text[:RAW_KEEP].rstrip("\r\n"))
            continue
        if dupes:
            yield Flag("duplicate-key", f"line {number}: {jsontext.duplicate_note(dupes)}", source, number)
        if not isinstance(doc, dict):
            yield Reject(source, number, f"line is a JSON {type(doc).__name__}, not an object; "
                         "write one {...} record per line", text[:RAW_KEEP].rstrip("\r\n"))
            continue
        yield from one(doc, spec, path, number, text, progress, source, from_csv=False)


def _cr_hint(text: str) -> str:
    return " (the line holds a bare CR: are its line ends CR-only in part of the file?)" if "\r" in text.rstrip("\r\n") else ""


def csv_records(lines: Iterator[tuple[int, bytes]], header_text: str, spec: Mapping, path: Path,
                 progress: Progress, source: str, header_read: bool) -> Iterator[Record | Facts]:
    delimiter = "\t" if path.name.lower().removesuffix(".gz").endswith(".tsv") else ","
    try:
        header = next(csv.reader([header_text.lstrip("\ufeff").rstrip("\r\n")], delimiter=delimiter, strict=True), [])
    except csv.Error as exc:
        yield Reject(source, 1, f"the CSV header cannot be parsed ({exc}); the file was not read. Is it a "
                     "prediction log? A CSV log starts with one header line of field names",
                     header_text[:RAW_KEEP])
        return
    if not header_read:
        next(lines, None)  # the header line itself
    row_start = _RowStart()
    reader = csv.reader(row_start.texts(lines, source), delimiter=delimiter, strict=True)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Reject(source, row_start.number, f"CSV row cannot be parsed ({exc}); check its quoting",
                         row_start.take()[:RAW_KEEP])
            continue
        number, text = row_start.number, row_start.take()
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            yield Reject(source, number, f"CSV row has {len(row)} cells but the header has {len(header)}; "
                         "quote cells that contain the delimiter", text[:RAW_KEEP].rstrip("\n"))
            continue
        yield from one(dict(zip(header, row)), spec, path, number, text, progress, source, from_csv=True)


class _RowStart:
    """Tracks the first line number and the text of the CSV row being read."""

    def __init__(self) -> None:
        self.number = 0
        self.parts: list[str] = []

    def texts(self, lines: Iterator[tuple[int, bytes]], source: str) -> Iterator[str]:
        for number, raw in lines:
            text = _decode(number, raw, source)
            text = text if isinstance(text, str) else raw.decode("utf-8", errors="replace")
            text = text.rstrip("\r") if text.endswith("\r") else text  # a CR-only log: its lines end in CR
            if not self.parts:
                self.number = number
            if len(self.parts) < 64:
                self.parts.append(text)
            yield text

    def take(self) -> str:
        text, self.parts = "".join(self.parts), []
        return text


def one(raw: dict[str, Any], spec: Mapping, path: Path, number: int, text: str, progress: Progress,
         source: str, *, from_csv: bool) -> Iterator[Record | Facts]:
    before = Counter(progress.inferred.notes)
    try:
        docs = progress.inferred.expand(raw, number, from_csv=from_csv)
    except RecordError as exc:
        yield Reject(source, number, str(exc), text[:RAW_KEEP].rstrip("\r\n"))
        return
    notes = progress.inferred.notes - before
    for doc in docs:
        canon = yield from _store(doc, spec, path, number, text, progress, source, from_csv=from_csv)
        if canon is not None and not from_csv and progress.fast is not None and len(docs) == 1:
            progress.fast.learn(raw, docs, canon, notes, spec)


def _store(raw: dict[str, Any], spec: Mapping, path: Path, number: int, text: str, progress: Progress,
           source: str, *, from_csv: bool) -> Iterator[Record | Facts]:
    """Check one record; its fact joins the batch. Returns the canonical record (None when rejected)."""
    try:
        doc = canonical(raw, spec, line=number, path=path, from_csv=from_csv)
        bad = values.problem(doc)
        if bad:
            raise RecordError(f"the record {bad}")
        rec = parse_record(doc, spec)
    except RecordError as exc:
        yield Reject(source, number, str(exc), text[:RAW_KEEP].rstrip("\r\n"))
        return None
    if not rec.zoned:
        progress.naive_times += 1
    if not rec.model.resolved:
        ref = rec.model.ref or "(no model named)"
        known = ref in progress.unresolved or len(progress.unresolved) < MAX_TRACKED_REFS
        progress.unresolved[ref if known else "(other references)"] += 1
    count_inputs(progress, rec.inputs)
    progress.batch.add(fact(rec, source, number))
    if len(progress.batch) >= progress.batch_size:
        yield progress.batch.take()
    return doc


def count_inputs(progress: Progress, inputs: dict[str, Any]) -> None:
    """Track the distinct input names (once per set of names; bounded) and the records wider than MAX_FEATURES."""
    if len(inputs) > MAX_FEATURES:
        progress.wide += 1
    shape = tuple(inputs)
    if shape not in progress.input_shapes and len(progress.input_keys) <= MAX_INPUT_KEYS:
        progress.input_shapes.add(shape)
        progress.input_keys.update(shape)
