"""The complaint questions (subject-history, compare-predictions,
what-changed), their headlines and the CLI's summary format: on a second
small story built here (other names, other numbers: nothing tuned to the
sample) and on the sample story against sample_data/expected.json.

The story: model ``price`` v1 trained on ``data/in/base.csv`` at commit K1;
v2 also on ``data/in/extra.csv`` (added by commit K2); v3 back on the base
data. Alias ``champion``: v1, then v2, then v3. Model ``risk`` v1 / v2
(no alias history). Household ``fam-9``: ``u-2`` got 800.0 from price v1
(risk v1 upstream), ``u-1`` got 100.0 from price v2 (risk v2 upstream,
raised from 50.0 by the ``floor`` rule). ``u-3`` (household ``fam-3``) got
a price v3 prediction.
"""

from __future__ import annotations

import json

import logged
import pytest
from click.testing import CliRunner
from sample import expected

from provex.app.cli import cli
from provex.graph import schema
from provex.graph.connection import Graph
from provex.graph.questions import ask
from provex.graph.writer import Writer
from provex.vocab import model as m
from provex.vocab.records import Edge, Node

K1, K2, K3 = "a1" * 20, "b2" * 20, "c3" * 20
BASE = m.data_version("data/in/base.csv", "ba5e" * 8)
EXTRA = m.data_version("data/in/extra.csv", "e7a" * 10 + "00")
T1, T2 = "2026-05-10T08:00:00Z", "2026-05-20T08:00:00Z"


def node(ref: m.Ref, **props: object) -> Node:
    return Node(ref, props, source="story2")


def edge(etype: str, src: m.Ref, dst: m.Ref, **props: object) -> Edge:
    return Edge(etype, src, dst, props, source="story2")


def version(name: str, v: int, commit: str, data: list[m.Ref], alpha: float) -> list:
    run, mv = m.run(f"{name}-run-{v}"), m.model_version(name, v)
    return [node(run, run_id=f"{name}-run-{v}", kind="mlflow-run", **{"param.alpha": alpha}),
            node(m.code_version(commit), sha=commit),
            edge("USED", run, m.code_version(commit)), *[edge("USED", run, d) for d in data],
            node(mv, name=name, version=str(v), run_id=f"{name}-run-{v}"),
            edge("WAS_GENERATED_BY", mv, run), edge("VERSION_OF", mv, m.model(name))]


def write_story(graph: Graph) -> None:
    records = [node(m.model("price"), name="price"), node(m.model("risk"), name="risk"),
               node(BASE, path="data/in/base.csv", hash="ba5e" * 8, hash_kind="md5", commit=K1),
               node(EXTRA, path="data/in/extra.csv", hash="e7a" * 10 + "00", hash_kind="md5", commit=K2),
               node(m.code_version(K2), sha=K2, message="Bring in the extra feed")]
    records += version("price", 1, K1, [BASE], 1.0) + version("price", 2, K2, [BASE, EXTRA], 1.0)
    records += version("price", 3, K3, [BASE], 1.0)
    records += version("risk", 1, K1, [BASE], 0.5) + version("risk", 2, K2, [BASE, EXTRA], 0.5)
    with Writer(graph, "story2") as writer:
        writer.add_all(records)
    logged.ingest(graph, [
        logged.line("r-1", "risk", 1, "2026-05-12T10:00:00Z", 0.9, subject="u-2", household="fam-9"),
        logged.line("q-1", "price", 1, "2026-05-12T10:00:01Z", 800.0, subject="u-2", household="fam-9",
                    upstream=["r-1"], income=40.0, debt=4.0),
        logged.line("r-2", "risk", 2, "2026-05-15T09:00:00Z", 0.5, subject="u-1", household="fam-9"),
        logged.line("q-2", "price", 2, "2026-05-15T09:00:01Z", 100.0, subject="u-1", household="fam-9",
                    upstream=["r-2"], override={"rule": "floor", "original": 50.0, "final": 100.0},
                    income=30.0, debt=4.0),
        logged.line("q-3", "price", 3, "2026-05-25T09:00:00Z", 700.0, subject="u-3", household="fam-3", income=35.0),
    ])
    for v, since in ((1, "2026-05-01T00:00:00Z"), (2, T1), (3, T2)):
        with Writer(graph, f"story2-alias-{v}") as writer:
            writer.add(Edge("HAS_ALIAS", m.model("price"), m.model_version("price", v),
                            {"alias": "champion", "valid_from": since}, key=("alias", "valid_from"),
                            supersedes=("alias",), source="story2"))
    schema.refresh_search(graph)


@pytest.fixture(scope="module")
def story(session_graph: Graph) -> Graph:
    """Written once for this module: every test here only reads it."""
    schema.clear(session_graph)
    write_story(session_graph)
    return session_graph


def records(graph: Graph, name: str, **params: object) -> tuple[list[dict], str]:
    df = ask(graph, name, params)
    rows = df.astype(object).where(df.notna(), None).to_dict("records")
    return rows, df.attrs["headline"]


