"""MLflow ingest against real stores written by the real ``mlflow`` client
(SQLite backend, a loopback ``mlflow server``, the corpus file stores), into
the real Neo4j; and the MLflow <-> DVC evidence links."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

import pytest
import yaml

from bench.serving import serving
from provex.graph import linking, pipeline
from provex.graph.server import free_port
from provex.graph.writer import Writer
from provex.ingest import mlflow as adapter
from provex.vocab import model
from provex.vocab.errors import SourceError
from provex.vocab.records import Edge, Node

COMMIT = "0123456789abcdef0123456789abcdef01234567"
DATA_PATH = "data/train.csv"
REQUIREMENTS = ["scikit-learn==1.5.1", "pandas>=2.0"]
EDGES_NOT_BOOKKEEPING = "MATCH (a)-[e]->() WHERE NOT a:IngestRun RETURN count(e) AS n"


# --------------------------------------------------------------------------- the store


class Store:
    """Facts about the SQLite store built by the fixture, as MLflow reports them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.db = root / "mlflow.db"
        self.uri = f"sqlite:///{self.db}"
        self.scope = f"sqlite:///{self.db.resolve()}"
        self.ids: dict[str, str] = {}

    def client(self):
        from mlflow.tracking import MlflowClient

        return MlflowClient(self.uri, self.uri)


def _frame():
    import pandas as pd

    return pd.DataFrame({"age": [31, 45, 52, 23], "income": [1.5, 2.5, 3.0, 0.5], "churned": [0, 1, 1, 0]})


def _build(store: Store) -> None:
    """Runs with params/metrics/tags, a nested run, a dataset input, two
    logged sklearn models registered as versions 1 and 2."""
    import mlflow
    import mlflow.sklearn
    from sklearn.linear_model import LogisticRegression

    client = store.client()
    exp_id = client.create_experiment("churn", artifact_location=(store.root / "artifacts").as_uri())
    frame = _frame()
    fitted = LogisticRegression().fit(frame[["age", "income"]], frame["churned"])
    mlflow.set_experiment(experiment_id=exp_id)
    with mlflow.start_run(run_name="train", tags={"mlflow.source.git.commit": COMMIT, "team": "risk"}) as parent:
        mlflow.log_params({"alpha": 0.5, "max_iter": 100})
        for step, loss in enumerate([0.9, 0.5, 0.3]):
            mlflow.log_metric("loss", loss, step=step)
        mlflow.log_metric("accuracy", 0.75)
        dataset = mlflow.data.from_pandas(frame, source=DATA_PATH, name="train")
        mlflow.log_input(dataset, context="training")
        info1 = mlflow.sklearn.log_model(fitted, name="model", pip_requirements=REQUIREMENTS,
                                         registered_model_name="churn-model")
        with mlflow.start_run(run_name="tune", nested=True) as child:
            mlflow.log_param("alpha", 0.1)
            info2 = mlflow.sklearn.log_model(fitted, name="model", pip_requirements=REQUIREMENTS,
                                             registered_model_name="churn-model")
    client.set_registered_model_alias("churn-model", "production", "1")
    store.ids = {"experiment": exp_id, "parent": parent.info.run_id, "child": child.info.run_id,
                 "digest": dataset.digest, "model1": info1.model_id, "model2": info2.model_id}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("mlflow-store")
    made = Store(root)
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    os.environ.update({"MLFLOW_TRACKING_URI": made.uri, "MLFLOW_REGISTRY_URI": made.uri})
    cwd = os.getcwd()
    os.chdir(root)  # nothing MLflow writes by default may land in the project
    try:
        _build(made)
    finally:
        os.chdir(cwd)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return made


def ingest(graph, uri: str, **kwargs):
    return pipeline.ingest(graph, kind="mlflow", uri=uri,
                           read=lambda state: adapter.read(uri, state=state, **kwargs))


def props(graph, ref: model.Ref) -> dict:
    rows = graph.read("MATCH (n {uid: $uid}) RETURN properties(n) AS p, labels(n) AS l", {"uid": ref.uid})
    assert rows, f"no node {ref.uid}"
    assert ref.label in rows[0]["l"]
    return rows[0]["p"]


def edges(graph, etype: str, src: model.Ref | None = None) -> set[tuple[str, str]]:
    rows = graph.read(f"MATCH (a)-[:{etype}]->(b) WHERE $src IS NULL OR a.uid = $src RETURN a.uid AS a, b.uid AS b",
                      {"src": src.uid if src else None})
    return {(r["a"], r["b"]) for r in rows}


