"""Graph records for one parsed DVC snapshot: stages, runs, data versions,
the commit and its author, artifacts, and drift flags.

A :class:`Builder` lives for one ingest. It remembers which data versions it
has written (so a version's ``commit`` stays the first commit that locked it)
and which stage definitions it has written (so an unchanged stage is not
re-sent at every commit).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from provex.ingest.dvc import files as f
from provex.ingest.dvc import yamlfile
from provex.ingest.dvc.git import Snapshot
from provex.ingest.dvc.metadata import MetadataReader
from provex.ingest.dvc.profile import Profiler
from provex.ingest.dvc.snapshot import Parsed
from provex.vocab import model
from provex.vocab.records import Edge, Flag, Node, Record


def flatten(prefix: str, value: Any, out: dict[str, Any]) -> dict[str, Any]:
    """``{"a": {"b": 1}}`` as ``{"<prefix>.a.b": 1}``; lists stay values."""
    if isinstance(value, dict):
        for key, inner in value.items():
            flatten(f"{prefix}.{key}", inner, out)
    else:
        out[prefix] = value
    return out


class Builder:
    """Records for the snapshots of one project, in commit order."""

    def __init__(self, root: str, scope: str, seen: set[str], profiler: Profiler | None = None,
                 metadata: MetadataReader | None = None) -> None:
        self.root = root
        self.scope = scope
        self.seen = seen  # DataVersion uids already written (first commit wins)
        self.profiler = profiler  # content profiles of new data versions (None: profiling off)
        self.metadata = metadata  # small metadata files beside models (None: not read)
        self._stages_sent: dict[str, tuple] = {}
        self._sent: set[tuple] = set()
        self._locked: tuple[Parsed | None, list[f.Out]] = (None, [])

    # ---- helpers ----------------------------------------------------------------------------------

    def where(self, snap: Snapshot, path: str, with_commit: bool = True) -> str:
        base = f"{self.root}/{path}" if path else self.root
        return f"{base}@{snap.label}" if with_commit and snap.commit else base

    def stage_ref(self, dvcfile: str, name: str) -> model.Ref:
        return model.stage(self.scope, f"{f.dirname(dvcfile) or '.'}:{name}")

    @staticmethod
    def address(dvcfile: str, name: str) -> str:
        """DVC's own stage address: ``train`` at the root, ``sub/dvc.yaml:train`` elsewhere."""
        return name if dvcfile == "dvc.yaml" else f"{dvcfile}:{name}"

    def run_ref(self, snap: Snapshot, dvcfile: str, name: str) -> model.Ref:
        when = snap.label[:12] if snap.commit else "snapshot"
        return model.run(f"dvc:{self.scope}:{when}:{self.address(dvcfile, name)}")

    def once(self, *key: Any) -> bool:
        """True the first time ``key`` is seen in this ingest."""
        if key in self._sent:
            return False
        self._sent.add(key)
        return True

    # ---- the snapshot -----------------------------------------------------------------------------

    def records(self, snap: Snapshot, parsed: Parsed, before: Parsed | None, final: bool) -> Iterator[Record]:
        """All records of one snapshot; runs only for lock entries that changed
        since ``before`` (the parent commit), flags only when ``final``."""
        for rej in parsed.rejects:
            if self.once("reject", rej.file, rej.line, rej.reason):
                yield rej
        yield from self.commit(snap)
        for dvcfile in parsed.dvcfiles:  # first: their import/origin props win over a consumer's view
            yield from self.added_data(snap, dvcfile)
        for pipeline in parsed.pipelines.values():
            yield from self.pipeline(snap, pipeline, parsed, final)
        for lockfile, entries in parsed.locks.items():
            old = before.locks.get(lockfile, {}) if before else {}
            for name, raw in entries.items():
                if old.get(name) != raw:
                    yield from self.run(snap, parsed, lockfile, name, raw, final)

    def commit(self, snap: Snapshot) -> Iterator[Record]:
        c = snap.commit
        if c is None:
            return
        ref, who = model.code_version(c.sha), model.agent(c.email or c.author)
        yield Node(ref, {"sha": c.sha, "short_sha": c.sha[:12], "author": c.author, "author_email": c.email,
                         "date": c.date, "message": c.message, "project": self.scope}, self.root)
        yield Node(who, {"name": c.author, "email": c.email}, self.root)
        yield Edge("ASSOCIATED_WITH", ref, who, {"role": "author"}, source=self.root)

    # ---- stages (definitions) ---------------------------------------------------------------------

    def pipeline(self, snap: Snapshot, pipeline: f.Pipeline, parsed: Parsed, final: bool) -> Iterator[Record]:
        locked = parsed.locks.get(f.join(f.dirname(pipeline.dvcfile), "dvc.lock"), {})
        for stage in pipeline.stages.values():
            drift = self.stage_drift(snap, stage, locked)
            if final:
                yield from (Flag(kind, f"stage {self.address(stage.dvcfile, stage.name)}: {msg}",
                                 self.where(snap, stage.dvcfile, False)) for kind, msg in drift)
            yield from self.stage(snap, stage, "; ".join(f"{k}: {m}" for k, m in drift))
        yield from self.top_sections(snap, pipeline)

    def stage_drift(self, snap: Snapshot, stage: f.StageDef, locked: dict[str, Any]) -> list[tuple[str, str]]:
        drift = []
        if stage.name not in locked:
            drift.append(("stage-never-locked", "defined in dvc.yaml but has no dvc.lock entry (run `dvc repro`)"))
        for pfile in sorted({p for p, _ in stage.params if not snap.exists(p)}):
            drift.append(("missing-params-file", f"params file {pfile} does not exist"))
        return drift

    def stage(self, snap: Snapshot, stage: f.StageDef, drift: str) -> Iterator[Record]:
        ref = self.stage_ref(stage.dvcfile, stage.name)
        if self._stages_sent.get(ref.uid) == (stage, drift):
            return
        self._stages_sent[ref.uid] = (stage, drift)
        src = self.where(snap, stage.dvcfile, False)
        outs = lambda kind: sorted(p for p, fl in stage.outs.items() if fl.get("kind") == kind)  # noqa: E731
        yield Node(ref, {
            "name": stage.name, "address": self.address(stage.dvcfile, stage.name), "group": stage.group,
            "kind": "dvc-stage", "project": self.scope, "dvcfile": stage.dvcfile, "wdir": stage.wdir or ".",
            "cmd": stage.cmd, "deps": stage.deps, "outs": outs("outs"), "metrics": outs("metrics"),
            "plots": outs("plots"), "params": [f"{p}:{k or '*'}" for p, k in stage.params],
            "persist": sorted(p for p, fl in stage.outs.items() if fl.get("persist")),
            "no_cache": sorted(p for p, fl in stage.outs.items() if fl.get("cache") is False),
            "drift": drift, **stage.props}, src)
        for path in stage.deps:
            yield from self.dataset(path, src)
            yield Edge("USED", ref, model.dataset(path), {"declared": True}, source=src)
        for path in stage.outs:
            yield from self.dataset(path, src)
            yield Edge("WAS_GENERATED_BY", model.dataset(path), ref, {"declared": True}, source=src)

    def dataset(self, path: str, src: str, **props: Any) -> Iterator[Record]:
        if props or self.once("dataset", path):
            yield Node(model.dataset(path), {"path": path, "name": path.rsplit("/", 1)[-1], "project": self.scope,
                                             **props}, src)

    def top_sections(self, snap: Snapshot, pipeline: f.Pipeline) -> Iterator[Record]:
        src = self.where(snap, pipeline.dvcfile, False)
        for path in pipeline.metrics:
            yield from self.dataset(path, src, role="metrics")
        for path in pipeline.plots:
            yield from self.dataset(path, src, role="plots")
        for name, art in pipeline.artifacts.items():
            meta = {"artifact_name": name, "artifact_type": art.get("type"), "desc": art.get("desc"),
                    "labels": [str(x) for x in art.get("labels") or []], "dvcfile": pipeline.dvcfile}
            if art.get("type") == "model":
                yield Node(model.model(name), {"name": name, "path": art["path"], "project": self.scope,
                                               "kind": "dvc-artifact", **meta}, src)
                yield from self.dataset(art["path"], src)
                yield Edge("SAME_AS", model.model(name), model.dataset(art["path"]),
                           {"method": "dvc-artifact-path", "confidence": 1.0}, source=src)
            else:
                yield from self.dataset(art["path"], src, kind="artifact", **meta)

    # ---- runs (lock entries) ----------------------------------------------------------------------

    def run(self, snap: Snapshot, parsed: Parsed, lockfile: str, name: str, raw: dict[str, Any],
            final: bool) -> Iterator[Record]:
        dvcfile = f.join(f.dirname(lockfile), "dvc.yaml")
        stage = parsed.stage_for(lockfile, name)
        entry = f.make_lock_entry(lockfile, name, raw, stage.wdir if stage else f.dirname(lockfile))
        drift = self.run_drift(snap, parsed, entry, stage, dvcfile)
        ref, sref, src = self.run_ref(snap, dvcfile, name), self.stage_ref(dvcfile, name), self.where(snap, lockfile)
        if stage is None:
            yield Node(sref, {"name": name, "address": self.address(dvcfile, name), "group": name.split("@")[0],
                              "kind": "dvc-stage", "project": self.scope, "dvcfile": dvcfile, "cmd": entry.cmd,
                              "drift": "; ".join(f"{k}: {m}" for k, m in drift)}, self.where(snap, lockfile, False))
        if final:
            yield from (Flag(k, f"{self.address(dvcfile, name)}: {m}", self.where(snap, lockfile, False))
                        for k, m in drift)
        yield Node(ref, self.run_props(snap, parsed, entry, stage, drift), src)
        yield Edge("INSTANCE_OF", ref, sref, source=src)
        if snap.commit:
            yield Edge("USED", ref, model.code_version(snap.commit.sha), {"role": "code"}, source=src)
        flags = stage.outs if stage else {}
        for dep in entry.deps:
            yield from self.data_version(snap, dep, src, flags.get(dep.path, {}))
            if dep.hash:
                yield Edge("USED", ref, model.data_version(dep.path, dep.hash), {"role": "dep"}, source=src)
        for out in entry.outs:
            yield from self.data_version(snap, out, src, {"cache": True, "persist": False, **flags.get(out.path, {})})
            if out.hash:
                yield Edge("WAS_GENERATED_BY", model.data_version(out.path, out.hash), ref, source=src)
            if self.metadata is not None:
                yield from self.metadata.records(snap, out, src, flags.get(out.path, {}).get("kind"))
        for out in entry.deps + entry.outs:
            yield from self.dir_members(out, parsed, src)

    def dir_members(self, folder: f.Out, parsed: Parsed, src: str) -> Iterator[Record]:
        """A locked directory version WAS_DERIVED_FROM the file versions inside it
        that the same snapshot locks (outputs of other stages, ``dvc add``ed
        files), so lineage crosses e.g. a ``foreach`` stage's per-item outputs
        gathered in one folder that a later stage depends on."""
        if not folder.is_dir or not folder.hash:
            return
        parent = model.data_version(folder.path, folder.hash)
        for member in self.locked_files(parsed):
            if member.hash and member.path.startswith(f"{folder.path.rstrip('/')}/") and self.once(
                    "dir-member", parent.uid, member.path, member.hash):
                yield Edge("WAS_DERIVED_FROM", parent, model.data_version(member.path, member.hash),
                           {"method": "dvc-dir-member"}, source=src)

    def locked_files(self, parsed: Parsed) -> list[f.Out]:
        """Every output the snapshot locks: dvc.lock outs and ``.dvc`` file outs
        (computed once per snapshot)."""
        if self._locked[0] is not parsed:
            outs = [out for dvcfile in parsed.dvcfiles for out in dvcfile.outs]
            for lockfile, entries in parsed.locks.items():
                for name, raw in entries.items():
                    stage = parsed.stage_for(lockfile, name)
                    wdir = stage.wdir if stage else f.dirname(lockfile)
                    outs.extend(f.make_lock_entry(lockfile, name, raw, wdir).outs)
            self._locked = (parsed, outs)
        return self._locked[1]

    def run_drift(self, snap: Snapshot, parsed: Parsed, entry: f.LockEntry, stage: f.StageDef | None,
                  dvcfile: str) -> list[tuple[str, str]]:
        drift = []
        if stage is None and dvcfile not in parsed.broken:
            drift.append(("lock-without-stage", f"locked in {entry.lockfile} but not defined in {dvcfile}"))
        for pfile in sorted(p for p in entry.params if not snap.exists(p)):
            drift.append(("missing-params-file", f"params file {pfile} does not exist"))
        return drift

    def run_props(self, snap: Snapshot, parsed: Parsed, entry: f.LockEntry, stage: f.StageDef | None,
                  drift: list[tuple[str, str]]) -> dict[str, Any]:
        c = snap.commit
        props: dict[str, Any] = {
            "run_id": self.run_ref(snap, f.join(f.dirname(entry.lockfile), "dvc.yaml"), entry.name).uid[4:],
            "name": entry.name, "kind": "dvc-stage", "stage": entry.name, "cmd": entry.cmd,
            "project": self.scope, "lockfile": entry.lockfile, "commit": c.sha if c else None,
            "start_time": c.date if c else None, "drift": "; ".join(f"{k}: {m}" for k, m in drift),
            "params": json.dumps(entry.params, sort_keys=True, default=str),
        }
        for values in entry.params.values():
            for key, value in values.items():
                flatten(f"param.{key}", value, props)
        for path in self.metric_files(entry, stage, snap, parsed):
            values = yamlfile.load_values(path, snap.read(path))
            if isinstance(values, dict):
                flatten("metric", values, props)
                props.setdefault("metrics_files", []).append(path)
        return props

    @staticmethod
    def metric_files(entry: f.LockEntry, stage: f.StageDef | None, snap: Snapshot, parsed: Parsed) -> list[str]:
        """Metrics files of the run that exist in the snapshot: the stage's own
        ``metrics:`` and the top-level ``metrics:`` that lie inside its outputs."""
        found = [p for p, fl in (stage.outs if stage else {}).items() if fl.get("kind") == "metrics"]
        pipeline = parsed.pipelines.get(f.join(f.dirname(entry.lockfile), "dvc.yaml"))
        for path in pipeline.metrics if pipeline else []:
            if any(path == o.path or path.startswith(f"{o.path}/") for o in entry.outs) and path not in found:
                found.append(path)
        return [p for p in found if snap.exists(p)]

    # ---- data versions ----------------------------------------------------------------------------

    def data_version(self, snap: Snapshot, out: f.Out, src: str, flags: dict[str, Any],
                     extra: dict[str, Any] | None = None) -> Iterator[Record]:
        """The DataVersion (once per ingest: the first commit wins) and its Dataset."""
        yield from self.dataset(out.path, self.root)
        if not out.hash:
            return
        ref = model.data_version(out.path, out.hash)
        kept = {k: v for k, v in {**flags, **out.flags}.items() if k in ("cache", "persist", "desc", "remote")}
        if ref.uid in self.seen:
            if kept:  # a producer's flags (cache, persist) even when a consumer saw the version first
                yield Node(ref, kept, src)
            return
        self.seen.add(ref.uid)
        props = {"path": out.path, "hash": out.hash, "hash_kind": out.hash_kind, "hash_scheme": out.scheme,
                 "size": out.size, "nfiles": out.nfiles, "is_dir": out.is_dir, "project": self.scope,
                 "commit": snap.commit.sha if snap.commit else None,
                 **kept,
                 **(extra or {}),
                 **(self.profiler.props(snap, out, src) if self.profiler else {})}
        yield Node(ref, props, src)
        yield Edge("VERSION_OF", ref, model.dataset(out.path), source=src)

    def added_data(self, snap: Snapshot, dvcfile: f.DvcFile) -> Iterator[Record]:
        """Outputs of a .dvc file: data versions with no producer run."""
        src = self.where(snap, dvcfile.path)
        if dvcfile.has_cmd and self.once("legacy-stage", dvcfile.path):
            yield Flag("legacy-stage-file", f"{dvcfile.path} is a DVC 0.x stage file (has cmd); its outputs "
                       "are ingested as data versions without a run", self.where(snap, dvcfile.path, False))
        for out in dvcfile.outs:
            if out.hash and model.data_version(out.path, out.hash).uid in self.seen:
                continue
            extra = {"origin": dvcfile.origin, **dvcfile.props}
            yield from self.data_version(snap, out, src, {"cache": True}, extra)
            upstream = dvcfile.props.get("import_path")
            if out.hash and dvcfile.origin == "dvc-import" and isinstance(upstream, str) and upstream != out.path:
                yield Edge("WAS_DERIVED_FROM", model.data_version(out.path, out.hash),
                           model.data_version(upstream, out.hash),
                           {"method": "dvc-import", "repo": dvcfile.props.get("import_repo"),
                            "rev_lock": dvcfile.props.get("import_rev_lock")}, source=src)
