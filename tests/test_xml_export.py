"""XML exports of hostile text: every character XML 1.0 refuses (C0 controls, NUL,
U+FFFE, lone surrogates) is escaped, and property names that are no XML name
(spaces, a leading digit, ``:``) are encoded, so prov-xml, prov-o-xml (RDF/XML)
and graphml parse with a strict parser: xml.etree, and rdflib for RDF/XML.
Once on a Subgraph built by hand, once through ``provex export`` of an
ingested OpenLineage event."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
import rdflib
from click.testing import CliRunner

from provex.app.cli import cli
from provex.graph.export import XML_FORMATS, serialize, xml_text
from provex.graph.lineage import Subgraph

HOSTILE = "id\x1b[2J\x00\x01\x08\x0b\x0c\x1f\ufffe\uffff\ud800 é\x85\x9b<&>\"' ]]>"


def strict(text: str, fmt: str) -> None:
    ET.fromstring(text.encode("utf-8"))
    if fmt == "prov-o-xml":
        rdflib.Graph().parse(data=text, format="xml")


def test_xml_text_escapes_exactly_what_xml_refuses():
    assert xml_text("a\x1bb\x00\tc\n\r\ufffe") == "a\\u001bb\\u0000\tc\n\r\\ufffe"
    assert xml_text("é\x85 日本 🔥") == "é\x85 日本 🔥"


@pytest.mark.parametrize("fmt", XML_FORMATS)
def test_every_xml_export_of_hostile_text_parses_strictly(fmt):
    uid = f"prediction:{HOSTILE}"
    sub = Subgraph(root=uid, truncated=True, notes=[HOSTILE], nodes=[
        {"uid": uid, "label": "Prediction", "name": HOSTILE, "placeholder": False, "output": HOSTILE,
         "inputs": [HOSTILE, 1], "param.learning rate": 0.1, "1st": 2, "a:b": 3, f"k{HOSTILE}": HOSTILE},
        {"uid": "model:m@1", "label": "ModelVersion", "name": "m@1", "placeholder": False}],
        edges=[{"src": uid, "dst": "model:m@1", "type": "PREDICTED_BY", "note": HOSTILE}])
    text = serialize(sub, fmt)
    strict(text, fmt)
    assert "\\u001b[2J" in text  # escaped, not dropped


def test_cli_export_of_an_ingested_id_with_controls(graph, tmp_path):
    job = "job\x1b]0;title\x07\x1b[2J\x0b"
    event = {"eventType": "COMPLETE", "eventTime": "2026-04-02T10:15:00Z", "producer": "https://example.com/t",
             "run": {"runId": "3f5e83fa-3480-44ff-99c5-ff943904e5e8"}, "job": {"namespace": "ns", "name": job},
             "inputs": [{"namespace": "s3://b", "name": "in\x00put\x1b"}], "outputs": [{"namespace": "s3://b", "name": "out"}]}
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps(event) + "\n")
    runner = CliRunner()
    assert runner.invoke(cli, ["ingest", "openlineage", str(path)]).exit_code == 0
    for fmt in XML_FORMATS:
        out = tmp_path / f"x.{fmt}"
        done = runner.invoke(cli, ["export", "run:3f5e83fa-3480-44ff-99c5-ff943904e5e8", "--format", fmt,
                                   "--both", "--output", str(out)])
        assert done.exit_code == 0, done.output
        text = out.read_text(encoding="utf-8")
        strict(text, fmt)
        assert "\\u001b]0;title\\u0007" in text and "in\\u0000put" in text
