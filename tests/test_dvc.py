"""`provex ingest dvc`: a real DVC project built here with the git and dvc
CLIs (three commits that change params and data), the real-world corpus, and
bad input. Expected values are read from the DVC files themselves."""

from __future__ import annotations

import json
import os
import posixpath
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from provex.graph import pipeline
from provex.ingest import dvc
from provex.vocab.records import Node, Reject

DVC = shutil.which("dvc") or str(Path(sys.executable).with_name("dvc"))
AUTHORS = {"alice": "alice@example.org", "bob": "bob@example.org"}
SCOPE = "shop"  # the origin remote's basename

DVC_YAML = """\
stages:
  prepare:
    cmd: python prepare.py
    deps: [prepare.py, data/raw.csv]
    params: [prepare.scale]
    outs: [data/prepared.csv]
  train:
    foreach: ${models}
    do:
      cmd: python train.py ${item}
      deps: [train.py, data/prepared.csv]
      params: [train]
      outs:
      - models/${item}.txt:
          persist: true
  evaluate:
    cmd: python evaluate.py
    deps: [evaluate.py, models/a.txt, models/b.txt]
    metrics:
    - metrics.json:
        cache: false
"""

SCRIPTS = {
    "prepare.py": "import yaml\np = yaml.safe_load(open('params.yaml'))['prepare']\n"
                  "rows = [int(x) * p['scale'] for x in open('data/raw.csv').read().split()]\n"
                  "open('data/prepared.csv', 'w').write('\\n'.join(map(str, rows)))\n",
    "train.py": "import sys, yaml\np = yaml.safe_load(open('params.yaml'))['train']\n"
                "rows = open('data/prepared.csv').read().split()\n"
                "open(f'models/{sys.argv[1]}.txt', 'w').write(f'{sys.argv[1]} lr={p[\"lr\"]} n={len(rows)}')\n",
    "evaluate.py": "import json, yaml\nlr = yaml.safe_load(open('params.yaml'))['train']['lr']\n"
                   "json.dump({'score': round(1 - lr, 3), 'detail': {'n': len(open('models/a.txt').read())}},"
                   " open('metrics.json', 'w'))\n",
}


@dataclass
class Project:
    root: Path
    commits: list[str]  # oldest first

    def show(self, sha: str, path: str) -> str:
        return git(self.root, "show", f"{sha}:{path}")

    def lock(self, sha: str) -> dict[str, Any]:
        return yaml.safe_load(self.show(sha, "dvc.lock"))["stages"]


def git(root: Path, *args: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}).stdout


def run_dvc(root: Path, *args: str) -> None:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    subprocess.run([DVC, *args], cwd=root, check=True, capture_output=True, env=env)


def commit(root: Path, author: str, message: str) -> str:
    git(root, "add", "-A")
    who = {"GIT_AUTHOR_NAME": author, "GIT_AUTHOR_EMAIL": AUTHORS[author],
           "GIT_COMMITTER_NAME": author, "GIT_COMMITTER_EMAIL": AUTHORS[author]}
    git(root, "commit", "-q", "-m", message, env=who)
    return git(root, "rev-parse", "HEAD").strip()


def write_params(root: Path, scale: int = 2, lr: float = 0.1) -> None:
    (root / "params.yaml").write_text(yaml.safe_dump({"models": ["a", "b"], "prepare": {"scale": scale},
                                                      "train": {"lr": lr, "epochs": 3}}))


