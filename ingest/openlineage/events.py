"""Graph records for validated OpenLineage events (see :mod:`ingest.openlineage`).

Jobs are ``Stage`` nodes (kind ``openlineage-job``), runs are ``Run`` nodes
``INSTANCE_OF`` their stage, datasets are ``Dataset`` nodes (or a
``DataVersion`` when the event carries a dataset version), the column lineage
facet becomes ``Feature`` nodes linked ``WAS_DERIVED_FROM``. Facets are read
tolerantly: a facet of the wrong shape is skipped with a :class:`Flag`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from provex.vocab import model
from provex.vocab.records import Edge, Flag, Node, Record

_GIT_SHA = re.compile(r"^[0-9a-f]{7,40}$")
EVENT_TIME_PREFIX = "event_time_"  # + event type, e.g. event_time_COMPLETE
SQL_KEEP = 20_000  # characters of SQL / source code kept as a property


def _facets(obj: Any, key: str = "facets") -> dict[str, Any]:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, dict) else {}


def _get(facets: dict[str, Any], facet: str, field: str) -> Any:
    value = facets.get(facet)
    return value.get(field) if isinstance(value, dict) else None


def run_event(event: dict[str, Any], run_id: str, job: tuple[str, str], event_type: str | None,
              time: str | None, source: str) -> Iterator[Record]:
    """A RunEvent: the run, its job, inputs, outputs, parent, code and field lineage."""
    run_ref = model.run(run_id)
    stage_ref = model.stage(*job)
    yield from _stage(stage_ref, job, event.get("job"), source)
    yield Node(run_ref, _run_props(event, run_id, job, event_type, time), source)
    yield Edge("INSTANCE_OF", run_ref, stage_ref, source=source)
    yield from _parent(run_ref, _facets(event.get("run")), source)
    yield from _code(run_ref, _facets(event.get("job")), source)
    yield from _inputs_outputs(event, run_ref, source)
    yield from _all_column_lineage(event, source, run_id)


def job_event(event: dict[str, Any], job: tuple[str, str], time: str | None, source: str) -> Iterator[Record]:
    """A JobEvent: the job's static lineage, hung on the Stage itself."""
    stage_ref = model.stage(*job)
    yield from _stage(stage_ref, job, event.get("job"), source, time)
    yield from _code(stage_ref, _facets(event.get("job")), source)
    yield from _inputs_outputs(event, stage_ref, source)
    yield from _all_column_lineage(event, source, None)


def _inputs_outputs(event: dict[str, Any], owner: model.Ref, source: str) -> Iterator[Record]:
    """The event's datasets: ``owner -[:USED]-> input``, ``output -[:WAS_GENERATED_BY]-> owner``."""
    for side in ("inputs", "outputs"):
        for item in _datasets(event, side, source):
            if isinstance(item, Flag):
                yield item
                continue
            ref, records = item
            yield from records
            yield (Edge("USED", owner, ref, source=source) if side == "inputs"
                   else Edge("WAS_GENERATED_BY", ref, owner, source=source))


def dataset_event(event: dict[str, Any], time: str | None, source: str) -> Iterator[Record]:
    """A DatasetEvent: the dataset (and version), its fields' lineage."""
    _ref, records = _dataset(event["dataset"], source)
    yield from records
    yield from _column_lineage(event["dataset"], source, None)


def _stage(ref: model.Ref, job: tuple[str, str], obj: Any, source: str, time: str | None = None) -> Iterator[Record]:
    facets = _facets(obj)
    props: dict[str, Any] = {
        "name": job[1], "namespace": job[0], "kind": "openlineage-job",
        "job_type": _get(facets, "jobType", "jobType"),
        "processing_type": _get(facets, "jobType", "processingType"),
        "integration": _get(facets, "jobType", "integration"),
        "description": _get(facets, "documentation", "description"),
        "source_code_language": _get(facets, "sourceCode", "language"),
        "source_code": _clip(_get(facets, "sourceCode", "sourceCode")),
        "sql": _clip(_get(facets, "sql", "query")),
        "last_event_time": time,
    }
    location = facets.get("sourceCodeLocation")
    if isinstance(location, dict):
        for key in ("type", "url", "repoUrl", "path", "version", "tag", "branch"):
            props[f"source_code_{_snake(key)}"] = _scalar(location.get(key))
    yield Node(ref, {k: v for k, v in props.items() if v is not None}, source)


def _run_props(event: dict[str, Any], run_id: str, job: tuple[str, str], event_type: str | None,
               time: str | None) -> dict[str, Any]:
    facets = _facets(event.get("run"))
    props: dict[str, Any] = {
        "run_id": run_id, "name": job[1], "job": f"{job[0]}:{job[1]}", "kind": "openlineage-run",
        "producer": _scalar(event.get("producer")),
        "nominal_start_time": _scalar(_get(facets, "nominalTime", "nominalStartTime")),
        "nominal_end_time": _scalar(_get(facets, "nominalTime", "nominalEndTime")),
        "error_message": _clip(_get(facets, "errorMessage", "message")),
        "engine": _scalar(_get(facets, "processing_engine", "name")),
        "engine_version": _scalar(_get(facets, "processing_engine", "version")),
    }
    if event_type and time:
        props[f"{EVENT_TIME_PREFIX}{event_type}"] = time  # graph/resolve.py derives state and end_time
        props["state_stale"] = True
        if event_type == "START":
            props["start_time"] = time
    return {k: v for k, v in props.items() if v is not None}


