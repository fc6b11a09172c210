"""MLflow 3 logged models and the model registry as records: LoggedModel,
Model, ModelVersion, time-ranged aliases and stages (``HAS_ALIAS``), and each
model's library Environment. Used by :mod:`provex.ingest.mlflow`."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Generator, Iterator
from typing import Any

from provex.ingest.mlflow.env import environment_for
from provex.ingest.mlflow.runs import Context
from provex.ingest.mlflow.store import iso, paged, reading
from provex.vocab import model
from provex.vocab.errors import ReadFailed
from provex.vocab.records import Edge, Flag, Node, Record, Reject

NO_STAGE = ("None", "", None, "Archived")


def logged_models(ctx: Context, experiment_ids: list[str]) -> Iterator[Record]:
    """MLflow 3 logged models updated since the last ingest."""
    since = int(ctx.state.get("logged_models_ms", 0))
    try:
        with reading(f"{ctx.source} does not list logged models (MLflow < 3?)"):
            found = list(paged(ctx.client.search_logged_models, experiment_ids=experiment_ids)) if experiment_ids else []
    except ReadFailed as exc:
        yield Flag("logged-models-unavailable", str(exc), ctx.source)
        return
    newest = yield from _changed_since(ctx, found, since, _logged_model, lambda lm: ("logged model", lm.model_id))
    ctx.watermarks["logged_models_ms"] = newest


def _changed_since(ctx: Context, items: list[Any], since: int, build: Callable[[Context, Any], Iterator[Record]],
                   name: Callable[[Any], tuple[str, str]]) -> Generator[Record, None, int]:
    """The records of each item updated after ``since`` (ms), built all or
    nothing: a failing item is one Reject naming it. Returns the newest update seen."""
    newest = since
    for item in items:
        updated = int(item.last_updated_timestamp or item.creation_timestamp or 0)
        if updated <= since:
            continue
        try:
            records = list(build(ctx, item))
        except ReadFailed as exc:
            kind, ident = name(item)
            yield Reject(ctx.source, None, f"{kind} {ident}: {exc}", ident)
            continue
        yield from records
        newest = max(newest, updated)
    return newest


def _logged_model(ctx: Context, lm: Any) -> Iterator[Record]:
    ref = model.logged_model(lm.model_id)
    props: dict[str, Any] = {
        "model_id": lm.model_id, "name": lm.name, "run_id": lm.source_run_id or None,
        "experiment_id": lm.experiment_id, "status": str(lm.status), "model_type": lm.model_type,
        "artifact_location": lm.artifact_location, "created_at": iso(lm.creation_timestamp),
        "updated_at": iso(lm.last_updated_timestamp), "params": dict(lm.params or {}) or None,
        "tags": dict(lm.tags or {}) or None, "tracking_uri": ctx.store.scope,
    }
    props.update({f"param.{k}": v for k, v in (lm.params or {}).items()})
    props.update({f"metric.{m.key}": m.value for m in _latest_metrics(lm.metrics or [])})
    yield Node(ref, props, ctx.source)
    if lm.source_run_id:
        yield Edge("WAS_GENERATED_BY", ref, model.run(lm.source_run_id), source=ctx.source)
    yield from _uses_environment(ctx, ref, lm.artifact_location)


def _latest_metrics(metrics: list[Any]) -> list[Any]:
    """The last value of each metric key (by step, then timestamp)."""
    best: dict[str, Any] = {}
    for m in metrics:
        cur = best.get(m.key)
        if cur is None or (m.step or 0, m.timestamp or 0) >= (cur.step or 0, cur.timestamp or 0):
            best[m.key] = m
    return list(best.values())


def _uses_environment(ctx: Context, ref: model.Ref, artifact_uri: str | None) -> Iterator[Record]:
    env_ref = yield from environment_for(ctx, artifact_uri)
    if env_ref is not None:
        yield Edge("USED", ref, env_ref, source=ctx.source)


def registry(ctx: Context) -> Iterator[Record]:
    """Registered models (with aliases and stages, every time) and the versions
    updated since the last ingest."""
    try:
        with reading(f"No model registry at {ctx.source}"):
            models = list(paged(ctx.client.search_registered_models))
    except ReadFailed as exc:
        yield Flag("registry-unavailable", str(exc), ctx.source)
        return
    since = int(ctx.state.get("models_ms", 0))
    newest = since
    for rm in models:
        updated = int(rm.last_updated_timestamp or 0)
        if updated > since:
            yield _model_node(ctx, rm)
            newest = max(newest, updated)
        yield from _assignments(ctx, rm)
    ctx.watermarks["models_ms"] = newest
    yield from _versions(ctx)


def _model_node(ctx: Context, rm: Any) -> Node:
    return Node(model.model(rm.name), {
        "name": rm.name, "description": rm.description or None, "created_at": iso(rm.creation_timestamp),
        "updated_at": iso(rm.last_updated_timestamp), "tags": dict(rm.tags or {}) or None,
        "tracking_uri": ctx.store.scope,
    }, ctx.source)


def _aliases(rm: Any) -> dict[str, str]:
    """alias -> version, for both the dict (MLflow 3) and list (2.x) shapes."""
    raw = getattr(rm, "aliases", None) or {}
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items()}
    return {str(a.alias): str(a.version) for a in raw}


def _assignments(ctx: Context, rm: Any) -> Iterator[Record]:
    """Aliases and old-style stages as time-ranged HAS_ALIAS edges.

    valid_from: for aliases, the start of the open interval in the version's
    ``alias.<alias>.history`` tag when a team records one, else the ingest time
    (MLflow keeps no alias timestamp); for stages, the version's last update
    (a stage transition updates it)."""
    mref = model.model(rm.name)
    for alias, version in sorted(_aliases(rm).items()):
        since = _open_since(ctx, rm.name, version, alias)
        yield Edge("HAS_ALIAS", mref, model.model_version(rm.name, version),
                   {"alias": alias, "valid_from": since or ctx.ingest_time, "kind": "alias",
                    "evidence": f"tag {HISTORY_TAG.format(alias=alias)}" if since else "observed at ingest"},
                   supersedes=("alias",), source=ctx.source)
    for mv in getattr(rm, "latest_versions", None) or []:
        if mv.current_stage in NO_STAGE:
            continue
        yield Edge("HAS_ALIAS", mref, model.model_version(rm.name, mv.version),
                   {"alias": f"stage:{mv.current_stage}", "kind": "stage",
                    "valid_from": iso(mv.last_updated_timestamp) or ctx.ingest_time},
                   supersedes=("alias",), source=ctx.source)


HISTORY_TAG = "alias.{alias}.history"
_HISTORY = re.compile(r"^alias\.(?P<alias>.+)\.history$")


def alias_history(tags: dict[str, str] | None) -> Iterator[tuple[str, str, str | None]]:
    """(alias, from, to) from ``alias.<alias>.history`` tags: a JSON list of
    ``[from, to]`` ISO times (``to`` null while it holds). MLflow keeps no alias
    history itself; teams that record one (deploy jobs, the sample) get it back."""
    for name, value in (tags or {}).items():
        match = _HISTORY.match(name)
        if not match:
            continue
        try:
            intervals = json.loads(value)
            yield from ((match["alias"], str(a), str(b) if b else None) for a, b in intervals)
        except (ValueError, TypeError):
            continue


def _open_since(ctx: Context, name: str, version: str, alias: str) -> str | None:
    try:
        with reading(f"{name}@{version}"):
            tags = ctx.client.get_model_version(name, version).tags
    except ReadFailed:  # the history tag is optional evidence
        return None
    starts = [a for al, a, b in alias_history(tags) if al == alias and b is None]
    return max(starts) if starts else None


def _closed_intervals(ctx: Context, mv: Any, ref: model.Ref) -> Iterator[Record]:
    for alias, start, end in alias_history(mv.tags):
        if end is not None:
            yield Edge("HAS_ALIAS", model.model(mv.name), ref,
                       {"alias": alias, "valid_from": start, "valid_to": end, "kind": "alias",
                        "evidence": f"tag {HISTORY_TAG.format(alias=alias)}"},
                       key=("alias", "valid_from"), source=ctx.source)


def _versions(ctx: Context) -> Iterator[Record]:
    since = int(ctx.state.get("versions_ms", 0))
    try:
        with reading("model versions could not be listed"):
            versions = list(paged(ctx.client.search_model_versions))
    except ReadFailed as exc:
        yield Reject(ctx.source, None, str(exc))
        return
    newest = yield from _changed_since(ctx, versions, since, _version,
                                       lambda mv: ("model version", f"{mv.name}@{mv.version}"))
    ctx.watermarks["versions_ms"] = newest


def _version(ctx: Context, mv: Any) -> Iterator[Record]:
    ref = model.model_version(mv.name, mv.version)
    model_id = getattr(mv, "model_id", None) or _source_model_id(mv.source)
    props = {
        "name": mv.name, "version": str(mv.version), "source": mv.source, "run_id": mv.run_id or None,
        "model_id": model_id, "status": str(mv.status), "stage": mv.current_stage,
        "aliases": sorted(str(a) for a in (mv.aliases or [])), "description": mv.description or None,
        "created_at": iso(mv.creation_timestamp), "updated_at": iso(mv.last_updated_timestamp),
        "tags": dict(mv.tags or {}) or None, "tracking_uri": ctx.store.scope,
    }
    yield Node(ref, props, ctx.source)
    yield Edge("VERSION_OF", ref, model.model(mv.name), source=ctx.source)
    yield from _closed_intervals(ctx, mv, ref)
    if mv.run_id:
        yield Edge("WAS_GENERATED_BY", ref, model.run(mv.run_id), source=ctx.source)
    if model_id:
        yield Edge("WAS_DERIVED_FROM", ref, model.logged_model(model_id), source=ctx.source)
    parent = _source_version(mv.source)
    if parent:
        yield Edge("WAS_DERIVED_FROM", ref, model.model_version(*parent), {"via": "source"}, source=ctx.source)
    yield from _uses_environment(ctx, ref, _download_uri(ctx, mv))


def _source_version(source: str | None) -> tuple[str, str] | None:
    """``models:/<name>/<version>`` -> (name, version); other sources -> None."""
    if not source or not source.startswith("models:/"):
        return None
    name, _, version = source.removeprefix("models:/").rpartition("/")
    return (name, version) if name and version.isdigit() else None


def _source_model_id(source: str | None) -> str | None:
    """``models:/m-<id>`` (an MLflow 3 logged model) -> its model_id."""
    rest = (source or "").removeprefix("models:/") if (source or "").startswith("models:/") else ""
    return rest if rest.startswith("m-") and "/" not in rest else None


def _download_uri(ctx: Context, mv: Any) -> str | None:
    try:
        with reading(f"{mv.name}@{mv.version}"):
            return ctx.client.get_model_version_download_uri(mv.name, str(mv.version))
    except ReadFailed:
        return getattr(mv, "storage_location", None) or mv.source
