"""The Streamlit app, page by page, with streamlit.testing's AppTest against
the real Neo4j loaded with the credit story (tests/story.py); plus the pure
display functions of app/graphview.py."""

from __future__ import annotations

import json
import re

import pytest
import story
from apppage import APP, frame_with, frames, iframes, links, open_page, shown, texts

from provex.app import graphdraw, graphlabels, graphrows, graphview
from provex.graph import replays, status

WRITES = [
    "CREATE (n:Node:Run {uid: 'run:evil'})",
    "MERGE (n:Node:Run {uid: 'run:evil'}) RETURN n",
    "MATCH (n:ModelVersion) SET n.status = 'ARCHIVED'",
    "MATCH (n:Prediction) DETACH DELETE n",
    "LOAD CSV FROM 'file:///etc/passwd' AS line RETURN line",
]


def count_nodes(graph) -> int:
    return graph.read("MATCH (n) RETURN count(n) AS c")[0]["c"]


@pytest.fixture
def told(graph) -> story.Story:
    """The credit story, freshly written to the cleared graph."""
    return story.load(graph)


# ---- pages -----------------------------------------------------------------

def test_search_finds_the_complained_prediction_and_links_to_it(told):
    at = open_page("search", q="cl-000123")
    hits = frame_with(at, "ref")
    assert told.complaint in set(hits["ref"])
    assert "Prediction" in set(hits.loc[hits["ref"] == told.complaint, "label"])
    assert any(link["label"] == told.complaint for link in links(at))


def test_search_by_hash_prefix_finds_the_data_version(told):
    at = open_page("search", q=told.bad_raw_hash[:8])
    assert told.bad_raw in set(frame_with(at, "ref")["ref"])


def test_node_page_shows_upstream_lineage_and_provenance(told):
    at = open_page("node", ref=told.complaint, dir="up", depth="5")
    lineage_nodes = set(frame_with(at, "uid")["uid"])
    assert {told.complaint, told.bad_model, told.bad_run, told.bad_raw} <= lineage_nodes
    assert told.good_model not in lineage_nodes
    props = frame_with(at, "fact")
    facts = dict(zip(props["fact"], props["value"]))
    assert facts["sources"].endswith("predictions.jsonl") and facts["first_ingest"].startswith("story-")
    html = iframes(at)
    assert len(html) == 1 and told.bad_model in html[0] and told.bad_raw in html[0]
    assert "Legend:" in texts(at) and "ModelVersion ×1" in texts(at)


def test_node_page_recentres_on_a_chosen_node(told):
    at = open_page("node", ref=told.complaint, dir="up", depth="2")
    at.selectbox(key="goto").set_value(told.bad_model).run()
    at.button(key="recentre").click().run()
    assert not at.exception
    assert at.text_input(key="ref").value == told.bad_model
    assert f"ModelVersion `{told.bad_model}`" in texts(at)


def test_node_page_collapses_the_predictions_of_a_model_version(told):
    at = open_page("node", ref=told.bad_model, dir="down", depth="1")
    shown = texts(at)
    assert f"{told.bad_predictions} predictions shown as one group node" in shown
    assert f"{told.bad_predictions} predictions" in iframes(at)[0]
    assert f'"id": "{told.complaint}"' not in iframes(at)[0] and f'"id": "{told.bad_model}"' in iframes(at)[0]


def test_node_page_cap_says_what_was_left_out(told):
    at = open_page("node", ref=told.bad_model, dir="down", depth="1")
    at.number_input(key="cap").set_value(10).run()
    shown = texts(at)
    assert "Partial graph" in shown and "node cap 10" in shown


def test_node_page_unknown_ref_is_a_clear_error(told):
    at = open_page("node", ref="prediction:does-not-exist")
    assert [shown(e.value) for e in at.error] == ["No node matches REF 'prediction:does-not-exist'. "
                                           "Try `provex search prediction:does-not-exist`."]


def test_console_runs_reads_and_draws_nodes(told):
    at = open_page("console")
    at.text_area(key="cypher").set_value(
        f"MATCH (p:Prediction)-[e:PREDICTED_BY]->(m) WHERE m.uid = '{told.good_model}' RETURN p, e, m").run()
    at.button(key="run").click().run()
    assert not at.exception and not at.error
    assert f"{told.good_predictions} rows" in texts(at)
    assert told.good_model in iframes(at)[0]


