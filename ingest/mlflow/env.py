"""A logged model's library environment: download only its small
``requirements.txt`` / ``python_env.yaml`` / ``conda.yaml`` through MLflow and
turn them into an Environment that REQUIRES Library nodes."""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Generator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import yaml

from provex.ingest import confine
from provex.ingest.mlflow.runs import Context
from provex.ingest.mlflow.store import reading
from provex.vocab import model, values
from provex.vocab.errors import ReadFailed
from provex.vocab.records import Edge, Flag, Node, Record

FILES = ("requirements.txt", "python_env.yaml", "conda.yaml")


def environment_for(ctx: Context, artifact_uri: str | None) -> Generator[Record, None, model.Ref | None]:
    """Yield the Environment records of the model at ``artifact_uri`` (once per
    location); return its ref, or None (with a Flag) when it cannot be read."""
    if not artifact_uri:
        return None
    if artifact_uri in ctx.envs:
        return ctx.envs[artifact_uri]
    ctx.envs[artifact_uri] = None
    files, error = _download(ctx, artifact_uri)
    lines = _requirements(files)
    if not lines:
        yield Flag("environment-unavailable", f"No requirements for the model at {artifact_uri}: "
                   f"{error or 'no requirements.txt / conda.yaml pip section'}.", ctx.source)
        return None
    digest = hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()[:32]
    ref = model.environment(digest)
    python = _python_version(files)
    yield Node(ref, {"digest": digest, "requirements": sorted(lines), "python": python,
                     "name": f"{len(lines)} requirements" + (f", python {python}" if python else "")}, ctx.source)
    for name, version in _libraries(lines):
        lib = model.library(name, version)
        yield Node(lib, {"name": model.normalize_library(name), "version": version}, ctx.source)
        yield Edge("REQUIRES", ref, lib, source=ctx.source)
    ctx.envs[artifact_uri] = ref
    return ref


def _download(ctx: Context, artifact_uri: str) -> tuple[dict[str, str], str | None]:
    """Text of each environment file that exists at the location."""
    found: dict[str, str] = {}
    error = None
    base = _local_base(ctx, artifact_uri)
    with tempfile.TemporaryDirectory(prefix="provex-mlflow-") as tmp:
        for name in FILES:
            if name == "conda.yaml" and "requirements.txt" in found:
                continue
            try:
                with reading(name):
                    found.update(_fetch(ctx, base, artifact_uri, name, tmp))
            except ReadFailed as exc:
                error = error or str(exc)
            if base is not None and not base.is_dir():
                error = error or f"artifact folder {base} not found"
    return found, error


def _fetch(ctx: Context, base: Path | None, artifact_uri: str, name: str, tmp: str) -> dict[str, str]:
    """``{name: text}`` of one environment file, {} when it is not there."""
    import mlflow.artifacts

    if base is not None:  # never through a symlink out of the artifact folder (Outside: the file is not read)
        path = confine.inside(name, [base], base=base)
        return {name: path.read_text(encoding="utf-8", errors="replace")} if path.is_file() else {}
    got = mlflow.artifacts.download_artifacts(artifact_uri=f"{artifact_uri.rstrip('/')}/{name}",
                                              dst_path=tmp, tracking_uri=ctx.store.client_uri)
    return {name: Path(got).read_text(encoding="utf-8", errors="replace")}


def _local_base(ctx: Context, artifact_uri: str) -> Path | None:
    """A local folder for file artifact URIs (None: let MLflow download). A
    store that was moved, or written on another machine (``C:/...``), is found
    again under the store's root."""
    if re.match(r"^[A-Za-z]:[\\/]", artifact_uri):
        raw = artifact_uri
    else:
        parsed = urlparse(artifact_uri)
        if parsed.scheme not in ("file", ""):
            return None
        raw = unquote(parsed.path)
    path = Path(raw)
    if path.is_dir() or ctx.store.root is None:
        return path
    parts = raw.replace("\\", "/").split("/")
    marker = ctx.store.root.name
    if marker in parts:
        idx = len(parts) - 1 - parts[::-1].index(marker)
        return ctx.store.root.joinpath(*parts[idx + 1:])
    return path


def _requirements(files: dict[str, str]) -> list[str]:
    """Requirement lines: requirements.txt, else the pip section of conda.yaml."""
    if "requirements.txt" in files:
        text_lines = files["requirements.txt"].splitlines()
    else:
        text_lines = _conda_pip(files.get("conda.yaml"))
    out = []
    for line in text_lines:
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            out.append(line)
    return sorted(set(out))


def _yaml(text: str | None) -> Any:
    """A small environment file's YAML; None when it is invalid, too deep or an alias bomb."""
    try:
        data = yaml.safe_load(text) if text else None
    except (yaml.YAMLError, RecursionError):
        return None
    return None if values.problem(data) else data


def _conda_pip(text: str | None) -> list[str]:
    data = _yaml(text)
    for dep in (data or {}).get("dependencies", []) if isinstance(data, dict) else []:
        if isinstance(dep, dict) and isinstance(dep.get("pip"), list):
            return [str(x) for x in dep["pip"]]
    return []


def _python_version(files: dict[str, str]) -> str | None:
    data = _yaml(files.get("python_env.yaml"))
    return str(data["python"]) if isinstance(data, dict) and data.get("python") else None


def _libraries(lines: list[str]) -> list[tuple[str, str]]:
    """(name, version) per parseable requirement; version is the pinned one,
    else the specifier text, else ``*``."""
    from packaging.requirements import InvalidRequirement, Requirement

    out = []
    for line in lines:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        specs = list(req.specifier)
        pinned = [s.version for s in specs if s.operator in ("==", "===")]
        out.append((req.name, pinned[0] if len(specs) == 1 and pinned else (str(req.specifier) or "*")))
    return out