def row(rows: list[dict], **match: object) -> dict:
    found = [r for r in rows if all(r[k] == v for k, v in match.items())]
    assert len(found) == 1, (match, rows)
    return found[0]


# ---- the second story -------------------------------------------------------

def test_subject_history_of_a_household_over_time(story: Graph) -> None:
    rows, headline = records(story, "subject-history", subject="fam-9")
    assert [r["prediction"] for r in rows] == ["prediction:r-1", "prediction:q-1", "prediction:r-2", "prediction:q-2"]
    q2 = row(rows, prediction="prediction:q-2")
    assert q2["model_version"] == "model:price@2" and q2["output"] == 100.0
    assert q2["override"] == "floor: 50.0 -> 100.0"
    assert q2["upstream"] == "prediction:r-2" and q2["upstream_model_version"] == "model:risk@2"
    assert headline.startswith("4 predictions about fam-9 (2 subjects)")
    assert "price: from 100 (q-2, price@2) to 800 (q-1, price@1)" in headline


def test_subject_history_of_one_subject_within_a_time_range(story: Graph) -> None:
    rows, _ = records(story, "subject-history", subject="u-1")
    assert [r["prediction"] for r in rows] == ["prediction:r-2", "prediction:q-2"]
    rows, _ = records(story, "subject-history", subject="fam-9", since="2026-05-13", until="2026-05-15T09:00:01Z")
    assert [r["prediction"] for r in rows] == ["prediction:r-2"]
    rows, headline = records(story, "subject-history", subject="nobody")
    assert rows == [] and headline == "No predictions about nobody."


def test_compare_predictions_side_by_side(story: Graph) -> None:
    rows, headline = records(story, "compare-predictions", a="q-1", b="q-2")
    out = row(rows, aspect="output")
    assert (out["a"], out["b"], out["ratio"], out["differs"]) == (800.0, 100.0, 0.125, True)
    income = row(rows, aspect="input", key="income")
    assert income["change"] == pytest.approx(-0.25) and row(rows, aspect="input", key="debt")["differs"] is False
    assert row(rows, aspect="override")["b"] == "floor: 50.0 -> 100.0"
    assert row(rows, aspect="model version", key="price")["a"] == "model:price@1"
    assert row(rows, aspect="model version", key="risk")["b"] == "model:risk@2"
    assert row(rows, aspect="upstream output", key="risk")["ratio"] == pytest.approx(0.5556, abs=1e-4)
    diff = [r for r in rows if " (" in r["aspect"]]
    assert diff[0]["key"] == "data/in/extra.csv (md5)" and diff[0]["a"] is None  # one side only: first
    assert row(rows, aspect="data added by (price)", key="data/in/extra.csv")["b"] == "b2b2b2b2b2 Bring in the extra feed"
    assert row(rows, aspect="code (price)")["b"] == K2
    assert headline.startswith("q-2's output 100 is 8x lower than q-1's 800.")
    assert "data/in/extra.csv@e7ae7ae7" in headline and "price@1 vs price@2" in headline


def test_compare_the_other_way_round(story: Graph) -> None:
    rows, headline = records(story, "compare-predictions", a="q-2", b="q-1")
    assert row(rows, aspect="output")["ratio"] == 8.0
    assert headline.startswith("q-1's output 800 is 8x higher than q-2's 100.")
    assert "data only in q-2's model: data/in/extra.csv@e7ae7ae7" in headline


def test_what_changed_against_the_last_known_good_under_the_alias(story: Graph) -> None:
    rows, headline = records(story, "what-changed", prediction="q-2")
    assert row(rows, aspect="model version") == {"aspect": "model version", "key": "price",
                                                  "before": "model:price@1", "after": "model:price@2"}
    assert row(rows, aspect="basis")["before"] == "served before it under alias champion"
    assert row(rows, aspect="serving (champion)", key="served from")["after"] == T1
    diff = [r for r in rows if r["aspect"].endswith("(price)")]
    assert diff[0]["key"] == "data/in/extra.csv (md5)" and diff[0]["before"] is None
    assert row(rows, aspect="data added by (price)")["after"].startswith(K2[:10])
    assert headline.startswith("q-2 was made by price@2; the last known good price@1 served before it under alias "
                               "champion.")
    assert "data only in price@2: data/in/extra.csv@e7ae7ae7" in headline


def test_what_changed_of_a_later_version_without_new_data(story: Graph) -> None:
    rows, headline = records(story, "what-changed", prediction="q-3")
    assert row(rows, aspect="model version")["before"] == "model:price@2"
    assert row(rows, aspect="data (price)", key="data/in/extra.csv (md5)")["after"] is None
    assert "data only in price@2" in headline


def test_what_changed_without_alias_history_takes_the_previous_version(story: Graph) -> None:
    rows, headline = records(story, "what-changed", prediction="r-2")
    assert row(rows, aspect="model version")["before"] == "model:risk@1"
    assert row(rows, aspect="basis")["before"].startswith("previous version number")
    assert "is the previous version number" in headline
    rows, headline = records(story, "what-changed", prediction="r-1")
    assert row(rows, aspect="model version")["before"] is None and "no earlier version" in headline


