"""Why the search index is eventually consistent: write the same 50,000
prediction nodes with a synchronous and with an eventually consistent
full-text index, and time both (python -m bench.fulltext).

Uses its own managed Neo4j under .work/bench-home (or NEO4J_URI, cleared)."""

from __future__ import annotations

import time

from bench.run import connect
from provex.graph import schema
from provex.graph.connection import Graph
from provex.graph.writer import Writer
from provex.vocab import model
from provex.vocab.records import Node

COUNT = 50_000
INDEX = (
    "CREATE FULLTEXT INDEX provex_search IF NOT EXISTS FOR (n:Node) ON EACH [{props}] "
    "OPTIONS {{indexConfig: {{`fulltext.analyzer`: 'standard-no-stop-words', "
    "`fulltext.eventually_consistent`: {eventual}}}}}"
)


def write_nodes(graph: Graph) -> float:
    records = (Node(model.prediction(f"p{i}"), {"prediction_id": f"p{i}", "output": 1.0}, "bench")
               for i in range(COUNT))
    start = time.perf_counter()
    with Writer(graph, "bench", 2_000) as writer:
        writer.add_all(records)
    schema.refresh_search(graph)
    return time.perf_counter() - start


def main() -> None:
    graph, server = connect()
    props = ", ".join(f"n.{p}" for p in schema.FULLTEXT_PROPS)
    try:
        schema.apply(graph)
        for eventual in ("false", "true"):
            schema.clear(graph)
            graph.write(f"DROP INDEX {schema.FULLTEXT_INDEX} IF EXISTS")
            graph.write(INDEX.format(props=props, eventual=eventual))
            graph.write("CALL db.awaitIndexes(300)")
            print(f"eventually_consistent={eventual}: {COUNT:,} nodes in {write_nodes(graph):.1f} s", flush=True)
    finally:
        schema.clear(graph)
        graph.write(f"DROP INDEX {schema.FULLTEXT_INDEX} IF EXISTS")
        schema.apply(graph)
        graph.close()
        if server:
            server.stop()


if __name__ == "__main__":
    main()
