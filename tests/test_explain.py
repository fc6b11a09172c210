"""provex explain without Neo4j: the ranking is a pure function of plain data
(what gather read, the replay's numbers), so each kind of cause is held to
small made-up stories here (other names, other numbers: nothing of the
sample); the pairs of model versions read from question rows; the alias
timing; the decision record and its picture, escaped."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from provex.app.explain import decision, svg
from provex.graph.explain import build, pairs, rank, timing
from provex.graph.explain.rank import ANOMALY, ENVIRONMENT, INPUTS, MODEL, OVERRIDE, TIMING, UPSTREAM

OWN_A, OWN_B, UP_A, UP_B = "model:price@1", "model:price@2", "model:risk@3", "model:risk@4"
RAW = "data:feeds/orders.parquet@a1b2c3d4e5"


def side(uid: str, output: float, version: str, **extra: Any) -> dict[str, Any]:
    return {"uid": f"prediction:{uid}", "id": uid, "output": output, "override": None, "model_version": version,
            "model_ref": None, "timestamp": "2027-02-03T10:00:00Z", "subject_id": "u-1", "household_id": None,
            "feature_pipeline": "f1", "input_hash": "sha256:00", "inputs": {"age": 40, "risk": 0.5}, "upstream": [],
            **extra}


def diff(**kinds: Any) -> dict[str, Any]:
    out = pairs.empty()
    out.update(kinds)
    return out


def pair(a: str | None, b: str, role: str = "own", **kinds: Any) -> dict[str, Any]:
    return {"model": pairs.name_of(b), "role": role, "prediction": "prediction:p-2" if role == "own" else "prediction:u-2",
            "against": None, "a": a, "b": b, "basis": "served before it under alias live", "alias": "live",
            "diff": diff(**kinds)}


def found(p: dict[str, Any], q: dict[str, Any] | None = None, found_pairs: list | None = None, **rest: Any) -> dict[str, Any]:
    base = {"prediction": p, "against": q, "chain": [{"hop": 0, "uid": p["uid"], "model_version": p["model_version"],
                                                      "output": p["output"], "upstream": []}],
            "against_chain": [], "pairs": found_pairs or [], "inputs": [], "anomalies": [], "aliases": [], "timing": [],
            "origins": {"data": {}, "commits": {}}, "reach": {}, "limits": []}
    base.update(rest)
    return base


# ---- pairs ------------------------------------------------------------------------------------


def test_differences_sort_code_from_data_and_each_kind() -> None:
    rows = [
        {"aspect": "data (price)", "key": "src/feats.py (md5)", "a": "11", "b": "22"},
        {"aspect": "data (price)", "key": "feeds/new.csv (md5)", "a": None, "b": "33"},
        {"aspect": "data (price)", "key": "feeds/gone.csv (md5)", "a": "44", "b": None},
        {"aspect": "data (price)", "key": "feeds/x.csv (md5)", "a": "55", "b": "66"},
        {"aspect": "library (price)", "key": "numkit", "a": "1.0", "b": "2.0"},
        {"aspect": "param (price)", "key": "depth", "a": "3", "b": "4"},
        {"aspect": "code (price)", "key": "commit", "a": "c1", "b": "c2"},
        {"aspect": "data added by (price)", "key": "feeds/new.csv", "a": None, "b": "c2abcdef01 Add the new feed"},
        {"aspect": "library (risk)", "key": "other", "a": "1", "b": "2"},  # another model's row
    ]
    got = pairs.differences(rows, "price")
    assert [e["path"] for e in got["code"]] == ["src/feats.py"]
    assert [e["path"] for e in got["data_only_b"]] == ["feeds/new.csv"]
    assert [e["path"] for e in got["data_only_a"]] == ["feeds/gone.csv"]
    assert [e["path"] for e in got["data_changed"]] == ["feeds/x.csv"]
    assert got["libraries"] == [{"key": "numkit", "a": "1.0", "b": "2.0"}]
    assert got["commit"] == {"a": "c1", "b": "c2"}
    assert pairs.substantive(got) == ["data", "code", "libraries", "params"]


def test_stage_code_beyond_the_data_closure_is_a_code_difference() -> None:
    got = pairs.empty()
    pairs.add_stage_code(got, [{"path": "src/train.py", "hash": "1"}, {"path": "data/a.csv", "hash": "x"}],
                         [{"path": "src/train.py", "hash": "2"}, {"path": "data/a.csv", "hash": "y"}])
    assert got["code"] == [{"path": "src/train.py", "hash_kind": "md5", "a": "1", "b": "2"}]


def test_compared_pairs_put_the_explained_models_own_pair_first() -> None:
    rows = [{"aspect": "model version", "key": "risk", "a": UP_A, "b": UP_B},
            {"aspect": "model version", "key": "price", "a": OWN_A, "b": OWN_B}]
    chain_b = [{"hop": 0, "uid": "prediction:p-2", "model_version": OWN_B}, {"hop": 1, "uid": "prediction:u-2", "model_version": UP_B}]
    chain_a = [{"hop": 0, "uid": "prediction:p-1", "model_version": OWN_A}, {"hop": 1, "uid": "prediction:u-1", "model_version": UP_A}]
    got = pairs.compared_pairs(rows, chain_b, chain_a)
    assert [(p["model"], p["role"], p["prediction"], p["against"]) for p in got] == [
        ("price", "own", "prediction:p-2", "prediction:p-1"), ("risk", "upstream", "prediction:u-2", "prediction:u-1")]


# ---- timing -----------------------------------------------------------------------------------

HISTORY = [
    {"model": "risk", "alias": "live", "model_version": UP_A, "valid_from": "2027-01-01T09:00:00Z", "valid_to": "2027-02-03T09:00:00Z"},
    {"model": "risk", "alias": "live", "model_version": UP_B, "valid_from": "2027-02-03T09:00:00Z", "valid_to": None},
    {"model": "price", "alias": "live", "model_version": OWN_A, "valid_from": "2027-01-01T09:00:00Z", "valid_to": "2027-02-03T11:30:00Z"},
    {"model": "price", "alias": "live", "model_version": OWN_B, "valid_from": "2027-02-03T11:30:00Z", "valid_to": None},
]


def test_a_prediction_between_two_alias_moves_of_its_chain() -> None:
    got = timing.findings(HISTORY, "2027-02-03T10:00:00Z", {"model": "price", "model_version": OWN_A},
                          [{"model": "risk", "model_version": UP_B, "prediction": "prediction:u-9"}])
    assert [(f["kind"], f["from"], f["until"], f["next_version"], f["minutes"]) for f in got] == [
        ("between moves", "2027-02-03T09:00:00Z", "2027-02-03T11:30:00Z", OWN_B, 150)]
    after = timing.findings(HISTORY, "2027-02-03T12:00:00Z", {"model": "price", "model_version": OWN_B},
                            [{"model": "risk", "model_version": UP_B, "prediction": "prediction:u-9"}])
    assert after == []


def test_a_version_serving_outside_its_alias_window_is_stale() -> None:
    got = timing.findings(HISTORY, "2027-03-01T10:00:00Z", {"model": "price", "model_version": OWN_A}, [])
    assert [f["kind"] for f in got] == ["stale"]
    assert timing.findings(HISTORY, "2027-03-01T10:00:00Z", {"model": "other", "model_version": "model:other@1"}, []) == []


# ---- ranking: one story per kind ----------------------------------------------------------------


def test_an_override_that_moved_the_output_explains_the_gap_exactly() -> None:
    p = side("p-2", 500.0, OWN_B, override={"rule": "cap-new", "original": 9000.0, "final": 500.0})
    q = side("p-1", 9000.0, OWN_B)
    causes = rank.rank(found(p, q, [pair(OWN_B, OWN_B)], reach={"rule:cap-new": {"predictions": 7}}))
    assert [(c["kind"], c["basis"], c["share"]) for c in causes] == [(OVERRIDE, "exact", 1.0)]
    assert "cap-new" in causes[0]["action"] and "7 predictions" in causes[0]["action"]


def test_nothing_upstream_differs_so_the_inputs_explain_it_and_no_version_is_blamed() -> None:
    p, q = side("p-2", 300.0, OWN_B), side("p-1", 1200.0, OWN_B)
    deltas = [{"input": "income", "a": 90000, "b": 30000, "ratio": 1 / 3, "size": 1.1}]
    found_ = found(p, q, [pair(OWN_B, OWN_B), pair(UP_B, UP_B, "upstream")], inputs=deltas)
    explained = build(found_)
    assert [c["kind"] for c in explained["causes"]] == [INPUTS]
    assert explained["causes"][0]["share"] == 1.0
    assert "nothing upstream differs" in explained["headline"]
    assert not re.search(r"made it, not|version change", explained["headline"])


def test_only_the_environment_differs_so_it_is_a_library_change() -> None:
    p, q = side("p-2", 300.0, OWN_B), side("p-1", 400.0, OWN_A)
    libs = [{"key": "numkit", "a": "1.0", "b": "2.0"}]
    causes = rank.rank(found(p, q, [pair(OWN_A, OWN_B, libraries=libs, commit={"a": "c1", "b": "c2"})],
                             reach={"library:numkit==2.0": {"predictions": 40, "model_versions": 3}}))
    assert causes[0]["kind"] == ENVIRONMENT
    assert causes[0]["origin"]["libraries"] == [{"name": "numkit", "from": "1.0", "to": "2.0"}]
    assert causes[0]["reach"]["predictions"] == 40 and "pin numkit==1.0" in causes[0]["action"]


def test_a_model_trained_on_an_anomalous_data_version_ranks_first_with_that_data_as_origin() -> None:
    p = side("p-2", 50.0, OWN_B)
    anomaly = {"data_version": RAW, "path": "feeds/orders.parquet", "hash": "a1b2c3d4e5", "column": "qty", "kind": "scale",
               "value": 5000.0, "typical": 5.0, "factor": 1000.0, "compared": 4, "downstream_of": None, "rank": 1,
               "in_b": [OWN_B, UP_B], "in_a": [], "models": ["price", "risk"]}
    found_ = found(p, None, [pair(OWN_A, OWN_B, data_only_b=[{"path": "feeds/orders.parquet", "hash_kind": "md5", "a": None,
                                                             "b": "a1b2c3d4e5"}]),
                             pair(UP_A, UP_B, "upstream", params=[{"key": "depth", "a": "3", "b": "4"}])],
                   anomalies=[anomaly], origins={"data": {RAW: {"commit": "k" * 40, "stage": None}},
                                                 "commits": {"k" * 40: {"message": "Load orders", "author": "Ana"}}},
                   reach={f"data:{RAW}": {"predictions": 321, "model_versions": 2}})
    causes = rank.rank(found_)
    assert [c["kind"] for c in causes] == [MODEL, ANOMALY, UPSTREAM]
    first = causes[0]
    assert first["origin"]["data_version"] == RAW and first["origin"]["commit"]["message"] == "Load orders"
    assert first["reach"]["predictions"] == 321 and first["subject"] == RAW
    assert "Roll the live alias of price back to price@1" in first["action"]


def test_the_replay_decides_when_it_ran() -> None:
    """Lineage says the model changed; the replay says the swap barely moves the
    output while the inputs explain most: the inputs rank first."""
    p, q = side("p-2", 100.0, OWN_B), side("p-1", 1100.0, OWN_A)
    found_ = found(p, q, [pair(OWN_A, OWN_B, params=[{"key": "depth", "a": "3", "b": "4"}])],
                   inputs=[{"input": "income", "a": 90000, "b": 30000, "ratio": 1 / 3, "size": 1.1}])
    assert rank.rank(found_)[0]["kind"] == MODEL
    replay = {"attribution": {"outcome": "attributed", "rows": [
        {"change": "model version", "what": "the model", "a": OWN_B, "b": OWN_A, "output": 120.0, "effect": 20.0},
        {"change": "input", "what": "income", "a": 30000, "b": 90000, "output": 1000.0, "effect": 900.0}]}}
    causes = rank.rank(found_, replay)
    assert [(c["kind"], c["basis"], c["share"]) for c in causes] == [(INPUTS, "replay", 0.9), (MODEL, "replay", 0.02)]


def test_alone_the_swap_through_the_last_known_good_weighs_the_model_change() -> None:
    p = side("p-2", 100.0, OWN_B)
    found_ = found(p, None, [pair(OWN_A, OWN_B, params=[{"key": "depth", "a": "3", "b": "4"}])])
    small = {"swaps": [{"model_version": OWN_A, "prediction": "prediction:p-2", "output": 101.0, "logged": 100.0}]}
    big = {"swaps": [{"model_version": OWN_A, "prediction": "prediction:p-2", "output": 1400.0, "logged": 100.0}]}
    assert rank.rank(found_, small)[0]["weight"] < 0.2
    top = rank.rank(found_, big)[0]
    assert top["weight"] > 0.8 and "replayed through price@1: 1,400" in top["statement"]


def test_alias_timing_is_a_cause_with_its_window() -> None:
    p = side("p-2", 100.0, OWN_A)
    finding = timing.findings(HISTORY, "2027-02-03T10:00:00Z", {"model": "price", "model_version": OWN_A},
                              [{"model": "risk", "model_version": UP_B, "prediction": "prediction:u-9"}])[0]
    causes = rank.rank(found(p, None, [], timing=[{**finding, "predictions": 12}]))
    assert [c["kind"] for c in causes] == [TIMING]
    assert "150 minutes" in causes[0]["statement"] and "12 predictions" in causes[0]["action"]


def test_no_difference_anywhere_says_so_with_the_limits() -> None:
    p, q = side("p-2", 100.0, OWN_B), side("p-1", 100.0, OWN_B)
    explained = build(found(p, q, [pair(OWN_B, OWN_B)], limits=["price@2: model version without a source run: causes there are unknown."]))
    assert explained["causes"] == []
    assert "no cause found" in explained["headline"] and "without a source run" in explained["headline"]
    assert any("was not run" in x for x in explained["limits"])


def test_the_schema_of_every_cause() -> None:
    p, q = side("p-2", 500.0, OWN_B, override={"rule": "cap", "original": 900.0, "final": 500.0}), side("p-1", 900.0, OWN_A)
    explained = build(found(p, q, [pair(OWN_A, OWN_B, libraries=[{"key": "numkit", "a": "1", "b": "2"}])]))
    assert explained["schema"] == "provex.explain/1"
    for cause in explained["causes"]:
        assert {"rank", "kind", "evidence", "origin", "reach", "action"} <= set(cause)
        assert cause["kind"] in rank.KINDS and isinstance(cause["action"], str) and cause["action"]
    assert [c["rank"] for c in explained["causes"]] == list(range(1, len(explained["causes"]) + 1))


# ---- the decision record ------------------------------------------------------------------------

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_the_decision_record_is_self_contained_and_escapes_every_ingested_text() -> None:
    p = side("p-2", 500.0, OWN_B, override={"rule": HOSTILE, "original": 900.0, "final": 500.0}, subject_id=HOSTILE,
             inputs={HOSTILE: 1.0, "age": HOSTILE})
    q = side("p-1", 900.0, OWN_B)
    explained = build(found(p, q, [pair(OWN_B, OWN_B)], limits=[HOSTILE]))
    nodes = [{"id": "prediction:p-2", "label": HOSTILE + "\nline 2", "title": HOSTILE, "color": "#756bb1", "shape": "dot",
              "path": True},
             {"id": HOSTILE, "label": "raw", "title": "t", "color": {"background": "#3182bd"}, "shape": "square",
              "flags": ["data anomaly: " + HOSTILE]}]
    extra = {"provenance": [{"prediction": "prediction:p-2", "hop": 0, "aspect": "model version", "key": HOSTILE,
                             "value": HOSTILE, "ref": OWN_B}],
             "picture": svg.render(nodes, [{"from": "prediction:p-2", "to": HOSTILE, "path": True, "label": HOSTILE}]),
             "picture_notes": [HOSTILE], "path": ["prediction:p-2", HOSTILE],
             "flagged": [{"node": HOSTILE, "why": HOSTILE}], "replays": [], "reproductions": []}
    text = decision.render(explained, extra)
    assert "<script>alert" not in text and "<img src=x" not in text and "onerror=alert(1)>" not in text
    assert text.count("<script") == 1 and 'type="application/json"' in text  # the data block only
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", text)  # no external asset
    assert "<svg" in text and "&lt;script&gt;" in text
    embedded = re.search(r'<script type="application/json" id="explanation">(.*?)</script>', text, re.S).group(1)
    assert "<" not in embedded and ">" not in embedded


@pytest.mark.parametrize("shape", ["dot", "square", "diamond", "star", "hexagon", "triangle", "triangleDown", "odd"])
def test_the_static_picture_draws_every_shape_with_its_label(shape: str) -> None:
    nodes = [{"id": "a", "label": "model@5", "color": "#e6550d", "shape": shape},
             {"id": "b", "label": "data.csv\n04fc6d27", "color": "#3182bd", "shape": "dot", "flags": ["anomaly"]}]
    text = svg.render(nodes, [{"from": "a", "to": "b", "path": True}])
    assert text.startswith("<svg") and text.endswith("</svg>")
    assert ">model@5</text>" in text and ">04fc6d27</text>" in text and 'class="node flagged"' in text
    layout = svg.layout(nodes, [{"from": "a", "to": "b"}])
    assert layout["b"][0] < layout["a"][0]  # the dependency left of what depends on it


def test_found_is_not_changed_by_ranking() -> None:
    p, q = side("p-2", 500.0, OWN_B), side("p-1", 900.0, OWN_A)
    found_ = found(p, q, [pair(OWN_A, OWN_B, params=[{"key": "k", "a": "1", "b": "2"}])])
    before = copy.deepcopy(found_)
    build(found_)
    assert found_ == before
