"""Every page of the Streamlit app, with streamlit.testing's AppTest, against
the real Neo4j loaded with the real sample story (``sample_data/`` restored and
ingested through ``provex ingest --config``, tests/sample.py). Expected values
come from ``sample_data/expected.json`` (the generator's ground truth), never
from provex's own output.

The sample is loaded once for the module (~1 minute); every test only reads
(the console test checks that a refused write changed nothing).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from apppage import frame_with, frames, iframes, links, open_page, shown, texts
from sample import expected
from streamlit.testing.v1 import AppTest

from provex.graph import replays
from provex.graph.connection import Graph
from provex.vocab import model as m
from provex.vocab import numbers as num

X = expected()
LOW = X["complaint"]["low_limit"]
AFFECTED = X["affected_predictions"]
BAD_COMMIT = X["bad_commit"]
BAD_RAW = X["bad_data_version"]["raw"]
BAD_FEATURES = X["bad_data_version"]["features"]
FIXED_RAW = X["fixed_data_version"]["raw"]
CHANGED = X["what_changed_credit_limit_4_to_5"]
HIGHLIGHT_ROW = re.compile(r"_row(\d+)_col\d+")


def mv_uid(key: str) -> str:
    """``credit-limit@5`` (expected.json's key) as a ModelVersion uid."""
    name, version = key.split("@")
    return m.model_version(name, version).uid


def dv_uid(spec: dict[str, str]) -> str:
    return m.data_version(spec["path"], spec["md5"]).uid


COMPLAINT = m.prediction(LOW["credit_limit_prediction"]).uid
UPSTREAM = m.prediction(LOW["scoring_prediction"]).uid
BAD_MODELS = {mv_uid(k) for k in X["bad_model_versions"]}
RAW_UID = dv_uid(BAD_RAW)


def highlighted_rows(at: AppTest, index: int) -> set[int]:
    """Rows of the ``index``-th table that its Styler paints (the diff page's highlight)."""
    styler = at.dataframe[index].proto.arrow_data.styler
    return {int(i) for i in HIGHLIGHT_ROW.findall(styler.styles)} if "background-color" in styler.styles else set()


def model_links(at: AppTest) -> set[str]:
    return {link["label"] for link in links(at) if link["label"].startswith("model:") and "@" in link["label"]}


# ---- home: question first ------------------------------------------------------------------------------


def test_home_answers_the_complaint_provenance(g: Graph) -> None:
    at = open_page("home", question="prediction-provenance")
    at.text_input(key="prediction-provenance.prediction_text").set_value(LOW["credit_limit_prediction"]).run()
    assert at.selectbox(key="prediction-provenance.prediction_pick").value["ref"] == COMPLAINT
    at.button(key="ask").click().run()
    assert not at.exception and not at.error
    answer = frame_with(at, "aspect")
    versions = answer.loc[answer["aspect"] == "model version", "ref"]
    assert set(versions) == {mv_uid(LOW["credit_limit_version"]), mv_uid(LOW["credit_scoring_version"])}
    assert set(answer.loc[answer["aspect"] == "code commit", "key"]) == {BAD_COMMIT}
    output = answer[(answer["aspect"] == "prediction") & (answer["key"] == "output")]
    assert dict(zip(output["prediction"], output["value"])) == {COMPLAINT: num.number(LOW["credit_limit"]),  # 210
                                                               UPSTREAM: num.number(LOW["score"])}
    shown = {link["label"] for link in links(at)}
    assert {COMPLAINT, UPSTREAM, m.code_version(BAD_COMMIT).uid} | set(versions) <= shown
    html = iframes(at)
    assert len(html) == 1 and all(f'"id": "{uid}"' in html[0] for uid in set(versions) | {COMPLAINT, UPSTREAM})


def test_home_impact_of_the_bad_data_counts_per_model_version(g: Graph) -> None:
    at = open_page("home", question="impact-of-data")
    at.text_input(key="impact-of-data.data_version_text").set_value(BAD_RAW["md5"][:10]).run()
    assert at.selectbox(key="impact-of-data.data_version_pick").value["ref"] == RAW_UID
    at.button(key="ask").click().run()
    assert not at.exception and not at.error
    answer = frame_with(at, "window")
    per_version = answer.groupby("model_version")["predictions"].sum().to_dict()
    assert per_version == {mv_uid(k): n for k, n in AFFECTED["direct_by_model_version"].items()}
    assert BAD_MODELS <= model_links(at)


# ---- search and node pages -----------------------------------------------------------------------------


def test_search_finds_the_complaint_prediction(g: Graph) -> None:
    at = open_page("search", q=LOW["credit_limit_prediction"])
    hits = frame_with(at, "ref")
    assert hits["ref"].iloc[0] == COMPLAINT and hits["label"].iloc[0] == "Prediction"
    assert any(link["label"] == COMPLAINT and link["page"] == "node" for link in links(at))


def test_search_by_md5_prefix_finds_only_the_bad_raw_file(g: Graph) -> None:
    at = open_page("search", q=BAD_RAW["md5"][:8])
    assert list(frame_with(at, "ref")["ref"]) == [RAW_UID]


def test_node_page_of_the_complaint_shows_its_props_and_models(g: Graph) -> None:
    at = open_page("node", ref=COMPLAINT, dir="up", depth="3")
    assert f"Prediction `{COMPLAINT}`" in texts(at)
    props = frame_with(at, "property")
    got = dict(zip(props["property"], props["value"]))
    assert (got["output"], got["subject_id"], got["household_id"], got["timestamp"]) == (
        str(LOW["credit_limit"]), LOW["customer_id"], X["complaint"]["household_id"], LOW["timestamp"])
    assert got["model_ref"] == LOW["credit_limit_version"]
    facts = frame_with(at, "fact")
    assert Path(dict(zip(facts["fact"], facts["value"]))["sources"]).name == "credit_limit.jsonl"
    lineage_nodes = set(frame_with(at, "uid")["uid"])
    models = {mv_uid(LOW["credit_limit_version"]), mv_uid(LOW["credit_scoring_version"])}
    assert {COMPLAINT, UPSTREAM} | models <= lineage_nodes
    assert not {u for u in lineage_nodes if u.startswith("model:") and "@" in u} - models  # no other version upstream
    html = iframes(at)
    assert len(html) == 1 and all(f'"id": "{uid}"' in html[0] for uid in models)
    edges = frame_with(at, "other")
    assert set(edges.loc[edges["type"] == "PREDICTED_BY", "other"]) == {mv_uid(LOW["credit_limit_version"])}


def test_node_page_walks_up_to_the_bad_raw_file_and_recentres_on_it(g: Graph) -> None:
    at = open_page("node", ref=COMPLAINT, dir="up", depth="10")
    lineage_nodes = set(frame_with(at, "uid")["uid"])
    assert {RAW_UID, dv_uid(BAD_FEATURES), m.code_version(BAD_COMMIT).uid} <= lineage_nodes
    assert dv_uid(FIXED_RAW) not in lineage_nodes
    at.selectbox(key="goto").set_value(RAW_UID).run()
    at.button(key="recentre").click().run()
    assert not at.exception and not at.error
    assert at.text_input(key="ref").value == RAW_UID
    assert f"DataVersion `{RAW_UID}`" in texts(at)
    assert any(link["label"] == "Impact of this node" for link in links(at))


def test_node_page_downstream_of_the_bad_raw_file_groups_per_model_version(g: Graph) -> None:
    at = open_page("node", ref=RAW_UID, dir="down", depth="10")
    lineage_nodes = set(frame_with(at, "uid")["uid"])
    assert BAD_MODELS <= lineage_nodes and COMPLAINT in lineage_nodes
    assert not {u for u in lineage_nodes if u.startswith("model:") and "@" in u} - BAD_MODELS
    notes = "\n".join(shown(e.value) for e in [*at.info, *at.warning])
    assert all(f"shown as one group node (all linked to {uid})" in notes for uid in BAD_MODELS), notes
    assert all(f'"id": "{uid}"' in iframes(at)[0] for uid in BAD_MODELS)


# ---- impact ---------------------------------------------------------------------------------------------


def test_impact_of_the_bad_raw_data(g: Graph) -> None:
    at = open_page("impact", ref=RAW_UID)
    assert not at.error
    metrics = {x.label: x.value for x in at.metric}
    assert metrics == {"Affected model versions": str(len(BAD_MODELS)), "Affected predictions": str(AFFECTED["total"]),
                       "Subjects": str(AFFECTED["customers"])}
    assert set(frame_with(at, "runs_between")["model_version"]) == BAD_MODELS
    counts = frame_with(at, "window")
    assert counts.groupby("model_version")["predictions"].sum().to_dict() == {
        mv_uid(k): n for k, n in AFFECTED["direct_by_model_version"].items()}
    preds = frame_with(at, "subject_id")
    want = Counter({mv_uid(k): n for k, n in AFFECTED["direct_by_model_version"].items()})
    want.update({mv_uid(k): n for k, n in AFFECTED["via_upstream_by_model_version"].items()})
    assert Counter(preds["model_version"]) == want
    assert COMPLAINT in set(preds["prediction"])
    assert model_links(at) == BAD_MODELS


def test_impact_of_the_bad_raw_data_per_hour(g: Graph) -> None:
    at = open_page("impact", ref=RAW_UID, window="hour")
    counts = frame_with(at, "window")
    assert set(counts["window"].str.len()) == {len("2026-03-12T14")}
    assert counts.groupby("model_version")["predictions"].sum().to_dict() == {
        mv_uid(k): n for k, n in AFFECTED["direct_by_model_version"].items()}


def test_impact_of_the_bad_commit(g: Graph) -> None:
    at = open_page("impact", ref=f"commit:{BAD_COMMIT[:12]}")
    trained_there = {mv_uid(k) for k, v in X["model_versions"].items() if v["commit"] == BAD_COMMIT}
    assert model_links(at) == trained_there
    metrics = {x.label: x.value for x in at.metric}
    made = sum(AFFECTED["direct_by_model_version"][k] for k in X["bad_model_versions"])
    assert metrics["Affected model versions"] == str(len(trained_there))
    assert metrics["Affected predictions"] == str(made)


# ---- diff and reproduce ---------------------------------------------------------------------------------


def test_diff_credit_limit_4_and_5_highlights_the_commit_and_data(g: Graph) -> None:
    a, b = mv_uid("credit-limit@4"), mv_uid("credit-limit@5")
    at = open_page("diff", a=a, b=b)
    assert not at.error
    tables = {i: f for i, f in enumerate(frames(at))}
    code = next(i for i, f in tables.items() if "commit" in set(f["key"]))
    row = tables[code].set_index("key").loc["commit"]
    assert (row[f"A: {a}"], row[f"B: {b}"], bool(row["differs"])) == (
        CHANGED["from_commit"], CHANGED["to_commit"], True)
    assert highlighted_rows(at, code) == {list(tables[code]["key"]).index("commit")}
    data = next(i for i, f in tables.items() if f"{BAD_RAW['path']} (md5)" in set(f["key"]))
    keys = list(tables[data]["key"])
    before, after = (X["model_versions"][k]["training_deps"] for k in ("credit-limit@4", "credit-limit@5"))
    changed = {f"{p} (md5)" for p in CHANGED["changed_training_deps"] if p.startswith("data/")}
    unchanged = {f"{p} (md5)" for p in before if p.startswith("data/") and before[p] == after[p]}
    painted = {keys[i] for i in highlighted_rows(at, data)}
    assert changed | {f"{BAD_RAW['path']} (md5)"} <= painted and not painted & unchanged
    raw = tables[data].set_index("key").loc[f"{BAD_RAW['path']} (md5)"]
    assert row_value(raw[f"A: {a}"]) is None and raw[f"B: {b}"] == BAD_RAW["md5"]
    assert "code 1" in texts(at)
    at.checkbox(key="only").check().run()
    assert all(f["differs"].astype(bool).all() for f in frames(at))


def row_value(value: Any) -> Any:
    """A table cell, with pandas' missing values and the dash shown for them as None."""
    return None if value is None or value != value or value == num.EMPTY else value


def test_reproduce_credit_limit_5_names_the_bad_commit_and_data(g: Graph) -> None:
    at = open_page("reproduce", ref=mv_uid("credit-limit@5"))
    assert not at.error and not at.warning
    code = at.code[0].value
    assert f"git checkout --quiet --detach {BAD_COMMIT}" in code.splitlines()
    assert f"dvc pull -- {BAD_RAW['path']}  # expect md5 {BAD_RAW['md5']}" in code
    for spec in (BAD_FEATURES, X["bad_data_version"]["prepared"]):  # re-made by the stages, then checked
        assert f"check {spec['path']} {spec['md5']}" in code.splitlines()
    assert FIXED_RAW["md5"] not in code
    alpha = X["model_versions"]["credit-limit@5"]["params"]["params.yaml"]["credit_limit"]["alpha"]
    assert f"# param alpha={alpha}" in code.splitlines()
    assert "Verify now" in [b.label for b in at.button] and at.button(key="verify").disabled
    commands = [line for line in code.splitlines() if line and not line.startswith("#")]
    assert len(commands) == len(set(commands)), "a command repeated in the recipe"


# ---- console and ingest status --------------------------------------------------------------------------


def run_console(query: str) -> AppTest:
    at = open_page("console")
    at.text_area(key="cypher").set_value(query).run()
    at.button(key="run").click().run()
    assert not at.exception
    return at


def test_console_reads_the_eleven_model_versions(g: Graph) -> None:
    at = run_console("MATCH (v:ModelVersion) RETURN v.uid AS uid, v ORDER BY uid")
    assert not at.error
    assert list(frame_with(at, "uid")["uid"]) == sorted(mv_uid(k) for k in X["model_versions"])
    assert f"{len(X['model_versions'])} rows" in texts(at)
    assert all(f'"id": "{mv_uid(k)}"' in iframes(at)[0] for k in X["model_versions"])


@pytest.mark.parametrize("query", ["MATCH (v:ModelVersion) DETACH DELETE v",
                                   "MATCH (p:Prediction) SET p.output = 0"], ids=["delete", "set"])
def test_console_refuses_a_write(g: Graph, query: str) -> None:
    state = "MATCH (v:ModelVersion) WITH count(v) AS v MATCH (p:Prediction) RETURN v, sum(p.output) AS total"
    before = g.read(state)
    at = run_console(query)
    errors = [shown(e.value) for e in at.error]
    assert len(errors) == 1 and errors[0].startswith("Refused:"), errors
    assert not at.dataframe and g.read(state) == before


def test_ingest_status_lists_the_sample_sources_without_rejects(g: Graph) -> None:
    at = open_page("ingest_status")
    sources = frame_with(at, "source")
    assert sorted(sources["kind"]) == ["dvc", "mlflow"] + ["predictions"] * len(X["prediction_counts"])
    logs = sources.loc[sources["kind"] == "predictions", "source"]
    assert {Path(s).name for s in logs} == set(X["prediction_counts"])
    assert set(sources["rejected"]) == {0} and set(sources["ingests"]) == {1}
    assert "Rejected records (0)" in texts(at)
    runs = frame_with(at, "details")
    for source, stored in zip(runs["source"], runs["predictions stored"]):
        if Path(source).name in X["prediction_counts"]:
            assert stored == X["prediction_counts"][Path(source).name]
    counts = frame_with(at, "placeholders").set_index("kind")
    assert counts.loc["ModelVersion", "nodes"] == len(X["model_versions"])
    assert counts.loc["CodeVersion", "nodes"] == len(X["dvc_repo"]["commits"])
    assert counts.loc["Prediction", "nodes"] == sum(X["prediction_counts"].values())
    assert counts["placeholders"].sum() == 0


# ---- the complaint from the household id -----------------------------------------------------------------


C = X["complaint"]


def test_home_box_leads_a_household_to_its_history(g: Graph) -> None:
    at = open_page("home", find=C["household_id"])
    assert f"{C['household_id']} is a customer or household with {len(C['household_predictions'])} predictions" \
        in texts(at)
    assert {"label": f"History of {C['household_id']}: every prediction over time", "page": "history"} in links(at)


def test_home_box_leads_a_prediction_to_what_changed(g: Graph) -> None:
    at = open_page("home", find=LOW["credit_limit_prediction"])
    labels = {link["label"]: link["page"] for link in links(at)}
    assert labels[f"What changed in the model behind {COMPLAINT}?"] == "changed"
    assert f"Where did {COMPLAINT} come from?" in labels


def test_history_page_headline_timeline_and_picks(g: Graph) -> None:
    at = open_page("history", subject=C["household_id"])
    assert shown(at.success[0].value).startswith(f"{len(C['household_predictions'])} predictions about {C['household_id']}")
    assert len(at.get("vega_lite_chart")) == 2  # credit-scoring and credit-limit timelines
    spouse = m.prediction(C["spouse"]["credit_limit_prediction"]).uid
    at.multiselect(key="picked").select(spouse).select(COMPLAINT).run()
    assert {"label": f"Compare {spouse} with {COMPLAINT}", "page": "compare"} in links(at)


def test_compare_page_names_the_ratio_and_the_bad_data(g: Graph) -> None:
    spouse = m.prediction(C["spouse"]["credit_limit_prediction"]).uid
    at = open_page("compare", a=spouse, b=COMPLAINT)
    headline = shown(at.success[0].value)
    assert f"{C['ratio']:.3g}x lower" in headline and f"{BAD_RAW['path']}@{BAD_RAW['md5'][:8]}" in headline
    assert RAW_UID in {link["label"] for link in links(at)}
    assert f"provex replay {COMPLAINT} --against {spouse}" in [c.value for c in at.code]
    assert f"Explain {COMPLAINT} against {spouse}" in {link["label"] for link in links(at)}


def test_explain_page_ranks_the_causes_and_offers_the_decision_record(g: Graph, monkeypatch) -> None:
    story = X["stories"]["override"]
    p, q = m.prediction(story["prediction"]).uid, m.prediction(story["against"]).uid
    monkeypatch.delenv("PROVEX_ALLOW_VERIFY", raising=False)
    monkeypatch.delenv("PROVEX_ALLOW_RUN", raising=False)
    at = open_page("explain", prediction=p, against=q)
    assert not at.error, [e.value for e in at.error]
    assert at.success[0].value.startswith(f"{story['prediction']} = 2,500 vs {story['against']} = ")
    causes = frame_with(at, "kind")
    assert causes.iloc[0]["kind"] == story["first_cause"]["kind"] and story["first_cause"]["rule"] in causes.iloc[0]["cause"]
    assert at.button(key="explain-replay").disabled and f"provex explain {p} --against {q} --allow-run" in [c.value for c in at.code]
    assert [b.proto.label for b in at.get("download_button")] == ["Download the decision record (HTML)"]
    assert {f"Compare {q} with {p}", f"What changed for {p}"} <= {link["label"] for link in links(at)}


def test_what_changed_page_and_the_home_question_from_the_url(g: Graph) -> None:
    want = C["what_changed"]
    changed = open_page("changed", prediction=COMPLAINT)
    for at in (changed, open_page("home", question="what-changed", prediction=COMPLAINT)):
        headline = shown(at.success[0].value)
        assert headline.startswith(f"{LOW['credit_limit_prediction']} was made by {want['model_version']}; "
                                   f"the last known good {want['last_known_good']}")
        assert want["added_by_commit"][:10] in headline
    last_good = m.model_version(*want["last_known_good"].split("@")).uid
    assert f"provex replay {COMPLAINT} --model {last_good}" in [c.value for c in changed.code]
    assert f"Explain {COMPLAINT}" in {link["label"] for link in links(changed)}
    [picture] = [h for h in iframes(changed) if '"hierarchical"' in h]
    nodes = json.loads(re.search(r"nodes = new vis\.DataSet\((\[.*?\])\);", picture, re.S).group(1))
    by_id = {n["id"]: n for n in nodes}
    on_path = [n["id"] for n in nodes if n.get("path")]
    assert {COMPLAINT, RAW_UID, mv_uid(LOW["credit_limit_version"])} <= set(on_path)  # prediction -> model -> cents
    assert by_id[RAW_UID]["flags"][0].startswith("data anomaly: amount is 100x")
    assert all(n["label"].strip() for n in nodes) and "Flagged in this picture" in " ".join(e.label for e in changed.expander)


def test_compare_page_replays_and_attributes_when_the_app_may_run_models(g: Graph, monkeypatch) -> None:
    spouse = m.prediction(C["spouse"]["credit_limit_prediction"]).uid
    monkeypatch.delenv("PROVEX_ALLOW_VERIFY", raising=False)
    monkeypatch.delenv("PROVEX_ALLOW_RUN", raising=False)
    off = open_page("compare", a=spouse, b=COMPLAINT)
    assert off.button(key="replay").disabled and "provex app --allow-run" in texts(off)
    monkeypatch.setenv("PROVEX_ALLOW_RUN", "1")
    at = open_page("compare", a=spouse, b=COMPLAINT)
    at.button(key="replay").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.success[1].value.startswith(f"{COMPLAINT} with {mv_uid(LOW['credit_limit_version'])} -> ")
    outputs = frame_with(at, "replayed_output")
    assert outputs.iloc[0]["outcome"] == "reproduced" and outputs.iloc[0]["logged_output"] == LOW["credit_limit"]
    swaps = frame_with(at, "share_of_difference")
    assert swaps.iloc[0]["change"] == "model version" and swaps.iloc[0]["share_of_difference"] > 0.5
    assert "Largest single swap: model version" in texts(at) and "not a causal proof" in texts(at)
    recorded = [link["label"] for link in links(at) if link["label"].startswith("Recorded as replay:")]
    assert len(recorded) == 1 and replays.past_replays(g, COMPLAINT)[0]["replay"] == recorded[0].split(" as ")[1]


def test_node_page_default_depth_reaches_models_and_predictions(g: Graph) -> None:
    at = open_page("node", ref=RAW_UID, dir="down")
    lineage_nodes = set(frame_with(at, "uid")["uid"])
    assert BAD_MODELS <= lineage_nodes and COMPLAINT in lineage_nodes
    notes = "\n".join(shown(e.value) for e in [*at.info, *at.warning])
    assert f"{AFFECTED['direct_by_model_version'][LOW['credit_limit_version']]} predictions shown as one group" in notes
    assert '"hierarchical"' in iframes(at)[0]
