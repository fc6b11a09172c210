"""Predictions whose logs name no registry version, resolved as teams really
name models: a training timestamp in a metadata file beside the model, a git
sha in an MLflow tag, a run name, a logged model id, an artifact hash; an
ambiguous reference is reported with its candidates, never guessed; a run
ingested after the log still resolves it. Each one asserts the chain
prediction -> model -> training data -> commit, through the real adapters,
the real store and the real Neo4j (tests/noregistry.py builds the sources)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from noregistry import DvcProject, chain, dvc_project, gaps, ingest_dvc, ingest_mlflow, mlflow_store, service_log

from provex.graph import search
from provex.vocab import model as m

VERSION = "20260819T092729Z"  # a training timestamp, as the metadata file and the service log write it
SHA256 = "9f2c" + "0" * 56 + "beef"  # the training data's sha256, in the metadata file and an MLflow param
GIT_SHA = "3f2a9c1d" + "e" * 32
METADATA = {"model_name": "spam-filter", "model_version": VERSION, "trained_at": "2026-08-19T09:27:29Z",
            "dataset": {"path": "data/train.csv", "sha256": SHA256, "rows": 2}, "metrics": {"f1": 0.91}}
MODEL_BYTES = b"\x80\x04 a pickled naive bayes"


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The DVC project, and one MLflow file store with every run the tests use."""
    root = tmp_path_factory.mktemp("no-registry")
    project = dvc_project(root / "spam", {"models/model.pkl": MODEL_BYTES,
                                          "models/metadata.json": json.dumps(METADATA).encode()})
    uri, ids = mlflow_store(root, [
        {"name": "naive_bayes", "params": {"model": "naive_bayes", "dataset_sha256": SHA256, "alpha": "1.0"}},
        {"name": "fraud-train", "tags": {"model_version": GIT_SHA[:7]}, "commit": GIT_SHA,
         "dataset": ("data/fraud.csv", "f7a0d1g3")},
        {"name": "bold-heron-42", "commit": "b" * 40, "dataset": ("data/heron.csv", "4e70a111"), "logged_model": "model"},
        {"name": "churn-a", "tags": {"model_version": "v-2026-08"}, "params": {"model": "churn"}, "commit": "c" * 40,
         "dataset": ("data/churn.csv", "c4a11111")},
        {"name": "churn-b", "tags": {"model_version": "v-2026-08"}, "params": {"model": "churn-eu"}, "commit": "d" * 40,
         "dataset": ("data/churn-eu.csv", "c4a22222")},
    ])
    return {"project": project, "uri": uri, "ids": ids, "logs": root / "logs"}


def logs(sources: dict) -> Path:
    sources["logs"].mkdir(exist_ok=True)
    return sources["logs"]


def test_three_sources_without_a_registry_end_resolved_to_the_training_run_and_its_data(graph, sources) -> None:
    """The issue's project: a DVC metadata file with a timestamp version and the
    data's sha256, an MLflow run logging the same sha as a param, a service log.
    Then, in that graph, a run name, a logged model id and an artifact hash."""
    project: DvcProject = sources["project"]
    ingest_dvc(graph, project)
    ingest_mlflow(graph, sources["uri"])
    summary = service_log(graph, VERSION, 5, "svc", folder=logs(sources))
    artifact = project.version("models/model.pkl")
    assert summary.links["prediction-groups-resolved"] == 1

    got = chain(graph, "svc-0")
    assert got["model"] == [artifact]  # the model file beside the metadata file
    assert got["method"] == ["metadata-file"] and "model_version in models/metadata.json" in got["how"][0]
    assert got["runs"] == [project.train_run]
    assert got["data"] == sorted([project.version("data/train.csv"), project.version("src/train.py")])
    assert got["commits"] == [project.commit]

    # cross-tool identity: the MLflow run's dataset_sha256 is the metadata file's: it used that data version
    run = m.run(sources["ids"]["naive_bayes"]).uid
    used = graph.read("MATCH (:Run {uid: $run})-[e:USED]->(d:DataVersion) RETURN d.uid AS d, e.method AS method, "
                      "e.confidence AS confidence", {"run": run})
    assert used == [{"d": project.version("data/train.csv"), "method": "metadata-hash", "confidence": 0.8}]

    found = gaps(graph)
    assert found["prediction without a resolvable model"]["count"] == 0
    assert found["prediction with an ambiguous model"]["count"] == 0
    assert count_placeholders(graph) == 0
    impact = ask(graph, "impact-of-data", data_version=project.version("data/train.csv"))  # and back down
    assert [(r["model_version"], r["predictions"]) for r in impact] == [(artifact, 5)]

    by_version = {h["ref"]: h for h in search.search(graph, VERSION)}
    assert by_version[project.version("models/metadata.json")]["where"] == "model_version in models/metadata.json"
    assert by_version[artifact]["where"].startswith(f"model version '{VERSION}' logged by 5 predictions (svc.jsonl)")
    assert all(h["match"] == "exact" for h in by_version.values())
    by_sha = {h["ref"]: h for h in search.search(graph, SHA256)}
    assert by_sha[run]["where"] == "param dataset_sha256 of run naive_bayes"
    assert by_sha[project.version("models/metadata.json")]["where"] == "dataset.sha256 in models/metadata.json"
    assert {h["ref"] for h in search.search(graph, SHA256[:12])} >= {run}  # a prefix finds it too
    other_ways_resolve(graph, sources)  # in the same graph: the other ways in


