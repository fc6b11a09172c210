"""Small projects without a model registry, built here the way teams have them:
a DVC pipeline whose train stage writes a model and a metadata file beside
it (run with the real ``dvc repro`` in a real git repository), an MLflow
file store written with MlflowClient, and service logs ingested through the
real prediction-log adapter (tests/logged.py)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import logged

from provex.graph import pipeline, questions
from provex.graph.connection import Graph
from provex.ingest import dvc
from provex.ingest import mlflow as mlflow_adapter
from provex.vocab import model as m

DVC = shutil.which("dvc") or str(Path(sys.executable).with_name("dvc"))
GIT_ENV = {"GIT_AUTHOR_NAME": "ana", "GIT_AUTHOR_EMAIL": "ana@example.org", "GIT_COMMITTER_NAME": "ana",
           "GIT_COMMITTER_EMAIL": "ana@example.org", "GIT_AUTHOR_DATE": "2026-08-19T09:20:00Z",
           "GIT_COMMITTER_DATE": "2026-08-19T09:20:00Z"}


def md5(raw: bytes) -> str:
    return hashlib.md5(raw).hexdigest()


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV}).stdout.strip()


@dataclass
class DvcProject:
    root: Path
    commit: str
    hashes: dict[str, str] = field(default_factory=dict)  # path -> md5

    def version(self, path: str) -> str:
        return m.data_version(path, self.hashes[path]).uid

    @property
    def train_run(self) -> str:
        return m.run(f"dvc:{self.root.name}:{self.commit[:12]}:train").uid


def dvc_project(root: Path, outs: dict[str, bytes], data: bytes = b"text,label\nwin money,spam\nhi mum,ham\n"
                ) -> DvcProject:
    """A git repository whose ``train`` stage (deps: data/train.csv, src/train.py)
    writes ``outs``, run with the real ``dvc repro`` (so dvc.lock and the DVC
    cache are DVC's own), then committed."""
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    subprocess.run([DVC, "init", "-q"], cwd=root, check=True, capture_output=True)
    script = "import base64, os\n" + "".join(
        f"os.makedirs(os.path.dirname({path!r}) or '.', exist_ok=True)\n"
        f"open({path!r}, 'wb').write(base64.b64decode({base64.b64encode(raw).decode()!r}))\n"
        for path, raw in sorted(outs.items()))
    files = {"data/train.csv": data, "src/train.py": script.encode()}
    for path, raw in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(raw)
    (root / "dvc.yaml").write_text(f"stages:\n  train:\n    cmd: {sys.executable} src/train.py\n"
                                   f"    deps: [data/train.csv, src/train.py]\n    outs: [{', '.join(sorted(outs))}]\n")
    subprocess.run([DVC, "repro", "-q"], cwd=root, check=True, capture_output=True)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "train the model")
    hashes = {p: md5(raw) for p, raw in {**files, **outs}.items()}
    return DvcProject(root, git(root, "rev-parse", "HEAD"), hashes)


def mlflow_store(root: Path, runs: list[dict[str, Any]]) -> tuple[str, dict[str, str]]:
    """A file store (MLflow's own client) with these runs: ``name``, ``params``,
    ``tags``, ``commit``, ``dataset`` (path, digest), ``logged_model`` (a name).
    Returns the URI and, by run name, the run ids (and ``<name>/model``: logged model ids)."""
    from mlflow.entities import Dataset, DatasetInput, InputTag
    from mlflow.tracking import MlflowClient

    before = os.environ.get("MLFLOW_ALLOW_FILE_STORE")
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"  # only to build the store here; provex opens it itself
    try:
        uri = (root / "mlruns").as_uri()
        client = MlflowClient(uri)
        exp = client.create_experiment("no-registry", artifact_location=(root / "artifacts").as_uri())
        ids: dict[str, str] = {}
        for spec in runs:
            tags = {**spec.get("tags", {}), **({"mlflow.source.git.commit": spec["commit"]} if spec.get("commit") else {})}
            run_id = client.create_run(exp, run_name=spec["name"], tags=tags).info.run_id
            for key, value in spec.get("params", {}).items():
                client.log_param(run_id, key, value)
            if spec.get("dataset"):
                path, digest = spec["dataset"]
                client.log_inputs(run_id, datasets=[DatasetInput(Dataset(path.rsplit("/", 1)[-1], digest, "local",
                                                                         json.dumps({"uri": path})),
                                                                 tags=[InputTag("mlflow.data.context", "training")])])
            if spec.get("logged_model"):
                ids[f"{spec['name']}/model"] = client.create_logged_model(exp, name=spec["logged_model"],
                                                                          source_run_id=run_id).model_id
            client.set_terminated(run_id)
            ids[spec["name"]] = run_id
    finally:
        if before is None:
            os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)
        else:
            os.environ["MLFLOW_ALLOW_FILE_STORE"] = before
    return uri, ids


def ingest_dvc(graph: Graph, project: DvcProject) -> pipeline.Summary:
    return pipeline.ingest(graph, kind="dvc", uri=str(project.root),
                           read=lambda state: dvc.read(project.root, state=state, profile=False))


def ingest_mlflow(graph: Graph, uri: str) -> pipeline.Summary:
    return pipeline.ingest(graph, kind="mlflow", uri=uri, read=lambda state: mlflow_adapter.read(uri, state=state))


def service_log(graph: Graph, version: str | None, n: int, prefix: str, *, name: str | None = None,
                folder: Path | None = None, **model: str) -> pipeline.Summary:
    """``n`` lines as a service logs them: request_id, prediction, confidence and the model as given."""
    lines = []
    for i in range(n):
        line: dict[str, Any] = {"request_id": f"{prefix}-{i}", "timestamp": f"2026-08-20T10:{i:02d}:00Z",
                                "prediction": "spam" if i % 2 else "ham", "confidence": 0.5 + i / 100}
        line.update({k: v for k, v in (("model_version", version), ("model", name)) if v is not None})
        line.update(model)
        lines.append(line)
    return logged.ingest(graph, lines, name=f"{prefix}.jsonl", folder=folder)


def chain(graph: Graph, prediction: str) -> dict[str, Any]:
    """What prediction-provenance says of a prediction's own model: the model,
    how it was resolved, its training runs, training data and commits."""
    rows = questions.ask(graph, "prediction-provenance", {"prediction": prediction}).to_dict("records")
    mine = [r for r in rows if r["hop"] == 0]
    pick = lambda aspect, col="ref": sorted({r[col] for r in mine if r["aspect"] == aspect and r[col]})  # noqa: E731
    return {"model": pick("model version"), "method": pick("model resolved by", "key"),
            "how": pick("model resolved by", "value"), "runs": pick("training run"),
            "data": pick("training data"), "commits": pick("code commit", "key")}


def gaps(graph: Graph) -> dict[str, dict[str, Any]]:
    return {r["gap"]: r for r in questions.ask(graph, "lineage-gaps", {}).to_dict("records")}
