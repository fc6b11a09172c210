"""The MLflow side: experiments, commit tags, alias moves, simulated timestamps and
relocatable artifact locations. Reads/writes go through MlflowClient; the two
post-processing passes (timestamps, artifact locations) update MLflow's own SQL schema
with SQLAlchemy because MLflow has no API to change them."""
import json
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa
from mlflow import MlflowClient

EXPERIMENTS = ["credit-scoring", "credit-limit"]
ALIAS_TAG = "alias.production.history"   # model version tag: JSON [[from, to|null], ...]
# (table, column) pairs of MLflow's schema holding artifact locations
LOCATION_COLUMNS = [("experiments", "artifact_location"), ("runs", "artifact_uri"),
                    ("logged_models", "artifact_location"),
                    ("model_versions", "storage_location"), ("model_versions", "source")]


def ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def iso(ms_value: int) -> str:
    return datetime.fromtimestamp(ms_value / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def create_store(store_dir: Path) -> str:
    store_dir.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{(store_dir / 'mlflow.db').as_posix()}"
    client = MlflowClient(uri)
    for name in EXPERIMENTS:
        client.create_experiment(name, artifact_location=str(store_dir / "artifacts" / name))
    eng = sa.create_engine(uri)  # the Default experiment would point at ./mlruns
    with eng.begin() as c:
        c.execute(sa.text("update experiments set artifact_location=:a where experiment_id=0"),
                  {"a": str(store_dir / "artifacts" / "0")})
    eng.dispose()
    return uri


def tag_step_runs(uri: str, known: set, sha: str, commit_time: str) -> list:
    """Tag the runs a step's `dvc repro` created with the step's commit; return
    [(run_id, simulated start ms)] in creation order."""
    client = MlflowClient(uri)
    runs = [r for e in EXPERIMENTS
            for r in client.search_runs([client.get_experiment_by_name(e).experiment_id])
            if r.info.run_id not in known]
    runs.sort(key=lambda r: r.info.start_time)
    out = []
    for i, r in enumerate(runs):
        client.set_tag(r.info.run_id, "mlflow.source.git.commit", sha)
        out.append((r.info.run_id, ms(commit_time) - (40 - 12 * i) * 60_000))
    return out


def record_alias_history(uri: str, moves: list) -> list:
    """Apply the production alias moves in order; keep their history as tags; return it."""
    client = MlflowClient(uri)
    history, current = [], {}
    for when, name, version in moves:
        if name in current:
            current[name]["to"] = when
        client.set_registered_model_alias(name, "production", version)
        current[name] = {"model": name, "version": version, "from": when, "to": None}
        history.append(current[name])
    for name in sorted({h["model"] for h in history}):
        for v in sorted({h["version"] for h in history if h["model"] == name}, key=int):
            spans = [[h["from"], h["to"]] for h in history
                     if h["model"] == name and h["version"] == v]
            client.set_model_version_tag(name, v, ALIAS_TAG, json.dumps(spans))
    return history


def simulate_times(db: Path, run_starts: list, history: list) -> None:
    """Shift every timestamp of each run (and of what it logged) to simulated time."""
    eng = sa.create_engine(f"sqlite:///{db.as_posix()}")
    with eng.begin() as c:
        for run_id, start in run_starts:
            p = {"r": run_id, "t": start}
            for sql in [  # a run lasts a minute and logs its metrics at 30 s: the same on every regeneration
                "update runs set start_time=:t, end_time=:t+60000 where run_uuid=:r",
                "update metrics set timestamp=:t+30000 where run_uuid=:r",
                "update latest_metrics set timestamp=:t+30000 where run_uuid=:r",
                "update logged_models set creation_timestamp_ms=:t+40000,"
                " last_updated_timestamp_ms=:t+40000 where source_run_id=:r",
                "update logged_model_metrics set metric_timestamp_ms=:t+30000 where run_id=:r",
                "update model_versions set creation_time=:t+50000, last_updated_time=:t+50000 where run_id=:r",
                "update entity_associations set created_time=:t+40000 where"
                " source_id=:r or destination_id=:r"]:
                c.execute(sa.text(sql), p)
        for h in history:
            c.execute(sa.text("update model_versions set last_updated_time=max(last_updated_time,"
                              " :t) where name=:n and version=:v"),
                      {"t": ms(h["from"]), "n": h["model"], "v": int(h["version"])})
        c.execute(sa.text(
            "update registered_models set creation_time=(select min(creation_time) from"
            " model_versions v where v.name=registered_models.name), last_updated_time=(select"
            " max(last_updated_time) from model_versions v where v.name=registered_models.name)"))
        first = min(s for _, s in run_starts)
        last = max(s for _, s in run_starts)
        c.execute(sa.text("update experiments set creation_time=:f, last_update_time=:l"),
                  {"f": first - 3_600_000, "l": last})


def relocate(db: Path, old_root: str, new_root: str) -> int:
    """Rewrite artifact locations that start with old_root (plain path or file: URI) so
    they start with new_root. new_root may be relative (resolved against the cwd by
    MLflow's local artifact repository) or absolute. Returns the rows changed."""
    old_root = old_root.rstrip("/")
    new_root = new_root.rstrip("/")
    eng = sa.create_engine(f"sqlite:///{db.as_posix()}")
    n = 0
    with eng.begin() as c:
        for table, col in LOCATION_COLUMNS:
            for prefix in ("file://" + old_root, old_root):
                n += c.execute(sa.text(
                    f"update {table} set {col} = :new || substr({col}, :k) "
                    f"where substr({col}, 1, :k0) = :old"),
                    {"new": new_root, "old": prefix, "k": len(prefix) + 1,
                     "k0": len(prefix)}).rowcount
    eng.dispose()
    return n


def simulate_model_files(store_dir: Path, run_starts: list) -> None:
    """The logged models' MLmodel files say when they were created: the run's simulated
    start, not the generator's clock (so a regenerated sample has the same files)."""
    import re
    start = dict(run_starts)
    for mlmodel in sorted(store_dir.glob("artifacts/**/MLmodel")):
        text = mlmodel.read_text()
        run = re.search(r"^run_id: (\w+)$", text, re.M)
        if run and run.group(1) in start:
            when = datetime.fromtimestamp(start[run.group(1)] / 1000, timezone.utc)
            text = re.sub(r"^utc_time_created: .*$", f"utc_time_created: '{when:%Y-%m-%d %H:%M:%S}.000000'",
                          text, flags=re.M)
            mlmodel.write_text(text)
