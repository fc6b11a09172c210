"""``provex reproduce --verify``: rebuild a model or data version and compare
it hash by hash with the project's ``dvc.lock`` at that commit.

A temporary git worktree of the DVC project at the commit, with the project's
DVC cache linked (``dvc cache dir --local``); the true inputs pulled from it;
each stage of the recipe run in order (``dvc repro --single-item --force
--no-commit``, so nothing new goes into the project's cache; the re-run's
MLflow logging goes to a scratch store in the work folder). Then every output
and input hash of the re-run lock entries is compared with the committed ones,
and the training run's MLflow metrics with the re-run's. A model output whose
hash differs is loaded, locked and rebuilt (:mod:`.artifacts`), to say whether
it is the same model in other bytes or another model.
"""

from __future__ import annotations

import hashlib
import math
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import yaml

from provex.app.reproduce import artifacts, record
from provex.app.reproduce.models import CannotRun
from provex.app.reproduce.recipe import commit_of, project_root, stages
from provex.ingest import confine

TIMEOUT = 3600.0
METRIC_REL_TOLERANCE = 1e-9


def dvc_bin() -> str:
    found = shutil.which("dvc") or str(Path(sys.executable).with_name("dvc"))
    if not Path(found).exists():
        raise CannotRun("the dvc command is not installed (pip install dvc)")
    return found


def _run(args: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None, timeout: float = TIMEOUT) -> str:
    try:
        done = subprocess.run(list(args), cwd=cwd, env=dict(env) if env else None, capture_output=True,
                              text=True, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise CannotRun(f"{args[0]} is not installed: {exc}") from None
    except subprocess.TimeoutExpired:
        raise CannotRun(f"`{' '.join(args)}` took longer than {timeout:.0f} s") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-12:]
        raise CannotRun(f"`{' '.join(args)}` failed (exit {done.returncode}) in {cwd}:\n  " + "\n  ".join(tail))
    return done.stdout


def library_check(recorded: Mapping[str, str]) -> tuple[dict[str, str], str]:
    """Installed versions of the recorded libraries, and a plain note when any differ."""
    installed, differ = {}, []
    for name, wanted in sorted(recorded.items()):
        try:
            installed[name] = version(name)
        except PackageNotFoundError:
            installed[name] = "not installed"
        if installed[name] != wanted:
            differ.append(f"{name} {wanted} recorded, {installed[name]} here")
    if not recorded:
        return installed, "no library versions recorded: ran in the current environment"
    if differ:
        return installed, "ran with different library versions: " + "; ".join(differ)
    return installed, "ran in the current environment: every recorded library version matches"


def cache_dir(project: Path, dvc: str) -> Path:
    text = _run([dvc, "cache", "dir"], project).strip()
    return Path(text) if text else project / ".dvc" / "cache"


def missing_objects(cache: Path, inputs: Sequence[tuple[str, str]]) -> list[str]:
    """``path: cache object`` for every true input whose object is not in the cache.
    Every md5 (from the graph, or from a .dir manifest) is checked as an md5 before
    it names a cache object, and the object is read only inside the cache."""
    missing = []
    for path, md5 in inputs:
        obj = _in_cache(cache, md5, path)
        if not obj.exists():
            missing.append(f"{path} md5 {md5}: {obj}")
        elif md5.endswith(".dir"):
            entries = yaml.safe_load(obj.read_text())
            for entry in entries if isinstance(entries, list) else []:
                member = _in_cache(cache, entry.get("md5") if isinstance(entry, dict) else None, f"{path} (.dir member)")
                if not member.exists():
                    missing.append(f"{path}/{entry.get('relpath')} md5 {entry['md5']}: {member}")
    return missing


def _in_cache(cache: Path, md5: Any, what: str) -> Path:
    try:
        return confine.inside(confine.cache_object(cache, md5)[0], [cache])
    except (confine.BadHash, confine.Outside) as exc:
        raise CannotRun(f"{what}: {exc}") from None


def in_tree(tree: Path, path: str) -> Path:
    """``path`` (from the graph) inside the work tree, or CannotRun: never a file elsewhere."""
    try:
        return confine.inside(path, [tree], base=tree)
    except confine.Outside as exc:
        raise CannotRun(f"{exc}: a recipe only reads files of the project") from None


