"""Lineage traversal, paths, REF resolution, renderings and exports against
small graphs written through the real writer into the real Neo4j."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import logged
import prov.model as pm
import pytest
from click.testing import CliRunner

from provex.app.cli import cli
from provex.graph.connection import Graph
from provex.graph.export import graphml, prov_json
from provex.graph.lineage import path_between, to_dot, to_mermaid, traverse
from provex.graph.refs import resolve
from provex.graph.writer import Writer
from provex.vocab import model as m
from provex.vocab.errors import UsageError
from provex.vocab.records import Edge, Node

RAW = m.data_version("data/raw.csv", "aa11" * 8)
PREP = m.data_version("data/prep.csv", "bb22" * 8)
ML = m.data_version("prep.csv", "digest1")
DVC_RUN, TRAIN = m.run("dvc:prepare@c1"), m.run("r1")
COMMIT, AGENT = m.code_version("c1" * 20), m.agent("Dana")
MODEL, V1, V2 = m.model("cl"), m.model_version("cl", 1), m.model_version("cl", 2)
P1, P2, OTHER = m.prediction("p1"), m.prediction("p2"), m.prediction("lonely")
G1, G2 = m.prediction_group(V1.uid, "2026-02-01T00"), m.prediction_group(V2.uid, "2026-03-05T00")
GRAPHML = "{http://graphml.graphdrawing.org/xmlns}"


def node(ref: m.Ref, **props: object) -> Node:
    return Node(ref, props, source="test")


def edge(etype: str, src: m.Ref, dst: m.Ref, **props: object) -> Edge:
    return Edge(etype, src, dst, props, source="test")


def write(graph: Graph, records: list, run: str = "test") -> None:
    with Writer(graph, run) as writer:
        writer.add_all(records)


def chain_records() -> list:
    """raw -> prepare run -> prep (SAME_AS ml) -> training run -> v1 -> p1;
    v2 trained by the same run -> p2; one unconnected prediction."""
    return [
        node(RAW, path="data/raw.csv", hash="aa11" * 8), node(PREP, path="data/prep.csv", hash="bb22" * 8),
        node(ML, path="prep.csv", hash="digest1", hash_kind="mlflow-digest"),
        node(DVC_RUN, kind="dvc-stage", stage="prepare"), node(TRAIN, run_id="r1", start_time="2026-01-05T10:00:00Z"),
        node(COMMIT, sha="c1" * 20), node(AGENT, name="Dana"), node(MODEL, name="cl"),
        node(V1, name="cl", version="1", created_at="2026-01-05T12:00:00Z"),
        node(V2, name="cl", version="2", created_at="2026-03-01T12:00:00Z"),
        edge("USED", DVC_RUN, RAW), edge("WAS_GENERATED_BY", PREP, DVC_RUN), edge("USED", DVC_RUN, COMMIT),
        edge("ASSOCIATED_WITH", COMMIT, AGENT), edge("SAME_AS", ML, PREP, method="path+commit", confidence=0.9),
        edge("USED", TRAIN, ML), edge("WAS_GENERATED_BY", V1, TRAIN), edge("WAS_GENERATED_BY", V2, TRAIN),
        edge("VERSION_OF", V1, MODEL),
    ]


def chain_predictions() -> list[dict]:
    """p1 by cl v1, p2 by cl v2, and one unconnected prediction (no model named)."""
    return [logged.line("p1", "cl", 1, "2026-02-01T00:00:00Z", 1.0), logged.line("p2", "cl", 2, "2026-03-05T00:00:00Z", 2.0),
            logged.line("lonely", "", 0, "2026-03-06T00:00:00Z", 3.0)]


def alias(mv: m.Ref, since: str) -> Edge:
    return Edge("HAS_ALIAS", MODEL, mv, {"alias": "production", "valid_from": since},
                key=("alias", "valid_from"), supersedes=("alias",), source="test")


@pytest.fixture
def chain(graph: Graph) -> Graph:
    write(graph, chain_records())
    logged.ingest(graph, chain_predictions())
    write(graph, [alias(V1, "2026-01-06T00:00:00Z")], "alias-1")
    write(graph, [alias(V2, "2026-03-02T00:00:00Z")], "alias-2")
    return graph


def uids(sub) -> set[str]:
    return {n["uid"] for n in sub.nodes}


def triples(sub) -> set[tuple[str, str, str]]:
    return {(e["src"], e["type"], e["dst"]) for e in sub.edges}


def test_upstream_follows_lineage_and_same_as(chain: Graph) -> None:
    sub = traverse(chain, P1.uid, direction="up", depth=10)
    assert uids(sub) == {P1.uid, V1.uid, TRAIN.uid, ML.uid, PREP.uid, DVC_RUN.uid, RAW.uid, COMMIT.uid}
    assert triples(sub) == {(P1.uid, "PREDICTED_BY", V1.uid), (V1.uid, "WAS_GENERATED_BY", TRAIN.uid),
                            (TRAIN.uid, "USED", ML.uid), (ML.uid, "SAME_AS", PREP.uid),
                            (PREP.uid, "WAS_GENERATED_BY", DVC_RUN.uid), (DVC_RUN.uid, "USED", RAW.uid),
                            (DVC_RUN.uid, "USED", COMMIT.uid)}
    assert not sub.truncated and sub.notes == [] and sub.root == P1.uid
    root = next(n for n in sub.nodes if n["uid"] == P1.uid)
    assert (root["label"], root["name"], root["placeholder"], root["timestamp"]) == ("Prediction", "p1", False, "2026-02-01T00:00:00Z")
    same_as = next(e for e in sub.edges if e["type"] == "SAME_AS")
    assert (same_as["method"], same_as["confidence"]) == ("path+commit", 0.9)


def test_downstream_reaches_models_predictions_and_aliases(chain: Graph) -> None:
    sub = traverse(chain, "data:data/raw.csv@aa11", direction="down", depth=10)
    assert uids(sub) == {RAW.uid, DVC_RUN.uid, PREP.uid, ML.uid, TRAIN.uid, V1.uid, V2.uid, P1.uid, P2.uid, MODEL.uid,
                         G1.uid, G2.uid}
    assert (MODEL.uid, "HAS_ALIAS", V2.uid) in triples(sub)
    assert not sub.truncated


def test_depth_limit_cuts_and_says_so(chain: Graph) -> None:
    sub = traverse(chain, P1.uid, direction="up", depth=2)
    assert uids(sub) == {P1.uid, V1.uid, TRAIN.uid}
    assert sub.truncated and any("depth limit 2" in note for note in sub.notes)
    whole = traverse(chain, OTHER.uid, direction="both", depth=1)
    assert uids(whole) == {OTHER.uid} and not whole.truncated


def test_node_cap_cuts_a_large_fan_out_and_counts_the_rest(graph: Graph) -> None:
    """2,000 predictions in one hour: the version's hourly group first, then its predictions, to the cap."""
    write(graph, [node(V1, name="cl", version="1")])
    logged.ingest(graph, [logged.line(f"fan-{i}", "cl", 1, f"2026-02-01T10:{i // 60 % 60:02d}:{i % 60:02d}Z", 1.0)
                          for i in range(2000)], nodes="none")
    sub = traverse(graph, V1.uid, direction="down", depth=3, node_cap=500)
    assert len(sub.nodes) == 500 and len(sub.edges) == 499
    assert sub.truncated
    assert sub.nodes[1]["label"] == "PredictionGroup"
    assert sub.notes == ["node cap 500 reached at depth 1 going down: 1,502 more Prediction nodes not shown"]
    full = traverse(graph, V1.uid, direction="down", depth=1, node_cap=5000)
    assert len(full.nodes) == 2002 and not full.truncated


