"""How long the command line takes to start: `python -m bench.cli_start [--repeat N]`.

Runs `provex --help`, `provex ask` (the question catalog) and `provex ingest
predictions --help` as fresh processes, N times each, and prints the median
and the fastest wall time, plus what `python -X importtime` says the heaviest
imports of `provex --help` are, and saves the "cli" section of
docs/benchmarks.md (each median beside the goal, 0.3 s). No Neo4j needed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

from bench.report import save_section

COMMANDS = (["--help"], ["ask"], ["ingest", "predictions", "--help"])
GOAL_S = 0.3


def provex() -> list[str]:
    found = shutil.which("provex", path=os.path.dirname(sys.executable)) or shutil.which("provex")
    return [found] if found else [sys.executable, "-c", "from provex.app.cli import main; main()"]


def wall(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def heaviest(limit: int = 8) -> list[tuple[int, str]]:
    """Cumulative import time (µs) of the heaviest modules `provex --help` imports."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c",
                           "from provex.app.cli import cli; cli.list_commands(None)"],
                          capture_output=True, text=True, check=True)
    rows = []
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].rstrip()))
    return sorted(rows, reverse=True)[:limit]


def measure(repeat: int) -> dict[str, dict[str, float]]:
    """Median and fastest wall time of each command, fresh processes."""
    base = provex()
    found = {}
    for args in COMMANDS:
        times = [wall(base + args) for _ in range(repeat)]
        found[f"provex {' '.join(args)}"] = {"median_s": round(statistics.median(times), 3),
                                             "fastest_s": round(min(times), 3)}
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    repeat = parser.parse_args().repeat
    found = measure(repeat)
    imports = heaviest()
    lines = [f"Fresh processes, median of {repeat}; goal < {GOAL_S} s.", "",
             "| command | median s | fastest s | goal met |", "|---|---|---|---|"]
    lines += [f"| {cmd} | {r['median_s']:.3f} | {r['fastest_s']:.3f} | {'met' if r['median_s'] < GOAL_S else 'NOT met'} |"
              for cmd, r in found.items()]
    lines += ["", "Heaviest imports of `provex --help` (cumulative µs, `python -X importtime`): "
              + ", ".join(f"{name.strip()} {micros:,}" for micros, name in imports) + "."]
    save_section("cli", "CLI start", "\n".join(lines), {"repeat": repeat, "commands": found, "imports": imports})


if __name__ == "__main__":
    main()
