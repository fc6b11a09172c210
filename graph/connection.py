"""Connecting to Neo4j: settings, the one driver wrapper, and driver-error translation.

With ``NEO4J_URI`` set, provex uses that server (``NEO4J_USERNAME``,
``NEO4J_PASSWORD``, ``NEO4J_DATABASE``). Otherwise it uses the managed local
server (see :mod:`graph.server`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import neo4j  # attributes only (neo4j.exceptions, neo4j.graph): the CLI may defer loading it (app/cli/startup.py)

from provex.store import Store
from provex.vocab.errors import ConnectionFailed, QueryError, TooLarge, UsageError, scrubbed, shown_uri

T = TypeVar("T")
RETRY_FOR = 30.0  # seconds a write transaction is retried after transient failures (as max_transaction_retry_time)
RETRY_FIRST = 1.0  # seconds before the first retry; doubled each time
logging.getLogger("neo4j").addHandler(logging.NullHandler())  # errors reach users as ProvexError


@dataclass(frozen=True)
class Settings:
    uri: str
    username: str
    password: str
    database: str
    managed: bool
    predictions: str | None = None  # the prediction store's root (None: PROVEX_PREDICTIONS, else under PROVEX_HOME)

    @staticmethod
    def from_env() -> Settings:
        """External server when ``NEO4J_URI`` is set, else the managed one."""
        uri = os.environ.get("NEO4J_URI")
        database = os.environ.get("NEO4J_DATABASE", "neo4j")
        if uri:
            return Settings(
                uri=checked_uri(uri),
                username=os.environ.get("NEO4J_USERNAME", "neo4j"),
                password=os.environ.get("NEO4J_PASSWORD", ""),
                database=database,
                managed=False,
            )
        from provex.graph.server import ManagedServer

        server = ManagedServer.from_env()
        return Settings(server.uri, "neo4j", server.password(), database, managed=True)


SCHEMES = ("neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc")
_URI_HINT = ("Write it as neo4j://HOST:7687 or bolt://HOST:7687 (+s / +ssc for TLS); credentials go in "
             "NEO4J_USERNAME / NEO4J_PASSWORD, the database in NEO4J_DATABASE. Or unset it to use the managed server.")


def checked_uri(uri: str) -> str:
    """``NEO4J_URI`` as the driver takes it, or a UsageError saying what is wrong
    with it (the driver raises bare ValueErrors for some malformed URIs)."""
    text = uri.strip()
    shown = shown_uri(text)[:200]
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"NEO4J_URI {shown!r} is not a valid URI ({exc}). {_URI_HINT}") from None
    problem = None
    if parts.scheme.lower() not in SCHEMES:
        problem = f"its scheme {parts.scheme or '(none)'!r} is not one of {', '.join(SCHEMES)}"
    elif not parts.hostname:
        problem = "it names no host"
    elif not _host_ok(parts.hostname):
        problem = f"{parts.hostname[:80]!r} is not a host name"
    elif parts.username is not None or parts.password is not None:
        problem = "it holds credentials"
    elif port == 0:
        problem = "port 0 is not a port"
    elif parts.path not in ("", "/") or parts.fragment:
        problem = "it has a path; the database goes in NEO4J_DATABASE"
    elif parts.query and parts.scheme.lower().startswith("bolt"):
        problem = "a bolt:// URI takes no query (routing context is for neo4j://)"
    if problem:
        raise UsageError(f"NEO4J_URI {shown!r} is not a Neo4j URI: {problem}. {_URI_HINT}")
    return text


def _host_ok(host: str) -> bool:
    """A name DNS can look up (IDNA: labels of 1 to 63 characters), or an IPv6 literal."""
    if any(c.isspace() or not c.isprintable() or c in "%/\\" for c in host):
        return False
    if ":" in host:
        return True
    try:
        host.encode("idna")
    except UnicodeError:
        return False
    return True


@contextlib.contextmanager
def translated(uri: str) -> Iterator[None]:
    """Turn driver exceptions into provex errors that say how to fix them
    (a lost connection included: what was written stays, and every write is
    an idempotent MERGE, so running the same command again is safe). A
    transaction that ran out of Neo4j's transaction memory is a
    :class:`TooLarge`, never a lost connection."""
    uri = shown_uri(uri)
    try:
        yield
    except neo4j.exceptions.AuthError as exc:
        raise ConnectionFailed(
            f"Neo4j at {uri} refused the credentials ({scrubbed(str(exc.message))}). "
            "Fix NEO4J_USERNAME / NEO4J_PASSWORD, or for the managed server check "
            "the password file shown by `provex neo4j status`."
        ) from None
    except (neo4j.exceptions.ServiceUnavailable, neo4j.exceptions.SessionExpired, OSError) as exc:
        raise ConnectionFailed(
            f"Cannot reach Neo4j at {uri} (or the connection was lost): {scrubbed(str(exc))}. Start the managed server with "
            "`provex neo4j start`, or point NEO4J_URI at a running Neo4j 5. Anything already written stays; "
            "running the same command again is safe."
        ) from None
    except neo4j.exceptions.ConfigurationError as exc:
        raise ConnectionFailed(f"Bad Neo4j connection setting for {uri}: {scrubbed(str(exc))}. "
                               "Check NEO4J_URI (credentials go in NEO4J_USERNAME / NEO4J_PASSWORD).") from None
    except neo4j.exceptions.Neo4jError as exc:
        if too_large(exc):
            raise TooLarge(_too_large_message(exc)) from None
        if isinstance(exc, neo4j.exceptions.ClientError):
            raise QueryError(scrubbed(_client_message(exc))) from None
        raise QueryError(scrubbed(f"Neo4j failed the query: {exc.message} ({exc.code}).")) from None


#: Neo4j status codes of a transaction that ran out of memory (its own pool, all transactions', or the heap).
MEMORY_CODES = ("MemoryPoolOutOfMemoryError", "TransactionMemoryLimit", "OutOfMemoryError")


def too_large(exc: BaseException) -> bool:
    """Whether a driver error says the transaction needed more memory than Neo4j allows."""
    code = getattr(exc, "code", None) or ""
    return isinstance(exc, neo4j.exceptions.Neo4jError) and any(code.endswith(c) for c in MEMORY_CODES)


@contextlib.contextmanager
def _not_retried_when_too_large() -> Iterator[None]:
    """Inside a managed transaction's work: running out of transaction memory
    raises :class:`TooLarge` at once (not a driver error, so not retried: the
    driver would run the same transaction again and again for 30 s)."""
    try:
        yield
    except neo4j.exceptions.Neo4jError as exc:
        if too_large(exc):
            raise TooLarge(_too_large_message(exc)) from None
        raise


def _too_large_message(exc: neo4j.exceptions.Neo4jError) -> str:
    return scrubbed(f"Neo4j ran out of transaction memory ({exc.message}; {exc.code}). Raise "
                    "db.memory.transaction.max / db.memory.transaction.total.max in neo4j.conf, or ask for less "
                    "at once (a smaller batch, a LIMIT).")


@contextlib.contextmanager
def _bad_uri(uri: str) -> Iterator[None]:
    """A URI the driver cannot even parse or look up (it raises bare ValueErrors) as a usage error."""
    try:
        yield
    except ValueError as exc:
        raise UsageError(f"NEO4J_URI {shown_uri(uri)[:200]!r} cannot be used: {scrubbed(str(exc))}. {_URI_HINT}") from None


def _client_message(exc: neo4j.exceptions.ClientError) -> str:
    code = exc.code or ""
    if "AccessMode" in code or "ForbiddenDueToTransactionType" in code:
        return "Refused: this is a read-only query interface; writes (CREATE, MERGE, SET, DELETE, ...) are not allowed."
    if "TransactionTimedOut" in code or "TransactionTimedOutClientConfiguration" in code:
        return "The query took longer than its time limit and was stopped; narrow it (LIMIT, a smaller depth)."
    if "Syntax" in code:
        return f"Cypher syntax error: {exc.message}"
    return f"Neo4j rejected the query: {exc.message} ({code})."


class Graph:
    """One driver, one database. Writes go through ``execute_write`` in batches;
    reads through ``execute_read`` and return plain dicts."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._facts: Store | None = None
        try:
            with _bad_uri(settings.uri), translated(settings.uri):
                self._driver = neo4j.GraphDatabase.driver(
                    settings.uri,
                    auth=(settings.username, settings.password),
                    connection_acquisition_timeout=30,
                    max_transaction_retry_time=30,
                    notifications_min_severity="OFF",
                )
        except ValueError as exc:  # the driver's URL parsing, e.g. an authority such as "[::1:...": no traceback
            raise ConnectionFailed(f"Bad NEO4J_URI {shown_uri(settings.uri)}: {scrubbed(str(exc))}. Write it as "
                                   "bolt://host:7687 or neo4j+s://host (credentials go in NEO4J_USERNAME / "
                                   "NEO4J_PASSWORD).") from None

    @classmethod
    def connect(cls, settings: Settings | None = None) -> Graph:
        graph = cls(settings or Settings.from_env())
        graph.verify()
        return graph

    def verify(self) -> str:
        """Check connectivity and credentials; return the server agent string."""
        with _bad_uri(self.settings.uri), translated(self.settings.uri):
            self._driver.verify_connectivity()
            info = self._driver.get_server_info()
            self._driver.verify_authentication()
        return info.agent

    def close(self) -> None:
        self._driver.close()

    @property
    def facts(self) -> Store:
        """The prediction store beside this graph (DESIGN, "Facts beside the graph")."""
        if self._facts is None:
            self._facts = Store(self.settings.predictions)
        return self._facts

    def __enter__(self) -> Graph:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _session(self, **kwargs: Any) -> neo4j.Session:
        return self._driver.session(database=self.settings.database, **kwargs)

    def write(self, query: str, **params: Any) -> None:
        """Run one write query in its own retried transaction."""
        with translated(self.settings.uri):
            self._execute_write(lambda tx: tx.run(query, params).consume())

    def write_returning(self, query: str, **params: Any) -> list[dict[str, Any]]:
        """Run one write query in its own retried transaction; its rows as plain dicts."""
        with translated(self.settings.uri):
            return self._execute_write(lambda tx: [to_plain(dict(r.items())) for r in tx.run(query, params)])

    def write_transaction(self, work: Callable[[Transaction], T]) -> T:
        """``work(tx)`` in one write transaction: all its statements land
        together or not at all. Transient failures (a deadlock, a leader
        switch) are retried, so ``work`` may run more than once."""
        with translated(self.settings.uri):
            return self._execute_write(lambda tx: work(Transaction(tx)))

    def write_rows(self, query: str, rows: Iterable[Mapping[str, Any]], batch_size: int, **params: Any) -> int:
        """``UNWIND $rows ...`` in chunks of ``batch_size``; returns rows written."""
        written = 0
        with translated(self.settings.uri):
            for chunk in _chunks(list(rows), batch_size):
                self._execute_write(lambda tx, c=chunk: tx.run(query, params, rows=c).consume())
                written += len(chunk)
        return written

    def _execute_write(self, work: Callable[[neo4j.Transaction], T]) -> T:
        """``work(tx)`` in a write transaction, committed; retried as the driver's
        ``execute_write`` retries (errors it calls retryable, for up to
        ``RETRY_FOR`` seconds), except running out of transaction memory: that
        is :class:`TooLarge` at once, the same transaction would fail the same
        way (the driver's own loop resends it for 30 s, commit included)."""
        deadline, delay = time.monotonic() + RETRY_FOR, RETRY_FIRST
        while True:
            try:
                with self._session() as session, session.begin_transaction() as tx, _not_retried_when_too_large():
                    result = work(tx)
                    tx.commit()
                return result
            except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError) as exc:
                if not exc.is_retryable() or time.monotonic() + delay > deadline:
                    raise
            time.sleep(delay * random.uniform(0.8, 1.2))  # noqa: S311 - jitter, not security
            delay *= 2

    def read(
        self,
        query: str,
        params: Mapping[str, Any] | None = None,
        *,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> list[dict[str, Any]]:
        """Rows as plain dicts in a read transaction; at most ``limit`` rows."""
        return self.read_bounded(query, params, limit=limit, timeout=timeout)[0]

    def read_bounded(
        self,
        query: str,
        params: Mapping[str, Any] | None = None,
        *,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> tuple[list[dict[str, Any]], bool]:
        """Like :meth:`read`, plus whether rows were left out by ``limit``.

        With a ``timeout`` the query runs once, in an explicit transaction the
        server stops at the time limit: a managed transaction would retry a
        stopped query as a transient error and run for up to 30 s more."""

        def work(tx: neo4j.ManagedTransaction | neo4j.Transaction) -> tuple[list[dict[str, Any]], bool]:
            with _not_retried_when_too_large():
                result = tx.run(query, params or {})
                records = result.fetch(limit + 1) if limit is not None else list(result)
            truncated = limit is not None and len(records) > limit
            return [to_plain(dict(r.items())) for r in records[:limit]], truncated

        with translated(self.settings.uri), self._session(default_access_mode=neo4j.READ_ACCESS) as session:
            if timeout is None:
                return session.execute_read(work)
            with session.begin_transaction(timeout=timeout) as tx:
                return work(tx)

    def query_type(self, query: str, params: Mapping[str, Any] | None = None,
                   timeout: float | None = None) -> tuple[str, list[str]]:
        """EXPLAIN a query: its type (``r``, ``rw``, ``w``, ``s``) and plan operators."""

        @neo4j.unit_of_work(timeout=timeout)
        def work(tx: neo4j.ManagedTransaction) -> tuple[str, list[str]]:
            summary = tx.run("EXPLAIN " + query, params or {}).consume()
            return summary.query_type or "", _operators(summary.plan or {})

        with translated(self.settings.uri), self._session(default_access_mode=neo4j.READ_ACCESS) as session:
            return session.execute_read(work)


class Transaction:
    """One open write transaction, as :meth:`Graph.write_transaction` hands it over."""

    def __init__(self, tx: neo4j.ManagedTransaction | neo4j.Transaction) -> None:
        self._tx = tx

    def run(self, query: str, **params: Any) -> list[dict[str, Any]]:
        """Run one statement; its rows as plain dicts. Running out of transaction
        memory raises :class:`TooLarge` at once: the driver would send the same
        transaction again and again (it is a transient error) for 30 s."""
        with _not_retried_when_too_large():
            return [to_plain(dict(r.items())) for r in self._tx.run(query, params)]


def _operators(plan: Mapping[str, Any]) -> list[str]:
    ops = [str(plan.get("operatorType", ""))]
    for child in plan.get("children", []):
        ops.extend(_operators(child))
    return ops


def _chunks(rows: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(rows), max(1, size)):
        yield rows[start : start + size]


def to_plain(value: Any) -> Any:
    """Driver values to JSON-friendly Python: nodes and relationships to dicts."""
    if isinstance(value, neo4j.graph.Node):
        return {"_labels": sorted(value.labels), **{k: to_plain(v) for k, v in value.items()}}
    if isinstance(value, neo4j.graph.Relationship):
        return {
            "_type": value.type,
            "_start": value.start_node.get("uid") if value.start_node else None,
            "_end": value.end_node.get("uid") if value.end_node else None,
            **{k: to_plain(v) for k, v in value.items()},
        }
    if isinstance(value, neo4j.graph.Path):
        return {"_nodes": [to_plain(n) for n in value.nodes], "_relationships": [to_plain(r) for r in value.relationships]}
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if hasattr(value, "iso_format"):
        return value.iso_format()
    return value