def aliases(graph, alias: str) -> list[dict]:
    return graph.read("MATCH (:Model {uid: $m})-[e:HAS_ALIAS {alias: $a}]->(v) "
                      "RETURN v.uid AS v, e.valid_from AS valid_from, e.valid_to AS valid_to ORDER BY valid_from",
                      {"m": model.model("churn-model").uid, "a": alias})


def artifact_requirements(store: Store, model_id: str) -> list[str]:
    """requirements.txt of a logged model, read from its artifact folder."""
    from urllib.parse import urlparse

    location = store.client().get_logged_model(model_id).artifact_location
    text = (Path(urlparse(location).path) / "requirements.txt").read_text()
    return sorted(line.strip() for line in text.splitlines() if line.strip())


# --------------------------------------------------------------------------- sqlite store


def test_sqlite_store_exact_graph(graph, store):
    summary = ingest(graph, store.uri)
    assert not summary.rejected
    check_runs(graph, store)
    check_models(graph, store)


def check_runs(graph, store: Store) -> None:
    """Experiment, runs (params, metrics, tags, nesting, commit, user), dataset input."""
    ids, client = store.ids, store.client()
    exp, parent, child = (model.experiment(store.scope, ids["experiment"]), model.run(ids["parent"]),
                          model.run(ids["child"]))
    assert props(graph, exp)["name"] == "churn"

    run = client.get_run(ids["parent"])
    got = props(graph, parent)
    assert {k: got[k] for k in ("status", "user", "git_commit", "param.alpha", "param.max_iter", "metric.loss",
                                "metric.accuracy", "metric_steps.loss", "tag.team", "kind")} == {
        "status": "FINISHED", "user": run.info.user_id, "git_commit": COMMIT, "param.alpha": "0.5",
        "param.max_iter": "100", "metric.loss": 0.3, "metric.accuracy": 0.75, "metric_steps.loss": 3,
        "tag.team": "risk", "kind": "mlflow-run"}
    assert json.loads(got["params"]) == {"alpha": "0.5", "max_iter": "100"}
    assert got["start_time"] == adapter.iso(run.info.start_time) and got["end_time"] == adapter.iso(run.info.end_time)

    data = model.data_version(DATA_PATH, "mlflow:" + ids["digest"])
    assert edges(graph, "PART_OF", parent) == {(parent.uid, exp.uid)}
    assert edges(graph, "PART_OF", child) == {(child.uid, exp.uid), (child.uid, parent.uid)}
    assert edges(graph, "USED", parent) == {(parent.uid, model.code_version(COMMIT).uid), (parent.uid, data.uid)}
    assert edges(graph, "ASSOCIATED_WITH", parent) == {(parent.uid, model.agent(run.info.user_id).uid)}

    dv = props(graph, data)
    assert (dv["path"], dv["hash"], dv["hash_kind"], dv["name"]) == (DATA_PATH, ids["digest"], "mlflow-digest", "train")
    assert edges(graph, "VERSION_OF", data) == {(data.uid, model.dataset(DATA_PATH).uid)}
    assert edges(graph, "HAS_FEATURE", data) == {(data.uid, model.feature(c).uid) for c in _frame().columns}
    assert graph.read("MATCH (:Run {uid: $r})-[e:USED]->(:DataVersion) RETURN e.context AS c",
                      {"r": parent.uid}) == [{"c": "training"}]


