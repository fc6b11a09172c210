"""Search by what people know, ranked exact > prefix > fuzzy, and REFs typed
as plain names; hostile search text bounded. A small graph written through
the real writer into the real Neo4j, plus the sample story (``g``)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import logged
import pytest
from click.testing import CliRunner
from sample import expected

from provex.app.cli import cli
from provex.graph import schema, search
from provex.graph.refs import resolve
from provex.graph.writer import Writer
from provex.vocab import model as m
from provex.vocab.errors import UsageError
from provex.vocab.records import Edge, Node

ODD_IDS = ("myjob.buggy_task🕷", "job`with`backticks", "é🔥日本", "a+b (c) [d]: e~f*g?", 'quote"d\\path')


def node(ref: m.Ref, **props: object) -> Node:
    return Node(ref, props, source="test")


def write_world(graph) -> None:
    """Two registered models, their versions, a household's predictions, a
    commit, data versions, and stages named with punctuation and emoji."""
    records = [node(m.model("credit-limit"), name="credit-limit"),
               node(m.model("credit-limit-eu"), name="credit-limit-eu"),
               node(m.dataset("models/credit_limit.pkl"), path="models/credit_limit.pkl", name="credit_limit.pkl"),
               node(m.data_version("models/credit_limit.pkl", "9" * 32), path="models/credit_limit.pkl", hash="9" * 32),
               node(m.code_version("ab" * 20), sha="ab" * 20, message="Add 2026-02 transactions")]
    for v in (1, 2):
        records += [node(m.model_version("credit-limit", v), name="credit-limit", version=str(v)),
                    Edge("VERSION_OF", m.model_version("credit-limit", v), m.model("credit-limit"), {}, source="t")]
    records += [node(m.stage("ol", name), name=name) for name in ODD_IDS]
    records.append(node(m.stage("ol", "buggy_task"), name="buggy_task"))
    with Writer(graph, "search-test") as writer:
        writer.add_all(records)
    logged.ingest(graph, [logged.line(pid, "", 0, "2026-03-01T10:00:00Z", 1.0, subject=subject,
                                      household="hh-7" if subject != "s-3" else "hh-8")
                          for pid, subject in (("p-1", "s-1"), ("p-2", "s-2"), ("p-3", "s-3"))])
    schema.refresh_search(graph)


@pytest.fixture
def world(graph):
    write_world(graph)
    return graph


def refs(hits: list[dict]) -> list[str]:
    return [h["ref"] for h in hits]


def test_exact_name_ranks_first_then_prefix_then_fuzzy(world):
    hits = search.search(world, "credit-limit")
    assert hits[0]["ref"] == "model:credit-limit" and hits[0]["match"] == "exact"
    tiers = [h["match"] for h in hits]
    assert tiers == sorted(tiers, key=["exact", "prefix", "fuzzy"].index)
    assert {"model:credit-limit@1", "model:credit-limit@2", "model:credit-limit-eu"} <= {
        h["ref"] for h in hits if h["match"] == "prefix"}
    assert "dataset:models/credit_limit.pkl" in refs(hits)


def test_every_hit_has_a_readable_name(world):
    hits = search.search(world, "credit_limit.pkl")
    version = next(h for h in hits if h["label"] == "DataVersion")
    assert version["name"].startswith("models/credit_limit.pkl@9999")
    assert all(isinstance(h["name"], str) and h["name"] for h in hits)


def test_household_and_subject_ids_find_their_predictions(world):
    hits = search.search(world, "hh-7")
    assert refs(hits)[:2] == ["prediction:p-1", "prediction:p-2"]
    assert all(h["match"] == "exact" for h in hits[:2]) and "prediction:p-3" not in refs(hits)[:2]
    assert "household_id=hh-7" in hits[0]["detail"]
    assert refs(search.search(world, "s-3"))[0] == "prediction:p-3"


def test_commit_message_and_sha_prefix(world):
    assert refs(search.search(world, "2026-02 transactions"))[0] == f"commit:{'ab' * 20}"
    assert refs(search.search(world, "abab"))[0] == f"commit:{'ab' * 20}"


@pytest.mark.parametrize("name", ODD_IDS)
def test_exact_search_of_ids_with_punctuation_and_emoji(world, name):
    hits = search.search(world, name)
    assert hits[0]["ref"] == f"stage:ol:{name}" and hits[0]["match"] == "exact"


def test_a_word_inside_a_name_still_finds_it(world):
    assert "stage:ol:buggy_task" in refs(search.search(world, "buggy_task"))


def test_hostile_search_text_is_bounded(world):
    hostile = '*~"( ' * 25_000
    started = time.monotonic()
    with pytest.raises(UsageError, match="at most"):
        search.search(world, hostile)
    for text in ('*~"( ' * 60, "*" * 300, "a*" * 150, "~" * 10 + "(" * 10, " OR ".join("ab" for _ in range(70))):
        assert len(search.lucene_query(text).split(" AND ")) <= search.MAX_TERMS
        search.search(world, text[: search.MAX_TEXT])  # no Lucene parse error, no runaway query
    assert time.monotonic() - started < 60
    exe = Path(sys.executable).with_name("provex")
    done = subprocess.run([str(exe), "search", hostile], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr and "at most" in done.stderr
    assert world.read("MATCH (n:Stage) RETURN count(n) AS c") == [{"c": len(ODD_IDS) + 1}]  # Neo4j still answers
    assert refs(search.search(world, "myjob.buggy_task🕷"))[0] == "stage:ol:myjob.buggy_task🕷"


def test_plain_names_resolve_as_refs(world):
    assert resolve(world, "credit-limit")["uid"] == "model:credit-limit"
    assert resolve(world, "credit-limit", labels=("Model",))["uid"] == "model:credit-limit"
    assert resolve(world, "credit-limit@2")["uid"] == "model:credit-limit@2"
    assert resolve(world, "p-3")["uid"] == "prediction:p-3"
    assert resolve(world, "é🔥日本")["uid"] == "stage:ol:é🔥日本"


def test_ambiguous_plain_ref_lists_the_candidates(world):
    with pytest.raises(UsageError) as err:
        resolve(world, "credit-limit", labels=("ModelVersion",))
    assert "model:credit-limit@1" in str(err.value) and "model:credit-limit@2" in str(err.value)
    with pytest.raises(UsageError, match="prediction:p-1.*prediction:p-2"):
        resolve(world, "hh-7")


def test_cli_search_json_has_names_and_tiers(world):
    result = CliRunner().invoke(cli, ["search", "hh-7", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["match"] for r in rows[:2]] == ["exact", "exact"] and rows[0]["name"] == "p-1"


# ---- on the sample story ----------------------------------------------------

def test_sample_household_search_lists_both_spouses_predictions(g):
    c = expected()["complaint"]
    hits = search.search(g, c["household_id"])
    exact = {h["ref"] for h in hits if h["match"] == "exact"}
    for side in ("low_limit", "spouse"):
        assert m.prediction(c[side]["credit_limit_prediction"]).uid in exact
        assert m.prediction(c[side]["scoring_prediction"]).uid in exact


def test_sample_model_name_ranks_the_registered_model_first(g):
    hits = search.search(g, "credit-limit")
    assert hits[0]["ref"] == "model:credit-limit"
    assert all(h["name"] not in ("", "nan", "None") for h in hits)


def test_sample_serving_model_at_takes_a_plain_model_name(g):
    result = CliRunner().invoke(cli, ["ask", "serving-model-at", "--param", "model=credit-limit",
                                      "--param", "at=2026-03-12T14:05:00Z", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert {r["model_version"] for r in rows} == {"model:credit-limit@5"}
