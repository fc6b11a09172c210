"""A generated prediction log shaped like the sample's credit_limit.jsonl:
one JSON object per line, 8 inputs, subject and household ids, the model by
registry name and version (credit-limit 1..5, so the lines resolve against
the sample story when it is ingested first), over 60 days; or, at a serving
rate, over one day with 2 versions (``--days 1 --versions 2``).

    python -m bench.predlog OUT.jsonl --count 1000000 [--days 1 --versions 2]

Deterministic for a given count and seed; a file already there with the same
count and seed is reused (bench runs generate once).
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

INPUTS = ("income", "existing_debt", "age", "tenure_years", "purchase_total_3m", "purchase_count_3m",
          "avg_ticket", "months_active")
START = datetime(2026, 2, 1, tzinfo=UTC)
VERSIONS = 5


def line(i: int, rng: random.Random, count: int, days: int = 60, versions: int = VERSIONS) -> str:
    """One log line: prediction ``bench-{i}``, timestamps spread over ``days`` in order."""
    ts = START + timedelta(seconds=i * days * 86_400 / max(count, 1))
    inputs = {name: round(rng.uniform(0, 100_000), 2) for name in INPUTS}
    doc = {"prediction_id": f"bench-{i:08d}", "timestamp": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
           "model_name": "credit-limit", "model_version": str(1 + i * versions // max(count, 1)),
           "inputs": inputs, "input_hash": f"sha256:{rng.getrandbits(256):064x}",
           "output": round(rng.uniform(500, 20_000), 0), "subject_id": f"bc-{i % 50_000:05d}",
           "household_id": f"bh-{i % 20_000:05d}"}
    return json.dumps(doc)


def generate(path: Path, count: int, seed: int = 17, days: int = 60, versions: int = VERSIONS) -> Path:
    """Write the log (or keep the one already there); returns its path."""
    stamp = path.with_suffix(path.suffix + ".meta")
    meta = json.dumps({"count": count, "seed": seed} | ({} if (days, versions) == (60, VERSIONS) else
                                                       {"days": days, "versions": versions}))
    if path.exists() and stamp.exists() and stamp.read_text() == meta:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(count):
            fh.write(line(i, rng, count, days, versions) + "\n")
    stamp.write_text(meta)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the .jsonl file to write")
    parser.add_argument("--count", type=int, default=100_000, help="lines (predictions)")
    parser.add_argument("--seed", type=int, default=17, help="random seed")
    parser.add_argument("--days", type=int, default=60, help="days the timestamps span")
    parser.add_argument("--versions", type=int, default=VERSIONS, help="model versions, one after the other")
    args = parser.parse_args()
    print(generate(args.out, args.count, args.seed, args.days, args.versions))


if __name__ == "__main__":
    main()