def build_project(root: Path) -> Project:
    """Three commits: the pipeline; a params change (train only); new raw data (everything)."""
    (root / "data").mkdir(parents=True)
    (root / "models").mkdir()
    git(root, "init", "-q")
    git(root, "remote", "add", "origin", f"https://example.org/acme/{SCOPE}.git")
    run_dvc(root, "init", "-q")
    for name, text in SCRIPTS.items():
        (root / name).write_text(text)
    (root / "dvc.yaml").write_text(DVC_YAML)
    (root / "data/raw.csv").write_text("1\n2\n3\n")
    (root / ".gitignore").write_text("/models/*.txt\n")
    write_params(root)
    run_dvc(root, "add", "data/raw.csv")
    run_dvc(root, "repro")
    shas = [commit(root, "alice", "pipeline")]
    write_params(root, lr=0.2)
    run_dvc(root, "repro")
    shas.append(commit(root, "bob", "learning rate 0.2"))
    (root / "data/raw.csv").write_text("1\n2\n3\n4\n")
    run_dvc(root, "add", "data/raw.csv")
    run_dvc(root, "repro")
    shas.append(commit(root, "alice", "more data"))
    return Project(root, shas)


# ---- helpers ------------------------------------------------------------------------------------------


def ingest(graph, path: Path, rev: str | None = None) -> pipeline.Summary:
    uri = str(path.resolve())
    return pipeline.ingest(graph, kind="dvc", uri=uri, read=lambda state: dvc.read(path, rev=rev, state=state))


def rows(graph, query: str, **params: Any) -> list[dict[str, Any]]:
    return graph.read(query, params)


def counts(graph) -> tuple[int, int]:
    nodes = rows(graph, "MATCH (n) WHERE NOT n:Source AND NOT n:IngestRun RETURN count(n) AS c")[0]["c"]
    rels = rows(graph, "MATCH (a)-[r]->(b) WHERE NOT a:IngestRun RETURN count(r) AS c")[0]["c"]
    return nodes, rels


def expected_runs(project: Project) -> dict[tuple[str, str], dict[str, Any]]:
    """(sha, stage) -> lock entry, for every lock entry new or changed at that commit."""
    runs, before = {}, {}
    for sha in project.commits:
        lock = project.lock(sha)
        runs.update({(sha, name): entry for name, entry in lock.items() if before.get(name) != entry})
        before = lock
    return runs


def paths_hashes(items: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(i["path"], i["md5"]) for i in items}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    if not Path(DVC).exists():
        pytest.skip("the dvc CLI is not installed")
    return build_project(tmp_path_factory.mktemp("dvc") / "shop")


# ---- a real DVC project in git ------------------------------------------------------------------------
# One ingest per test (the graph is cleared before each); the checks below each look at one aspect.


def test_history_matches_the_lock_files(graph, project: Project) -> None:
    summary = ingest(graph, project.root)
    assert summary.exit_code == 0 and not summary.flags and not summary.rejected
    check_stages_and_runs_per_commit(graph, project)
    check_data_versions_with_lock_hashes(graph, project)
    check_dvc_add_versions_have_no_producer(graph, project)


def test_lineage_params_metrics_and_authors(graph, project: Project) -> None:
    ingest(graph, project.root)
    check_producer_and_consumer_connect_across_commits(graph, project)
    check_params_and_metrics_diff_between_commits(graph, project)
    check_commits_and_authors(graph, project)



def check_stages_and_runs_per_commit(graph, project: Project) -> None:
    stages = rows(graph, "MATCH (s:Stage) RETURN s.uid AS uid, s.name AS name, s.group AS grp, s.drift AS drift")
    assert {(s["uid"], s["grp"], s["drift"]) for s in stages} == {
        (f"stage:{SCOPE}:.:{n}", n.split("@")[0], "") for n in ("prepare", "train@a", "train@b", "evaluate")}
    found = rows(graph, "MATCH (r:Run)-[:INSTANCE_OF]->(s:Stage) RETURN r.uid AS uid, r.commit AS sha, "
                        "s.name AS stage, r.cmd AS cmd")
    want = expected_runs(project)
    assert {(r["sha"], r["stage"]) for r in found} == set(want)
    assert {r["uid"] for r in found} == {f"run:dvc:{SCOPE}:{sha[:12]}:{name}" for sha, name in want}
    assert all(r["cmd"] == want[(r["sha"], r["stage"])]["cmd"] for r in found)


