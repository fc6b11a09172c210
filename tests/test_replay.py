"""provex replay: logged predictions re-run through their exact model version
(real MLflow pyfunc models of the sample), chained upstream predictions first,
overrides, another model version, the --against attribution, and a model whose
artifact is missing (its own small MLflow store)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sample import expected

from provex.app.cli import cli
from provex.app.reproduce.attribution import attribute
from provex.app.reproduce.outcome import compare, logged_decimals
from provex.app.reproduce.replay import replay
from provex.graph import flags, replays
from provex.graph.connection import Graph
from provex.vocab import model as m

X = expected()
LOW, SPOUSE = X["complaint"]["low_limit"], X["complaint"]["spouse"]
AFTER_FIX = X["complaint"]["low_limit_after_fix"]


def mv(key: str) -> str:
    name, version = key.split("@")
    return m.model_version(name, version).uid


def pred(pid: str) -> str:
    return m.prediction(pid).uid


# ---- outcome rules (pure) ----------------------------------------------------------------------


def test_logged_precision_and_outcomes() -> None:
    assert [logged_decimals(v) for v in (210.0, 0.6444, 4280.0, 25000.0, 3.5)] == [-1, 4, -1, -3, 1]
    assert compare(207.88, 210.0).outcome == "reproduced"
    assert "tens" in compare(207.88, 210.0).post_processing
    assert compare(0.6444, 0.6444).post_processing.startswith("none")
    assert compare(2960.4, 210.0).outcome == "differs"
    assert compare(205.0000001, 210.0).outcome == "reproduced"
    near = compare(204.9999999999, 210.0)  # rounds to 200, yet within half a unit of 210
    assert near.outcome == "reproduced-within-tolerance" and "half a unit" in near.tolerance


def test_loading_a_model_leaves_mlflows_tracking_uri_as_it_was(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import mlflow

    from provex.app.reproduce.models import tracking_store

    mlflow.set_tracking_uri(None)  # nothing pinned, as in a fresh process
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'before.db'}")
    with tracking_store(f"sqlite:///{tmp_path / 'model.db'}"):
        assert mlflow.get_tracking_uri().endswith("model.db") and mlflow.get_registry_uri().endswith("model.db")
    assert mlflow.get_tracking_uri().endswith("before.db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'later.db'}")
    assert mlflow.get_tracking_uri().endswith("later.db")  # the environment still decides: nothing was pinned


# ---- the sample (read only: the library functions, no recording) -----------------------------------


def test_the_complaint_replays_to_about_208_logged_as_210(g: Graph) -> None:
    got = replay(g, pred(LOW["credit_limit_prediction"]))
    assert got.outcome == "reproduced", got.reason
    assert got.model_version == mv(LOW["credit_limit_version"]) and got.loaded_from == "models:/credit-limit/5"
    assert got.logged_output == LOW["credit_limit"] and abs(got.replayed_output - 208) < 1
    assert got.replayed_as_logged == LOW["credit_limit"] and "tens" in got.post_processing
    [up] = got.upstream  # the chained scoring prediction, replayed first
    assert up.prediction == pred(LOW["scoring_prediction"]) and up.outcome == "reproduced"
    assert up.model_version == mv(LOW["credit_scoring_version"])
    assert got.fed == {"score": {"logged": LOW["score"], "fed": LOW["score"], "from": up.prediction}}


def test_a_single_prediction_replays_without_a_chain(g: Graph) -> None:
    got = replay(g, pred(SPOUSE["scoring_prediction"]))
    assert (got.outcome, got.upstream, got.fed) == ("reproduced", [], {})
    assert round(got.replayed_output, 4) == SPOUSE["score"] and "probability" in got.read_from


def test_the_previous_version_gives_about_14x_on_the_same_inputs(g: Graph) -> None:
    got = replay(g, pred(LOW["credit_limit_prediction"]), model=mv("credit-limit@4"))
    assert got.outcome == "differs" and got.model_version == mv("credit-limit@4")
    assert 13 < got.replayed_output / LOW["credit_limit"] < 15  # ~2,960
    assert got.with_logged_model["model_version"] == mv("credit-limit@5")
    assert abs(got.with_logged_model["replayed_output"] - 208) < 1
    assert "credit-limit@4 -> 2,960" in got.summary()


def test_an_overridden_prediction_is_compared_before_the_override(g: Graph) -> None:
    [row] = g.read("MATCH (p:Prediction)-[:OVERRIDDEN_BY]->(o:Override) WHERE p.prediction_id STARTS WITH 'cl-0' "
                   "AND o.original_output < 100000 RETURN p.uid AS uid, p.output AS output, "
                   "o.original_output AS original ORDER BY p.uid LIMIT 1")
    got = replay(g, row["uid"])
    assert got.outcome == "reproduced", got.reason
    assert got.logged_output == row["original"] != row["output"]
    assert "override max-limit-cap" in got.post_processing


def test_a_chained_prediction_from_the_review_csv_replays(g: Graph) -> None:
    got = replay(g, pred(AFTER_FIX["credit_limit_prediction"]))
    assert got.outcome == "reproduced", got.reason
    assert [u.model_version for u in got.upstream] == [mv(AFTER_FIX["credit_scoring_version"])]


def test_against_the_spouse_the_model_version_accounts_for_most(g: Graph) -> None:
    got = attribute(g, pred(LOW["credit_limit_prediction"]), pred(SPOUSE["credit_limit_prediction"]))
    rows = got["rows"]
    assert rows[0]["change"] == "model version" and rows[0]["b"] == mv(SPOUSE["credit_limit_version"])
    assert rows[0]["share_of_difference"] > 0.5
    whole = next(r for r in rows if r["change"] == "all inputs")
    assert abs(whole["share_of_difference"]) < 0.1  # the inputs: little
    singles = [r for r in rows if r["change"] == "input"]
    assert {r["what"] for r in singles} >= {"income", "score"}
    assert rows[-1]["change"] == "remainder"
    parts = sum(r["effect"] for r in rows if r["change"] in ("model version", "upstream model version", "all inputs"))
    assert abs(parts + rows[-1]["effect"] - got["difference"]) < 1e-6
    assert "not a causal proof" in got["caveat"]


# ---- a small MLflow store of its own: recording, and a missing artifact -----------------------------


@pytest.fixture
def tiny(graph: Graph, tmp_path: Path) -> dict[str, Any]:
    """One registered sklearn model (y = 3a + 2b) in a fresh MLflow store, one
    logged prediction of it, both ingested through the CLI."""
    import mlflow
    import pandas as pd
    from sklearn.linear_model import LinearRegression

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    exp = mlflow.create_experiment("tiny", artifact_location=(tmp_path / "artifacts").as_uri())
    x = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [0.0, 1.0, 0.0, 1.0]})
    fitted = LinearRegression().fit(x, 3 * x["a"] + 2 * x["b"])
    with mlflow.start_run(experiment_id=exp):
        mlflow.sklearn.log_model(fitted, name="model", registered_model_name="tiny", input_example=x.head(1))
    log = tmp_path / "predictions.jsonl"
    inputs = {"a": 2.5, "b": 1.0}
    log.write_text(json.dumps({"prediction_id": "t-1", "timestamp": "2026-03-01T10:00:00Z", "model_name": "tiny",
                               "model_version": "1", "inputs": inputs, "output": 9.5}) + "\n")
    runner = CliRunner()
    for args in (["ingest", "mlflow", "--tracking-uri", uri], ["ingest", "predictions", str(log)]):
        done = runner.invoke(cli, args)
        assert done.exit_code == 0, done.output
    return {"graph": graph, "artifacts": tmp_path / "artifacts"}


def test_a_replay_is_recorded_on_the_prediction(tiny: dict[str, Any]) -> None:
    done = CliRunner().invoke(cli, ["replay", "t-1", "--format", "json"])
    assert done.exit_code == 0, done.output
    got = json.loads(done.stdout)
    assert (got["outcome"], got["logged_output"], got["model_version"]) == ("reproduced", 9.5, "model:tiny@1")
    assert abs(got["replayed_output"] - 9.5) < 1e-6
    [row] = replays.past_replays(tiny["graph"], "prediction:t-1")
    assert (row["replay"], row["outcome"], row["model_version"]) == (got["replay"], "reproduced", "model:tiny@1")
    assert tiny["graph"].read("MATCH (r:Replay {uid: $uid}) RETURN r.provex_version AS v", {"uid": got["replay"]})[0]["v"]


def test_a_replay_of_a_prediction_held_only_in_the_store_adds_no_gap(tiny: dict[str, Any], tmp_path: Path) -> None:
    """With ``--prediction-nodes none`` the Replay hangs on a placeholder node; the
    prediction is in the store, so it is not "referenced but never ingested"."""
    log = tmp_path / "more.jsonl"
    log.write_text(json.dumps({"prediction_id": "t-2", "timestamp": "2026-03-01T11:00:00Z", "model_name": "tiny",
                               "model_version": "1", "inputs": {"a": 1.0, "b": 0.0}, "output": 3.0}) + "\n")
    runner = CliRunner()
    assert runner.invoke(cli, ["ingest", "predictions", str(log), "--prediction-nodes", "none"]).exit_code == 0
    done = runner.invoke(cli, ["replay", "t-2", "--format", "json"])
    assert done.exit_code == 0 and json.loads(done.stdout)["outcome"] == "reproduced", done.output
    graph = tiny["graph"]
    [node] = graph.read("MATCH (p:Prediction {uid: 'prediction:t-2'}) RETURN p.placeholder AS placeholder")
    assert node["placeholder"] is True  # what the replay hangs on
    assert flags.node_flags(graph, ["prediction:t-2"]) == {}


def test_a_model_whose_artifact_is_missing_could_not_run(tiny: dict[str, Any]) -> None:
    shutil.rmtree(tiny["artifacts"])
    done = CliRunner().invoke(cli, ["replay", "prediction:t-1", "--format", "json"])
    assert done.exit_code == 1 and "Traceback" not in done.output
    got = json.loads(done.stdout)
    assert got["outcome"] == "could-not-run" and got["replayed_output"] is None
    assert "could not load model:tiny@1" in got["reason"] and "models:/tiny/1" in got["reason"]
    [row] = replays.past_replays(tiny["graph"], "prediction:t-1")
    assert row["outcome"] == "could-not-run"
