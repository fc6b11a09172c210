"""Run several bench modules against one Neo4j, started once (``make bench``).

    python -m bench.suite "bench.dvc_history --commits 20" "bench.cli_start"

Each argument is a module and its options, run as ``python -m`` in its own
process, in order. The bench's managed Neo4j (.work/bench-home, bench/run.py)
is started before the first and stopped after the last, even when one fails;
every module reaches it through ``NEO4J_URI``, as it would reach a user's
server, so none pays a JVM start and a cold JIT of its own. With
``NEO4J_URI`` already set, that server is used and left running.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time

from bench.run import shared


def run_all(modules: list[str]) -> int:
    """Run each ``module args`` line; the first failure's exit code, or 0."""
    with shared() as env:
        for line in modules:
            start = time.perf_counter()
            print(f"== python -m {line}", flush=True)
            code = subprocess.run([sys.executable, "-m", *shlex.split(line)], env=env).returncode
            print(f"== {line.split()[0]}: {time.perf_counter() - start:.0f} s", flush=True)
            if code != 0:
                return code
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="+", help='a bench module and its options, e.g. "bench.cli_start --repeat 7"')
    args = parser.parse_args()
    sys.exit(run_all(args.modules))


if __name__ == "__main__":
    main()
