"""A logged model's library environment: download only its small
``requirements.txt`` / ``python_env.yaml`` / ``conda.yaml`` through MLflow and
turn them into an Environment that REQUIRES Library nodes."""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Generator
from pathlib import Path
from urllib.parse import unquote, urlparse

import yaml

from provex.ingest.mlflow.runs import Context, _short
from provex.vocab import model
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
    import mlflow.artifacts

    found: dict[str, str] = {}
    error = None
    base = _local_base(ctx, artifact_uri)
    with tempfile.TemporaryDirectory(prefix="provex-mlflow-") as tmp:
        for name in FILES:
            if name == "conda.yaml" and "requirements.txt" in found:
                continue
            try:
                if base is not None:
                    path = base / name
                    if path.is_file():
                        found[name] = path.read_text(encoding="utf-8", errors="replace")
                    elif not base.is_dir():
                        error = f"artifact folder {base} not found"
                    continue
                got = mlflow.artifacts.download_artifacts(artifact_uri=f"{artifact_uri.rstrip('/')}/{name}",
                                                          dst_path=tmp, tracking_uri=ctx.store.uri)
                found[name] = Path(got).read_text(encoding="utf-8", errors="replace")
            except Exception as exc:
                error = error or _short(exc)
    return found, error


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


def _conda_pip(text: str | None) -> list[str]:
    try:
        data = yaml.safe_load(text) if text else None
    except yaml.YAMLError:
        return []
    for dep in (data or {}).get("dependencies", []) if isinstance(data, dict) else []:
        if isinstance(dep, dict) and isinstance(dep.get("pip"), list):
            return [str(x) for x in dep["pip"]]
    return []


def _python_version(files: dict[str, str]) -> str | None:
    try:
        data = yaml.safe_load(files.get("python_env.yaml") or "") or {}
    except yaml.YAMLError:
        return None
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
