"""provex reproduce: recipes of the sample's model versions checked against
DVC's own dvc.lock (no duplicate or dead step, the true inputs only), the
``sh`` form run for real, and --verify in a worktree of a restored copy of the
sample project (reproduced, a tampered cached input, a missing cache object).
Recording a verification uses a graph of its own (tests/story.py)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import story
import yaml
from click.testing import CliRunner
from sample import expected, restore

from provex.app.cli import cli
from provex.app.reproduce import recipe as recipe_mod
from provex.app.reproduce import record
from provex.app.reproduce.verify import verify
from provex.graph import flags, questions, recipes
from provex.graph.connection import Graph
from provex.vocab import model as m

X = expected()
BAD_RAW, BAD_PREPARED = X["bad_data_version"]["raw"], X["bad_data_version"]["prepared"]
RUNNABLE = ("code", "library", "data", "stage", "train")


def mv_uid(key: str) -> str:
    name, version = key.split("@")
    return m.model_version(name, version).uid


def prepared_uid() -> str:
    return m.data_version(BAD_PREPARED["path"], BAD_PREPARED["md5"]).uid


def repo_of(sample: dict) -> Path:
    return Path(sample["config"]).parent / "credit-dvc"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def dvc_closure(repo: Path, commit: str, stage: str) -> tuple[set[str], dict[str, str]]:
    """From DVC's own files at ``commit``: the stages ``stage`` needs (itself
    included) and the DVC-tracked raw inputs (path -> md5) none of them makes."""
    lock = yaml.safe_load(git(repo, "show", f"{commit}:dvc.lock"))["stages"]
    tracked = {p.removesuffix(".dvc") for p in git(repo, "ls-tree", "-r", "--name-only", commit).split() if p.endswith(".dvc")}
    makes = {o["path"]: name for name, e in lock.items() for o in e.get("outs", [])}
    need, todo, raw = set(), [stage], {}
    while todo:
        name = todo.pop()
        if name in need:
            continue
        need.add(name)
        for dep in lock[name].get("deps", []):
            makers = {s for p, s in makes.items() if p == dep["path"] or p.startswith(dep["path"] + "/")}
            todo += sorted(makers)
            if not makers and dep["path"] in tracked:
                raw[dep["path"]] = dep["md5"]
    return need, raw


# ---- recipes (read only) -------------------------------------------------------------------------


def test_no_recipe_has_a_duplicate_or_dead_step(g: Graph, sample: dict) -> None:
    repo = repo_of(sample)
    for key in X["model_versions"]:
        target = recipes.target(g, mv_uid(key))
        rows = recipes.recipe(g, target)
        commands = [r["command"] for r in rows]
        assert len(commands) == len(set(commands)), f"{key}: a step twice"
        assert not [c for r, c in zip(rows, commands) if r["kind"] in RUNNABLE and c.startswith("#")], key
        commit, ran = recipe_mod.commit_of(rows), recipe_mod.stages(rows)
        need, raw = dvc_closure(repo, commit, target["run"]["name"])
        assert set(ran) == need and len(ran) == len(need), f"{key}: {ran} vs DVC's {need}"
        assert ran[-1] == target["run"]["name"] and [r["kind"] for r in rows].count("train") == 1
        pulled = {r["item"].split(" md5 ")[0]: r["item"].split(" md5 ")[1] for r in rows if r["kind"] == "data"}
        assert pulled == raw, f"{key}: fetches {sorted(pulled)}, DVC's true inputs are {sorted(raw)}"


def test_the_catalog_question_is_the_same_recipe(g: Graph) -> None:
    frame = questions.ask(g, "reproduce-model", {"model_version": mv_uid("credit-limit@5")})
    target = recipes.target(g, mv_uid("credit-limit@5"))
    assert frame.to_dict("records") == recipes.recipe(g, target)


def test_the_sh_form_of_a_data_version_runs(g: Graph, sample: dict, tmp_path: Path) -> None:
    done = CliRunner().invoke(cli, ["reproduce", prepared_uid(), "--format", "sh"])
    assert done.exit_code == 0, done.output
    script = tmp_path / "reproduce.sh"
    script.write_text(done.stdout)
    ran = subprocess.run(["sh", str(script)], capture_output=True, text=True, timeout=600, env={
        **os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PROJECT": str(repo_of(sample)), "WORKDIR": str(tmp_path / "work")})
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert f"same     {BAD_PREPARED['path']} md5 {BAD_PREPARED['md5']}" in ran.stdout
    assert "DIFFERS" not in ran.stdout


@pytest.mark.slow
def test_the_sh_form_of_a_model_version_runs(g: Graph, sample: dict, tmp_path: Path) -> None:
    done = CliRunner().invoke(cli, ["reproduce", "model:credit-limit@1", "--format", "sh"])
    script = tmp_path / "reproduce.sh"
    script.write_text(done.stdout)
    ran = subprocess.run(["sh", str(script)], capture_output=True, text=True, timeout=1800, env={
        **os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PROJECT": str(repo_of(sample)), "WORKDIR": str(tmp_path / "work")})
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert "same     data/features/purchase_features.csv" in ran.stdout


# ---- --verify on a restored copy of the sample project ---------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the sample's DVC project and cache, free to tamper with."""
    return restore(tmp_path / "copy").parent / "credit-dvc"