@pytest.mark.parametrize("query", WRITES, ids=["create", "merge", "set", "delete", "load-csv"])
def test_console_refuses_writes_and_changes_nothing(told, graph, query):
    before = count_nodes(graph)
    statuses = graph.read("MATCH (n:ModelVersion) RETURN collect(n.status) AS s")[0]["s"]
    at = open_page("console")
    at.text_area(key="cypher").set_value(query).run()
    at.button(key="run").click().run()
    assert not at.exception
    errors = [shown(e.value) for e in at.error]
    assert len(errors) == 1 and errors[0].startswith("Refused:"), errors
    assert not at.dataframe
    assert count_nodes(graph) == before
    assert graph.read("MATCH (n:ModelVersion) RETURN collect(n.status) AS s")[0]["s"] == statuses


def test_ingest_status_lists_source_counts_and_rejects(told, graph):
    at = open_page("ingest_status")
    sources = frame_with(at, "source")
    assert list(sources["source"]) == [story.SOURCE] and list(sources["rejected"]) == [1]
    runs = frame_with(at, "written")
    [run] = status.ingest_runs(graph)
    graph_records = sum(1 for r in story.records(told) if isinstance(r, (story.Node, story.Edge)))
    assert list(runs["written"]) == [sum(run["written"].values())] and sum(run["written"].values()) > graph_records
    assert list(runs["predictions stored"]) == [told.good_predictions + told.bad_predictions]
    rejects = frame_with(at, "reason")
    assert list(rejects["reason"]) == [told.rejected_reason]
    assert list(rejects["where"]) == ["transactions-2026-02.csv:7"]
    assert list(frame_with(at, "flag")["flag"]) == ["unit-drift"]


def test_home_lists_the_catalog_and_answers_provenance_with_a_graph(told):
    from provex.graph.questions import CATALOG

    at = open_page("home")
    assert list(at.radio(key="question").options) == [q.title for q in CATALOG.values()]
    at.text_input(key="prediction-provenance.prediction_text").set_value(told.complaint).run()
    assert at.selectbox(key="prediction-provenance.prediction_pick").value["ref"] == told.complaint
    at.button(key="ask").click().run()
    assert not at.exception and not at.error
    answer = frame_with(at, "aspect")
    assert told.bad_model in set(answer["ref"]) and told.good_model not in set(answer["ref"])
    assert told.bad_features in set(answer["ref"])
    assert told.bad_model in iframes(at)[0] and told.bad_features in iframes(at)[0]
    assert any(link["label"] == told.bad_model for link in links(at))


def test_home_impact_question_counts_predictions_per_window(told):
    at = open_page("home", question="impact-of-data")
    at.text_input(key="impact-of-data.data_version_text").set_value(told.bad_raw_hash[:10]).run()
    at.button(key="ask").click().run()
    answer = frame_with(at, "window")
    assert answer[["model_version", "window", "predictions"]].values.tolist() == [
        [told.bad_model, "2026-03-12", told.bad_predictions]]


def test_impact_of_the_bad_data_version(told):
    at = open_page("impact", ref=told.bad_raw)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Affected model versions"] == "1" and metrics["Affected predictions"] == str(told.bad_predictions)
    assert list(frame_with(at, "runs_between")["model_version"]) == [told.bad_model]
    preds = frame_with(at, "subject_id")
    assert len(preds) == told.bad_predictions and told.complaint in set(preds["prediction"])
    assert at.get("download_button")


def test_impact_table_filters_by_time(told):
    at = open_page("impact", ref=told.bad_raw)
    at.text_input(key="f_since").set_value("2026-03-12T09:10:00Z").run()
    preds = frame_with(at, "subject_id")
    assert len(preds) == told.bad_predictions - 10 and told.complaint not in set(preds["prediction"])
    assert f"{told.bad_predictions - 10} of {told.bad_predictions} predictions" in texts(at)