def check_models(graph, store: Store) -> None:
    """Logged models, registry versions, the production alias, the environment."""
    ids = store.ids
    lm1, lm2 = model.logged_model(ids["model1"]), model.logged_model(ids["model2"])
    v1, v2 = model.model_version("churn-model", 1), model.model_version("churn-model", 2)
    assert props(graph, lm1)["run_id"] == ids["parent"]
    assert edges(graph, "WAS_GENERATED_BY", lm1) == {(lm1.uid, model.run(ids["parent"]).uid)}
    assert edges(graph, "WAS_GENERATED_BY", lm2) == {(lm2.uid, model.run(ids["child"]).uid)}

    assert props(graph, model.model("churn-model"))["name"] == "churn-model"
    for version, lm, run_id in ((v1, lm1, ids["parent"]), (v2, lm2, ids["child"])):
        got = props(graph, version)
        assert (got["model_id"], got["run_id"], got["status"]) == (lm.uid.split(":", 1)[1], run_id, "READY")
        assert edges(graph, "VERSION_OF", version) == {(version.uid, model.model("churn-model").uid)}
        assert edges(graph, "WAS_GENERATED_BY", version) == {(version.uid, model.run(run_id).uid)}

    lines = artifact_requirements(store, ids["model1"])
    env = model.environment(hashlib.sha256("\n".join(lines).encode()).hexdigest()[:32])
    assert props(graph, env)["requirements"] == lines
    derived = edges(graph, "WAS_DERIVED_FROM", v1)
    assert derived == {(v1.uid, lm1.uid)}
    assert (v1.uid, env.uid) in edges(graph, "USED", v1) and (lm1.uid, env.uid) in edges(graph, "USED", lm1)
    libs = {(r["n"], r["v"]) for r in graph.read(
        "MATCH (:Environment {uid: $e})-[:REQUIRES]->(l:Library) RETURN l.name AS n, l.version AS v", {"e": env.uid})}
    assert {("scikit-learn", "1.5.1"), ("pandas", ">=2.0")} <= libs

    prod = aliases(graph, "production")
    assert [(a["v"], a["valid_to"]) for a in prod] == [(v1.uid, None)]


def test_alias_move_closes_interval_and_reingest_changes_nothing(graph, store):
    client = store.client()
    v1, v2 = model.model_version("churn-model", 1), model.model_version("churn-model", 2)
    client.set_registered_model_alias("churn-model", "canary", "1")
    ingest(graph, store.uri)
    first = aliases(graph, "canary")
    assert [(a["v"], a["valid_to"]) for a in first] == [(v1.uid, None)]

    client.set_registered_model_alias("churn-model", "canary", "2")
    ingest(graph, store.uri)
    moved = aliases(graph, "canary")
    assert [(a["v"], a["valid_from"]) for a in moved][0] == (v1.uid, first[0]["valid_from"])
    assert moved[1]["v"] == v2.uid and moved[1]["valid_to"] is None
    assert moved[0]["valid_to"] == moved[1]["valid_from"] > moved[0]["valid_from"]

    before = graph.read(EDGES_NOT_BOOKKEEPING)[0]["n"]
    summary = ingest(graph, store.uri)
    assert not {"Run", "ModelVersion", "LoggedModel", "Environment"} & {k for k, v in summary.counts.items() if v}
    assert aliases(graph, "canary") == moved
    assert graph.read(EDGES_NOT_BOOKKEEPING)[0]["n"] == before
    client.delete_registered_model_alias("churn-model", "canary")


# --------------------------------------------------------------------------- http server


@pytest.fixture(scope="module")
def server(store, tmp_path_factory: pytest.TempPathFactory):
    port = free_port()
    mlflow_bin = Path(sys.executable).parent / "mlflow"
    url = f"http://127.0.0.1:{port}"
    with serving([str(mlflow_bin), "server", "--backend-store-uri", store.uri, "--host", "127.0.0.1",
                  "--port", str(port), "--workers", "1"], f"{url}/health",
                 tmp_path_factory.mktemp("mlflow-server") / "server.log", 120, cwd=store.root):
        yield url


def test_http_server(graph, store, server):
    summary = ingest(graph, server)
    ids = store.ids
    assert props(graph, model.experiment(server, ids["experiment"]))["name"] == "churn"
    assert props(graph, model.run(ids["parent"]))["param.alpha"] == "0.5"
    assert edges(graph, "PART_OF", model.run(ids["child"])) == {
        (model.run(ids["child"]).uid, model.experiment(server, ids["experiment"]).uid),
        (model.run(ids["child"]).uid, model.run(ids["parent"]).uid)}
    assert props(graph, model.model_version("churn-model", 2))["model_id"] == ids["model2"]
    assert [a["v"] for a in aliases(graph, "production")] == [model.model_version("churn-model", 1).uid]
    assert "metric-steps-skipped" in {f.kind for f in summary.flags}
    assert not summary.rejected


# --------------------------------------------------------------------------- errors


def test_unreachable_server_is_a_source_error():
    uri = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(SourceError, match=uri.replace(".", r"\.")):
        list(adapter.read(uri))
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("uri", ["sqlite:////nonexistent/provex/mlflow.db", "/nonexistent/provex/mlruns"])
def test_missing_local_store_is_a_source_error(uri):
    with pytest.raises(SourceError, match=uri):
        list(adapter.read(uri))


