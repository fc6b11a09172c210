"""Shared fixtures: one real Neo4j for the whole test session, started by
provex itself (its own home folder and a free port, never the user's
instance), and a cleared graph for every test that asks for ``graph``.

Set NEO4J_URI (and NEO4J_PASSWORD) to run the suite against another Neo4j 5
instead; its database is cleared, so never point it at data you keep.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from graph import schema
from graph.connection import Graph, Settings
from graph.server import ManagedServer, free_port

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
CORPUS = ROOT.parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def neo4j_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    if os.environ.get("NEO4J_URI"):
        yield Settings.from_env()
        return
    home = Path(os.environ.get("PROVEX_TEST_HOME", tmp_path_factory.mktemp("neo4j-home")))
    cache = Path(os.environ.get("PROVEX_CACHE", Path.home() / ".cache/provex"))
    server = ManagedServer(home / "neo4j", cache, port=free_port())
    status = server.start(pick_free=True)
    os.environ.update({"NEO4J_URI": status.uri, "NEO4J_USERNAME": "neo4j", "NEO4J_PASSWORD": server.password()})
    try:
        yield Settings.from_env()
    finally:
        for var in ("NEO4J_URI", "NEO4J_USERNAME", "NEO4J_PASSWORD"):
            os.environ.pop(var, None)
        server.stop()


@pytest.fixture(scope="session")
def session_graph(neo4j_settings: Settings) -> Iterator[Graph]:
    graph = Graph.connect(neo4j_settings)
    schema.apply(graph)
    yield graph
    graph.close()


@pytest.fixture
def graph(session_graph: Graph) -> Graph:
    """The real Neo4j, emptied before the test."""
    schema.clear(session_graph)
    return session_graph


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    return CORPUS