def test_impact_of_a_library_and_of_a_commit(told):
    lib = open_page("impact", ref=told.library)
    assert {m.label: m.value for m in lib.metric}["Affected model versions"] == "2"
    counts = frame_with(lib, "window")
    assert dict(zip(counts["model_version"], counts["predictions"])) == {
        told.good_model: told.good_predictions, told.bad_model: told.bad_predictions}
    commit = open_page("impact", ref=f"commit:{told.bad_commit[:10]}")
    metrics = {m.label: m.value for m in commit.metric}
    assert metrics == {"Affected model versions": "1", "Affected predictions": str(told.bad_predictions),
                       "Subjects": str(told.bad_predictions)}


def test_impact_refuses_a_prediction_with_a_clear_error(told):
    at = open_page("impact", ref=told.complaint)
    assert len(at.error) == 1 and "not a DataVersion or Library or CodeVersion or ModelVersion" in shown(at.error[0].value)


def test_diff_highlights_what_changed_between_versions(told):
    at = open_page("diff", a=told.good_model, b=told.bad_model)
    assert not at.error
    params = next(f for f in frames(at) if "key" in f.columns and "alpha" in set(f["key"]))
    rows = {r["key"]: (r[f"A: {told.good_model}"], r[f"B: {told.bad_model}"], bool(r["differs"]))
            for r in params.to_dict("records")}
    assert rows == {"alpha": ("1.0", "0.3", True), "max_iter": ("200", "200", False)}
    assert "param 1" in texts(at) and "metric 1" in texts(at)


def test_reproduce_gives_copyable_commands(told):
    at = open_page("reproduce", ref=told.good_model)
    code = at.code[0].value
    assert f"git checkout --quiet --detach {told.good_commit}" in code
    assert f"scikit-learn=={told.sklearn}" in code and "pip install" in code
    assert f"dvc pull -- {story.RAW}  # expect md5 {told.good_raw_hash}" in code
    assert "python src/prepare.py" in code and "alpha=1.0" in code and "expect mae = 812.5" in code
    assert told.bad_raw_hash not in code


def test_verify_now_runs_only_when_allowed_and_records_the_outcome(told, monkeypatch):
    monkeypatch.delenv("PROVEX_ALLOW_RUN", raising=False)
    at = open_page("reproduce", ref=told.bad_model)
    assert at.button(key="verify").disabled and "provex app --allow-run" in texts(at)
    monkeypatch.setenv("PROVEX_ALLOW_VERIFY", "1")  # the old name of the switch still works
    at = open_page("reproduce", ref=told.bad_model)
    assert not at.button(key="verify").disabled and "Never verified" in texts(at)
    at.button(key="verify").click().run()
    assert "could-not-run: " in texts(at) and "not made by a DVC stage run" in texts(at)  # the story has no DVC project
    at = open_page("reproduce", ref=told.bad_model)
    assert "could-not-run" in frames(at)[-1]["outcome"].tolist()


def test_replay_runs_only_when_allowed_and_is_recorded(told, graph, monkeypatch):
    monkeypatch.delenv("PROVEX_ALLOW_VERIFY", raising=False)
    monkeypatch.setenv("PROVEX_ALLOW_RUN", "0")
    at = open_page("node", ref=told.complaint, dir="up", depth="1")
    assert at.button(key="replay").disabled and f"provex replay {told.complaint}" in [c.value for c in at.code]
    monkeypatch.setenv("PROVEX_ALLOW_RUN", "1")
    at = open_page("node", ref=told.complaint, dir="up", depth="1")
    at.button(key="replay").click().run()
    assert not at.exception and "could not run" in at.error[0].value  # the story's model is in no MLflow store
    assert "models:/credit-limit/5: no tracking store is recorded" in at.error[0].value  # no ./mlflow.db opened
    [row] = replays.past_replays(graph, told.complaint)
    assert row["outcome"] == "could-not-run" and f"Recorded as {row['replay']}" in [x["label"] for x in links(at)]


