"""MLflow experiments and runs as records: Experiment, Run (params, metrics,
tags, user, git commit, nested runs), dataset inputs (DataVersion, Dataset,
Feature) and run outputs (LoggedModel). Used by :mod:`provex.ingest.mlflow`."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from provex.ingest import confine
from provex.ingest.failures import mapped
from provex.ingest.mlflow import steps
from provex.ingest.mlflow.store import RUN_PAGE, Store, iso, now_iso, paged, pages, prefetched, reading
from provex.ingest.profile import from_mlflow
from provex.vocab import model
from provex.vocab.errors import ReadFailed
from provex.vocab.records import Edge, Flag, Node, Record, Reject

OPEN_STATUSES = ("RUNNING", "SCHEDULED")
SKIP_TAGS = ("mlflow.log-model.history",)  # large JSON blobs that duplicate the logged models


@dataclass
class Context:
    """What every reader needs: the client, the store, the old state, and the
    watermarks to hand back."""

    client: Any
    store: Store
    data_root: Path | None
    state: dict[str, Any]
    watermarks: dict[str, Any] = field(default_factory=dict)
    ingest_time: str = field(default_factory=now_iso)
    envs: dict[str, Any] = field(default_factory=dict)  # artifact location -> Environment ref or None
    step_errors: list[str] = field(default_factory=list)  # runs whose metric history could not be read
    steps: dict[str, dict[str, int]] = field(default_factory=dict)  # run_id -> step counts read in bulk

    @property
    def source(self) -> str:
        return self.store.given


def experiments(ctx: Context, names: tuple[str, ...] | list[str]) -> Iterator[Record]:
    """Experiment nodes; returns the experiments whose runs are to be read."""
    from mlflow.entities import ViewType

    if names:
        found = []
        for name in names:
            with reading(f"Cannot read experiment {name!r} of {ctx.source}"):
                exp = ctx.client.get_experiment_by_name(name)
            if exp is None:
                yield Flag("experiment-not-found", f"No experiment named {name!r} in {ctx.source}.", ctx.source)
            else:
                found.append(exp)
    elif ctx.store.kind == "file":
        found = yield from _file_store_experiments(ctx)
    else:
        with reading(f"Cannot list the experiments of {ctx.source}"):
            found = list(paged(ctx.client.search_experiments, view_type=ViewType.ALL))
    for exp in found:
        yield Node(model.experiment(ctx.store.scope, exp.experiment_id), {
            "name": exp.name, "experiment_id": exp.experiment_id, "tracking_uri": ctx.store.scope,
            "artifact_location": exp.artifact_location, "lifecycle_stage": exp.lifecycle_stage,
            "created_at": iso(getattr(exp, "creation_time", None)),
            "tags": {k: v for k, v in (exp.tags or {}).items()} or None,
        }, ctx.source)
    return found


def _file_store_experiments(ctx: Context) -> Iterator[Record]:
    """A file store's experiments one folder at a time: MLflow's listing fails
    as a whole on one broken ``meta.yaml``; here that experiment is a Reject
    naming the file, and the others are read."""
    from mlflow.entities import ViewType

    try:
        with reading(f"Cannot list the experiments of {ctx.source}"):
            return list(paged(ctx.client.search_experiments, view_type=ViewType.ALL))
    except ReadFailed:
        pass
    found = []
    root = ctx.store.root
    folders = [p for base in (root, root / ".trash") if base.is_dir() for p in sorted(base.iterdir())]
    for folder in folders:
        meta = folder / "meta.yaml"
        if not meta.is_file():
            continue
        try:
            with reading(f"experiment {folder.name} cannot be read"):
                found.append(ctx.client.get_experiment(folder.name))
        except ReadFailed as exc:
            yield Reject(str(meta), None, f"{exc}; its runs were skipped. Fix or restore this meta.yaml "
                         "and ingest again (the other experiments were read).")
    return found


def runs(ctx: Context, exps: list[Any]) -> Iterator[Record]:
    """Runs of each experiment started after the watermark, plus runs that
    were still open (or failed to read) at the last ingest."""
    old = ctx.state.get("runs", {})
    marks: dict[str, dict[str, Any]] = {}
    if ctx.store.kind == "http":
        yield Flag("metric-steps-skipped", f"Step counts of metrics are not read over HTTP ({ctx.source}): "
                   "one request per metric would be too slow.", ctx.source)
    for exp in exps:
        marks[exp.experiment_id] = yield from _experiment_runs(ctx, exp, old.get(exp.experiment_id))
    ctx.watermarks["runs"] = {**old, **marks}
    if ctx.step_errors:
        yield Flag("metric-steps-unavailable", f"Metric step counts could not be read for {len(ctx.step_errors)} "
                   f"run(s) (e.g. {ctx.step_errors[0]}); their latest metric values are ingested.", ctx.source)


def _experiment_runs(ctx: Context, exp: Any, old: dict[str, Any] | None) -> Generator[Record, None, dict[str, Any]]:
    """One experiment's new runs, page by page as they are read (the next page
    is read ahead while this one is written), then the runs to retry; returns
    its new watermark (unmoved when the listing failed half-way: the runs are
    listed again next time)."""
    mark = dict(old or {"start_ms": 0, "retry": []})
    seen: set[str] = set()
    retry: list[str] = []  # open or failed runs: read again next time
    complete = True
    try:
        for page, counts in _listed(ctx, exp, int(mark["start_ms"])):
            ctx.steps = counts
            for run in page:
                yield from _one_run(ctx, run, seen, mark, retry)
    except ReadFailed as exc:
        yield Reject(ctx.source, None, f"{exc}. Check the store; other experiments are still read.")
        complete = False
    ctx.steps = {}
    for run_id in mark.get("retry", []):
        if run_id not in seen:
            try:
                with reading(f"run {run_id}"):
                    run = ctx.client.get_run(run_id)
            except ReadFailed as exc:
                yield Reject(ctx.source, None, str(exc), run_id)
                continue
            yield from _one_run(ctx, run, seen, mark, retry)
    start_ms = mark["start_ms"] if complete else (old or {}).get("start_ms", 0)
    return {**mark, "start_ms": start_ms, "retry": sorted(retry)}


def _listed(ctx: Context, exp: Any, start_ms: int) -> Iterator[tuple[list[Any], dict[str, dict[str, int]]]]:
    """(runs, their step counts) per search_runs page, read ahead in a thread;
    ReadFailed naming the experiment when a page cannot be read."""
    from mlflow.entities import ViewType

    query = f"attributes.start_time > {start_ms}" if start_ms else ""
    found = pages(ctx.client.search_runs, RUN_PAGE, experiment_ids=[exp.experiment_id], filter_string=query,
                  run_view_type=ViewType.ALL)
    read = ((list(page), steps.bulk(ctx.client, ctx.store.kind, list(page))) for page in found)
    with contextlib.closing(prefetched(read)) as ahead:
        while True:
            with reading(f"experiment {exp.experiment_id} ({exp.name}): runs could not be listed"):
                item = next(ahead, None)
            if item is None:
                return
            yield item


def _one_run(ctx: Context, run: Any, seen: set[str], mark: dict[str, Any], retry: list[str]) -> Iterator[Record]:
    """One run's records, all or nothing (a run that fails is a Reject, retried next time)."""
    if run.info.run_id in seen:
        return
    seen.add(run.info.run_id)
    try:
        records = list(run_records(ctx, run))  # all or nothing: no node of a skipped run
    except ReadFailed as exc:
        yield Reject(ctx.source, None, f"{exc}. The run was skipped; fix it in MLflow and ingest again.",
                     run.info.run_id)
        retry.append(run.info.run_id)
        return
    yield from records
    mark["start_ms"] = max(int(mark["start_ms"]), int(run.info.start_time or 0))
    if str(run.info.status) in OPEN_STATUSES:
        retry.append(run.info.run_id)


