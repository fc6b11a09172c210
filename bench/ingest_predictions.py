"""Prediction ingest end to end, beside its two baselines from the same run.

    python -m bench.ingest_predictions --count 100000 --repeat 3     # make bench
    python -m bench.ingest_predictions --count 1000000 --repeat 3    # make bench-full

- provex: ``provex ingest predictions LOG`` as a user runs it (a fresh
  process; schema, the prediction store, groups, model resolution and the
  search index refresh included) into an emptied graph and store; wall time,
  peak RSS, and the store's bytes on disk per prediction. With default
  settings (``--prediction-nodes auto``: the generated log's rate is above
  it, so no node per prediction), and once forced to a node per prediction
  (``--prediction-nodes all``: the old design's graph, beside the store).
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

from bench import admin_import, oldgraph
from bench.predlog import generate
from bench.report import save_section
from bench.run import connected, env_for
from provex.graph import schema, statements
from provex.graph.connection import Graph
from provex.graph.writer import plain_props
from provex.vocab.records import Edge, Node

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".work/bench-cache"
GOAL_SECONDS_1M = 20  # issue 26: a 1M-line serving log end to end with default settings


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


def provex_ingest(graph: Graph, log: Path, mode: str = "auto") -> dict[str, Any]:
    schema.clear(graph)
    env = env_for(graph)
    provex = str(Path(sys.executable).with_name("provex"))
    seconds, peak_kb, out = run_tracked([provex, "ingest", "predictions", str(log), "--prediction-nodes", mode,
                                         "--format", "json"], env)
    summary = json.loads(out)
    summary = summary[0] if isinstance(summary, list) else summary
    written, stored = summary.get("written", {}), summary.get("predictions", {}).get("stored", 0)
    return {"mode": mode, "seconds": seconds, "peak_rss_mb": round(peak_kb / 1024), "records": sum(written.values()),
            "predictions": stored, "prediction_nodes": written.get("Prediction", 0),
            "store_bytes": store_bytes(graph), "bytes_per_prediction": round(store_bytes(graph) / max(stored, 1), 1)}


def store_bytes(graph: Graph) -> int:
    """Bytes on disk of the live files of the prediction store (data and indexes)."""
    store = graph.facts
    fs = store.location.filesystem
    return sum(fs.get_file_info(store.location.path(p)).size for p in store.manifest().files)


def naive_rate(graph: Graph, log: Path, limit: int) -> float:
    """Records per second, one auto-commit transaction per record."""
    schema.clear(graph)
    schema.apply(graph)
    params = {"now": "2026-01-01T00:00:00+00:00", "run": "bench-naive"}
    done = 0
    start = time.perf_counter()
    with graph._driver.session(database=graph.settings.database) as session:
        for rec in oldgraph.records(log):
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
    files = admin_import.write_csv(oldgraph.records(log), work / "csv", "bench-import", "2026-01-01T00:00:00+00:00")
    csv_s = time.perf_counter() - start
    runs = [admin_import.import_seconds(work / "neo4j", files) for _ in range(repeat)]
    index_s, counts = admin_import.index_seconds(work / "neo4j")
    return {"csv_s": csv_s, "import_s": statistics.median(runs), "import_runs": runs, "index_s": index_s, **counts}


def markdown(count: int, provex: list[dict[str, Any]], naive: float, admin: dict[str, Any]) -> str:
    default = [r for r in provex if r["mode"] == "auto"]
    forced = [r for r in provex if r["mode"] == "all"]
    secs = statistics.median(r["seconds"] for r in default)
    old_records = admin["nodes"] + admin["edges"]
    naive_s = old_records / naive
    with_index = admin["import_s"] + admin["index_s"]
    goal = (f"≤ {GOAL_SECONDS_1M} s", _met(secs <= GOAL_SECONDS_1M)) if count >= 1_000_000 else ("(at 1M)", "—")
    runs = ", ".join(f"{r['seconds']:.1f}" for r in default)
    per = statistics.median(r["bytes_per_prediction"] for r in default)
    rows = [
        ("provex ingest predictions, end to end, default settings (the store; no node per prediction)",
         f"{secs:,.1f} s: {count / secs:,.0f} predictions/s, peak RSS {max(r['peak_rss_mb'] for r in default)} MB",
         "—", *goal),
        ("bytes on disk per prediction (the store's live files: data and indexes)", f"{per:,.0f} B",
         "—", "≤ 100 B", _met(per <= 100)),
        ("(a) naive writer, one auto-commit transaction per record of the old graph",
         f"{naive:,.0f} records/s → {naive_s:,.0f} s", f"provex {naive_s / secs:,.0f}x faster", "—", "—"),
        ("(b) neo4j-admin database import full of the old graph, JVM start included", f"{admin['import_s']:,.1f} s",
         f"provex takes {secs / admin['import_s']:,.2f}x", "faster than it", _met(secs < admin["import_s"])),
        ("(b') the import, then provex's indexes coming online", f"{with_index:,.1f} s",
         f"provex takes {secs / with_index:,.2f}x", "—", "—"),
    ]
    if forced:
        fsecs = statistics.median(r["seconds"] for r in forced)
        rows.append(("provex, forced to a node per prediction (--prediction-nodes all)",
                     f"{fsecs:,.1f} s, peak RSS {max(r['peak_rss_mb'] for r in forced)} MB",
                     f"{fsecs / secs:,.1f}x the default", "no slower than before the store", "see below"))
    intro = (f"A generated serving log of {count:,} predictions (bench/predlog.py: 8 inputs each, one day, 2 model "
             f"versions: {count / 48:,.0f} per version and hour). "
             f"provex: median of {len(default)} runs ({runs} s). The old graph (a node per prediction, its edges, "
             f"hourly groups, features: what provex wrote before the prediction store) is what the baselines load: "
             f"{admin['nodes']:,} nodes and {admin['edges']:,} edges. The naive rate is measured on its first records "
             f"and applied to all. The import: median of {len(admin['import_runs'])}; writing its CSV took "
             f"{admin['csv_s']:.1f} s, not counted.")
    table = ["| figure | measured | against the baseline | goal | met |", "|---|---|---|---|---|"]
    return "\n".join([intro, "", *table, *(f"| {' | '.join(row)} |" for row in rows)])


def _met(ok: bool) -> str:
    return "**yes**" if ok else "**no**"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="predictions in the generated log")
    parser.add_argument("--repeat", type=int, default=3, help="provex runs (the median is reported)")
    parser.add_argument("--naive-records", type=int, default=3_000, help="records the naive writer writes")
    parser.add_argument("--forced", type=int, default=1, help="runs forced to a node per prediction (0: none)")
    parser.add_argument("--no-baselines", action="store_true",
                        help="skip the naive writer and the import (at 10M: the store's figures alone)")
    args = parser.parse_args()
    log = generate(CACHE / f"serving-{args.count}.jsonl", args.count, days=1, versions=2)  # a serving rate
    with connected() as graph:  # a server of its own stops before the import baseline; a shared one idles
        provex = []
        for mode in ["auto"] * args.repeat + ["all"] * args.forced:
            provex.append(provex_ingest(graph, log, mode))
            print(json.dumps(provex[-1]), flush=True)
        naive = 0.0 if args.no_baselines else naive_rate(graph, log, args.naive_records)
        schema.clear(graph)
    if args.no_baselines:
        save_section(f"predictions-{args.count}", f"Prediction ingest: {args.count:,} predictions (the store alone)",
                     store_only(args.count, provex), {"count": args.count, "provex": provex})
        return
    admin = admin_baseline(log, min(args.repeat, 3))
    figures = {"count": args.count, "provex": provex, "naive_records_per_s": naive, "admin": admin}
    save_section("predictions", f"Prediction ingest: {args.count:,} predictions",
                 markdown(args.count, provex, naive, admin), figures)


def store_only(count: int, provex: list[dict[str, Any]]) -> str:
    secs = statistics.median(r["seconds"] for r in provex)
    rss = max(r["peak_rss_mb"] for r in provex)
    per = statistics.median(r["bytes_per_prediction"] for r in provex)
    rows = [("end to end, default settings", f"{secs:,.1f} s ({count / secs:,.0f} predictions/s)", "≤ 180 s",
             _met(secs <= 180)),
            ("peak RSS of the ingesting process", f"{rss:,} MB", "≤ 1,024 MB", _met(rss <= 1024)),
            ("bytes on disk per prediction", f"{per:,.0f} B", "≤ 100 B", _met(per <= 100))]
    table = ["| figure | measured | goal | met |", "|---|---|---|---|"]
    return "\n".join([f"A generated serving log of {count:,} predictions (one day, 2 versions); median of "
                      f"{len(provex)} run(s).", "", *table, *(f"| {' | '.join(r)} |" for r in rows)])


if __name__ == "__main__":
    main()
