"""Every catalog question at 10k, 100k (and 1M) generated predictions:
`python -m bench.questions [--scales 10000,100000] [--repeat 30] [--app]`.

Per scale, ascending: the graph is emptied, the sample story ingested
(`provex ingest --config` of the restored sample), then a generated log of N
predictions (bench/predlog.py, credit-limit versions 1..5, 60 days) through `provex
ingest predictions --prediction-nodes none` (every question reads predictions
from the store: the answers are the same with nodes). Each question then runs through the same call the CLI
makes (`questions.ask`: REFs resolved, the row limit, the headline computed)
with parameters picked from the graph (bench/question_params.py): one warm-up,
then --repeat timed runs (fewer, at least 5, once a question has taken
--budget seconds), p50 and p95. Saves the "questions" section beside
the issue's goals, and with --app the "app" section on the largest graph.

Uses NEO4J_URI when set (that database is emptied), else its own Neo4j under
.work/bench-home, stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import question_params
from bench.predlog import generate
from bench.report import save_section
from bench.run import connected, env_for
from provex.graph import questions, schema
from provex.graph.connection import Graph
from provex.vocab.errors import ProvexError

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".work/bench-cache"
SAMPLE = ROOT / ".work/bench-questions-sample"
PROVENANCE_GOAL_MS = 20.0  # issue 26: prediction provenance p95 at 10M, in-process
SUBJECT_GOAL_MS = 100.0  # issue 26: subject-history p95 at 10M
RATIO_GOAL = 2.0
IMPACT_GOAL_MS = 1000.0
MIN_RUNS = 5


def provex(*args: str, env: dict[str, str]) -> float:
    """Run the provex CLI; its wall time in seconds."""
    start = time.perf_counter()
    done = subprocess.run([str(Path(sys.executable).with_name("provex")), *args], env=env, capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise SystemExit(f"provex {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return time.perf_counter() - start


def sample_config() -> Path:
    """The restored sample's provex.toml (restored once per bench run)."""
    done = subprocess.run([sys.executable, str(ROOT / "sample_data/restore.py"), str(SAMPLE)], check=True,
                          capture_output=True, text=True)
    return Path(done.stdout.strip().splitlines()[-1])


def build(graph: Graph, scale: int, config: Path) -> dict[str, float]:
    """Empty the graph, ingest the sample story and N generated predictions."""
    env = env_for(graph)
    start = time.perf_counter()
    schema.clear(graph)
    cleared = time.perf_counter() - start
    sample = provex("ingest", "--config", str(config), env=env)
    log = generate(CACHE / f"pred-{scale}.jsonl", scale)
    preds = provex("ingest", "predictions", str(log), "--prediction-nodes", "none", env=env)  # same answers either way
    built = {"clear_s": round(cleared, 1), "sample_s": round(sample, 1), "predictions_s": round(preds, 1)}
    print(json.dumps({"scale": scale, **built}), flush=True)
    return built


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def time_question(graph: Graph, name: str, params: dict[str, Any], repeat: int, budget: float) -> dict[str, Any]:
    """Warm once, then ``repeat`` timed runs of the CLI's call (rows + headline),
    fewer (at least MIN_RUNS) when they take more than ``budget`` seconds in all."""
    try:
        frame = questions.ask(graph, name, params)
    except ProvexError as exc:
        return {"error": str(exc)[:300]}
    times: list[float] = []
    while len(times) < repeat and (len(times) < MIN_RUNS or sum(times) < budget * 1000):
        start = time.perf_counter()
        questions.ask(graph, name, params)
        times.append((time.perf_counter() - start) * 1000)
    return {"p50_ms": round(statistics.median(times), 1), "p95_ms": round(percentile(times, 95), 1),
            "runs": len(times), "rows": len(frame), "truncated": bool(frame.attrs.get("truncated")),
            "headline": frame.attrs.get("headline", "")[:200]}


def measure(graph: Graph, scale: int, repeat: int, budget: float) -> dict[str, Any]:
    """Every question of the catalog on the graph as it is."""
    picked = question_params.pick(graph)
    results = {}
    for name in questions.CATALOG:
        params = picked["params"][name]
        results[name] = {"params": params, **time_question(graph, name, params, repeat, budget)}
        print(json.dumps({"scale": scale, "question": name, **{k: v for k, v in results[name].items()
                                                              if k != "headline"}}), flush=True)
    return {"scale": scale, "affected_predictions": picked["affected_predictions"], "questions": results}