def _parent(run_ref: model.Ref, facets: dict[str, Any], source: str) -> Iterator[Record]:
    parent = facets.get("parent")
    if parent is None:
        return
    run_id = _get(parent, "run", "runId") if isinstance(parent, dict) else None
    job = parent.get("job") if isinstance(parent, dict) else None
    if not isinstance(run_id, str) or not run_id:
        yield Flag("bad-facet", f"run {run_ref.uid}: the parent facet has no run.runId; parent link skipped", source)
        return
    parent_ref = model.run(run_id)
    yield Edge("PART_OF", run_ref, parent_ref, source=source)
    if isinstance(job, dict) and isinstance(job.get("namespace"), str) and isinstance(job.get("name"), str):
        stage_ref = model.stage(job["namespace"], job["name"])
        yield Node(stage_ref, {"name": job["name"], "namespace": job["namespace"], "kind": "openlineage-job"}, source)
        yield Edge("INSTANCE_OF", parent_ref, stage_ref, source=source)


def _code(owner: model.Ref, facets: dict[str, Any], source: str) -> Iterator[Record]:
    """A git commit named by the source code location facet."""
    location = facets.get("sourceCodeLocation")
    version = location.get("version") if isinstance(location, dict) else None
    if not isinstance(version, str) or not _GIT_SHA.match(version.lower()):
        return
    ref = model.code_version(version.lower())
    props = {"sha": version.lower(), "repo_url": _scalar(location.get("repoUrl")) or _scalar(location.get("url")),
             "path": _scalar(location.get("path")), "branch": _scalar(location.get("branch")),
             "tag": _scalar(location.get("tag"))}
    yield Node(ref, {k: v for k, v in props.items() if v is not None}, source)
    yield Edge("USED", owner, ref, source=source)


def _datasets(event: dict[str, Any], key: str, source: str) -> Iterator[Flag | tuple[model.Ref, list[Record]]]:
    items = event.get(key) or []
    if not isinstance(items, list):
        yield Flag("bad-dataset", f"{key} is not a list; ignored", source)
        return
    for item in items:
        if not _named(item):
            yield Flag("bad-dataset", f"an entry of {key} has no namespace/name; skipped", source)
            continue
        yield _dataset(item, source)


def _named(item: Any) -> bool:
    return isinstance(item, dict) and all(isinstance(item.get(k), str) and item[k] for k in ("namespace", "name"))


def _dataset(item: dict[str, Any], source: str) -> tuple[model.Ref, list[Record]]:
    """The node a run uses or generates: the DataVersion when versioned, else the Dataset."""
    path = f"{item['namespace']}/{item['name']}"
    facets = _facets(item)
    fields = _get(facets, "schema", "fields")
    props = {
        "path": path, "name": item["name"], "namespace": item["namespace"], "kind": "openlineage-dataset",
        "schema_fields": [f["name"] for f in fields if isinstance(f, dict) and isinstance(f.get("name"), str)]
        if isinstance(fields, list) else None,
        "data_source": _scalar(_get(facets, "dataSource", "uri")),
        "description": _scalar(_get(facets, "documentation", "description")),
    }
    ds = model.dataset(path)
    records: list[Record] = [Node(ds, {k: v for k, v in props.items() if v}, source)]
    version = _version(item)
    if version is None:
        return ds, records
    dv = model.data_version(path, version)
    records += [Node(dv, {"path": path, "hash": version, "version": version, "kind": "openlineage-dataset-version"},
                     source), Edge("VERSION_OF", dv, ds, source=source)]
    return dv, records


def _version(item: dict[str, Any]) -> str | None:
    for key in ("facets", "inputFacets", "outputFacets"):
        value = _get(_facets(item, key), "version", "datasetVersion")
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
            return str(value)
    return None


def _all_column_lineage(event: dict[str, Any], source: str, run_id: str | None) -> Iterator[Record]:
    outputs = event.get("outputs")
    for item in outputs if isinstance(outputs, list) else []:  # not a list: flagged by _datasets
        if _named(item):
            yield from _column_lineage(item, source, run_id)


def _column_lineage(item: dict[str, Any], source: str, run_id: str | None) -> Iterator[Record]:
    """Output field -[:WAS_DERIVED_FROM]-> input field, each field a Feature of its dataset."""
    fields = _get(_facets(item), "columnLineage", "fields")
    if not isinstance(fields, dict):
        return
    out_path = f"{item['namespace']}/{item['name']}"
    seen: set[str] = set()
    for name, spec in fields.items():
        inputs = spec.get("inputFields") if isinstance(spec, dict) else None
        if not isinstance(inputs, list):
            yield Flag("bad-facet", f"{out_path}: columnLineage field {name!r} has no inputFields list", source)
            continue
        out_ref = yield from _feature(out_path, name, seen, source)
        for inp in inputs:
            if not (_named(inp) and isinstance(inp.get("field"), str)):
                continue
            in_ref = yield from _feature(f"{inp['namespace']}/{inp['name']}", inp["field"], seen, source)
            props = {"transformations": _transformations(inp), "run_id": run_id}
            yield Edge("WAS_DERIVED_FROM", out_ref, in_ref, {k: v for k, v in props.items() if v}, source=source)


def _feature(path: str, field: str, seen: set[str], source: str) -> Iterator[Record]:
    ref = model.feature(f"{path}#{field}")
    if ref.uid not in seen:
        seen.add(ref.uid)
        yield Node(ref, {"name": field, "dataset": path, "kind": "openlineage-field"}, source)
        yield Edge("HAS_FEATURE", model.dataset(path), ref, source=source)
    return ref


def _transformations(inp: dict[str, Any]) -> list[str]:
    items = inp.get("transformations")
    if not isinstance(items, list):
        return []
    return [f"{t.get('type', '')}/{t.get('subtype', '')}".strip("/") for t in items if isinstance(t, dict)]


def _scalar(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool)) else None


def _clip(value: Any) -> str | None:
    return value[:SQL_KEEP] if isinstance(value, str) else None


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()