# --------------------------------------------------------------------------- corpus file stores


def corpus_facts(mlruns: Path) -> tuple[dict[str, dict[str, str]], dict[str, dict]]:
    """Run ids with their params, and registry versions, read from the files."""
    runs = {}
    for meta in mlruns.glob("*/*/meta.yaml"):
        data = yaml.safe_load(meta.read_text()) or {}
        if data.get("run_id") == meta.parent.name:
            params = meta.parent / "params"
            runs[meta.parent.name] = {p.name: p.read_text() for p in params.iterdir()} if params.is_dir() else {}
    versions = {}
    for meta in mlruns.glob("models/*/version-*/meta.yaml"):
        data = yaml.safe_load(meta.read_text())
        versions[f"{data['name']}@{data['version']}"] = data
    return runs, versions


CORPUS_STORES = ["1kruidenp__TaxiFareModel", "03MuskaanJain__Iris_MLFlow", "160103126__mlflow-fastapi-wine"]


@pytest.mark.parametrize("name", CORPUS_STORES)
def test_corpus_file_store(graph, corpus, name, tmp_path):
    mlruns = tmp_path / "mlruns"
    shutil.copytree(corpus / "mlflow" / name / "mlruns", mlruns)  # MLflow adds .trash: never touch ../shared
    before = os.environ.get("MLFLOW_ALLOW_FILE_STORE")
    summary = ingest(graph, str(mlruns))
    assert os.environ.get("MLFLOW_ALLOW_FILE_STORE") == before
    assert "file-store-opt-in" in {f.kind for f in summary.flags}
    runs, versions = corpus_facts(mlruns)
    assert runs
    for run_id, params in runs.items():
        got = props(graph, model.run(run_id))
        assert {k: got.get(f"param.{k}") for k in params} == params
    for meta in versions.values():
        got = props(graph, model.model_version(meta["name"], meta["version"]))
        assert (got["source"], got.get("run_id"), got.get("model_id")) == (
            meta["source"], meta["run_id"] or None, meta.get("model_id") or None)
    for meta in mlruns.glob("models/*/meta.yaml"):
        data = yaml.safe_load(meta.read_text())
        for alias, version in (data.get("aliases") or {}).items():
            rows = graph.read("MATCH (:Model {uid: $m})-[e:HAS_ALIAS {alias: $a}]->(v) WHERE e.valid_to IS NULL "
                              "RETURN v.uid AS v", {"m": model.model(data["name"]).uid, "a": alias})
            assert rows == [{"v": model.model_version(data["name"], version).uid}]


# --------------------------------------------------------------------------- linking to DVC


def dvc_version(path: str = DATA_PATH, md5: str = "d" * 32, commit: str = COMMIT, date: str | None = None) -> list:
    """A DVC-like DataVersion (and its commit) as the DVC adapter writes them."""
    code = {"sha": commit, **({"date": date} if date else {})}
    return [Node(model.data_version(path, md5), {"path": path, "hash": md5, "hash_kind": "md5", "commit": commit},
                 "dvc-test"), Node(model.code_version(commit), code, "dvc-test")]


def write_dvc(graph, records: list) -> None:
    with Writer(graph, "dvc-test") as writer:
        writer.add_all(records)


def same_as(graph) -> set[tuple[str, str, str, float]]:
    rows = graph.read("MATCH (m:DataVersion)-[e:SAME_AS]->(d:DataVersion) "
                      "RETURN m.uid AS m, d.uid AS d, e.method AS method, e.confidence AS c")
    return {(r["m"], r["d"], r["method"], r["c"]) for r in rows}


def test_link_by_path_and_commit(graph, store):
    write_dvc(graph, dvc_version() + dvc_version(md5="e" * 32, commit="f" * 40))
    summary = ingest(graph, store.uri)
    mlflow_dv = model.data_version(DATA_PATH, "mlflow:" + store.ids["digest"])
    assert same_as(graph) == {(mlflow_dv.uid, model.data_version(DATA_PATH, "d" * 32).uid, "path+commit", 0.9)}
    assert summary.links["path+commit"] == 1
    assert ingest(graph, store.uri).links.get("path+commit") is None  # idempotent
    assert len(same_as(graph)) == 1


