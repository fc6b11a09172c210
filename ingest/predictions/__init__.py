"""Prediction logs (JSON lines or CSV, plain or gzipped) -> Prediction records.

Streams the file line by line in constant memory. Each good record becomes a
``Prediction`` node ``PREDICTED_BY`` its ``ModelVersion``, ``PART_OF`` an
hourly ``PredictionGroup`` (which ``USED`` each input ``Feature`` once),
``USED`` its upstream predictions and ``OVERRIDDEN_BY`` an ``Override``. Bad
records become :class:`Reject` records. A :class:`Watermark` remembers how far
the file was read, so an appended log is read from where it stopped.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import stat
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from provex.ingest import jsontext
from provex.ingest.predictions.infer import VERSION as INFER_VERSION
from provex.ingest.predictions.infer import Inference
from provex.ingest.predictions.mapping import Mapping, PredictionRecord, RecordError, canonical, load_mapping, parse_record
from provex.ingest.source import Position, Source, local, strings
from provex.vocab import model, values
from provex.vocab.errors import SourceError
from provex.vocab.records import Edge, Flag, Node, Record, Reject, Watermark

WATERMARK = "log"
HEAD_BYTES = 1024
RAW_KEEP = 2000  # characters of a rejected line kept in the rejects file
MAX_FLAGGED_REFS = 100  # distinct unresolved model refs listed one by one
MAX_TRACKED_REFS = 10_000  # bound on the refs counted per pass (constant memory)
GZIP_MAGIC = b"\x1f\x8b"
JSON_SUFFIXES = (".jsonl", ".ndjson", ".json", ".log")
MAX_LINE = 16 * 1024 * 1024  # bytes; a longer line is rejected without being held in memory
MAX_FEATURES = 1_000  # inputs of one record linked as Feature nodes (the rest stay in its properties)


@dataclass
class _Progress:
    """What one pass has seen: line count, bytes, groups and features emitted."""

    lines: int = 0  # complete (newline-terminated) lines consumed
    offset: int = 0  # uncompressed bytes of those lines
    groups: set[str] = field(default_factory=set)
    group_features: set[tuple[str, str]] = field(default_factory=set)
    features: set[str] = field(default_factory=set)
    unresolved: Counter = field(default_factory=Counter)
    naive_times: int = 0
    inferred: Inference = field(default_factory=lambda: Inference(Mapping()))  # names and shapes (infer.py)


def read(file: str | Path, *, mapping: str | Path | None = None, model: str | None = None,
         state: dict[str, Any] | None = None, position: Position | None = None) -> Iterator[Record]:
    """Yield records for one prediction log. ``state`` is the previous watermark;
    ``position`` follows the bytes read (of a plain file; a gzipped one has no known total)."""
    path = Path(file)
    spec = load_mapping(mapping, model)
    head, size, gzipped = _inspect(path)
    settings = _settings_digest(mapping, model)
    start = _resume_point((state or {}).get(WATERMARK), head, size, gzipped, settings)
    progress = _Progress(lines=start.get("lines", 0), offset=start.get("offset", 0), inferred=Inference(spec))
    if position is not None:
        position.follow(None if gzipped else size, "bytes", lambda: progress.offset)
    source = str(path)
    try:
        yield from _records(path, spec, gzipped, start, progress, source)
        for number, doc in progress.inferred.leftovers():
            yield from _one(doc, spec, path, number, json.dumps(doc, default=str), progress, source, from_csv=False)
    except (OSError, EOFError, zlib.error) as exc:
        what = "the gzip data is corrupt or truncated" if gzipped else "reading failed"
        yield Reject(source, progress.lines + 1,
                     f"{what} after line {progress.lines} ({exc}); the lines before it were ingested. "
                     "Re-create the file (gzip it again if compressed) and ingest it again.")
        return
    yield from progress.inferred.finish(source)
    yield from _flags(progress, source)
    yield Watermark(WATERMARK, {"lines": progress.lines, "offset": progress.offset, "size": size,
                                "head_sha": hashlib.sha256(head).hexdigest(), "head_len": len(head),
                                "settings": settings})


def preview(file: str | Path, *, mapping: str | Path | None = None, model: str | None = None,
            limit: int = 5) -> dict[str, Any]:
    """``--dry-run``: what was inferred and the first ``limit`` predictions as they
    would be stored (with the rejects met on the way); reads no further, writes nothing."""
    path = Path(file)
    spec = load_mapping(mapping, model)
    _head, _size, gzipped = _inspect(path)
    progress = _Progress(inferred=Inference(spec))
    rows: list[dict[str, Any]] = []
    rejects: list[Reject] = []
    for record in _records(path, spec, gzipped, {}, progress, str(path)):
        if isinstance(record, Node) and record.ref.label == "Prediction":
            rows.append(dict(record.props))
        elif isinstance(record, Reject):
            rejects.append(record)
        if len(rows) >= limit:
            break
    return {"file": str(path), "lines_read": progress.lines, "inferred": progress.inferred.describe(),
            "predictions": rows, "rejects": [{"where": r.location(), "reason": r.reason} for r in rejects]}


def _settings_digest(mapping: str | Path | None, model: str | None) -> str:
    """What the lines were read with: a new mapping or --model reads them all again
    (records rejected under the old mapping may be good under the new one)."""
    text = Path(mapping).read_bytes() if mapping else b""
    return hashlib.sha256(text + b"|" + (model or "").encode() + b"|infer:" + INFER_VERSION.encode()).hexdigest()


def _inspect(path: Path) -> tuple[bytes, int, bool]:
    """First KB, size, and whether the file is gzip (by suffix or magic bytes)."""
    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):  # a FIFO or a device would block or never end
            raise SourceError(f"Cannot read prediction log {path}: it is not a regular file "
                              f"({_file_kind(mode)}). Give the path of a .jsonl/.csv file (or .gz).")
        with path.open("rb") as fh:
            head = fh.read(HEAD_BYTES)
        size = path.stat().st_size
    except OSError as exc:
        raise SourceError(f"Cannot read prediction log {path}: {exc.strerror or exc}. Check the path.") from None
    return head, size, path.suffix == ".gz" or head.startswith(GZIP_MAGIC)


def _file_kind(mode: int) -> str:
    kinds = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))
    return next((name for test, name in kinds if test(mode)), "a special file")


def _resume_point(mark: Any, head: bytes, size: int, gzipped: bool, settings: str) -> dict[str, Any]:
    """Where to start: after the lines already read if the file only grew and is
    read with the same mapping and model."""
    if not isinstance(mark, dict) or size < int(mark.get("size", 0)) or mark.get("settings") != settings:
        return {}
    head_len = int(mark.get("head_len", 0))
    if len(head) < head_len or hashlib.sha256(head[:head_len]).hexdigest() != mark.get("head_sha"):
        return {}
    return {"lines": int(mark.get("lines", 0)), "offset": int(mark.get("offset", 0)), "seek": not gzipped}


def _open(path: Path, gzipped: bool) -> IO[bytes]:
    return gzip.open(path, "rb") if gzipped else path.open("rb")


def _is_csv(path: Path, first_line: str) -> bool:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".csv", ".tsv")):
        return True
    if name.endswith(JSON_SUFFIXES):
        return False
    return not first_line.lstrip("\ufeff \t").startswith("{")


def _records(path: Path, spec: Mapping, gzipped: bool, start: dict[str, Any], progress: _Progress,
             source: str) -> Iterator[Record]:
    with _open(path, gzipped) as fh:
        first = fh.readline()
        if not first:
            return
        header = first.decode("utf-8", errors="replace")
        resumed = bool(start.get("lines"))
        if resumed:
            _skip_to(fh, first, start, progress)
            first = b""
        else:
            progress.lines, progress.offset = 0, 0
        lines = _numbered(fh, first, progress)
        if _is_csv(path, header):
            yield from _csv_records(lines, header, spec, path, progress, source, header_read=resumed)
        else:
            yield from _json_records(lines, spec, path, progress, source)


def _skip_to(fh: IO[bytes], first: bytes, start: dict[str, Any], progress: _Progress) -> None:
    """Move past the lines an earlier pass read: seek plain files, skip lines of gzip."""
    if start.get("seek"):
        fh.seek(start["offset"])
        progress.lines, progress.offset = start["lines"], start["offset"]
        return
    count, offset = 1, len(first)
    while count < start["lines"]:
        raw = fh.readline()
        if not raw:
            break
        count, offset = count + 1, offset + len(raw)
    progress.lines, progress.offset = count, offset


def _numbered(fh: IO[bytes], first: bytes, progress: _Progress) -> Iterator[tuple[int, bytes]]:
    """``(line number, bytes)``; advances the watermark past complete lines only."""
    pending = [first] if first else []
    for raw in _chain(pending, fh):
        number = progress.lines + 1
        if raw.endswith(b"\n"):
            progress.lines, progress.offset = number, progress.offset + getattr(raw, "size", len(raw))
        yield number, raw


class _LongLine(bytes):
    """The start of a line longer than MAX_LINE (``size``: its real length)."""

    size: int


def _chain(pending: list[bytes], fh: IO[bytes]) -> Iterator[bytes]:
    yield from pending
    while raw := fh.readline(MAX_LINE + 1):
        if len(raw) <= MAX_LINE or raw.endswith(b"\n"):
            yield raw
            continue
        long, size = _LongLine(raw[:RAW_KEEP] + b"\n"), len(raw)
        while raw and not raw.endswith(b"\n"):  # skip the rest in bounded pieces
            raw = fh.readline(MAX_LINE)
            size += len(raw)
        long.size = size
        yield long


def _decode(number: int, raw: bytes, source: str) -> str | Reject:
    if isinstance(raw, _LongLine):
        return Reject(source, number, f"line is {raw.size:,} bytes long, more than the {MAX_LINE:,} provex reads "
                      "in one line; split the record or move its large fields out of the log",
                      raw.decode("utf-8", errors="replace"))
    try:
        return raw.decode("utf-8").lstrip("\ufeff") if number == 1 else raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Reject(source, number, f"line is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                      "re-encode the log as UTF-8", raw[:RAW_KEEP].decode("utf-8", errors="replace"))


def _json_records(lines: Iterator[tuple[int, bytes]], spec: Mapping, path: Path, progress: _Progress,
                  source: str) -> Iterator[Record]:
    for number, raw in lines:
        text = _decode(number, raw, source)
        if isinstance(text, Reject):
            yield text
            continue
        if not text.strip():
            continue
        try:
            doc, dupes = jsontext.loads(text)
        except json.JSONDecodeError as exc:
            yield Reject(source, number, f"not valid JSON ({exc.msg} at column {exc.colno}); "
                         "each line must be one JSON object", text[:RAW_KEEP].rstrip("\n"))
            continue
        except jsontext.JSONTextError as exc:
            yield Reject(source, number, str(exc), text[:RAW_KEEP].rstrip("\n"))
            continue
        if dupes:
            yield Flag("duplicate-key", f"line {number}: {jsontext.duplicate_note(dupes)}", source, number)
        if not isinstance(doc, dict):
            yield Reject(source, number, f"line is a JSON {type(doc).__name__}, not an object; "
                         "write one {...} record per line", text[:RAW_KEEP].rstrip("\n"))
            continue
        yield from _one(doc, spec, path, number, text, progress, source, from_csv=False)


def _csv_records(lines: Iterator[tuple[int, bytes]], header_text: str, spec: Mapping, path: Path,
                 progress: _Progress, source: str, header_read: bool) -> Iterator[Record]:
    delimiter = "\t" if path.name.lower().removesuffix(".gz").endswith(".tsv") else ","
    try:
        header = next(csv.reader([header_text.lstrip("\ufeff")], delimiter=delimiter, strict=True), [])
    except csv.Error as exc:
        yield Reject(source, 1, f"the CSV header cannot be parsed ({exc}); the file was not read. Is it a "
                     "prediction log? A CSV log starts with one header line of field names (no bare CR)",
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
        yield from _one(dict(zip(header, row)), spec, path, number, text, progress, source, from_csv=True)


class _RowStart:
    """Tracks the first line number and the text of the CSV row being read."""

    def __init__(self) -> None:
        self.number = 0
        self.parts: list[str] = []

    def texts(self, lines: Iterator[tuple[int, bytes]], source: str) -> Iterator[str]:
        for number, raw in lines:
            text = _decode(number, raw, source)
            text = text if isinstance(text, str) else raw.decode("utf-8", errors="replace")
            if not self.parts:
                self.number = number
            if len(self.parts) < 64:
                self.parts.append(text)
            yield text

    def take(self) -> str:
        text, self.parts = "".join(self.parts), []
        return text


def _one(raw: dict[str, Any], spec: Mapping, path: Path, number: int, text: str, progress: _Progress,
         source: str, *, from_csv: bool) -> Iterator[Record]:
    try:
        docs = progress.inferred.expand(raw, number, from_csv=from_csv)
    except RecordError as exc:
        yield Reject(source, number, str(exc), text[:RAW_KEEP].rstrip("\n"))
        return
    for doc in docs:
        yield from _store(doc, spec, path, number, text, progress, source, from_csv=from_csv)


def _store(raw: dict[str, Any], spec: Mapping, path: Path, number: int, text: str, progress: _Progress,
           source: str, *, from_csv: bool) -> Iterator[Record]:
    try:
        doc = canonical(raw, spec, line=number, path=path, from_csv=from_csv)
        bad = values.problem(doc)
        if bad:
            raise RecordError(f"the record {bad}")
        rec = parse_record(doc, spec)
    except RecordError as exc:
        yield Reject(source, number, str(exc), text[:RAW_KEEP].rstrip("\n"))
        return
    if not rec.zoned:
        progress.naive_times += 1
    if not rec.model.resolved:
        ref = rec.model.ref or "(no model named)"
        known = ref in progress.unresolved or len(progress.unresolved) < MAX_TRACKED_REFS
        progress.unresolved[ref if known else "(other references)"] += 1
    yield from graph_records(rec, progress, source)


def graph_records(rec: PredictionRecord, progress: _Progress, source: str) -> Iterator[Node | Edge | Flag]:
    """The nodes and edges for one prediction (groups and features once per pass)."""
    ref = model.prediction(rec.prediction_id)
    mv = model.model_version(rec.model.name, rec.model.version) if rec.model.resolved else None
    yield Node(ref, _props(rec), source)
    group = model.prediction_group(mv.uid if mv else "unresolved", rec.hour)
    if mv:
        yield Edge("PREDICTED_BY", ref, mv, source=source)
    yield Edge("PART_OF", ref, group, source=source)
    for upstream in rec.upstream:
        yield Edge("USED", ref, model.prediction(upstream), source=source)
    if rec.override:
        over = model.override(rec.prediction_id, rec.override["rule"])
        yield Node(over, {"rule": rec.override["rule"], "original_output": rec.override["original"],
                          "final_output": rec.output}, source)
        yield Edge("OVERRIDDEN_BY", ref, over, source=source)
    if group.uid not in progress.groups:
        progress.groups.add(group.uid)
        yield Node(group, {"hour": rec.hour, "model": mv.uid if mv else "unresolved", "count_stale": True}, source)
        if mv:
            yield Edge("PREDICTED_BY", group, mv, source=source)
    yield from _feature_links(rec, group, progress, source)


def _feature_links(rec: PredictionRecord, group: model.Ref, progress: _Progress, source: str) -> Iterator[Node | Edge | Flag]:
    names = list(rec.inputs)
    if len(names) > MAX_FEATURES:
        yield Flag("wide-inputs", f"prediction {rec.prediction_id!r} has {len(names):,} inputs; the first "
                   f"{MAX_FEATURES:,} are linked as features (all are kept on the prediction)", source)
    for name in names[:MAX_FEATURES]:
        if name not in progress.features:
            progress.features.add(name)
            yield Node(model.feature(name), {"name": name}, source)
        if (group.uid, name) not in progress.group_features:
            progress.group_features.add((group.uid, name))
            yield Edge("USED", group, model.feature(name), source=source)


def _props(rec: PredictionRecord) -> dict[str, Any]:
    ident = rec.model
    props: dict[str, Any] = {
        "prediction_id": rec.prediction_id, "timestamp": rec.timestamp, "hour": rec.hour,
        "output": rec.output, "score": rec.score, "model_ref": ident.ref, "resolved": ident.resolved,
        "model_name": ident.name, "model_version": ident.version, "model_alias": ident.alias,
        "model_run_id": ident.run_id, "model_id": ident.model_id,
        "upstream": list(rec.upstream) or None,
        "original_output": rec.override["original"] if rec.override else None,
        **rec.props,
    }
    props.update({f"input.{name}": value for name, value in rec.inputs.items()})
    return props


def _flags(progress: _Progress, source: str) -> Iterator[Flag]:
    """One flag per distinct unresolved model reference (not one per record)."""
    for i, (ref, count) in enumerate(progress.unresolved.most_common()):
        if i == MAX_FLAGGED_REFS:
            rest = sum(progress.unresolved.values()) - sum(c for _, c in progress.unresolved.most_common(i))
            yield Flag("unresolved-model", f"{rest} more predictions with other unresolvable model references", source)
            break
        yield Flag("unresolved-model", f"{count} predictions name their model as {ref!r}, which is not a "
                   "registry name@version; they link once a ModelVersion with that run_id / model_id is "
                   "ingested (or give --model NAME@VERSION)", source)
    if progress.naive_times:
        yield Flag("naive-timestamp", f"{progress.naive_times} timestamps have no time zone; read as UTC", source)


class PredictionLogSource(Source):
    """``kind = "predictions"``: ``files`` (one source each), optional
    ``mapping`` (TOML renaming fields) and ``model`` (``NAME@VERSION`` for
    records that carry none)."""

    kind = "predictions"
    file_based = True

    def __init__(self, file: str, mapping: str | None = None, model: str | None = None) -> None:
        super().__init__(str(Path(file).resolve()))
        self.file, self.mapping, self.model = file, mapping, model

    @classmethod
    def from_config(cls, table: dict[str, Any], base: Path) -> list[Source]:
        files = strings(table, "files", required=True)
        mapping = local(base, table["mapping"]) if table.get("mapping") else None
        return [cls(local(base, f), mapping, table.get("model")) for f in files]

    def read(self, state: dict[str, Any]) -> Iterator[Record]:
        return read(self.file, mapping=self.mapping, model=self.model, state=state, position=self.position)
