"""A recipe as people and shells read it: the ``reproduce-model`` rows (or
their data-version twin) as a table, JSON, or a POSIX shell script that runs
as it is: clone the project, check out the commit, use the project's DVC
cache, install the recorded libraries, fetch the true inputs, run the stages
in order, then check every expected hash."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from provex.app import terminal

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


def _q(text: Any) -> str:
    """One shell word: every value from the graph (path, rev, stage, library, URI) is quoted."""
    return shlex.quote(str(text))


def _comment(text: Any) -> str:
    """A comment line: one line whatever ``text`` holds (a newline in a name cannot end it)."""
    return "# " + terminal.visible(str(text))


_COMMIT = re.compile(r"[0-9a-f]{7,64}")
_MD5 = re.compile(r"[0-9a-f]{32}")
_SCRIPT = re.compile(r"[A-Za-z0-9_./][A-Za-z0-9_./ -]*\.py")

_CHECK = """check() {  # path expected-md5: prints same or DIFFERS
  if [ -f "$1" ]; then got=$(md5sum < "$1" | cut -d' ' -f1); else got="(missing)"; fi
  if [ "$got" = "$2" ]; then printf 'same     %s md5 %s\\n' "$1" "$2"
  else printf 'DIFFERS  %s: expected md5 %s, got %s\\n' "$1" "$2" "$got"; fi
}"""


def script(target: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], project: str | None) -> str:
    """The recipe as a shell script that runs as it is (PROJECT and WORKDIR may be overridden).
    Every value from the graph is one quoted word after ``--`` (or a checked commit id); what
    cannot be run safely (a free-form command recorded by a source) is a comment."""
    by_kind: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        by_kind.setdefault(r["kind"], []).append(r)
    out = [
        "#!/bin/sh",
        _comment(f"Reproduce {target['name']} ({target['uid']}): the recipe provex read from its graph."),
        "# It runs the project's own code in a fresh clone. The checks at the end print same or DIFFERS.",
        "set -eu",
        f'if [ -z "${{PROJECT:-}}" ]; then PROJECT={_q(project)}; fi' if project
        else 'PROJECT="${PROJECT:?set PROJECT to the git repository of the project}"',
        'WORKDIR="${WORKDIR:-$(mktemp -d)}"',
        'git clone --quiet -- "$PROJECT" "$WORKDIR/project"',
        'cd "$WORKDIR/project"',
    ]
    out += [_checkout(r["item"]) for r in by_kind.get("code", [])]
    out += ['if [ -d "$PROJECT/.dvc/cache" ]; then dvc cache dir --local "$PROJECT/.dvc/cache"; fi  # the project\'s DVC cache',
            'export MLFLOW_TRACKING_URI="sqlite:///$WORKDIR/mlflow.db"  # the re-run logs here, not to your tracking store']
    libs = [r["item"] for r in by_kind.get("library", [])]
    if libs:
        out.append("python -m pip install --quiet -- " + " ".join(_q(lib) for lib in libs) + "  # the recorded versions")
    out += [_pull(r["item"]) for r in by_kind.get("data", [])]
    for kind in ("stage", "train"):
        out += [_run(r["command"]) for r in by_kind.get(kind, [])]
    out += [_comment(f"param {r['command']}") for r in by_kind.get("param", [])]
    out += ["", _CHECK]
    out += [_check(r) for r in by_kind.get("check", [])]
    out.append('echo "reproduced in $WORKDIR/project (git diff dvc.lock shows every hash that changed)"')
    return "\n".join(out) + "\n"


def _checkout(sha: str) -> str:
    if _COMMIT.fullmatch(str(sha)):
        return f"git checkout --quiet --detach {_q(sha)}"
    return (_comment(f"code {sha}") + "\n"
            "echo 'provex: the recorded commit is not a git commit id; not checked out' >&2; exit 1")


def _pull(item: str) -> str:
    path, _, md5 = str(item).rpartition(" md5 ")
    return f"dvc pull -- {_q(path)}  " + (f"# expect md5 {md5}" if _MD5.fullmatch(md5.removesuffix(".dir"))
                                          else _comment(f"expect {md5}"))


def _run(command: str) -> str:
    """A stage or training step: ``dvc repro`` of one stage, ``python`` of a script, else a comment."""
    command = str(command)
    if command.startswith(REPRO):
        return f"dvc repro --single-item --force -- {_q(command[len(REPRO):])}"
    entry = command.removeprefix("python ")
    if command.startswith("python ") and _SCRIPT.fullmatch(entry):  # a script path (never an option), quoted
        return f"python {_q(entry)}"
    return _comment(f"run by hand (a command recorded by a source, not run by this script): {command}")


def _check(row: Mapping[str, Any]) -> str:
    parts = str(row["command"]).rsplit(" ", 2)
    if str(row["command"]).startswith("expect ") and len(parts) == 3 and parts[1] == "md5" and _MD5.fullmatch(parts[2]):
        return f"check {_q(row['item'])} {parts[2]}"
    return _comment(row["command"])


def as_json(target: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], project: str | None) -> dict[str, Any]:
    return {"target": target["uid"], "name": target["name"], "project": project, "commit": commit_of(rows),
            "stages": stages(rows), "steps": [dict(r) for r in rows]}
