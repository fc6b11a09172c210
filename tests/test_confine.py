"""Nothing a source's file says reaches the filesystem: every hash is checked as
a hash before any use (DVC md5, etag, git commit, MLflow digest), and every
path derived from file contents (a DVC cache object, a work-tree output, a
symlink in a source folder, an MLflow environment file or dataset file, the
paths ``reproduce --verify`` reads) is resolved and read only inside the
source root or the DVC cache. Also issue 25's DVC hashes: read as the text
written, never as YAML numbers or mappings. The adapters are read without
Neo4j: what is checked is the records they yield."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from provex.app.reproduce.models import CannotRun
from provex.app.reproduce.verify import in_tree, missing_objects
from provex.ingest import confine, dvc, openlineage
from provex.ingest.mlflow import env as mlflow_env
from provex.ingest.mlflow.runs import _local_md5
from provex.vocab.records import Flag, Node, Reject

SECRET = "TOPSECRET-8d1e"
CSV = f"name,value\n{SECRET},1\n{SECRET},2\n"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A secret CSV outside the project (what an attacker wants in the graph)."""
    path = tmp_path / "outside" / "secret.csv"
    path.parent.mkdir()
    path.write_text(CSV)
    return path


def project(tmp_path: Path, lock: str, files: dict[str, str] | None = None) -> Path:
    root = tmp_path / "project"
    (root / ".dvc" / "cache" / "files" / "md5").mkdir(parents=True)
    (root / "dvc.lock").write_text(lock)
    for name, text in (files or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def lock_with(*outs: tuple[str, str]) -> str:
    items = "".join(f"    - path: {json.dumps(p)}\n      md5: {m}\n" for p, m in outs)
    return f"schema: '2.0'\nstages:\n  train:\n    cmd: python train.py\n    outs:\n{items}"


def records(root: Path) -> list:
    return list(dvc.read(root))


def text_of(found: list) -> str:
    return repr(found)


def test_hash_forms():
    assert confine.hash_problem("md5", "0" * 32) is None and confine.hash_problem("md5", "a" * 32 + ".dir") is None
    for bad in ("../etc/passwd", "0" * 31, "A" * 32, "0" * 32 + "/x", {"a": 1}, 0.0, None, "0" * 32 + "\n"):
        assert confine.hash_problem("md5", bad), bad
    assert confine.hash_problem("git", "--output=/tmp/x") and confine.hash_problem("git", "0" * 40) is None
    assert confine.hash_problem("etag", '"0x8D9-3"') is None and confine.hash_problem("etag", "a b")
    assert confine.hash_problem("mlflow-digest", "4bd9bc8a") is None and confine.hash_problem("mlflow-digest", "../x")


def test_inside_resolves_dots_absolute_paths_and_symlinks(tmp_path: Path, outside: Path):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "ok.txt").write_text("x")
    (root / "link").symlink_to(outside)
    (root / "sub" / "hop").symlink_to(root / "link")  # a chain of links ends outside too
    assert confine.inside("sub/ok.txt", [root]) == (root / "sub" / "ok.txt").resolve()
    for path in ("../outside/secret.csv", str(outside), "link", "sub/hop", "sub/../../outside/secret.csv", "a\x00b"):
        with pytest.raises(confine.Outside):
            confine.inside(path, [root])


def test_a_hash_that_is_a_path_is_a_reject_and_never_opened(tmp_path: Path, outside: Path):
    escapes = "../" + str(outside).lstrip("/")  # the cache path .dvc/cache/files/md5/ + ".." / "/<outside>"
    root = project(tmp_path, lock_with(("data/a.csv", f"'{escapes}'"), ("data/b.csv", "../etc/passwd"),
                                       ("data/c.csv", "'../../../../../../../../etc/passwd'"), ("data/d.csv", "{a: 1}")))
    found = records(root)
    rejects = [r for r in found if isinstance(r, Reject)]
    assert len(rejects) == 4 and all(r.file.endswith("dvc.lock") and "outs[" in r.reason and ".md5" in r.reason
                                     for r in rejects), rejects
    assert SECRET not in text_of(found) and "root:x:0:0" not in text_of(found)
    versions = [r for r in found if isinstance(r, Node) and r.ref.label == "DataVersion"]
    assert versions == []  # no version of a hash that is not a hash
    assert {r.props["path"] for r in found if isinstance(r, Node) and r.ref.label == "Dataset"} >= {"data/a.csv"}


def test_unquoted_all_digit_md5s_are_read_as_written(tmp_path: Path):
    hashes = [f"{i:032d}" for i in range(1, 9)] + ["0" * 30 + "e1", "1" * 30 + "e5"]  # YAML ints and floats
    root = project(tmp_path, lock_with(*[(f"data/v{i}.csv", h) for i, h in enumerate(hashes)]))
    found = records(root)
    got = {r.props["hash"] for r in found if isinstance(r, Node) and r.ref.label == "DataVersion"}
    assert got == set(hashes)  # all ten, each as the text written (leading zeros, no 0.0)
    assert not [r for r in found if isinstance(r, Reject)]


def test_work_tree_outputs_are_read_only_inside_the_project(tmp_path: Path, outside: Path):
    md5 = hashlib.md5(outside.read_bytes()).hexdigest()  # the attacker knows the bytes' hash: still no read
    root = project(tmp_path, lock_with(("data/link.csv", md5), (str(outside), md5), ("../outside/secret.csv", md5)))
    (root / "data").mkdir()
    (root / "data" / "link.csv").symlink_to(outside)
    found = records(root)
    assert SECRET not in text_of(found)
    outside_flags = [r for r in found if isinstance(r, Flag) and r.kind == "path-outside-root"]
    assert len(outside_flags) == 1  # one version (one hash) profiled once, and refused
    (root / "data" / "inside.csv").write_text(CSV)  # the same bytes inside the project are profiled
    root2 = project(tmp_path / "2", lock_with(("data/inside.csv", md5)), {"data/inside.csv": CSV})
    assert SECRET in text_of(records(root2))


