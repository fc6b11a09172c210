"""Connecting to Neo4j: settings, the one driver wrapper, and driver-error translation.

With ``NEO4J_URI`` set, provex uses that server (``NEO4J_USERNAME``,
``NEO4J_PASSWORD``, ``NEO4J_DATABASE``). Otherwise it uses the managed local
server (see :mod:`graph.server`).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import neo4j  # attributes only (neo4j.exceptions, neo4j.graph): the CLI may defer loading it (app/cli/startup.py)

from provex.vocab.errors import ConnectionFailed, QueryError, scrubbed, shown_uri

T = TypeVar("T")
logging.getLogger("neo4j").addHandler(logging.NullHandler())  # errors reach users as ProvexError


@dataclass(frozen=True)
class Settings:
    uri: str
    username: str
    password: str
    database: str
    managed: bool

    @staticmethod
    def from_env() -> Settings:
        """External server when ``NEO4J_URI`` is set, else the managed one."""
        uri = os.environ.get("NEO4J_URI")
        database = os.environ.get("NEO4J_DATABASE", "neo4j")
        if uri:
            return Settings(
                uri=uri,
                username=os.environ.get("NEO4J_USERNAME", "neo4j"),
                password=os.environ.get("NEO4J_PASSWORD", ""),
                database=database,
                managed=False,
            )
        from provex.graph.server import ManagedServer

        server = ManagedServer.from_env()
        return Settings(server.uri, "neo4j", server.password(), database, managed=True)


@contextlib.contextmanager
def translated(uri: str) -> Iterator[None]:
    """Turn driver exceptions into provex errors that say how to fix them
    (a lost connection included: what was written stays, and every write is
    an idempotent MERGE, so running the same command again is safe)."""
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
    except neo4j.exceptions.ClientError as exc:
        raise QueryError(scrubbed(_client_message(exc))) from None
    except neo4j.exceptions.Neo4jError as exc:
        raise QueryError(scrubbed(f"Neo4j failed the query: {exc.message} ({exc.code}).")) from None


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
        try:
            with translated(settings.uri):
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
        with translated(self.settings.uri):
            self._driver.verify_connectivity()
            info = self._driver.get_server_info()
            self._driver.verify_authentication()
        return info.agent

    def close(self) -> None:
        self._driver.close()

    def __enter__(self) -> Graph:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _session(self, **kwargs: Any) -> neo4j.Session:
        return self._driver.session(database=self.settings.database, **kwargs)

    def write(self, query: str, **params: Any) -> None:
        """Run one write query in its own managed (retried) transaction."""
        with translated(self.settings.uri), self._session() as session:
            session.execute_write(lambda tx: tx.run(query, params).consume())

    def write_returning(self, query: str, **params: Any) -> list[dict[str, Any]]:
        """Run one write query in its own managed (retried) transaction; its rows as plain dicts."""

        def work(tx: neo4j.ManagedTransaction) -> list[dict[str, Any]]:
            return [to_plain(dict(r.items())) for r in tx.run(query, params)]

        with translated(self.settings.uri), self._session() as session:
            return session.execute_write(work)

    def write_transaction(self, work: Callable[[Transaction], T]) -> T:
        """``work(tx)`` in one managed write transaction: all its statements land
        together or not at all. The driver retries transient failures (a
        deadlock, a leader switch), so ``work`` may run more than once."""
        with translated(self.settings.uri), self._session() as session:
            return session.execute_write(lambda tx: work(Transaction(tx)))

    def write_rows(self, query: str, rows: Iterable[Mapping[str, Any]], batch_size: int, **params: Any) -> int:
        """``UNWIND $rows ...`` in chunks of ``batch_size``; returns rows written."""
        written = 0
        with translated(self.settings.uri), self._session() as session:
            for chunk in _chunks(list(rows), batch_size):
                session.execute_write(lambda tx, c=chunk: tx.run(query, params, rows=c).consume())
                written += len(chunk)
        return written

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

    def __init__(self, tx: neo4j.ManagedTransaction) -> None:
        self._tx = tx

    def run(self, query: str, **params: Any) -> list[dict[str, Any]]:
        """Run one statement; its rows as plain dicts."""
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
