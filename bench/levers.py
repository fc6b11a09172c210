"""What each lever on the prediction write path is worth, measured.

    python -m bench.levers --count 100000 --repeat 3

Every variant ingests the same generated log end to end (provex.graph.pipeline,
as the CLI does: schema, adapter, writer, links, group counts, search refresh)
into an emptied graph, in a fresh process, alternating variants; medians. All
of them write to one Neo4j, warmed up by an unmeasured ingest first: with a
freshly started server per variant, the JIT's warm-up favoured a few large
statements (10,000 rows: 1.3x the default cold, slower than it warm).
The variants switch one thing at a time, from the writer before issue 17
(MERGE for every node and edge, written in the reading thread) to the one
provex uses, and a few it does not (why not is in docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

VARIANTS = {
    "merge-all": "MERGE every node and edge, written in the reading thread (before)",
    "create-new": "CREATE new nodes with their edges in one statement, MERGE the rest",
    "create-new+thread": "... and a writing thread beside the parser (provex's default)",
    "batch-500": "... with 500 rows per transaction (default 2,000)",
    "batch-10000": "... with 10,000 rows per transaction",
    "no-edge-stamps": "... without the stamps on created edges (not taken: see the report)",
    "two-threads": "... with two flushes in flight at once (parallel transactions)",
    "no-rust-ext": "... with the driver's pure-Python packing (neo4j-rust-ext blocked)",
    "lean-prediction": "... with a lean prediction: no duplicate properties, the inputs as one, bare created edges "
                       "(not taken: see the report)",
    "ids-only": "... with predictions that hold nothing but their uid, and no stamps on any created node or edge "
                "(a floor, not a graph anyone could use)",
}
#: What the lean prediction leaves out: each repeats the uid, the timestamp or the PREDICTED_BY edge.
LEAN_DROPPED = ("prediction_id", "hour", "model_name", "model_version")


def run_variant(name: str, log: Path) -> dict[str, Any]:
    """In this process: one ingest of ``log`` with the variant's writer."""
    if name == "no-rust-ext":
        sys.modules["neo4j._rust"] = None  # type: ignore[assignment]  # the driver falls back to Python packing
    from bench.run import connected
    from provex.graph import pipeline, schema
    from provex.ingest.predictions import PredictionLogSource

    pipeline.Writer = _writer_class(name)
    with connected() as graph:
        schema.clear(graph)
        source = PredictionLogSource(str(log))
        batch = {"batch-500": 500, "batch-10000": 10_000}.get(name, 2_000)
        start, cpu = time.perf_counter(), time.process_time()
        summary = pipeline.ingest(graph, kind="predictions", uri=source.uri, read=source.read, batch_size=batch)
        seconds, cpu_s = time.perf_counter() - start, time.process_time() - cpu
        edges = graph.read("MATCH ()-[e]->() RETURN count(e) AS c")[0]["c"]
    return {"variant": name, "seconds": seconds, "client_cpu_s": cpu_s, "records": sum(summary.counts.values()),
            "edges_in_graph": edges}


def _writer_class(name: str) -> type:
    from provex.graph.statements import STAMP_CREATED
    from provex.graph.writer import Writer
    from provex.vocab.records import Node

    options = {"background": name not in ("merge-all", "create-new"), "in_flight": 2 if name == "two-threads" else 1}

    class Variant(Writer):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **{**kwargs, **options})

        def _absent(self, tx: Any, label: str, rows: list[dict[str, Any]]) -> set[str]:
            return set() if name == "merge-all" else super()._absent(tx, label, rows)

        def add(self, record: Any) -> Any:
            if name in ("lean-prediction", "ids-only") and isinstance(record, Node) and record.ref.label == "Prediction":
                record = _lean(record) if name == "lean-prediction" else dataclasses.replace(record, props={})
            return super().add(record)

        def _send(self, tx: Any, query: str, rows: list[Any]) -> None:
            if name == "no-edge-stamps":  # one property on a created edge instead of five
                for row in ("x", "r"):
                    query = query.replace(STAMP_CREATED.format(v="e", r=row), "e.last_ingest = $run")
            if name in ("lean-prediction", "ids-only"):  # no property at all on a created edge
                for row in ("x", "r"):
                    query = query.replace(", " + STAMP_CREATED.format(v="e", r=row), "")
            if name == "ids-only":  # nor on a created node
                query = query.replace(", n.placeholder = false, " + STAMP_CREATED.format(v="n", r="r"), "")
            super()._send(tx, query, rows)

    return Variant


def _lean(node: Any) -> Any:
    """The prediction with LEAN_DROPPED left out and its ``input.*`` as one JSON property."""
    props = {k: v for k, v in node.props.items() if k not in LEAN_DROPPED and not k.startswith("input.")}
    props["inputs"] = json.dumps({k[6:]: v for k, v in node.props.items() if k.startswith("input.")}, sort_keys=True)
    return dataclasses.replace(node, props=props)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="predictions in the generated log")
    parser.add_argument("--repeat", type=int, default=3, help="runs per variant, alternating")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated, of: " + ", ".join(VARIANTS))
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run this variant here
    args = parser.parse_args()
    from bench.predlog import generate

    log = generate(Path(".work/bench-cache") / f"pred-{args.count}.jsonl", args.count)
    if args.one:
        print(json.dumps(run_variant(args.one, log)))
        return
    names = args.variants.split(",")
    results: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    from bench.run import shared

    with shared() as env:  # one server for every variant, warmed up first, as a long-running one is
        _variant(args.count, "create-new+thread", env)  # the warm-up: not counted
        for _ in range(args.repeat):
            for name in names:
                results[name].append(_variant(args.count, name, env))
                print(json.dumps(results[name][-1]), flush=True)
    from bench.report import save_section

    save_section("levers", f"The write path, lever by lever ({args.count:,} predictions)", markdown(results, args.count),
                 results)


def _variant(count: int, name: str, env: dict[str, str]) -> dict[str, Any]:
    """One variant's ingest in a fresh process."""
    done = subprocess.run([sys.executable, "-m", "bench.levers", "--count", str(count), "--one", name],
                          capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"variant {name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def markdown(results: dict[str, list[dict[str, Any]]], count: int) -> str:
    base = statistics.median(r["seconds"] for r in next(iter(results.values())))
    runs = len(next(iter(results.values())))
    lines = [f"The same {count:,}-line log, each variant in a fresh process, into an emptied graph on one Neo4j "
             f"warmed up by an unmeasured ingest first (as a long-running server is), variants alternated; median of "
             f"{runs} run(s) each.",
             "", "| variant | wall s (median) | predictions/s | client CPU s | vs the first row | edges in graph |",
             "|---|---|---|---|---|---|"]
    for name, runs in results.items():
        secs = statistics.median(r["seconds"] for r in runs)
        cpu = statistics.median(r["client_cpu_s"] for r in runs)
        lines.append(f"| {VARIANTS[name]} | {secs:.1f} | {count / secs:,.0f} | {cpu:.1f} | {base / secs:.2f}x | "
                     f"{runs[0]['edges_in_graph']:,} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