def test_kinds_filter_keeps_root_and_bridges_hidden_nodes(chain: Graph) -> None:
    sub = traverse(chain, P1.uid, direction="up", depth=10, kinds=["DataVersion"])
    assert uids(sub) == {P1.uid, ML.uid, PREP.uid, RAW.uid}
    got = {(e["src"], e["type"], e["dst"], e.get("hops")) for e in sub.edges}
    assert got == {(P1.uid, "LINEAGE_PATH", ML.uid, 3), (ML.uid, "SAME_AS", PREP.uid, None),
                   (PREP.uid, "LINEAGE_PATH", RAW.uid, 2)}
    with pytest.raises(UsageError, match="Unknown node kind"):
        traverse(chain, P1.uid, kinds=["Banana"])


def test_as_of_follows_the_alias_that_held_then(chain: Graph) -> None:
    def versions(as_of: str | None) -> set[str]:
        sub = traverse(chain, MODEL.uid, direction="up", depth=1, as_of=as_of)
        return uids(sub) - {MODEL.uid}

    assert versions("2026-02-01T00:00:00Z") == {V1.uid}
    assert versions("2026-03-10") == {V2.uid}
    assert versions("2026-01-01T00:00:00Z") == set()
    assert versions(None) == {V1.uid, V2.uid}
    early = traverse(chain, TRAIN.uid, direction="down", depth=2, as_of="2026-02-15T00:00:00Z")
    assert uids(early) == {TRAIN.uid, V1.uid, P1.uid, MODEL.uid, G1.uid}
    with pytest.raises(UsageError, match="ISO 8601"):
        traverse(chain, TRAIN.uid, as_of="last tuesday")


