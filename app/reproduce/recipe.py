"""A recipe as people and shells read it: the ``reproduce-model`` rows (or
their data-version twin) as a table, JSON, or a POSIX shell script that runs
as it is: clone the project, check out the commit, use the project's DVC
cache, install the recorded libraries, fetch the true inputs, run the stages
in order, then check every expected hash."""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import Any

RUNNABLE = ("code", "library", "data", "stage", "train")
REPRO = "dvc repro --single-item --force "


def project_root(run: Mapping[str, Any] | None) -> str | None:
    """Where the DVC project of ``run`` was ingested from: its lock file's
    source (``<root>/<lockfile>@<commit>``) without the lock file."""
    run = run or {}
    lockfile = run.get("lockfile") or "dvc.lock"
    for source in run.get("sources") or []:
        path = str(source).rsplit("@", 1)[0]
        if path.endswith("/" + lockfile):
            return path[: -len(lockfile) - 1]
    return None


def stages(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The DVC stages the recipe runs, in order."""
    return [r["command"][len(REPRO):] for r in rows if r["kind"] in ("stage", "train") and r["command"].startswith(REPRO)]


def commit_of(rows: Sequence[Mapping[str, Any]]) -> str | None:
    return next((r["item"] for r in rows if r["kind"] == "code"), None)


def _q(text: str) -> str:
    return shlex.quote(text)


_CHECK = """check() {  # path expected-md5: prints same or DIFFERS
  if [ -f "$1" ]; then got=$(md5sum "$1" | cut -d' ' -f1); else got="(missing)"; fi
  if [ "$got" = "$2" ]; then echo "same     $1 md5 $2"; else echo "DIFFERS  $1: expected md5 $2, got $got"; fi
}"""


def script(target: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], project: str | None) -> str:
    """The recipe as a shell script that runs as it is (PROJECT and WORKDIR may be overridden)."""
    by_kind: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        by_kind.setdefault(r["kind"], []).append(r)
    default = f'"${{PROJECT:-{project}}}"' if project else '"${PROJECT:?set PROJECT to the git repository of the project}"'
    out = [
        "#!/bin/sh",
        f"# Reproduce {target['name']} ({target['uid']}): the recipe provex read from its graph.",
        "# It runs the project's own code in a fresh clone. The checks at the end print same or DIFFERS.",
        "set -eu",
        f"PROJECT={default}",
        'WORKDIR="${WORKDIR:-$(mktemp -d)}"',
        'git clone --quiet "$PROJECT" "$WORKDIR/project"',
        'cd "$WORKDIR/project"',
    ]
    out += [f"git checkout --quiet {_q(r['item'])}" for r in by_kind.get("code", [])]
    out += ['if [ -d "$PROJECT/.dvc/cache" ]; then dvc cache dir --local "$PROJECT/.dvc/cache"; fi  # the project\'s DVC cache',
            'export MLFLOW_TRACKING_URI="sqlite:///$WORKDIR/mlflow.db"  # the re-run logs here, not to your tracking store']
    libs = [r["item"] for r in by_kind.get("library", [])]
    if libs:
        out.append("python -m pip install --quiet " + " ".join(_q(lib) for lib in libs) + "  # the recorded versions")
    out += [r["command"] for r in by_kind.get("data", [])]
    for kind in ("stage", "train"):
        out += [r["command"] for r in by_kind.get(kind, [])]
    out += [f"# param {r['command']}" for r in by_kind.get("param", [])]
    out += ["", _CHECK]
    for r in by_kind.get("check", []):
        parts = r["command"].split()
        if len(parts) == 4 and parts[2] == "md5" and not parts[3].endswith(".dir"):
            out.append(f"check {_q(parts[1])} {parts[3]}")
        else:
            out.append(f"# {r['command']}")
    out.append('echo "reproduced in $WORKDIR/project (git diff dvc.lock shows every hash that changed)"')
    return "\n".join(out) + "\n"


def as_json(target: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], project: str | None) -> dict[str, Any]:
    return {"target": target["uid"], "name": target["name"], "project": project, "commit": commit_of(rows),
            "stages": stages(rows), "steps": [dict(r) for r in rows]}