def p95(run: dict[str, Any], name: str) -> float:
    """A question's p95 in ms at one scale (infinite when it failed)."""
    return run["questions"][name].get("p95_ms", math.inf)


def ratios(runs: list[dict[str, Any]]) -> dict[str, float]:
    """p95 at the largest scale over p95 at the smallest, per question."""
    found = {name: (p95(runs[-1], name), p95(runs[0], name)) for name in questions.CATALOG}
    return {name: math.inf if math.inf in (big, small) else big / max(small, 0.1) for name, (big, small) in found.items()}


def goals(runs: list[dict[str, Any]]) -> list[tuple[str, str, bool]]:
    """The issue's three goals, judged at the largest scale measured (the ratio against the smallest)."""
    small, large = runs[0], runs[-1]
    at = f"{large['scale']:,}"
    prov = p95(large, "prediction-provenance")
    over = {n: r for n, r in ratios(runs).items() if r > RATIO_GOAL}
    impact = p95(large, "impact-of-data")
    subject = p95(large, "subject-history")
    return [
        (f"prediction provenance p95 ≤ {PROVENANCE_GOAL_MS:.0f} ms at {at}", f"{prov} ms", prov <= PROVENANCE_GOAL_MS),
        (f"subject-history p95 ≤ {SUBJECT_GOAL_MS:.0f} ms at {at}", f"{subject} ms", subject <= SUBJECT_GOAL_MS),
        (f"p95({at}) / p95({small['scale']:,}) ≤ {RATIO_GOAL:.0f}, every question",
         "over it: " + ", ".join(f"{n} {r:.1f}" for n, r in over.items()) if over else "all within", not over),
        (f"impact (impact-of-data) over {large['affected_predictions']:,} affected predictions < 1 s (p95, at {at}); "
         f"impacted-predictions (the first 1,000 of them, listed) beside it",
         f"{impact} ms; impacted-predictions {p95(large, 'impacted-predictions')} ms",
         impact < IMPACT_GOAL_MS and large["affected_predictions"] >= 100_000),
    ]


def cell(run: dict[str, Any], name: str) -> str:
    r = run["questions"][name]
    return f"failed: {r['error'][:80]}" if "error" in r else f"{r['p50_ms']} / {r['p95_ms']} ({r['runs']})"


def markdown(runs: list[dict[str, Any]], builds: dict[int, dict[str, float]]) -> str:
    """The question × scale table, the ratio, the goals."""
    scales = [r["scale"] for r in runs]
    head = "| question | " + " | ".join(f"p50 / p95 ms (runs) at {s:,}" for s in scales) + \
        f" | p95 ratio {scales[-1]:,} / {scales[0]:,} |"
    lines = [head, "|---" * (len(scales) + 2) + "|"]
    lines += [f"| {name} | " + " | ".join(cell(r, name) for r in runs) + f" | {ratio:.2f} |"
              for name, ratio in ratios(runs).items()]
    lines += ["", "| goal | measured | met |", "|---|---|---|"]
    lines += [f"| {goal} | {value} | {'met' if ok else 'NOT met'} |" for goal, value, ok in goals(runs)]
    lines += ["", "Graph build per scale (clear, sample story, predictions; seconds): " + "; ".join(
        f"{s:,}: {b['clear_s']} / {b['sample_s']} / {b['predictions_s']}" for s, b in builds.items()) + "."]
    lines += ["", "Parameters (picked from the graph at the largest scale): " + "; ".join(
        f"`{n}` {json.dumps(r['params'])}" for n, r in runs[-1]["questions"].items() if r["params"]) + "."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="10000,100000", help="prediction counts, ascending")
    parser.add_argument("--repeat", type=int, default=30, help="timed runs per question")
    parser.add_argument("--budget", type=float, default=60, help="seconds of timed runs per question and scale, "
                        f"after which it stops repeating (at least {MIN_RUNS} runs)")
    parser.add_argument("--app", action="store_true", help="then time the app's pages on the largest graph")
    args = parser.parse_args()
    scales = sorted(int(s) for s in args.scales.split(","))
    with connected() as graph:
        schema.apply(graph)
        config = sample_config()
        runs, builds = [], {}
        for scale in scales:
            builds[scale] = build(graph, scale, config)
            runs.append(measure(graph, scale, args.repeat, args.budget))
        save_section("questions", "Catalog questions at scale", markdown(runs, builds),
                     {"runs": runs, "builds": builds, "repeat": args.repeat, "budget_s": args.budget})
        if args.app:
            from bench import app_pages

            app_pages.run(graph)


if __name__ == "__main__":
    main()
