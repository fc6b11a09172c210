"""Crash safety: ``provex ingest`` killed with SIGKILL at random points, then
run again, leaves the graph a clean run leaves (same checksum: every uid,
label, property and edge; no duplicate uids); the Neo4j server killed in the
middle of an ingest gives a clear error (no traceback), and after a restart
the rerun gives the same graph again. Ingesting twice, or the sources in
another order, gives the same graph too.

The fast variants (two kill points) run in ``make test``; ten kill points per
adapter and the Neo4j kill run under ``make test-long``."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest
from checksum import checksum, snapshot
from sample import restore

from provex.graph import schema
from provex.graph.connection import Graph, Settings
from provex.graph.server import ManagedServer, free_port

TIME = "2026-04-02T{h:02d}:{m:02d}:00Z"
PROVEX = [sys.executable, "-c", "from provex.app.cli import main; main()"]


def prediction_log(path: Path, lines: int) -> Path:
    """A generated log: predictions of two models, upstream links, overrides."""
    with path.open("w", encoding="utf-8") as fh:
        for i in range(lines):
            rec: dict[str, Any] = {
                "prediction_id": f"p-{i:06d}", "timestamp": TIME.format(h=i // 3600 % 24, m=i // 60 % 60),
                "model_name": "credit-limit", "model_version": str(1 + i % 3), "output": i % 97,
                "inputs": {"income": i, "age": i % 80, "region": f"r{i % 7}"}, "score": (i % 100) / 100,
            }
            if i % 5 == 0 and i:
                rec["upstream"] = [f"p-{i - 1:06d}"]
            if i % 11 == 0:
                rec["override"] = {"rule": "cap", "original": 1000, "final": rec["output"]}
            fh.write(json.dumps(rec) + "\n")
    return path


def cli(args: list[str], env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([*PROVEX, *args], env=env, capture_output=True, text=True, timeout=timeout)


def env_for(settings: Settings) -> dict[str, str]:
    return {**os.environ, "NEO4J_URI": settings.uri, "NEO4J_USERNAME": settings.username,
            "NEO4J_PASSWORD": settings.password, "NEO4J_DATABASE": settings.database}


def killed_at(args: list[str], env: dict[str, str], after: float) -> bool:
    """Start ``provex ARGS``, SIGKILL it ``after`` seconds; True if it was still running."""
    proc = subprocess.Popen([*PROVEX, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        proc.wait(timeout=after)
        return False
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return True


def kill_and_rerun(graph: Graph, args: list[str], env: dict[str, str], points: int, seed: int) -> dict[str, Any]:
    """One clean run's checksum, then ``points`` runs killed at random times,
    each followed by a complete rerun; every rerun's checksum is compared."""
    schema.clear(graph)
    start = time.monotonic()
    done = cli(args, env)
    clean_time = time.monotonic() - start
    assert done.returncode == 0, done.stderr[-2000:]
    clean = checksum(graph)
    rng = random.Random(seed)
    results = []
    for _ in range(points):
        schema.clear(graph)
        after = rng.uniform(0.2, 0.9) * clean_time  # the interpreter start is part of the time: some kills come early
        was_running = killed_at(args, env, after)
        partial = snapshot(graph)
        rerun = cli(args, env)
        assert rerun.returncode == 0, rerun.stderr[-2000:]
        snap = snapshot(graph)
        assert snap["uids"] == snap["distinct_uids"]
        results.append({"after_s": round(after, 2), "killed": was_running, "partial_nodes": partial["uids"],
                        "equal": checksum(graph) == clean})
    return {"clean": clean, "clean_s": round(clean_time, 1), "points": results}


def report(name: str, result: dict[str, Any]) -> None:
    killed = [p for p in result["points"] if p["killed"]]
    print(f"\n{name}: clean {result['clean']} in {result['clean_s']} s; {len(result['points'])} kill points, "
          f"{len(killed)} mid-ingest, equal checksum: {sum(p['equal'] for p in result['points'])}; {result['points']}")


# ---- the fast variants (make test) -------------------------------------------------------------------