def test_path_between_two_predictions(chain: Graph) -> None:
    sub = path_between(chain, "p1", "p2")
    assert [n["uid"] for n in sub.nodes] == [P1.uid, V1.uid, TRAIN.uid, V2.uid, P2.uid]
    assert triples(sub) == {(P1.uid, "PREDICTED_BY", V1.uid), (V1.uid, "WAS_GENERATED_BY", TRAIN.uid),
                            (V2.uid, "WAS_GENERATED_BY", TRAIN.uid), (P2.uid, "PREDICTED_BY", V2.uid)}
    none = path_between(chain, P1.uid, OTHER.uid)
    assert none.nodes == [] and "no lineage path" in none.notes[0]
    assert len(path_between(chain, P1.uid, RAW.uid, max_depth=3).nodes) == 0
    assert len(path_between(chain, P1.uid, RAW.uid, max_depth=6).nodes) == 7


def test_resolve_refs(chain: Graph) -> None:
    assert resolve(chain, V1.uid) == {"uid": V1.uid, "label": "ModelVersion", "name": "cl v1"}
    assert resolve(chain, "data:data/raw.csv@aa1")["uid"] == RAW.uid
    assert resolve(chain, "commit:c1c1")["label"] == "CodeVersion"
    assert resolve(chain, "bb22bb")["uid"] == PREP.uid
    assert resolve(chain, "model:cl")["label"] == "Model"  # exact uid wins over the versions' prefix
    with pytest.raises(UsageError, match="ambiguous: model:cl@1, model:cl@2"):
        resolve(chain, "model:cl@")
    with pytest.raises(UsageError, match="No node matches REF 'nope'. Try `provex search nope`"):
        resolve(chain, "nope")


def test_mermaid_and_dot(chain: Graph) -> None:
    sub = traverse(chain, P1.uid, direction="up", depth=2)
    text = to_mermaid(sub)
    assert text.startswith("flowchart LR\n")
    assert '  n0(["Prediction<br/>p1"])' in text and '  n1["ModelVersion<br/>cl v1"]' in text
    assert "  n0 -->|PREDICTED_BY| n1" in text and text.count("-->") == 2
    assert "%% depth limit 2" in text
    dot = to_dot(sub)
    assert dot.startswith("digraph lineage {") and dot.rstrip().endswith("}")
    assert f'"{P1.uid}" -> "{V1.uid}" [label="PREDICTED_BY"];' in dot
    assert dot.count(" -> ") == 2


def test_prov_json_is_valid_prov(chain: Graph) -> None:
    sub = traverse(chain, P1.uid, direction="up", depth=10)
    doc = pm.ProvDocument.deserialize(content=json.dumps(prov_json(sub)), format="json")
    records = doc.get_records()
    kinds = {}
    for record in records:
        kinds[type(record).__name__] = kinds.get(type(record).__name__, 0) + 1
    assert kinds == {"ProvEntity": 6, "ProvActivity": 2, "ProvUsage": 3, "ProvGeneration": 2,
                     "ProvDerivation": 1, "ProvInfluence": 1}
    entity = next(r for r in doc.get_records(pm.ProvEntity) if str(r.identifier).endswith("prediction%3Ap1"))
    attrs = {str(k): v for k, v in entity.attributes}
    assert str(attrs["prov:type"]) == "provex:Prediction" and attrs["provex:uid"] == P1.uid
    derivation = next(iter(doc.get_records(pm.ProvDerivation)))
    assert {str(k): str(v) for k, v in derivation.attributes}["provex:type"] == "PREDICTED_BY"


