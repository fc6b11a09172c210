"""Load the real sample story (``sample_data/``) into a graph, the way
``make demo`` does: ``sample_data/restore.py`` lays out the DVC repository
and the MLflow store in a working folder and writes ``provex.toml``, then
``provex ingest --config provex.toml --format json`` ingests every source
through the real adapters (DVC, MLflow, prediction logs).

Also the one place that reads ``sample_data/expected.json`` (the generator's
ground truth) for the tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from provex.graph.connection import Graph

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"


@cache
def expected() -> dict[str, Any]:
    """The generator's ground truth, ``sample_data/expected.json``."""
    return json.loads((SAMPLE / "expected.json").read_text())


def restore(workdir: Path) -> Path:
    """Run ``sample_data/restore.py WORKDIR``; the path of the provex.toml it wrote."""
    done = subprocess.run([sys.executable, str(SAMPLE / "restore.py"), str(workdir)],
                          capture_output=True, text=True, check=False, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"sample_data/restore.py failed ({done.returncode}): {done.stderr[-2000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def json_documents(text: str) -> list[Any]:
    """Every JSON document in ``text`` (the CLI prints one summary per source)."""
    decoder, docs, pos = json.JSONDecoder(), [], 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return docs
        doc, pos = decoder.raw_decode(text, pos)
        docs.append(doc)


def ingest_config(config: Path) -> dict[str, Any]:
    """``provex ingest --config CONFIG --format json`` in-process (the CLI
    connects to the Neo4j that NEO4J_URI names, as the test session sets it)."""
    from provex.app.cli import cli

    result = CliRunner().invoke(cli, ["ingest", "--config", str(config), "--format", "json"])
    return {"exit_code": result.exit_code, "summaries": json_documents(result.stdout),
            "stderr": result.stderr, "exception": result.exception}


def load_sample(graph: Graph, workdir: Path) -> dict[str, Any]:
    """Restore the sample into ``workdir`` and ingest all of it into the graph
    the environment names (``graph`` must be that same database: it is used to
    count what landed). Returns the config path, the CLI exit code, one summary
    per ingested source and the node counts per label."""
    config = restore(workdir)
    result = ingest_config(config)
    counts = graph.read("MATCH (n:Node) UNWIND [l IN labels(n) WHERE l <> 'Node'] AS label "
                        "RETURN label, count(*) AS count")
    return {"config": config, **result, "counts": {r["label"]: r["count"] for r in counts}}


def reingest_predictions(graph: Graph, config: Path, mode: str) -> dict[str, Any]:
    """The sample's prediction logs ingested again from nothing with
    ``prediction_nodes = MODE``: their nodes, groups, sources and stored
    predictions removed first (the DVC and MLflow parts stay)."""
    graph.write("MATCH (n:Node) WHERE n:Prediction OR n:Override OR n:PredictionGroup OR n:Conflict DETACH DELETE n")
    graph.write("MATCH (s:Source {kind: 'predictions'}) OPTIONAL MATCH (i:IngestRun)-[:PART_OF]->(s) DETACH DELETE s, i")
    graph.facts.clear()
    text = config.read_text().replace('kind = "predictions"', f'kind = "predictions"\nprediction_nodes = "{mode}"')
    only = config.with_name(f"predictions-{mode}.toml")
    only.write_text("".join("[[source]]" + t for t in text.split("[[source]]")[1:] if 'kind = "predictions"' in t))
    return ingest_config(only)