def test_allow_run_is_one_switch_with_its_old_name(monkeypatch):
    from provex.app import allow_run
    from provex.app.cli import app as cli_app

    [option] = [p for p in cli_app.app.params if p.name == "allow"]
    assert option.opts == ["--allow-run", "--allow-verify"] and option.is_flag
    monkeypatch.delenv(allow_run.ENV, raising=False)  # restored (unset) after the test
    monkeypatch.delenv(allow_run.LEGACY_ENV, raising=False)
    for on in (True, False):
        allow_run.set_allowed(on)
        assert allow_run.allowed() is on
    monkeypatch.delenv(allow_run.ENV)
    monkeypatch.setenv(allow_run.LEGACY_ENV, "1")
    assert allow_run.allowed()


# ---- app/graphview.py (pure) -----------------------------------------------

def fan_out(n: int) -> tuple[list[dict], list[dict]]:
    """One model version and ``n`` predictions of it."""
    nodes = [{"uid": "model:m@1", "label": "ModelVersion", "name": "m v1"}]
    nodes += [{"uid": f"prediction:p{i}", "label": "Prediction", "name": f"p{i}"} for i in range(n)]
    edges = [{"src": f"prediction:p{i}", "dst": "model:m@1", "type": "PREDICTED_BY"} for i in range(n)]
    return nodes, edges


def test_colours_and_shapes_differ_per_kind():
    view = graphview.build(*fan_out(3), root="model:m@1", collapse_over=None)
    by_kind = {n["kind"]: (n["color"], n["shape"]) for n in view.nodes}
    assert by_kind == {"ModelVersion": graphview.STYLE["ModelVersion"], "Prediction": graphview.STYLE["Prediction"]}
    assert len({c for c, _ in graphview.STYLE.values()}) >= 12


def test_two_thousand_predictions_become_one_group_node():
    view = graphview.build(*fan_out(2000), root="model:m@1")
    assert len(view.nodes) == 2
    group = next(n for n in view.nodes if n["kind"] == "Prediction")
    assert group["label"] == "2,000 predictions" and group["count"] == 2000
    assert view.collapsed == {group["id"]: 2000}
    assert view.edges == [{"from": group["id"], "to": "model:m@1", "label": "PREDICTED_BY ×2,000",
                           "title": "PREDICTED_BY ×2,000", "arrows": "to", "dashes": False}]
    assert view.legend == [
        {"kind": "ModelVersion", "color": graphview.STYLE["ModelVersion"][0], "shape": "diamond", "count": 1,
         "doc": "a registry version"},
        {"kind": "Prediction", "color": graphview.STYLE["Prediction"][0], "shape": "dot", "count": 2000,
         "doc": "one model output"},
    ]


def test_node_cap_keeps_the_nearest_and_says_how_many_left_out():
    view = graphview.build(*fan_out(50), root="model:m@1", collapse_over=None, node_cap=20)
    assert len(view.nodes) == 20 and view.dropped == 31
    assert "model:m@1" in {n["id"] for n in view.nodes}
    assert all(e["from"] in {n["id"] for n in view.nodes} for e in view.edges) and len(view.edges) == 19
    assert view.notes == ["display cap 20 nodes: 31 more nodes not drawn"]


def test_small_fan_outs_stay_individual():
    view = graphview.build(*fan_out(5), root="model:m@1", collapse_over=10)
    assert len(view.nodes) == 6 and not view.collapsed


def test_placeholders_root_and_hover():
    nodes = [{"uid": "data:a.csv@abc123456789", "label": "DataVersion", "name": "a.csv", "placeholder": True,
              "sources": ["dvc.lock"], "last_ingest": "dvc-1"},
             {"uid": "run:r1", "label": "Run", "name": "train"}]
    edges = [{"src": "run:r1", "dst": "data:a.csv@abc123456789", "type": "USED"}]
    view = graphview.build(nodes, edges, root="run:r1")
    data, run = view.nodes
    assert data["label"] == "a.csv\n@abc12345" and data["shapeProperties"] == {"borderDashes": [4, 4]}
    assert "placeholder" in data["title"] and "sources: dvc.lock" in data["title"]
    assert run["borderWidth"] == 5 and run["shadow"]["color"] == graphview.ROOT_BORDER
    assert "borderWidth" not in data and view.edges[0]["label"] == "USED"