def test_git_sha_in_an_mlflow_tag_resolves_a_name_at_version_when_the_run_arrives_later(graph, sources) -> None:
    """name@version with no registry: a placeholder version, unresolved, until the
    run that tagged that version is ingested; then the groups and the
    prediction nodes move to the run and the placeholder goes. Then an
    ambiguous version, and a logged name that settles it."""
    service_log(graph, GIT_SHA[:7], 3, "fraud", name="fraud", folder=logs(sources))
    placeholder = m.model_version("fraud", GIT_SHA[:7]).uid
    assert gaps(graph)["prediction without a resolvable model"]["count"] == 3
    assert chain(graph, "fraud-0")["model"] == [placeholder]

    summary = ingest_mlflow(graph, sources["uri"])
    run = m.run(sources["ids"]["fraud-train"]).uid
    assert summary.links["prediction-model-by-run-tag"] == 3  # the nodes the volume gave them
    got = chain(graph, "fraud-0")
    assert got["model"] == [run] and got["method"] == ["run-tag"]
    assert got["runs"] == [run]
    assert got["data"] == [m.data_version("data/fraud.csv", "mlflow:f7a0d1g3").uid]
    assert got["commits"] == [GIT_SHA]
    edges = graph.read("MATCH (p:Prediction)-[e:PREDICTED_BY]->(x) RETURN DISTINCT x.uid AS x, e.method AS method")
    assert edges == [{"x": run, "method": "run-tag"}]
    groups = graph.read("MATCH (g:PredictionGroup)-[:PREDICTED_BY]->(x) RETURN x.uid AS x, g.count AS n")
    assert groups == [{"x": run, "n": 3}]
    assert graph.read("MATCH (x:Node {uid: $uid}) RETURN x", {"uid": placeholder}) == []
    assert gaps(graph)["prediction without a resolvable model"]["count"] == 0
    chained = {r["prediction"]: r for r in ask(graph, "models-in-chain", prediction="fraud-1")}
    assert chained["prediction:fraud-1"]["model_version"] == run and chained["prediction:fraud-1"]["version"] == GIT_SHA[:7]
    ambiguous_then_named(graph, sources)  # in the same graph


