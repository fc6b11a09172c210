"""Baseline (b): Neo4j's own bulk loader on the same graph.

:func:`write_csv` turns the records provex's predictions adapter reads from a
log into the CSV files ``neo4j-admin database import full`` takes: the same
nodes (with the same properties and the writer's stamps, placeholders for
edge targets the log only names) and the same edges. :func:`import_seconds`
runs the import with the managed server's own jars (JVM start included) into
a fresh home; :func:`index_seconds` then starts that server and times
provex's schema (constraints, lookup and full-text indexes) coming online,
which an import does not build and an ingest pays as it goes.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from provex.graph import schema
from provex.graph.connection import Graph, Settings
from provex.graph.server import ADMIN_CLASS, ManagedServer, free_port
from provex.graph.writer import plain_props
from provex.vocab.model import BASE_LABEL
from provex.vocab.records import Edge, Node

STAMPS = {"first_seen": "now", "first_ingest": "run", "last_seen": "now", "last_ingest": "run"}


def _type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "long"
    if isinstance(value, float):
        return "double"
    if isinstance(value, list):
        return "string[]"
    return "string"


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(map(str, value))
    return value


class _Table:
    """One CSV file: the header from the first row (the generated log is uniform)."""

    def __init__(self, path: Path, fixed: list[str], first: dict[str, Any]) -> None:
        self.keys = list(first)
        self.path = path
        self.handle = path.open("w", newline="", encoding="utf-8")
        self.out = csv.writer(self.handle)
        self.out.writerow(fixed + [f"{k}:{_type(v)}" for k, v in first.items()])

    def add(self, fixed: list[Any], props: dict[str, Any]) -> None:
        extra = set(props) - set(self.keys)
        if extra:
            raise ValueError(f"{self.path.name}: a row has properties the first row had not: {sorted(extra)[:5]}")
        self.out.writerow(fixed + [_cell(props.get(k)) for k in self.keys])


def write_csv(records: Iterable[Any], folder: Path, run: str, now: str) -> list[str]:
    """CSV files for the records; returns the ``--nodes=``/``--relationships=`` arguments."""
    folder.mkdir(parents=True, exist_ok=True)
    tables: dict[str, _Table] = {}
    nodes: set[str] = set()
    targets: dict[str, str] = {}
    stamp = {k: (now if v == "now" else run) for k, v in STAMPS.items()}

    def table(name: str, fixed: list[str], first: dict[str, Any]) -> _Table:
        if name not in tables:
            tables[name] = _Table(folder / f"{name}.csv", fixed, first)
        return tables[name]

    for rec in records:
        if isinstance(rec, Node) and rec.ref.uid not in nodes:
            nodes.add(rec.ref.uid)
            props = {**plain_props(rec.props), "placeholder": False, **stamp, "sources": [rec.source]}
            table(f"nodes-{rec.ref.label}", ["uid:ID", ":LABEL"], props).add(
                [rec.ref.uid, f"{BASE_LABEL};{rec.ref.label}"], props)
        elif isinstance(rec, Edge):
            props = {**plain_props(rec.props), **stamp, "sources": [rec.source]}
            table(f"rels-{rec.type}", [":START_ID", ":END_ID", ":TYPE"], props).add(
                [rec.src.uid, rec.dst.uid, rec.type], props)
            targets.setdefault(rec.dst.uid, rec.dst.label)
    for uid, label in targets.items():
        if uid not in nodes:
            props = {"placeholder": True, "first_seen": now, "first_ingest": run}
            table(f"nodes-placeholder-{label}", ["uid:ID", ":LABEL"], props).add([uid, f"{BASE_LABEL};{label}"], props)
    for t in tables.values():
        t.handle.close()
    return [f"--{'nodes' if name.startswith('nodes') else 'relationships'}={t.path}" for name, t in tables.items()]


def import_seconds(home: Path, files: list[str]) -> float:
    """``neo4j-admin database import full`` into a fresh managed home; wall seconds, JVM start included."""
    server = ManagedServer(home, ManagedServer.from_env().cache, free_port())
    server.stop()
    subprocess.run(["rm", "-rf", str(home)], check=True)
    server._prepare(server.default_port)
    env = {**os.environ, "NEO4J_HOME": str(home), "NEO4J_CONF": str(home / "conf")}
    cmd = ["java", "-Xmx2g", "-cp", f"{server.lib}/*", ADMIN_CLASS, "database", "import", "full", "neo4j",
           "--overwrite-destination=true", "--array-delimiter=;", f"--report-file={home.parent / 'import.report'}", *files]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"neo4j-admin import failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return seconds


def index_seconds(home: Path) -> tuple[float, dict[str, int]]:
    """Start the imported database, time provex's schema coming online; node and edge counts."""
    server = ManagedServer(home, ManagedServer.from_env().cache, free_port())
    status = server.start(pick_free=True)
    try:
        with Graph.connect(Settings(status.uri, "neo4j", server.password(), "neo4j", True)) as graph:
            start = time.perf_counter()
            schema.apply(graph)
            seconds = time.perf_counter() - start
            counts = graph.read("MATCH (n) WITH count(n) AS nodes MATCH ()-[e]->() RETURN nodes, count(e) AS edges")[0]
    finally:
        server.stop()
    return seconds, counts


if __name__ == "__main__":  # python -m bench.admin_import LOG: a quick check of the baseline alone
    import sys

    from bench.oldgraph import records

    log, work = Path(sys.argv[1]), Path(".work/bench-import").resolve()
    args = write_csv(records(log), work / "csv", "bench-import", "2026-01-01T00:00:00+00:00")
    print(json.dumps({"import_s": round(import_seconds(work / "neo4j", args), 2),
                      "indexes": index_seconds(work / "neo4j")}))
