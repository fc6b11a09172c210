"""The OpenLineage HTTP endpoint behind `provex serve-lineage`.

``POST /api/v1/lineage`` takes one event exactly as the OpenLineage HTTP
transport sends it (JSON, optionally ``Content-Encoding: gzip``, a bearer API
key). An event is checked with the OpenLineage adapter's own rules (strict
JSON, the value limits of :func:`provex.vocab.values.problem`); a bad one is
answered 400 with the reason, a bug 500, and 503 (retry) is kept for what
passes: a spool that cannot be written, too many connections. Every request
has deadlines for its headers and its body (slowloris); at most
``max_connections`` are open at once; a request without the key is answered
401 and closed without its body being read. A good one is appended to the spool (a
folder of JSON-lines segment files) and fsynced *before* the 201, so an
acknowledged event survives a crash. A background thread seals the segment
being written every few seconds and ingests the sealed ones through the
adapter and the graph's pipeline (holding the ingest lock), then deletes
them. After a restart the segments left behind are ingested first; every
write is an idempotent MERGE, so an event ingested twice is still one.

``GET /health`` reports the spool and the last background ingest, for
monitoring.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hmac
import json
import os
import threading
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from provex.app.bounded_http import BoundedServer, DeadlineHandler
from provex.graph import pipeline
from provex.graph.connection import Graph
from provex.graph.lock import IngestLock
from provex.ingest import jsontext
from provex.ingest.openlineage import EventError, parse_event, read_file
from provex.vocab.errors import UsageError
from provex.vocab.records import Edge, Entry, Node, Record
from provex.vocab.secrets import scrub_record, scrubbed

API_PATH = "/api/v1/lineage"
MAX_BODY = 16 * 1024 * 1024  # bytes of one event, compressed or not
SEGMENT_GLOB = "segment-*.jsonl"


class BadEvent(ValueError):
    """A request body that is not a usable OpenLineage event; the message is the reason."""


def decode(body: bytes, encoding: str | None) -> dict[str, Any]:
    """The event in a request body; BadEvent says what is wrong with it. The
    checks are those of ``provex ingest openlineage`` (strict JSON, then
    :func:`provex.ingest.openlineage.parse_event`), so an event answered 201
    is never set aside when it is ingested."""
    coding = (encoding or "identity").strip().lower()
    if coding == "gzip":
        body = _gunzip(body)
    elif coding != "identity":
        raise BadEvent(f"unsupported Content-Encoding {coding!r}; send JSON, optionally gzip-compressed")
    try:
        doc, _dupes = jsontext.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadEvent("the body is not UTF-8 text; send the event as JSON") from None
    except json.JSONDecodeError as exc:
        raise BadEvent(f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except jsontext.JSONTextError as exc:  # NaN/Infinity, nested too deeply to read, a 5,000-digit number
        raise BadEvent(str(exc)) from None
    try:
        parse_event(doc, "http")
    except EventError as exc:
        raise BadEvent(str(exc)) from None
    return doc


def _gunzip(body: bytes) -> bytes:
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflate.decompress(body, MAX_BODY + 1)
    except zlib.error as exc:
        raise BadEvent(f"Content-Encoding is gzip but the body is not gzip data ({exc})") from None
    if len(data) > MAX_BODY or inflate.unconsumed_tail:
        raise BadEvent(f"the event is larger than {MAX_BODY // (1024 * 1024)} MB uncompressed")
    return data


class Spool:
    """Accepted events, durable: JSON lines appended to segment files, each
    append fsynced. One server per spool folder (an flock on ``.lock``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._guard = (root / ".lock").open("a")
        try:
            fcntl.flock(self._guard, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._guard.close()
            raise UsageError(f"Another provex serve-lineage uses the spool {root}; give this one --spool DIR.") from None
        self._lock = threading.Lock()
        numbers = [int(p.stem.split("-")[1]) for p in root.glob(SEGMENT_GLOB)]
        self._next = max(numbers, default=0) + 1
        self._fd: int | None = None
        self._path: Path | None = None
        self.accepted = 0

    def append(self, line: bytes) -> None:
        """Write one event and fsync it; returns only once it is on disk."""
        with self._lock:
            if self._fd is None:
                self._path = self.root / f"segment-{self._next:012d}.jsonl"
                self._next += 1
                self._fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                self._sync_dir()
            data = memoryview(line + b"\n")
            while data:
                data = data[os.write(self._fd, data):]
            os.fsync(self._fd)
            self.accepted += 1

    def seal(self) -> list[Path]:
        """Close the segment being written; every sealed segment, oldest first."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd, self._path = None, None
            return sorted(self.root.glob(SEGMENT_GLOB))

    def drop(self, paths: list[Path]) -> None:
        """Segments now in the graph."""
        for path in paths:
            path.unlink(missing_ok=True)
        self._sync_dir()

    def segments(self) -> int:
        return len(list(self.root.glob(SEGMENT_GLOB)))

    def close(self) -> None:
        self.seal()
        self._guard.close()

    def _sync_dir(self) -> None:
        fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@dataclasses.dataclass
class IngestState:
    ingests: int = 0
    runs_written: int = 0
    last_success: str | None = None
    last_error: str | None = None
    failures: int = 0


class SpoolIngester:
    """Ingests sealed spool segments into the graph in the background."""

    def __init__(self, spool: Spool, *, every: float = 1.0, lock_wait: float = 60.0,
                 log: Callable[[str], None] = print, connect: Callable[[], Graph] = Graph.connect) -> None:
        self.spool = spool
        self.every = every
        self.lock_wait = lock_wait
        self.log = log
        self.connect = connect
        self.uri = f"serve-lineage:{spool.root.resolve()}"
        self.state = IngestState()
        self._graph: Graph | None = None

    def run(self, stop: threading.Event) -> None:
        delay = self.every
        while not stop.wait(delay):
            delay = self.every if self.drain() else min(60.0, max(self.every, 1.0) * 2 ** self.state.failures)

    def drain(self) -> bool:
        """Ingest every sealed segment; False when that failed (they stay spooled)."""
        paths = self.spool.seal()
        if not paths:
            return True
        try:
            graph = self._graph or self.connect()
            self._graph = graph
            with IngestLock(graph, wait=self.lock_wait, command="provex serve-lineage", notify=self.log):
                summary = pipeline.ingest(graph, kind="openlineage", uri=self.uri, read=lambda _state: self._records(paths),
                                          rejects=self.spool.root / "rejected" / f"{paths[0].stem}.jsonl")
        except Exception as exc:  # noqa: BLE001 - the background ingest must outlive any one failure
            self.state.failures += 1
            self.state.last_error = f"{datetime.now(UTC).isoformat()}: {scrubbed(str(exc))}"
            self.log(f"error: ingesting {len(paths)} spool segment(s) failed, kept for the next try: {scrubbed(str(exc))}")
            return False
        self.spool.drop(paths)
        self.state.ingests += 1
        self.state.failures = 0
        self.state.runs_written += summary.counts.get("Run", 0)
        self.state.last_success = datetime.now(UTC).isoformat()
        return True

    def _records(self, paths: list[Path]) -> Iterator[Record]:
        (self.spool.root / "rejected").mkdir(exist_ok=True)
        for path in paths:
            for record in read_file(path):
                if isinstance(record, Entry):
                    yield dataclasses.replace(record, records=tuple(self._sourced(scrub_record(r)) for r in record.records))
                else:
                    yield self._sourced(scrub_record(record))

    def _sourced(self, record: Record) -> Record:
        return dataclasses.replace(record, source=self.uri) if isinstance(record, (Node, Edge)) else record

    def close(self) -> None:
        if self._graph is not None:
            self._graph.close()


class LineageServer(BoundedServer):
    """The endpoint's server: the spool, the API key and the health report,
    on a :class:`~provex.app.bounded_http.BoundedServer` (deadlines, a connection cap)."""

    def __init__(self, address: tuple[str, int], spool: Spool, api_key: str | None,
                 health: Callable[[], dict[str, Any]], **limits: Any) -> None:
        super().__init__(address, Handler, **limits)
        self.spool = spool
        self.api_key = api_key
        self.health = health

    def authorised(self, header: str | None) -> bool:
        if self.api_key is None:
            return True
        scheme, _, token = (header or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), self.api_key.encode())


class Handler(DeadlineHandler):
    server: LineageServer

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        try:
            self._post()
        except TimeoutError:
            self._reply(408, {"error": f"the body was not received within {self.server.body_timeout:g} s; send it again"},
                        close=True)
        except Exception as exc:  # noqa: BLE001 - a bug in provex: 500 (not 503, which a client retries for ever)
            self._reply(500, {"error": f"provex failed on this event ({type(exc).__name__}); it was not accepted. "
                                       "Report it: the same event would fail again"}, close=True)

    def _post(self) -> None:
        if urlsplit(self.path).path.rstrip("/") != API_PATH:
            return self._reply(404, {"error": f"no such endpoint; POST OpenLineage events to {API_PATH}"}, close=True)
        if not self.server.authorised(self.headers.get("Authorization")):
            return self._reply(401, {"error": "missing or wrong API key: send Authorization: Bearer <key> "
                                              "(the OpenLineage client's api_key auth)"},
                               headers={"WWW-Authenticate": 'Bearer realm="provex"'}, close=True)
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            return self._reply(411, {"error": "send the event with a Content-Length"}, close=True)
        if int(length) > MAX_BODY:
            return self._reply(413, {"error": f"the event is larger than {MAX_BODY // (1024 * 1024)} MB"}, close=True)
        self.start_body()
        body = self.rfile.read(int(length))
        if len(body) < int(length):
            return self._reply(400, {"error": "the body ended before Content-Length bytes"}, close=True)
        try:
            doc = decode(body, self.headers.get("Content-Encoding"))
        except BadEvent as exc:
            return self._reply(400, {"error": str(exc)})
        try:
            self.server.spool.append(json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
        except OSError as exc:  # the one transient failure: the disk (full, read-only for now)
            return self._reply(503, {"error": f"the spool could not be written ({exc.strerror or exc}); retry"})
        self._reply(201, {"status": "accepted"})

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        path = urlsplit(self.path).path.rstrip("/")
        if path == "/health":
            self._reply(200, {"status": "ok", **self.server.health()})
        elif path == API_PATH:
            self._reply(405, {"error": f"POST events to {API_PATH}"}, headers={"Allow": "POST"})
        else:
            self._reply(404, {"error": "not found"})

    def _reply(self, code: int, payload: dict[str, Any], headers: dict[str, str] | None = None,
               close: bool = False) -> None:
        body = json.dumps(payload).encode()
        self.start_answer()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        """Quiet: /health and the spool say what happened."""


def serve(host: str, port: int, spool_dir: Path, api_key: str | None, stop: threading.Event, *,
          every: float = 1.0, lock_wait: float = 60.0, log: Callable[[str], None] = print,
          ready: Callable[[str], None] = print, **limits: Any) -> None:
    """Run until ``stop`` is set: the HTTP server, and the background ingest of
    the spool (first the segments a previous run left). On stop, one last ingest.
    ``limits``: ``max_connections``, ``header_timeout``, ``body_timeout`` of :class:`LineageServer`."""
    spool = Spool(spool_dir)
    ingester = SpoolIngester(spool, every=every, lock_wait=lock_wait, log=log)

    def health() -> dict[str, Any]:
        return {"accepted": spool.accepted, "spooled_segments": spool.segments(),
                **dataclasses.asdict(ingester.state)}

    try:
        server = LineageServer((host, port), spool, api_key, health, **limits)
    except OSError as exc:
        spool.close()
        raise UsageError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}. Pick another --port.") from None
    worker = threading.Thread(target=ingester.run, args=(stop,), name="provex-spool-ingest", daemon=True)
    http = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="provex-http",
                            daemon=True)
    try:
        http.start()
        worker.start()
        ready(f"http://{_url_host(host)}:{server.server_address[1]}{API_PATH}")
        stop.wait()
    finally:
        server.shutdown()
        server.server_close()
        worker.join(timeout=120)
        with contextlib.suppress(Exception):
            ingester.drain()
        ingester.close()
        spool.close()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host