def check_data_versions_with_lock_hashes(graph, project: Project) -> None:
    for (sha, name), entry in expected_runs(project).items():
        run = {"sha": sha, "name": name}
        outs = rows(graph, "MATCH (d:DataVersion)-[:WAS_GENERATED_BY]->(r:Run {commit: $sha, name: $name}) "
                           "RETURN d.path AS path, d.hash AS md5", **run)
        used = rows(graph, "MATCH (r:Run {commit: $sha, name: $name})-[:USED]->(d:DataVersion) "
                           "RETURN d.path AS path, d.hash AS md5", **run)
        assert paths_hashes(outs) == paths_hashes(entry["outs"])
        assert paths_hashes(used) == paths_hashes(entry["deps"])
    first = {}
    for sha in project.commits:
        for entry in project.lock(sha).values():
            for item in entry["deps"] + entry.get("outs", []):
                first.setdefault((item["path"], item["md5"]), (sha, item["size"]))
    versions = rows(graph, "MATCH (d:DataVersion)-[:VERSION_OF]->(s:Dataset) WHERE s.path = d.path "
                           "RETURN d.path AS path, d.hash AS md5, d.commit AS sha, d.size AS size, d.uid AS uid")
    assert {(v["path"], v["md5"]): (v["sha"], v["size"]) for v in versions} == first
    assert all(v["uid"] == f"data:{v['path']}@{v['md5']}" for v in versions)
    flags = rows(graph, "MATCH (d:DataVersion {path: 'models/a.txt'}) RETURN DISTINCT d.persist AS p, d.cache AS c")
    assert flags == [{"p": True, "c": True}]


def check_producer_and_consumer_connect_across_commits(graph, project: Project) -> None:
    c1, c2, c3 = project.commits
    links = rows(graph, "MATCH (t:Run {name: 'train@a'})-[:USED]->(d:DataVersion {path: 'data/prepared.csv'})"
                        "-[:WAS_GENERATED_BY]->(p:Run) RETURN t.commit AS consumer, p.name AS producer, "
                        "p.commit AS produced_at, d.hash AS md5")
    prepared = {sha: project.lock(sha)["prepare"]["outs"][0]["md5"] for sha in (c1, c3)}
    assert {(r["consumer"], r["producer"], r["produced_at"], r["md5"]) for r in links} == {
        (c1, "prepare", c1, prepared[c1]), (c2, "prepare", c1, prepared[c1]), (c3, "prepare", c3, prepared[c3])}
    chain = rows(graph, "MATCH (e:Run {name: 'evaluate', commit: $c3})-[:USED]->(:DataVersion)-[:WAS_GENERATED_BY]->"
                        "(:Run)-[:USED]->(:DataVersion)-[:WAS_GENERATED_BY]->(p:Run) RETURN DISTINCT p.name AS name",
                 c3=c3)
    assert [r["name"] for r in chain] == ["prepare"]


def check_dvc_add_versions_have_no_producer(graph, project: Project) -> None:
    want = {}
    for sha in project.commits:
        out = yaml.safe_load(project.show(sha, "data/raw.csv.dvc"))["outs"][0]
        want.setdefault(out["md5"], sha)
    got = rows(graph, "MATCH (d:DataVersion {path: 'data/raw.csv'}) OPTIONAL MATCH (d)-[g:WAS_GENERATED_BY]->() "
                      "RETURN d.hash AS md5, d.commit AS sha, d.origin AS origin, count(g) AS producers")
    assert {(r["md5"], r["sha"], r["origin"], r["producers"]) for r in got} == {
        (md5, sha, "dvc-add", 0) for md5, sha in want.items()}