def run_records(ctx: Context, run: Any) -> Iterator[Record]:
    """One run: the Run node and its edges, datasets and outputs (ReadFailed
    when a part of it cannot be read)."""
    info, data = run.info, run.data
    ref = model.run(info.run_id)
    tags = dict(data.tags or {})
    commit = tags.get("mlflow.source.git.commit")
    if commit is not None:  # an identity and a recipe's checkout: checked before any use
        confine.checked_hash("git", commit, f"{ctx.source} run {info.run_id}", "tag mlflow.source.git.commit")
    user = getattr(info, "user_id", None) or tags.get("mlflow.user")
    props: dict[str, Any] = {
        "run_id": info.run_id, "name": getattr(info, "run_name", None) or tags.get("mlflow.runName"),
        "kind": "mlflow-run", "tracking_uri": ctx.store.scope, "experiment_id": info.experiment_id,
        "status": str(info.status), "lifecycle_stage": info.lifecycle_stage,
        "start_time": iso(info.start_time), "end_time": iso(info.end_time), "user": user,
        "artifact_uri": info.artifact_uri, "source_name": tags.get("mlflow.source.name"),
        "source_type": tags.get("mlflow.source.type"), "git_commit": commit,
        "params": dict(data.params) or None,
        "tags": {k: v for k, v in tags.items() if k not in SKIP_TAGS} or None,
    }
    props.update({f"param.{k}": v for k, v in data.params.items()})
    props.update({f"metric.{k}": v for k, v in data.metrics.items()})
    props.update({f"tag.{k}": v for k, v in tags.items() if not k.startswith("mlflow.")})
    props.update(_step_counts(ctx, info.run_id, list(data.metrics)))
    yield Node(ref, props, ctx.source)
    yield Edge("PART_OF", ref, model.experiment(ctx.store.scope, info.experiment_id), source=ctx.source)
    if tags.get("mlflow.parentRunId"):
        yield Edge("PART_OF", ref, model.run(tags["mlflow.parentRunId"]), source=ctx.source)
    if user:
        yield Node(model.agent(user), {"name": user, "kind": "user"}, ctx.source)
        yield Edge("ASSOCIATED_WITH", ref, model.agent(user), source=ctx.source)
    if commit:
        yield Node(model.code_version(commit), {"sha": commit, "name": commit[:12]}, ctx.source)
        yield Edge("USED", ref, model.code_version(commit), source=ctx.source)
    yield from _datasets(ctx, ref, run)
    yield from _model_io(ctx, ref, run)