def checked_commit(commit: Any, root: Path) -> str:
    """``commit`` when it is a commit id that resolves in the project (never an option)."""
    try:
        sha = confine.checked_hash("git", commit, "the recipe", "commit")
    except confine.BadHash as exc:
        raise CannotRun(str(exc)) from None
    _run(["git", "rev-parse", "--verify", "--quiet", "--end-of-options", f"{sha}^{{commit}}"], root)
    return sha


def inputs_of(rows: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(path, md5) of the recipe's true inputs."""
    out = []
    for r in rows:
        if r["kind"] == "data":
            path, _, md5 = r["item"].partition(" md5 ")
            out.append((path, md5))
    return out


def file_md5(path: Path) -> str | None:
    """DVC's md5 of a file (its bytes); None for a directory or a missing file."""
    if not path.is_file():
        return None
    digest = hashlib.md5()  # noqa: S324 - DVC's content hash, not security
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def compare_locks(locked: Mapping[str, Any], rerun: Mapping[str, Any], ran: Sequence[str],
                  inputs: Sequence[tuple[str, str]], measured: Mapping[str, str | None]) -> list[dict[str, Any]]:
    """Every output of the stages that ran, and every true input, locked vs re-run.
    Inputs are hashed by provex itself after the checkout (DVC trusts its cache
    for files it checked out, so a tampered cache object would pass unseen)."""
    rows, true_inputs = [], {p for p, _ in inputs}
    for stage in ran:
        old, new = (locked.get("stages") or {}).get(stage) or {}, (rerun.get("stages") or {}).get(stage) or {}
        new_hash = {e["path"]: e.get("md5") for section in ("deps", "outs") for e in new.get(section) or []}
        for section, kind in (("outs", "output"), ("deps", "input")):
            for e in old.get(section) or []:
                if kind == "input" and e["path"] not in true_inputs:
                    continue
                got = measured.get(e["path"]) if kind == "input" and measured.get(e["path"]) else new_hash.get(e["path"])
                rows.append({"stage": stage, "kind": kind, "path": e["path"], "expected": e.get("md5"), "got": got,
                             "same": got == e.get("md5")})
    return rows


def compare_metrics(expected: Mapping[str, Any], scratch_uri: str, experiment: str | None,
                    run_name: str | None) -> list[dict[str, Any]]:
    """The training run's MLflow metrics vs the re-run's (logged to the scratch store)."""
    if not expected or not experiment:
        return []
    from mlflow import MlflowClient

    client = MlflowClient(scratch_uri)
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], order_by=["attributes.start_time DESC"]) if exp else []
    runs = [r for r in runs if not run_name or r.info.run_name == run_name]
    got = runs[0].data.metrics if runs else {}
    return [{"metric": name, "expected": value, "got": got.get(name),
             "same": got.get(name) is not None and math.isclose(got[name], value, rel_tol=METRIC_REL_TOLERANCE)}
            for name, value in sorted(expected.items())]


def outcome_of(outputs: Sequence[Mapping[str, Any]], metrics: Sequence[Mapping[str, Any]],
               models: Sequence[Mapping[str, Any]] = ()) -> tuple[str, str]:
    """The outcome and why: differing model outputs are judged by loading both
    models (``models``, :mod:`.artifacts`): the same model written differently is
    within tolerance, another model differs; other hash differences count as
    within tolerance only when the metrics match."""
    differ = [o for o in outputs if not o["same"]]
    if not differ:
        return "reproduced", "every output hash equals dvc.lock at the commit"
    bad_inputs = [o for o in differ if o["kind"] == "input"]
    if bad_inputs:
        return "differs", "; ".join(f"{o['kind']} {o['path']}: locked md5 {o['expected']}, re-run {o['got']}"
                                    for o in bad_inputs)
    judged = {m["path"]: m for m in models}
    other = [m for m in models if m["verdict"] == artifacts.DIFFERENT]
    if other:
        return "differs", "; ".join(f"{m['path']}: {artifacts.DIFFERENT}: {m['detail']}" for m in other)
    same = [judged[o["path"]] for o in differ if judged.get(o["path"], {}).get("verdict") == artifacts.SAME]
    rest = [o for o in differ if judged.get(o["path"], {}).get("verdict") != artifacts.SAME]
    said = "; ".join(f"{m['path']}: {artifacts.SAME} ({m['detail']})" for m in same)
    if not rest:
        return "reproduced-within-tolerance", said
    if metrics and all(m["same"] for m in metrics):
        unexplained = ", ".join(o["path"] + (f" ({judged[o['path']]['detail']})" if o["path"] in judged else "")
                                for o in rest)
        return "reproduced-within-tolerance", (
            (said + "; " if said else "")
            + f"the metrics match (relative tolerance {METRIC_REL_TOLERANCE:g}); hashes differ: {unexplained}")
    return "differs", "; ".join(f"{o['kind']} {o['path']}: locked md5 {o['expected']}, re-run {o['got']}" for o in rest)


