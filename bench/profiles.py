"""What content profiles cost: `provex ingest --config` of the restored sample
with profiling on (the default) and off (`profile = false` on the DVC source),
alternating, the graph emptied before each run. Also the DVC source alone.

    python -m bench.profiles [--repeat 3]

Uses NEO4J_URI when set, else starts its own Neo4j under .work/bench-home.
Prints one JSON line per run and the medians; the numbers go into bench/REPORT.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.run import connect, env_for
from provex.graph import schema

ROOT = Path(__file__).resolve().parent.parent


def configs(work: Path) -> dict[str, Path]:
    """The restored sample's provex.toml, and variants: profiles off; the DVC source alone (on/off)."""
    done = subprocess.run([sys.executable, str(ROOT / "sample_data/restore.py"), str(work)], check=True,
                          capture_output=True, text=True)
    full = Path(done.stdout.strip().splitlines()[-1])
    text = full.read_text()
    dvc_table = text.split("[[source]]")[1]
    out = {"all, profiles on": full}
    variants = {"all, profiles off": text.replace(dvc_table, dvc_table.rstrip() + "\nprofile = false\n\n"),
                "dvc only, profiles on": "[[source]]" + dvc_table,
                "dvc only, profiles off": "[[source]]" + dvc_table.rstrip() + "\nprofile = false\n"}
    for name, body in variants.items():
        path = work / f"{name.replace(', ', '-').replace(' ', '-')}.toml"
        path.write_text(body)
        out[name] = path
    return out


def ingest_seconds(config: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    provex = str(Path(sys.executable).with_name("provex"))
    subprocess.run([provex, "ingest", "--config", str(config), "--format", "json"], check=True, capture_output=True,
                   env=env)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per variant (alternating)")
    args = parser.parse_args()
    graph, server = connect()
    env = env_for(graph)
    try:
        found = configs(ROOT / ".work/bench-profiles")
        times: dict[str, list[float]] = {name: [] for name in found}
        for _ in range(args.repeat):
            for name, config in found.items():
                schema.clear(graph)
                seconds = ingest_seconds(config, env)
                times[name].append(seconds)
                print(json.dumps({"variant": name, "seconds": round(seconds, 2)}), flush=True)
        medians = {name: round(statistics.median(v), 2) for name, v in times.items()}
        print(json.dumps({"medians": medians, "load_average": os.getloadavg()}, indent=2))
    finally:
        graph.close()
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