def other_ways_resolve(graph, sources) -> None:
    """A service that logs the MLflow run's name, one that logs a logged model id
    (no registry), one that logs the first 12 hex digits of the model file's md5."""
    project: DvcProject = sources["project"]
    heron = m.run(sources["ids"]["bold-heron-42"]).uid
    service_log(graph, None, 2, "heron", name="bold-heron-42", folder=logs(sources))
    service_log(graph, None, 2, "lm", folder=logs(sources), model_id=sources["ids"]["bold-heron-42/model"])
    service_log(graph, project.hashes["models/model.pkl"][:12], 2, "hash", folder=logs(sources))

    by_name = chain(graph, "heron-0")
    assert by_name["model"] == [heron] and by_name["method"] == ["run-name"]
    assert by_name["data"] == [m.data_version("data/heron.csv", "mlflow:4e70a111").uid]
    assert by_name["commits"] == ["b" * 40]
    logged_model = chain(graph, "lm-1")
    assert logged_model["model"] == [m.logged_model(sources["ids"]["bold-heron-42/model"]).uid]
    assert logged_model["method"] == ["model_id"] and logged_model["runs"] == [heron]
    assert logged_model["commits"] == ["b" * 40]
    by_hash = chain(graph, "hash-0")
    assert by_hash["model"] == [project.version("models/model.pkl")] and by_hash["method"] == ["artifact-hash"]
    assert by_hash["runs"] == [project.train_run] and by_hash["commits"] == [project.commit]
    assert project.version("data/train.csv") in by_hash["data"]


def ambiguous_then_named(graph, sources) -> None:
    """Two runs tag one version: reported with both, nothing guessed; a log that
    also names the model settles it (the graph already holds the MLflow store)."""
    service_log(graph, "v-2026-08", 4, "churn", folder=logs(sources))
    service_log(graph, "v-2026-08", 2, "named", name="churn", folder=logs(sources))
    a, b = (m.run(sources["ids"][n]).uid for n in ("churn-a", "churn-b"))

    found = gaps(graph)
    ambiguous = found["prediction with an ambiguous model"]
    assert ambiguous["count"] == 4 and sorted(ambiguous["examples"]) == sorted([a, b])
    assert "'v-2026-08' matches" in ambiguous["hint"] and "tag model_version of run churn-a" in ambiguous["hint"]
    assert found["prediction without a resolvable model"]["count"] == 0  # counted once, as ambiguous
    assert chain(graph, "churn-0")["model"] == []  # nothing guessed
    settled = chain(graph, "named-0")  # churn@v-2026-08: only churn-a says "churn"
    assert settled["model"] == [a] and settled["method"] == ["run-tag"]
    assert "the only candidate that also says 'churn'" in settled["how"][0]
    assert settled["data"] == [m.data_version("data/churn.csv", "mlflow:c4a11111").uid]
    assert settled["commits"] == ["c" * 40]


def count_placeholders(graph) -> int:
    return graph.read("MATCH (x:ModelVersion) WHERE x.placeholder RETURN count(x) AS n")[0]["n"]


def ask(graph, name: str, **params: object) -> list[dict]:
    from provex.graph import questions

    return questions.ask(graph, name, params).to_dict("records")


# ---- the metadata reader (no Neo4j): only small files, by checked hashes, inside the project or its cache


def reader_project(tmp_path: Path) -> tuple[Path, Path]:
    root, outside = tmp_path / "proj", tmp_path / "outside"
    (root / ".dvc" / "cache" / "files" / "md5").mkdir(parents=True)
    outside.mkdir()
    return root, outside


def cache(root: Path, raw: bytes) -> str:
    from noregistry import md5

    digest = md5(raw)
    target = root / ".dvc" / "cache" / "files" / "md5" / digest[:2] / digest[2:]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(raw)
    return digest


def read_meta(root: Path, out) -> tuple[dict, list]:
    from provex.ingest.dvc.git import FolderReader
    from provex.ingest.dvc.metadata import MetadataReader

    reader = MetadataReader(str(root))
    nodes = list(reader.records(FolderReader(root).snapshot(), out, "test"))
    return (nodes[0].props if nodes else {}), reader.flags


