"""provex explain on the sample's five complaints (sample_data/expected.json,
``stories``: each with the cause the generator built into it): the cents data
version, a library upgrade, a feature code commit, a misfiring override rule,
and two spouses whose inputs alone explain the gap. Each must come first;
the CLI's JSON schema, the catalog question, the decision record and, with the
model run, the replay's share of the gap."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sample import expected

from provex.app import explain as explain_app
from provex.app.cli import cli
from provex.graph.connection import Graph
from provex.graph.explain import explain
from provex.graph.questions import ask
from provex.vocab import model as m

X = expected()
STORIES = X["stories"]


def mv(key: str) -> str:
    name, version = key.split("@")
    return m.model_version(name, version).uid


def first(g: Graph, story: str) -> tuple[dict[str, Any], dict[str, Any]]:
    s = STORIES[story]
    got = explain(g, s["prediction"], s["against"])
    return got, got["causes"][0]


def test_the_cents_data_version_behind_the_model_change(g: Graph) -> None:
    want = STORIES["cents"]["first_cause"]
    got, top = first(g, "cents")
    raw = m.data_version(want["data_version"]["path"], want["data_version"]["md5"]).uid
    assert (top["kind"], top["evidence"]["model_version"]) == (want["kind"], mv(want["model_version"]))
    assert (top["origin"]["data_version"], top["origin"]["commit"]["sha"]) == (raw, want["commit"])
    assert top["origin"]["anomaly"]["column"] and top["origin"]["anomaly"]["factor"] >= 10
    assert top["reach"]["predictions"] == STORIES["cents"]["reach"]
    assert {c["kind"] for c in got["causes"][1:3]} == {"data anomaly upstream", "upstream chained model"}


def test_a_library_upgrade(g: Graph) -> None:
    want = STORIES["library"]["first_cause"]
    got, top = first(g, "library")
    assert (top["kind"], top["evidence"]["model_version"]) == (want["kind"], mv(want["model_version"]))
    assert {"name": want["library"], "from": want["from"], "to": want["to"]} in top["origin"]["libraries"]
    assert top["origin"]["commit"]["sha"] == want["commit"]
    assert top["reach"]["predictions"] == STORIES["library"]["reach"]
    assert "only in its environment" in got["headline"]


def test_a_code_commit_that_changed_a_feature(g: Graph) -> None:
    want = STORIES["code"]["first_cause"]
    got, top = first(g, "code")
    assert (top["kind"], top["evidence"]["model_version"]) == (want["kind"], mv(want["model_version"]))
    assert top["origin"]["kind"] == "code" and want["path"] in top["origin"]["paths"]
    assert top["origin"]["commit"]["sha"] == want["commit"] and top["origin"]["commit"]["author"]
    assert top["reach"]["predictions"] == STORIES["code"]["reach"]
    assert want["commit"][:7] in got["headline"]


def test_an_override_rule_that_misfired(g: Graph) -> None:
    want = STORIES["override"]["first_cause"]
    got, top = first(g, "override")
    assert (top["kind"], top["evidence"]["rule"]) == (want["kind"], want["rule"])
    assert (top["evidence"]["original"], top["evidence"]["final"]) == (want["original"], want["final"])
    assert top["share"] == pytest.approx(1.0) and top["basis"] == "exact"
    assert top["reach"]["predictions"] == STORIES["override"]["reach"]
    assert [c["kind"] for c in got["causes"]] == ["override"]  # same model versions, same inputs: nothing else


def test_the_inputs_explain_it_and_no_version_is_blamed(g: Graph) -> None:
    want = STORIES["inputs"]
    got, top = first(g, "inputs")
    assert top["kind"] == want["first_cause"]["kind"] and top["evidence"]["same_model_versions"]
    assert {d["input"] for d in top["evidence"]["differing"]} == set(want["first_cause"]["inputs"])
    assert not {c["kind"] for c in got["causes"]} & {"model version change", "upstream chained model",
                                                        "environment/library change", "data anomaly upstream"}
    assert "nothing upstream differs" in got["headline"]
    assert all(v in got["headline"] for v in want["same_model_versions"])


def test_alone_the_complaint_is_explained_by_the_last_known_good_and_the_cents(g: Graph) -> None:
    """`provex explain cl-001528`: the model change first, its origin the cents data version, in JSON."""
    cents = STORIES["cents"]
    result = CliRunner().invoke(cli, ["explain", cents["prediction"], "--format", "json"])
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    assert got["schema"] == "provex.explain/1" and got["against"] is None
    top = got["causes"][0]
    assert {"rank", "kind", "evidence", "origin", "reach", "action"} <= set(top)
    raw = cents["first_cause"]["data_version"]
    assert (top["kind"], top["origin"]["path"], top["origin"]["hash"][:8]) == (
        "model version change", raw["path"], raw["md5"][:8])
    assert f"{raw['path']}@{raw['md5'][:8]}" in got["headline"] and cents["first_cause"]["commit"][:7] in got["headline"]
    assert f"{cents['reach']} predictions" in got["headline"]


def test_the_question_and_the_table(g: Graph) -> None:
    s = STORIES["override"]
    frame = ask(g, "explain", {"prediction": s["prediction"], "against": s["against"]})
    assert frame["kind"].tolist()[0] == "override" and frame["rank"].tolist() == list(range(1, len(frame) + 1))
    assert frame.attrs["headline"].startswith(f"{s['prediction']} vs {s['against']}: first cause (override)")
    result = CliRunner().invoke(cli, ["explain", s["prediction"], "--against", s["against"]])
    assert result.exit_code == 0 and result.stdout.splitlines()[0].startswith(f"{s['prediction']} = 2,500 vs ")


def test_the_decision_record(g: Graph, tmp_path: Path) -> None:
    cents = STORIES["cents"]
    target = tmp_path / "record.html"
    result = CliRunner().invoke(cli, ["explain", cents["prediction"], "--against", cents["against"], "--format", "html",
                                      "--output", str(target)])
    assert result.exit_code == 0, result.output
    text = target.read_text()
    raw = cents["first_cause"]["data_version"]
    bad = m.data_version(raw["path"], raw["md5"]).uid
    assert "<svg" in text and f'class="node flagged path" data-id="{bad}"' in text  # flagged, on the bold path
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", text) and "<link" not in text
    for needle in (raw["md5"][:8], X["model_versions"][cents["first_cause"]["model_version"]]["run_id"],
                   cents["first_cause"]["commit"], "Hashes", "Inputs"):
        assert needle in text
    data = json.loads(re.search(r'<script type="application/json" id="explanation">(.*?)</script>', text, re.S).group(1))
    assert data["causes"][0]["kind"] == "model version change"


def test_with_the_model_run_the_swap_explains_two_thirds_of_the_gap(g: Graph) -> None:
    cents = STORIES["cents"]
    got = explain_app.explain(g, cents["prediction"], cents["against"], allow_run=True, record_it=False)
    top = got["causes"][0]
    assert (top["kind"], top["basis"]) == ("model version change", "replay")
    assert 0.5 < top["share"] < 0.9 and "of the gap" in got["headline"]
    assert got["replay"]["attribution"]["outcome"] == "attributed"


def test_warming_asks_every_question_once_without_a_failure(g: Graph) -> None:
    """`provex neo4j warm` (run by make ingest-sample): every catalog question asked about some node of its kind."""
    from provex.graph.questions import CATALOG
    from provex.graph.warm import warm

    report = warm(g)
    assert report["failed"] == {} and report["skipped"] == []
    assert sorted(report["asked"]) == sorted(CATALOG)
