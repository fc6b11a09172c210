"""Prediction logs (JSON lines or CSV, plain or gzipped) -> prediction facts.

Streams the file in blocks (:mod:`.lines`, every limit enforced on the bytes)
in constant memory. Each good record becomes a fact (:mod:`.facts`), handed
to the pipeline in columnar batches (:class:`provex.vocab.facts.Facts`) for
the prediction store; the graph makes its hourly groups (and, below a rate,
a node per prediction) from them. Bad records become :class:`Reject`
records. A :class:`Watermark` remembers how far the file was read and a hash
of those bytes, so an appended log is read from where it stopped, and a log
changed before that point (a rejected line fixed in place) is read again
from the top: the store drops the lines it already holds.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import stat
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from provex.ingest.predictions import lines as linereader
from provex.ingest.predictions.facts import Batch
from provex.ingest.predictions.fastpath import FastPath
from provex.ingest.predictions.general import MAX_FEATURES, MAX_INPUT_KEYS, MAX_LINE, Progress, csv_records, json_records, one
from provex.ingest.predictions.infer import VERSION as INFER_VERSION
from provex.ingest.predictions.infer import Inference
from provex.ingest.predictions.mapping import Mapping, load_mapping
from provex.ingest.source import Position, Source, local, strings
from provex.vocab.errors import SourceError, UsageError
from provex.vocab.facts import Facts
from provex.vocab.records import Flag, Record, Reject, Watermark

WATERMARK = "log"
HEAD_BYTES = 1024
MAX_FLAGGED_REFS = 100  # distinct unresolved model refs listed one by one
GZIP_MAGIC = b"\x1f\x8b"
JSON_SUFFIXES = (".jsonl", ".ndjson", ".json", ".log")
NODE_MODES = ("auto", "all", "none")


def read(file: str | Path, *, mapping: str | Path | None = None, model: str | None = None,
         state: dict[str, Any] | None = None, position: Position | None = None) -> Iterator[Record | Facts]:
    """Yield facts (in batches), rejects, flags and the watermark for one
    prediction log. ``state`` is the previous watermark; ``position`` follows
    the bytes read (of a plain file; a gzipped one has no known total)."""
    path = Path(file)
    spec = load_mapping(mapping, model)
    head, size, gzipped = _inspect(path)
    settings = _settings_digest(mapping, model)
    mark = _resume_point((state or {}).get(WATERMARK), size, settings)
    source = str(path)
    progress = Progress(inferred=Inference(spec), batch=Batch(source), fast=FastPath(spec))
    if position is not None:
        position.follow(None if gzipped else size, "bytes", lambda: progress.reader.offset if progress.reader else 0)
    try:
        yield from _pass(path, spec, gzipped, head, mark, progress, source)
    except linereader.Changed:  # the bytes before the watermark changed: read it all again
        progress = Progress(inferred=Inference(spec), batch=Batch(source), fast=FastPath(spec))
        yield from _pass(path, spec, gzipped, head, {}, progress, source)
    if len(progress.batch):
        yield progress.batch.take()
    progress.inferred.notes.update(progress.fast.notes)
    yield from progress.inferred.finish(source)
    yield from _flags(progress, source)
    if progress.reader is not None and not progress.failed:
        yield Watermark(WATERMARK, {"lines": progress.lines, "offset": progress.offset, "size": size,
                                    "prefix_sha": progress.reader.prefix_sha(), "settings": settings})


def _pass(path: Path, spec: Mapping, gzipped: bool, head: bytes, mark: dict[str, Any], progress: Progress,
          source: str) -> Iterator[Record | Facts]:
    """One pass over the file from the watermark (or the top); a read failure
    or a limit stops it with one reject after the lines already read."""
    try:
        yield from _records(path, spec, gzipped, head, mark, progress, source)
        for number, doc in progress.inferred.leftovers():
            yield from one(doc, spec, path, number, json.dumps(doc, default=str), progress, source, from_csv=False)
    except linereader.TooLarge as exc:
        progress.sync()
        progress.failed = True
        yield Reject(source, progress.lines + 1, str(exc))
    except (OSError, EOFError, zlib.error) as exc:
        progress.sync()
        progress.failed = True
        what = "the gzip data is corrupt or truncated" if gzipped else "reading failed"
        yield Reject(source, progress.lines + 1,
                     f"{what} after line {progress.lines} ({exc}); the lines before it were ingested. "
                     "Re-create the file (gzip it again if compressed) and ingest it again.")
    progress.sync()


MAX_PREVIEW_FIELDS = 50  # fields of a previewed record shown one by one (--dry-run)


def preview(file: str | Path, *, mapping: str | Path | None = None, model: str | None = None,
            limit: int = 5) -> dict[str, Any]:
    """``--dry-run``: what was inferred and the first ``limit`` predictions as they
    would be stored (with the rejects met on the way); reads no further, writes
    nothing. A record's fields past MAX_PREVIEW_FIELDS are counted, not listed."""
    path = Path(file)
    spec = load_mapping(mapping, model)
    head, _size, gzipped = _inspect(path)
    progress = Progress(inferred=Inference(spec), batch=Batch(str(path)), batch_size=1)
    rows: list[dict[str, Any]] = []
    rejects: list[Reject] = []
    for record in _records(path, spec, gzipped, head, {}, progress, str(path)):
        if isinstance(record, Facts):
            rows.extend(_shown(row) for row in record.rows())
        elif isinstance(record, Reject) and len(rejects) < limit * 10:
            rejects.append(record)
        if len(rows) >= limit:
            break
    progress.sync()
    return {"file": str(path), "lines_read": progress.lines, "inferred": progress.inferred.describe(),
            "predictions": rows[:limit], "rejects": [{"where": r.location(), "reason": r.reason} for r in rejects]}


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    """A fact as --dry-run shows it: inputs one by one (up to MAX_PREVIEW_FIELDS), no bookkeeping."""
    out = {k: v for k, v in row.items() if k not in ("uid", "inputs", "source", "line", "digest", "hour")}
    inputs = json.loads(row["inputs"]) if row.get("inputs") else {}
    out["output"] = json.loads(row["output"]) if row.get("output") else None
    for i, (name, value) in enumerate(inputs.items()):
        if i == MAX_PREVIEW_FIELDS:
            out["input..."] = f"{len(inputs) - MAX_PREVIEW_FIELDS:,} more inputs (not shown)"
            break
        out[f"input.{name}"] = value
    return out


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


