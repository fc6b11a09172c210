"""The CLI contract: exit codes, JSON output, clear errors without tracebacks,
and the managed server's lifecycle and error paths."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from provex.app.cli import cli
from provex.graph import schema
from provex.graph.server import ManagedServer, free_port
from provex.graph.writer import Writer
from provex.vocab import model
from provex.vocab.errors import ServerError
from provex.vocab.records import Node


def invoke(*args: str, env: dict | None = None):
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=True)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def test_stats_json_counts_nodes_and_edges(graph):
    with Writer(graph, "t") as w:
        w.add_all([Node(model.run("a"), {}), Node(model.run("b"), {}), Node(model.agent("ann"), {})])
    result = invoke("stats", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.output) == {"nodes": {"Agent": 1, "Run": 2}, "edges": {}}


def test_cypher_json_and_refused_write(graph):
    ok = invoke("cypher", "RETURN $x + 1 AS y", "--param", "x=41", "--format", "json")
    assert ok.exit_code == 0 and json.loads(ok.output) == [{"y": 42}]
    refused = invoke("cypher", "CREATE (n:Run {uid: 'x'})")
    assert refused.exit_code == 2 and "read-only" in refused.output
    assert graph.read("MATCH (n) RETURN count(n) AS c") == [{"c": 0}]


def test_bad_param_is_a_usage_error(graph):
    result = invoke("cypher", "RETURN 1", "--param", "novalue")
    assert result.exit_code == 2 and "name=value" in result.output


def test_search_json_items_carry_a_ref(graph):
    with Writer(graph, "t") as w:
        w.add(Node(model.model_version("credit-limit", 3), {"name": "credit-limit", "version": "3"}))
    schema.refresh_search(graph)  # the full-text index is eventually consistent; an ingest waits for it
    result = invoke("search", "credit-limit", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.output)[0]["ref"] == "model:credit-limit@3"


def test_wrong_password_is_a_clear_error(neo4j_settings, graph):
    env = {"NEO4J_URI": neo4j_settings.uri, "NEO4J_PASSWORD": "not-the-password"}
    result = invoke("stats", env=env)
    assert result.exit_code == 1
    assert "refused the credentials" in result.output and "NEO4J_PASSWORD" in result.output


def test_unreachable_server_is_a_clear_error():
    env = {"NEO4J_URI": f"bolt://127.0.0.1:{free_port()}", "NEO4J_PASSWORD": "x"}
    result = invoke("stats", env=env)
    assert result.exit_code == 1
    assert "Cannot reach Neo4j" in result.output and "provex neo4j start" in result.output


def test_start_with_neo4j_uri_only_checks_the_server(neo4j_settings):
    result = invoke("neo4j", "start")
    assert result.exit_code == 0 and "nothing to start" in result.output and neo4j_settings.uri in result.output


def test_console_script_prints_no_traceback_for_user_errors(neo4j_settings):
    exe = Path(sys.executable).with_name("provex")
    done = subprocess.run([str(exe), "cypher", "MATCH (n) DELETE n"], capture_output=True, text=True)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and done.stderr.startswith("error: Refused")


def test_managed_server_reports_a_taken_port(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        server = ManagedServer(tmp_path / "neo4j", tmp_path / "cache", port=port)
        with pytest.raises(ServerError, match=f"Port {port} .* already in use.*--pick-free-port"):
            server._choose_port(port, pick_free=False)
        assert server._choose_port(port, pick_free=True) != port


def test_managed_server_status_when_stopped(tmp_path):
    status = ManagedServer(tmp_path / "neo4j", tmp_path / "cache", port=7999).status()
    assert not status.running and status.pid is None and status.uri == "bolt://127.0.0.1:7999"


def test_managed_server_lifecycle_and_failed_start_shows_the_log(neo4j_settings, tmp_path):
    """A second managed server in its own home: starts, is reused, stops; a
    broken config makes start fail with the tail of the server's log."""
    cache = Path.home() / ".cache/provex"
    server = ManagedServer(tmp_path / "neo4j", cache, port=free_port())
    try:
        started = server.start()
        assert started.running and started.note == "started"
        assert (server.password_file.stat().st_mode & 0o777) == 0o600
        assert server.start().note == "already running; reused"
    finally:
        assert server.stop()
    assert not server.status().running
    conf = server._conf
    server._conf = lambda port: conf(port) + "server.memory.pagecache.size=not-a-size\n"
    with pytest.raises(ServerError, match="exited during start-up|did not start"):
        server.start(timeout=90)


def test_missing_java_and_maven_are_named(tmp_path, monkeypatch):
    from provex.graph.server import check_java

    monkeypatch.setenv("PATH", str(tmp_path))  # neither java nor mvn on it
    with pytest.raises(ServerError, match="Java 17\\+ is needed"):
        check_java()
    server = ManagedServer(tmp_path / "neo4j", tmp_path / "empty-cache", port=free_port())
    with pytest.raises(ServerError, match="Maven \\(`mvn`\\) is needed"):
        server.fetch()


def test_too_old_java_is_named(tmp_path, monkeypatch):
    from provex.graph.server import check_java

    fake = tmp_path / "java"
    fake.write_text('#!/bin/sh\necho \'openjdk version "11.0.2" 2019-01-15\' >&2\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ServerError, match="needs Java 17\\+, found Java 11"):
        check_java()


def write_log(path: Path, ids: list[str]) -> Path:
    rows = [{"prediction_id": i, "timestamp": "2026-03-01T10:00:00Z", "model_name": "m", "model_version": "1",
             "output": 1.0} for i in ids]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_watch_ingests_every_config_source_each_round(graph, tmp_path):
    log = write_log(tmp_path / "preds.jsonl", ["p1", "p2"])
    config = tmp_path / "provex.toml"
    config.write_text('[[source]]\nkind = "predictions"\nfiles = ["preds.jsonl"]\n')
    result = invoke("watch", "--config", str(config), "--every", "1", "--times", "2")
    assert result.exit_code == 0 and "round 2 done" in result.output
    runs = graph.read("MATCH (i:IngestRun)-[:PART_OF]->(s:Source {name: $uri}) RETURN count(i) AS c",
                      {"uri": str(log.resolve())})
    assert runs == [{"c": 2}]
    assert graph.read("MATCH (p:Prediction) RETURN count(p) AS c") == [{"c": 2}]


def test_bad_config_is_a_usage_error(graph, tmp_path):
    config = tmp_path / "provex.toml"
    config.write_text("[[source]\nkind = ")
    result = invoke("ingest", "--config", str(config))
    assert result.exit_code == 2 and "invalid TOML" in result.output and str(config) in result.output
    config.write_text('[[source]]\nkind = "svn"\n')
    result = invoke("ingest", "--config", str(config))
    assert result.exit_code == 2 and "kind 'svn'" in result.output