def test_killed_prediction_ingest_reruns_to_the_same_graph(graph, neo4j_settings, tmp_path):
    log = prediction_log(tmp_path / "log.jsonl", 6_000)
    args = ["ingest", "predictions", str(log), "--batch-size", "200"]
    result = kill_and_rerun(graph, args, env_for(neo4j_settings), points=1, seed=13)
    report("predictions", result)
    assert all(p["equal"] for p in result["points"])


def sample_twice_and_reversed(graph: Graph, settings: Settings, tmp_path: Path) -> tuple[str, str, str]:
    """Checksums of the sample's sources (DVC, MLflow, predictions) ingested in
    the config's order, again on top, and in reverse order on an empty graph
    (predictions before the model versions they name)."""
    config = restore(tmp_path / "sample")
    env = env_for(settings)
    assert cli(["ingest", "--config", str(config)], env).returncode == 0
    once = checksum(graph)
    assert cli(["ingest", "--config", str(config)], env).returncode == 0
    twice = checksum(graph)
    text = config.read_text()
    tables = ["[[source]]" + t for t in text.split("[[source]]")[1:]]
    reverse = config.with_name("reverse.toml")
    reverse.write_text(text.split("[[source]]")[0] + "".join(reversed(tables)))
    schema.clear(graph)
    assert cli(["ingest", "--config", str(reverse)], env).returncode == 0
    return once, twice, checksum(graph)


@pytest.mark.slow
def test_ingest_twice_gives_the_same_graph(graph, neo4j_settings, tmp_path):
    once, twice, _ = sample_twice_and_reversed(graph, neo4j_settings, tmp_path)
    assert twice == once


@pytest.mark.slow
def test_sources_in_another_order_give_the_same_graph(graph, neo4j_settings, tmp_path):
    once, _, reversed_order = sample_twice_and_reversed(graph, neo4j_settings, tmp_path)
    assert reversed_order == once


# ---- the long variants (make test-long) --------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("kind", ["predictions", "dvc", "mlflow"])
def test_ten_kill_points_per_adapter(graph, neo4j_settings, tmp_path, kind):
    env = env_for(neo4j_settings)
    if kind == "predictions":
        args = ["ingest", "predictions", str(prediction_log(tmp_path / "log.jsonl", 4_000)), "--batch-size", "100"]
    else:  # the sample's source of that kind alone, in small batches (more points to be killed between)
        table = next(t for t in tomllib.loads(restore(tmp_path / "sample").read_text())["source"] if t["kind"] == kind)
        where = [table["path"]] if kind == "dvc" else ["--tracking-uri", table["tracking_uri"]]
        args = ["ingest", kind, *where, "--batch-size", "50"]
    result = kill_and_rerun(graph, args, env, points=10, seed=hash(kind) % 1000)
    report(kind, result)
    assert all(p["equal"] for p in result["points"])


@pytest.mark.slow
def test_neo4j_killed_mid_ingest_is_a_clear_error_and_the_rerun_heals(tmp_path):
    cache = Path(os.environ.get("PROVEX_CACHE", Path.home() / ".cache/provex"))
    server = ManagedServer(tmp_path / "neo4j", cache, port=free_port())
    status = server.start(pick_free=True)
    settings = Settings(status.uri, "neo4j", server.password(), "neo4j", managed=False)
    env = env_for(settings)
    log = prediction_log(tmp_path / "log.jsonl", 12_000)
    args = ["ingest", "predictions", str(log), "--batch-size", "500"]
    try:
        with Graph.connect(settings) as graph:
            schema.apply(graph)
            assert cli(args, env).returncode == 0
            clean = checksum(graph)
            schema.clear(graph)
        proc = subprocess.Popen([*PROVEX, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(6)
        os.kill(server.status().pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=300)
        print(f"\nneo4j killed: exit {proc.returncode}; {err.strip()[-400:]}")
        assert proc.returncode != 0 and "Traceback" not in err and "Cannot reach Neo4j" in err
        assert server.password() not in err + out
        server.start(pick_free=False)
        with Graph.connect(settings) as graph:
            assert cli(args, env).returncode == 0
            assert checksum(graph) == clean
    finally:
        server.stop()
