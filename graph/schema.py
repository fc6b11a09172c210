"""Schema setup: uniqueness constraints, lookup indexes, the full-text index.

Every statement is ``IF NOT EXISTS``, so applying it before every ingest is
harmless and cheap. ``IF NOT EXISTS`` alone is not safe against a concurrent
apply (two ingests on a fresh database, or a writer provex does not manage):
the loser of the race fails with ``EquivalentSchemaRuleAlreadyExists``. Each
statement is then run again, when ``IF NOT EXISTS`` sees the winner's rule.
"""

from __future__ import annotations

from provex.graph.connection import Graph
from provex.vocab.errors import QueryError, TooLarge
from provex.vocab.model import BASE_LABEL, KINDS

FULLTEXT_INDEX = "provex_search"
#: What fuzzy search looks in: ids from logs (prediction, subject, household,
#: input hash, feature pipeline), names, paths, hashes, commit shas and messages.
FULLTEXT_PROPS = ("uid", "name", "path", "hash", "sha", "title", "message", "prediction_id", "subject_id",
                  "household_id", "input_hash", "feature_pipeline", "run_id", "model_id", "stage", "rule")


def statements() -> list[str]:
    """All schema statements, in order."""
    stmts = [_unique(BASE_LABEL)]
    for kind in KINDS.values():
        stmts.append(_unique(kind.label))
        stmts.extend(_index(kind.label, prop) for prop in kind.lookup)
    stmts.append(_index(BASE_LABEL, "placeholder"))
    props = ", ".join(f"n.{p}" for p in FULLTEXT_PROPS)
    stmts.append(
        f"CREATE FULLTEXT INDEX {FULLTEXT_INDEX} IF NOT EXISTS FOR (n:{BASE_LABEL}) ON EACH [{props}] "
        "OPTIONS {indexConfig: {`fulltext.analyzer`: 'standard-no-stop-words', "
        "`fulltext.eventually_consistent`: true}}"
    )
    stmts.append("CREATE INDEX rel_alias IF NOT EXISTS FOR ()-[e:HAS_ALIAS]-() ON (e.alias)")
    return stmts


def _unique(label: str) -> str:
    return f"CREATE CONSTRAINT {label.lower()}_uid IF NOT EXISTS FOR (n:{label}) REQUIRE n.uid IS UNIQUE"


def _index(label: str, prop: str) -> str:
    return f"CREATE INDEX {label.lower()}_{prop} IF NOT EXISTS FOR (n:{label}) ON (n.{prop})"


def apply(graph: Graph) -> None:
    """Create what is missing and wait until every index is online. A
    full-text index over other properties (an older provex) is rebuilt."""
    rows = graph.read("SHOW FULLTEXT INDEXES YIELD name, properties WHERE name = $name RETURN properties",
                      {"name": FULLTEXT_INDEX})
    if rows and sorted(rows[0]["properties"]) != sorted(FULLTEXT_PROPS):
        graph.write(f"DROP INDEX {FULLTEXT_INDEX} IF EXISTS")
    for stmt in statements():
        apply_statement(graph, stmt)
    graph.write("CALL db.awaitIndexes(300)")
    refresh_search(graph)


def apply_statement(graph: Graph, stmt: str, attempts: int = 3) -> None:
    """One ``IF NOT EXISTS`` schema statement, safe against a concurrent apply of
    the same rule: an ``...AlreadyExists`` refusal is retried (and is then a no-op)."""
    for attempt in range(1, attempts + 1):
        try:
            graph.write(stmt)
            return
        except QueryError as exc:
            if "AlreadyExists" not in str(exc) or attempt == attempts:
                raise


def refresh_search(graph: Graph) -> None:
    """The full-text index is eventually consistent (a synchronous one made bulk
    writes about 2x slower, more under load: bench/REPORT.md); wait until it
    has caught up."""
    graph.write("CALL db.index.fulltext.awaitEventuallyConsistentIndexRefresh()")


def clear(graph: Graph, batch_size: int = 10_000) -> None:
    """Delete every edge, then every node, in batches (tests, `provex reset`);
    keeps the schema. Edges first: a node with a million edges (a model
    version's predictions) deleted with them would be one transaction far
    past the server's transaction memory. A batch still past it (nodes with
    huge properties) is retried ten times smaller, down to one. The
    prediction store beside the graph is emptied too."""
    graph.facts.clear()
    size = batch_size
    while True:
        try:
            while graph.write_returning("MATCH ()-[e]->() WITH e LIMIT $size DELETE e RETURN count(*) AS c",
                                        size=size * 2)[0]["c"]:
                pass
            while graph.read("MATCH (n) RETURN count(n) > 0 AS any")[0]["any"]:
                graph.write("MATCH (n) WITH n LIMIT $size DETACH DELETE n", size=size)
            return
        except TooLarge:
            if size == 1:
                raise
            size = max(1, size // 10)