def check_params_and_metrics_diff_between_commits(graph, project: Project) -> None:
    c1, c2, _ = project.commits
    runs = rows(graph, "MATCH (r:Run {name: 'train@a'}) WHERE r.commit IN [$c1, $c2] "
                       "RETURN r.commit AS sha, r.params AS params, r.`param.train.lr` AS lr, "
                       "r.`param.train.epochs` AS epochs", c1=c1, c2=c2)
    by_sha = {r["sha"]: r for r in runs}
    for sha in (c1, c2):
        locked = project.lock(sha)["train@a"]["params"]
        assert json.loads(by_sha[sha]["params"]) == locked
        assert (by_sha[sha]["lr"], by_sha[sha]["epochs"]) == (locked["params.yaml"]["train"]["lr"],
                                                              locked["params.yaml"]["train"]["epochs"])
    assert by_sha[c1]["lr"] != by_sha[c2]["lr"] and by_sha[c1]["epochs"] == by_sha[c2]["epochs"]
    metrics = rows(graph, "MATCH (r:Run {name: 'evaluate'}) RETURN r.commit AS sha, r.`metric.score` AS score, "
                          "r.`metric.detail.n` AS n")
    for r in metrics:
        values = json.loads(project.show(r["sha"], "metrics.json"))
        assert (r["score"], r["n"]) == (values["score"], values["detail"]["n"])


def check_commits_and_authors(graph, project: Project) -> None:
    got = rows(graph, "MATCH (c:CodeVersion)-[:ASSOCIATED_WITH]->(a:Agent) "
                      "RETURN c.sha AS sha, c.message AS msg, a.name AS name, a.email AS email")
    want = {}
    for sha in project.commits:
        name, email, msg = git(project.root, "show", "-s", "--format=%an%n%ae%n%s", sha).splitlines()
        want[sha] = (msg, name, email)
    assert {r["sha"]: (r["msg"], r["name"], r["email"]) for r in got} == want
    used = rows(graph, "MATCH (r:Run)-[:USED]->(c:CodeVersion) RETURN r.commit AS run_sha, c.sha AS sha")
    assert used and all(r["run_sha"] == r["sha"] for r in used)
    assert len(used) == len(expected_runs(project))


def test_reingest_is_idempotent_and_incremental(graph, project: Project) -> None:
    first = ingest(graph, project.root, rev=project.commits[1])
    assert {r["sha"] for r in rows(graph, "MATCH (r:Run) RETURN DISTINCT r.commit AS sha")} == set(project.commits[:2])
    ingest(graph, project.root)
    full = counts(graph)
    again = ingest(graph, project.root)
    assert counts(graph) == full and not again.counts and first.exit_code == 0
    found = rows(graph, "MATCH (r:Run) RETURN r.commit AS sha, r.name AS name")
    assert {(r["sha"], r["name"]) for r in found} == set(expected_runs(project))
    graph.write("MATCH (n) DETACH DELETE n")
    ingest(graph, project.root)
    assert counts(graph) == full


# ---- the real-world corpus ----------------------------------------------------------------------------


def corpus_expectations(folder: Path) -> tuple[set[str], set[str], set[tuple[str, str]]]:
    """From the files themselves: dvc.yaml stage keys, dvc.lock entry names, (path, md5) pairs."""
    stages, locked, versions = set(), set(), set()
    for file in folder.rglob("dvc.yaml"):
        stages |= set(yaml.safe_load(file.read_text()).get("stages") or {})
    for file in folder.rglob("dvc.lock"):
        data = yaml.safe_load(file.read_text())
        entries = data["stages"] if "schema" in data else data
        base = file.parent.relative_to(folder).as_posix()
        locked |= set(entries)
        for entry in entries.values():
            versions |= {(posixpath.normpath(posixpath.join(base, i["path"])), i["md5"])
                         for i in entry.get("deps", []) + entry.get("outs", []) if "md5" in i}
    for file in folder.rglob("*.dvc"):
        if file.is_file():
            data = yaml.safe_load(file.read_text())
            base = posixpath.join(file.parent.relative_to(folder).as_posix(), data.get("wdir") or "")
            versions |= {(posixpath.normpath(posixpath.join(base, o["path"])), o["md5"]) for o in data["outs"]}
    return stages, locked, versions