def test_the_layout_is_planned_to_fill_the_canvas_with_physics_as_an_option():
    view = graphview.build(*fan_out(3), root="model:m@1")
    assert view.plan.direction == "RL" and view.plan.levels == 2  # shallow: left to right
    hier = json.loads(graphdraw.options("hierarchical", view.plan))
    assert hier["layout"]["hierarchical"]["enabled"] and hier["layout"]["hierarchical"]["direction"] == "RL"
    assert hier["physics"]["enabled"] is False and hier["nodes"]["scaling"]["label"]["drawThreshold"] <= 1
    assert json.loads(graphdraw.options("physics"))["physics"]["enabled"] is True
    page = graphdraw.render(view.nodes, view.edges)
    assert '"hierarchical": {"enabled": true' in page.replace("\\", "") and "<h1>" not in page
    with pytest.raises(ValueError):
        graphdraw.options("spiral")
    chain = [{"uid": f"data:d{i}.csv@{i:08d}", "label": "DataVersion", "path": f"data/d{i}.csv", "hash": f"{i:08d}"}
             for i in range(12)]
    links = [{"src": chain[i]["uid"], "dst": chain[i + 1]["uid"], "type": "WAS_DERIVED_FROM"} for i in range(11)]
    deep = graphview.build(chain, links).plan
    assert deep.levels == 12 and deep.scale * graphdraw.FONT >= 13  # twelve levels, labels still 13 px
    assert graphdraw.MIN_HEIGHT <= deep.height <= graphdraw.MAX_HEIGHT


def test_every_node_has_a_short_readable_label():
    nodes = [{"uid": "data:data/raw/tx/2026-02.csv@04fc6d27fb7b", "label": "DataVersion",
              "path": "data/raw/tx/2026-02.csv", "hash": "04fc6d27fb7b"},
             {"uid": "data:data/prepared/tx/2026-02.csv@565f439a5c94", "label": "DataVersion",
              "path": "data/prepared/tx/2026-02.csv", "hash": "565f439a5c94"},
             {"uid": "data:data/raw/h.csv@mlflow:1fd1f558", "label": "DataVersion", "path": "data/raw/h.csv",
              "hash": "mlflow:1fd1f558"},
             {"uid": "run:dvc:p:df526a8e0b13:prepare@2026-02", "label": "Run", "stage": "prepare@2026-02",
              "commit": "df526a8e0b13"},
             {"uid": "commit:df526a8e0b13eacbf6bac36ed661cde220a7c128", "label": "CodeVersion",
              "sha": "df526a8e0b13eacbf6bac36ed661cde220a7c128"},
             {"uid": "model:credit-limit@5", "label": "ModelVersion"},
             {"uid": "run:1446f52a11a04", "label": "Run", "name": "train_credit_limit_with_a_long_name_indeed"}]
    shown = graphlabels.labels(nodes)
    assert list(shown.values()) == ["2026-02.csv\n@04fc6d27\nraw", "2026-02.csv\n@565f439a\nprepared",
                                    "h.csv\n@1fd1f558", "prepare\n@2026-02", "df526a8", "credit-limit@5",
                                    "train_credit_\nlimit_with_a_\u2026"]
    assert all(len(line) <= graphlabels.LINE_CHARS for text in shown.values() for line in text.split("\n"))