def test_dir_manifest_members_are_checked_hashes(tmp_path: Path, outside: Path):
    manifest = json.dumps([{"relpath": "part.csv", "md5": os.path.relpath(outside, tmp_path)}])
    md5 = hashlib.md5(manifest.encode()).hexdigest()
    root = project(tmp_path, lock_with(("data/folder", f"{md5}.dir")))
    obj = root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / (md5[2:] + ".dir")
    obj.parent.mkdir(parents=True)
    obj.write_text(manifest)
    found = records(root)
    assert SECRET not in text_of(found)
    folder = next(r for r in found if isinstance(r, Node) and r.ref.label == "DataVersion")
    assert folder.props["profile_status"] == "skipped" and "not a DVC md5" in folder.props["profile_reason"]


def test_symlinks_out_of_a_source_folder_are_not_read(tmp_path: Path, outside: Path):
    lock = tmp_path / "evil.lock"
    lock.write_text(lock_with(("data/x.csv", "0" * 32)).replace("train", SECRET))
    root = project(tmp_path, "")
    (root / "dvc.lock").unlink()
    (root / "dvc.lock").symlink_to(lock)
    found = records(root)
    assert SECRET not in text_of([r for r in found if not isinstance(r, Reject)])
    assert [r.reason.startswith("a symlink that leaves the project") for r in found if isinstance(r, Reject)] == [True]
    events = tmp_path / "events"
    events.mkdir()
    (events / "evil.json").symlink_to(outside)
    found = list(openlineage.read(events))
    assert [isinstance(r, Reject) and "leaves the folder" in r.reason for r in found] == [True]
    assert SECRET not in text_of(found)


def test_mlflow_reads_environment_and_dataset_files_only_inside_their_roots(tmp_path: Path, outside: Path):
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    (artifacts / "requirements.txt").symlink_to(outside)
    with pytest.raises(confine.Outside):
        mlflow_env._fetch(None, artifacts, str(artifacts), "requirements.txt", str(tmp_path))
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.csv").write_text(CSV)
    ctx = SimpleNamespace(data_root=data)
    assert _local_md5(ctx, "train.csv") == hashlib.md5(CSV.encode()).hexdigest()
    for path in (str(outside), f"file://{outside}", "../outside/secret.csv", "http://[::1"):
        assert _local_md5(ctx, path) is None, path
    assert _local_md5(SimpleNamespace(data_root=None), str(outside)) is None


def test_verify_reads_cache_objects_and_files_only_by_checked_hash_and_inside(tmp_path: Path, outside: Path):
    cache = tmp_path / "cache"
    cache.mkdir()
    for md5 in ("../../outside/secret.csv", "--output=/tmp/x", "0" * 31):
        with pytest.raises(CannotRun, match="not a DVC md5"):
            missing_objects(cache, [("data/x.csv", md5)])
    assert missing_objects(cache, [("data/x.csv", "0" * 32)])  # a real hash: looked up, reported missing
    tree = tmp_path / "tree"
    tree.mkdir()
    for path in ("../outside/secret.csv", str(outside)):
        with pytest.raises(CannotRun, match="outside"):
            in_tree(tree, path)


def fake_run(tags: dict[str, str], digest: str = "4bd9bc8a") -> SimpleNamespace:
    info = SimpleNamespace(run_id="run-1", experiment_id="0", status="FINISHED", lifecycle_stage="active",
                           start_time=0, end_time=None, user_id="u", run_name="n", artifact_uri=None)
    dataset = SimpleNamespace(name="d", digest=digest, source='{"uri": "data.csv"}', source_type="local",
                              profile=None, schema=None)
    return SimpleNamespace(info=info, data=SimpleNamespace(tags=tags, params={}, metrics={}), outputs=None,
                           inputs=SimpleNamespace(dataset_inputs=[SimpleNamespace(dataset=dataset, tags=[])]))


def test_mlflow_commit_tags_and_dataset_digests_are_checked_hashes(tmp_path: Path):
    from provex.ingest.mlflow.runs import _one_run

    ctx = SimpleNamespace(store=SimpleNamespace(scope="s", kind="http", given="http://mlflow"), source="http://mlflow",
                          data_root=None, steps={})
    cases = {"tag mlflow.source.git.commit": fake_run({"mlflow.source.git.commit": "--output=/tmp/x"}),
             "dataset 'd' digest": fake_run({}, digest="../../etc/passwd")}
    for key, run in cases.items():
        found = list(_one_run(ctx, run, set(), {"start_ms": 0}, []))
        assert [type(r).__name__ for r in found] == ["Reject"] and key in found[0].reason, found  # the run set aside
    good = list(_one_run(ctx, fake_run({"mlflow.source.git.commit": "0" * 40}), set(), {"start_ms": 0}, []))
    assert not [r for r in good if isinstance(r, Reject)] and any(isinstance(r, Node) for r in good)


def test_verify_checks_the_commit_before_git_sees_it(tmp_path: Path):
    from provex.app.reproduce.verify import checked_commit

    for commit in ("--output=/tmp/x", "HEAD", "0" * 40):  # not a commit id / not in this repository
        with pytest.raises(CannotRun):
            checked_commit(commit, tmp_path)
