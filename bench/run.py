"""Measure provex on synthetic data at scale: `make bench` (or python -m bench.run).

Uses its own managed Neo4j under .work/bench-home on a free port (never the
user's graph), unless NEO4J_URI is set — then that database is cleared.
Prints a Markdown table and writes bench/out/results.json. Numbers, not
asserts: see bench/REPORT.md for what they mean.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.synthetic import story
from provex.graph import lineage, schema, search
from provex.graph.connection import Graph, Settings
from provex.graph.server import ManagedServer, free_port
from provex.graph.writer import Writer

OUT = Path(__file__).with_name("out")


def timed(fn: Callable[[], object], repeat: int = 1) -> float:
    """Median wall time in seconds over ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def write_story(graph: Graph, versions: int, per_version: int, batch: int, run: str) -> int:
    with Writer(graph, run, batch) as writer:
        writer.add_all(story(versions, per_version))
    return sum(writer.counts.values())


def bench_writes(graph: Graph, sizes: list[int], batches: list[int]) -> list[dict]:
    rows = []
    for per_version in sizes:
        for batch in batches:
            schema.clear(graph)
            records = 0

            def first() -> None:
                nonlocal records
                records = write_story(graph, 10, per_version, batch, "bench-1")

            cold = timed(first)
            again = timed(lambda: write_story(graph, 10, per_version, batch, "bench-2"))
            rows.append({"records": records, "batch": batch, "first_s": round(cold, 2), "rewrite_s": round(again, 2),
                         "records_per_s": round(records / cold)})
            print(rows[-1], flush=True)
    return rows


def bench_reads(graph: Graph) -> list[dict]:
    probes = {
        "lineage up from a prediction (depth 8)":
            lambda: lineage.traverse(graph, "prediction:bench-5-17", direction="up", depth=8),
        "lineage down from a raw data version (depth 8, cap 500)":
            lambda: lineage.traverse(graph, f"data:data/step3.csv@{5:08x}{3:024x}", direction="down", depth=8),
        "search by hash prefix": lambda: search.search(graph, f"{5:08x}"),
        "search by prediction id": lambda: search.search(graph, "bench-5-17"),
        "count predictions of one version": lambda: graph.read(
            "MATCH (:ModelVersion {uid: 'model:bench-model@5'})<-[:PREDICTED_BY]-(p:Prediction) RETURN count(p)"),
    }
    rows = []
    for name, probe in probes.items():
        probe()  # warm caches and plans
        rows.append({"probe": name, "median_ms": round(timed(probe, repeat=5) * 1000, 1)})
        print(rows[-1], flush=True)
    return rows


@contextmanager
def connected() -> Iterator[Graph]:
    """The bench's graph (see :func:`connect`), closed and its server stopped at the end."""
    graph, server = connect()
    try:
        yield graph
    finally:
        graph.close()
        if server is not None:
            server.stop()


def env_for(graph: Graph) -> dict[str, str]:
    """The environment that points a provex process at the bench's Neo4j."""
    s = graph.settings
    return {**os.environ, "NEO4J_URI": s.uri, "NEO4J_USERNAME": s.username, "NEO4J_PASSWORD": s.password,
            "NEO4J_DATABASE": s.database}


@contextmanager
def shared() -> Iterator[dict[str, str]]:
    """The environment that points child processes at the bench's graph (see
    :func:`connected`: a server started here is stopped when the block ends)."""
    with connected() as graph:
        yield env_for(graph)


def connect() -> tuple[Graph, ManagedServer | None]:
    """The bench's graph, and beside it its own prediction store (never the user's)."""
    os.environ.setdefault("PROVEX_PREDICTIONS", str(Path(".work/bench-home/predictions").resolve()))
    if os.environ.get("NEO4J_URI"):
        return Graph.connect(Settings.from_env()), None
    server = ManagedServer(Path(".work/bench-home/neo4j").resolve(), ManagedServer.from_env().cache, free_port())
    status = server.start(pick_free=True)
    return Graph.connect(Settings(status.uri, "neo4j", server.password(), "neo4j", True)), server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000", help="predictions per model version (10 versions)")
    parser.add_argument("--batches", default="500,2000,10000", help="writer batch sizes to compare")
    args = parser.parse_args()
    graph, server = connect()
    try:
        schema.apply(graph)
        writes = bench_writes(graph, [int(s) for s in args.sizes.split(",")], [int(b) for b in args.batches.split(",")])
        reads = bench_reads(graph)
    finally:
        graph.close()
        if server:
            server.stop()
    OUT.mkdir(exist_ok=True)
    (OUT / "results.json").write_text(json.dumps({"writes": writes, "reads": reads}, indent=2))
    print("\n| records | batch | first write s | rewrite s | records/s |\n|---|---|---|---|---|")
    for r in writes:
        print(f"| {r['records']:,} | {r['batch']:,} | {r['first_s']} | {r['rewrite_s']} | {r['records_per_s']:,} |")
    print("\n| read | median ms |\n|---|---|")
    for r in reads:
        print(f"| {r['probe']} | {r['median_ms']} |")


if __name__ == "__main__":
    main()
