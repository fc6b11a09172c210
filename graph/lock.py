"""One ingest at a time: a lock per database, kept in the graph itself.

The lock is one ``IngestLock`` node (not a ``Node``: it is machinery, not
provenance) holding the current holder's token, owner, host, pid, command and
a heartbeat in the server's clock (``timestamp()``, so hosts with skewed
clocks agree). Taking it is one write transaction that first write-locks the
node, so two ingests racing for it are serialised by Neo4j: exactly one wins.

A holder refreshes its heartbeat from a background thread. A lock whose
heartbeat is older than ``stale_after`` seconds (its holder was killed, or
lost the network) is taken over, and the takeover is recorded on the node
(``takeovers``, ``last_takeover_at``, ``last_takeover_from``). A holder on
this same host whose pid is gone is taken over at once.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from provex.graph import schema
from provex.graph.connection import Graph
from provex.vocab.errors import LockHeld, ProvexError

LABEL = "IngestLock"
STALE_AFTER = 120.0  # seconds without a heartbeat before a lock is taken over
POLL = 0.5  # seconds between attempts while waiting
CONSTRAINT = f"CREATE CONSTRAINT ingest_lock_name IF NOT EXISTS FOR (l:{LABEL}) REQUIRE l.name IS UNIQUE"

ACQUIRE = f"""
MERGE (l:{LABEL} {{name: $name}})
SET l._probe = true
WITH l, timestamp() AS now
WITH l, now, l {{.token, .owner, .host, .pid, .command, .acquired_at, .heartbeat}} AS before,
     CASE WHEN l.token IS NULL OR l.token = $token THEN 'free'
          WHEN l.token = $takeover OR now - l.heartbeat > $stale_ms THEN 'stale'
          ELSE 'held' END AS state
REMOVE l._probe
FOREACH (_ IN CASE WHEN state <> 'held' THEN [1] ELSE [] END |
  SET l.token = $token, l.owner = $owner, l.host = $host, l.pid = $pid, l.command = $command,
      l.acquired_at = now, l.heartbeat = now)
FOREACH (_ IN CASE WHEN state = 'stale' THEN [1] ELSE [] END |
  SET l.takeovers = coalesce(l.takeovers, 0) + 1, l.last_takeover_at = now,
      l.last_takeover_from = before.owner + '@' + before.host + ' pid ' + toString(before.pid),
      l.last_takeover_by = $owner + '@' + $host + ' pid ' + toString($pid))