def _resume_point(mark: Any, size: int, settings: str) -> dict[str, Any]:
    """Where to start: after the lines already read, if the file did not shrink
    and is read with the same mapping and model (the reader then checks that
    those bytes are unchanged)."""
    if not isinstance(mark, dict) or mark.get("settings") != settings or "prefix_sha" not in mark:
        return {}
    try:
        offset, lines = int(mark.get("offset", 0)), int(mark.get("lines", 0))
    except (TypeError, ValueError):
        return {}
    if size < int(mark.get("size", 0) or 0) or offset <= 0:
        return {}
    return {"offset": offset, "lines": lines, "prefix_sha": str(mark["prefix_sha"])}


def _open(path: Path, gzipped: bool) -> tuple[IO[bytes], IO[bytes] | None]:
    """The readable stream, and for gzip the raw file under it (its position is the compressed bytes read)."""
    if not gzipped:
        return path.open("rb"), None
    raw = path.open("rb")
    return gzip.GzipFile(fileobj=raw, mode="rb"), raw


def _is_csv(path: Path, first_line: str) -> bool:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".csv", ".tsv")):
        return True
    if name.endswith(JSON_SUFFIXES):
        return False
    return not first_line.lstrip("\ufeff \t").startswith("{")


def _records(path: Path, spec: Mapping, gzipped: bool, head: bytes, mark: dict[str, Any], progress: Progress,
             source: str) -> Iterator[Record | Facts]:
    first, newline = _first_line(path, gzipped)
    stream, raw = _open(path, gzipped)
    with stream, (raw or stream):
        reader = linereader.Lines(stream, name=str(path), newline=newline, raw=raw)
        progress.reader = reader
        if mark:
            reader.skip(mark["offset"], mark["lines"], mark["prefix_sha"])
        header = first.decode("utf-8", errors="replace")
        if _is_csv(path, header):
            records = csv_records(iter(reader), header, spec, path, progress, source, header_read=bool(mark))
        else:
            records = json_records(iter(reader), spec, path, progress, source)
        yield from records


