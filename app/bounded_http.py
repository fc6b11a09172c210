"""An HTTP server that bounds what each client may take (the endpoint of
``provex serve-lineage`` is one): one thread per connection, at most
``max_connections`` of them (one more is answered 503 with ``Retry-After``
and closed before a thread is spent on it); every read has a deadline over
the whole request part, the line and headers (``header_timeout``, also the
keep-alive idle limit), then the body (``body_timeout``), not per ``recv``, so
a client dripping a byte at a time is cut off; every answer has its own
write deadline. A broken connection is dropped without a traceback."""

from __future__ import annotations

import contextlib
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HEADER_TIMEOUT = 10.0
BODY_TIMEOUT = 60.0
MAX_CONNECTIONS = 64
WRITE_TIMEOUT = 10.0


class BoundedServer(ThreadingHTTPServer):
    """A threading HTTP server with a connection cap and read deadlines (see the module)."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type[DeadlineHandler], *,
                 max_connections: int = MAX_CONNECTIONS, header_timeout: float = HEADER_TIMEOUT,
                 body_timeout: float = BODY_TIMEOUT) -> None:
        super().__init__(address, handler)
        self.header_timeout, self.body_timeout = header_timeout, body_timeout
        self._slots = threading.BoundedSemaphore(max_connections)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            _refuse(request)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection that broke (reset, timed out while answering): dropped, no traceback."""


def _refuse(request: Any) -> None:
    """503 to a connection over the limit, without reading from it."""
    body = json.dumps({"error": "too many connections to this endpoint; retry shortly"}).encode()
    head = (f"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Retry-After: 1\r\nConnection: close\r\n\r\n").encode()
    with contextlib.suppress(OSError):
        request.settimeout(1.0)
        request.sendall(head + body)


class _DeadlineReader(io.RawIOBase):
    """The socket, read against the handler's current deadline."""

    def __init__(self, sock: Any, handler: DeadlineHandler) -> None:
        super().__init__()
        self.sock, self.handler = sock, handler

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self.handler.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request was not received in time")
        self.sock.settimeout(left)
        return self.sock.recv_into(buffer)


class DeadlineHandler(BaseHTTPRequestHandler):
    """A request handler whose reads stop at a deadline: the headers' from the
    start of each request; the body's from :meth:`start_body`. A timeout while
    the headers are read closes the connection (http.server's own handling);
    one while the body is read raises TimeoutError to the ``do_*`` method."""

    protocol_version = "HTTP/1.1"
    server: BoundedServer
    deadline = 0.0

    def setup(self) -> None:
        super().setup()
        self.rfile = io.BufferedReader(_DeadlineReader(self.connection, self))

    def handle_one_request(self) -> None:
        self.deadline = time.monotonic() + self.server.header_timeout  # the request line and headers (or idle)
        super().handle_one_request()

    def start_body(self) -> None:
        self.deadline = time.monotonic() + self.server.body_timeout

    def start_answer(self) -> None:
        """The read deadline may be spent: the answer gets its own."""
        self.connection.settimeout(WRITE_TIMEOUT)
