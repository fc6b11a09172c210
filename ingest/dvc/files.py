"""DVC metadata files read into plain structures: ``dvc.yaml`` (templating
resolved by DVC's own ``dvc.parsing.DataResolver``), ``dvc.lock`` (schema 1
and 2.0) and ``*.dvc`` files (DVC 0.x and current). Every path is made
repo-relative (POSIX). Nothing here knows about the graph.

Files are parsed with ruamel.yaml's safe loader (YAML 1.2, as DVC does;
:mod:`provex.ingest.dvc.yamlfile`). Functions return ``(value, rejects)``: a file that cannot be read gives a
:class:`Reject` with the line of the YAML error where known. A parsed file is
checked before anything walks it (:func:`provex.vocab.values.problem`): YAML
aliases that expand to more than a million values (a "billion laughs"), or
nesting deeper than 64 levels, make the file a Reject, so neither DVC's
templating nor the graph ever expands it.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from ruamel.yaml.error import YAMLError

from provex.ingest import confine
from provex.ingest.dvc.errors import dvc_errors
from provex.ingest.dvc.yamlfile import HostileYAML, Load, safe_load
from provex.vocab.errors import ReadFailed
from provex.vocab.records import Reject
from provex.vocab.secrets import scrubbed

LOCK_SCHEMAS = ("2.0",)
DEFAULT_PARAMS = "params.yaml"
Read = Callable[[str], "bytes | None"]


def join(base: str, *parts: str) -> str:
    """A normalised repo-relative POSIX path ("" for the root)."""
    path = posixpath.normpath(posixpath.join(base or ".", *[p for p in parts if p]))
    return "" if path == "." else path


def data_path(wdir: str, raw: str) -> str:
    """A dependency's or output's path: repo-relative, or a URL as written (never
    normalised: ``//`` kept) without its credentials (:func:`provex.vocab.secrets.scrubbed`,
    before anything derives a name from it)."""
    return scrubbed(raw) if "://" in raw else join(wdir, raw)


def dirname(path: str) -> str:
    return posixpath.dirname(path)


# ---- outputs / dependencies with hashes (dvc.lock, *.dvc) -------------------------------------------


@dataclass
class Out:
    """One path with its content hash, as written in dvc.lock or a .dvc file."""

    path: str  # repo-relative
    hash: str | None
    hash_kind: str = "md5"
    scheme: str = "md5"  # "md5" (DVC 3, `hash: md5`) or "md5-dos2unix" (DVC < 3)
    size: int | None = None
    nfiles: int | None = None
    flags: dict[str, Any] = field(default_factory=dict)

    @property
    def is_dir(self) -> bool:
        return bool(self.hash and self.hash.endswith(".dir"))


_HASH_KEYS = ("md5", "etag", "checksum")
_FLAG_KEYS = ("cache", "persist", "desc", "remote", "metric", "push", "checkpoint")


def make_out(entry: Any, wdir: str) -> Out | None:
    if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
        return None
    kind = next((k for k in _HASH_KEYS if entry.get(k)), "md5")
    value = entry.get(kind)
    scheme = "md5" if entry.get("hash") == "md5" else ("md5-dos2unix" if kind == "md5" else kind)
    return Out(
        path=data_path(wdir, entry["path"]),
        hash=value if value and confine.hash_problem(HASH_FORMS[kind], value) is None else None,  # checked before
        hash_kind=kind,
        scheme=scheme,
        size=entry.get("size") if isinstance(entry.get("size"), int) else None,
        nfiles=entry.get("nfiles") if isinstance(entry.get("nfiles"), int) else None,
        flags={k: entry[k] for k in _FLAG_KEYS if k in entry},
    )


# ---- dvc.lock ---------------------------------------------------------------------------------------


@dataclass
class LockEntry:
    lockfile: str
    name: str
    cmd: str
    raw: dict[str, Any]
    deps: list[Out] = field(default_factory=list)
    outs: list[Out] = field(default_factory=list)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)  # repo-relative file -> values


def lock_entries(file: str, data: Any) -> tuple[dict[str, dict[str, Any]], list[Reject]]:
    """Raw entries by stage name, for schema 1 (stages at top level) and 2.0."""
    if not isinstance(data, dict):
        return {}, [Reject(file, None, "not a dvc.lock: expected a mapping of stages")]
    if "schema" in data:
        if str(data["schema"]) not in LOCK_SCHEMAS:
            return {}, [Reject(file, None, f"unknown dvc.lock schema {data['schema']!r}; provex reads schema 1 "
                                           "and 2.0 (run `dvc repro` with DVC 2 or 3 to rewrite it)")]
        data = data.get("stages") or {}
        if not isinstance(data, dict):
            return {}, [Reject(file, None, "dvc.lock `stages` is not a mapping")]
    good, rejects = {}, []
    for name, entry in data.items():
        if isinstance(entry, dict):
            good[str(name)] = checked_entry(file, f"stage {name!r}", entry, rejects)
        else:
            rejects.append(Reject(file, None, f"dvc.lock entry {name!r} is not a mapping; skipped", str(entry)[:200]))
    return good, rejects


# ---- hashes, checked before any use -------------------------------------------------------------------

#: Hash key -> the form its value must have (:data:`provex.ingest.confine.FORMS`).
HASH_FORMS = {"md5": "md5", "etag": "etag", "checksum": "checksum"}


def checked_entry(file: str, where: str, entry: dict[str, Any], rejects: list[Reject]) -> dict[str, Any]:
    """A dvc.lock entry or .dvc file with every hash of its ``deps`` and ``outs`` (and
    an import's ``rev_lock``) checked: an invalid one is a Reject naming the file and
    the key, and is left out (the path is still read, as a data set without that version)."""
    clean = dict(entry)
    for section in ("deps", "outs"):
        items = entry.get(section)
        if isinstance(items, list):
            clean[section] = [_checked_item(file, f"{where}: {section}[{i}]", item, rejects)
                              for i, item in enumerate(items)]
    return clean


def _checked_item(file: str, where: str, item: Any, rejects: list[Reject]) -> Any:
    if not isinstance(item, dict):
        return item
    clean = dict(item)
    for key, kind in HASH_FORMS.items():
        if clean.get(key) is not None and _bad(file, f"{where}.{key}", kind, clean[key], rejects):
            del clean[key]
    repo = clean.get("repo")
    if isinstance(repo, dict) and repo.get("rev_lock") is not None and _bad(file, f"{where}.repo.rev_lock", "git",
                                                                            repo["rev_lock"], rejects):
        clean["repo"] = {k: v for k, v in repo.items() if k != "rev_lock"}
    return clean


def _bad(file: str, key: str, kind: str, value: Any, rejects: list[Reject]) -> bool:
    """True (and a Reject) when ``value`` is not a hash of ``kind``."""
    problem = confine.hash_problem(kind, value)
    if problem:
        rejects.append(Reject(file, None, f"{key} {problem}; the entry is read without it (a hash is never a "
                                          "path): write the hash DVC recorded, in quotes", f"{key}: {value!r}"[:200]))
    return problem is not None


def make_lock_entry(file: str, name: str, raw: dict[str, Any], wdir: str) -> LockEntry:
    cmd = raw.get("cmd", "")
    entry = LockEntry(file, name, " && ".join(map(str, cmd)) if isinstance(cmd, list) else str(cmd or ""), raw)
    entry.deps = [o for o in (make_out(d, wdir) for d in raw.get("deps") or []) if o]
    entry.outs = [o for o in (make_out(d, wdir) for d in raw.get("outs") or []) if o]
    params = raw.get("params") or {}
    if isinstance(params, dict):
        entry.params = {join(wdir, str(f)): v for f, v in params.items() if isinstance(v, dict)}
    return entry


# ---- *.dvc ------------------------------------------------------------------------------------------


@dataclass
class DvcFile:
    path: str
    outs: list[Out]
    origin: str  # dvc-add, dvc-import, dvc-import-url
    props: dict[str, Any]  # import source, frozen, stage md5
    has_cmd: bool = False


def make_dvcfile(file: str, data: Any) -> tuple[DvcFile | None, list[Reject]]:
    if not isinstance(data, dict) or not isinstance(data.get("outs", []), list):
        return None, [Reject(file, None, "not a .dvc file: expected a mapping with an `outs` list")]
    rejects: list[Reject] = []
    data = checked_entry(file, file.rsplit("/", 1)[-1], data, rejects)
    if data.get("md5") is not None and _bad(file, "md5", "md5-file", data["md5"], rejects):
        data = {k: v for k, v in data.items() if k != "md5"}
    wdir = join(dirname(file), str(data.get("wdir") or ""))
    outs = [o for o in (make_out(o, wdir) for o in data.get("outs") or []) if o]
    origin, props = "dvc-add", {"frozen": bool(data.get("frozen") or data.get("locked")), "dvcfile": file}
    for dep in data.get("deps") or []:
        if not isinstance(dep, dict):
            continue
        repo = dep.get("repo")
        if isinstance(repo, dict):
            origin = "dvc-import"
            props.update(import_repo=repo.get("url"), import_rev=repo.get("rev"), import_rev_lock=repo.get("rev_lock"),
                         import_path=dep.get("path"))
        elif isinstance(dep.get("path"), str):
            origin = "dvc-import-url"
            props.update(import_url=dep["path"], import_etag=dep.get("etag") or dep.get("md5") or dep.get("checksum"))
    if data.get("md5"):
        props["stage_md5"] = str(data["md5"])
    return DvcFile(file, outs, origin, props, bool(data.get("cmd"))), rejects


# ---- dvc.yaml ---------------------------------------------------------------------------------------


@dataclass
class StageDef:
    dvcfile: str
    name: str  # as locked: "train" or "train@key"
    group: str
    wdir: str
    cmd: str
    deps: list[str]
    outs: dict[str, dict[str, Any]]  # path -> flags, with "kind": out / metrics / plots
    params: list[tuple[str, str | None]]  # (repo-relative file, key or None for the whole file)
    props: dict[str, Any] = field(default_factory=dict)


@dataclass
class Pipeline:
    dvcfile: str
    stages: dict[str, StageDef] = field(default_factory=dict)
    artifacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics: list[str] = field(default_factory=list)
    plots: list[str] = field(default_factory=list)


def resolve_pipeline(file: str, data: Any, read: Read, load: Load = safe_load) -> tuple[Pipeline, list[Reject]]:
    """Resolve templating (vars, foreach, matrix) with DVC's DataResolver
    (``load`` parses the vars files for the shape check)."""
    from dvc.parsing import DataResolver

    pipeline = Pipeline(file)
    if not isinstance(data, dict):
        return pipeline, [Reject(file, None, "not a dvc.yaml: expected a mapping with `stages`")]
    base = dirname(file)
    rejects: list[Reject] = []
    try:
        with dvc_errors("DVC cannot resolve it", data):
            resolver = DataResolver(SimpleNamespace(fs=_vars_fs(base, data, read, rejects, load), config={}), base, data)
            keys = resolver.get_keys()
    except ReadFailed as exc:
        return pipeline, [*rejects, Reject(file, None, str(exc))]
    for key in keys:
        try:
            with dvc_errors(f"stage {key!r}: DVC cannot resolve it", data):
                resolved = resolver.resolve_one(key)
        except ReadFailed as exc:
            rejects.append(Reject(file, None, str(exc)))
            continue
        for name, body in resolved.items():
            if isinstance(body, dict):
                pipeline.stages[name] = make_stage(file, name, body)
    _top_sections(pipeline, resolver, base, rejects, data)
    return pipeline, rejects


def _top_sections(pipeline: Pipeline, resolver: Any, base: str, rejects: list[Reject], data: Any) -> None:
    try:
        with dvc_errors("artifacts/metrics/plots", data):
            _resolve_sections(pipeline, resolver, base)
    except ReadFailed as exc:
        rejects.append(Reject(pipeline.dvcfile, None, str(exc)))


def _resolve_sections(pipeline: Pipeline, resolver: Any, base: str) -> None:
    pipeline.artifacts = {name: {**(a or {}), "path": data_path(base, str((a or {}).get("path", "")))}
                          for name, a in resolver.resolve_artifacts().items()}
    pipeline.metrics = [data_path(base, m) for m in resolver.resolve_metrics() if isinstance(m, str)]
    pipeline.plots = [data_path(base, p) for p in _plot_files(resolver.resolve_plots())]


def _plot_files(plots: list[Any]) -> list[str]:
    files: list[str] = []
    for item in plots:
        if isinstance(item, str):
            files.append(item)
        elif isinstance(item, dict):
            for name, cfg in item.items():
                ys = cfg.get("y") if isinstance(cfg, dict) else None
                files.extend(ys.keys() if isinstance(ys, dict) else [name])
    return files


def vars_files(base: str, data: Any) -> set[str]:
    """The files a dvc.yaml's templating may read: the default params.yaml and
    every file named in a top-level or stage-level ``vars`` list."""
    wanted = {join(base, DEFAULT_PARAMS)}
    if not isinstance(data, dict):
        return wanted
    stages = data.get("stages") if isinstance(data.get("stages"), dict) else {}
    sections = [data.get("vars")] + [s.get("vars") for s in stages.values() if isinstance(s, dict)]
    for section in sections:
        for item in section if isinstance(section, list) else []:
            if isinstance(item, str):
                wanted.add(join(base, item.split(":", 1)[0]))
    return wanted


def _vars_fs(base: str, data: dict[str, Any], read: Read, rejects: list[Reject], load: Load) -> Any:
    """An in-memory filesystem holding the files `vars` may load (not those
    too big or too deep to read safely: each of those is a Reject)."""
    from dvc.fs import MemoryFileSystem

    fs = MemoryFileSystem(global_store=False)
    for path in vars_files(base, data):
        raw = read(path)
        if raw is None:
            continue  # DVC reports a missing vars file itself
        hostile = _hostile(raw, load)
        if hostile:
            rejects.append(Reject(path, None, f"vars file {path}: {hostile}; DVC templating was resolved without it"))
            continue
        try:
            fs.pipe_file(path, raw)
        except (OSError, ValueError):  # a path outside the project: DVC reports the missing file itself
            continue
    return fs


def _hostile(raw: bytes, load: Load) -> str | None:
    """Why a vars file must not be handed to DVC (which expands every alias), or None."""
    try:
        load(raw.decode("utf-8"))
    except HostileYAML as exc:
        return str(exc)
    except (YAMLError, ValueError):
        return None  # plain bad YAML or JSON: DVC says what is wrong with it
    return None


def make_stage(file: str, name: str, body: dict[str, Any]) -> StageDef:
    wdir = join(dirname(file), str(body.get("wdir") or ""))
    cmd = body.get("cmd", "")
    outs: dict[str, dict[str, Any]] = {}
    for kind in ("outs", "metrics", "plots"):
        for path, flags in _entries(body.get(kind)):
            outs[data_path(wdir, path)] = {**flags, "kind": kind}
    props = {k: body[k] for k in ("frozen", "always_changed", "desc") if k in body}
    return StageDef(
        dvcfile=file, name=name, group=name.split("@", 1)[0], wdir=wdir,
        cmd=" && ".join(map(str, cmd)) if isinstance(cmd, list) else str(cmd or ""),
        deps=[data_path(wdir, p) for p, _ in _entries(body.get("deps"))],
        outs=outs, params=_params(body.get("params"), wdir), props=props,
    )


def _entries(items: Any) -> list[tuple[str, dict[str, Any]]]:
    """``- path`` or ``- path: {flags}`` items as (path, flags)."""
    found = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, str):
            found.append((item, {}))
        elif isinstance(item, dict):
            found.extend((str(p), f if isinstance(f, dict) else {}) for p, f in item.items())
    return found


def _params(items: Any, wdir: str) -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, str):
            found.append((join(wdir, DEFAULT_PARAMS), item))
        elif isinstance(item, dict):
            for pfile, keys in item.items():
                path = join(wdir, str(pfile))
                if isinstance(keys, list) and keys:
                    found.extend((path, str(k)) for k in keys)
                else:
                    found.append((path, None))  # the whole file
    return found
