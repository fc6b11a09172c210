"""provex through a ``neo4j://`` routing URI: the scheme a cluster or Aura is
reached by. The routing driver asks the server for its routing table, sends
``execute_write`` to the leader and ``execute_read`` to followers; against
the single test server, every role is that server, so the same code path runs."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from provex.app.cli import cli
from provex.graph.connection import Graph, Settings


def routing(settings: Settings) -> Settings:
    scheme, _, rest = settings.uri.partition("://")
    assert scheme == "bolt"
    return Settings(f"neo4j://{rest}", settings.username, settings.password, settings.database, managed=False)


def test_cli_ingests_and_answers_through_a_routing_uri(graph, neo4j_settings, tmp_path: Path):
    settings = routing(neo4j_settings)
    log = tmp_path / "p.jsonl"
    log.write_text(json.dumps({"prediction_id": "r-1", "timestamp": "2026-04-02T10:15:00Z", "model_name": "m",
                               "model_version": "1", "inputs": {"x": 1}, "output": 2.0}) + "\n")
    env = {"NEO4J_URI": settings.uri, "NEO4J_USERNAME": settings.username, "NEO4J_PASSWORD": settings.password}
    runner = CliRunner()

    ingested = runner.invoke(cli, ["ingest", "predictions", str(log), "--format", "json"], env=env)
    assert ingested.exit_code == 0, ingested.output
    assert json.loads(ingested.stdout)["written"]["Prediction"] == 1

    asked = runner.invoke(cli, ["cypher", "MATCH (p:Prediction) RETURN p.uid AS uid", "--format", "json"], env=env)
    assert asked.exit_code == 0, asked.output
    assert json.loads(asked.stdout) == [{"uid": "prediction:r-1"}]

    with Graph.connect(settings) as direct:
        assert direct.read("MATCH (p:Prediction {uid: 'prediction:r-1'}) RETURN count(p) AS n")[0]["n"] == 1
