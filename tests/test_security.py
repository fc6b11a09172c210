"""Security: no credential leaks anywhere provex writes or prints, and
loopback by default.

The secrets scan runs every CLI command as a user would (a subprocess, the
password in NEO4J_PASSWORD, an MLflow API key in the environment and in a
tracking URI) and greps stdout, stderr, ``--format json`` output, exported
files, rejects files and every property of every node (IngestRun and Source
included) for the password and the key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from provex.app.cli import app as cli_app
from provex.app.cli import cli
from provex.graph.connection import Graph, Settings

PROVEX = [sys.executable, "-c", "from provex.app.cli import main; main()"]
API_KEY = "mlflow-api-key-7f3c9e1d"


def run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run([*PROVEX, *args], env=env, capture_output=True, text=True, timeout=300)
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    return done.stdout + done.stderr


def user_env(settings: Settings) -> dict[str, str]:
    return {**os.environ, "NEO4J_URI": settings.uri, "NEO4J_USERNAME": settings.username,
            "NEO4J_PASSWORD": settings.password, "MLFLOW_TRACKING_TOKEN": API_KEY}


def every_property(graph: Graph) -> str:
    rows = graph.read("MATCH (n) RETURN properties(n) AS p UNION ALL MATCH ()-[e]->() RETURN properties(e) AS p")
    return json.dumps([r["p"] for r in rows], default=str)


def test_read_commands_leak_no_secret(g, neo4j_settings, tmp_path):
    env = user_env(neo4j_settings)
    found = subprocess.run([*PROVEX, "search", "cl-", "--format", "json"], env=env, capture_output=True, text=True,
                           timeout=120)
    ref = json.loads(found.stdout)[0]["ref"]
    outputs = [
        run(["stats", "--format", "json"], env),
        run(["search", "cl-", "--format", "json"], env),
        run(["cypher", "MATCH (n) RETURN n LIMIT 5", "--format", "json"], env),
        run(["cypher", "CREATE (n)"], env),
        run(["ask"], env),
        run(["lineage", ref, "--format", "json"], env),
        run(["reproduce", ref], env),
        run(["neo4j", "status"], env),
    ]
    for fmt in ("prov-json", "graphml"):
        out = tmp_path / f"export.{fmt}"
        outputs.append(run(["export", ref, "--format", fmt, "--output", str(out)], env))
        outputs.append(out.read_text() if out.exists() else "")
    text = "\n".join(outputs)
    assert len(text) > 1000  # the commands did run and print
    assert API_KEY not in text
    assert neo4j_settings.password not in text


def test_ingest_and_errors_leak_no_secret(graph, neo4j_settings, tmp_path):
    env = user_env(neo4j_settings)
    log = tmp_path / "log.jsonl"
    log.write_text('{"prediction_id": "p1", "timestamp": "2026-04-02T10:15:00Z", "output": 1}\nnot json\n')
    outputs = [
        run(["ingest", "predictions", str(log), "--format", "json"], env),
        run(["ingest", "mlflow", "--tracking-uri", f"http://alice:{API_KEY}@127.0.0.1:9", "--format", "json"], env),
        run(["ingest", "mlflow", "--tracking-uri", f"ftp://alice:{API_KEY}@example.com/x"], env),
        run(["stats"], {**env, "NEO4J_PASSWORD": API_KEY}),  # a wrong password is not echoed either
        run(["stats"], {**env, "NEO4J_URI": f"bolt://neo4j:{API_KEY}@127.0.0.1:9"}),
        Path(f"{log}.rejected.jsonl").read_text(),
    ]
    text = "\n".join(outputs) + every_property(graph)
    assert graph.read("MATCH (r:IngestRun) RETURN count(r) AS c")[0]["c"] >= 1  # the ingest did record itself
    assert API_KEY not in text
    assert neo4j_settings.password not in text


def test_app_binds_loopback_and_warns_for_any_other_host():
    args = cli_app.command_line(None)
    assert args[args.index("--server.address") + 1] == "127.0.0.1"
    assert cli_app.is_loopback("127.0.0.1") and cli_app.is_loopback("::1") and cli_app.is_loopback("localhost")
    assert not cli_app.is_loopback("0.0.0.0") and not cli_app.is_loopback("192.168.1.5")


@pytest.mark.parametrize("host,warned", [("0.0.0.0", True), ("127.0.0.1", False)])
def test_app_host_warning(monkeypatch, host, warned):
    calls = []
    monkeypatch.setattr(os, "execvp", lambda prog, args: calls.append(args))
    result = CliRunner().invoke(cli, ["app", "--host", host, "--port", "8599"])
    assert result.exit_code == 0 and calls and calls[0][calls[0].index("--server.address") + 1] == host
    assert ("warning" in result.stderr) is warned
