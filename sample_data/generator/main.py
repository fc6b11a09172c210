"""Orchestrates the whole sample: DVC repo -> MLflow runs/registry -> served predictions
-> expected.json + README.md. Deterministic apart from MLflow's random ids (run ids,
model ids), which expected.json and README.md record."""
import shutil
import tarfile
import tempfile
import time
from pathlib import Path

from mlflow import MlflowClient

from . import later, mlflow_store, readme, records, story
from .dvcrepo import DvcRepo
from .mlflow_store import ms
from .serving import Server, pick_complaint, schedule

ROOT = Path(__file__).resolve().parents[1]      # sample_data/
STORE = ROOT / "mlflow"
PRED = ROOT / "predictions"
LATER_LOG = "april_may.jsonl"                    # the later complaints' predictions (both models)
REL_STORE = "sample_data/mlflow"                 # artifact root as stored: relative to repo root


def deps(lock: dict, stage: str) -> dict:
    return {d["path"]: d["md5"] for d in lock["stages"][stage]["deps"]}


def outs(lock: dict, stage: str) -> dict:
    return {d["path"]: d["md5"] for d in lock["stages"][stage]["outs"]}


def deterministic_tar(src: Path, dest: Path) -> None:
    def norm(ti):
        ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname = 0, 0, 0, "", ""
        return ti
    import gzip
    with open(dest, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w") as tar:
        for p in sorted(src.rglob("*")):
            tar.add(p, arcname=str(Path("cache") / p.relative_to(src)), recursive=False,
                    filter=norm)


def build_repo(uri: str) -> tuple:
    steps, locks, run_starts, known = [], {}, [], set()
    with tempfile.TemporaryDirectory(prefix="provex-credit-") as tmp:
        repo = DvcRepo(Path(tmp) / "credit-dvc", uri)
        repo.init()
        for key, date, author, message in story.STEPS:
            t = time.time()
            sha = repo.step(key, date, author, message)
            new = mlflow_store.tag_step_runs(uri, known, sha, date)
            known |= {r for r, _ in new}
            run_starts += new
            steps.append({"key": key, "sha": sha, "time": date, "author": author,
                          "message": message, "months": list(repo.params["months"]),
                          "runs": [r for r, _ in new]})
            locks[key] = repo.lock()
            print(f"  step {key} {sha[:10]} {len(new)} runs ({time.time() - t:.0f}s)", flush=True)
        repo.bundle(ROOT / "credit-dvc.bundle")
        deterministic_tar(repo.path / ".dvc" / "cache", ROOT / "dvc-cache.tar.gz")
    return steps, locks, run_starts


def model_versions(uri: str, steps: list, locks: dict) -> dict:
    client, out = MlflowClient(uri), {}
    stage = {"credit-scoring": "train_scoring", "credit-limit": "train_credit_limit"}
    for name in stage:
        for mv in client.search_model_versions(f"name='{name}'"):
            step = next(s for s in steps if mv.run_id in s["runs"])
            out[(name, str(mv.version))] = {
                "run_id": mv.run_id, "model_id": mv.source.split("/")[-1],
                "step": step["key"], "commit": step["sha"],
                "trained_on_bad_data": step["key"] == "e",
                "training_deps": deps(locks[step["key"]], stage[name]),
                "params": locks[step["key"]]["stages"][stage[name]].get("params", {}),
            }
    return out


def main() -> None:
    t0 = time.time()
    for p in (STORE, PRED):
        shutil.rmtree(p, ignore_errors=True)
    for f in ("credit-dvc.bundle", "dvc-cache.tar.gz", "expected.json"):
        (ROOT / f).unlink(missing_ok=True)
    PRED.mkdir()
    uri = mlflow_store.create_store(STORE)
    print("DVC project + training (dvc repro at each commit)", flush=True)
    steps, locks, run_starts = build_repo(uri)
    versions = model_versions(uri, steps, locks)
    history = mlflow_store.record_alias_history(uri, story.ALIAS_MOVES)

    print("serving predictions with registered model versions", flush=True)
    server = Server(uri, steps, versions)
    household, good, bad = pick_complaint(server)
    reqs = schedule(20260106, {good, bad}, list(server.customers["customer_id"]))
    reqs += [{"t": ms(story.SPOUSE_GOOD_TIME), "customer_id": good, "channel": "complaint"},
             {"t": ms(story.SPOUSE_BAD_TIME), "customer_id": bad, "channel": "complaint"}]
    server.serve(reqs)
    bad_versions = {k for k, v in versions.items() if v["trained_on_bad_data"]}
    hit = sorted({r["customer_id"] for r in reqs
                  if ("credit-scoring", r["sc_version"]) in bad_versions
                  or ("credit-limit", r["cl_version"]) in bad_versions})
    review = [{"t": ms(story.REVIEW_TIME) + 20_000 * i, "customer_id": c, "channel": "review"}
              for i, c in enumerate(hit)]
    server.serve(review)
    print("later complaints (library, code, override, inputs)", flush=True)
    members = set(server.customers.loc[server.customers["household_id"] == household, "customer_id"])
    later_reqs, stories = later.requests(server, {good, bad} | members)
    server.serve(later_reqs)
    all_reqs = reqs + review
    scoring, limits = records.build(all_reqs + later_reqs, server, versions)  # later ones: the last ids
    imp = records.impact(scoring, limits, bad_versions)
    later_ids = {r[k] for r in later_reqs for k in ("sc_id", "cl_id")}
    later_records = sorted((r for r in scoring + limits if r["prediction_id"] in later_ids),
                           key=lambda r: (r["timestamp"], r["prediction_id"]))
    scoring = [r for r in scoring if r["prediction_id"] not in later_ids]
    limits = [r for r in limits if r["prediction_id"] not in later_ids]
    review_ids = {r["cl_id"] for r in review}
    online_limits = [r for r in limits if r["prediction_id"] not in review_ids]
    review_limits = [r for r in limits if r["prediction_id"] in review_ids]
    records.write_jsonl(PRED / "scoring.jsonl", scoring)
    records.write_jsonl(PRED / "credit_limit.jsonl", online_limits)
    records.write_review_csv(PRED / "limit_review.csv", review_limits)
    records.write_jsonl(PRED / LATER_LOG, later_records)
    (PRED / "mapping.toml").write_text(records.MAPPING_TOML)

    mlflow_store.simulate_times(STORE / "mlflow.db", run_starts, history)
    mlflow_store.simulate_model_files(STORE, run_starts)
    n = mlflow_store.relocate(STORE / "mlflow.db", str(STORE), REL_STORE)
    for mlmodel in STORE.glob("artifacts/**/MLmodel"):   # informational artifact_path field
        mlmodel.write_text(mlmodel.read_text().replace(str(STORE), REL_STORE))
    print(f"  {n} artifact locations made relative to the repo root", flush=True)
    complaint = {r["channel"] and r["customer_id"]: r for r in reqs if r["channel"] == "complaint"}
    readme.write(ROOT, steps=steps, locks=locks, versions=versions, history=history,
                 complaint=(household, complaint[good], complaint[bad]), impact=imp,
                 scoring=scoring, online_limits=online_limits, review_limits=review_limits,
                 review=review, after_fix=next(r for r in review if r["customer_id"] == bad),
                 later={"stories": stories, "records": later_records, "log": LATER_LOG, "versions": versions,
                        "steps": steps})
    print(f"done in {time.time() - t0:.0f}s", flush=True)