def test_flagged_nodes_are_marked_and_a_path_is_drawn_bold():
    nodes, edges = fan_out(40)
    nodes += [{"uid": "run:r", "label": "Run", "name": "train"}, {"uid": "run:d", "label": "Run", "name": "dvc"},
              {"uid": "data:raw.csv@aa", "label": "DataVersion", "path": "raw.csv", "hash": "aa"}]
    edges += [{"src": "model:m@1", "dst": "run:r", "type": "WAS_GENERATED_BY"},
              {"src": "run:d", "dst": "run:r", "type": "SAME_AS"}, {"src": "run:d", "dst": "data:raw.csv@aa", "type": "USED"}]
    path = graphview.upstream_path(edges, "prediction:p7", "data:raw.csv@aa")
    assert path == ["prediction:p7", "model:m@1", "run:r", "run:d", "data:raw.csv@aa"]  # SAME_AS either way
    assert graphview.upstream_path(edges, "data:raw.csv@aa", "prediction:p7") == []  # never downstream
    marks = {"data:raw.csv@aa": ["data anomaly: amount is 100x its siblings' median"], "prediction:p3": ["replay differs"]}
    view = graphview.build(nodes, edges, root="model:m@1", marks=marks, path=path)
    by_id = {n["id"]: n for n in view.nodes}
    assert "prediction:p7" in by_id and "prediction:p3" not in by_id  # the path's prediction stays out of the group
    raw = by_id["data:raw.csv@aa"]
    assert raw["label"].startswith(graphview.FLAG_SIGN) and raw["color"]["border"] == graphview.FLAG_BORDER
    assert "amount is 100x" in raw["title"] and raw["flags"] and raw["path"]
    group = next(n for n in view.nodes if n["id"].startswith("group:"))
    assert group["flags"] == ["replay differs"] and group["label"] == graphview.FLAG_SIGN + "39 predictions"
    bold = [(e["from"], e["to"]) for e in view.edges if e.get("path")]
    assert len(bold) == 4 and all(e["width"] == 5 for e in view.edges if e.get("path"))
    assert {e["kind"] for e in view.legend} >= {graphview.FLAG_SIGN + "flagged", "marked path"}
    cut = graphview.build(nodes, edges, root="model:m@1", path=path + ["data:gone@1"])
    assert any("not fully drawn" in note for note in cut.notes)


def test_rows_from_the_console_become_nodes_and_edges():
    rows = [{"p": {"_labels": ["Node", "Prediction"], "uid": "prediction:x"},
             "e": {"_type": "PREDICTED_BY", "_start": "prediction:x", "_end": "model:m@2"}}]
    nodes, edges = graphrows.from_rows(rows)
    assert nodes == [{"uid": "prediction:x", "label": "Prediction"}, {"uid": "model:m@2", "label": "ModelVersion"}]
    assert edges == [{"src": "prediction:x", "dst": "model:m@2", "type": "PREDICTED_BY"}]


def test_render_inlines_its_javascript():
    view = graphview.build(*fan_out(40), root="model:m@1")
    page = graphdraw.render(view.nodes, view.edges, legend_entries=view.legend)
    assert not re.search(r"<script[^>]*src=[\"']?https?://", page)
    assert not re.search(r"<link[^>]*href=[\"']?https?://", page)
    assert "new vis.Network(" in page and "vis-network" in page.lower() and len(page) > 100_000
    assert "40 predictions" in page and 'id="legend"' in page


# ---- provex app ------------------------------------------------------------

def test_app_command_runs_streamlit_on_loopback(monkeypatch):
    import click

    from provex.app.cli import app as cli_app

    monkeypatch.delenv("STREAMLIT_SERVER_PORT", raising=False)
    args = cli_app.command_line(9123)
    assert args[1:5] == ["-m", "streamlit", "run", str(APP)]
    assert args[args.index("--server.address") + 1] == "127.0.0.1"
    assert args[args.index("--server.headless") + 1] == "true"
    assert args[args.index("--client.toolbarMode") + 1] == "viewer"  # no Deploy button
    assert args[-2:] == ["--server.port", "9123"]
    monkeypatch.setenv("STREAMLIT_SERVER_PORT", "8765")
    assert cli_app.command_line(None)[-2:] == ["--server.port", "8765"]
    monkeypatch.setenv("STREAMLIT_SERVER_PORT", "eighty")
    with pytest.raises(click.BadParameter, match="STREAMLIT_SERVER_PORT"):
        cli_app.command_line(None)


def test_footer_counts_the_graph_and_names_the_last_ingest(g):
    from provex.app import footer
    from provex.graph import status

    info = footer.facts(g)
    [last] = status.ingest_runs(g, limit=1)
    assert info["edges"] == sum(r["count"] for r in status.edge_counts(g)) > 0
    assert info["last_ingest"] == last["started_at"] and last["source"] in info["last_source"]
    line = footer.text(info)
    assert line.startswith(f"{info['nodes']:,} nodes · {info['edges']:,} edges · last ingest {last['started_at'][:10]}")
    at = open_page("search")
    assert line in [shown(c.value) for c in at.caption]