def test_graphml_parses(chain: Graph) -> None:
    sub = traverse(chain, P1.uid, direction="up", depth=10)
    root = ET.fromstring(graphml(sub))
    graph_el = root.find(f"{GRAPHML}graph")
    assert {n.get("id") for n in graph_el.findall(f"{GRAPHML}node")} == uids(sub)
    keys = {k.get("id"): k.get("attr.name") for k in root.findall(f"{GRAPHML}key")}
    edges = {(e.get("source"), next(d.text for d in e if keys[d.get("key")] == "type"), e.get("target"))
             for e in graph_el.findall(f"{GRAPHML}edge")}
    assert edges == triples(sub)


def test_cli_lineage_path_and_export(chain: Graph, tmp_path) -> None:
    runner = CliRunner()
    out = runner.invoke(cli, ["lineage", "p1", "--up", "--depth", "2", "--format", "mermaid"])
    assert out.exit_code == 0 and "n0 -->|PREDICTED_BY| n1" in out.output
    data = runner.invoke(cli, ["lineage", "p1", "--format", "json", "--kind", "DataVersion", "--depth", "10"])
    assert {n["uid"] for n in json.loads(data.stdout)["nodes"]} == {P1.uid, ML.uid, PREP.uid, RAW.uid}
    assert runner.invoke(cli, ["path", "p1", "p2", "--format", "dot"]).exit_code == 0
    missing = runner.invoke(cli, ["lineage", "nope"])
    assert missing.exit_code == 2 and "No node matches" in missing.output and "Traceback" not in missing.output
    assert runner.invoke(cli, ["lineage", "p1", "--depth", "99"]).exit_code == 2
    target = tmp_path / "p1.json"
    exported = runner.invoke(cli, ["export", "p1", "--format", "prov-json", "--depth", "10", "-o", str(target)])
    assert exported.exit_code == 0
    assert len(list(pm.ProvDocument.deserialize(content=target.read_text(), format="json").get_records(pm.ProvEntity))) == 6
    xml = runner.invoke(cli, ["export", "p1", "--format", "graphml"])
    assert xml.exit_code == 0 and ET.fromstring(xml.stdout.encode()).tag == f"{GRAPHML}graphml"


def test_time_limit_cuts_and_says_so(chain: Graph) -> None:
    sub = traverse(chain, P1.uid, direction="up", depth=5, time_limit=0)
    assert uids(sub) == {P1.uid} and sub.truncated
    assert sub.notes == ["time limit reached at depth 1 going up: deeper lineage not shown"]


def test_every_prov_serialisation_reads_back_the_same_document(chain: Graph) -> None:
    import io

    import networkx as nx

    from provex.graph.export import FORMATS, serialize

    sub = traverse(chain, P1.uid, direction="up", depth=10)
    reference = pm.ProvDocument.deserialize(content=serialize(sub, "prov-json"), format="json")
    readers = {"prov-xml": {"format": "xml"}, "prov-o": {"format": "rdf", "rdf_format": "turtle"},
               "prov-o-nt": {"format": "rdf", "rdf_format": "nt"}, "prov-o-xml": {"format": "rdf", "rdf_format": "xml"}}
    for fmt, how in readers.items():
        doc = pm.ProvDocument.deserialize(content=serialize(sub, fmt), **how)
        assert {e.identifier.uri for e in doc.get_records(pm.ProvElement)} == \
            {e.identifier.uri for e in reference.get_records(pm.ProvElement)}, fmt
        assert len(list(doc.get_records(pm.ProvDerivation))) == len(list(reference.get_records(pm.ProvDerivation))), fmt
    provn = serialize(sub, "prov-n")
    assert provn.startswith("document") and "entity(node:prediction%3Ap1, [prov:type='provex:Prediction'" in provn
    assert json.loads(serialize(sub, "prov-jsonld"))["@context"]
    read = nx.read_graphml(io.BytesIO(serialize(sub, "graphml").encode()))
    assert set(read.nodes) == uids(sub) and {(a, d["type"], b) for a, b, d in read.edges(data=True)} == triples(sub)
    assert set(FORMATS) == {*readers, "prov-json", "prov-jsonld", "prov-n", "graphml"}
    turtle = CliRunner().invoke(cli, ["export", "p1", "--format", "prov-o", "--depth", "10"])
    assert turtle.exit_code == 0 and "@prefix prov: <http://www.w3.org/ns/prov#>" in turtle.stdout