def test_corpus_folders_ingest_with_their_stages_and_hashes(graph, corpus: Path) -> None:
    folders = sorted(p for p in (corpus / "dvc").iterdir() if p.is_dir())
    assert folders
    for folder in folders:
        summary = ingest(graph, folder)
        assert summary.rejected == [], folder
        stages, locked, versions = corpus_expectations(folder)
        found = rows(graph, "MATCH (s:Stage {project: $p}) RETURN collect(DISTINCT s.group) AS groups, "
                            "collect(s.name) AS names", p=folder.name)[0]
        runs = rows(graph, "MATCH (r:Run {project: $p})-[:INSTANCE_OF]->(:Stage) RETURN collect(r.name) AS names",
                    p=folder.name)[0]["names"]
        dvs = rows(graph, "MATCH (d:DataVersion)-[:VERSION_OF]->(:Dataset) RETURN d.path AS path, d.hash AS md5")
        assert stages <= set(found["groups"]), folder
        assert locked <= set(found["names"]) and sorted(runs) == sorted(locked), folder
        assert versions <= {(d["path"], d["md5"]) for d in dvs}, folder


def test_corpus_imports_artifacts_and_metrics(graph, corpus: Path) -> None:
    folder = corpus / "dvc" / "iterative__example-get-started"
    ingest(graph, folder)
    spec = yaml.safe_load((folder / "data/data.xml.dvc").read_text())
    dep, out = spec["deps"][0], spec["outs"][0]
    got = rows(graph, "MATCH (d:DataVersion {path: 'data/data.xml', hash: $md5})-[e:WAS_DERIVED_FROM]->(u:DataVersion) "
                      "RETURN d.origin AS origin, d.import_repo AS repo, d.import_rev_lock AS rev, d.frozen AS frozen, "
                      "u.uid AS upstream, e.method AS method", md5=out["md5"])
    assert got == [{"origin": "dvc-import", "repo": dep["repo"]["url"], "rev": dep["repo"]["rev_lock"],
                    "frozen": True, "upstream": f"data:{dep['path']}@{out['md5']}", "method": "dvc-import"}]
    artifacts = yaml.safe_load((folder / "dvc.yaml").read_text())["artifacts"]
    models = rows(graph, "MATCH (m:Model)-[:SAME_AS]->(d:Dataset) RETURN m.name AS name, d.path AS path, "
                         "m.labels AS labels")
    assert models == [{"name": n, "path": a["path"], "labels": a["labels"]}
                      for n, a in artifacts.items() if a["type"] == "model"]
    datasets = rows(graph, "MATCH (d:Dataset {kind: 'artifact'}) RETURN d.artifact_name AS name, d.path AS path")
    assert datasets == [{"name": n, "path": a["path"]} for n, a in artifacts.items() if a["type"] == "dataset"]
    lock = yaml.safe_load((folder / "dvc.lock").read_text())["stages"]["prepare"]
    dirs = rows(graph, "MATCH (d:DataVersion {path: 'data/prepared'}) RETURN d.hash AS md5, d.is_dir AS is_dir, "
                       "d.size AS size, d.nfiles AS nfiles")
    assert dirs == [{"md5": lock["outs"][0]["md5"], "is_dir": True, "size": lock["outs"][0]["size"],
                     "nfiles": lock["outs"][0]["nfiles"]}]


def test_corpus_foreach_metrics_on_runs(graph, corpus: Path) -> None:
    folder = corpus / "dvc" / "mlrepa__dvc-8-multiple-datasets"
    ingest(graph, folder)
    for item in yaml.safe_load((folder / "params.yaml").read_text())["evaluate"]["datasets"]:
        values = json.loads((folder / f"reports/metrics/metrics_{item}.json").read_text())
        run = rows(graph, "MATCH (r:Run {name: $n}) RETURN properties(r) AS p", n=f"evaluate@{item}")[0]["p"]
        assert {k: run[f"metric.{k}"] for k in values} == values


# ---- bad input and drift ------------------------------------------------------------------------------

