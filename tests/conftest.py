"""Shared fixtures: one real Neo4j for the whole test session, started by
provex itself (its own home folder and a free port, never the user's
instance), a cleared graph for every test that asks for ``graph``, and the
sample story (``sample``), ingested once and kept for every test that only
reads it.

Every test that needs the server (through ``neo4j_settings``) is marked
``neo4j`` at collection, so ``pytest -m "not neo4j"`` runs the rest without
Java.

Set NEO4J_URI (and NEO4J_PASSWORD) to run the suite against another Neo4j 5
instead; its database is cleared, so never point it at data you keep.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sample import load_sample

from provex.graph import schema
from provex.graph.connection import Graph, Settings
from provex.graph.server import ManagedServer, free_port

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
CORPUS = ROOT.parent / "shared" / "corpus"

# The gate is deterministic: `make test` runs the property tests with the same
# cases on every run of a commit (derandomized, no example database). `make
# test-long` explores with random seeds and keeps hypothesis's database, so a
# failure it finds is replayed next time; pin each one with @example.
hypothesis_settings.register_profile("gate", derandomize=True, database=None, print_blob=True)
hypothesis_settings.register_profile("explore", derandomize=False, print_blob=True)
hypothesis_settings.load_profile(os.environ.get("PROVEX_HYPOTHESIS", "gate"))


@pytest.fixture(scope="session")
def neo4j_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    if os.environ.get("NEO4J_URI"):
        yield Settings.from_env()
        return
    os.environ["PROVEX_PREDICTIONS"] = str(tmp_path_factory.mktemp("predictions"))  # the store beside the test graph
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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that need Neo4j; run the sample readers last, together,
    so the sample is ingested once (each test still gets the state it asks for)."""
    for item in items:
        if "neo4j_settings" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.neo4j)
    items.sort(key=lambda item: "sample" in getattr(item, "fixturenames", ()))


@pytest.fixture
def graph(session_graph: Graph) -> Graph:
    """The real Neo4j, emptied before the test."""
    schema.clear(session_graph)
    return session_graph


def _ingest_runs(graph: Graph) -> list[str]:
    return [r["uid"] for r in graph.read("MATCH (r:IngestRun) RETURN r.uid AS uid ORDER BY uid")]


@pytest.fixture(scope="session")
def _sample_cache() -> dict:
    return {}


@pytest.fixture
def sample(session_graph: Graph, tmp_path_factory: pytest.TempPathFactory, _sample_cache: dict) -> dict:
    """The sample story, ingested through ``provex ingest --config`` into the
    session graph; ingested again only when the graph no longer holds exactly
    that ingest (its IngestRun nodes), so the tests that only read it share one."""
    if not _sample_cache or _ingest_runs(session_graph) != _sample_cache["runs"]:
        schema.clear(session_graph)
        loaded = load_sample(session_graph, tmp_path_factory.mktemp("sample"))
        assert loaded["exit_code"] == 0, loaded["stderr"]
        _sample_cache.update(loaded=loaded, runs=_ingest_runs(session_graph))
    return _sample_cache["loaded"]


@pytest.fixture
def g(sample: dict, session_graph: Graph) -> Graph:
    """The graph holding the sample (read only)."""
    return session_graph


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    return CORPUS