def test_metadata_files_are_read_from_the_cache_the_work_tree_and_folders(tmp_path: Path) -> None:
    from provex.ingest.dvc.files import Out

    root, _ = reader_project(tmp_path)
    raw = b'{"model_version": "20260819T092729Z", "datasets": [{"sha256": "ab"}], "n": 3}'
    props, _ = read_meta(root, Out("models/metadata.json", cache(root, raw)))
    assert props == {"meta_file": "models/metadata.json", "meta.model_version": "20260819T092729Z",
                     "meta.datasets.0.sha256": "ab", "meta.n": 3}
    (root / "info.yaml").write_bytes(b"version: v3\ntrained: 2026-08-19\n")  # the work tree, when the md5 matches
    from noregistry import md5

    props, _ = read_meta(root, Out("info.yaml", md5((root / "info.yaml").read_bytes())))
    assert props["meta.version"] == "v3" and props["meta.trained"] == "2026-08-19"
    assert read_meta(root, Out("info.yaml", "0" * 32))[0] == {}  # another version than the locked one: not read
    member = cache(root, b"model_version: 7f3e2c1\n")
    manifest = json.dumps([{"relpath": "weights.bin", "md5": "1" * 32},
                           {"relpath": "model_info.yaml", "md5": member}]).encode()
    folder = cache(root, manifest) + ".dir"
    (root / ".dvc/cache/files/md5" / folder[:2] / folder[2:]).write_bytes(manifest)
    props, _ = read_meta(root, Out("models", folder))
    assert props == {"meta_file": "models/model_info.yaml", "meta_files": ["models/model_info.yaml"],
                     "meta.model_version": "7f3e2c1"}


def test_metadata_reader_refuses_what_leaves_the_project_and_what_is_big_or_broken(tmp_path: Path) -> None:
    from provex.ingest.dvc.files import Out
    from provex.ingest.dvc.metadata import MAX_BYTES

    root, outside = reader_project(tmp_path)
    secret = b'{"model_version": "stolen"}'
    (outside / "secret.json").write_bytes(secret)
    from noregistry import md5

    (root / "models").mkdir()
    (root / "models" / "meta.json").symlink_to(outside / "secret.json")  # the work tree links outside
    assert read_meta(root, Out("models/meta.json", md5(secret)))[0] == {}
    linked = root / ".dvc/cache/files/md5" / md5(secret)[:2] / md5(secret)[2:]  # a cache object linking outside
    linked.parent.mkdir(parents=True, exist_ok=True)
    linked.symlink_to(outside / "secret.json")
    assert read_meta(root, Out("meta.json", md5(secret)))[0] == {}
    assert read_meta(root, Out("../outside/secret.json", md5(secret)))[0] == {}  # a path leaving the project
    assert read_meta(root, Out("meta.json", "../../outside/secret"))[0] == {}  # a "hash" that is a path
    big = b'{"v": "' + b"x" * MAX_BYTES + b'"}'
    assert read_meta(root, Out("big.json", cache(root, big)))[0] == {}
    props, flags = read_meta(root, Out("bad.json", cache(root, b'{"model_version": ')))
    assert props == {} and [f.kind for f in flags] == ["metadata-unreadable"] and "bad.json" in flags[0].message
    props, flags = read_meta(root, Out("deep.json", cache(root, b'{"a": ' * 900 + b"1" + b"}" * 900)))
    assert props == {} and [f.kind for f in flags] == ["metadata-unreadable"]
    props, _ = read_meta(root, Out("keys.yaml", cache(root, b'"a\\x01b": x\nv: [1, 2.5, .nan, .inf]\n')))
    assert props == {"meta_file": "keys.yaml", "meta.ab": "x", "meta.v.0": 1, "meta.v.1": 2.5}  # no NaN: not stored


def test_which_keys_and_values_count_as_evidence() -> None:
    from provex.graph import contentlinks, evidence

    assert evidence.keyed("run-tag", "tag.model_version", "3") == 0.8  # a version key: any value
    assert evidence.keyed("run-tag", "tag.gitSha", "3f2a9c1") == 0.8
    assert evidence.keyed("run-param", "param.max_depth", "3") is None  # a number under another key: chance
    assert evidence.keyed("run-param", "param.threshold", "0.123456789") is None
    assert evidence.keyed("run-param", "param.notes", "20260819T092729Z") == 0.5
    assert contentlinks.about_data("param.dataset_sha256", "meta.sha256")
    assert not contentlinks.about_data("param.model_sha256", "meta.dataset.sha256")  # a model's hash is no data
    assert not contentlinks.about_data("param.git_commit", "meta.commit")