BAD_PROJECT = {
    "dvc.yaml": "stages:\n  a:\n    cmd: echo a\n    deps: [in.txt]\n    outs: [out.txt]\n"
                "  b:\n    cmd: echo b\n    deps: [out.txt]\n    params:\n    - other.yaml:\n      - x\n",
    "dvc.lock": "schema: '2.0'\nstages:\n"
                "  a:\n    cmd: echo a\n    deps:\n    - path: in.txt\n      md5: a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\n"
                "    outs:\n    - path: out.txt\n      md5: b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2\n"
                "  gone:\n    cmd: echo gone\n    outs:\n"
                "    - path: old.txt\n      md5: c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3\n",
    "good.dvc": "outs:\n- path: data.csv\n  md5: d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4\n  size: 10\n",
    "bad.dvc": "outs:\n- path: x.csv\n  md5: abc: def\n",
    "sub/dvc.lock": "schema: '9.9'\nstages: {}\n",
}


def test_bad_files_are_rejected_and_the_rest_ingested(graph, tmp_path: Path) -> None:
    for name, text in BAD_PROJECT.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    summary = ingest(graph, tmp_path)
    assert summary.exit_code == 1
    bad_line = BAD_PROJECT["bad.dvc"].splitlines().index("  md5: abc: def") + 1
    assert {(r.file, r.line) for r in summary.rejected} == {
        (f"{tmp_path}/bad.dvc", bad_line), (f"{tmp_path}/sub/dvc.lock", None)}
    assert {(f.kind, f.message.split(":")[0]) for f in summary.flags} == {
        ("stage-never-locked", "stage b"), ("missing-params-file", "stage b"), ("lock-without-stage", "gone"),
        ("profile-no-bytes", "1 tabular data version(s) not profiled")}  # data.csv: no cache, no file
    stages = rows(graph, "MATCH (s:Stage) RETURN s.name AS name, s.drift AS drift")
    drift = {s["name"]: s["drift"] for s in stages}
    assert drift["a"] == "" and "stage-never-locked" in drift["b"] and "missing-params-file" in drift["b"]
    assert "lock-without-stage" in drift["gone"]
    lock = yaml.safe_load(BAD_PROJECT["dvc.lock"])["stages"]
    good = yaml.safe_load(BAD_PROJECT["good.dvc"])["outs"][0]
    versions = rows(graph, "MATCH (d:DataVersion) RETURN d.path AS path, d.hash AS md5")
    assert {(v["path"], v["md5"]) for v in versions} == {(good["path"], good["md5"])} | {
        (i["path"], i["md5"]) for e in lock.values() for i in e.get("deps", []) + e["outs"]}
    runs = rows(graph, "MATCH (r:Run)-[:INSTANCE_OF]->(s:Stage) RETURN r.uid AS uid, r.drift AS drift")
    assert {r["uid"]: "lock-without-stage" in r["drift"] for r in runs} == {
        f"run:dvc:{tmp_path.name}:snapshot:a": False, f"run:dvc:{tmp_path.name}:snapshot:gone": True}


def test_unusable_path_is_a_source_error(tmp_path: Path) -> None:
    from provex.vocab.errors import SourceError

    with pytest.raises(SourceError, match="not a readable folder"):
        list(dvc.read(tmp_path / "missing"))


def test_a_stage_dvc_crashes_on_is_a_reject_and_the_others_are_read(tmp_path: Path) -> None:
    """DVC's resolver asserts on ``matrix: {}`` (its schema accepts it): the
    stage is set aside naming the file, the stage and DVC's error."""
    (tmp_path / "dvc.yaml").write_text("stages:\n  train:\n    matrix: {}\n    cmd: echo\n  prep:\n    cmd: echo hi\n")
    records = list(dvc.read(tmp_path))
    rejects = [r for r in records if isinstance(r, Reject)]
    assert [(r.file, "'train@'" in r.reason, "AssertionError" in r.reason) for r in rejects] == [
        (f"{tmp_path}/dvc.yaml", True, True)]
    assert any(isinstance(r, Node) and r.ref.label == "Stage" and r.ref.uid.endswith(":prep") for r in records)