def _first_line(path: Path, gzipped: bool) -> tuple[bytes, bytes]:
    """Line 1 (a CSV log's header, the format's tell; empty when longer than
    MAX_LINE) and the line end the file uses. Reads no further than line 1;
    a read error here is reported by the pass that follows, at its line."""
    buf = b""
    stream, raw = _open(path, gzipped)
    with stream, (raw or stream):
        try:
            while len(buf) <= MAX_LINE and b"\n" not in buf and b"\r" not in buf[:-1]:
                chunk = stream.read(HEAD_BYTES if not buf else 64 * 1024)
                if not chunk:
                    break
                buf += chunk
        except (OSError, EOFError, zlib.error):
            pass
    newline = linereader.newline_of(buf[:HEAD_BYTES])
    end = buf.find(newline)
    if end < 0:
        return (buf if len(buf) <= MAX_LINE else b""), newline
    return (buf[:end + 1] if end < MAX_LINE else b""), newline


def _flags(progress: Progress, source: str) -> Iterator[Flag]:
    """One flag per distinct unresolved model reference (not one per record)."""
    for i, (ref, count) in enumerate(progress.unresolved.most_common()):
        if i == MAX_FLAGGED_REFS:
            rest = sum(progress.unresolved.values()) - sum(c for _, c in progress.unresolved.most_common(i))
            yield Flag("unresolved-model", f"{rest} more predictions with other unresolvable model references", source)
            break
        yield Flag("unresolved-model", f"{count} predictions name their model as {ref!r}, which is not a "
                   "registry name@version; they link once the graph holds one thing it names (a registry version, "
                   "a run by id, name, tag or param, a logged model, an artifact hash, a metadata file beside the "
                   "model): ingest the MLflow store or DVC project that made it (or give --model NAME@VERSION)",
                   source)
    if progress.naive_times:
        yield Flag("naive-timestamp", f"{progress.naive_times} timestamps have no time zone; read as UTC", source)
    if progress.wide:
        yield Flag("wide-inputs", f"{progress.wide} records have more than {MAX_FEATURES:,} inputs; the first "
                   f"{MAX_FEATURES:,} of each are linked as features (all are kept in the prediction store)", source)
    if len(progress.input_keys) > MAX_INPUT_KEYS:
        yield Flag("many-input-names", f"the records of {source} use more than {MAX_INPUT_KEYS:,} distinct input "
                   "names: is a value (an id, a timestamp) logged as a key? Inputs are stored as one JSON object "
                   "each; only the first 1,000 names per record are linked as features", source)


class PredictionLogSource(Source):
    """``kind = "predictions"``: ``files`` (one source each), optional
    ``mapping`` (TOML renaming fields), ``model`` (``NAME@VERSION`` for
    records that carry none) and ``prediction_nodes`` (auto, all or none:
    whether the graph also gets a node per prediction)."""

    kind = "predictions"
    file_based = True

    def __init__(self, file: str, mapping: str | None = None, model: str | None = None,
                 prediction_nodes: str = "auto") -> None:
        super().__init__(str(Path(file).resolve()))
        if prediction_nodes not in NODE_MODES:
            raise UsageError(f"prediction_nodes = {prediction_nodes!r}: use one of {', '.join(NODE_MODES)}.")
        self.file, self.mapping, self.model = file, mapping, model
        self.prediction_nodes = prediction_nodes

    @classmethod
    def from_config(cls, table: dict[str, Any], base: Path) -> list[Source]:
        files = strings(table, "files", required=True)
        mapping = local(base, table["mapping"]) if table.get("mapping") else None
        nodes = table.get("prediction_nodes", "auto")
        if not isinstance(nodes, str):
            raise UsageError(f"prediction_nodes = {nodes!r}: use one of {', '.join(NODE_MODES)} (as text).")
        return [cls(local(base, f), mapping, table.get("model"), nodes) for f in files]

    def read(self, state: dict[str, Any]) -> Iterator[Record | Facts]:
        return read(self.file, mapping=self.mapping, model=self.model, state=state, position=self.position)