def test_link_by_recomputed_md5(graph, store, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / DATA_PATH).write_text(_frame().to_csv(index=False))
    md5 = hashlib.md5((tmp_path / DATA_PATH).read_bytes()).hexdigest()
    write_dvc(graph, dvc_version(md5=md5, commit="a" * 40))
    summary = ingest(graph, store.uri, data_root=str(tmp_path))
    mlflow_dv = model.data_version(DATA_PATH, "mlflow:" + store.ids["digest"])
    assert props(graph, mlflow_dv)["file_md5"] == md5
    assert same_as(graph) == {(mlflow_dv.uid, model.data_version(DATA_PATH, md5).uid, "path+md5", 1.0)}
    assert summary.links == {"path+md5": 1}


def test_link_by_nearest_earlier_commit(graph, store):
    start = props_free_start(store)
    write_dvc(graph, dvc_version(md5="1" * 32, commit="1" * 40, date="2020-01-01T00:00:00+00:00")
              + dvc_version(md5="2" * 32, commit="2" * 40, date="2021-01-01T00:00:00+01:00")
              + dvc_version(md5="3" * 32, commit="3" * 40, date="2999-01-01T00:00:00+00:00"))
    summary = ingest(graph, store.uri)
    mlflow_dv = model.data_version(DATA_PATH, "mlflow:" + store.ids["digest"])
    assert start > "2021"
    assert same_as(graph) == {(mlflow_dv.uid, model.data_version(DATA_PATH, "2" * 32).uid, "path+nearest-commit", 0.6)}
    assert summary.links == {"path+nearest-commit": 1}


def props_free_start(store: Store) -> str:
    """The parent run's start time, from MLflow (the run's commit has no date here)."""
    return adapter.iso(store.client().get_run(store.ids["parent"]).info.start_time)


# --------------------------------------------------------------------------- MLflow run -> DVC stage run

C1, C2, C3 = "1" * 40, "2" * 40, "3" * 40
DATES = {C1: "2026-01-01T10:00:00+00:00", C2: "2026-02-01T10:00:00+00:00", C3: "2026-03-01T10:00:00+00:00"}


def dv(path: str, digest: str) -> model.Ref:
    return model.data_version(path, digest)


def dvc_run(stage: str, commit: str, deps: list[model.Ref], outs: tuple[model.Ref, ...] = ()) -> list:
    """A DVC-like stage run at ``commit`` as the DVC adapter writes it: Run,
    INSTANCE_OF its Stage, USED its deps, outs WAS_GENERATED_BY it."""
    run, st = model.run(f"dvc:proj:{commit[:12]}:{stage}"), model.stage("proj", f".:{stage}")
    out = [Node(run, {"kind": "dvc-stage", "name": stage, "stage": stage, "commit": commit, "cmd": f"python {stage}.py",
                      "start_time": DATES[commit]}, "dvc-test"),
           Node(st, {"name": stage, "kind": "dvc-stage"}, "dvc-test"), Edge("INSTANCE_OF", run, st, source="dvc-test"),
           Node(model.code_version(commit), {"sha": commit, "date": DATES[commit]}, "dvc-test")]
    for ref in deps + list(outs):
        path, digest = ref.uid.split(":", 1)[1].rsplit("@", 1)
        out.append(Node(ref, {"path": path, "hash": digest, "hash_kind": "md5", "commit": commit}, "dvc-test"))
    out += [Edge("USED", run, ref, {"role": "dep"}, source="dvc-test") for ref in deps]
    out += [Edge("WAS_GENERATED_BY", ref, run, source="dvc-test") for ref in outs]
    return out


def mlflow_run(run_id: str, commit: str, twins: dict[str, model.Ref]) -> list:
    """An MLflow-like run at ``commit`` whose dataset inputs (path -> DVC twin)
    are already SAME_AS their DVC versions."""
    run = model.run(run_id)
    out = [Node(run, {"kind": "mlflow-run", "run_id": run_id, "git_commit": commit}, "mlflow-test"),
           Edge("USED", run, model.code_version(commit), source="mlflow-test")]
    for path, twin in twins.items():
        ml = dv(path, f"mlflow:{run_id}")
        out += [Node(ml, {"path": path, "hash": f"mlflow:{run_id}", "hash_kind": "mlflow-digest"}, "mlflow-test"),
                Edge("USED", run, ml, source="mlflow-test"),
                Edge("SAME_AS", ml, twin, {"method": "path+commit", "confidence": 0.9}, source="mlflow-test")]
    return out