def test_cli_summary_prints_only_the_headline_and_table_leads_with_it(story: Graph) -> None:
    runner = CliRunner()
    summary = runner.invoke(cli, ["ask", "compare-predictions", "--param", "a=q-1", "--param", "b=q-2",
                                  "--format", "summary"])
    assert summary.exit_code == 0, summary.output
    assert summary.stdout.strip().startswith("q-2's output 100 is 8x lower") and "aspect" not in summary.stdout
    table = runner.invoke(cli, ["ask", "subject-history", "--param", "subject=fam-9"])
    first, rest = table.stdout.split("\n", 1)
    assert first.startswith("4 predictions about fam-9") and "prediction:q-2" in rest
    doc = json.loads(runner.invoke(cli, ["ask", "subject-history", "--param", "subject=u-1", "--format", "json"]).stdout)
    assert [r["prediction"] for r in doc] == ["prediction:r-2", "prediction:q-2"]


def test_cli_ask_question_help_shows_its_parameters(story: Graph) -> None:
    out = CliRunner().invoke(cli, ["ask", "subject-history", "--help"])
    assert out.exit_code == 0
    for text in ("subject", "since", "until", "a subject or household id", "What did we predict"):
        assert text in out.output
    assert "ask [OPTIONS] [QUESTION]" in CliRunner().invoke(cli, ["ask", "--help"]).output


# ---- the sample story --------------------------------------------------------

def test_sample_subject_history_of_the_household(g: Graph) -> None:
    C = expected()["complaint"]  # noqa: N806
    rows, headline = records(g, "subject-history", subject=C["household_id"])
    want = C["household_predictions"]
    assert [r["prediction"] for r in rows] == [m.prediction(p["prediction_id"]).uid for p in want]
    assert [r["output"] for r in rows] == [p["output"] for p in want]
    low = row(rows, prediction=m.prediction(C["low_limit"]["credit_limit_prediction"]).uid)
    assert low["model_version"] == "model:" + C["low_limit"]["credit_limit_version"]
    assert low["upstream"] == m.prediction(C["low_limit"]["scoring_prediction"]).uid
    assert headline.startswith(f"{len(want)} predictions about {C['household_id']} (2 subjects)")


def test_sample_compare_the_spouses(g: Graph) -> None:
    C = expected()["complaint"]  # noqa: N806
    spouse, low = C["spouse"], C["low_limit"]
    rows, headline = records(g, "compare-predictions", a=spouse["credit_limit_prediction"],
                             b=low["credit_limit_prediction"])
    out = row(rows, aspect="output")
    assert (out["a"], out["b"]) == (spouse["credit_limit"], low["credit_limit"])
    assert round(out["a"] / out["b"], 2) == C["ratio"]
    assert f"{C['ratio']:.3g}x lower" in headline
    assert row(rows, aspect="model version", key="credit-limit")["a"] == "model:" + spouse["credit_limit_version"]
    assert row(rows, aspect="model version", key="credit-limit")["b"] == "model:" + low["credit_limit_version"]
    assert row(rows, aspect="upstream prediction", key="credit-scoring")["b"] == m.prediction(
        low["scoring_prediction"]).uid
    raw = expected()["bad_data_version"]["raw"]
    first = [r for r in rows if r["aspect"] == "data (credit-limit)"][:2]
    assert {"key": f"{raw['path']} (md5)", "a": None, "b": raw["md5"]} in [
        {k: r[k] for k in ("key", "a", "b")} for r in first]
    assert f"{raw['path']}@{raw['md5'][:8]}" in headline
    features = expected()["bad_data_version"]["features"]["path"]
    ticket = row(rows, aspect="data profile (credit-limit)", key=f"{features} avg_ticket mean")
    assert isinstance(ticket["a"], float) and ticket["ratio"] == pytest.approx(ticket["b"] / ticket["a"], rel=1e-3)
    assert ticket["ratio"] > 10 and ticket["change"] == pytest.approx(ticket["ratio"] - 1, abs=1e-3)  # cents


def test_sample_what_changed_for_the_complaint(g: Graph) -> None:
    C = expected()["complaint"]  # noqa: N806
    want = C["what_changed"]
    rows, headline = records(g, "what-changed", prediction=want["prediction"])
    assert row(rows, aspect="model version")["before"] == "model:" + want["last_known_good"]
    assert row(rows, aspect="model version")["after"] == "model:" + want["model_version"]
    one_side = [r for r in rows if r["aspect"] == "data (credit-limit)" and r["before"] is None]
    assert {(r["key"].rsplit(" (", 1)[0], r["after"]) for r in one_side} >= {
        (d["path"], d["md5"]) for d in want["data_only_in_new"]}
    raw = want["data_only_in_new"][0]
    added = row(rows, aspect="data added by (credit-limit)", key=raw["path"])
    assert added["after"].startswith(want["added_by_commit"][:10])
    assert f"{raw['path']}@{raw['md5'][:8]}" in headline and want["added_by_commit"][:10] in headline
