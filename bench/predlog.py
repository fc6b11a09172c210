"""A generated prediction log shaped like the sample's credit_limit.jsonl:
one JSON object per line, 8 inputs, subject and household ids, the model by
registry name and version (credit-limit 1..5, so the lines resolve against
the sample story when it is ingested first).

    python -m bench.predlog OUT.jsonl --count 1000000

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


def line(i: int, rng: random.Random, count: int) -> str:
    """One log line: prediction ``bench-{i}``, timestamps spread over 60 days in order."""
    ts = START + timedelta(seconds=i * (60 * 86_400 // max(count, 1)))
    inputs = {name: round(rng.uniform(0, 100_000), 2) for name in INPUTS}
    doc = {"prediction_id": f"bench-{i:08d}", "timestamp": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
           "model_name": "credit-limit", "model_version": str(1 + i * VERSIONS // max(count, 1)),
           "inputs": inputs, "input_hash": f"sha256:{rng.getrandbits(256):064x}",
           "output": round(rng.uniform(500, 20_000), 0), "subject_id": f"bc-{i % 50_000:05d}",
           "household_id": f"bh-{i % 20_000:05d}"}
    return json.dumps(doc)


def generate(path: Path, count: int, seed: int = 17) -> Path:
    """Write the log (or keep the one already there); returns its path."""
    stamp = path.with_suffix(path.suffix + ".meta")
    meta = json.dumps({"count": count, "seed": seed})
    if path.exists() and stamp.exists() and stamp.read_text() == meta:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(count):
            fh.write(line(i, rng, count) + "\n")
    stamp.write_text(meta)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the .jsonl file to write")
    parser.add_argument("--count", type=int, default=100_000, help="lines (predictions)")
    parser.add_argument("--seed", type=int, default=17, help="random seed")
    args = parser.parse_args()
    print(generate(args.out, args.count, args.seed))


if __name__ == "__main__":
    main()