def run_links(graph) -> set[tuple[str, str, str, float]]:
    rows = graph.read("MATCH (a:Run)-[e:SAME_AS]->(b:Run) RETURN a.uid AS a, b.uid AS b, e.method AS method, "
                      "e.confidence AS c")
    return {(r["a"], r["b"], r["method"], r["c"]) for r in rows}


def test_mlflow_run_links_to_the_dvc_stage_run_current_at_its_commit(graph):
    feat1, feat2, raw, other = dv("data/f.csv", "f1" * 16), dv("data/f.csv", "f2" * 16), dv("data/raw.csv", "a" * 32), \
        dv("data/other.csv", "b" * 32)
    model2 = dv("models/m.pkl", "c" * 32)
    write_dvc(graph, dvc_run("train", C1, [feat1, raw, dv("src/train.py", "e" * 32)])
              + dvc_run("train", C2, [feat2, raw, dv("src/train.py", "e" * 32)], (model2,))
              # evaluate uses the same data plus the model train made: downstream, not the trainer
              + dvc_run("evaluate", C2, [feat2, raw, model2])
              + [Node(model.code_version(C3), {"sha": C3, "date": DATES[C3]}, "dvc-test"), Node(other, {}, "dvc-test")]
              # at C3 nothing was re-run: train@C2 is current; at C1, train@C1 (one of two inputs: partial)
              + mlflow_run("late", C3, {"data/f.csv": feat2, "data/raw.csv": raw})
              + mlflow_run("early", C1, {"data/raw.csv": raw, "data/other.csv": other}))
    assert linking.run(graph) == {"commit+inputs": 2}
    train = lambda c: model.run(f"dvc:proj:{c[:12]}:train").uid  # noqa: E731
    assert run_links(graph) == {(model.run("late").uid, train(C2), "commit+inputs", 0.8),
                                (model.run("early").uid, train(C1), "commit+inputs", 0.5)}
    assert linking.run(graph) == {}  # idempotent: a second run adds nothing
    assert len(run_links(graph)) == 2


def test_no_run_link_when_two_dvc_runs_are_equally_good(graph):
    feat = dv("data/f.csv", "f1" * 16)
    write_dvc(graph, dvc_run("train_a", C1, [feat]) + dvc_run("train_b", C1, [feat])
              + mlflow_run("r", C1, {"data/f.csv": feat}))
    assert "commit+inputs" not in linking.run(graph)
    assert run_links(graph) == set()


# --------------------------------------------------------------------------- reading ahead


def test_read_ahead_raises_where_the_item_would_come_and_stops_when_left():
    from provex.ingest.mlflow.store import prefetched

    def failing():
        yield from (1, 2)
        raise ValueError("page 3 is gone")

    ahead = prefetched(failing())
    assert [next(ahead), next(ahead)] == [1, 2]
    with pytest.raises(ValueError, match="page 3 is gone"):
        next(ahead)

    made = []

    def endless():
        while True:
            made.append(len(made))
            yield made[-1]

    ahead = prefetched(endless(), ahead=2)
    assert [next(ahead) for _ in range(3)] == [0, 1, 2]
    ahead.close()
    time.sleep(0.5)
    stopped = len(made)
    time.sleep(0.3)
    assert len(made) == stopped <= 3 + 2 + 2  # what was asked for, the queue, one in hand


def test_listing_failing_half_way_keeps_the_runs_read_and_not_the_watermark(store, monkeypatch):
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from provex.ingest.mlflow import runs as runs_module
    from provex.vocab.records import Reject, Watermark

    real = MlflowClient.search_runs

    def flaky(self, *args, page_token=None, **kwargs):
        if page_token:
            raise MlflowException("the second page is gone")
        return real(self, *args, page_token=page_token, **kwargs)

    monkeypatch.setattr(MlflowClient, "search_runs", flaky)
    monkeypatch.setattr(runs_module, "RUN_PAGE", 1)
    records = list(adapter.read(store.uri))
    rejects = [r for r in records if isinstance(r, Reject)]
    assert rejects and all("the second page is gone" in r.reason for r in rejects)
    churn = [r for r in records if isinstance(r, Node) and r.ref.label == "Run"
             and r.props["experiment_id"] == store.ids["experiment"]]
    assert len(churn) == 1  # the first page was written
    marks = next(r.value for r in records if isinstance(r, Watermark) and r.name == "runs")
    assert marks[store.ids["experiment"]]["start_ms"] == 0  # listed again next time
