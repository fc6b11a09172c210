"""`provex serve-lineage` against hostile clients, in-process on a free loopback
port (no Neo4j needed: what is checked is the HTTP answer and the spool):
bad events are 400 with the reason before anything is spooled, never 201
then set aside nor 503 "retry"; slow or never-finished headers and bodies
are cut off by their deadline; connections beyond the limit get 503 at once;
an unauthenticated request is answered 401 and closed without its body being
read. Every test opens a bounded number of loopback connections."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from provex.app.lineage_server import LineageServer, Spool

KEY = "endpoint-key-5f2c"
AUTH = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
GOOD = {"eventType": "COMPLETE", "eventTime": "2026-04-02T10:15:00Z", "producer": "https://example.com/t",
        "run": {"runId": "3f5e83fa-3480-44ff-99c5-ff943904e5e8"}, "job": {"namespace": "t", "name": "j"}}


@contextlib.contextmanager
def endpoint(tmp_path: Path, **limits: float) -> Iterator[tuple[LineageServer, int]]:
    spool = Spool(tmp_path / "spool")
    server = LineageServer(("127.0.0.1", 0), spool, KEY, lambda: {}, **limits)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        spool.close()


def post(port: int, body: bytes, headers: dict[str, str] = AUTH) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/api/v1/lineage", body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def spooled(tmp_path: Path) -> list[str]:
    return [line for seg in sorted((tmp_path / "spool").glob("segment-*.jsonl")) for line in seg.read_text().splitlines()]


def with_field(raw: str) -> str:
    """The good event with one more field written as raw JSON text."""
    return json.dumps(GOOD)[:-1] + f', "x": {raw}}}'


BAD_EVENTS = {
    "NaN": (with_field("NaN"), "NaN"),
    "integer above 2^63": (json.dumps({**GOOD, "x": 2**64}), "64-bit"),
    "nesting past the limit": (with_field("[" * 100 + "]" * 100), "nested more than 64"),
    "NUL in a key": (json.dumps({**GOOD, "job": {**GOOD["job"], "facets": {"a\u0000b": 1}}}), "NUL"),
    "nested 100,000 deep": (with_field("[" * 100_000 + "]" * 100_000), "nested too deeply"),
    "lone surrogate": (with_field('"\\ud800"'), "surrogate"),
    "no run id": (json.dumps({**GOOD, "run": {}}), "run.runId"),
}


def test_bad_events_are_400_with_the_reason_and_never_spooled(tmp_path):
    with endpoint(tmp_path) as (_server, port):
        for name, (body, reason) in BAD_EVENTS.items():
            code, answer = post(port, body.encode())
            assert (code, reason in answer["error"]) == (400, True), (name, code, answer)
        code, _ = post(port, json.dumps(GOOD).encode())
        assert code == 201
    assert len(spooled(tmp_path)) == 1  # only the good event: nothing set aside later


def send_slowly(port: int, data: bytes, every: float, stop_after: float) -> tuple[bool, float]:
    """Drip ``data`` one byte per ``every`` seconds; (whether the server closed the
    connection, seconds until it did)."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        for byte in data:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                return True, time.monotonic() - start
            ready = sock.recv(4096) if _readable(sock, every) else None
            if ready is not None and (ready == b"" or ready.startswith(b"HTTP/1.1 408")):
                return True, time.monotonic() - start
            if time.monotonic() - start > stop_after:
                return False, time.monotonic() - start
    return False, time.monotonic() - start


def _readable(sock: socket.socket, wait: float) -> bool:
    import select

    return bool(select.select([sock], [], [], wait)[0])


def test_slow_headers_and_bodies_are_cut_off_at_their_deadline(tmp_path):
    headers = (f"POST /api/v1/lineage HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
               "Content-Length: 500\r\n\r\n").encode()
    with endpoint(tmp_path, header_timeout=1.0, body_timeout=1.0) as (_server, port):
        results: list[tuple[bool, float]] = []
        clients = [threading.Thread(target=lambda: results.append(send_slowly(port, headers, 0.2, 6))) for _ in range(3)]
        for client in clients:
            client.start()
        for client in clients:
            client.join()
        assert len(results) == 3 and all(closed and took < 3 for closed, took in results), results
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:  # headers at once, 1 byte of 500
            sock.sendall(headers + b"{")
            start = time.monotonic()
            answer = b""
            while chunk := sock.recv(4096):  # until the server closes it
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 408") and time.monotonic() - start < 3


def test_unauthenticated_requests_are_closed_at_once_without_reading_the_body(tmp_path):
    with endpoint(tmp_path, body_timeout=30.0) as (_server, port), \
            socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"POST /api/v1/lineage HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
        start = time.monotonic()
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
        assert data.startswith(b"HTTP/1.1 401") and time.monotonic() - start < 2  # closed, not waiting for the body


def test_connections_beyond_the_limit_get_503_at_once(tmp_path):
    with endpoint(tmp_path, max_connections=3, header_timeout=5.0) as (_server, port):
        held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(3)]
        try:
            for sock in held:
                sock.sendall(b"POST /api/v1/lineage HTTP/1.1\r\n")  # each holds a slot, its headers unfinished
            time.sleep(0.2)
            with socket.create_connection(("127.0.0.1", port), timeout=5) as extra:
                start = time.monotonic()
                answer = extra.recv(4096)
                assert answer.startswith(b"HTTP/1.1 503") and b"Retry-After" in answer
                assert time.monotonic() - start < 2
        finally:
            for sock in held:
                sock.close()
        deadline = time.monotonic() + 5
        while True:  # the slots come back once those connections are gone
            try:
                code, _ = post(port, json.dumps(GOOD).encode())
            except (OSError, http.client.HTTPException):  # refused (503, closed) while a slot was still held
                code = 0
            if code == 201 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert code == 201


def test_a_bug_is_500_not_a_503_retry(tmp_path, monkeypatch):
    import provex.app.lineage_server as ls

    def broken(body: bytes, encoding: str | None) -> dict:
        raise KeyError("a bug")

    monkeypatch.setattr(ls, "decode", broken)
    with endpoint(tmp_path) as (_server, port):
        code, answer = post(port, json.dumps(GOOD).encode())
    assert code == 500 and "not accepted" in answer["error"]