def _step_counts(ctx: Context, run_id: str, keys: list[str]) -> dict[str, int]:
    """``metric_steps.<k>`` = length of each metric's history, for local stores."""
    if not steps.wanted(ctx.store.kind, keys):
        return {}
    if run_id in ctx.steps:
        return ctx.steps[run_id]
    return steps.one_run(ctx.client, run_id, keys, ctx.step_errors)


def _datasets(ctx: Context, run_ref: model.Ref, run: Any) -> Iterator[Record]:
    """Each dataset input: DataVersion (+ Dataset, Features) USED by the run."""
    inputs = getattr(run, "inputs", None)
    for item in getattr(inputs, "dataset_inputs", None) or []:
        ds = item.dataset
        source = _json(ds.source)
        path = _source_path(source) or ds.name
        confine.checked_hash("mlflow-digest", ds.digest, f"{ctx.source} run {run.info.run_id}",
                             f"dataset {ds.name!r} digest")
        ref = model.data_version(path, f"mlflow:{ds.digest}")
        props = {"name": ds.name, "path": path, "hash": ds.digest, "hash_kind": "mlflow-digest",
                 "source_type": ds.source_type, "source_uri": ds.source, "file_md5": _local_md5(ctx, path)}
        found = from_mlflow(ds.profile, ds.schema)  # MLflow's profile and schema, as a provex profile
        props.update(found.props() if found else {})
        yield Node(ref, props, ctx.source)
        # a Dataset is shared by path with DVC: its name is the file name whoever writes it (ingest order
        # must not change the graph); MLflow's own dataset name is kept beside it
        yield Node(model.dataset(path), {"path": path, "name": path.rsplit("/", 1)[-1], "mlflow_name": ds.name},
                   ctx.source)
        yield Edge("VERSION_OF", ref, model.dataset(path), source=ctx.source)
        context = {t.key: t.value for t in item.tags or []}.get("mlflow.data.context")
        yield Edge("USED", run_ref, ref, {"context": context}, source=ctx.source)
        for col in _columns(ds.schema):
            yield Node(model.feature(col["name"]), {"name": col["name"]}, ctx.source)
            yield Edge("HAS_FEATURE", ref, model.feature(col["name"]), {"type": col.get("type")}, source=ctx.source)


def _json(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except (TypeError, ValueError):
        return None


def _source_path(source: Any) -> str | None:
    """The path or URI a dataset source points at, as given."""
    if isinstance(source, dict):
        for key in ("uri", "url", "path", "table_name", "delta_table_name"):
            if isinstance(source.get(key), str) and source[key]:
                return source[key]
    return None


def _columns(schema_text: str | None) -> list[dict[str, Any]]:
    schema = _json(schema_text)
    cols = schema.get("mlflow_colspec") if isinstance(schema, dict) else None
    return [c for c in cols or [] if isinstance(c, dict) and c.get("name")]


def _local_md5(ctx: Context, path: str) -> str | None:
    """md5 of the dataset's file when it is on this machine (for linking to DVC):
    only a file inside the data root (a path the run logged is never read
    anywhere else, symlinks followed: :func:`provex.ingest.confine.inside`)."""
    try:
        parsed = urlparse(path)
    except ValueError:  # a malformed URI as the dataset's source: nothing to read
        return None
    if parsed.scheme == "file":
        local: str | Path = unquote(parsed.path)
    elif parsed.scheme and len(parsed.scheme) > 1:
        return None
    else:
        local = path
    if ctx.data_root is None:
        return None
    try:
        local = confine.inside(local, [ctx.data_root], base=ctx.data_root)
    except confine.Outside:
        return None
    if not local.is_file():
        return None
    digest = hashlib.md5()
    with mapped((OSError,), f"dataset file {local} cannot be read"), local.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _model_io(ctx: Context, run_ref: model.Ref, run: Any) -> Iterator[Record]:
    """MLflow 3 run outputs (LoggedModel generated by the run) and model inputs."""
    outputs = getattr(run, "outputs", None)
    for out in getattr(outputs, "model_outputs", None) or []:
        ref = model.logged_model(out.model_id)
        yield Edge("WAS_GENERATED_BY", ref, run_ref, {"step": out.step}, source=ctx.source)
    inputs = getattr(run, "inputs", None)
    for inp in getattr(inputs, "model_inputs", None) or []:
        yield Edge("USED", run_ref, model.logged_model(inp.model_id), source=ctx.source)
