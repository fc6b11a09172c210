"""The sample story end to end: ``sample_data/`` restored and ingested through
the real adapters and CLI (tests/sample.py), then every debugging question of
the catalog asked about it. Expected values come from
``sample_data/expected.json`` (the generator's ground truth), never from
provex's own output.

The sample is loaded once for the module (~1 minute); every test only reads.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from graphcheck import count
from sample import SAMPLE, expected, reingest_predictions

from provex.app.cli import cli
from provex.graph import search
from provex.graph.connection import Graph
from provex.graph.lineage import traverse
from provex.graph.questions import CATALOG, ask
from provex.vocab import model as m

X = expected()
BAD_COMMIT = X["bad_commit"]
BAD_RAW = X["bad_data_version"]["raw"]
BAD_PREPARED = X["bad_data_version"]["prepared"]
BAD_FEATURES = X["bad_data_version"]["features"]
LOW = X["complaint"]["low_limit"]
SPOUSE = X["complaint"]["spouse"]
AFFECTED = X["affected_predictions"]


def mv_uid(key: str) -> str:
    """``credit-limit@5`` (expected.json's key) as a ModelVersion uid."""
    name, version = key.split("@")
    return m.model_version(name, version).uid


def dv_uid(spec: dict[str, str]) -> str:
    return m.data_version(spec["path"], spec["md5"]).uid


def author_of(sha: str) -> str:
    return next(c["author"] for c in X["dvc_repo"]["commits"] if c["sha"] == sha)


def rows(graph: Graph, question: str, **params: object) -> list[dict[str, Any]]:
    df = ask(graph, question, params, limit=10_000)
    assert not df.attrs["truncated"]
    return df.astype(object).where(df.notna(), None).to_dict("records")  # nulls as None, not NaN


def cli_json(*args: str) -> Any:
    result = CliRunner().invoke(cli, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# ---- ingest -------------------------------------------------------------------------------------------


def test_ingest_has_no_rejects_and_lands_every_commit_version_and_prediction(sample: dict, g: Graph) -> None:
    assert sample["exit_code"] == 0, sample["stderr"]
    assert [(s["kind"], s["rejected"]) for s in sample["summaries"]] == [
        ("dvc", 0), ("mlflow", 0)] + [("predictions", 0)] * len(X["prediction_counts"])  # one summary per log
    shas = {r["sha"] for r in g.read("MATCH (c:CodeVersion) RETURN c.sha AS sha")}
    assert shas == {c["sha"] for c in X["dvc_repo"]["commits"]}
    versions = {r["uid"] for r in g.read("MATCH (v:ModelVersion) RETURN v.uid AS uid")}
    assert versions == {mv_uid(k) for k in X["model_versions"]}
    assert sample["counts"]["Prediction"] == sum(X["prediction_counts"].values())


def test_every_model_version_links_its_training_run_and_commit(g: Graph) -> None:
    got = {r["mv"]: (r["run"], r["commit"]) for r in g.read(
        "MATCH (v:ModelVersion)-[:WAS_GENERATED_BY]->(r:Run) OPTIONAL MATCH (r)-[:USED]->(c:CodeVersion) "
        "RETURN v.uid AS mv, r.run_id AS run, c.sha AS commit")}
    assert got == {mv_uid(k): (v["run_id"], v["commit"]) for k, v in X["model_versions"].items()}


# ---- MLflow run <-> DVC stage run (graph.linking, commit+inputs) ----------------------------------------


def lock_at(sample: dict, sha: str) -> dict[str, Any]:
    """The stages of ``dvc.lock`` at ``sha`` in the restored DVC repository."""
    repo = Path(sample["config"]).parent / "credit-dvc"
    text = subprocess.run(["git", "-C", str(repo), "show", f"{sha}:dvc.lock"], capture_output=True, text=True,
                          check=True).stdout
    return yaml.safe_load(text)["stages"]


def training_stage(sample: dict, key: str) -> tuple[str, str]:
    """(stage, commit of its DVC run) for model version ``key``: the lock entry at
    the version's commit whose deps are expected.json's training deps, and the
    latest commit at or before it where that entry changed (DVC runs are
    recorded only there)."""
    version = X["model_versions"][key]
    locked = lock_at(sample, version["commit"])
    stage = next(name for name, e in locked.items()
                 if {d["path"]: d["md5"] for d in e.get("deps", [])} == version["training_deps"])
    shas = [c["sha"] for c in X["dvc_repo"]["commits"]]
    upto = shas[:shas.index(version["commit"]) + 1]
    changed = [sha for i, sha in enumerate(upto)
               if i == 0 or lock_at(sample, sha).get(stage) != lock_at(sample, upto[i - 1]).get(stage)]
    return stage, changed[-1]


def test_every_mlflow_training_run_is_same_as_its_dvc_stage_run(sample: dict, g: Graph) -> None:
    got = {r["run_id"]: r for r in g.read(
        "MATCH (r:Run {kind: 'mlflow-run'})-[e:SAME_AS]->(d:Run) RETURN r.run_id AS run_id, d.kind AS kind, "
        "d.stage AS stage, d.commit AS commit, e.method AS method, e.confidence AS confidence")}
    want = {}
    for key, version in X["model_versions"].items():
        stage, commit = training_stage(sample, key)
        want[version["run_id"]] = {"run_id": version["run_id"], "kind": "dvc-stage", "stage": stage,
                                   "commit": commit, "method": "commit+inputs", "confidence": 0.8}
    assert got == want
    bad = got[X["model_versions"]["credit-limit@5"]["run_id"]]
    assert (bad["stage"], bad["commit"]) == ("train_credit_limit", BAD_COMMIT)


def test_training_data_of_credit_limit_5_includes_every_dvc_dep(sample: dict, g: Graph) -> None:
    got = {(r["path"], r["hash"]): r for r in rows(g, "model-training-data", model_version=mv_uid("credit-limit@5"))
           if r["depth"] == 0}
    stage, _ = training_stage(sample, "credit-limit@5")
    deps = X["model_versions"]["credit-limit@5"]["training_deps"]
    assert set(deps.items()) <= set(got)
    for path in ("models/scoring.pkl", "src/train_credit_limit.py"):  # deps of the DVC stage only
        assert got[(path, deps[path])]["via"] == f"dep of the linked DVC stage run {stage}"
    scoring = got[("models/scoring.pkl", deps["models/scoring.pkl"])]
    assert (scoring["stage"], scoring["commit"]) == (scoring_producer(sample), BAD_COMMIT)


def scoring_producer(sample: dict) -> str:
    """The stage whose lock at the bad commit outputs credit-limit@5's models/scoring.pkl."""
    md5 = X["model_versions"]["credit-limit@5"]["training_deps"]["models/scoring.pkl"]
    return next(name for name, e in lock_at(sample, BAD_COMMIT).items()
                if {"path": "models/scoring.pkl", "md5": md5} in
                [{"path": o["path"], "md5": o.get("md5")} for o in e.get("outs", [])])


def test_reproduce_credit_limit_5_repros_the_dvc_stage(sample: dict, g: Graph) -> None:
    got = rows(g, "reproduce-model", model_version=mv_uid("credit-limit@5"))
    stage, commit = training_stage(sample, "credit-limit@5")
    cmd = lock_at(sample, BAD_COMMIT)[stage]["cmd"]
    assert cmd == "python src/train_credit_limit.py"
    train = [(r["item"], r["command"]) for r in got if r["kind"] == "train"]
    assert train == [(f"{stage} @ {commit[:10]}", f"dvc repro --single-item --force {stage}")]
    assert scoring_producer(sample) in {r["item"] for r in got if r["kind"] == "stage"}
    deps = X["model_versions"]["credit-limit@5"]["training_deps"]
    commands = {r["command"] for r in got}
    assert f"expect models/scoring.pkl md5 {deps['models/scoring.pkl']}" in commands  # re-made, then checked
    assert not [c for c in commands if c.startswith("dvc pull models/")]  # never fetched as well


def test_lineage_of_the_mlflow_run_reaches_the_dvc_stage_deps(g: Graph) -> None:
    run = m.run(X["model_versions"]["credit-limit@5"]["run_id"]).uid
    got = {n["uid"] for n in cli_json("lineage", run, "--up", "--depth", "2")["nodes"]}
    deps = X["model_versions"]["credit-limit@5"]["training_deps"]
    assert {m.data_version(p, md5).uid for p, md5 in deps.items()} <= got


# ---- the complaint ------------------------------------------------------------------------------------


def test_prediction_provenance_of_the_complaint(g: Graph) -> None:
    got = rows(g, "prediction-provenance", prediction=LOW["credit_limit_prediction"])
    by_hop = defaultdict(list)
    for r in got:
        by_hop[r["hop"]].append(r)
    assert {r["prediction"] for r in by_hop[0]} == {m.prediction(LOW["credit_limit_prediction"]).uid}
    assert {r["prediction"] for r in by_hop[1]} == {m.prediction(LOW["scoring_prediction"]).uid}
    model_of = {hop: [r["ref"] for r in rs if r["aspect"] == "model version"] for hop, rs in by_hop.items()}
    assert model_of == {0: [mv_uid(LOW["credit_limit_version"])], 1: [mv_uid(LOW["credit_scoring_version"])]}
    output = {r["hop"]: r["value"] for r in got if (r["aspect"], r["key"]) == ("prediction", "output")}
    assert output == {0: LOW["credit_limit"], 1: LOW["score"]}
    commits = {r["hop"]: r["key"] for r in got if r["aspect"] == "code commit"}
    assert commits == {0: BAD_COMMIT, 1: BAD_COMMIT}
    runs = {r["hop"]: r["value"] for r in got if r["aspect"] == "training run"}
    assert runs == {0: X["training_runs"][LOW["credit_limit_version"]],
                    1: X["training_runs"][LOW["credit_scoring_version"]]}
    # The training data, through the MLflow dataset's DVC twin, is the bad features version ...
    twins = {(r["hop"], r["ref"]) for r in got if r["aspect"] == "training data (same as)"}
    assert {(0, dv_uid(BAD_FEATURES)), (1, dv_uid(BAD_FEATURES))} <= twins
    # ... whose upstream holds the bad raw file: reachable from the version provenance names.
    upstream = rows(g, "model-training-data", model_version=model_of[0][0])
    assert (BAD_RAW["path"], BAD_RAW["md5"]) in {(r["path"], r["hash"]) for r in upstream}


@pytest.mark.parametrize("who", ["low_limit", "spouse"])
def test_models_in_chain(g: Graph, who: str) -> None:
    case = X["complaint"][who]
    got = rows(g, "models-in-chain", prediction=case["credit_limit_prediction"])
    assert [(r["hop"], r["prediction"], r["model_version"], r["unresolved"], r["output"]) for r in got] == [
        (0, m.prediction(case["credit_limit_prediction"]).uid, mv_uid(case["credit_limit_version"]), False,
         case["credit_limit"]),
        (1, m.prediction(case["scoring_prediction"]).uid, mv_uid(case["credit_scoring_version"]), False,
         case["score"])]


def test_the_two_spouses_limits_differ_by_the_ratio(g: Graph) -> None:
    low = rows(g, "models-in-chain", prediction=LOW["credit_limit_prediction"])[0]["output"]
    high = rows(g, "models-in-chain", prediction=SPOUSE["credit_limit_prediction"])[0]["output"]
    assert round(high / low, 2) == X["complaint"]["ratio"]


# ---- upstream -----------------------------------------------------------------------------------------


def test_model_training_data_reaches_the_bad_features_and_raw_file(g: Graph) -> None:
    got = rows(g, "model-training-data", model_version=mv_uid("credit-limit@5"))
    by_uid = {r["data_version"]: r for r in got}
    features = by_uid[dv_uid(BAD_FEATURES)]
    assert features["depth"] == 0 and features["via"].startswith("same as")
    assert features["stage"] == "purchase_features" and features["commit"] == BAD_COMMIT
    assert by_uid[dv_uid(BAD_PREPARED)]["stage"] == "prepare@2026-02"
    assert by_uid[dv_uid(BAD_RAW)]["depth"] == 2
    # Every data/ dependency dvc.lock locks for the training stage is there with its md5.
    # (models/scoring.pkl and src/*.py are deps of the DVC stage only; the MLflow run,
    # which made the model version, logged the data/ inputs.)
    deps = X["model_versions"]["credit-limit@5"]["training_deps"]
    want = {(p, md5) for p, md5 in deps.items() if p.startswith("data/")}
    assert want <= {(r["path"], r["hash"]) for r in got if r["depth"] == 0}


def test_data_origin_of_the_bad_features(g: Graph) -> None:
    got = {r["data_version"]: r for r in rows(g, "data-origin", data_version=dv_uid(BAD_FEATURES))}
    features, prepared, raw = got[dv_uid(BAD_FEATURES)], got[dv_uid(BAD_PREPARED)], got[dv_uid(BAD_RAW)]
    assert (features["origin"], features["stage"], features["commit"], features["author"]) == (
        "produced", "purchase_features", BAD_COMMIT, author_of(BAD_COMMIT))
    assert (prepared["origin"], prepared["commit"]) == ("produced", BAD_COMMIT)
    # The raw file was `dvc add`ed: no producer, and the commit that brought it in.
    assert (raw["origin"], raw["commit"], raw["author"]) == (
        "raw (no producer recorded)", BAD_COMMIT, author_of(BAD_COMMIT))
    fixed = m.data_version(X["fixed_data_version"]["raw"]["path"], X["fixed_data_version"]["raw"]["md5"]).uid
    assert fixed not in got


def test_diff_credit_limit_4_and_5(g: Graph) -> None:
    changed = X["what_changed_credit_limit_4_to_5"]
    got = {(r["aspect"], r["key"]): r for r in rows(g, "diff-model-versions", a=mv_uid("credit-limit@4"),
                                                    b=mv_uid("credit-limit@5"))}
    code = got[("code", "commit")]
    assert (code["a"], code["b"], code["differs"]) == (changed["from_commit"], changed["to_commit"], True)
    before, after = (X["model_versions"][k]["training_deps"] for k in ("credit-limit@4", "credit-limit@5"))
    for path in changed["changed_training_deps"]:
        if path.startswith("data/"):
            row = got[("data", f"{path} (md5)")]
            assert (row["a"], row["b"], row["differs"]) == (before[path], after[path], True)
    raw = got[("data", f"{BAD_RAW['path']} (md5)")]
    assert (raw["a"], raw["b"]) == (None, BAD_RAW["md5"])
    for stage in changed["new_stages"]:
        assert got[("stage", f"{stage} command")]["a"] is None
    months = got[("stage", "purchase_features param.months")]
    params = changed["purchase_features_params"]
    assert (months["a"], months["b"]) == (
        f"[{', '.join(params['from']['params.yaml']['months'])}]",
        f"[{', '.join(params['to']['params.yaml']['months'])}]")
    assert got[("param", "alpha")]["differs"] is False  # hyperparameters: same


def test_reproduce_credit_limit_5(g: Graph, sample: dict[str, Any]) -> None:
    got = rows(g, "reproduce-model", model_version=mv_uid("credit-limit@5"))
    assert got[0]["command"] == f"git checkout {BAD_COMMIT}"
    data = [r["command"] for r in got if r["kind"] == "data"]
    pulls = [c for c in data if c.startswith("dvc pull ")]
    assert pulls == data  # only DVC-tracked true inputs; source files come with the checkout
    repo = Path(sample["config"]).parent / "credit-dvc"
    git_files = set(subprocess.run(["git", "ls-files"], cwd=repo, capture_output=True, text=True,
                                   check=True).stdout.split())
    assert not {c.split()[2] for c in pulls} & git_files
    assert any(BAD_RAW["path"] in c and BAD_RAW["md5"] in c for c in pulls)
    checks = {r["command"] for r in got if r["kind"] == "check"}
    for spec in (BAD_PREPARED, BAD_FEATURES):  # made by the stages, then checked, never pulled
        assert not any(spec["path"] in c for c in pulls)
        assert f"expect {spec['path']} md5 {spec['md5']}" in checks
    steps = [r["step"] for r in got]
    assert steps == sorted(steps)
    assert "prepare@2026-02" in {r["item"] for r in got if r["kind"] == "stage"}
    alpha = X["model_versions"]["credit-limit@5"]["params"]["params.yaml"]["credit_limit"]["alpha"]
    assert f"alpha={alpha}" in {r["command"] for r in got if r["kind"] == "param"}


# ---- downstream ---------------------------------------------------------------------------------------


def test_impact_of_the_bad_raw_data(g: Graph) -> None:
    got = rows(g, "impact-of-data", data_version=dv_uid(BAD_RAW))
    per_version = Counter()
    for r in got:
        per_version[r["model_version"]] += r["predictions"]
    assert set(per_version) == {mv_uid(k) for k in X["bad_model_versions"]}
    assert dict(per_version) == {mv_uid(k): n for k, n in AFFECTED["direct_by_model_version"].items()}
    hourly = Counter()
    for r in rows(g, "impact-of-data", data_version=dv_uid(BAD_RAW), window="hour"):
        hourly[r["model_version"]] += r["predictions"]
    assert hourly == per_version


def test_impacted_predictions_of_the_bad_raw_data(g: Graph) -> None:
    # The generator counts predictions made by a bad version (direct) plus those
    # chained onto a bad upstream score by a good version (credit-limit@4 for 30
    # minutes). impact-of-data answers the first (model versions trained on the
    # data); impacted-predictions lists both, one row per prediction, each under
    # the version that made it, ``via`` naming why.
    got = rows(g, "impacted-predictions", data_version=dv_uid(BAD_RAW))
    assert len(got) == len({r["prediction"] for r in got}) == AFFECTED["total"]
    per_version = Counter(r["model_version"] for r in got)
    want = Counter({mv_uid(k): n for k, n in AFFECTED["direct_by_model_version"].items()})
    want.update({mv_uid(k): n for k, n in AFFECTED["via_upstream_by_model_version"].items()})
    assert per_version == want
    for key in AFFECTED["via_upstream_by_model_version"]:
        assert {r["via"] for r in got if r["model_version"] == mv_uid(key)} == {
            "uses a prediction of credit-scoring v4"}
    limits = [r for r in got if r["model_version"].startswith("model:credit-limit@")]
    assert len(limits) == AFFECTED["credit_limit_total"]
    assert len({r["subject_id"] for r in got}) == AFFECTED["customers"]
    assert m.prediction(LOW["credit_limit_prediction"]).uid in {r["prediction"] for r in got}
    assert m.prediction(SPOUSE["credit_limit_prediction"]).uid not in {r["prediction"] for r in got}
    # In time order (walked hour by hour, so the row limit stops early), and a
    # prediction both made by a bad version and chained on one says both.
    assert [(r["timestamp"], r["prediction"]) for r in got] == sorted((r["timestamp"], r["prediction"]) for r in got)
    low = next(r for r in got if r["prediction"] == m.prediction(LOW["credit_limit_prediction"]).uid)
    assert low["via"] == "predicted by credit-limit v5, uses a prediction of credit-scoring v4"
    first = ask(g, "impacted-predictions", {"data_version": dv_uid(BAD_RAW)}, limit=10)
    assert first.attrs["truncated"] and first["prediction"].tolist() == [r["prediction"] for r in got[:10]]


def _at(text: str, minutes: int) -> str:
    return (datetime.fromisoformat(text.replace("Z", "+00:00")) + timedelta(minutes=minutes)).isoformat()


def test_serving_model_at_follows_the_alias_history(g: Graph) -> None:
    for entry in X["alias_history"]:
        got = rows(g, "serving-model-at", model=m.model(entry["model"]).uid, at=_at(entry["from"], 1))
        assert [r["version"] for r in got] == [entry["version"]], entry
    for at, versions in X["serving_at"].items():
        for name, version in versions.items():
            assert [r["version"] for r in rows(g, "serving-model-at", model=m.model(name).uid, at=at)] == [version]


def test_serving_credit_limit_in_the_bad_window_and_after_the_fix(g: Graph) -> None:
    history = [e for e in X["alias_history"] if e["model"] == "credit-limit"]
    bad = next(e for e in history if f"credit-limit@{e['version']}" in X["bad_model_versions"])
    after_fix = X["complaint"]["low_limit_after_fix"]["credit_limit_version"].split("@")[1]
    fixed = next(e for e in history if e["version"] == after_fix)  # later versions follow it (the later complaints)
    during = rows(g, "serving-model-at", model=m.model("credit-limit").uid, at=X["complaint"]["reported_at"])
    assert [(r["version"], r["valid_from"], r["valid_to"]) for r in during] == [
        (bad["version"], bad["from"], bad["to"])]
    # Every prediction of the bad version was made while it held the alias.
    assert during[0]["predictions_while_serving"] == AFFECTED["direct_by_model_version"]["credit-limit@5"]
    after = rows(g, "serving-model-at", model=m.model("credit-limit").uid, at=_at(fixed["from"], 1))
    assert [r["version"] for r in after] == [X["complaint"]["low_limit_after_fix"]["credit_limit_version"].split("@")[1]]


def test_impact_of_the_bad_commit(g: Graph) -> None:
    got = rows(g, "impact-of-commit", commit=m.code_version(BAD_COMMIT).uid)
    versions = {r["ref"]: r["predictions"] for r in got if r["kind"] == "ModelVersion"}
    assert versions == {mv_uid(k): n for k, n in AFFECTED["direct_by_model_version"].items()}
    assert {mv_uid(k) for k in X["bad_model_versions"]} == set(versions)
    data = {r["ref"] for r in got if r["kind"] == "DataVersion"}
    assert {dv_uid(BAD_PREPARED), dv_uid(BAD_FEATURES)} <= data


def _sklearn_pins() -> dict[str, str]:
    """model version key -> the scikit-learn pin in its logged requirements.txt."""
    pins = {}
    for key, run_id in X["training_runs"].items():
        reqs = SAMPLE / "mlflow" / "artifacts" / key.split("@")[0] / run_id / "artifacts" / "model" / "requirements.txt"
        for line in reqs.read_text().splitlines():
            if line.lower().startswith("scikit-learn=="):
                pins[key] = line.split("==", 1)[1].strip()
    return pins


def test_impact_of_library_lists_every_version(g: Graph) -> None:
    pins = _sklearn_pins()
    assert set(pins) == set(X["model_versions"])
    for version in set(pins.values()):
        got = rows(g, "impact-of-library", library="scikit-learn", version=version)
        assert {r["model_version"] for r in got} == {mv_uid(k) for k, v in pins.items() if v == version}
    both = rows(g, "impact-of-library", library="Scikit_Learn")
    assert len({r["model_version"] for r in both}) == len(X["model_versions"])


def test_overrides(g: Graph) -> None:
    got = g.read("MATCH (o:Override) RETURN o.rule AS rule, count(*) AS n")
    assert {r["rule"]: r["n"] for r in got} == X["overrides_by_rule"]  # the later complaints bring a second rule
    assert X["overrides_by_rule"][X["overrides"]["rule"]] >= X["overrides"]["total"]
    capped = g.read("MATCH (p:Prediction)-[:OVERRIDDEN_BY]->(o:Override) RETURN max(p.output) AS top")
    assert capped[0]["top"] == X["overrides"]["max_limit"]


def test_lineage_gaps(g: Graph) -> None:
    got = {r["gap"]: r for r in rows(g, "lineage-gaps")}
    assert len(got) == 10 and got["conflicting-records"]["count"] == 0
    never = got["model version never verified"]  # nobody ran provex reproduce --verify on the sample
    assert never["count"] == len(X["model_versions"])
    for gap in ("model version without a source run", "prediction without a resolvable model",
                "prediction with an ambiguous model", "referenced but never ingested (placeholder)", "stage never run"):
        assert got[gap]["count"] == 0, got[gap]
    raw = got["data version without a producer"]
    assert raw["count"] > 0 and all(e.startswith(("data:data/raw/", "data:src/")) for e in raw["examples"])


# ---- finding things -----------------------------------------------------------------------------------


def test_search_finds_the_complaint_and_the_bad_data(g: Graph) -> None:
    hits = cli_json("search", LOW["credit_limit_prediction"])
    assert hits[0]["ref"] == m.prediction(LOW["credit_limit_prediction"]).uid
    hits = cli_json("search", BAD_RAW["md5"][:8])
    assert [h["ref"] for h in hits] == [dv_uid(BAD_RAW)]


def test_lineage_walks_from_the_complaint_to_the_bad_raw_file(g: Graph) -> None:
    got = cli_json("lineage", m.prediction(LOW["credit_limit_prediction"]).uid, "--depth", "12")
    uids = {n["uid"] for n in got["nodes"]}
    assert {dv_uid(BAD_RAW), dv_uid(BAD_FEATURES), m.code_version(BAD_COMMIT).uid} <= uids


def test_restore_wrote_the_config_it_ingested(sample: dict) -> None:
    config = Path(sample["config"]).read_text()
    assert f'"{(SAMPLE / "predictions" / "mapping.toml").as_posix()}"' in config
    assert sample["config"].parent.joinpath("credit-dvc", ".git").is_dir()


def every_answer(graph: Graph) -> dict[str, Any]:
    """Each catalog question asked about the sample story, with its headline."""
    c, bad = X["complaint"], X["bad_data_version"]["raw"]
    bad_raw = m.data_version(bad["path"], bad["md5"]).uid
    params = {"prediction": c["low_limit"]["credit_limit_prediction"], "a": c["spouse"]["credit_limit_prediction"],
              "b": c["low_limit"]["credit_limit_prediction"], "subject": c["household_id"], "data_version": bad_raw,
              "model_version": m.model_version("credit-limit", 5).uid, "library": "scikit-learn",
              "commit": f"commit:{X['bad_commit']}", "model": m.model("credit-limit").uid, "at": c["reported_at"]}
    answers = {}
    for q in CATALOG.values():
        given = {p.name: params[p.name] for p in q.params if p.required}
        if q.name in ("diff-model-versions", "diff-data-versions"):
            continue  # no prediction in them
        frame = ask(graph, q.name, given)
        answers[q.name] = (frame.astype(object).where(frame.notna(), None).to_dict("records"), frame.attrs["headline"])
    answers["search"] = search.search(graph, c["household_id"])
    answers["lineage"] = sorted(n["uid"] for n in traverse(graph, params["prediction"], direction="up", depth=6).nodes)
    return answers


def test_every_answer_is_the_same_with_or_without_a_node_per_prediction(sample: dict, g: Graph,
                                                                         _sample_cache: dict) -> None:
    """The sample's predictions ingested with a node each, then with none:
    every question, search and lineage answer the same (they read the store)."""
    try:
        with_nodes = reingest_predictions(g, sample["config"], "all")
        assert with_nodes["exit_code"] == 0, with_nodes["stderr"]
        assert count(g, "Prediction") == sum(X["prediction_counts"].values())
        answers = every_answer(g)
        without = reingest_predictions(g, sample["config"], "none")
        assert without["exit_code"] == 0, without["stderr"]
        assert count(g, "Prediction") == 0 and g.facts.manifest().rows() == sum(X["prediction_counts"].values())
        again = every_answer(g)
        assert again.keys() == answers.keys()
        for name in answers:
            assert again[name] == answers[name], name
    finally:  # leave the sample as the other tests expect it (the config's own mode)
        assert reingest_predictions(g, sample["config"], "auto")["exit_code"] == 0
        _sample_cache["runs"] = [r["uid"] for r in g.read("MATCH (r:IngestRun) RETURN r.uid AS uid ORDER BY uid")]