RETURN state, before, now
"""
HEARTBEAT = f"MATCH (l:{LABEL} {{name: $name}}) WHERE l.token = $token SET l.heartbeat = timestamp() RETURN count(l) AS n"
RELEASE = f"""
MATCH (l:{LABEL} {{name: $name}}) WHERE l.token = $token
SET l.released_at = timestamp(), l.last_owner = l.owner + '@' + l.host + ' pid ' + toString(l.pid)
REMOVE l.token, l.owner, l.host, l.pid, l.command, l.acquired_at, l.heartbeat
RETURN count(l) AS n
"""
STATE = f"MATCH (l:{LABEL}) RETURN l {{.*}} AS lock, timestamp() AS now ORDER BY l.name"


@dataclass(frozen=True)
class Holder:
    """Who holds (or held) the lock, as read at ``now`` (server milliseconds)."""

    token: str | None
    owner: str | None
    host: str | None
    pid: int | None
    command: str | None
    acquired_at: int | None
    heartbeat: int | None
    now: int

    @classmethod
    def from_row(cls, before: dict[str, Any], now: int) -> Holder:
        return cls(before.get("token"), before.get("owner"), before.get("host"), before.get("pid"),
                   before.get("command"), before.get("acquired_at"), before.get("heartbeat"), now)

    def describe(self) -> str:
        since = datetime.fromtimestamp((self.acquired_at or 0) / 1000, UTC).isoformat(timespec="seconds")
        age = max(0.0, (self.now - (self.heartbeat or self.now)) / 1000)
        return (f"{self.owner}@{self.host} pid {self.pid} ({self.command or 'provex'}), "
                f"holding it since {since}, last heartbeat {age:.0f}s ago")

    def gone(self) -> bool:
        """The holder ran on this host and its process no longer exists."""
        if self.host != socket.gethostname() or not isinstance(self.pid, int) or self.pid <= 0:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False
        return False


def _whoami() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


class IngestLock:
    """``with IngestLock(graph, wait=30): ...``: hold the database's ingest lock.

    ``wait``: seconds to keep trying while another ingest holds it (0: fail at
    once), then :class:`LockHeld` (exit code 3) naming the holder.
    ``notify`` is told (a line of text) when this lock waits or takes over.
    """

    def __init__(self, graph: Graph, *, command: str = "", wait: float = 0.0, stale_after: float | None = None,
                 name: str = "ingest", notify: Callable[[str], None] | None = None) -> None:
        self.graph = graph
        self.name = name
        self.wait = max(0.0, wait)
        self.stale_after = stale_after if stale_after is not None else float(
            os.environ.get("PROVEX_LOCK_STALE", STALE_AFTER))
        self.command = command or " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv))[:200]
        self.notify = notify or (lambda _line: None)
        self.token = uuid.uuid4().hex
        self.takeover: Holder | None = None  # the stale holder this lock replaced
        self.lost = False  # another process took the lock over while we held it
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def __enter__(self) -> IngestLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def acquire(self) -> None:
        schema.apply_statement(self.graph, CONSTRAINT)
        deadline = time.monotonic() + self.wait
        told = False
        while True:
            state, holder = self._try()
            if state == "held" and holder.gone():
                self.notify(f"the ingest lock holder {holder.describe()} is gone; taking the lock over")
                state, holder = self._try(takeover=holder.token)
            if state != "held":
                break
            if time.monotonic() >= deadline:
                raise LockHeld(f"Another ingest holds the lock on this database: {holder.describe()}. "
                               f"Wait for it to finish, retry with --wait SECONDS, or, if that process is "
                               f"gone, the lock is taken over {self.stale_after:g}s after its last heartbeat.")
            if not told:
                self.notify(f"waiting up to {self.wait:g}s for the ingest lock, held by {holder.describe()}")
                told = True
            time.sleep(min(POLL, max(0.0, deadline - time.monotonic())))
        if state == "stale":
            self.takeover = holder
            self.notify(f"took over a stale ingest lock from {holder.describe()}")
        self._start_heartbeat()

    def _try(self, takeover: str | None = None) -> tuple[str, Holder]:
        row = self.graph.write_returning(
            ACQUIRE, name=self.name, token=self.token, takeover=takeover, stale_ms=int(self.stale_after * 1000),
            owner=_whoami(), host=socket.gethostname(), pid=os.getpid(), command=self.command)[0]
        return row["state"], Holder.from_row(row["before"], row["now"])

    def _start_heartbeat(self) -> None:
        interval = max(0.2, self.stale_after / 4)

        def beat() -> None:
            while not self._stop.wait(interval):
                with contextlib.suppress(ProvexError):
                    if self.graph.write_returning(HEARTBEAT, name=self.name, token=self.token)[0]["n"] == 0:
                        self.lost = True
                        return

        self._stop.clear()
        self._beat = threading.Thread(target=beat, name="provex-lock-heartbeat", daemon=True)
        self._beat.start()

    def release(self) -> None:
        """Give the lock back (only if this lock still holds it)."""
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=10)
            self._beat = None
        with contextlib.suppress(ProvexError):
            self.graph.write_returning(RELEASE, name=self.name, token=self.token)


def state(graph: Graph) -> list[dict[str, Any]]:
    """Every lock node: its holder (if any), heartbeat age in seconds, takeovers."""
    rows = graph.read(STATE)
    out = []
    for row in rows:
        lock = {k: v for k, v in row["lock"].items() if k != "token"}
        lock["held"] = row["lock"].get("token") is not None
        beat = lock.get("heartbeat")
        lock["heartbeat_age_s"] = round((row["now"] - beat) / 1000, 1) if beat is not None else None
        out.append(lock)
    return out