def cache_object(project: Path, md5: str) -> Path:
    obj = project / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
    assert obj.exists()
    obj.chmod(obj.stat().st_mode | stat.S_IWUSR)
    return obj


def verify_prepared(g: Graph, project: Path) -> dict[str, Any]:
    target = recipes.target(g, prepared_uid())
    return verify(target, recipes.recipe(g, target), project=str(project))


def test_verify_rebuilds_a_data_version_hash_by_hash(g: Graph, project: Path) -> None:
    report = verify_prepared(g, project)
    assert report["outcome"] == "reproduced", report.get("reason")
    assert {(o["kind"], o["path"], o["got"]) for o in report["outputs"]} == {
        ("output", BAD_PREPARED["path"], BAD_PREPARED["md5"]), ("input", BAD_RAW["path"], BAD_RAW["md5"])}
    assert not git(project, "worktree", "list").strip().count("\n")  # the temporary worktree is gone


def test_a_tampered_cached_input_differs_naming_it(g: Graph, project: Path) -> None:
    with cache_object(project, BAD_RAW["md5"]).open("a") as fh:
        fh.write("t-202602-99999,c-0002,2026-02-28,100,groceries\n")  # one more purchase
    report = verify_prepared(g, project)
    assert report["outcome"] == "differs"
    assert f"input {BAD_RAW['path']}: locked md5 {BAD_RAW['md5']}" in report["reason"]
    bad = {o["path"] for o in report["outputs"] if not o["same"]}
    assert BAD_RAW["path"] in bad


def test_a_missing_cache_object_could_not_run_with_its_path(g: Graph, project: Path) -> None:
    obj = cache_object(project, BAD_RAW["md5"])
    obj.unlink()
    report = verify_prepared(g, project)
    assert report["outcome"] == "could-not-run"
    assert str(obj) in report["reason"] and BAD_RAW["path"] in report["reason"]


@pytest.mark.slow
def test_credit_limit_5_is_rebuilt_and_compared_hash_by_hash(g: Graph, project: Path) -> None:
    target = recipes.target(g, mv_uid("credit-limit@5"))
    report = verify(target, recipes.recipe(g, target), project=str(project))
    assert report["outcome"] in ("reproduced", "reproduced-within-tolerance"), report.get("reason")
    data = [o for o in report["outputs"] if o["path"].startswith("data/")]
    assert data and all(o["same"] for o in data)
    assert [(x["metric"], x["same"]) for x in report["metrics"]] == [("train_median_abs_log_error", True)]
    differing = {o["path"] for o in report["outputs"] if not o["same"]}  # the pickles, on most machines
    assert {x["path"] for x in report["models"]} == differing
    assert all(x["verdict"] == "same model, different bytes" for x in report["models"]), report["models"]
    assert all(f"{p}: same model, different bytes (" in report["reason"] for p in differing)


# ---- recording (a graph of its own) ----------------------------------------------------------------


def test_a_verification_is_recorded_on_the_model_version(graph: Graph) -> None:
    told = story.load(graph)
    gaps = {r["gap"]: r for r in questions.ask(graph, "lineage-gaps", {}).to_dict("records")}
    assert told.bad_model in gaps["model version never verified"]["examples"]
    done = CliRunner().invoke(cli, ["reproduce", told.bad_model, "--verify", "--format", "json"])
    assert done.exit_code == 1 and "Traceback" not in done.output, done.output
    report = json.loads(done.stdout)
    assert report["outcome"] == "could-not-run" and "not made by a DVC stage run" in report["reason"]
    [row] = recipes.reproductions(graph, told.bad_model)
    assert (row["reproduction"], row["outcome"]) == (report["reproduction"], "could-not-run")
    assert row["provex_version"]
    gaps = {r["gap"]: r for r in questions.ask(graph, "lineage-gaps", {}).to_dict("records")}
    assert told.bad_model in gaps["model version never verified"]["examples"]  # it could not run: not verified
    assert told.bad_model not in flags.node_flags(graph, [told.bad_model])
    target = recipes.target(graph, told.bad_model)
    failed = {"started_at": "2026-03-20T10:00:00+00:00", "outcome": "differs", "reason": "output models/m.pkl differs"}
    record.record_reproduction(graph, target, failed)
    assert flags.node_flags(graph, [told.bad_model])[told.bad_model] == [
        "reproduction differs (2026-03-20T10:00:00+00:00): output models/m.pkl differs"]
    record.record_reproduction(graph, target, {**failed, "started_at": "2026-03-21T10:00:00+00:00", "outcome": "reproduced"})
    assert told.bad_model not in flags.node_flags(graph, [told.bad_model])  # the latest verification counts
