"""How long the command line takes to start: `python -m bench.cli_start [--repeat N]`.

Runs `provex --help`, `provex ask` (the question catalog) and `provex ingest
predictions --help` as fresh processes, N times each, and prints the median
and the fastest wall time, plus what `python -X importtime` says the heaviest
imports of `provex --help` are. No Neo4j needed. Numbers, not asserts: see
bench/REPORT.md ("CLI start").
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

COMMANDS = (["--help"], ["ask"], ["ingest", "predictions", "--help"])


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    repeat = parser.parse_args().repeat
    base = provex()
    print("| command | median s | fastest s | runs |\n|---|---|---|---|")
    for args in COMMANDS:
        times = [wall(base + args) for _ in range(repeat)]
        print(f"| provex {' '.join(args)} | {statistics.median(times):.3f} | {min(times):.3f} | {repeat} |")
    print(f"\nheaviest imports of `provex --help` (cumulative µs; load average {os.getloadavg()[0]:.1f}):")
    for micros, name in heaviest():
        print(f"  {micros:>9}  {name}")


if __name__ == "__main__":
    main()