def verify(target: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], *, project: str | None = None,
           workdir: str | None = None) -> dict[str, Any]:
    """Run the recipe for real; a report whose ``outcome`` is one of the four words."""
    run = target["run"] or {}
    report: dict[str, Any] = {"target": target["uid"], "started_at": record.now(), "commit": commit_of(rows),
                              "stage": run.get("name"), "outputs": [], "metrics": [], "models": []}
    installed, report["library_note"] = library_check(target.get("libraries") or {})
    report["environment"] = {**record.versions("dvc", "mlflow"), **installed}
    try:
        _verify(target, rows, report, project or project_root(run), workdir)
    except CannotRun as exc:
        report["outcome"], report["reason"] = "could-not-run", str(exc)
    report["finished_at"] = record.now()
    return report


def _verify(target: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], report: dict[str, Any],
            project: str | None, workdir: str | None) -> None:
    run = target["run"] or {}
    if run.get("kind") != "dvc-stage":
        raise CannotRun(f"{target['uid']} was not made by a DVC stage run; --verify rebuilds DVC pipelines only")
    if not project or not (Path(project) / ".git").exists():
        raise CannotRun(f"the DVC project {project or '(unknown)'} is not a git checkout here; give --project DIR")
    if not report["commit"]:
        raise CannotRun(f"no git commit is recorded for {target['uid']}; ingest the DVC project with its history")
    root, dvc, ran = Path(project), dvc_bin(), stages(rows)
    report.update(project=str(root), command=f"dvc repro --single-item --force --no-commit {' '.join(ran)}")
    inputs = inputs_of(rows)
    missing = missing_objects(cache_dir(root, dvc), inputs)
    if missing:
        raise CannotRun("missing cache object(s): " + "; ".join(missing))
    base = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="provex-reproduce-"))
    tree = base / "project"
    report["workdir"] = str(tree)
    commit = checked_commit(report["commit"], root)
    _run(["git", "worktree", "add", "--detach", "--", str(tree), commit], root)
    try:
        _rebuild(root, tree, dvc, ran, inputs, report, target)
    finally:
        if not workdir:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=root, capture_output=True, check=False)
            shutil.rmtree(base, ignore_errors=True)


def _rebuild(root: Path, tree: Path, dvc: str, ran: Sequence[str], inputs: Sequence[tuple[str, str]],
             report: dict[str, Any], target: Mapping[str, Any]) -> None:
    import os

    _run([dvc, "cache", "dir", "--local", str(cache_dir(root, dvc))], tree)
    if inputs:
        _run([dvc, "checkout", "--", *[p for p, _ in inputs]], tree)
    measured = {p: file_md5(in_tree(tree, p)) for p, _ in inputs}
    scratch = f"sqlite:///{tree.parent / 'mlflow.db'}"
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])  # this environment's python
    env = {**os.environ, "PATH": path, "MLFLOW_TRACKING_URI": scratch, "MLFLOW_REGISTRY_URI": scratch}
    for stage in ran:
        _run([dvc, "repro", "--single-item", "--force", "--no-commit", "--", stage], tree, env)
    lockfile = (target["run"] or {}).get("lockfile") or "dvc.lock"
    locked = yaml.safe_load(_run(["git", "show", f"{checked_commit(report['commit'], root)}:{lockfile}"], root))
    rerun = yaml.safe_load(in_tree(tree, lockfile).read_text())
    report["outputs"] = compare_locks(locked, rerun, ran, inputs, measured)
    training = target.get("training_run") or {}
    report["metrics"] = compare_metrics(target.get("metrics") or {}, scratch, target.get("experiment"), training.get("name"))
    report["models"] = artifacts.explain_outputs(report["outputs"], locked, tree, cache_dir(root, dvc),
                                                 tree.parent / "locked")
    report["outcome"], report["reason"] = outcome_of(report["outputs"], report["metrics"], report["models"])
