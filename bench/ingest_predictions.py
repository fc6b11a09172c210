"""Prediction ingest end to end, beside its two baselines from the same run.

    python -m bench.ingest_predictions --count 100000 --repeat 3     # make bench
    python -m bench.ingest_predictions --count 1000000 --repeat 3    # make bench-full

- provex: ``provex ingest predictions LOG`` as a user runs it (a fresh
  process; schema, model resolution, group counts and the search index
  refresh included) into an emptied graph; wall time and peak RSS.
- baseline (a): a naive writer, one auto-commit transaction per record (the
  same MERGE statements, one row each), over the first ``--naive-records``
  records of the same log; its rate gives the time for the whole log.
- baseline (b): ``neo4j-admin database import full`` of the same graph from
  CSV (bench/admin_import.py), JVM start included; and, apart, the time
  provex's indexes then take to come online on the imported store.

Uses its own Neo4j under .work/bench-home (bench/run.py), or NEO4J_URI.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import admin_import
from bench.predlog import generate
from bench.report import save_section
from bench.run import connected, env_for
from provex.graph import schema, statements
from provex.graph.connection import Graph
from provex.graph.writer import plain_props
from provex.ingest.predictions import read
from provex.vocab.records import Edge, Node

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".work/bench-cache"
GOAL_SECONDS_1M = 120


def run_tracked(cmd: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (KB, from /proc while it runs) and stdout of one command."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _hwm(proc.pid))
        time.sleep(0.2)
    out, err = proc.communicate()
    seconds = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-3000:]}")
    return seconds, peak, out


def _hwm(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def provex_ingest(graph: Graph, log: Path) -> dict[str, Any]:
    schema.clear(graph)
    env = env_for(graph)
    provex = str(Path(sys.executable).with_name("provex"))
    seconds, peak_kb, out = run_tracked([provex, "ingest", "predictions", str(log), "--format", "json"], env)
    summary = json.loads(out)
    summary = summary[0] if isinstance(summary, list) else summary
    written = summary.get("written", {})
    return {"seconds": seconds, "peak_rss_mb": round(peak_kb / 1024), "records": sum(written.values()),
            "predictions": written.get("Prediction", 0)}


def naive_rate(graph: Graph, log: Path, limit: int) -> float:
    """Records per second, one auto-commit transaction per record."""
    schema.clear(graph)
    schema.apply(graph)
    params = {"now": "2026-01-01T00:00:00+00:00", "run": "bench-naive"}
    done = 0
    start = time.perf_counter()
    with graph._driver.session(database=graph.settings.database) as session:
        for rec in read(log):
            if isinstance(rec, Node):
                query, row = statements.node_query(rec.ref.label), {"uid": rec.ref.uid}
            elif isinstance(rec, Edge):
                query = statements.edge_query(rec.type, rec.src.label, rec.dst.label, rec.key)
                row = {"src": rec.src.uid, "dst": rec.dst.uid}
            else:
                continue
            row.update(props=plain_props(rec.props), source=rec.source)
            session.run(query, {**params, "rows": [row]}).consume()
            done += 1
            if done >= limit:
                break
    return done / (time.perf_counter() - start)


def admin_baseline(log: Path, repeat: int) -> dict[str, Any]:
    work = ROOT / ".work/bench-import"
    start = time.perf_counter()
    files = admin_import.write_csv(read(log), work / "csv", "bench-import", "2026-01-01T00:00:00+00:00")
    csv_s = time.perf_counter() - start
    runs = [admin_import.import_seconds(work / "neo4j", files) for _ in range(repeat)]
    index_s, counts = admin_import.index_seconds(work / "neo4j")
    return {"csv_s": csv_s, "import_s": statistics.median(runs), "import_runs": runs, "index_s": index_s, **counts}


def markdown(count: int, provex: list[dict[str, Any]], naive: float, admin: dict[str, Any]) -> str:
    secs = statistics.median(r["seconds"] for r in provex)
    first = provex[0]
    naive_s = first["records"] / naive
    with_index = admin["import_s"] + admin["index_s"]
    goal = (f"≤ {GOAL_SECONDS_1M} s", _met(secs <= GOAL_SECONDS_1M)) if count >= 1_000_000 else ("(at 1M)", "—")
    runs = ", ".join(f"{r['seconds']:.1f}" for r in provex)
    rows = [
        ("provex ingest predictions, end to end", f"{secs:,.1f} s: {count / secs:,.0f} predictions/s, "
         f"{first['records'] / secs:,.0f} records/s, peak RSS {max(r['peak_rss_mb'] for r in provex)} MB", "—", *goal),
        ("(a) naive writer, one auto-commit transaction per record", f"{naive:,.0f} records/s → {naive_s:,.0f} s",
         f"provex {naive_s / secs:,.0f}x faster", "≥ 100x", _met(naive_s / secs >= 100)),
        ("(b) neo4j-admin database import full, JVM start included", f"{admin['import_s']:,.1f} s",
         f"provex takes {secs / admin['import_s']:,.1f}x", "≤ 5x", _met(secs / admin["import_s"] <= 5)),
        ("(b') the import, then provex's indexes coming online", f"{with_index:,.1f} s",
         f"provex takes {secs / with_index:,.1f}x", "—", "—"),
    ]
    intro = (f"A generated log of {count:,} predictions (bench/predlog.py: 8 inputs each, 5 model versions; "
             f"{first['records'] / max(first['predictions'], 1):.2f} records per prediction: the node, its edges, "
             f"hourly groups, features). provex: median of {len(provex)} runs ({runs} s). The naive rate is "
             f"measured on the log's first records and applied to all {first['records']:,}. The import loads "
             f"{admin['nodes']:,} nodes and {admin['edges']:,} edges (median of {len(admin['import_runs'])}; "
             f"writing its CSV took {admin['csv_s']:.1f} s, not counted).")
    table = ["| figure | measured | against the baseline | goal | met |", "|---|---|---|---|---|"]
    return "\n".join([intro, "", *table, *(f"| {' | '.join(row)} |" for row in rows)])


def _met(ok: bool) -> str:
    return "**yes**" if ok else "**no**"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="predictions in the generated log")
    parser.add_argument("--repeat", type=int, default=3, help="provex runs (the median is reported)")
    parser.add_argument("--naive-records", type=int, default=3_000, help="records the naive writer writes")
    args = parser.parse_args()
    log = generate(CACHE / f"pred-{args.count}.jsonl", args.count)
    with connected() as graph:  # a server of its own stops before the import baseline; a shared one idles
        provex = []
        for _ in range(args.repeat):
            provex.append(provex_ingest(graph, log))
            print(json.dumps(provex[-1]), flush=True)
        naive = naive_rate(graph, log, args.naive_records)
        schema.clear(graph)
    admin = admin_baseline(log, min(args.repeat, 3))
    figures = {"count": args.count, "provex": provex, "naive_records_per_s": naive, "admin": admin}
    save_section("predictions", f"Prediction ingest: {args.count:,} predictions",
                 markdown(args.count, provex, naive, admin), figures)


if __name__ == "__main__":
    main()
